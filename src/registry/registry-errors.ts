/** Error codes of the registry capability (imports, deltas, reconciliation). See docs/errors.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const REGISTRY_ERRORS = defineErrors({
  IMPORT_FILE_NOT_FOUND: { status: 400, title: 'The import file cannot be read' },
  IMPORT_FORMAT_INVALID: { status: 400, title: 'The import file is not in the expected format' },
  IMPORT_ALREADY_RUNNING: { status: 409, title: 'Another import of this registry is running' },
  KEY_ROTATION_RUNNING: { status: 409, title: 'A key rotation is switching versions; try again shortly' },
  CARRIER_NOT_FOUND: { status: 404, title: 'No such carrier' },
  RECONCILIATION_ALREADY_RUNNING: { status: 409, title: 'A reconciliation is already running' },
  RECONCILIATION_NOT_FOUND: { status: 404, title: 'No such reconciliation run' },
  RECONCILIATION_NOT_COMPLETED: { status: 409, title: 'The reconciliation run has not completed' },
  RECONCILIATION_RESULTS_PRUNED: { status: 410, title: "The reconciliation run's results were deleted by retention" },
});

export type RegistryErrorCode = keyof typeof REGISTRY_ERRORS;

export class RegistryError extends errorClass('RegistryError', REGISTRY_ERRORS) {}
