-- 0016: webhook deliveries claimed fairly across providers (issue 3 "Webhooks"; src/events/
-- webhook-repository.ts claimDueDeliveries). The claim takes each provider's oldest due
-- deliveries, at most a per-provider share, so one provider's backlog or hanging endpoint never
-- delays another provider's events. This index serves both of its probes per provider: the
-- oldest due delivery, and the provider's due deliveries in order.
CREATE INDEX webhook_deliveries_provider_due ON webhook_deliveries (provider_id, next_attempt_at) WHERE status = 'pending';
