/**
 * The OpenID Provider mounted at ${publicUrl}/oidc (issue 4), exercised by a real relying party
 * (`openid-client`): discovery advertises pairwise subjects, S256 PKCE, PAR, the levels and the
 * claims; a platform pushes an authorization request with client_secret_basic and is sent to the
 * hosted pages; a wrong secret, a missing or malformed account_ref, a missing PKCE challenge, and
 * a direct request from a client that requires PAR are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
let clientId = '';
let secret = '';
const redirectUri = 'https://platform.example/callback';

async function api(key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${hub.url}${path}`, {
    method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as Record<string, string>;
}

function rp(withSecret = secret): Promise<client.Configuration> {
  return client.discovery(new URL(`${hub.url}/oidc`), clientId, withSecret, client.ClientSecretBasic(withSecret), { execute: [client.allowInsecureRequests] });
}

async function pkce() {
  const verifier = client.randomPKCECodeVerifier();
  return { verifier, challenge: await client.calculatePKCECodeChallenge(verifier) };
}

beforeAll(async () => {
  hub = await startTestHub({ publicPort: true });
  const created = await fetch(`${hub.url}/v1/admin/providers`, {
    method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'RP Platform', kind: 'platform' }),
  });
  const key = ((await created.json()) as { api_key: string }).api_key;
  const oidcClient = await api(key, 'PUT', '/v1/provider/oidc-client', { redirect_uris: [redirectUri] });
  clientId = oidcClient.client_id!;
  secret = oidcClient.client_secret!;
}, 60_000);
afterAll(async () => hub?.stop());

describe('OpenID Provider', () => {
  it('advertises pairwise subjects, S256 PKCE, PAR, the fixed levels and the claims', async () => {
    const config = await rp();
    const m = config.serverMetadata();
    expect(m.issuer).toBe(`${hub.url}/oidc`);
    expect(m.subject_types_supported).toEqual(['pairwise']);
    expect(m.code_challenge_methods_supported).toEqual(['S256']);
    expect(m.pushed_authorization_request_endpoint).toBe(`${hub.url}/oidc/request`);
    expect(m.acr_values_supported).toEqual(['low', 'substantial', 'high']);
    expect(m.claims_supported).toEqual(expect.arrayContaining(['sub', 'acr', 'verified', 'age_over_16', 'age_over_18', 'minor', 'name', 'birthdate', 'phone_number']));
    expect(m.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'private_key_jwt']));
    expect(m.response_types_supported).toEqual(['code']);
    expect(m.authorization_response_iss_parameter_supported).toBe(true);
    const jwks = (await (await fetch(m.jwks_uri!)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('takes a pushed authorization request and sends the browser to the hosted pages', async () => {
    const config = await rp();
    const { challenge } = await pkce();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: redirectUri, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', account_ref: 'user-42', acr_values: 'low',
    });
    expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/verify\/[A-Za-z0-9_-]+$/);
    expect(res.headers.get('set-cookie')).toContain('_interaction=');
  });

  it('refuses a wrong client secret, a missing or malformed account_ref, and a missing PKCE challenge', async () => {
    const { challenge } = await pkce();
    const base = { redirect_uri: redirectUri, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', account_ref: 'user-42' };
    await expect(client.buildAuthorizationUrlWithPAR(await rp('idcs_wrong'), base)).rejects.toMatchObject({ status: 401, cause: [expect.objectContaining({ parameters: expect.objectContaining({ error: 'invalid_client' }) })] });
    const config = await rp();
    const noRef: Record<string, string> = { ...base };
    delete noRef.account_ref;
    await expect(client.buildAuthorizationUrlWithPAR(config, noRef)).rejects.toMatchObject({ error: 'invalid_request' });
    await expect(client.buildAuthorizationUrlWithPAR(config, { ...base, account_ref: 'bad ref!' })).rejects.toMatchObject({ error: 'invalid_request' });
    const noPkce: Record<string, string> = { ...base };
    delete noPkce.code_challenge;
    delete noPkce.code_challenge_method;
    await expect(client.buildAuthorizationUrlWithPAR(config, noPkce)).rejects.toMatchObject({ error: 'invalid_request' });
  });

  it('refuses a direct authorization request from a client that requires PAR', async () => {
    const key = await fetch(`${hub.url}/v1/admin/providers`, {
      method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'PAR Platform', kind: 'platform' }),
    }).then(async (r) => ((await r.json()) as { api_key: string }).api_key);
    const c = await api(key, 'PUT', '/v1/provider/oidc-client', { redirect_uris: [redirectUri], require_par: true });
    const { challenge } = await pkce();
    const direct = new URL(`${hub.url}/oidc/auth`);
    for (const [k, v] of Object.entries({ client_id: c.client_id!, response_type: 'code', redirect_uri: redirectUri, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', account_ref: 'x1' })) {
      direct.searchParams.set(k, v);
    }
    const res = await fetch(direct, { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(redirectUri);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('iss')).toBe(`${hub.url}/oidc`);
  });
});
