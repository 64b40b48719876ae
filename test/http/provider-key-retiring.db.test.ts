/**
 * Issue 3 "API credentials ... rotatable with overlap": the overlap lets the old key
 * keep *calling the API* while a deployment rolls. It must not let the retiring key manage the
 * credentials: otherwise whoever holds a key being rotated away (the reason to rotate is often a
 * suspected leak) mints a fresh key of its own and, with overlap 0, kills the new one, or takes
 * the webhook secret and redirects the webhooks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ demo: true, listen: false });
});
afterAll(async () => {
  await t?.stop();
});

async function platform(name: string): Promise<string> {
  const r = await t.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: { authorization: `Bearer ${t.adminToken}` }, payload: { name, kind: 'platform' } });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().api_key;
}
const as = (key: string) => ({ authorization: `Bearer ${key}` });

describe('a key in its rotation overlap', () => {
  it('still calls the API, but cannot rotate the keys: the new key survives', async () => {
    const old = await platform('Overlap Social');
    const rotated = await t.app.inject({ method: 'POST', url: '/v1/provider/api-keys', headers: as(old) });
    expect(rotated.statusCode).toBe(201);
    const fresh = rotated.json().api_key as string;
    // The overlap: the old key still reads.
    expect((await t.app.inject({ url: '/v1/accounts/acct-1', headers: as(old) })).statusCode).toBe(200);
    // The old key tries to take over: a key of its own, the new one ended at once.
    const takeover = await t.app.inject({ method: 'POST', url: '/v1/provider/api-keys', headers: as(old), payload: { overlap_seconds: 0 } });
    expect(takeover.statusCode).toBe(403);
    expect(takeover.headers['content-type']).toContain('application/problem+json');
    expect((await t.app.inject({ url: '/v1/accounts/acct-1', headers: as(fresh) })).statusCode).toBe(200);
  });

  it('cannot read or rotate the webhook secret, nor move the webhook URL', async () => {
    const old = await platform('Overlap Hooks');
    expect((await t.app.inject({ method: 'POST', url: '/v1/provider/api-keys', headers: as(old) })).statusCode).toBe(201);
    expect((await t.app.inject({ url: '/v1/provider/webhook-secret', headers: as(old) })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'POST', url: '/v1/provider/webhook-secrets', headers: as(old) })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'PUT', url: '/v1/provider/webhook', headers: as(old), payload: { url: 'http://127.0.0.1:45999/hook' } })).statusCode).toBe(403);
  });
});
