/** Error codes of phone verification (issue 3 "Verification API"). See docs/errors.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const VERIFICATION_ERRORS = defineErrors({
  PHONE_INVALID: { status: 400, title: 'The phone number is not a Vietnamese mobile number' },
  CODE_MALFORMED: { status: 400, title: 'The code must be 6 digits' },
  GUARDIAN_REQUIRED: { status: 403, title: 'The person is under 16: a guardian must consent through the hosted flow' },
  VERIFICATION_NOT_FOUND: { status: 404, title: 'No such verification' },
  TOO_MANY_ATTEMPTS: { status: 409, title: 'Too many wrong codes: start a new verification' },
  VERIFICATION_COMPLETED: { status: 409, title: 'The verification is already completed' },
  CODE_EXPIRED: { status: 410, title: 'The code has expired: start a new verification' },
  CODE_INVALID: { status: 422, title: 'The code is wrong' },
  NUMBER_NOT_ELIGIBLE: { status: 422, title: 'This number cannot verify an account' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  SMS_BUDGET_EXHAUSTED: { status: 429, title: "The provider's daily SMS budget is spent" },
  RESEND_TOO_SOON: { status: 429, title: 'Wait before asking for another code' },
  // 409 as TOO_MANY_ATTEMPTS: the verification's state refuses it for good, and a 429 (with no
  // Retry-After) tells generic HTTP clients to try again later.
  RESEND_LIMIT_REACHED: { status: 409, title: 'No more codes for this verification: start a new one' },
  SMS_GATEWAY_UNAVAILABLE: { status: 503, title: 'The SMS gateway is not available' },
});

export type VerificationErrorCode = keyof typeof VERIFICATION_ERRORS;

export class VerificationError extends errorClass('VerificationError', VERIFICATION_ERRORS) {}
