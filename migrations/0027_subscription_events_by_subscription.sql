-- 0027: a subscription's delta events, found by subscription (issue 2 "Deltas").
--
-- A holder change that arrives after events dated later than it hands those events, and the
-- state they set (a block, a SIM or device change), to the new holder's subscription
-- (subscription-events.ts moveLaterEventsToNewHolder). Without this index that move read every
-- event of every carrier, once per late holder change.
CREATE INDEX subscription_events_subscription ON subscription_events (subscription_id) WHERE subscription_id IS NOT NULL;
