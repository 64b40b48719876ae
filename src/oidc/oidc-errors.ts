/** Error codes of the OpenID Provider's client settings and of the hosted verification pages (issue 4). See docs/errors.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const OIDC_ERRORS = defineErrors({
  OIDC_CLIENT_INVALID: { status: 400, title: 'The OpenID client settings are not valid' },
  OIDC_CLIENT_NOT_FOUND: { status: 404, title: 'This provider has no OpenID client yet' },
  METHOD_NOT_OFFERED: { status: 409, title: 'This way of verifying is not offered in this flow' },
  GUARDIAN_NOT_LISTED: { status: 403, title: 'The adult is not a registered guardian of the minor' },
  GUARDIAN_IS_MINOR: { status: 403, title: 'A guardian must be an adult' },
  GUARDIAN_SAME_PERSON: { status: 409, title: 'A minor cannot be their own guardian' },
  FLOW_NOT_FOUND: { status: 404, title: 'No such verification flow in this browser' },
  FLOW_STEP_CLOSED: { status: 409, title: 'This step of the verification is not open now' },
  FLOW_EXPIRED: { status: 410, title: 'The verification flow has expired: start again from the platform' },
});

export type OidcErrorCode = keyof typeof OIDC_ERRORS;

export class OidcError extends errorClass('OidcError', OIDC_ERRORS) {}
