-- 0029: what an import run was allowed to do (issue 2 "idbind import"; DESIGN.md invariant 6).
-- A population import with --correct-deaths may record as alive people stored as deceased; one
-- without refuses those rows (DECEASED_IN_REGISTRY). An interrupted run is resumed only by a run
-- of the same file with the same options, so one run never applies half its file in each mode;
-- another mode starts the file again (src/registry/import/import-runs.ts beginImportRun).
ALTER TABLE import_runs ADD COLUMN options jsonb NOT NULL DEFAULT '{}'::jsonb;
