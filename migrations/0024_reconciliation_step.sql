-- 0024: a reconciliation run shows which step it is in (issue 2: progress for long work).
--
-- A national registry takes minutes to reconcile. While a run is 'running', `step` names the step
-- it is in (src/registry/reconciliation/reconciliation-repository.ts, RECONCILIATION_STEPS); it is
-- written outside the run's transaction so that anyone polling the run sees it. A completed run
-- clears it; a failed run keeps the step it failed in.
ALTER TABLE reconciliation_runs ADD COLUMN step text;
