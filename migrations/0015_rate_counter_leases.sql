-- 0015: token leases on the hot shared rate-limit buckets (src/kernel/db/rate-leases.ts).
-- `granted` is the number of hits the last lease statement handed to its caller: an UPDATE's SET
-- sees the row before the update, so the statement can grant min(wanted, max - count) and say how
-- many it granted in one round trip, on PostgreSQL 15 too (which has no RETURNING OLD). NULL for
-- rows written by exact per-hit counting (hitLimits).
ALTER TABLE rate_counters ADD COLUMN granted integer;
