/** Error codes of officials, authorities and passkey sign-in (issue 5). See docs/errors.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const OFFICIAL_ERRORS = defineErrors({
  OFFICIAL_NOT_SIGNED_IN: { status: 401, title: 'Sign in to the authority console with a passkey' },
  OFFICIAL_ROLE_REQUIRED: { status: 403, title: 'The signed-in official does not have the role this needs' },
  OFFICIAL_DEACTIVATED: { status: 403, title: 'This official is deactivated' },
  OFFICIAL_INPUT_INVALID: { status: 400, title: 'The authority or official details are not valid' },
  OFFICIAL_NOT_FOUND: { status: 404, title: 'No such official' },
  AUTHORITY_NOT_FOUND: { status: 404, title: 'No such authority' },
  AUTHORITY_NAME_TAKEN: { status: 409, title: 'An authority with this name exists' },
  INVITATION_INVALID: { status: 400, title: 'The invitation link is unknown, already used or expired' },
  WEBAUTHN_CHALLENGE_INVALID: { status: 400, title: 'The passkey challenge is unknown, already used or expired' },
  PASSKEY_NOT_RECOGNISED: { status: 401, title: 'This passkey is not recognised' },
  PASSKEY_VERIFICATION_FAILED: { status: 400, title: 'The passkey response could not be verified' },
});

export type OfficialErrorCode = keyof typeof OFFICIAL_ERRORS;

export class OfficialError extends errorClass('OfficialError', OFFICIAL_ERRORS) {}
