/** Error codes of bindings and account status (issue 3). See docs/errors.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const BINDING_ERRORS = defineErrors({
  ACCOUNT_NOT_FOUND: { status: 404, title: 'No such account' },
  ACCOUNT_LIMIT_REACHED: { status: 409, title: 'The person has reached this provider\'s accounts-per-person limit' },
  BULK_TOO_LARGE: { status: 413, title: 'Too many account refs for one JSON request' },
});

export type BindingErrorCode = keyof typeof BINDING_ERRORS;

export class BindingError extends errorClass('BindingError', BINDING_ERRORS) {}
