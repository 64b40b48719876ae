-- 0025: retention of reconciliation results (issue 2: no lost data, and no unbounded growth).
--
-- A run writes one result row per junk subscription: millions per run at national scale, every
-- run. What the trend and the regulator's reports need, the counts per category and carrier and
-- the change against the previous run, is kept in the run's `summary`; the rows themselves serve
-- the run's action lists, the comparison made by the next run, and phone eligibility (the latest
-- completed run only). `idbind reconcile prune --keep-runs N` (or `IDBIND_RECONCILIATION_KEEP_RUNS`)
-- deletes the rows of older runs and records when here; the run and its summary stay.
ALTER TABLE reconciliation_runs ADD COLUMN results_pruned_at timestamptz;
