/**
 * Webhook delivery end to end on a real PostgreSQL and real HTTP receivers on 127.0.0.1: events
 * written through the outbox SQL, delivered by the dispatcher, signatures checked with the
 * Standard Webhooks reference library. The dispatcher's scheduling clock is moved forward instead
 * of waiting for the retry schedule.
 */
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { createTestDatabase } from '../support/database.ts';
import { explainNodes, type PlanNode } from '../support/query-plans.ts';
import { authenticateApiKey, createProvider, rotateWebhookSecret, updateProvider } from '../../src/providers/provider-service.ts';
import { outboxCtes } from '../../src/events/outbox.ts';
import { unbindAccount } from '../../src/bindings/binding-repository.ts';
import { KICK_SOON_MS } from '../../src/events/webhook-dispatcher.ts';
import { CLAIM_DUE_SQL, RECORD_ATTEMPTS_SQL, claimDueDeliveries, recordAttempts } from '../../src/events/webhook-repository.ts';
import { disableWebhookEndpoint } from '../../src/providers/provider-repository.ts';
import { replayDelivery, sendTestEvent } from '../../src/events/webhook-service.ts';
import type { Receiver } from './webhooks-receiver.ts';
import { platformName, waitUntil, webhookTestbed } from './webhooks-testbed.ts';

const tb = webhookTestbed();
const { receiver, dispatcher, platform, emit, now, advance } = tb;

async function deliveries(providerId: string) {
  const r = await tb.db.pool.query<{ event_id: string; status: string; attempts: number; next_attempt_at: Date; last_error: string | null; last_status_code: number | null }>(
    'SELECT event_id, status, attempts, next_attempt_at, last_error, last_status_code FROM webhook_deliveries WHERE provider_id = $1',
    [providerId],
  );
  return r.rows;
}

async function attemptLog(eventId: string) {
  const r = await tb.db.pool.query<{ attempt: number; status_code: number | null; error: string | null; duration_ms: number; at: Date }>(
    'SELECT attempt, status_code, error, duration_ms, at FROM webhook_attempts WHERE event_id = $1 ORDER BY id',
    [eventId],
  );
  return r.rows;
}

const uniqueIds = (rec: Receiver) => new Set(rec.requests.map((q) => q.headers['webhook-id'] as string));

describe('delivery', () => {
  it('POSTs each event once with Standard Webhooks headers that the reference library verifies; the body is the stored payload', async () => {
    const rec = await receiver();
    const { provider, webhookSecret } = await platform(rec.url);
    const ids = await emit(provider.id, 20);
    const one = await unbindAccount(tb.db.pool, provider.id, 'never-bound');
    expect(one).toBe(false);
    const stats = await dispatcher().drain();
    expect(stats).toMatchObject({ attempts: 20, delivered: 20, failed: 0 });
    expect(rec.requests).toHaveLength(20);
    const wh = new Webhook(webhookSecret);
    const stored = new Map((await tb.db.pool.query<{ id: string; body: string }>('SELECT id, payload::text AS body FROM events WHERE provider_id = $1', [provider.id])).rows.map((r) => [r.id, r.body]));
    for (const q of rec.requests) {
      const id = q.headers['webhook-id'] as string;
      expect(q.path).toBe('/hooks');
      expect(q.headers['content-type']).toBe('application/json');
      expect(Math.abs(Number(q.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
      const payload = wh.verify(q.body, q.headers as Record<string, string>) as Record<string, unknown>;
      expect(q.body).toBe(stored.get(id));
      expect(payload).toMatchObject({ id, type: 'account.unbound', status: 'unverified', level: null, pseudonym: null, minor: false, sequence: 2 });
      expect(Object.keys(payload).sort()).toEqual(['account_ref', 'id', 'level', 'minor', 'occurred_at', 'pseudonym', 'sequence', 'since', 'status', 'type']);
    }
    expect([...uniqueIds(rec)].sort()).toEqual([...ids].sort());
    const rows = await deliveries(provider.id);
    expect(rows.every((d) => d.status === 'delivered' && d.attempts === 1 && d.last_status_code === 204)).toBe(true);
    const log = await attemptLog(ids[0]!);
    expect(log).toEqual([expect.objectContaining({ attempt: 1, status_code: 204, error: null })]);
  });

  it('takes the receiver down and brings it back: every event arrives, none is doubled in the receiver view, retries back off and are logged', async () => {
    const rec = await receiver();
    const { provider, webhookSecret } = await platform(rec.url);
    const d = dispatcher({ random: () => 1 }); // jitter at its top: delays are +10%
    await rec.down();
    const first = await emit(provider.id, 40);
    const t0 = tb.clock();
    expect(await d.drain()).toMatchObject({ attempts: 40, delivered: 0, failed: 40 });
    let rows = await deliveries(provider.id);
    expect(rows.every((r) => r.status === 'pending' && r.attempts === 1 && r.last_error === 'connection refused')).toBe(true);
    expect(rows.every((r) => r.next_attempt_at.getTime() === t0 + 5500)).toBe(true);

    // Nothing is due before the backoff ends.
    advance(5000);
    expect((await d.drain()).attempts).toBe(0);
    advance(600);
    const second = await emit(provider.id, 10); // more events during the outage
    expect(await d.drain()).toMatchObject({ attempts: 50, failed: 50 });
    rows = await deliveries(provider.id);
    expect(rows.filter((r) => r.attempts === 2).map((r) => r.next_attempt_at.getTime() - tb.clock())).toEqual(Array(40).fill(330_000));
    expect(rows.filter((r) => r.attempts === 1).map((r) => r.next_attempt_at.getTime() - tb.clock())).toEqual(Array(10).fill(5500));

    // Back up, but answering 503 to the first request of every fifth event after reading it:
    // the receiver saw those, the hub did not learn it, so they come again with the same id.
    await rec.up();
    const failedOnce = new Set<string>();
    rec.answer = (q) => {
      const id = q.headers['webhook-id'] as string;
      if (first.indexOf(id) % 5 === 0 && !failedOnce.has(id)) {
        failedOnce.add(id);
        return 503;
      }
      return 200;
    };
    advance(5500);
    await d.drain(); // the 10 later events (due after 5.5 s)
    advance(330_000);
    await d.drain(); // the first 40
    advance(1_980_000);
    await d.drain(); // the 8 answered 503
    rows = await deliveries(provider.id);
    expect(rows.filter((r) => r.status !== 'delivered')).toEqual([]);

    const all = [...first, ...second];
    const seen = uniqueIds(rec);
    expect(seen.size).toBe(all.length);
    expect(all.filter((id) => !seen.has(id))).toEqual([]);
    expect(rec.requests.length).toBe(all.length + failedOnce.size);
    expect(failedOnce.size).toBe(8);
    const wh = new Webhook(webhookSecret);
    for (const q of rec.requests) wh.verify(q.body, q.headers as Record<string, string>);

    // The log of one of the first events: refused twice, then 503, then 200, at growing intervals.
    const victim = [...failedOnce][0]!;
    const log = await attemptLog(victim);
    expect(log.map((a) => [a.attempt, a.status_code, a.error])).toEqual([
      [1, null, 'connection refused'], [2, null, 'connection refused'], [3, 503, 'HTTP 503'], [4, 200, null],
    ]);
    // Each retry waited at least its backoff (5 s, 5 min, 30 min, +10% jitter); the clock was
    // moved a little past the first two.
    const gaps = log.slice(1).map((a, i) => a.at.getTime() - log[i]!.at.getTime());
    expect(gaps).toEqual([5600, 335_500, 1_980_000]);
    // The log never holds the payload: no account reference appears in any error.
    const errors = (await tb.db.pool.query<{ error: string }>('SELECT error FROM webhook_attempts WHERE provider_id = $1 AND error IS NOT NULL', [provider.id])).rows;
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.filter((e) => /acct-|account_ref|\{/.test(e.error))).toEqual([]);
  });

  it('survives a process dying after its claim: the lease runs out and the delivery is made, once', async () => {
    const rec = await receiver();
    const { provider } = await platform(rec.url);
    const ids = await emit(provider.id, 30);
    // A "process" claims everything and dies before sending anything.
    const claimed = await claimDueDeliveries(tb.db.pool, now(), 1000, 60_000);
    expect(claimed.map((c) => c.event_id).sort()).toEqual([...ids].sort());
    const d = dispatcher();
    expect((await d.drain()).attempts).toBe(0); // leased: nobody else takes them
    advance(60_001);
    expect(await d.drain()).toMatchObject({ attempts: 30, delivered: 30 });
    expect(rec.requests).toHaveLength(30);
    expect(uniqueIds(rec).size).toBe(30);
    // The dead claim counted as attempt 1 (started, outcome unknown); the delivery was attempt 2.
    expect((await attemptLog(ids[0]!)).map((a) => a.attempt)).toEqual([2]);
  });

  it('shares the work between several dispatchers (hub processes) without sending any event twice', async () => {
    const rec = await receiver();
    const { provider } = await platform(rec.url);
    const ids = await emit(provider.id, 600);
    const a = dispatcher({ batchSize: 50, concurrency: 16 });
    const b = dispatcher({ batchSize: 50, concurrency: 16 });
    const c = dispatcher({ batchSize: 50, concurrency: 16 });
    const [sa, sb, sc] = await Promise.all([a.drain(), b.drain(), c.drain()]);
    expect(sa.delivered + sb.delivered + sc.delivered).toBe(600);
    expect(rec.requests).toHaveLength(600);
    expect(uniqueIds(rec).size).toBe(600);
    const n = await tb.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_attempts WHERE event_id = ANY($1::uuid[])', [ids]);
    expect(n.rows[0]!.n).toBe(600);
  });

  it('dead-letters after the schedule (at least 24 hours, 8 attempts) and a replay delivers the dead one with the same webhook-id', async () => {
    const rec = await receiver();
    rec.answer = 500;
    const { provider, webhookSecret } = await platform(rec.url);
    const [id] = await emit(provider.id, 1);
    const d = dispatcher({ random: () => 0 }); // jitter at its bottom: delays are -10%, the shortest schedule
    const start = tb.clock();
    let attempts = 0;
    for (;;) {
      const s = await d.drain();
      attempts += s.attempts;
      const [row] = await deliveries(provider.id);
      if (row!.status !== 'pending') break;
      expect(s.attempts).toBe(1);
      tb.advanceTo(row!.next_attempt_at.getTime());
    }
    const [dead] = await deliveries(provider.id);
    expect(dead).toMatchObject({ status: 'dead', attempts: 8, last_status_code: 500, last_error: 'HTTP 500' });
    expect(attempts).toBe(8);
    const log = await attemptLog(id!);
    expect(log.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const span = log[7]!.at.getTime() - start;
    expect(span).toBeGreaterThanOrEqual(24 * 3600_000);
    expect(span).toBe(89_374_500); // 0.9 x (5 s + 5 min + 30 min + 2 h + 5 h + 10 h + 10 h): 24 h 49 min 34.5 s
    // Dead stays dead.
    advance(7 * 24 * 3600_000);
    expect((await d.drain()).attempts).toBe(0);
    expect(rec.requests).toHaveLength(8);

    rec.answer = 200;
    await replayDelivery(tb.db.pool, provider.id, id!);
    expect(await d.drain()).toMatchObject({ attempts: 1, delivered: 1 });
    const [after] = await deliveries(provider.id);
    expect(after).toMatchObject({ status: 'delivered', attempts: 9 });
    const last = rec.requests.at(-1)!;
    expect(last.headers['webhook-id']).toBe(id);
    new Webhook(webhookSecret).verify(last.body, last.headers as Record<string, string>);
    expect(uniqueIds(rec)).toEqual(new Set([id]));
  });

  it('does not follow a redirect: a 3xx is a failure, retried, and the Location is never requested', async () => {
    const rec = await receiver();
    rec.answer = (q) => (q.path === '/hooks' ? { status: 302, headers: { location: '/elsewhere' } } : 200);
    const { provider } = await platform(rec.url);
    const [id] = await emit(provider.id, 1);
    expect(await dispatcher().drain()).toMatchObject({ attempts: 1, delivered: 0, failed: 1 });
    expect(rec.requests.map((q) => q.path)).toEqual(['/hooks']);
    expect(await attemptLog(id!)).toEqual([expect.objectContaining({ status_code: 302, error: 'HTTP 302: redirects are not followed' })]);
    expect((await deliveries(provider.id))[0]).toMatchObject({ status: 'pending', last_status_code: 302 });
  });

  it('refuses, at delivery time, destinations that are loopback or private when loopback is not allowed', async () => {
    const rec = await receiver();
    const byIp = await platform(rec.url); // registered while loopback was allowed (test configuration)
    const byName = await platform(`http://localhost:${rec.port}/hooks`);
    const privateNet = await platform(rec.url);
    // A URL the registration check would refuse, as if the rules changed after it was stored.
    await tb.db.pool.query(`UPDATE providers SET webhook_url = 'http://10.255.255.1/hooks' WHERE id = $1`, [privateNet.provider.id]);
    const [a] = await emit(byIp.provider.id, 1);
    const [b] = await emit(byName.provider.id, 1);
    const [c] = await emit(privateNet.provider.id, 1);
    const strict = dispatcher({ outbound: { allowLoopback: false }, timeoutMs: 2000 });
    expect(await strict.drain()).toMatchObject({ attempts: 3, delivered: 0, failed: 3 });
    expect(rec.requests).toHaveLength(0);
    expect((await attemptLog(a!))[0]!.error).toBe('destination refused: the host is a loopback address');
    expect((await attemptLog(b!))[0]!.error).toBe('destination refused: the host resolves to a loopback address');
    expect((await attemptLog(c!))[0]!.error).toBe('destination refused: the host is a private, link-local or reserved address');
    // The same deliveries go through where loopback is allowed: the refusal was the policy's.
    advance(6000);
    await strict.stop();
    const lenient = dispatcher({ outbound: { allowLoopback: true }, timeoutMs: 2000 });
    expect(await lenient.drain()).toMatchObject({ delivered: 2, failed: 1 });
    expect(new Set(rec.requests.map((q) => q.headers['webhook-id']))).toEqual(new Set([a, b]));
  });

  it('signs with both secrets during a rotation overlap, and with the new one only after it', async () => {
    const rec = await receiver();
    const { provider, webhookSecret: previous } = await platform(rec.url);
    const { webhookSecret: current } = await rotateWebhookSecret(tb.db.pool, tb.db.ring, provider.id, 3600);
    await emit(provider.id, 1);
    const d = dispatcher();
    await d.drain();
    const during = rec.requests[0]!;
    expect((during.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
    expect(new Webhook(current).verify(during.body, during.headers as Record<string, string>)).toBeTruthy();
    expect(new Webhook(previous).verify(during.body, during.headers as Record<string, string>)).toBeTruthy();

    const { webhookSecret: third } = await rotateWebhookSecret(tb.db.pool, tb.db.ring, provider.id, 0);
    await emit(provider.id, 1);
    await d.drain();
    const after = rec.requests[1]!;
    expect((after.headers['webhook-signature'] as string).split(' ')).toHaveLength(1);
    expect(new Webhook(third).verify(after.body, after.headers as Record<string, string>)).toBeTruthy();
    expect(() => new Webhook(current).verify(after.body, after.headers as Record<string, string>)).toThrow(/No matching signature/);
  });

  it('keeps a delivery whose provider lost its webhook URL pending on the schedule, then dead; a replay after the URL is back delivers it', async () => {
    const rec = await receiver();
    const { provider } = await platform(rec.url);
    const [id] = await emit(provider.id, 1);
    await tb.db.pool.query('UPDATE providers SET webhook_url = NULL WHERE id = $1', [provider.id]);
    const d = dispatcher({ retryDelaysMs: [1000], jitter: 0 });
    await d.drain();
    expect((await deliveries(provider.id))[0]).toMatchObject({ status: 'pending', last_error: 'no webhook URL is set', last_status_code: null });
    advance(1000);
    await d.drain();
    expect((await deliveries(provider.id))[0]).toMatchObject({ status: 'dead', attempts: 2 });
    await expect(replayDelivery(tb.db.pool, provider.id, id!)).rejects.toMatchObject({ code: 'WEBHOOK_URL_NOT_SET' });
    await tb.db.pool.query('UPDATE providers SET webhook_url = $2 WHERE id = $1', [provider.id, rec.url]);
    await replayDelivery(tb.db.pool, provider.id, id!);
    expect(await d.drain()).toMatchObject({ delivered: 1 });
    expect(rec.requests.map((q) => q.headers['webhook-id'])).toEqual([id]);
    expect((await attemptLog(id!)).map((a) => a.error)).toEqual(['no webhook URL is set', 'no webhook URL is set', null]);
  });

  it('disables an endpoint that answers 410 Gone: that delivery and later ones are dead at once, no more requests; setting the URL again and a replay deliver them', async () => {
    const rec = await receiver();
    const { provider, apiKey } = await platform(rec.url);
    // The platform's calls authenticate through a short cache of providers, warm from here on.
    expect((await authenticateApiKey(tb.db.pool, apiKey)).webhookDisabledAt).toBeNull();
    rec.answer = 410;
    const [first] = await emit(provider.id, 1);
    const d = dispatcher();
    expect(await d.drain()).toMatchObject({ attempts: 1, failed: 1, dead: 1 });
    expect((await deliveries(provider.id))[0]).toMatchObject({ status: 'dead', last_status_code: 410 });
    const disabledAt = (await tb.db.pool.query('SELECT webhook_disabled_at FROM providers WHERE id = $1', [provider.id])).rows[0].webhook_disabled_at;
    expect(disabledAt).toBeInstanceOf(Date);
    // The platform's own view (GET /v1/provider, the console) shows it at once, not after the cache's 5 s.
    expect((await authenticateApiKey(tb.db.pool, apiKey)).webhookDisabledAt).toEqual(disabledAt);

    const [second] = await emit(provider.id, 1);
    expect(await d.drain()).toMatchObject({ attempts: 1, dead: 1 });
    expect(rec.requests).toHaveLength(1); // nothing sent to a disabled endpoint
    expect((await attemptLog(second!))[0]!.error).toMatch(/disabled: it answered 410 Gone/);
    await expect(replayDelivery(tb.db.pool, provider.id, first!)).rejects.toMatchObject({ code: 'WEBHOOK_ENDPOINT_DISABLED' });
    await expect(sendTestEvent(tb.db.pool, provider.id)).rejects.toMatchObject({ code: 'WEBHOOK_ENDPOINT_DISABLED' });

    // The platform fixes its endpoint and sets the same URL again: enabled; a replay of the dead ones delivers them.
    rec.answer = 204;
    const updated = await updateProvider(tb.db.pool, { allowLoopback: true }, provider.id, { webhookUrl: rec.url });
    expect(updated.webhookDisabledAt).toBeNull();
    await replayDelivery(tb.db.pool, provider.id, first!);
    await replayDelivery(tb.db.pool, provider.id, second!);
    expect(await d.drain()).toMatchObject({ delivered: 2 });
    expect(new Set(rec.requests.slice(1).map((q) => q.headers['webhook-id']))).toEqual(new Set([first, second]));
  });

  it('disables only the URL that answered 410: a URL set meanwhile stays enabled', async () => {
    const gone = await receiver();
    const next = await receiver();
    const { provider } = await platform(gone.url);
    await updateProvider(tb.db.pool, { allowLoopback: true }, provider.id, { webhookUrl: next.url }); // after the claim read gone.url
    expect(await disableWebhookEndpoint(tb.db.pool, provider.id, gone.url)).toBe(false);
    expect((await tb.db.pool.query('SELECT webhook_disabled_at FROM providers WHERE id = $1', [provider.id])).rows[0].webhook_disabled_at).toBeNull();
    expect(await disableWebhookEndpoint(tb.db.pool, provider.id, next.url)).toBe(true);
    expect(await disableWebhookEndpoint(tb.db.pool, provider.id, next.url)).toBe(false); // once
  });

  it('gives up on an attempt that gets no answer within the timeout, and logs it as a timeout', async () => {
    const rec = await receiver();
    rec.answer = () => ({ status: -1, headers: {} });
    const { provider } = await platform(rec.url);
    const [id] = await emit(provider.id, 1);
    expect(await dispatcher({ timeoutMs: 300 }).drain()).toMatchObject({ failed: 1 });
    const [a] = await attemptLog(id!);
    expect(a).toMatchObject({ status_code: null, error: 'timeout: no answer within 300 ms' });
    expect(a!.duration_ms).toBeGreaterThanOrEqual(250);
  });

  it('claims from a large analysed backlog by each provider\'s range, never by filtering others\' deliveries (migration 0018)', async () => {
    // Providers with nothing due (earlier tests' and two idle ones) beside one with a backlog.
    const rec = await receiver();
    await platform(rec.url);
    await platform(rec.url);
    const busy = await platform(rec.url);
    await emit(busy.provider.id, 20_000);
    await tb.db.pool.query('ANALYZE webhook_deliveries');
    const c = await tb.db.pool.connect();
    try {
      // The hub's named statement is planned for its values at first, then maybe generically.
      for (const mode of ['force_custom_plan', 'force_generic_plan']) {
        await c.query('BEGIN');
        await c.query(`SET LOCAL plan_cache_mode = ${mode}`);
        const nodes = await explainNodes(c, CLAIM_DUE_SQL, [now(), 256, 60_000, 32, []], 'ANALYZE');
        await c.query('ROLLBACK');
        expect(nodes.find((n) => n['Node Type'] === 'ModifyTable')?.['Actual Rows'], mode).toBe(32);
        // The plan 0002's index invited after ANALYZE read every due delivery once per idle provider.
        const removed = nodes.reduce((sum, n) => sum + (n['Rows Removed by Filter'] ?? 0), 0);
        expect(removed, mode).toBeLessThan(100);
        // And the update finds the claimed rows by primary key, not by reading every delivery.
        expect(nodes.filter((n) => n['Relation Name'] === 'webhook_deliveries' && n['Node Type'] === 'Seq Scan'), mode).toEqual([]);
      }
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
  });

  it('claims and records a burst in a young outbox by primary key: the claim is planned per call, never a plan of the empty outbox', async () => {
    // A fresh database: the outbox has never been analysed, as on a new deployment.
    const young = await createTestDatabase();
    const c = await young.pool.connect();
    try {
      const { provider } = await createProvider(young.pool, young.ring, { allowLoopback: true }, { name: platformName(), kind: 'platform', webhookUrl: 'http://127.0.0.1:9/h' });
      // An idle dispatcher claims nothing, over and over: a prepared claim would settle on the plan of an empty outbox.
      for (let i = 0; i < 8; i++) expect(await claimDueDeliveries(c, now(), 256, 60_000, 32)).toEqual([]);
      expect((await c.query(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE '%WITH busy AS%'`)).rows[0].n).toBe(0);
      // Then a burst of 20,000 revocations.
      const refs = Array.from({ length: 20_000 }, (_, i) => `young-${i}`);
      await young.pool.query(
        `INSERT INTO accounts (id, provider_id, account_ref, method, level, status, status_reason, verified_at)
         SELECT gen_random_uuid(), $1, r, 'phone', 'low', 'verified', 'verified', now() FROM unnest($2::text[]) r`,
        [provider.id, refs],
      );
      await young.pool.query(
        `WITH changed AS (UPDATE accounts a SET status = 'revoked', status_reason = 'terminated', sequence = a.sequence + 1, status_since = now()
                          WHERE a.provider_id = $1 RETURNING a.*),${outboxCtes('$2')}
         SELECT count(*) FROM ev`,
        [provider.id, 'account.revoked'],
      );
      tb.advanceTo(Date.now() + 1000); // the new deliveries are due
      // Scans of the two tables and of their indexes (a bitmap index scan names only its index).
      const scans = (nodes: PlanNode[]) => nodes.filter((n) => n['Relation Name'] === 'events' || n['Relation Name'] === 'webhook_deliveries'
        || n['Index Name']?.startsWith('events_') || n['Index Name']?.startsWith('webhook_deliveries_'));
      await c.query('BEGIN');
      const claim = await explainNodes(c, CLAIM_DUE_SQL, [now(), 256, 60_000, 32, []], 'ANALYZE');
      const claimed = (await c.query<{ event_id: string }>(CLAIM_DUE_SQL, [now(), 256, 60_000, 32, []])).rows.map((r) => r.event_id);
      const n = claimed.length;
      const record = await explainNodes(c, RECORD_ATTEMPTS_SQL, [
        claimed, Array(n).fill(provider.id), Array(n).fill(1), Array(n).fill(204), Array(n).fill(null), Array(n).fill(3), Array(n).fill('delivered'), Array(n).fill(now()), Array(n).fill(null),
      ], 'ANALYZE');
      await c.query('ROLLBACK');
      expect(n).toBe(32);
      // Neither reads every event or every pending delivery, in the tables or their indexes (the
      // plans of the empty outbox did: 20,000 rows a batch).
      for (const [what, plan] of [['claim', claim], ['record', record]] as const) {
        const nodes = scans(plan);
        expect(nodes.filter((x) => x['Node Type'] === 'Seq Scan'), what).toEqual([]);
        expect(Math.max(...nodes.map((x) => (x['Node Type'] === 'ModifyTable' ? 0 : x['Actual Rows'] ?? 0))), what).toBeLessThanOrEqual(2 * n);
      }
    } finally {
      await c.query('ROLLBACK').catch(() => undefined);
      c.release();
      await young.drop();
    }
  });

  it('records attempts without touching the platform\'s row (migration 0020)', async () => {
    const rec = await receiver();
    const { provider } = await platform(rec.url);
    const [id] = await emit(provider.id, 1);
    const [claimed] = await claimDueDeliveries(tb.db.pool, now(), 1, 60_000);
    expect(claimed?.event_id).toBe(id);
    // Another transaction holds the platform's row as strongly as PostgreSQL can.
    const holder = await tb.db.pool.connect();
    const writer = await tb.db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM providers WHERE id = $1 FOR UPDATE', [provider.id]);
      await writer.query(`SET lock_timeout = '500ms'`);
      // The attempt log's old foreign key on provider_id waited here for the holder (55P03 after 500 ms).
      await recordAttempts(writer, [{
        eventId: id!, providerId: provider.id, attempt: claimed!.attempts, statusCode: 204, error: null, durationMs: 3, outcome: 'delivered', at: now(), nextAttemptAt: null,
      }]);
      expect(await attemptLog(id!)).toMatchObject([{ attempt: 1, status_code: 204 }]);
      expect((await deliveries(provider.id))[0]).toMatchObject({ status: 'delivered' });
    } finally {
      await holder.query('ROLLBACK');
      await writer.query('RESET lock_timeout');
      holder.release();
      writer.release();
    }
  });

  it('is fair across providers: a hanging endpoint with a backlog takes at most its share of the slots, and another provider is served meanwhile', async () => {
    const hanging = await receiver();
    hanging.answer = () => ({ status: -1, headers: {} }); // never answers: every attempt waits for the timeout
    const healthy = await receiver();
    const slow = await platform(hanging.url);
    const fine = await platform(healthy.url);
    await emit(slow.provider.id, 120); // older: first in line by due time
    const fineIds = await emit(fine.provider.id, 6);
    // A timeout far longer than the healthy deliveries take even on a loaded machine: the hanging
    // provider's first requests are still open when they have all arrived.
    const d = dispatcher({ concurrency: 8, perProviderConcurrency: 3, timeoutMs: 30_000 });
    d.kick();
    await waitUntil(() => healthy.requests.length >= 6, 20_000);
    // The healthy provider's events all arrived while the hanging one's first requests were still open.
    expect(new Set(healthy.requests.map((q) => q.headers['webhook-id']))).toEqual(new Set(fineIds));
    expect(hanging.requests.length).toBeLessThanOrEqual(3);
    expect(hanging.requests.length).toBeGreaterThan(0);
    await hanging.close(); // ends the hanging requests (failures, retried later), so that stopping is quick
    await d.stop();
    // Nothing was lost: what was claimed and not attempted is pending again or was attempted.
    const rows = await deliveries(slow.provider.id);
    expect(rows.filter((r) => r.status === 'pending')).toHaveLength(120);
  });

  it('waits as long as a throttling receiver asks (Retry-After on 429/503), never less than the schedule, and ignores it on other statuses', async () => {
    const rec = await receiver();
    const { provider } = await platform(rec.url);
    const [throttled, dated, plain] = await emit(provider.id, 3);
    const answers: Record<string, { status: number; headers: Record<string, string> }> = {
      [throttled!]: { status: 429, headers: { 'retry-after': '120' } },
      [dated!]: { status: 503, headers: { 'retry-after': new Date(Date.now() + 3600_000).toUTCString() } },
      [plain!]: { status: 500, headers: { 'retry-after': '900' } },
    };
    rec.answer = (q) => answers[q.headers['webhook-id'] as string]!;
    const t0 = tb.clock();
    expect(await dispatcher({ random: () => 0.5 }).drain()).toMatchObject({ attempts: 3, failed: 3 });
    const by = new Map((await deliveries(provider.id)).map((r) => [r.event_id, r]));
    expect(by.get(throttled!)!.next_attempt_at.getTime() - t0).toBe(120_000);
    const datedWait = by.get(dated!)!.next_attempt_at.getTime() - t0;
    expect(datedWait).toBeGreaterThan(3590_000);
    expect(datedWait).toBeLessThanOrEqual(3600_000);
    expect(by.get(plain!)!.next_attempt_at.getTime() - t0).toBe(5_000);
    expect(by.get(throttled!)!.last_status_code).toBe(429);
  });

  it('keeps one pass going through a burst larger than a provider\'s share, without waiting for the interval', async () => {
    const rec = await receiver();
    const { provider } = await platform(rec.url);
    const d = dispatcher({ intervalMs: 60_000, concurrency: 4, perProviderConcurrency: 2 });
    await new Promise((r) => setTimeout(r, 100)); // its first pass found nothing and it sleeps for a minute
    await emit(provider.id, 300);
    d.kick();
    await waitUntil(() => rec.requests.length >= 300, 60_000);
    // A pass that ended while the provider's requests were finishing would leave the rest for the next interval.
    expect(rec.requests).toHaveLength(300);
  });

  it('delivers on a kick without waiting for the interval, and stop() waits for claimed work', async () => {
    const rec = await receiver();
    const { provider } = await platform(rec.url);
    const d = dispatcher({ intervalMs: 60_000 });
    await new Promise((r) => setTimeout(r, 100)); // its first pass found nothing and it sleeps for a minute
    await emit(provider.id, 5);
    d.kick();
    await waitUntil(() => rec.requests.length >= 5, 60_000);
    expect(rec.requests).toHaveLength(5);
    await d.stop();
    expect(d.stats()).toMatchObject({ delivered: 5 });
    expect((await deliveries(provider.id)).every((r) => r.status === 'delivered')).toBe(true);
  });

  it('gathers many kickSoon() calls into one pass within KICK_SOON_MS (other processes\' changes), and delivers', async () => {
    const rec = await receiver();
    const { provider } = await platform(rec.url);
    let claims = 0;
    // The pool as the dispatcher sees it, counting its claim statements.
    const counting = new Proxy(tb.db.pool, {
      get(target, prop, receiverObj) {
        if (prop !== 'query') return Reflect.get(target, prop, receiverObj) as unknown;
        return (config: unknown, values?: unknown) => {
          if ((typeof config === 'string' ? config : (config as { text?: string } | null)?.text) === CLAIM_DUE_SQL) claims++;
          return target.query(config as string, values as unknown[]);
        };
      },
    });
    const d = dispatcher({ pool: counting, intervalMs: 60_000 });
    await waitUntil(() => claims > 0, 60_000, 10); // its first pass: nothing due
    await new Promise((r) => setTimeout(r, 50));
    const before = claims;
    await emit(provider.id, 3);
    // 40 changes heard over about 200 ms (longer on a loaded machine, measured): a kick each
    // would be a pass (a claim or two) each.
    const heardFrom = Date.now();
    for (let i = 0; i < 40; i++) {
      d.kickSoon();
      await new Promise((r) => setTimeout(r, 5));
    }
    const heardMs = Date.now() - heardFrom;
    await waitUntil(() => rec.requests.length >= 3, 60_000, 10);
    expect(rec.requests).toHaveLength(3);
    await new Promise((r) => setTimeout(r, 3 * KICK_SOON_MS));
    // About one pass per KICK_SOON_MS, up to two claims each: 12 for 200 ms (200 ms / 50 ms, and two more passes).
    expect(claims - before).toBeGreaterThan(0);
    expect(claims - before).toBeLessThanOrEqual(2 * (Math.ceil(Math.max(heardMs, 200) / KICK_SOON_MS) + 2));
  });
});
