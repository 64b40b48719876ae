/**
 * The demo relying party (issue 4, demo mode only) against a running hub's OpenID Provider: its
 * start pushes a real authorization request (PAR with PKCE S256, state, nonce, account_ref; the
 * statutory platform asks for profile and phone) and sends the browser to the authorization
 * endpoint, which accepts it; its callback shows an error answered by the provider, refuses a
 * wrong state, a missing or reused session, and an unknown platform.
 *
 * The routes run in their own Fastify instance beside the hub (the hub registers them in demo
 * mode); the hub's public URL is the one the relying party uses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { ensureDemoPlatforms, type DemoPlatform } from '../../src/demo/demo-platforms.ts';
import { demoRelyingPartyRoutes } from '../../src/demo/demo-relying-party.ts';

let hub: TestHub;
let rp: FastifyInstance;
let platforms: DemoPlatform[];

beforeAll(async () => {
  hub = await startTestHub({ publicPort: true });
  platforms = await ensureDemoPlatforms(hub.hub.pool, await hub.hub.ring(), hub.dataDir, hub.url);
  rp = Fastify({ logger: false });
  await rp.register(async (scope) => demoRelyingPartyRoutes(scope, { pool: hub.hub.pool, ring: () => hub.hub.ring(), publicUrl: hub.url, dataDir: hub.dataDir }));
  await rp.ready();
}, 120_000);
afterAll(async () => {
  await rp?.close();
  await hub?.stop();
});

/** The parameters of the last pushed authorization request the provider stored. */
async function lastPushedRequest(): Promise<Record<string, string>> {
  const r = await hub.hub.pool.query<{ payload: { request: string } }>(`SELECT payload FROM oidc_payloads WHERE model = 'PushedAuthorizationRequest' ORDER BY expires_at DESC LIMIT 1`);
  const jwt = r.rows[0]!.payload.request;
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, string>;
}

async function start(slug: string, query = '') {
  const res = await rp.inject({ method: 'GET', url: `/demo/rp/${slug}/start${query}` });
  const cookie = String(res.headers['set-cookie'] ?? '');
  return { res, cookie, cookieValue: cookie.split(';')[0]!, location: String(res.headers.location ?? '') };
}

describe('demo relying party: start', () => {
  it('pushes the authorization request (PKCE S256, state, nonce, account_ref) and sends the browser to the authorization endpoint, which accepts it', async () => {
    const { res, cookie, location } = await start('sen-social', '?account_ref=user-42');
    expect(res.statusCode).toBe(303);
    const url = new URL(location);
    expect(`${url.origin}${url.pathname}`).toBe(`${hub.url}/oidc/auth`);
    const sen = platforms.find((p) => p.name === 'Sen Social')!;
    expect(url.searchParams.get('client_id')).toBe(sen.oidc_client_id);
    expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(cookie).toMatch(/^idbind_demo_rp=[A-Za-z0-9_-]{43}; Path=\/demo\/rp\/sen-social\/; Max-Age=900; HttpOnly; SameSite=Lax$/);

    const pushed = await lastPushedRequest();
    expect(pushed).toMatchObject({
      client_id: sen.oidc_client_id, redirect_uri: `${hub.url}/demo/rp/sen-social/callback`, scope: 'openid', response_type: 'code',
      code_challenge_method: 'S256', account_ref: 'user-42',
    });
    expect(pushed.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pushed.state).toBeTruthy();
    expect(pushed.nonce).toBeTruthy();

    // The provider takes the pushed request and sends the person to the hosted pages.
    const auth = await fetch(url, { redirect: 'manual' });
    expect(auth.status).toBe(303);
    expect(auth.headers.get('location')).toMatch(/^\/verify\/[A-Za-z0-9_-]+$/);
  });

  it('asks for profile and phone for the statutory platform, and makes up an account_ref when none is given', async () => {
    const { res } = await start('lotus-video', '?acr_values=substantial');
    expect(res.statusCode).toBe(303);
    const pushed = await lastPushedRequest();
    expect(pushed.scope).toBe('openid profile phone');
    expect(pushed.acr_values).toBe('substantial');
    expect(pushed.account_ref).toMatch(/^demo-[0-9a-f]{16}$/);
    expect(pushed.client_id).toBe(platforms.find((p) => p.name === 'Lotus Video')!.oidc_client_id);
  });

  it('refuses an unknown platform, a malformed account_ref and an unknown level', async () => {
    expect((await start('mekong-domains')).res.statusCode).toBe(404);
    const bad = await start('sen-social', '?account_ref=' + encodeURIComponent('bad ref!'));
    expect(bad.res.statusCode).toBe(400);
    expect(bad.res.body).toContain('data-testid="rp-error"');
    expect(bad.cookie).toBe('');
    expect((await start('sen-social', '?acr_values=extreme')).res.statusCode).toBe(400);
  });
});

describe('demo relying party: callback', () => {
  it('shows an error answered by the provider (access_denied) once its state is checked, and takes the session only once', async () => {
    const { cookieValue } = await start('sen-social', '?account_ref=user-43');
    const { state } = await lastPushedRequest();
    const query = new URLSearchParams({ error: 'access_denied', error_description: 'the person declined', state: state!, iss: `${hub.url}/oidc` });
    const res = await rp.inject({ method: 'GET', url: `/demo/rp/sen-social/callback?${query}`, headers: { cookie: cookieValue } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/<p data-testid="rp-error"[^>]*><strong>access_denied<\/strong>: the person declined<\/p>/);
    expect(res.body).not.toContain('data-testid="rp-claims"');
    expect(res.headers['set-cookie']).toContain('Max-Age=0');
    expect(res.headers['referrer-policy']).toBe('no-referrer');

    const again = await rp.inject({ method: 'GET', url: `/demo/rp/sen-social/callback?${query}`, headers: { cookie: cookieValue } });
    expect(again.statusCode).toBe(400);
    expect(again.body).toContain('no sign-in in progress');
  });

  it('refuses a wrong state, a missing session, and a session of another platform', async () => {
    const { cookieValue } = await start('sen-social');
    const wrong = new URLSearchParams({ code: 'abc', state: 'not-the-state', iss: `${hub.url}/oidc` });
    const res = await rp.inject({ method: 'GET', url: `/demo/rp/sen-social/callback?${wrong}`, headers: { cookie: cookieValue } });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('data-testid="rp-error"');
    expect(res.body).toContain('state');

    const none = await rp.inject({ method: 'GET', url: `/demo/rp/sen-social/callback?${wrong}` });
    expect(none.statusCode).toBe(400);
    expect(none.body).toContain('no sign-in in progress');

    const other = await start('lotus-video');
    const { state } = await lastPushedRequest();
    const cross = await rp.inject({
      method: 'GET', url: `/demo/rp/sen-social/callback?${new URLSearchParams({ code: 'abc', state: state!, iss: `${hub.url}/oidc` })}`, headers: { cookie: other.cookieValue },
    });
    expect(cross.statusCode).toBe(400);
    expect(cross.body).toContain('no sign-in in progress');
  });

  it('refuses a response from another issuer', async () => {
    const { cookieValue } = await start('sen-social');
    const { state } = await lastPushedRequest();
    const res = await rp.inject({
      method: 'GET', url: `/demo/rp/sen-social/callback?${new URLSearchParams({ error: 'access_denied', state: state!, iss: 'https://evil.example' })}`, headers: { cookie: cookieValue },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('iss');
  });
});
