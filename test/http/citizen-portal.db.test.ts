/**
 * The citizen portal (issue 5 "The person's own view") over HTTP against a running hub: the
 * portal signs the person in through the hub's own OpenID Provider and hosted verification (by
 * phone at `low`, with the SIM-change window; by a local upstream eID at `substantial`), binds
 * nothing, and serves `/v1/me`: accounts (unbind: the platform gets account.unbound), SIMs
 * (report: the carrier's action list gets REPORTED_BY_HOLDER), consents (withdraw), the access
 * history by level, disclosures and the export (substantial only), sessions (sign-out, idle).
 *
 * The portal's routes run on their own Fastify instance beside the hub until server.ts registers
 * them: the "browser" below sends `/citizen/*` and `/v1/me/*` there, everything else to the hub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { N, PEOPLE, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { startTestEidServer, type TestEidServer } from '../../src/demo/test-eid/test-eid-provider.ts';
import { CookieJar, signInAtTestEid } from '../../src/demo/test-eid/test-eid-browser.ts';
import { EIDAS_LOA } from '../../src/kernel/config/config.ts';
import { EID_CALLBACK_PATH } from '../../src/oidc/eid/eid-broker.ts';
import { findPersonIdByPersonalId } from '../../src/registry/registry-lookup.ts';
import { startReconciliation } from '../../src/registry/reconciliation/reconciliation-service.ts';
import { citizenRoutes } from '../../src/citizen/citizen-routes.ts';
import { ensurePortalClient } from '../../src/citizen/portal-client.ts';

const REDIRECT_URI = 'https://platform.example/callback';
const EID_CLIENT = { client_id: 'idbind-citizen-test', client_secret: 'citizen-portal-test-secret-0123456789' };

let hub: TestHub;
let eid: TestEidServer;
let portal: FastifyInstance;
/** Set by a test: the sealed disclosures the hook reports. */
let sealed = new Set<string>();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Answer = Record<string, any>;

/** A browser: a cookie jar, redirects followed by hand; the portal's paths go to the portal's instance. */
class Browser {
  jar = new CookieJar();

  async fetch(url: URL, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; location: string | null; text: string; json(): Answer }> {
    const cookie = this.jar.header(url);
    const headers: Record<string, string> = { ...(init.headers ?? {}), ...(cookie ? { cookie } : {}) };
    if (url.origin === hub.url && (url.pathname.startsWith('/citizen/') || url.pathname.startsWith('/v1/me'))) {
      const res = await portal.inject({ method: (init.method ?? 'GET') as 'GET', url: `${url.pathname}${url.search}`, headers, payload: init.body });
      const set = res.headers['set-cookie'];
      this.jar.store(url, set === undefined ? [] : Array.isArray(set) ? set : [set]);
      return { status: res.statusCode, location: (res.headers.location as string | undefined) ?? null, text: res.body, json: () => res.json() as Answer };
    }
    const res = await fetch(url, { method: init.method, body: init.body, headers, redirect: 'manual' });
    this.jar.store(url, res.headers.getSetCookie());
    const text = await res.text();
    return { status: res.status, location: res.headers.get('location'), text, json: () => JSON.parse(text) as Answer };
  }

  /** Follows redirects from `start` until a hosted page (`uid`) or a non-redirect answer (`end`: its URL). */
  async go(start: string): Promise<{ uid?: string; end: URL; status: number }> {
    let url = new URL(start, hub.url);
    for (let hop = 0; hop < 12; hop++) {
      const m = /^\/verify\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      if (m && url.origin === hub.url) return { uid: m[1]!, end: url, status: 0 };
      if (url.origin === hub.url && url.pathname === '/citizen') return { end: url, status: 200 };
      const res = await this.fetch(url);
      if (res.status < 300 || res.status >= 400) return { end: url, status: res.status };
      url = new URL(res.location!, url);
    }
    throw new Error('too many redirects');
  }

  async api(uid: string, path = '', body?: unknown): Promise<{ status: number; body: Answer }> {
    const res = await this.fetch(new URL(`/verify/${uid}/api${path}`, hub.url), body === undefined
      ? {}
      : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: res.json() };
  }

  async me(path = '', method = 'GET'): Promise<{ status: number; body: Answer }> {
    const res = await this.fetch(new URL(`/v1/me${path}`, hub.url), { method });
    return { status: res.status, body: res.text ? res.json() : {} };
  }
}

async function lastCode(phone: string): Promise<string> {
  const r = await hub.app.inject({ url: `/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}` });
  const messages = r.json() as { text: string }[];
  return /\b\d{6}\b/.exec(messages.at(-1)!.text)![0];
}

/** The portal sign-in by phone; returns the page the browser lands on. */
async function signInByPhone(browser: Browser, phone: string): Promise<{ end: URL; uid: string; confirm: { status: number; body: Answer } }> {
  const { uid } = await browser.go('/citizen/sign-in?level=low');
  expect(uid).toBeTruthy();
  const first = await browser.api(uid!);
  expect(first.body).toMatchObject({ platform: { name: 'idbind citizen portal' }, stage: 'choose_method', methods: ['phone', 'eid'] });
  const sent = await browser.api(uid!, '/phone', { phone });
  if (sent.status !== 200) return { end: new URL(hub.url), uid: uid!, confirm: sent };
  const confirm = await browser.api(uid!, '/phone/confirm', { code: await lastCode(phone) });
  if (confirm.status !== 200) return { end: new URL(hub.url), uid: uid!, confirm };
  expect(confirm.body.stage).toBe('finished');
  const { end } = await browser.go(confirm.body.redirect_url);
  return { end, uid: uid!, confirm };
}

async function signInByEid(browser: Browser, person: string, acr: string): Promise<URL> {
  const { uid } = await browser.go('/citizen/sign-in?level=substantial');
  const first = await browser.api(uid!);
  // Only the national eID reaches substantial.
  expect(first.body).toMatchObject({ stage: 'choose_method', methods: ['eid'], min_level: 'substantial' });
  const begun = await browser.api(uid!, '/eid', {});
  const { callbackUrl } = await signInAtTestEid(begun.body.redirect_url, { person, acr }, `${hub.url}${EID_CALLBACK_PATH}`, new CookieJar());
  const back = await browser.fetch(new URL(callbackUrl));
  expect(back.location).toBe(`/verify/${uid}`);
  const state = await browser.api(uid!);
  expect(state.body.stage).toBe('finished');
  return (await browser.go(state.body.redirect_url)).end;
}

interface Platform { id: string; key: string; secret: string }

async function createPlatform(name: string, legalProfile: 'minimal' | 'statutory'): Promise<Platform> {
  const created = await fetch(`${hub.url}/v1/admin/providers`, {
    method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, kind: 'platform', legal_profile: legalProfile }),
  });
  const key = ((await created.json()) as { api_key: string }).api_key;
  const c = await fetch(`${hub.url}/v1/provider/oidc-client`, {
    method: 'PUT', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT_URI] }),
  });
  const oc = (await c.json()) as { client_id: string; client_secret: string };
  return { id: oc.client_id, key, secret: oc.client_secret };
}

/** A platform binds `accountRef` to the person of `phone` through the hosted flow (agreeing to statutory claims if asked). */
async function bindThroughPlatform(p: Platform, accountRef: string, phone: string, scope = 'openid'): Promise<Answer> {
  const config = await client.discovery(new URL(`${hub.url}/oidc`), p.id, p.secret, client.ClientSecretBasic(p.secret), { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: REDIRECT_URI, scope, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, account_ref: accountRef,
  });
  const browser = new Browser();
  const { uid } = await browser.go(url.href);
  await browser.api(uid!, '/phone', { phone });
  let done = await browser.api(uid!, '/phone/confirm', { code: await lastCode(phone) });
  if (done.body.stage === 'consent') done = await browser.api(uid!, '/consent', { agree: true });
  let next = new URL(done.body.redirect_url, hub.url);
  for (let hop = 0; hop < 5 && !next.href.startsWith(REDIRECT_URI); hop++) next = new URL((await browser.fetch(next)).location!, next);
  const tokens = await client.authorizationCodeGrant(config, next, { pkceCodeVerifier: verifier, expectedState: state });
  return tokens.claims()!;
}

let adultId: string;
let sen: Platform;
let lotus: Platform;
let carrierKey: string;

beforeAll(async () => {
  hub = await startTestHub({
    demo: true,
    publicPort: true,
    envFor: async (publicUrl) => {
      eid = await startTestEidServer({
        persons: [{ personalId: PEOPLE.adult, label: 'Adult An' }, { personalId: PEOPLE.minor, label: 'Minor Binh' }],
        clients: [{ ...EID_CLIENT, redirect_uris: [`${publicUrl}${EID_CALLBACK_PATH}`] }],
        acrValues: [EIDAS_LOA.substantial, EIDAS_LOA.high],
      });
      return { IDBIND_EID_ISSUER: eid.issuer, IDBIND_EID_CLIENT_ID: EID_CLIENT.client_id, IDBIND_EID_CLIENT_SECRET: EID_CLIENT.client_secret, IDBIND_EID_ALLOW_INSECURE: '1' };
    },
  });
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  await (await startReconciliation(hub.hub.pool, await hub.hub.ring(), 'test')).done;
  adultId = (await findPersonIdByPersonalId(hub.hub.pool, await hub.hub.ring(), PEOPLE.adult))!;
  await ensurePortalClient(hub.hub.pool, await hub.hub.ring(), hub.url);
  portal = Fastify({ logger: false });
  await portal.register(async (scope) => citizenRoutes(scope, {
    pool: hub.hub.pool, ring: () => hub.hub.ring(), publicUrl: hub.url,
    disclosures: async (personId) => (personId === adultId ? [{ id: 'disclosure-1', authority: 'Test police' }] : []),
    sealedDisclosures: async () => sealed,
  }));
  await portal.ready();
  sen = await createPlatform('Citizen Sen', 'minimal');
  lotus = await createPlatform('Citizen Lotus', 'statutory');
  await bindThroughPlatform(sen, 'sen-an-1', N.adult);
  await bindThroughPlatform(lotus, 'lotus-an-1', N.adult2, 'openid profile phone');
  const carrier = await fetch(`${hub.url}/v1/admin/providers`, {
    method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'VinaPhone', kind: 'carrier', carrier: 'vinaphone' }),
  });
  expect(carrier.status).toBe(201);
  carrierKey = ((await carrier.json()) as { api_key: string }).api_key;
}, 180_000);
afterAll(async () => {
  await portal?.close();
  await hub?.stop();
  await eid?.close();
});

describe('citizen portal: sign-in through the hosted verification', () => {
  it('by phone at low: a session cookie, nothing bound, the pseudonym at the portal created, the sign-in in the history', async () => {
    const before = Number((await hub.hub.pool.query(`SELECT count(*) AS n FROM accounts`)).rows[0].n);
    const browser = new Browser();
    const { end } = await signInByPhone(browser, N.adult3);
    expect(end.pathname).toBe('/citizen');
    expect(end.search).toBe('');
    const me = await browser.me();
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ level: 'low', method: 'phone', shows: { access: 'bindings_and_releases', disclosures: false, export: false } });
    // Nothing bound, no release recorded, no birth date opened for the portal.
    expect(Number((await hub.hub.pool.query(`SELECT count(*) AS n FROM accounts`)).rows[0].n)).toBe(before);
    const portalRecords = await hub.hub.pool.query(
      `SELECT purpose FROM access_records ar JOIN providers p ON ar.actor = 'provider:' || p.id WHERE p.kind = 'portal'`);
    expect(portalRecords.rows).toEqual([]);
    const ps = await hub.hub.pool.query(`SELECT count(*) AS n FROM pseudonyms ps JOIN providers p ON p.id = ps.provider_id WHERE p.kind = 'portal' AND ps.person_id = $1`, [adultId]);
    expect(Number(ps.rows[0].n)).toBe(1);
    const signIns = await hub.hub.pool.query(`SELECT detail FROM access_records WHERE person_id = $1 AND purpose = 'self_view'`, [adultId]);
    expect(signIns.rows.at(-1)!.detail).toMatchObject({ action: 'sign_in', level: 'low', method: 'phone' });
  });

  it('the portal\'s ID token carries sub (its own pseudonym of the person) and verified, and no other claim about the person', async () => {
    const portalClient = await ensurePortalClient(hub.hub.pool, await hub.hub.ring(), hub.url);
    const config = await client.discovery(new URL(`${hub.url}/oidc`), portalClient.clientId, portalClient.clientSecret, client.ClientSecretBasic(portalClient.clientSecret), { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: portalClient.redirectUri, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, account_ref: 'portal',
    });
    const browser = new Browser();
    const { uid } = await browser.go(url.href);
    await browser.api(uid!, '/phone', { phone: N.adult });
    const done = await browser.api(uid!, '/phone/confirm', { code: await lastCode(N.adult) });
    let next = new URL(done.body.redirect_url, hub.url);
    for (let hop = 0; hop < 5 && !next.pathname.startsWith('/citizen/callback'); hop++) next = new URL((await browser.fetch(next)).location!, next);
    const tokens = await client.authorizationCodeGrant(config, next, { pkceCodeVerifier: verifier, expectedState: state });
    const claims = tokens.claims()!;
    expect(Object.keys(claims).filter((k) => !['iss', 'aud', 'exp', 'iat', 'auth_time', 'sub', 'acr', 'amr', 'sid', 'at_hash'].includes(k))).toEqual(['verified']);
    expect(claims).toMatchObject({ acr: 'low', amr: ['sms'], verified: true });
    // Pairwise: the portal's sub is not the person's pseudonym at any platform.
    const platformSubs = await hub.hub.pool.query(`SELECT pseudonym FROM pseudonyms WHERE person_id = $1 AND provider_id <> $2`, [adultId, portalClient.providerId]);
    expect(platformSubs.rows.map((r) => r.pseudonym)).not.toContain(claims.sub);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(Object.keys(info).sort()).toEqual(['sub', 'verified']);
  });

  it('the cookie is HttpOnly and SameSite=Lax; the portal is not listed among providers', async () => {
    const res = await portal.inject({ url: '/citizen/sign-in?level=low' });
    expect(res.statusCode).toBe(303);
    expect(String(res.headers['set-cookie'])).toMatch(/^idbind_citizen_signin=[A-Za-z0-9_-]{43}; Path=\/citizen\/callback; Max-Age=600; HttpOnly; SameSite=Lax$/);
    const listed = await fetch(`${hub.url}/v1/admin/providers`, { headers: { authorization: `Bearer ${hub.adminToken}` } });
    const names = ((await listed.json()) as { providers: { name: string }[] }).providers.map((p) => p.name);
    expect(names).not.toContain('idbind citizen portal');
    expect(names).toContain('Citizen Sen');
  });

  it('ensurePortalClient is idempotent (one portal, one secret), follows a new public URL, and refuses a public URL that cannot be a redirect URI', async () => {
    const ring = await hub.hub.ring();
    const [a, b] = await Promise.all([ensurePortalClient(hub.hub.pool, ring, hub.url), ensurePortalClient(hub.hub.pool, ring, hub.url)]);
    expect(b).toEqual(a);
    expect(Number((await hub.hub.pool.query(`SELECT count(*) AS n FROM providers WHERE kind = 'portal'`)).rows[0].n)).toBe(1);
    const moved = await ensurePortalClient(hub.hub.pool, ring, 'https://idbind.example');
    expect(moved).toMatchObject({ providerId: a.providerId, clientSecret: a.clientSecret, redirectUri: 'https://idbind.example/citizen/callback' });
    await ensurePortalClient(hub.hub.pool, ring, hub.url);
    await expect(ensurePortalClient(hub.hub.pool, ring, 'http://idbind.example')).rejects.toMatchObject({ code: 'CITIZEN_PORTAL_UNAVAILABLE' });
    expect((await hub.hub.pool.query(`SELECT redirect_uris FROM oidc_clients WHERE id = $1`, [a.providerId])).rows[0].redirect_uris).toEqual([`${hub.url}/citizen/callback`]);
  });

  it('applies the SIM-change window of verification: a number whose SIM changed an hour ago cannot sign in', async () => {
    const browser = new Browser();
    const { confirm } = await signInByPhone(browser, N.simChanged);
    expect(confirm.status).toBe(422);
    expect(confirm.body.code).toBe('NUMBER_NOT_ELIGIBLE');
    expect((await browser.me()).status).toBe(401);
  });

  it('a minor signs in alone (no guardian is asked to see one\'s own data)', async () => {
    const browser = new Browser();
    const { end } = await signInByPhone(browser, N.minor);
    expect(end.pathname).toBe('/citizen');
    expect((await browser.me()).body).toMatchObject({ level: 'low' });
  });

  it('a callback without its sign-in, or taken twice, fails and opens no session', async () => {
    const browser = new Browser();
    const res = await browser.fetch(new URL('/citizen/callback?code=x&state=y', hub.url));
    expect(res.status).toBe(303);
    expect(res.location).toBe('/citizen?error=CITIZEN_SIGN_IN_FAILED');
    expect((await browser.me()).status).toBe(401);
    expect((await browser.me()).body.code).toBe('CITIZEN_SIGNED_OUT');
  });
});

describe('citizen portal: the person\'s view at low (phone)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = new Browser();
    await signInByPhone(browser, N.adult);
  });

  it('lists every account bound to them with provider, pseudonym, level, since and status', async () => {
    const r = await browser.me('/accounts');
    expect(r.status).toBe(200);
    const sen1 = r.body.accounts.find((a: Answer) => a.account_ref === 'sen-an-1');
    expect(sen1).toMatchObject({ provider: 'Citizen Sen', level: 'low', method: 'phone', status: 'verified', minor: false });
    expect(sen1.pseudonym).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(r.body.accounts.map((a: Answer) => a.provider)).not.toContain('idbind citizen portal');
  });

  it('unbinds one: the platform sees it unverified and gets account.unbound; the history says the person did it', async () => {
    const account = (await browser.me('/accounts')).body.accounts.find((a: Answer) => a.account_ref === 'sen-an-1');
    const r = await browser.me(`/accounts/${account.id}/unbind`, 'POST');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'unbound', reason: 'unbound_by_person' });
    const status = await fetch(`${hub.url}/v1/accounts/sen-an-1`, { headers: { authorization: `Bearer ${sen.key}` } });
    expect(await status.json()).toMatchObject({ status: 'unverified' });
    const events = await hub.hub.pool.query(`SELECT type, payload FROM events WHERE account_id = $1 ORDER BY occurred_at`, [account.id]);
    expect(events.rows.at(-1)).toMatchObject({ type: 'account.unbound', payload: { status: 'unverified' } });
    expect(JSON.stringify(events.rows.at(-1)!.payload)).not.toContain('person');
    const again = await browser.me(`/accounts/${account.id}/unbind`, 'POST');
    expect(again.status).toBe(200);
    const access = await browser.me('/access');
    expect(access.body.records.find((x: Answer) => x.purpose === 'account_binding' && x.what.unbound_by_person)).toMatchObject({ who: { kind: 'you' } });
    // Another person's account is not theirs to unbind.
    const other = new Browser();
    await signInByPhone(other, N.adultB);
    expect((await other.me(`/accounts/${account.id}/unbind`, 'POST')).body.code).toBe('CITIZEN_NOT_FOUND');
  });

  it('refuses a change posted from another site', async () => {
    const account = (await browser.me('/accounts')).body.accounts.find((a: Answer) => a.account_ref === 'lotus-an-1');
    const r = await browser.fetch(new URL(`/v1/me/accounts/${account.id}/unbind`, hub.url), { method: 'POST', headers: { origin: 'https://evil.example' } });
    expect(r.status).toBe(401);
    expect((await browser.me('/accounts')).body.accounts.find((a: Answer) => a.account_ref === 'lotus-an-1').status).toBe('verified');
  });

  it('lists the SIMs in their name (numbers opened with a recorded self_view), and a reported one reaches the carrier as REPORTED_BY_HOLDER', async () => {
    const before = Number((await hub.hub.pool.query(`SELECT count(*) AS n FROM access_records WHERE person_id = $1 AND purpose = 'self_view' AND detail->>'action' = 'subscriptions'`, [adultId])).rows[0].n);
    const r = await browser.me('/subscriptions');
    expect(r.status).toBe(200);
    const numbers = r.body.subscriptions.map((s: Answer) => s.number);
    expect(numbers).toEqual(expect.arrayContaining([N.adult, N.adult2, N.simChanged, N.blocked]));
    expect(numbers).not.toContain(N.adultB);
    expect(r.body.subscriptions.find((s: Answer) => s.number === N.blocked)).toMatchObject({ carrier: 'vinaphone', channel: 'store', status: 'blocked_outgoing', reported_at: null });
    const after = Number((await hub.hub.pool.query(`SELECT count(*) AS n FROM access_records WHERE person_id = $1 AND purpose = 'self_view' AND detail->>'action' = 'subscriptions'`, [adultId])).rows[0].n);
    expect(after).toBe(before + 1);

    const unknown = r.body.subscriptions.find((s: Answer) => s.number === N.deviceChanged);
    const reported = await browser.me(`/subscriptions/${unknown.id}/report`, 'POST');
    expect(reported.status).toBe(200);
    expect(reported.body).toMatchObject({ id: unknown.id, carrier: 'vinaphone' });
    const list = await fetch(`${hub.url}/v1/carrier/action-list`, { headers: { authorization: `Bearer ${carrierKey}` } });
    expect(list.status).toBe(200);
    const lines = (await list.text()).trim().split('\n');
    expect(lines).toContain(`${N.deviceChanged},REPORTED_BY_HOLDER`);
    expect(lines.filter((l) => l.endsWith(',REPORTED_BY_HOLDER'))).toEqual([`${N.deviceChanged},REPORTED_BY_HOLDER`]);
    // Reported twice: still one report, one line.
    expect((await browser.me(`/subscriptions/${unknown.id}/report`, 'POST')).body.reported_at).toBe(reported.body.reported_at);
    // Not theirs: refused.
    const other = await hub.hub.pool.query(`SELECT s.id FROM subscriptions s JOIN persons p ON p.pid_bidx = s.holder_bidx WHERE p.id <> $1 LIMIT 1`, [adultId]);
    expect((await browser.me(`/subscriptions/${other.rows[0].id}/report`, 'POST')).body.code).toBe('CITIZEN_NOT_FOUND');
  });

  it('lists the consents and withdraws one; later releases stop (the withdrawal is in the history)', async () => {
    const r = await browser.me('/consents');
    const consent = r.body.consents.find((c: Answer) => c.platform === 'Citizen Lotus');
    expect(consent).toMatchObject({ withdrawn_at: null });
    expect(consent.claims).toEqual(expect.arrayContaining(['name', 'birthdate']));
    const w = await browser.me(`/consents/${consent.id}/withdraw`, 'POST');
    expect(w.status).toBe(200);
    expect(w.body.withdrawn_at).not.toBeNull();
    const live = await hub.hub.pool.query(`SELECT count(*) AS n FROM claim_consents WHERE id = $1 AND withdrawn_at IS NULL`, [consent.id]);
    expect(Number(live.rows[0].n)).toBe(0);
    expect((await browser.me('/access')).body.records.some((x: Answer) => x.purpose === 'claims_consent' && x.what.withdrawn === true)).toBe(true);
  });

  it('at low: bindings and releases only; no disclosures, no full history, no export', async () => {
    // A guardian check and a disclosure of this person exist; low shows neither.
    await hub.hub.pool.query(`INSERT INTO access_records (person_id, purpose, actor, detail) VALUES ($1, 'guardian_check', 'provider:x', '{"as":"guardian"}'), ($1, 'disclosure', 'authority:a', '{"request_id":"r-open","authority":"Test police"}')`, [adultId]);
    const r = await browser.me('/access');
    expect(r.status).toBe(200);
    expect(r.body.complete).toBe(false);
    const purposes = new Set(r.body.records.map((x: Answer) => x.purpose));
    expect([...purposes].every((p) => ['account_binding', 'age_check', 'claims_release', 'claims_consent', 'self_view'].includes(p as string))).toBe(true);
    expect(purposes.has('claims_release')).toBe(true);
    const release = r.body.records.find((x: Answer) => x.purpose === 'claims_release' && x.who.name === 'Citizen Lotus');
    expect(release).toMatchObject({ who: { kind: 'provider', name: 'Citizen Lotus' } });
    expect(release.what.claims).toEqual(expect.arrayContaining(['name', 'birthdate']));
    // Routine self-views are recorded, not listed; sign-ins are listed.
    expect(r.body.records.filter((x: Answer) => x.purpose === 'self_view').map((x: Answer) => x.what.action)).not.toContain('subscriptions');
    expect(r.body.records.some((x: Answer) => x.purpose === 'self_view' && x.what.action === 'sign_in')).toBe(true);
    expect((await browser.me('/disclosures')).body).toMatchObject({ status: 403, code: 'CITIZEN_LEVEL_TOO_LOW' });
    expect((await browser.me('/export')).body.code).toBe('CITIZEN_LEVEL_TOO_LOW');
  });
});

describe('citizen portal: the person\'s view at substantial (national eID)', () => {
  it('signs in with the eID only, and sees the full history (disclosures once unsealed), the disclosures and the export', async () => {
    const browser = new Browser();
    const end = await signInByEid(browser, 'Adult An', EIDAS_LOA.substantial);
    expect(end.pathname).toBe('/citizen');
    expect((await browser.me()).body).toMatchObject({ level: 'substantial', method: 'eid', shows: { access: 'full', disclosures: true, export: true } });
    sealed = new Set(['r-sealed']);
    await hub.hub.pool.query(`INSERT INTO access_records (person_id, purpose, actor, detail) VALUES ($1, 'disclosure', 'authority:a', '{"request_id":"r-sealed","authority":"Sealed court"}')`, [adultId]);
    const r = await browser.me('/access');
    expect(r.body.complete).toBe(true);
    const purposes = r.body.records.map((x: Answer) => x.purpose);
    expect(purposes).toContain('guardian_check');
    const disclosures = r.body.records.filter((x: Answer) => x.purpose === 'disclosure');
    expect(disclosures.map((x: Answer) => x.what.request_id)).toEqual(['r-open']);
    expect(disclosures[0]).toMatchObject({ who: { kind: 'authority', name: 'Test police' } });
    expect((await browser.me('/disclosures')).body).toEqual({ disclosures: [{ id: 'disclosure-1', authority: 'Test police' }] });

    const exported = await browser.me('/export');
    expect(exported.status).toBe(200);
    expect(exported.body).toMatchObject({ format: 'idbind-citizen-export/1', session: { level: 'substantial' }, disclosures: [{ id: 'disclosure-1' }] });
    expect(exported.body.subscriptions.map((s: Answer) => s.number)).toContain(N.adult);
    expect(exported.body.accounts.map((a: Answer) => a.account_ref)).toEqual(expect.arrayContaining(['sen-an-1', 'lotus-an-1']));
    expect(exported.body.access.some((x: Answer) => x.purpose === 'self_view' && x.what.action === 'export')).toBe(true);
  });

  it('without the sealed-disclosures hook, no disclosure record is shown (fail closed)', async () => {
    const bare = Fastify({ logger: false });
    await bare.register(async (scope) => citizenRoutes(scope, { pool: hub.hub.pool, ring: () => hub.hub.ring(), publicUrl: hub.url }));
    const browser = new Browser();
    await signInByEid(browser, 'Adult An', EIDAS_LOA.high);
    const cookie = browser.jar.header(new URL('/v1/me', hub.url));
    const r = await bare.inject({ url: '/v1/me/access', headers: { cookie } });
    expect(r.json().records.filter((x: Answer) => x.purpose === 'disclosure')).toEqual([]);
    expect((await bare.inject({ url: '/v1/me/disclosures', headers: { cookie } })).json()).toEqual({ disclosures: [] });
    await bare.close();
  });
});

describe('citizen portal: sessions', () => {
  it('every /v1/me route but sign-out answers 401 CITIZEN_SIGNED_OUT without a session, or with an unknown token', async () => {
    const id = '01900000-0000-7000-8000-000000000000';
    const calls = [['GET', '/v1/me'], ['GET', '/v1/me/accounts'], ['POST', `/v1/me/accounts/${id}/unbind`], ['GET', '/v1/me/subscriptions'],
      ['POST', `/v1/me/subscriptions/${id}/report`], ['GET', '/v1/me/access'], ['GET', '/v1/me/consents'], ['POST', `/v1/me/consents/${id}/withdraw`],
      ['GET', '/v1/me/disclosures'], ['GET', '/v1/me/export']] as const;
    for (const [method, url] of calls) {
      for (const headers of [{}, { cookie: 'idbind_citizen=not-a-session' }]) {
        const r = await portal.inject({ method, url, headers });
        expect(r.statusCode, `${method} ${url}`).toBe(401);
        expect(r.headers['content-type']).toContain('application/problem+json');
        expect(r.json()).toMatchObject({ code: 'CITIZEN_SIGNED_OUT' });
      }
    }
    expect((await portal.inject({ method: 'POST', url: '/v1/me/sign-out' })).statusCode).toBe(204);
  });

  it('signing out ends the session; 30 minutes idle and 2 hours in all end it too', async () => {
    const a = new Browser();
    await signInByPhone(a, N.adult);
    expect((await a.me('/sign-out', 'POST')).status).toBe(204);
    expect((await a.me()).status).toBe(401);

    const b = new Browser();
    await signInByPhone(b, N.adult2);
    expect((await b.me()).status).toBe(200);
    await hub.hub.pool.query(`UPDATE citizen_sessions SET last_seen_at = now() - interval '31 minutes'`);
    expect((await b.me()).status).toBe(401);

    const c = new Browser();
    await signInByPhone(c, N.adult3);
    await hub.hub.pool.query(`UPDATE citizen_sessions SET expires_at = now() - interval '1 second' WHERE last_seen_at > now() - interval '1 minute'`);
    expect((await c.me()).status).toBe(401);
  });
});
