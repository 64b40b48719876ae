/** Error codes of the person's own view, the citizen portal (issue 5). See docs/errors.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const CITIZEN_ERRORS = defineErrors({
  CITIZEN_SIGNED_OUT: { status: 401, title: 'Sign in to see your idbind view' },
  CITIZEN_LEVEL_TOO_LOW: { status: 403, title: 'Sign in with national eID to see this' },
  CITIZEN_SIGN_IN_FAILED: { status: 400, title: 'The sign-in did not complete' },
  CITIZEN_NOT_FOUND: { status: 404, title: 'Nothing of yours by this id' },
  CITIZEN_PORTAL_UNAVAILABLE: { status: 503, title: 'Signing in to the citizen portal is not available on this hub' },
});

export class CitizenError extends errorClass('CitizenError', CITIZEN_ERRORS) {}
