/** Error codes of the transparency log (issue 5 "Transparency log"). See docs/errors.md and docs/tlog.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const LOG_ERRORS = defineErrors({
  LOG_ENTRY_INVALID: { status: 400, title: 'The log entry is not valid' },
  LOG_ENTRY_NOT_FOUND: { status: 404, title: 'No log entry at this index' },
  LOG_NOT_COVERED: { status: 409, title: 'No signed checkpoint covers this entry yet' },
  LOG_PROOF_RANGE: { status: 400, title: 'The index or tree sizes are outside the signed log' },
  LOG_CHECKPOINT_NOT_FOUND: { status: 404, title: 'No signed checkpoint of this size' },
  LOG_OPENING_MISMATCH: { status: 400, title: "The opening does not match the entry's commitment" },
  LOG_WITNESS_REFUSED: { status: 400, title: 'The cosignature is not a valid signature by a configured witness' },
  LOG_ROLLED_BACK: { status: 503, title: "The database's log is behind the checkpoint saved outside it" },
  LOG_INCONSISTENT: { status: 503, title: "The database's log is inconsistent with a checkpoint signed before" },
  LOG_KEY_MISSING: { status: 500, title: 'No log signing key is configured (IDBIND_LOG_KEY)' },
  LOG_KEY_INVALID: { status: 500, title: 'The log signing key or witness keys are malformed' },
});

export type LogErrorCode = keyof typeof LOG_ERRORS;

export class LogError extends errorClass('LogError', LOG_ERRORS) {}
