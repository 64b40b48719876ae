/**
 * The transactional outbox (DESIGN.md invariant 6; issue 3 "Webhooks"): binding changes write
 * their events in the same transaction as the change, as part of the same SQL statement, and a
 * delivery row for the provider's webhook when it has one. events/webhook-dispatcher.ts delivers
 * them. The payload is exactly what a provider may learn (DESIGN.md invariant 1): never a reason.
 * `minor` is the account's minor flag (Decree 147/2024 Art. 27), false once unbound; never the guardian.
 */

export const ACCOUNT_EVENT_TYPES = ['account.verified', 'account.needs_reverification', 'account.revoked', 'account.unbound', 'account.minor_ended'] as const;
export type AccountEventType = (typeof ACCOUNT_EVENT_TYPES)[number];

/**
 * SQL (a CTE body) that, given a CTE named `changed` of account rows after their change (columns
 * of `accounts`), inserts one event per row and one delivery per event whose provider has a
 * webhook URL. `$EVENT_TYPE_PARAM` is the parameter holding the event type. Use inside
 * `WITH changed AS (UPDATE ... RETURNING *), ...` followed by this text.
 */
export function outboxCtes(eventTypeParam: string): string {
  return `
  evrows AS (
    SELECT gen_random_uuid() AS event_id, c.id AS account_id, c.provider_id, c.account_ref, c.status, c.level, c.sequence,
           c.pseudonym, (c.minor AND c.status <> 'unbound') AS minor, clock_timestamp() AS occurred_at
    FROM changed c
  ),
  ev AS (
    INSERT INTO events (id, provider_id, account_id, type, payload, occurred_at)
    SELECT e.event_id, e.provider_id, e.account_id, ${eventTypeParam}::text,
           jsonb_build_object('id', e.event_id, 'type', ${eventTypeParam}::text, 'account_ref', e.account_ref,
             'status', CASE WHEN e.status = 'unbound' THEN 'unverified' ELSE e.status END, 'level', e.level, 'pseudonym', e.pseudonym, 'minor', e.minor,
             'sequence', e.sequence, 'occurred_at', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
           e.occurred_at
    FROM evrows e
    RETURNING id, provider_id
  ),
  deliveries AS (
    INSERT INTO webhook_deliveries (event_id, provider_id, status)
    SELECT ev.id, ev.provider_id, 'pending' FROM ev JOIN providers p ON p.id = ev.provider_id AND p.webhook_url IS NOT NULL
    RETURNING event_id
  ),
  history AS (
    INSERT INTO account_changes (account_id, person_id, status, reason, sequence)
    SELECT c.id, c.person_id, c.status, c.status_reason, c.sequence FROM changed c
    RETURNING id
  )`;
}
