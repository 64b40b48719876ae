/**
 * Webhook checks that a hand-made mutation review of issue 3 found no test failing for:
 * `webhook-timestamp` is the attempt's time, not the event's (a timestamp taken from the stored
 * payload passed every test, the events being seconds old), and IPv6 link-local and other
 * non-public IPv6 webhook destinations are refused, at registration and at delivery (dropping
 * fe80::/10 from the refused ranges passed every test, which tried IPv4 ranges and ::1 only).
 */
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { createProvider, updateProvider } from '../../src/providers/provider-service.ts';
import { platformName, webhookTestbed } from './webhooks-testbed.ts';

const tb = webhookTestbed();

describe('webhook-timestamp', () => {
  // Kills: the timestamp taken from the event (its payload's occurred_at) instead of the attempt's clock.
  it("is the attempt's time for an event written an hour ago, and the reference library verifies it", async () => {
    const rec = await tb.receiver();
    const { provider, webhookSecret } = await tb.platform(rec.url);
    const [id] = await tb.emit(provider.id, 1);
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    await tb.db.pool.query(`UPDATE events SET payload = jsonb_set(payload, '{occurred_at}', to_jsonb($2::text)) WHERE id = $1`, [id, hourAgo]);
    expect(await tb.dispatcher().drain()).toMatchObject({ delivered: 1 });
    expect(rec.requests).toHaveLength(1);
    const q = rec.requests[0]!;
    expect(JSON.parse(q.body).occurred_at).toBe(hourAgo);
    expect(Math.abs(Number(q.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(new Webhook(webhookSecret).verify(q.body, q.headers as Record<string, string>)).toMatchObject({ id });
  });
});

describe('IPv6 webhook destinations that are not public', () => {
  const refused = [
    'https://[fe80::1]/hook', // link-local
    'https://[fe80::a9fe:a9fe]/hook',
    'https://[fd00::1]/hook', // unique local
    'https://[::ffff:169.254.169.254]/hook', // IPv4-mapped link-local (cloud metadata)
    'https://[::ffff:10.0.0.1]/hook', // IPv4-mapped private
    'https://[64:ff9b::a9fe:a9fe]/hook', // NAT64 of 169.254.169.254
  ];

  // Kills: fe80::/10 dropped from the refused IPv6 ranges (kernel/http/outbound-http.ts FORBIDDEN).
  it('are refused when a provider is created or its URL is set, even where loopback is allowed', async () => {
    for (const url of refused) {
      await expect(createProvider(tb.db.pool, tb.db.ring, { allowLoopback: true }, { name: platformName(), kind: 'platform', webhookUrl: url }), url)
        .rejects.toMatchObject({ code: 'WEBHOOK_URL_REFUSED' });
    }
    const { provider } = await createProvider(tb.db.pool, tb.db.ring, { allowLoopback: true }, { name: platformName(), kind: 'platform' });
    for (const url of refused) {
      await expect(updateProvider(tb.db.pool, { allowLoopback: true }, provider.id, { webhookUrl: url }), url).rejects.toMatchObject({ code: 'WEBHOOK_URL_REFUSED' });
    }
  });

  it('are refused at delivery time, without a request, for a URL stored before the rule (logged as refused)', async () => {
    const rec = await tb.receiver();
    const { provider } = await tb.platform(rec.url);
    await tb.db.pool.query('UPDATE providers SET webhook_url = $2 WHERE id = $1', [provider.id, 'https://[fe80::1]/hook']);
    const [id] = await tb.emit(provider.id, 1);
    expect(await tb.dispatcher().drain()).toMatchObject({ attempts: 1, delivered: 0, failed: 1 });
    const log = await tb.db.pool.query<{ status_code: number | null; error: string }>('SELECT status_code, error FROM webhook_attempts WHERE event_id = $1', [id]);
    expect(log.rows).toEqual([{ status_code: null, error: expect.stringMatching(/^destination refused: .*link-local/) }]);
    expect(rec.requests).toHaveLength(0);
  });
});
