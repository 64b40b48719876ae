/**
 * Issue 3 "Abuse: rate limits ... per client IP": the per-IP bucket must count one
 * client once, whatever the textual form of its address, and an IPv6 client by its /64 (the
 * smallest block a subscriber is given: one end user holds 2^64 addresses and can take a fresh
 * one per request).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { many, seedVerificationRegistry } from '../support/verification-fixture.ts';

let t: TestHub;

async function platformKey(name: string): Promise<Record<string, string>> {
  const r = await t.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: { authorization: `Bearer ${t.adminToken}` }, payload: { name, kind: 'platform' } });
  expect(r.statusCode, r.body).toBe(201);
  return { authorization: `Bearer ${r.json().api_key}` };
}

function start(auth: Record<string, string>, phone: string, clientIp: string) {
  return t.app.inject({
    method: 'POST', url: '/v1/verifications', headers: { ...auth, 'idempotency-key': randomUUID() },
    payload: { account_ref: `acct-${randomUUID()}`, phone, client_ip: clientIp },
  });
}

beforeAll(async () => {
  t = await startTestHub({ demo: true, listen: false, env: { IDBIND_LIMIT_IP_PER_MINUTE: '2', IDBIND_LIMIT_NUMBER_PER_HOUR: '100', IDBIND_LIMIT_NUMBER_PER_DAY: '100' } });
  await seedVerificationRegistry(t.hub.pool, await t.hub.ring());
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 10_000) await new Promise((r) => setTimeout(r, left + 100));
});
afterAll(async () => {
  await t?.stop();
});

describe('the per-client-IP limit', () => {
  it('counts one IPv6 address once, however it is written', async () => {
    const auth = await platformKey('Forms Social');
    expect((await start(auth, many(0), '2001:db8::7')).statusCode).toBe(201);
    expect((await start(auth, many(1), '2001:DB8:0:0:0:0:0:7')).statusCode).toBe(201);
    const third = await start(auth, many(2), '2001:0db8::0007');
    expect(third.json()).toMatchObject({ code: 'RATE_LIMITED', limit: 'client_ip' });
  });

  it('counts an IPv4 client once, in its IPv4-mapped IPv6 form too', async () => {
    const auth = await platformKey('Mapped Social');
    expect((await start(auth, many(3), '192.0.2.10')).statusCode).toBe(201);
    expect((await start(auth, many(4), '::ffff:192.0.2.10')).statusCode).toBe(201);
    const third = await start(auth, many(5), '::ffff:c000:20a');
    expect(third.json()).toMatchObject({ code: 'RATE_LIMITED', limit: 'client_ip' });
  });

  it('counts an IPv6 client by its /64: fresh addresses of one subscriber do not get fresh limits', async () => {
    const auth = await platformKey('Prefix Social');
    expect((await start(auth, many(6), '2001:db8:1:2::1')).statusCode).toBe(201);
    expect((await start(auth, many(7), '2001:db8:1:2::2')).statusCode).toBe(201);
    const third = await start(auth, many(8), '2001:db8:1:2:abcd:ef01:2345:6789');
    expect(third.json()).toMatchObject({ code: 'RATE_LIMITED', limit: 'client_ip' });
    // Another /64 is another client.
    expect((await start(auth, many(9), '2001:db8:1:3::1')).statusCode).toBe(201);
  });
});
