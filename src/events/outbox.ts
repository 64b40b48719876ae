/**
 * The transactional outbox (DESIGN.md invariant 6; issue 3 "Webhooks"): binding changes write
 * their events in the same transaction as the change, as part of the same SQL statement, and a
 * delivery row for the provider's webhook when it has one. events/webhook-dispatcher.ts delivers
 * them. The payload is exactly what a provider may learn (DESIGN.md invariant 1): never a reason.
 * `minor` is the account's minor flag (Decree 147/2024 Art. 27), false once unbound; never the guardian.
 *
 * An account event carries the account's status view after the change, member for member what
 * `GET /v1/accounts/{ref}` answers at that sequence (bindings/binding-service.ts statusView):
 * `status`, `level`, `pseudonym`, `since` and `minor`. So a platform that keeps the last event of
 * each account holds what a status read would return, and the two never disagree. In particular
 * an unbound account is `unverified` with no level and no pseudonym (the binding is gone, and
 * the pseudonym no longer names a person's account there), `minor` false, and `since` the time of
 * the unbinding. (Audit of issue 3, finding 7: `account.unbound` once carried the last level and
 * pseudonym while the status read answered null.)
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
    SELECT gen_random_uuid() AS event_id, c.id AS account_id, c.provider_id, c.account_ref, c.sequence,
           -- statusView's mapping, in SQL: keep the two in step (test/http/verification-api.db.test.ts checks it).
           CASE WHEN c.status = 'unbound' THEN 'unverified' ELSE c.status END AS status,
           CASE WHEN c.status = 'unbound' THEN NULL ELSE c.level END AS level,
           CASE WHEN c.status = 'unbound' THEN NULL ELSE c.pseudonym END AS pseudonym,
           (c.minor AND c.status <> 'unbound') AS minor, c.status_since, clock_timestamp() AS occurred_at
    FROM changed c
  ),
  ev AS (
    INSERT INTO events (id, provider_id, account_id, type, payload, occurred_at)
    SELECT e.event_id, e.provider_id, e.account_id, ${eventTypeParam}::text,
           jsonb_build_object('id', e.event_id, 'type', ${eventTypeParam}::text, 'account_ref', e.account_ref,
             'status', e.status, 'level', e.level, 'pseudonym', e.pseudonym, 'minor', e.minor,
             -- Milliseconds, truncated, as the status read's Date.toISOString() of the same column.
             'since', to_char(e.status_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
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
