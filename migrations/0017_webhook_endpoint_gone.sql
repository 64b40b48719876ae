-- 0017: a webhook endpoint that answered 410 Gone is disabled (Standard Webhooks 1.0.0 "Delivery
-- success and failure": the receiver is no longer interested; the sender should disable the
-- endpoint and stop sending). Deliveries to a disabled endpoint are dead-lettered at once, kept for
-- a replay; setting the webhook URL again (the same one too) enables it. src/events/webhook-dispatcher.ts.
ALTER TABLE providers ADD COLUMN webhook_disabled_at timestamptz;
