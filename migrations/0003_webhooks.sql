-- 0003: webhook delivery (issue 3 "Webhooks"; src/events/). What the dispatcher, the delivery log
-- and the polling API need beyond the outbox tables of 0002.

-- The attempt count at which the current retry schedule began: 0 for a new delivery, the count
-- at the time of a replay afterwards. `attempts` itself only ever grows (it numbers the attempts
-- in the log, and a claim's result is recorded only while `attempts` is still the claim's own).
ALTER TABLE webhook_deliveries ADD COLUMN schedule_start integer NOT NULL DEFAULT 0;

-- The delivery log of one event (GET /v1/webhooks/deliveries/{event_id}).
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id, id);

-- The dead-letter list of a provider, newest first. Partial: a delivery's row changes on every
-- attempt, and an index of all statuses would be written twice per delivery for little use
-- (the other filters of the delivery log read webhook_deliveries_provider).
CREATE INDEX webhook_deliveries_provider_dead ON webhook_deliveries (provider_id, created_at, event_id) WHERE status = 'dead';

-- The writing transaction of each event, for gap-free polling (GET /v1/events): events are
-- served in (txid, id) order and only below the oldest transaction still running, so an event
-- committed late by a long transaction can never appear behind a cursor that already passed it
-- (a timestamp or a sequence, assigned before commit, would allow that).
ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_provider_txid ON events (provider_id, txid, id);
