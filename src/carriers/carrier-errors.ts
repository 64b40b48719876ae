/** Error codes of the carriers' API (issue 3 "Carriers use the API too"). See docs/errors.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const CARRIER_ERRORS = defineErrors({
  CARRIER_JOB_NOT_FOUND: { status: 404, title: 'No such job of this carrier' },
  ACTION_LIST_NOT_AVAILABLE: { status: 404, title: 'No completed reconciliation run yet, so no action list' },
  CARRIER_JOB_INTERRUPTED: { status: 500, title: 'The hub stopped while the job could not be resumed; upload the file again' },
});

export type CarrierErrorCode = keyof typeof CARRIER_ERRORS;

export class CarrierError extends errorClass('CarrierError', CARRIER_ERRORS) {}
