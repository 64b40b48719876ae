/** Error codes of the upstream national eID broker (issue 4 "National eID broker"). See docs/errors.md. */
import { defineErrors, errorClass } from '../../kernel/errors.ts';

export const EID_ERRORS = defineErrors({
  EID_FAILED: { status: 400, title: 'The national eID login did not complete' },
  EID_LEVEL_UNKNOWN: { status: 403, title: 'The national eID answered with an assurance level idbind does not know' },
  LEVEL_NOT_REACHED: { status: 403, title: 'The assurance level reached is lower than the level required' },
  EID_PERSON_NOT_ELIGIBLE: { status: 422, title: 'This person cannot verify an account through the national eID' },
  EID_UNAVAILABLE: { status: 503, title: 'The national eID is not available' },
});

export type EidErrorCode = keyof typeof EID_ERRORS;

export interface EidErrorContext {
  /**
   * The hosted flow the login belonged to, set once the answer's state was recognised together
   * with its browser cookie: the caller sends the browser back to that flow. Not part of the
   * problem document.
   */
  flowUid?: string;
  /** Why, in a word, for logs and statistics (never a personal value); `detail` may say less. */
  reason?: string;
}

export class EidError extends errorClass('EidError', EID_ERRORS) {
  readonly flowUid: string | undefined;
  readonly reason: string | undefined;

  constructor(code: EidErrorCode, detail?: string, context: EidErrorContext = {}) {
    super(code, detail);
    this.flowUid = context.flowUid;
    this.reason = context.reason;
  }
}
