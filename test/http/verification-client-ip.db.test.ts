/**
 * The per-client-IP limit over HTTP (issue 3 "Abuse"): the address is the end user's when the
 * platform sends it (`client_ip`), the one a trusted proxy forwards (IDBIND_TRUST_PROXY), and the
 * TCP peer otherwise, never a forwarded header nobody vouched for. Also what the OpenAPI document
 * says of the verification start and of bulk status.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { many, seedVerificationRegistry } from '../support/verification-fixture.ts';

let behindProxy: TestHub;
let direct: TestHub;

async function platformKey(hub: TestHub, name: string): Promise<Record<string, string>> {
  const r = await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: { authorization: `Bearer ${hub.adminToken}` }, payload: { name, kind: 'platform' } });
  expect(r.statusCode, r.body).toBe(201);
  return { authorization: `Bearer ${r.json().api_key}` };
}

function start(hub: TestHub, auth: Record<string, string>, phone: string, extra: { xff?: string; client_ip?: string } = {}) {
  return hub.app.inject({
    method: 'POST', url: '/v1/verifications',
    headers: { ...auth, 'idempotency-key': randomUUID(), ...(extra.xff ? { 'x-forwarded-for': extra.xff } : {}) },
    payload: { account_ref: `acct-${randomUUID()}`, phone, ...(extra.client_ip ? { client_ip: extra.client_ip } : {}) },
  });
}

beforeAll(async () => {
  const env = { IDBIND_LIMIT_IP_PER_MINUTE: '2', IDBIND_LIMIT_NUMBER_PER_HOUR: '100', IDBIND_LIMIT_NUMBER_PER_DAY: '100' };
  // inject() connects from 127.0.0.1: that is the proxy here.
  behindProxy = await startTestHub({ demo: true, listen: false, env: { ...env, IDBIND_TRUST_PROXY: '127.0.0.1' } });
  direct = await startTestHub({ demo: true, listen: false, env });
  for (const h of [behindProxy, direct]) await seedVerificationRegistry(h.hub.pool, await h.hub.ring());
  // The limit is per minute: keep each test's hits inside one window.
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 10_000) await new Promise((r) => setTimeout(r, left + 100));
});
afterAll(async () => {
  await behindProxy?.stop();
  await direct?.stop();
});

describe('the client address of the per-IP limit', () => {
  it('is the forwarded one behind a trusted proxy: each end user has their own limit', async () => {
    const auth = await platformKey(behindProxy, 'Proxy Social');
    expect((await start(behindProxy, auth, many(0), { xff: '198.51.100.1' })).statusCode).toBe(201);
    expect((await start(behindProxy, auth, many(1), { xff: '198.51.100.1' })).statusCode).toBe(201);
    const third = await start(behindProxy, auth, many(2), { xff: '198.51.100.1' });
    expect(third.statusCode).toBe(429);
    expect(third.json()).toMatchObject({ code: 'RATE_LIMITED', limit: 'client_ip' });
    expect((await start(behindProxy, auth, many(3), { xff: '198.51.100.2' })).statusCode).toBe(201);
  });

  it('is the one the platform sends as client_ip, which must be an IP address', async () => {
    const auth = await platformKey(behindProxy, 'Vouching Social');
    // Another /64 is another client; an address of the same /64 is the same one (client-network.ts).
    for (const phone of [many(4), many(5)]) expect((await start(behindProxy, auth, phone, { client_ip: '2001:db8::7' })).statusCode).toBe(201);
    expect((await start(behindProxy, auth, many(6), { client_ip: '2001:db8::7' })).json()).toMatchObject({ code: 'RATE_LIMITED', limit: 'client_ip' });
    expect((await start(behindProxy, auth, many(6), { client_ip: '2001:db8:0:1::8' })).statusCode).toBe(201);
    const bad = await start(behindProxy, auth, many(7), { client_ip: 'somewhere' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).not.toContain('somewhere');
  });

  it('is taken from a resend\'s optional body too, checked as the start\'s', async () => {
    const auth = await platformKey(behindProxy, 'Resending Social');
    const started = await start(behindProxy, auth, many(12), { client_ip: '192.0.2.44' });
    expect(started.statusCode).toBe(201);
    const id = started.json().id;
    await behindProxy.hub.pool.query(`UPDATE verifications SET last_sent_at = now() - interval '31 seconds' WHERE id = $1`, [id]);
    const resend = (payload?: unknown) => behindProxy.app.inject({ method: 'POST', url: `/v1/verifications/${id}/resend`, headers: auth, ...(payload === undefined ? {} : { payload: payload as object }) });
    for (const bad of [{ client_ip: 'here' }, { client_ip: 7 }, { other: 1 }]) {
      const r = await resend(bad);
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ code: 'REQUEST_INVALID' });
    }
    // The address has used one of its two starts: the resend takes the second, then it is full.
    expect((await resend({ client_ip: '192.0.2.44' })).statusCode).toBe(200);
    expect((await start(behindProxy, auth, many(13), { client_ip: '192.0.2.44' })).json()).toMatchObject({ code: 'RATE_LIMITED', limit: 'client_ip' });
  });

  it('ignores X-Forwarded-For when no proxy is trusted: the header cannot pick a fresh limit', async () => {
    const auth = await platformKey(direct, 'Direct Social');
    expect((await start(direct, auth, many(8), { xff: '198.51.100.1' })).statusCode).toBe(201);
    expect((await start(direct, auth, many(9), { xff: '198.51.100.2' })).statusCode).toBe(201);
    const third = await start(direct, auth, many(10), { xff: '198.51.100.3' });
    expect(third.json()).toMatchObject({ code: 'RATE_LIMITED', limit: 'client_ip' });
    // Another platform from the same address has a limit of its own.
    const other = await platformKey(direct, 'Direct Other');
    expect((await start(direct, other, many(11))).statusCode).toBe(201);
  });
});

describe('the OpenAPI document', () => {
  it('marks the start\'s Idempotency-Key required, and names both media types of bulk status with the JSON limit', async () => {
    const doc = (await direct.app.inject('/openapi.json')).json();
    const params = doc.paths['/v1/verifications'].post.parameters as { name: string; in: string; required?: boolean }[];
    expect(params.find((p) => p.in === 'header' && p.name === 'idempotency-key')).toMatchObject({ required: true });
    expect(doc.paths['/v1/verifications'].post.requestBody.content['application/json'].schema.properties.client_ip).toBeDefined();
    const bulk = doc.paths['/v1/accounts/status'].post;
    expect(Object.keys(bulk.requestBody.content).sort()).toEqual(['application/json', 'application/x-ndjson']);
    expect(bulk.requestBody.content['application/json'].schema.properties.account_refs.maxItems).toBe(10_000);
    expect(Object.keys(bulk.responses['200'].content).sort()).toEqual(['application/json', 'application/x-ndjson']);
  });
});
