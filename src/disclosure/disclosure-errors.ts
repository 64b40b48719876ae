/** Error codes of disclosure requests (issue 5 "Disclosure requests"; DESIGN.md invariant 3). See docs/errors.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const DISCLOSURE_ERRORS = defineErrors({
  DISCLOSURE_ACCOUNT_NOT_FOUND: { status: 404, title: 'No bound account matches the provider and account reference or pseudonym' },
  DISCLOSURE_NOT_FOUND: { status: 404, title: 'No such disclosure request visible to this official' },
  DISCLOSURE_INVALID: { status: 400, title: 'The disclosure request is not valid' },
  DISCLOSURE_SAME_AUTHORITY: { status: 403, title: 'An approver of a different authority than the requester must decide' },
  DISCLOSURE_STATE: { status: 409, title: 'The disclosure request is not in a state that allows this' },
  DISCLOSURE_QUOTA_EXCEEDED: { status: 429, title: 'The daily quota of disclosure requests is reached' },
  DISCLOSURE_NOT_RELEASED: { status: 409, title: 'The request is not released yet: its approval is not yet covered by a signed checkpoint' },
  DISCLOSURE_RELEASE_EXPIRED: { status: 410, title: 'The emergency release is no longer shown (72 hours have passed)' },
  DISCLOSURE_COURT_ONLY: { status: 403, title: 'Only an approver of a court can extend a seal' },
  DISCLOSURE_LOG_UNAVAILABLE: { status: 503, title: 'The transparency log is not available: nothing can be released' },
});

export type DisclosureErrorCode = keyof typeof DISCLOSURE_ERRORS;

export class DisclosureError extends errorClass('DisclosureError', DISCLOSURE_ERRORS) {}
