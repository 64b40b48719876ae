/**
 * SQL of webhook delivery: claiming due deliveries, recording attempts, the delivery log, replays,
 * the test event and event polling. Every query a provider's call reaches is filtered by the
 * provider's id (issue 3: a provider sees only its own events).
 */
import type pg from 'pg';

type Db = pg.Pool | pg.PoolClient;

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

// ---- the dispatcher ----

export interface ClaimedDelivery {
  event_id: string;
  provider_id: string;
  /** The number of this attempt (attempts after the claim). */
  attempts: number;
  schedule_start: number;
  /** The event payload exactly as stored: the body sent, byte for byte on every attempt. */
  body: string;
  webhook_url: string | null;
  /** Set when the endpoint answered 410 Gone (the provider's webhook_disabled_at). */
  webhook_disabled_at: Date | null;
  provider_status: 'active' | 'disabled';
}

/**
 * The claim's statement ($1 now, $2 batch size, $3 lease in ms, $4 per-provider share, $5
 * providers left out). Exported for the plan test: each provider's probes must stay ranges of
 * webhook_deliveries_provider_due, whatever the statistics say (migration 0018), and the update
 * finds its rows by primary key: by `= ANY(ARRAY(...))`, because a join with the CTE let the
 * planner hash it against a sequential scan of every delivery once it expected a full batch.
 */
export const CLAIM_DUE_SQL = `WITH busy AS (
    SELECT p.id, o.oldest FROM providers p
    CROSS JOIN LATERAL (
      SELECT w.next_attempt_at AS oldest FROM webhook_deliveries w
      WHERE w.provider_id = p.id AND w.status = 'pending' AND w.next_attempt_at <= $1
      ORDER BY w.next_attempt_at LIMIT 1
    ) o
    WHERE p.id <> ALL($5::uuid[])
    ORDER BY o.oldest
    LIMIT $2
  ),
  due AS (
    SELECT d.event_id FROM busy b
    CROSS JOIN LATERAL (
      SELECT w.event_id FROM webhook_deliveries w
      WHERE w.provider_id = b.id AND w.status = 'pending' AND w.next_attempt_at <= $1
      ORDER BY w.next_attempt_at
      LIMIT $4
      FOR UPDATE SKIP LOCKED
    ) d
    LIMIT $2
  ),
  claimed AS (
    UPDATE webhook_deliveries d
    SET attempts = d.attempts + 1, next_attempt_at = $1::timestamptz + $3::integer * interval '1 millisecond', last_attempt_at = $1
    WHERE d.event_id = ANY(ARRAY(SELECT event_id FROM due))
    RETURNING d.event_id, d.provider_id, d.attempts, d.schedule_start
  )
  SELECT c.event_id, c.provider_id, c.attempts, c.schedule_start, e.payload::text AS body, p.webhook_url, p.webhook_disabled_at, p.status AS provider_status
  FROM claimed c JOIN events e ON e.id = c.event_id JOIN providers p ON p.id = c.provider_id`;

/**
 * Claims up to `limit` due deliveries: locks them with SKIP LOCKED (so that several hub
 * processes share the work without waiting on each other), counts the attempt, and moves
 * next_attempt_at to the end of a lease, all in one statement. A process that dies after the
 * claim leaves the delivery pending, due again when the lease ends: nothing is lost.
 *
 * Fair across providers (a demanding platform's expectation; issue 3 "Webhooks"): providers are
 * served oldest due delivery first, and each gives at most `perProvider` deliveries to one
 * claim, so one provider's backlog of a hundred thousand revocations, or an endpoint that hangs
 * until the timeout, never holds back another provider's events. Providers in `skipProviders`
 * (those with their share already in flight in this process) are left out of the claim.
 */
export async function claimDueDeliveries(db: Db, now: Date, limit: number, leaseMs: number, perProvider = limit, skipProviders: readonly string[] = []): Promise<ClaimedDelivery[]> {
  // Not a named (prepared) statement: planned on every call, for the tables' sizes of the moment
  // (0.6 ms, for up to `limit` deliveries). A prepared one kept the generic plan PostgreSQL made
  // while the outbox was young and empty: an idle dispatcher claims nothing thousands of times,
  // and then a burst of 100,000 revocations was claimed through a hash join over every event
  // (10 ms a claim at 30,000, a third of the delivery rate) until autovacuum's next ANALYZE
  // (webhooks-delivery.db.test.ts, "young outbox").
  const r = await db.query<ClaimedDelivery>(CLAIM_DUE_SQL, [now, limit, leaseMs, perProvider, skipProviders]);
  return r.rows;
}

export type AttemptOutcome = 'delivered' | 'retry' | 'dead';

export interface AttemptResult {
  eventId: string;
  providerId: string;
  attempt: number;
  statusCode: number | null;
  /** Short and generic (a status, an error class): never a payload or a personal field. */
  error: string | null;
  durationMs: number;
  at: Date;
  outcome: AttemptOutcome;
  /** When outcome is retry. */
  nextAttemptAt: Date | null;
}

/** The statement of `recordAttempts` (exported for the plan test). */
export const RECORD_ATTEMPTS_SQL = `WITH r AS (
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::integer[], $4::integer[], $5::text[], $6::integer[], $7::text[], $8::timestamptz[], $9::timestamptz[])
               AS r(event_id, provider_id, attempt, status_code, error, duration_ms, outcome, at, next_at)
           ),
           log AS (
             INSERT INTO webhook_attempts (event_id, provider_id, attempt, status_code, error, duration_ms, at)
             SELECT event_id, provider_id, attempt, status_code, error, duration_ms, at FROM r
           )
           UPDATE webhook_deliveries d SET
             status = CASE r.outcome WHEN 'delivered' THEN 'delivered' WHEN 'dead' THEN 'dead' ELSE 'pending' END,
             next_attempt_at = CASE WHEN r.outcome = 'retry' THEN r.next_at ELSE d.next_attempt_at END,
             last_attempt_at = r.at, last_status_code = r.status_code, last_error = r.error,
             delivered_at = CASE WHEN r.outcome = 'delivered' THEN r.at + r.duration_ms * interval '1 millisecond' ELSE d.delivered_at END
           FROM r
           WHERE d.event_id = ANY($1::uuid[]) AND d.event_id = r.event_id AND d.status <> 'delivered'
             AND (r.outcome = 'delivered' OR (d.status <> 'dead' AND d.attempts = r.attempt AND d.schedule_start < r.attempt))`;

/**
 * Writes a batch of attempts to the log and their deliveries' new state, in one statement
 * (unnest). A failed attempt changes its delivery only while the delivery's attempt count is
 * still this attempt's (a later claim, after a lease ran out, owns it otherwise) and the delivery
 * was not replayed since this attempt was claimed (a replay sets schedule_start to the attempt
 * count, this one included): a replay accepted while an attempt was in flight stands, due at once
 * with its fresh schedule, instead of being undone by that attempt's failure (dead-lettered
 * after the last attempt of the old schedule, or put back hours away). A success always wins
 * over a pending or dead state, since the receiver has the event: an attempt that outlived its
 * lease and succeeded after a later claim's last attempt dead-lettered the delivery takes it off
 * the dead-letter list (issue 3: a dead letter is what the receiver never got).
 *
 * Planned on every call like the claim, and the deliveries are found by primary key
 * (`event_id = ANY($1)`) and by nothing else. A pending delivery is written `<> 'delivered'` and
 * `<> 'dead'` (the same rows: the column's CHECK allows only the three states) because with
 * `status = 'pending'` the planner could use 0016's partial index of pending deliveries, whose
 * predicate that matches: the update read every pending delivery through it (30,000 rows for a
 * batch of 256 in a young outbox; webhooks-delivery.db.test.ts, "young outbox").
 */
export async function recordAttempts(db: Db, results: readonly AttemptResult[]): Promise<void> {
  if (results.length === 0) return;
  await db.query({
    text: RECORD_ATTEMPTS_SQL,
    values: [
      results.map((x) => x.eventId), results.map((x) => x.providerId), results.map((x) => x.attempt), results.map((x) => x.statusCode),
      results.map((x) => x.error), results.map((x) => x.durationMs), results.map((x) => x.outcome), results.map((x) => x.at),
      results.map((x) => x.nextAttemptAt),
    ],
  });
}

// ---- the delivery log ----

export interface DeliveryRow {
  event_id: string;
  type: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
  /** created_at with microseconds, for the cursor. */
  created_key: string;
}

const DELIVERY_COLUMNS = `d.event_id, e.type, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error,
  d.delivered_at, d.created_at, to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_key`;

/** A provider's deliveries, newest first, after the cursor (created_at, event_id) when given. */
export async function listDeliveries(db: Db, providerId: string, q: { status?: DeliveryStatus; before?: { created: string; eventId: string }; limit: number }): Promise<DeliveryRow[]> {
  const where = ['d.provider_id = $1'];
  const values: unknown[] = [providerId];
  if (q.status) {
    values.push(q.status);
    where.push(`d.status = $${values.length}`);
  }
  if (q.before) {
    values.push(q.before.created, q.before.eventId);
    where.push(`(d.created_at, d.event_id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`);
  }
  values.push(q.limit);
  const r = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
     WHERE ${where.join(' AND ')} ORDER BY d.created_at DESC, d.event_id DESC LIMIT $${values.length}`,
    values,
  );
  return r.rows;
}

/** An event's payload as stored (outbox.ts for account events; `webhook.test` has only id, type, occurred_at). */
export interface EventPayload {
  id: string;
  type: string;
  occurred_at: string;
  account_ref?: string;
  status?: string;
  level?: string | null;
  pseudonym?: string | null;
  /** When the account entered `status` (the status read's `since`). */
  since?: string;
  minor?: boolean;
  sequence?: number;
}

export interface DeliveryDetailRow extends DeliveryRow {
  payload: EventPayload;
}

export async function findDelivery(db: Db, providerId: string, eventId: string): Promise<DeliveryDetailRow | undefined> {
  const r = await db.query<DeliveryDetailRow>(
    `SELECT ${DELIVERY_COLUMNS}, e.payload FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
     WHERE d.provider_id = $1 AND d.event_id = $2`,
    [providerId, eventId],
  );
  return r.rows[0];
}

export interface AttemptRow {
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  at: Date;
}

export async function listAttempts(db: Db, providerId: string, eventId: string): Promise<AttemptRow[]> {
  const r = await db.query<AttemptRow>(
    `SELECT attempt, status_code, error, duration_ms, at FROM webhook_attempts WHERE event_id = $2 AND provider_id = $1 ORDER BY id`,
    [providerId, eventId],
  );
  return r.rows;
}

// ---- replays ----

/**
 * Re-queues the delivery of one of the provider's events: due at once, with a fresh retry
 * schedule, whatever its state (delivered, dead or pending). The webhook-id stays the event id,
 * so a receiver that already has it drops the repeat. An event that never had a delivery (the
 * provider had no webhook URL then) gets one. Returns false when the provider has no such event.
 */
export async function requeueDelivery(db: Db, providerId: string, eventId: string): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO webhook_deliveries (event_id, provider_id, status, next_attempt_at)
     SELECT e.id, e.provider_id, 'pending', now() FROM events e WHERE e.id = $2 AND e.provider_id = $1
     ON CONFLICT (event_id) DO UPDATE SET status = 'pending', next_attempt_at = EXCLUDED.next_attempt_at,
       schedule_start = webhook_deliveries.attempts, delivered_at = NULL`,
    [providerId, eventId],
  );
  return (r.rowCount ?? 0) > 0;
}

export interface ReplaySelection {
  since?: Date;
  until?: Date;
  status?: 'dead';
}

/**
 * The ids of the provider's events a bulk replay selects, at most `limit` of them (the caller
 * asks for one more than it allows, to know when the selection is too large). With a status,
 * deliveries in that status; without, every event in the time range, delivered or not.
 */
export async function selectForReplay(db: Db, providerId: string, s: ReplaySelection, limit: number): Promise<string[]> {
  const values: unknown[] = [providerId];
  const where: string[] = [];
  let from: string;
  if (s.status) {
    values.push(s.status);
    from = `webhook_deliveries d JOIN events e ON e.id = d.event_id`;
    where.push('d.provider_id = $1', `d.status = $${values.length}`);
  } else {
    from = 'events e';
    where.push('e.provider_id = $1');
  }
  if (s.since) {
    values.push(s.since);
    where.push(`e.occurred_at >= $${values.length}`);
  }
  if (s.until) {
    values.push(s.until);
    where.push(`e.occurred_at < $${values.length}`);
  }
  values.push(limit);
  const r = await db.query<{ id: string }>(
    `SELECT e.id FROM ${from} WHERE ${where.join(' AND ')} ORDER BY e.occurred_at, e.id LIMIT $${values.length}`,
    values,
  );
  return r.rows.map((x) => x.id);
}

/** requeueDelivery for many events of the provider, in one statement. Returns how many. */
export async function requeueDeliveries(db: Db, providerId: string, eventIds: readonly string[]): Promise<number> {
  if (eventIds.length === 0) return 0;
  const r = await db.query(
    `INSERT INTO webhook_deliveries (event_id, provider_id, status, next_attempt_at)
     SELECT e.id, e.provider_id, 'pending', now() FROM events e WHERE e.id = ANY($2::uuid[]) AND e.provider_id = $1
     ON CONFLICT (event_id) DO UPDATE SET status = 'pending', next_attempt_at = EXCLUDED.next_attempt_at,
       schedule_start = webhook_deliveries.attempts, delivered_at = NULL`,
    [providerId, eventIds],
  );
  return r.rowCount ?? 0;
}

// ---- the test event ----

export const TEST_EVENT_TYPE = 'webhook.test';

/**
 * Writes a `webhook.test` event and its pending delivery in one statement, through the same
 * tables as the outbox, so that it travels the same path as account events. It carries no
 * account data: `{id, type, occurred_at}`. Returns false (and writes nothing) when the provider
 * has no webhook URL.
 */
export async function insertTestEvent(db: Db, providerId: string, eventId: string): Promise<{ occurred_at: string } | undefined> {
  const r = await db.query<{ occurred_at: string }>(
    `WITH ev AS (
       INSERT INTO events (id, provider_id, account_id, type, payload, occurred_at)
       SELECT $2::uuid, p.id, NULL, $3::text,
              jsonb_build_object('id', $2::text, 'type', $3::text, 'occurred_at', to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
              t.at
       FROM providers p CROSS JOIN (SELECT clock_timestamp() AS at) t
       WHERE p.id = $1 AND p.webhook_url IS NOT NULL
       RETURNING id, provider_id, payload
     ),
     delivery AS (
       INSERT INTO webhook_deliveries (event_id, provider_id, status) SELECT id, provider_id, 'pending' FROM ev
     )
     SELECT payload->>'occurred_at' AS occurred_at FROM ev`,
    [providerId, eventId, TEST_EVENT_TYPE],
  );
  return r.rows[0];
}

/** Whether the provider's webhook URL is still `url` (a 410 Gone speaks only for the URL that answered). */
export async function webhookUrlIs(db: Db, providerId: string, url: string): Promise<boolean> {
  const r = await db.query<{ same: boolean }>('SELECT webhook_url = $2 AS same FROM providers WHERE id = $1', [providerId, url]);
  return r.rows[0]?.same === true;
}

/** Whether the provider's webhook endpoint can receive: no URL, disabled by a 410 Gone, or enabled. */
export async function webhookEndpointState(db: Db, providerId: string): Promise<'none' | 'disabled' | 'enabled'> {
  const r = await db.query<{ state: 'none' | 'disabled' | 'enabled' }>(
    `SELECT CASE WHEN webhook_url IS NULL THEN 'none' WHEN webhook_disabled_at IS NOT NULL THEN 'disabled' ELSE 'enabled' END AS state
     FROM providers WHERE id = $1`,
    [providerId],
  );
  return r.rows[0]?.state ?? 'none';
}

// ---- polling ----

export interface EventRow {
  id: string;
  txid: string;
  payload: EventPayload;
}

/** The transaction id of one of the provider's events (where an events cursor resumes); undefined when it has none with this id. */
export async function eventTxid(db: Db, providerId: string, eventId: string): Promise<string | undefined> {
  const r = await db.query<{ txid: string }>({
    name: 'event_txid',
    text: 'SELECT txid::text AS txid FROM events WHERE id = $1 AND provider_id = $2',
    values: [eventId, providerId],
  });
  return r.rows[0]?.txid;
}

/**
 * The provider's events after the cursor (txid, id), oldest first, only those written by
 * transactions older than every transaction still running (pg_snapshot_xmin): no event can
 * commit later below that line, so a poller following the cursor never skips one.
 * @see PostgreSQL 15 docs 9.27 "Transaction ID and Snapshot Information Functions".
 */
export async function listEventsAfter(db: Db, providerId: string, after: { txid: string; id: string }, limit: number): Promise<EventRow[]> {
  const r = await db.query<EventRow>({
    name: 'events_after',
    text: `SELECT e.id, e.txid::text AS txid, e.payload FROM events e
           WHERE e.provider_id = $1 AND (e.txid, e.id) > ($2::xid8, $3::uuid) AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
           ORDER BY e.txid, e.id LIMIT $4`,
    values: [providerId, after.txid, after.id, limit],
  });
  return r.rows;
}
