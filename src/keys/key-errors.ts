/** Error codes of key management. See docs/errors.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const KEY_ERRORS = defineErrors({
  KEY_ROTATION_BLOCKED: { status: 409, title: 'An import or reconciliation is running; rotate when it has finished' },
  MASTER_KEY_NOT_NEW: { status: 409, title: 'Every key is already wrapped by the current master key' },
  MASTER_KEY_MISSING: { status: 500, title: 'A key is wrapped by a master key that is not configured' },
});

export type KeyErrorCode = keyof typeof KEY_ERRORS;

export class KeyError extends errorClass('KeyError', KEY_ERRORS) {}
