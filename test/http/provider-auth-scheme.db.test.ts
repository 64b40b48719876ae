/**
 * The `Authorization` header of provider calls as HTTP defines it: the scheme is a
 * case-insensitive token, separated from the credentials by one or more spaces (RFC 9110
 * section 11.1 and 11.4; RFC 6750 section 2.1), so `bearer idbk_...`, which several HTTP
 * clients send, authenticates as `Bearer idbk_...` does. A 401 names the scheme to use in
 * `WWW-Authenticate` (RFC 9110 section 15.5.2: a 401 "MUST send a WWW-Authenticate header
 * field containing at least one challenge"; RFC 6750 section 3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
let key: string;

beforeAll(async () => {
  hub = await startTestHub({ demo: false, listen: false });
  const r = await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: { authorization: `Bearer ${hub.adminToken}` }, payload: { name: 'Scheme Net', kind: 'platform' } });
  expect(r.statusCode, r.body).toBe(201);
  key = r.json().api_key;
});
afterAll(async () => hub.stop());

describe('the Authorization header of a provider call', () => {
  it('takes the Bearer scheme in any case, and more than one space before the key', async () => {
    for (const authorization of [`Bearer ${key}`, `bearer ${key}`, `BEARER ${key}`, `bEaReR ${key}`, `Bearer   ${key}`]) {
      const r = await hub.app.inject({ url: '/v1/accounts/a-1', headers: { authorization } });
      expect(r.statusCode, authorization).toBe(200);
      expect(r.json().status).toBe('unverified');
    }
  });

  it('still refuses another scheme, no space, a key with a space in it, and no header', async () => {
    for (const authorization of [`Basic ${key}`, `Bearer${key}`, `Bearer ${key} x`, `Bearerx ${key}`, undefined]) {
      const r = await hub.app.inject({ url: '/v1/accounts/a-1', headers: authorization === undefined ? {} : { authorization } });
      expect(r.statusCode, authorization).toBe(401);
      expect(r.json().code).toBe('API_KEY_INVALID');
    }
  });

  it('answers a 401 with the Bearer challenge, and no challenge on a 403', async () => {
    for (const headers of [{}, { authorization: 'Bearer idbk_unknown' }]) {
      const r = await hub.app.inject({ url: '/v1/provider', headers });
      expect(r.statusCode).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer\b/);
    }
    const retiring = await hub.app.inject({ method: 'POST', url: '/v1/provider/api-keys', headers: { authorization: `Bearer ${key}` }, payload: { overlap_seconds: 60 } });
    expect(retiring.statusCode).toBe(201);
    const r = await hub.app.inject({ url: '/v1/provider/webhook-secret', headers: { authorization: `Bearer ${key}` } });
    expect(r.statusCode).toBe(403);
    expect(r.headers['www-authenticate']).toBeUndefined();
  });
});
