/**
 * Webhook delivery under races (adversarial review of issue 3 "Webhooks"): replays, URL and
 * secret changes and other processes acting while a delivery is in flight. Real PostgreSQL, real
 * HTTP receivers on 127.0.0.1, the dispatcher's scheduling clock moved forward instead of waiting.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { rotateWebhookSecret, updateProvider, webhookSecrets } from '../../src/providers/provider-service.ts';
import { replayDeliveries, replayDelivery } from '../../src/events/webhook-service.ts';
import { claimDueDeliveries, recordAttempts, type AttemptResult } from '../../src/events/webhook-repository.ts';
import { waitUntil, webhookTestbed } from './webhooks-testbed.ts';

const tb = webhookTestbed();
const { receiver, dispatcher, platform, emit, advance } = tb;

async function delivery(eventId: string) {
  const r = await tb.db.pool.query<{ status: string; attempts: number; next_attempt_at: Date; schedule_start: number }>(
    'SELECT status, attempts, next_attempt_at, schedule_start FROM webhook_deliveries WHERE event_id = $1',
    [eventId],
  );
  return r.rows[0]!;
}

describe('replays while a delivery is in flight', () => {
  // The hub's loop works as drain() does: a pass waits for its requests in flight before the
  // kick of a replay starts the next one, so an attempt hanging until its timeout ends (and is
  // recorded) before the replayed delivery is claimed again.
  it('keeps a replay made while the last attempt of the schedule is in flight: that attempt failing does not dead-letter it', async () => {
    const rec = await receiver();
    rec.answer = () => (rec.requests.length === 1 ? -1 : 204); // the first request never gets an answer
    const { provider } = await platform(rec.url);
    const [id] = await emit(provider.id, 1);
    // A schedule of one attempt: the first failure is the last. The attempt's timeout is the
    // window in which the replay below must be made: wide enough for a loaded machine.
    const d = dispatcher({ retryDelaysMs: [], timeoutMs: 3000 });
    const drained = d.drain();
    await waitUntil(() => rec.requests.length === 1, 60_000);
    expect(rec.requests).toHaveLength(1);
    // The platform replays the event while that attempt is still waiting for an answer.
    expect(await replayDelivery(tb.db.pool, provider.id, id!)).toEqual({ event_id: id, status: 'pending' });
    await drained;
    // The replay, accepted after the attempt began, stands: the event is sent again and delivered.
    expect(await delivery(id!)).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(rec.requests.map((q) => q.headers['webhook-id'])).toEqual([id, id]);
  });

  it('keeps a bulk replay by time range made while a failing attempt is in flight: the delivery is due at once, not on the old schedule', async () => {
    const rec = await receiver();
    rec.answer = () => (rec.requests.length === 1 ? -1 : 204);
    const { provider } = await platform(rec.url);
    const [id] = await emit(provider.id, 1);
    const d = dispatcher({ retryDelaysMs: [10 * 3600_000], timeoutMs: 3000 }); // the window for the replay
    const drained = d.drain();
    await waitUntil(() => rec.requests.length === 1, 60_000);
    // Replayed by time range while the first attempt hangs.
    expect(await replayDeliveries(tb.db.pool, provider.id, { since: new Date(Date.now() - 60_000).toISOString() })).toEqual({ requeued: 1 });
    await drained;
    // Sent again at once (the replay), not in 10 hours (the failed attempt's schedule).
    expect(await delivery(id!)).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(rec.requests).toHaveLength(2);
  });
});

describe('an attempt that outlives its lease', () => {
  it('marks delivered a dead-lettered delivery whose stale attempt then succeeds: the receiver has the event, so it is not on the dead-letter list', async () => {
    const rec = await receiver();
    const { provider } = await platform(rec.url);
    const [id] = await emit(provider.id, 1);
    const t0 = new Date();
    const [first] = await claimDueDeliveries(tb.db.pool, t0, 1, 1000);
    expect(first).toMatchObject({ event_id: id, attempts: 1 });
    // Its lease runs out while it hangs; another pass claims the delivery again, and that attempt,
    // the schedule's last, fails: the delivery is dead-lettered.
    const [second] = await claimDueDeliveries(tb.db.pool, new Date(t0.getTime() + 5000), 1, 1000);
    expect(second).toMatchObject({ event_id: id, attempts: 2 });
    const result = (attempt: number, outcome: AttemptResult['outcome'], statusCode: number | null): AttemptResult => ({
      eventId: id!, providerId: provider.id, attempt, statusCode, error: outcome === 'delivered' ? null : 'http_503', durationMs: 5, at: new Date(), outcome, nextAttemptAt: null,
    });
    await recordAttempts(tb.db.pool, [result(2, 'dead', 503)]);
    expect(await delivery(id!)).toMatchObject({ status: 'dead' });
    // Then the first attempt's answer arrives: a 2xx. The receiver has the event.
    await recordAttempts(tb.db.pool, [result(1, 'delivered', 204)]);
    expect(await delivery(id!)).toMatchObject({ status: 'delivered' });
    // A stale failure never revives or re-kills anything: the delivered state stands.
    await recordAttempts(tb.db.pool, [result(1, 'dead', 503)]);
    expect(await delivery(id!)).toMatchObject({ status: 'delivered' });
  });
});

describe('a hanging endpoint and events that arrive meanwhile', () => {
  const HANGING_TIMEOUT_MS = 30_000;
  const AT_ONCE_MS = 10_000;
  // Another platform's event committed while the hanging endpoint's requests wait for their
  // timeout: the kick of its binding must start its delivery at once, not after that timeout.
  // The timeout is long (30 s) and the bound on "at once" (10 s) well under it, so that a loaded
  // machine's slow start of a delivery is not taken for a wait for the timeout.
  for (const [label, backlog] of [['a few requests in flight (fewer than its share)', 2], ['a backlog beyond its share', 12]] as const) {
    it(`delivers another provider's new event at once while a hanging endpoint has ${label}`, async () => {
      const hanging = await receiver();
      hanging.answer = -1;
      const healthy = await receiver();
      const slow = await platform(hanging.url);
      const fine = await platform(healthy.url);
      const d = dispatcher({ concurrency: 8, perProviderConcurrency: 3, timeoutMs: HANGING_TIMEOUT_MS, intervalMs: 60_000 });
      await new Promise((r) => setTimeout(r, 100)); // its first pass found nothing
      await emit(slow.provider.id, backlog);
      d.kick();
      await waitUntil(() => hanging.requests.length === Math.min(backlog, 3), 20_000);
      expect(hanging.requests).toHaveLength(Math.min(backlog, 3));
      // Now the healthy platform's account changes, and this process kicks its dispatcher.
      const started = Date.now();
      const [id] = await emit(fine.provider.id, 1);
      d.kick();
      await waitUntil(() => healthy.requests.length >= 1, AT_ONCE_MS);
      expect(healthy.requests.map((q) => q.headers['webhook-id'])).toEqual([id]);
      // Well before the hanging requests' timeout.
      expect(Date.now() - started).toBeLessThan(AT_ONCE_MS);
      await hanging.close(); // ends the hanging requests, so that stopping the dispatcher is quick
    });
  }

  it('delivers another provider\'s new event at once while two hanging endpoints have backlogs (their shares fill every slot)', async () => {
    const h1 = await receiver();
    h1.answer = -1;
    const h2 = await receiver();
    h2.answer = -1;
    const healthy = await receiver();
    const a = await platform(h1.url);
    const b = await platform(h2.url);
    const fine = await platform(healthy.url);
    // The default share: half the slots each, so two hanging providers could hold all of them.
    const d = dispatcher({ concurrency: 8, timeoutMs: HANGING_TIMEOUT_MS, intervalMs: 60_000 });
    await new Promise((r) => setTimeout(r, 100));
    await emit(a.provider.id, 20);
    await emit(b.provider.id, 20);
    d.kick();
    await waitUntil(() => h1.requests.length + h2.requests.length >= 7, 20_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(h1.requests.length + h2.requests.length).toBeGreaterThanOrEqual(7);
    const started = Date.now();
    const [id] = await emit(fine.provider.id, 1);
    d.kick();
    await waitUntil(() => healthy.requests.length >= 1, AT_ONCE_MS);
    expect(healthy.requests.map((q) => q.headers['webhook-id'])).toEqual([id]);
    expect(Date.now() - started).toBeLessThan(AT_ONCE_MS);
    await h1.close();
    await h2.close();
  });

  it("delivers another process's new event by the next poll, not after a hanging endpoint's timeout", async () => {
    const hanging = await receiver();
    hanging.answer = -1;
    const healthy = await receiver();
    const slow = await platform(hanging.url);
    const fine = await platform(healthy.url);
    const d = dispatcher({ concurrency: 8, perProviderConcurrency: 3, timeoutMs: HANGING_TIMEOUT_MS, intervalMs: 200 });
    await emit(slow.provider.id, 2);
    d.kick();
    await waitUntil(() => hanging.requests.length === 2, 20_000);
    expect(hanging.requests).toHaveLength(2);
    // A change committed by another process (no kick here: with the status cache off, the poll finds it).
    const started = Date.now();
    const [id] = await emit(fine.provider.id, 1);
    await waitUntil(() => healthy.requests.length >= 1, AT_ONCE_MS);
    expect(healthy.requests.map((q) => q.headers['webhook-id'])).toEqual([id]);
    // Within a few poll intervals, not after the hanging requests' timeout.
    expect(Date.now() - started).toBeLessThan(AT_ONCE_MS);
    await hanging.close();
  });
});

describe('secret rotation', () => {
  it('leaves one live secret after two rotations without overlap made at the same time (a client repeating a rotation that timed out)', async () => {
    const rec = await receiver();
    const { provider } = await platform(rec.url);
    for (let round = 0; round < 5; round++) {
      const rotated = await Promise.all([0, 1, 2].map(() => rotateWebhookSecret(tb.db.pool, tb.db.ring, provider.id, 0)));
      const live = await webhookSecrets(tb.db.pool, tb.db.ring, provider.id);
      // Only the last rotation's secret signs: each rotation expires every other secret at once.
      expect(live).toHaveLength(1);
      expect(rotated.map((r) => r.webhookSecret)).toContain(live[0]);
    }
  });
});

/** An endpoint that holds every request until release(status) answers them all. */
async function heldEndpoint() {
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => held.push(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    held,
    release(status: number) {
      for (const res of held.splice(0)) res.writeHead(status).end();
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

describe('the webhook URL changed while a delivery is in flight', () => {
  it('retries at the new URL a delivery whose request to the replaced URL answers 410 Gone, instead of dead-lettering it', async () => {
    const old = await heldEndpoint();
    const next = await receiver();
    const { provider } = await platform(old.url);
    const [id] = await emit(provider.id, 1);
    const d = dispatcher({ random: () => 0.5 });
    const drained = d.drain();
    await waitUntil(() => old.held.length === 1, 60_000);
    // The platform moves its endpoint, and the old one now answers that it is gone.
    await updateProvider(tb.db.pool, { allowLoopback: true }, provider.id, { webhookUrl: next.url });
    old.release(410);
    await drained;
    await old.close();
    // The 410 spoke for the replaced URL only: the provider's endpoint stays enabled, and the
    // delivery is retried (at the URL the provider has now), not dead.
    expect((await tb.db.pool.query('SELECT webhook_disabled_at FROM providers WHERE id = $1', [provider.id])).rows[0].webhook_disabled_at).toBeNull();
    expect(await delivery(id!)).toMatchObject({ status: 'pending', attempts: 1 });
    advance(5000);
    await d.drain();
    expect(await delivery(id!)).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(next.requests.map((q) => q.headers['webhook-id'])).toEqual([id]);
  });
});
