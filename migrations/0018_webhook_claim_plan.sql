-- 0018: the claim of due webhook deliveries keeps its per-provider plan (issue 3 "Webhooks";
-- src/events/webhook-repository.ts claimDueDeliveries). Migration 0002's index on next_attempt_at
-- alone served the claim before it was made fair across providers (0016); nothing reads by it
-- since. Once ANALYZE had seen a large backlog, the planner preferred it for each provider's
-- "oldest due delivery" probe and filtered every other provider's due rows: 18 ms a claim
-- instead of 2 at 100,000 pending, and a quarter of the delivery rate. Without it, each probe is
-- a range of webhook_deliveries_provider_due (0016), and every delivery's two updates (the claim
-- and the result) maintain one index fewer.
DROP INDEX webhook_deliveries_due;
