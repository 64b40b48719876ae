/**
 * The provider's webhook API over HTTP (Fastify inject) on a real database: the delivery log,
 * replays, the test event and event polling, each route tried with another provider's key too
 * (issue 3: a provider sees only its own events). Deliveries go to real receivers on 127.0.0.1.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { followEvents, startTestHub, type TestHub } from '../support/hub.ts';
import { errorHandler, notFoundHandler } from '../../src/kernel/http/problem.ts';
import { decorateProviderRequest } from '../../src/providers/provider-auth.ts';
import { createProvider } from '../../src/providers/provider-service.ts';
import { outboxCtes } from '../../src/events/outbox.ts';
import { startWebhookDispatcher, type WebhookDispatcher } from '../../src/events/webhook-dispatcher.ts';
import { webhookRoutes } from '../../src/events/webhook-routes.ts';
import { startReceiver, type Receiver } from './webhooks-receiver.ts';

let hub: TestHub;
let app: FastifyInstance;
let dispatcher: WebhookDispatcher;
let recA: Receiver;
let recB: Receiver;
let a: { id: string; key: string; secret: string };
let b: { id: string; key: string; secret: string };
let noUrl: { id: string; key: string };

async function platform(webhookUrl?: string) {
  const c = await createProvider(hub.hub.pool, await hub.hub.ring(), { allowLoopback: true }, { name: platformName(), kind: 'platform', webhookUrl });
  return { id: c.provider.id, key: c.apiKey, secret: c.webhookSecret };
}

// Letters only: a provider name may not hold a run of six digits (it goes into SMS texts).
const platformName = () => `p-${randomBytes(8).toString('hex').replace(/\d/g, (d) => 'ghijklmnop'[Number(d)]!)}`;

let refCounter = 0;
async function emit(providerId: string, n: number): Promise<string[]> {
  const refs = Array.from({ length: n }, () => `acct-${++refCounter}`);
  await hub.hub.pool.query(
    `INSERT INTO accounts (id, provider_id, account_ref, method, level, status, status_reason, verified_at)
     SELECT gen_random_uuid(), $1, r, 'phone', 'low', 'verified', 'verified', now() FROM unnest($2::text[]) r`,
    [providerId, refs],
  );
  const r = await hub.hub.pool.query<{ id: string }>(
    `WITH changed AS (
       UPDATE accounts a SET status = 'revoked', status_reason = 'terminated', sequence = a.sequence + 1, status_since = now()
       WHERE a.provider_id = $1 AND a.account_ref = ANY($2::text[]) RETURNING a.*
     ),${outboxCtes('$3')}
     SELECT id FROM ev ORDER BY id`,
    [providerId, refs, 'account.revoked'],
  );
  return r.rows.map((x) => x.id);
}

const as = (p: { key: string }) => ({ authorization: `Bearer ${p.key}` });

beforeAll(async () => {
  hub = await startTestHub({ listen: false, env: { IDBIND_OUTBOUND_ALLOW_LOOPBACK: '1' } });
  // The hub's own server is not needed here, and none of its background work may touch these rows.
  await hub.app.close();
  // The same wiring as src/server.ts: problem documents, the provider decoration, the routes.
  app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } } });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  decorateProviderRequest(app);
  dispatcher = startWebhookDispatcher({
    pool: hub.hub.pool, ring: () => hub.hub.ring(), outbound: { allowLoopback: hub.hub.config.outboundAllowLoopback }, intervalMs: 0, log: app.log,
    retryDelaysMs: [], // one attempt, then dead: the dead-letter list without waiting
  });
  await app.register(async (scope) => webhookRoutes(scope, { pool: hub.hub.pool, ring: () => hub.hub.ring(), dispatcher }));
  await app.ready();
  recA = await startReceiver();
  recB = await startReceiver();
  a = await platform(recA.url);
  b = await platform(recB.url);
  const n = await platform();
  noUrl = { id: n.id, key: n.key };
});
afterAll(async () => {
  await dispatcher?.stop();
  await app?.close();
  await recA?.close();
  await recB?.close();
  await hub?.stop();
});

describe('authentication and isolation', () => {
  const routes = (eventId: string) => [
    { method: 'GET' as const, url: '/v1/webhooks/deliveries' },
    { method: 'GET' as const, url: `/v1/webhooks/deliveries/${eventId}` },
    { method: 'POST' as const, url: `/v1/webhooks/deliveries/${eventId}/replay` },
    { method: 'POST' as const, url: '/v1/webhooks/replay', payload: { status: 'dead' } },
    { method: 'POST' as const, url: '/v1/webhooks/test' },
    { method: 'GET' as const, url: '/v1/events' },
  ];

  it('refuses every route without a valid provider key', async () => {
    for (const r of routes(randomUUID())) {
      for (const headers of [{}, { authorization: 'Bearer idbk_nope' }]) {
        const res = await app.inject({ ...r, headers });
        expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
        expect(res.json()).toMatchObject({ code: 'API_KEY_INVALID' });
      }
    }
  });

  it("never shows or touches another provider's events: each route with B's key on A's rows is 404 or empty", async () => {
    const [ev] = await emit(a.id, 1);
    await dispatcher.drain();
    const before = (await hub.hub.pool.query('SELECT status, attempts FROM webhook_deliveries WHERE event_id = $1', [ev])).rows[0];
    expect(before).toEqual({ status: 'delivered', attempts: 1 });

    const list = (await app.inject({ url: '/v1/webhooks/deliveries?limit=500', headers: as(b) })).json();
    expect(list.deliveries.map((d: { event_id: string }) => d.event_id)).not.toContain(ev);
    expect((await app.inject({ url: `/v1/webhooks/deliveries/${ev}`, headers: as(b) })).json()).toMatchObject({ status: 404, code: 'WEBHOOK_DELIVERY_NOT_FOUND' });
    expect((await app.inject({ method: 'POST', url: `/v1/webhooks/deliveries/${ev}/replay`, headers: as(b) })).json()).toMatchObject({ code: 'WEBHOOK_DELIVERY_NOT_FOUND' });
    const since = new Date(Date.now() - 3600_000).toISOString();
    expect((await app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: as(b), payload: { since } })).json()).toEqual({ requeued: 0 });
    const events = (await app.inject({ url: '/v1/events?limit=1000', headers: as(b) })).json();
    expect(events.events.map((e: { id: string }) => e.id)).not.toContain(ev);
    // Nothing was re-queued for A by B's calls; A itself sees and can replay it.
    expect((await hub.hub.pool.query('SELECT status, attempts FROM webhook_deliveries WHERE event_id = $1', [ev])).rows[0]).toEqual(before);
    expect((await app.inject({ url: `/v1/webhooks/deliveries/${ev}`, headers: as(a) })).statusCode).toBe(200);
  });
});

describe('the test event', () => {
  it('goes to the provider\'s own endpoint through the delivery path, signed, with no account data', async () => {
    const before = recA.requests.length;
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: as(a) });
    expect(res.statusCode).toBe(202);
    const out = res.json();
    expect(out).toMatchObject({ event_id: expect.any(String), type: 'webhook.test', occurred_at: expect.stringMatching(/Z$/) });
    await dispatcher.drain();
    const got = recA.requests.slice(before);
    expect(got).toHaveLength(1);
    const payload = new Webhook(a.secret).verify(got[0]!.body, got[0]!.headers as Record<string, string>);
    expect(payload).toEqual({ id: out.event_id, type: 'webhook.test', occurred_at: out.occurred_at });
    expect(got[0]!.headers['webhook-id']).toBe(out.event_id);
    expect(recB.requests.filter((q) => q.headers['webhook-id'] === out.event_id)).toEqual([]);
    const d = (await app.inject({ url: `/v1/webhooks/deliveries/${out.event_id}`, headers: as(a) })).json();
    expect(d).toMatchObject({ type: 'webhook.test', status: 'delivered', attempts: 1, event: { type: 'webhook.test' } });
  });

  it('allows 10 test events a minute per provider, then answers 429 WEBHOOK_TEST_RATE_LIMITED with Retry-After; another provider is not affected', async () => {
    const busy = await platform(recA.url);
    // The limit's windows are whole minutes: do not start within 15 s of the next one (13
    // requests, which a loaded machine may take seconds over).
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: as(busy) })).statusCode);
    expect(codes).toEqual([...Array(10).fill(202), 429, 429]);
    const refused = await app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: as(busy) });
    expect(refused.json()).toMatchObject({ code: 'WEBHOOK_TEST_RATE_LIMITED', retry_after: expect.any(Number) });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await hub.hub.pool.query(`SELECT count(*)::int AS n FROM events WHERE provider_id = $1`, [busy.id])).rows[0].n).toBe(10);
    const other = await platform(recA.url);
    expect((await app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: as(other) })).statusCode).toBe(202);
    await dispatcher.drain();
  });

  it('answers WEBHOOK_URL_NOT_SET to a provider without a webhook URL, and writes no event', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: as(noUrl) });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'WEBHOOK_URL_NOT_SET' });
    expect((await hub.hub.pool.query('SELECT count(*)::int AS n FROM events WHERE provider_id = $1', [noUrl.id])).rows[0].n).toBe(0);
  });
});

describe('the delivery log and replays', () => {
  it('lists deliveries newest first with cursor pages, filters the dead-letter list, and shows each attempt', async () => {
    const p = await platform(recA.url);
    const ok = await emit(p.id, 5);
    await dispatcher.drain();
    recA.answer = 500;
    const failing = await emit(p.id, 3);
    await dispatcher.drain();
    recA.answer = 204;

    const pages: { event_id: string; status: string; created_at: string }[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/v1/webhooks/deliveries?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const body = (await app.inject({ url: q, headers: as(p) })).json();
      expect(body.deliveries.length).toBeLessThanOrEqual(3);
      pages.push(...body.deliveries);
      cursor = body.next_cursor;
    } while (cursor);
    expect(pages).toHaveLength(8);
    expect(new Set(pages.map((d) => d.event_id))).toEqual(new Set([...ok, ...failing]));
    const times = pages.map((d) => d.created_at);
    expect([...times].sort().reverse()).toEqual(times);
    expect(pages.slice(0, 3).map((d) => d.event_id).sort()).toEqual([...failing].sort());

    const dead = (await app.inject({ url: '/v1/webhooks/deliveries?status=dead', headers: as(p) })).json();
    expect(dead.deliveries.map((d: { event_id: string }) => d.event_id).sort()).toEqual([...failing].sort());
    expect(dead.deliveries[0]).toMatchObject({ status: 'dead', attempts: 1, last_status_code: 500, last_error: 'HTTP 500', next_attempt_at: null, delivered_at: null });
    expect((await app.inject({ url: '/v1/webhooks/deliveries?status=delivered', headers: as(p) })).json().deliveries).toHaveLength(5);

    const one = (await app.inject({ url: `/v1/webhooks/deliveries/${failing[0]}`, headers: as(p) })).json();
    expect(one).toMatchObject({ event_id: failing[0], type: 'account.revoked', status: 'dead', event: { id: failing[0], type: 'account.revoked', status: 'revoked', sequence: 2 } });
    expect(one.attempt_log).toEqual([{ attempt: 1, status_code: 500, error: 'HTTP 500', duration_ms: expect.any(Number), at: expect.any(String) }]);

    expect((await app.inject({ url: '/v1/webhooks/deliveries?cursor=bm9wZQ', headers: as(p) })).json()).toMatchObject({ status: 400, code: 'WEBHOOK_CURSOR_INVALID' });
    expect((await app.inject({ url: '/v1/webhooks/deliveries?status=lost', headers: as(p) })).json()).toMatchObject({ status: 400, code: 'REQUEST_INVALID' });
    expect((await app.inject({ url: '/v1/webhooks/deliveries/not-a-uuid', headers: as(p) })).json()).toMatchObject({ status: 404, code: 'WEBHOOK_DELIVERY_NOT_FOUND' });
  });

  it('replays one dead delivery with the same webhook-id, and then all the dead ones', async () => {
    const p = await platform(recA.url);
    recA.answer = 503;
    const ids = await emit(p.id, 4);
    await dispatcher.drain();
    recA.answer = 200;
    const before = recA.requests.length;

    const res = await app.inject({ method: 'POST', url: `/v1/webhooks/deliveries/${ids[0]}/replay`, headers: as(p) });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ event_id: ids[0], status: 'pending' });
    await dispatcher.drain();
    expect(recA.requests.slice(before).map((q) => q.headers['webhook-id'])).toEqual([ids[0]]);
    const replayed = (await app.inject({ url: `/v1/webhooks/deliveries/${ids[0]}`, headers: as(p) })).json();
    expect(replayed).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(replayed.attempt_log.map((x: { attempt: number; status_code: number }) => [x.attempt, x.status_code])).toEqual([[1, 503], [2, 200]]);

    const bulk = await app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: as(p), payload: { status: 'dead' } });
    expect(bulk.statusCode).toBe(202);
    expect(bulk.json()).toEqual({ requeued: 3 });
    await dispatcher.drain();
    const seen = recA.requests.slice(before).map((q) => q.headers['webhook-id']);
    expect(seen.sort()).toEqual([...ids].sort());
    expect((await app.inject({ url: '/v1/webhooks/deliveries?status=dead', headers: as(p) })).json().deliveries).toEqual([]);
    for (const q of recA.requests.slice(before)) new Webhook(p.secret).verify(q.body, q.headers as Record<string, string>);
  });

  it('replays a time range of events, delivered ones and ones that never had a delivery included', async () => {
    const p = await platform();
    const early = await emit(p.id, 2); // no webhook URL then: no delivery rows
    await hub.hub.pool.query('UPDATE providers SET webhook_url = $2 WHERE id = $1', [p.id, recB.url]);
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const later = await emit(p.id, 3);
    await dispatcher.drain();
    const before = recB.requests.length;
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: as(p), payload: { since } });
    expect(res.json()).toEqual({ requeued: 3 });
    await dispatcher.drain();
    expect(recB.requests.slice(before).map((q) => q.headers['webhook-id']).sort()).toEqual([...later].sort());

    const all = await app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: as(p), payload: { since: '2020-01-01T00:00:00Z', until: since } });
    expect(all.json()).toEqual({ requeued: 2 });
    await dispatcher.drain();
    expect(recB.requests.slice(before + 3).map((q) => q.headers['webhook-id']).sort()).toEqual([...early].sort());
  });

  it('refuses invalid and too large replays, changing nothing', async () => {
    const p = await platform(recA.url);
    const bad = [{}, { until: '2030-01-01T00:00:00Z' }, { since: '2030-01-02T00:00:00Z', until: '2030-01-01T00:00:00Z' }];
    for (const payload of bad) {
      const res = await app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: as(p), payload });
      expect(res.json(), JSON.stringify(payload)).toMatchObject({ status: 422, code: 'WEBHOOK_REPLAY_INVALID' });
    }
    expect((await app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: as(p), payload: { since: 'yesterday' } })).json()).toMatchObject({ code: 'REQUEST_INVALID' });
    expect((await app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: as(p), payload: { status: 'delivered' } })).json()).toMatchObject({ code: 'REQUEST_INVALID' });
    expect((await app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: as(noUrl), payload: { status: 'dead' } })).json()).toMatchObject({ code: 'WEBHOOK_URL_NOT_SET' });
    expect((await app.inject({ method: 'POST', url: `/v1/webhooks/deliveries/${randomUUID()}/replay`, headers: as(p) })).json()).toMatchObject({ code: 'WEBHOOK_DELIVERY_NOT_FOUND' });

    // 10,001 dead deliveries: one more than a replay takes.
    await hub.hub.pool.query(
      `WITH ev AS (
         INSERT INTO events (id, provider_id, type, payload)
         SELECT gen_random_uuid(), $1, 'webhook.test', '{}'::jsonb FROM generate_series(1, 10001) RETURNING id, provider_id
       )
       INSERT INTO webhook_deliveries (event_id, provider_id, status, attempts) SELECT id, provider_id, 'dead', 8 FROM ev`,
      [p.id],
    );
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: as(p), payload: { status: 'dead' } });
    expect(res.json()).toMatchObject({ status: 422, code: 'WEBHOOK_REPLAY_TOO_LARGE' });
    const counts = (await hub.hub.pool.query(`SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE provider_id = $1 GROUP BY status`, [p.id])).rows;
    expect(counts).toEqual([{ status: 'dead', n: 10001 }]);
    await hub.hub.pool.query(`UPDATE webhook_deliveries SET status = 'delivered' WHERE provider_id = $1`, [p.id]);
  });
});

describe('polling events', () => {
  async function poll(p: { key: string }, after?: string) {
    const res = await app.inject({ url: `/v1/events?limit=2${after ? `&after=${after}` : ''}`, headers: as(p) });
    expect(res.statusCode).toBe(200);
    return res.json() as { events: { id: string; type: string; sequence?: number }[]; next_cursor: string };
  }

  const pollAll = (p: { key: string }, want: number, after?: string) => followEvents((cursor) => poll(p, cursor), want, after);

  it("serves only the provider's own events, in pages, and a cursor that resumes where it stopped", async () => {
    const p = await platform(recA.url);
    const q = await platform(recB.url);
    const mine = await emit(p.id, 5);
    const theirs = await emit(q.id, 2);
    const first = await pollAll(p, 5);
    expect(first.events.map((e) => e.id).sort()).toEqual([...mine].sort());
    expect(first.events.every((e) => e.type === 'account.revoked' && e.sequence === 2)).toBe(true);
    const nothing = await poll(p, first.cursor);
    expect(nothing).toEqual({ events: [], next_cursor: first.cursor });
    const more = await emit(p.id, 1);
    expect((await pollAll(p, 1, first.cursor)).events.map((e) => e.id)).toEqual(more);
    expect((await pollAll(q, 2)).events.map((e) => e.id).sort()).toEqual([...theirs].sort());
    expect((await app.inject({ url: '/v1/events?after=garbage', headers: as(p) })).json()).toMatchObject({ status: 400, code: 'WEBHOOK_CURSOR_INVALID' });
  });

  it('never skips an event committed late by a long transaction', async () => {
    const p = await platform(recA.url);
    const start = await pollAll(p, 0);
    // A long transaction writes an event first and commits last.
    const slow = await hub.hub.pool.connect();
    let lateId: string;
    try {
      await slow.query('BEGIN');
      await slow.query(
        `INSERT INTO accounts (id, provider_id, account_ref, method, level, status, status_reason, verified_at)
         VALUES (gen_random_uuid(), $1, $2, 'phone', 'low', 'verified', 'verified', now())`,
        [p.id, `acct-${++refCounter}`],
      );
      lateId = (await slow.query<{ id: string }>(
        `WITH changed AS (UPDATE accounts a SET status = 'revoked', status_reason = 'terminated', sequence = a.sequence + 1 WHERE a.provider_id = $1 RETURNING a.*),${outboxCtes('$2')}
         SELECT id FROM ev`,
        [p.id, 'account.revoked'],
      )).rows[0]!.id;
      const [quick] = await emit(p.id, 1); // committed while the first is still open
      // The quick event is held back while an older transaction is open: serving it now would
      // move the cursor past the slow one.
      const meanwhile = await poll(p, start.cursor);
      expect(meanwhile.events).toEqual([]);
      await slow.query('COMMIT');
      const after = await pollAll(p, 2, start.cursor);
      expect(after.events.map((e) => e.id)).toEqual([lateId, quick]);
    } finally {
      slow.release();
    }
  });
});

describe('mounted in the server', () => {
  // The real server (src/server.ts), its own dispatcher included: kicked by the test event.
  let real: TestHub;
  let rec: Receiver;
  beforeAll(async () => {
    real = await startTestHub({ listen: false, env: { IDBIND_OUTBOUND_ALLOW_LOOPBACK: '1' } });
    rec = await startReceiver();
  });
  afterAll(async () => {
    await rec?.close();
    await real?.stop();
  });

  it('documents the routes in OpenAPI and delivers a test event through the server\'s dispatcher', async () => {
    const doc = (await real.app.inject('/openapi.json')).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/v1/webhooks/deliveries', '/v1/webhooks/deliveries/{event_id}', '/v1/webhooks/deliveries/{event_id}/replay', '/v1/webhooks/replay', '/v1/webhooks/test', '/v1/events',
    ]));
    const c = await createProvider(real.hub.pool, await real.hub.ring(), { allowLoopback: true }, { name: platformName(), kind: 'platform', webhookUrl: rec.url });
    const res = await real.app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: { authorization: `Bearer ${c.apiKey}` } });
    expect(res.statusCode).toBe(202);
    const deadline = Date.now() + 60_000;
    while (rec.requests.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(rec.requests.map((q) => q.headers['webhook-id'])).toEqual([res.json().event_id]);
    new Webhook(c.webhookSecret).verify(rec.requests[0]!.body, rec.requests[0]!.headers as Record<string, string>);
    let status = '';
    while (status !== 'delivered' && Date.now() < deadline) {
      status = (await real.app.inject({ url: `/v1/webhooks/deliveries/${res.json().event_id}`, headers: { authorization: `Bearer ${c.apiKey}` } })).json().status;
      if (status !== 'delivered') await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe('delivered');
  });
});
