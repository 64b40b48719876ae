/**
 * The provider's side of webhooks (issue 3 "Webhooks"): the delivery log, replays, the test event
 * and event polling. Every function takes the calling provider's id and reaches only its rows.
 * The views carry the provider's own event payloads and delivery metadata, never a reason or a
 * personal field (DESIGN.md invariant 1).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from '../kernel/db/pool.ts';
import { hitLimits } from '../kernel/db/rate-counters.ts';
import * as repo from './webhook-repository.ts';
import { WebhookError } from './webhook-errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** At most this many deliveries per bulk replay: a larger selection is refused, to be narrowed. */
export const MAX_REPLAY = 10_000;

export type DeliveryStatus = repo.DeliveryStatus;

export function deliveryView(r: repo.DeliveryRow) {
  return {
    event_id: r.event_id,
    type: r.type,
    status: r.status,
    attempts: r.attempts,
    next_attempt_at: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
    last_attempt_at: r.last_attempt_at?.toISOString() ?? null,
    last_status_code: r.last_status_code,
    last_error: r.last_error,
    delivered_at: r.delivered_at?.toISOString() ?? null,
    created_at: r.created_at.toISOString(),
  };
}

// Cursors are opaque to callers: base64url of a tagged position, checked strictly on the way in.
function encodeCursor(tag: string, a: string, b: string): string {
  return Buffer.from(`${tag}|${a}|${b}`, 'utf8').toString('base64url');
}

function decodeCursor(tag: string, cursor: string, first: RegExp): [string, string] {
  const parts = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8').split('|') : [];
  if (parts.length !== 3 || parts[0] !== tag || !first.test(parts[1]!) || !UUID.test(parts[2]!)) throw new WebhookError('WEBHOOK_CURSOR_INVALID');
  return [parts[1]!, parts[2]!];
}

const CREATED_KEY = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export async function listDeliveries(pool: pg.Pool, providerId: string, q: { status?: DeliveryStatus; limit?: number; cursor?: string }) {
  const limit = q.limit ?? 100;
  let before: { created: string; eventId: string } | undefined;
  if (q.cursor) {
    const [created, eventId] = decodeCursor('d1', q.cursor, CREATED_KEY);
    before = { created, eventId };
  }
  const rows = await repo.listDeliveries(pool, providerId, { status: q.status, before, limit });
  const last = rows[rows.length - 1];
  return {
    deliveries: rows.map(deliveryView),
    next_cursor: rows.length === limit && last ? encodeCursor('d1', last.created_key, last.event_id) : null,
  };
}

export async function getDelivery(pool: pg.Pool, providerId: string, eventId: string) {
  if (!UUID.test(eventId)) throw new WebhookError('WEBHOOK_DELIVERY_NOT_FOUND');
  const row = await repo.findDelivery(pool, providerId, eventId);
  if (!row) throw new WebhookError('WEBHOOK_DELIVERY_NOT_FOUND');
  const attempts = await repo.listAttempts(pool, providerId, eventId);
  return {
    ...deliveryView(row),
    event: row.payload,
    attempt_log: attempts.map((a) => ({ attempt: a.attempt, status_code: a.status_code, error: a.error, duration_ms: a.duration_ms, at: a.at.toISOString() })),
  };
}

async function requireWebhookUrl(pool: pg.Pool, providerId: string): Promise<void> {
  const state = await repo.webhookEndpointState(pool, providerId);
  if (state === 'none') throw new WebhookError('WEBHOOK_URL_NOT_SET', 'set one with PUT /v1/provider/webhook');
  if (state === 'disabled') throw new WebhookError('WEBHOOK_ENDPOINT_DISABLED', 'set the webhook URL again with PUT /v1/provider/webhook to enable it');
}

/** Re-queues one delivery (delivered, dead or pending) with the same webhook-id. */
export async function replayDelivery(pool: pg.Pool, providerId: string, eventId: string): Promise<{ event_id: string; status: 'pending' }> {
  if (!UUID.test(eventId)) throw new WebhookError('WEBHOOK_DELIVERY_NOT_FOUND');
  await requireWebhookUrl(pool, providerId);
  if (!(await repo.requeueDelivery(pool, providerId, eventId))) throw new WebhookError('WEBHOOK_DELIVERY_NOT_FOUND');
  return { event_id: eventId, status: 'pending' };
}

export interface ReplayManyInput {
  since?: string;
  until?: string;
  status?: 'dead';
}

function parseTime(name: string, v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(d.getTime())) throw new WebhookError('WEBHOOK_REPLAY_INVALID', `${name}: an RFC 3339 date-time`);
  return d;
}

/**
 * Re-queues the provider's deliveries in a time range of their events (`since`, optional
 * `until`), or those in a status (`dead`: the dead-letter list), or both; all or nothing, at most
 * MAX_REPLAY at a time (DESIGN.md invariant 5: a request too large changes nothing).
 */
export async function replayDeliveries(pool: pg.Pool, providerId: string, input: ReplayManyInput): Promise<{ requeued: number }> {
  const since = parseTime('since', input.since);
  const until = parseTime('until', input.until);
  if (!since && !input.status) throw new WebhookError('WEBHOOK_REPLAY_INVALID', 'give since (and optionally until), or status "dead"');
  if (until && !since) throw new WebhookError('WEBHOOK_REPLAY_INVALID', 'until needs since');
  if (since && until && until <= since) throw new WebhookError('WEBHOOK_REPLAY_INVALID', 'until must be after since');
  await requireWebhookUrl(pool, providerId);
  return inTransaction(pool, async (client) => {
    const ids = await repo.selectForReplay(client, providerId, { since, until, status: input.status }, MAX_REPLAY + 1);
    if (ids.length > MAX_REPLAY) throw new WebhookError('WEBHOOK_REPLAY_TOO_LARGE', `more than ${MAX_REPLAY} deliveries match: narrow since and until`);
    return { requeued: await repo.requeueDeliveries(client, providerId, ids) };
  });
}

/** Test events a provider may send per minute: each is a request from the hub to a URL the provider chose. */
export const TEST_EVENTS_PER_MINUTE = 10;

/** Emits a `webhook.test` event to the provider's own endpoint, through the outbox tables. */
export async function sendTestEvent(pool: pg.Pool, providerId: string): Promise<{ event_id: string; type: string; occurred_at: string }> {
  await requireWebhookUrl(pool, providerId);
  // Exact (one counted row per minute per provider): test events are rare, no lease needed.
  const limited = await hitLimits(pool, [{ bucket: `webhook-test:provider:${providerId}`, windowSeconds: 60, max: TEST_EVENTS_PER_MINUTE, label: 'webhook_test' }]);
  if (limited) throw new WebhookError('WEBHOOK_TEST_RATE_LIMITED', `at most ${TEST_EVENTS_PER_MINUTE} a minute`, { retry_after: limited.retryAfterSeconds });
  const id = randomUUID();
  const row = await repo.insertTestEvent(pool, providerId, id);
  if (!row) throw new WebhookError('WEBHOOK_URL_NOT_SET', 'set one with PUT /v1/provider/webhook');
  return { event_id: id, type: repo.TEST_EVENT_TYPE, occurred_at: row.occurred_at };
}

const START = { txid: '0', id: '00000000-0000-0000-0000-000000000000' };

/**
 * An events cursor names the last event served (`e2|<event id>`), and the hub reads that event's
 * position (its transaction id) itself. The position is not in the cursor: a transaction id counts
 * every write of the hub, so two cursors holding it would tell a platform how much every other
 * platform did between two of its events (issue 3: a provider sees only its own accounts,
 * verifications and events). Cursors of the earlier form (`e1|<txid>|<event id>`) are still read,
 * so a poller that stored one resumes where it stopped.
 */
async function eventsPosition(pool: pg.Pool, providerId: string, cursor: string): Promise<{ txid: string; id: string }> {
  const parts = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8').split('|') : [];
  if (parts[0] === 'e1') {
    const [txid, id] = decodeCursor('e1', cursor, /^\d{1,20}$/);
    return { txid, id };
  }
  if (parts.length !== 2 || parts[0] !== 'e2' || !UUID.test(parts[1]!)) throw new WebhookError('WEBHOOK_CURSOR_INVALID');
  if (parts[1] === START.id) return START;
  // Another provider's event is not found either: its cursor is refused as a made-up one is.
  const txid = await repo.eventTxid(pool, providerId, parts[1]!);
  if (txid === undefined) throw new WebhookError('WEBHOOK_CURSOR_INVALID');
  return { txid, id: parts[1]! };
}

/**
 * The provider's events after a cursor, oldest first, for receivers that poll or recover after
 * an outage. `next_cursor` is always given: the position after this page (the same cursor when
 * the page is empty), to be passed as `after` next time.
 */
export async function eventsAfter(pool: pg.Pool, providerId: string, q: { after?: string; limit?: number }) {
  const limit = q.limit ?? 100;
  const after = q.after ? await eventsPosition(pool, providerId, q.after) : START;
  const rows = await repo.listEventsAfter(pool, providerId, after, limit);
  const last = rows[rows.length - 1];
  let next: string;
  if (last) next = encodeEventsCursor(last.id);
  // An empty page keeps the position as it was given (an earlier form's cursor in its own form).
  else if (q.after && after !== START && !Buffer.from(q.after, 'base64url').toString('utf8').startsWith('e2|')) next = encodeCursor('e1', after.txid, after.id);
  else next = encodeEventsCursor(after.id);
  return { events: rows.map((r) => r.payload), next_cursor: next };
}

function encodeEventsCursor(eventId: string): string {
  return Buffer.from(`e2|${eventId}`, 'utf8').toString('base64url');
}
