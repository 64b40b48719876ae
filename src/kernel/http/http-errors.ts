/** Error codes of the HTTP kernel (authentication, validation, routing). See docs/errors.md. */
import { defineErrors, errorClass } from '../errors.ts';

export const HTTP_ERRORS = defineErrors({
  REQUEST_INVALID: { status: 400, title: 'The request does not match the schema' },
  ADMIN_TOKEN_INVALID: { status: 401, title: 'A valid admin bearer token is required' },
  METRICS_TOKEN_INVALID: { status: 401, title: 'A valid metrics or admin bearer token is required' },
  NOT_FOUND: { status: 404, title: 'No such resource' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  INTERNAL: { status: 500, title: 'Internal error' },
  NOT_READY: { status: 503, title: 'The hub is not ready' },
});

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

export class HttpError extends errorClass('HttpError', HTTP_ERRORS) {}
