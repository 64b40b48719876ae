/**
 * A platform's OpenID client settings over HTTP (issue 4): the first PUT creates the client and
 * answers its secret once, later reads never show it, bad settings change nothing, rotation
 * answers a new secret, and another provider's key sees only its own client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
const keys: string[] = [];

async function call(key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${hub.url}${path}`, {
    method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

beforeAll(async () => {
  hub = await startTestHub();
  for (const name of ['Client One', 'Client Two']) {
    const res = await fetch(`${hub.url}/v1/admin/providers`, {
      method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, kind: 'platform' }),
    });
    keys.push(((await res.json()) as { api_key: string }).api_key);
  }
});
afterAll(async () => hub.stop());

describe('/v1/provider/oidc-client', () => {
  it('creates, reads, changes and rotates the client, and refuses bad settings without changing anything', async () => {
    const [one, two] = keys as [string, string];
    expect((await call(one, 'GET', '/v1/provider/oidc-client')).body.code).toBe('OIDC_CLIENT_NOT_FOUND');
    const bad = await call(one, 'PUT', '/v1/provider/oidc-client', { redirect_uris: ['http://platform.example/cb'] });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('OIDC_CLIENT_INVALID');
    expect((await call(one, 'GET', '/v1/provider/oidc-client')).status).toBe(404);

    const created = await call(one, 'PUT', '/v1/provider/oidc-client', { redirect_uris: ['https://platform.example/cb'], require_par: true });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ issuer: `${hub.hub.config.publicUrl}/oidc`, require_par: true, token_endpoint_auth_method: 'client_secret_basic' });
    expect(created.body.client_secret).toMatch(/^idcs_/);

    const read = await call(one, 'GET', '/v1/provider/oidc-client');
    expect(read.body.client_id).toBe(created.body.client_id);
    expect(read.body).not.toHaveProperty('client_secret');
    const changed = await call(one, 'PUT', '/v1/provider/oidc-client', { require_par: false });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ require_par: false, redirect_uris: ['https://platform.example/cb'] });
    expect(changed.body).not.toHaveProperty('client_secret');

    const rotated = await call(one, 'POST', '/v1/provider/oidc-client/secret');
    expect(rotated.body.client_secret).toMatch(/^idcs_/);
    expect(rotated.body.client_secret).not.toBe(created.body.client_secret);

    // Another platform sees none of it.
    expect((await call(two, 'GET', '/v1/provider/oidc-client')).status).toBe(404);
    expect((await call(two, 'POST', '/v1/provider/oidc-client/secret')).status).toBe(404);
    expect((await call('idbk_wrong', 'GET', '/v1/provider/oidc-client')).status).toBe(401);
  });
});
