-- 0020: recording webhook attempts no longer locks the platform's row (issue 3 "Webhooks").
--
-- webhook_attempts.provider_id is a copy of the delivery's own provider (webhook_deliveries
-- .provider_id, which references providers), kept so that the log can be read per provider by
-- (provider_id, at). Its foreign key checked every attempt against the platform's row and took a
-- share lock on that one row for every attempt written, so every recording of one platform's
-- attempts went through the same row; with the event's check, the two checks were about 45 % of
-- the cost of recording a batch (docs/benchmarks.md). The event's foreign key stays.
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_provider_id_fkey;
