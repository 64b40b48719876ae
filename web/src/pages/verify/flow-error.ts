/**
 * A failed step of the hosted flow, in words for the person. The hub's stable `code` picks the
 * sentence; `attempts_remaining` and `retry_after` are worked in. The code itself is kept for a
 * small "for support" line, never as the message. Eligibility failures are one sentence whatever
 * the reason (`NUMBER_NOT_ELIGIBLE`): the page does not know why, and must not guess.
 */
import { IdbindError } from '../../api/sdk.ts';
import type { FlowState } from '../../api/verify.ts';
import type { Messages } from '../../i18n/messages.ts';

export interface FlowError {
  code: string;
  attempts_remaining?: number;
  retry_after?: number;
}

/** Codes that mean the flow itself is gone: the page can only send the person back. */
export const FLOW_GONE = new Set(['FLOW_NOT_FOUND', 'FLOW_EXPIRED']);

/** Codes about the typed code, shown at the code field. */
export const CODE_ERRORS = new Set(['CODE_MALFORMED', 'CODE_INVALID', 'CODE_EXPIRED', 'TOO_MANY_ATTEMPTS']);

export function toFlowError(error: unknown): FlowError {
  if (error instanceof IdbindError) {
    const out: FlowError = { code: error.code };
    if (error.attempts_remaining !== undefined) out.attempts_remaining = error.attempts_remaining;
    if (error.retry_after !== undefined) out.retry_after = error.retry_after;
    return out;
  }
  return { code: 'INTERNAL' };
}

export function fromState(error: FlowState['error']): FlowError | null {
  return error ? { code: error.code } : null;
}

export function describeFlowError(error: FlowError, t: Messages): string {
  const v = t.verify;
  const known = (v.errors as Record<string, string | undefined>)[error.code];
  let sentence = known ?? v.errorFallback;
  if (error.code === 'CODE_INVALID' && error.attempts_remaining !== undefined) sentence = `${sentence} ${v.attemptsLeft(error.attempts_remaining)}`;
  if (error.retry_after !== undefined && error.retry_after > 0) sentence = `${sentence} ${v.tryAgainIn(Math.ceil(error.retry_after))}`;
  return sentence;
}
