/**
 * The demo relying party (issue 4, demo mode only) against a running hub's OpenID Provider: its
 * start pushes a real authorization request (PAR with PKCE S256, state, nonce, account_ref; the
 * statutory platform asks for profile and phone) and sends the browser to the authorization
 * endpoint, which accepts it; a person verified on the hosted pages comes back to its callback,
 * which exchanges the code and shows the ID token's claims (statutory ones after consent); its
 * callback shows an error answered by the provider, and refuses a wrong state, a wrong issuer, a
 * missing, reused or cross-platform session, and an unknown platform.
 *
 * The routes run in their own Fastify instance beside the hub (the hub registers them in demo
 * mode); the hub's public URL is the one the relying party uses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { N, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { CookieJar } from '../../src/demo/test-eid/test-eid-browser.ts';
import { startReconciliation } from '../../src/registry/reconciliation/reconciliation-service.ts';
import { ensureDemoPlatforms, type DemoPlatform } from '../../src/demo/demo-platforms.ts';
import { demoRelyingPartyRoutes } from '../../src/demo/demo-relying-party.ts';

let hub: TestHub;
let rp: FastifyInstance;
let platforms: DemoPlatform[];

beforeAll(async () => {
  hub = await startTestHub({ demo: true, publicPort: true });
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  await (await startReconciliation(hub.hub.pool, await hub.hub.ring(), 'test')).done;
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

/** The person's browser on the hub: follows redirects to the hosted pages, talks to the flow's API. */
class Browser {
  jar = new CookieJar();

  async fetch(url: URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(url, res.headers.getSetCookie());
    return res;
  }

  /** Follows redirects until the hosted page (`uid`) or the demo platform's callback (`callback`). */
  async go(start: string, slug: string): Promise<{ uid?: string; callback?: URL }> {
    let url = new URL(start, hub.url);
    for (let hop = 0; hop < 10; hop++) {
      if (url.pathname === `/demo/rp/${slug}/callback`) return { callback: url };
      const m = /^\/verify\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      if (m) return { uid: m[1]! };
      const res = await this.fetch(url);
      await res.arrayBuffer();
      if (res.status < 300 || res.status >= 400) throw new Error(`${url.pathname} answered ${res.status}`);
      url = new URL(res.headers.get('location')!, url);
    }
    throw new Error('too many redirects');
  }

  async api(uid: string, path = '', body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await this.fetch(new URL(`/verify/${uid}/api${path}`, hub.url), body === undefined
      ? {}
      : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
}

async function lastCode(phone: string): Promise<string> {
  const r = await hub.app.inject({ url: `/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}` });
  const messages = r.json() as { text: string }[];
  return /\b\d{6}\b/.exec(messages.at(-1)!.text)![0];
}

/** Start at the demo platform, verify by phone on the hosted pages (agreeing to a consent if asked), back to the callback. */
async function signIn(slug: string, accountRef: string, phone: string) {
  const started = await start(slug, `?account_ref=${accountRef}`);
  const browser = new Browser();
  const { uid } = await browser.go(started.location, slug);
  expect(uid).toBeTruthy();
  const sent = await browser.api(uid!, '/phone', { phone });
  expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  let done = await browser.api(uid!, '/phone/confirm', { code: await lastCode(phone) });
  if (done.body.stage === 'consent') done = await browser.api(uid!, '/consent', { agree: true });
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  expect(done.body.redirect_url, JSON.stringify(done.body)).toBeTypeOf('string');
  const { callback } = await browser.go(String(done.body.redirect_url), slug);
  expect(callback).toBeTruthy();
  return rp.inject({ method: 'GET', url: `${callback!.pathname}${callback!.search}`, headers: { cookie: started.cookieValue } });
}

function claimsOf(html: string): Record<string, unknown> {
  const m = /<pre data-testid="rp-claims"[^>]*>([\s\S]*?)<\/pre>/.exec(html);
  expect(m, 'the claims are shown').toBeTruthy();
  const text = m![1]!.replace(/&#(\d+);/g, (_c, n: string) => String.fromCharCode(Number(n)));
  return JSON.parse(text) as Record<string, unknown>;
}

async function pseudonymOf(platform: string, accountRef: string): Promise<unknown> {
  const key = platforms.find((p) => p.name === platform)!.api_key;
  const r = await fetch(`${hub.url}/v1/accounts/${accountRef}`, { headers: { authorization: `Bearer ${key}` } });
  return ((await r.json()) as { pseudonym: unknown }).pseudonym;
}

describe('demo relying party: a person signs in', () => {
  it('Sen Social (minimal): the callback exchanges the code and shows the minimal claims; sub is the account\'s pseudonym', async () => {
    const res = await signIn('sen-social', 'sen-user-1', N.adult2);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain('Sen Social (demo) — đã đăng nhập / signed in');
    expect(res.body).not.toContain('data-testid="rp-error"');
    const claims = claimsOf(res.body);
    expect(claims).toMatchObject({ iss: `${hub.url}/oidc`, aud: platforms.find((p) => p.name === 'Sen Social')!.oidc_client_id, acr: 'low', verified: true, age_over_16: true, age_over_18: true, minor: false });
    expect(claims).not.toHaveProperty('name');
    expect(claims).not.toHaveProperty('phone_number');
    expect(claims.sub).toBe(await pseudonymOf('Sen Social', 'sen-user-1'));
    expect(res.body).toContain('<code data-testid="rp-account-ref">sen-user-1</code>');
  });

  it('Lotus Video (statutory): after the consent, name, birthdate and phone_number are shown too', async () => {
    const res = await signIn('lotus-video', 'lotus-user-1', N.adult3);
    expect(res.statusCode, res.body).toBe(200);
    const claims = claimsOf(res.body);
    expect(claims).toMatchObject({ acr: 'low', verified: true, minor: false, phone_number: N.adult3 });
    expect(claims.name).toBeTypeOf('string');
    expect(claims.birthdate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const k of ['name', 'birthdate', 'phone_number']) expect(res.body).toContain(`<code>${k}</code>`);
    expect(claims.sub).toBe(await pseudonymOf('Lotus Video', 'lotus-user-1'));
  });
});
