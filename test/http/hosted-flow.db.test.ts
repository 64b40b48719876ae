/**
 * "Verify with your national identity" end to end (issue 4), with a real relying party
 * (`openid-client` v6) against the running hub, a real HTTP "browser" (a cookie jar following
 * redirects) through the hosted flow's API, and a local upstream eID (`oidc-provider`, started
 * here) for the broker: PAR with PKCE and `account_ref`, the phone and eID methods, the levels
 * (a higher level satisfies a lower request; an unreached one fails with
 * unmet_authentication_requirements), the claims exactly, the statutory consent and its
 * withdrawal, guardians (listed, not listed, alone), a wrong code_verifier and a replayed code
 * (refused), another browser (refused), and a double submit (one winner).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { many, N, PEOPLE, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { startTestEidServer, type TestEidServer } from '../../src/demo/test-eid/test-eid-provider.ts';
import { CookieJar, signInAtTestEid } from '../../src/demo/test-eid/test-eid-browser.ts';
import { EIDAS_LOA } from '../../src/kernel/config/config.ts';
import { EID_CALLBACK_PATH } from '../../src/oidc/eid/eid-broker.ts';
import { findPersonIdByPersonalId } from '../../src/registry/registry-lookup.ts';
import { listClaimConsents, withdrawClaimConsent } from '../../src/oidc/claim-consent-service.ts';
import { startReconciliation } from '../../src/registry/reconciliation/reconciliation-service.ts';
import { importRegistry } from '../../src/registry/import/import-service.ts';
import { applySubscriptionEvents } from '../../src/registry/subscription-events.ts';
import { exportJWK, generateKeyPair } from 'jose';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A second minor (12, no guardian listed), known to the test eID: an under-18 "guardian". */
const MINOR_2 = '001214000021';

const REDIRECT_URI = 'https://platform.example/callback';
const EID_CLIENT = { client_id: 'idbind-hosted-flow-test', client_secret: 'hosted-flow-test-secret-0123456789' };

let hub: TestHub;
let eid: TestEidServer;

interface Platform { id: string; key: string; clientId: string; secret: string; privateKey?: CryptoKey }
let minimal: Platform;
let statutory: Platform;

async function createPlatform(name: string, legalProfile: 'minimal' | 'statutory', settings: Record<string, unknown> = {}): Promise<Platform> {
  const created = await fetch(`${hub.url}/v1/admin/providers`, {
    method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, kind: 'platform', legal_profile: legalProfile }),
  });
  const body = (await created.json()) as { api_key: string; provider: { id: string } } & { id?: string };
  const key = body.api_key;
  const c = await fetch(`${hub.url}/v1/provider/oidc-client`, {
    method: 'PUT', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT_URI], ...settings }),
  });
  const oc = (await c.json()) as { client_id: string; client_secret: string };
  return { id: oc.client_id, key, clientId: oc.client_id, secret: oc.client_secret };
}

function rp(p: Platform): Promise<client.Configuration> {
  const auth = p.privateKey ? client.PrivateKeyJwt(p.privateKey) : client.ClientSecretBasic(p.secret);
  return client.discovery(new URL(`${hub.url}/oidc`), p.clientId, p.privateKey ? undefined : p.secret, auth, { execute: [client.allowInsecureRequests] });
}

/** A flow answer or problem document, read loosely: the assertions say what each must hold. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Answer = Record<string, any>;

/** A browser: a cookie jar and redirects followed by hand, stopping at the hosted pages or the platform. */
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

  /** Follows redirects from `start` until the hosted page (`{uid}`) or the platform's redirect URI (`{callback}`). */
  async go(start: URL | string): Promise<{ uid?: string; callback?: URL }> {
    let url = new URL(start, hub.url);
    for (let hop = 0; hop < 10; hop++) {
      if (url.href.startsWith(REDIRECT_URI)) return { callback: url };
      const m = /^\/verify\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      if (m && url.origin === hub.url) return { uid: m[1]! };
      const res = await this.fetch(url);
      await res.arrayBuffer();
      if (res.status < 300 || res.status >= 400) throw new Error(`${url.pathname} answered ${res.status}`);
      url = new URL(res.headers.get('location')!, url);
    }
    throw new Error('too many redirects');
  }

  async api(uid: string, path = '', body?: unknown): Promise<{ status: number; body: Answer }> {
    const res = await this.fetch(new URL(`/verify/${uid}/api${path}`, hub.url), body === undefined
      ? {}
      : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as Answer };
  }
}

async function lastCode(phone: string): Promise<string> {
  const r = await hub.app.inject({ url: `/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}` });
  const messages = r.json() as { text: string }[];
  return /\b\d{6}\b/.exec(messages.at(-1)!.text)![0];
}

interface Started { config: client.Configuration; verifier: string; state: string; browser: Browser; uid: string }

async function authorize(p: Platform, accountRef: string, extra: Record<string, string> = {}, browser = new Browser()): Promise<Started> {
  const config = await rp(p);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    state, account_ref: accountRef, ...extra,
  });
  const { uid } = await browser.go(url);
  expect(uid).toBeTruthy();
  return { config, verifier, state, browser, uid: uid! };
}

/** Phone step: number, code from the SMS outbox, confirm. Returns the state after the confirmation. */
async function byPhone(s: Started, phone: string) {
  const sent = await s.browser.api(s.uid, '/phone', { phone });
  expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  expect(sent.body.stage).toBe('phone_code');
  return s.browser.api(s.uid, '/phone/confirm', { code: await lastCode(phone) });
}

/** eID step: to the upstream and back through the broker's callback; returns the state after. */
async function byEid(s: Started, person: string, acr: string) {
  const begun = await s.browser.api(s.uid, '/eid', {});
  expect(begun.status, JSON.stringify(begun.body)).toBe(200);
  const { callbackUrl } = await signInAtTestEid(begun.body.redirect_url, { person, acr }, `${hub.url}${EID_CALLBACK_PATH}`, new CookieJar());
  const back = await s.browser.fetch(new URL(callbackUrl));
  expect(back.status).toBe(303);
  expect(back.headers.get('location')).toBe(`/verify/${s.uid}`);
  return s.browser.api(s.uid);
}

/** Back to the platform and the code exchanged by the relying party. */
async function complete(s: Started, redirectUrl: string, verifier = s.verifier) {
  const { callback } = await s.browser.go(redirectUrl);
  expect(callback).toBeTruthy();
  return { callback: callback!, tokens: () => client.authorizationCodeGrant(s.config, callback!, { pkceCodeVerifier: verifier, expectedState: s.state }) };
}

async function accountOf(p: Platform, ref: string) {
  const r = await fetch(`${hub.url}/v1/accounts/${ref}`, { headers: { authorization: `Bearer ${p.key}` } });
  return (await r.json()) as Record<string, unknown>;
}

const ID_TOKEN_KEYS = ['iss', 'aud', 'exp', 'iat', 'auth_time', 'sub', 'acr', 'amr', 'sid', 'at_hash', 'verified', 'age_over_16', 'age_over_18', 'minor'];

beforeAll(async () => {
  hub = await startTestHub({
    demo: true,
    publicPort: true,
    envFor: async (publicUrl) => {
      eid = await startTestEidServer({
        persons: [
          { personalId: PEOPLE.adult, label: 'Adult An' }, { personalId: PEOPLE.minor, label: 'Minor Binh' },
          { personalId: PEOPLE.adultB, label: 'Other adult Duc' }, { personalId: PEOPLE.deceased, label: 'Deceased Cuong' },
          { personalId: MINOR_2, label: 'Second minor Giang' },
        ],
        clients: [{ ...EID_CLIENT, redirect_uris: [`${publicUrl}${EID_CALLBACK_PATH}`] }],
        acrValues: [EIDAS_LOA.substantial, EIDAS_LOA.high],
      });
      return { IDBIND_EID_ISSUER: eid.issuer, IDBIND_EID_CLIENT_ID: EID_CLIENT.client_id, IDBIND_EID_CLIENT_SECRET: EID_CLIENT.client_secret, IDBIND_EID_ALLOW_INSECURE: '1' };
    },
  });
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  const dir = mkdtempSync(join(tmpdir(), 'idbind-flow-'));
  writeFileSync(join(dir, 'population.csv'), `personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids\n${MINOR_2},Đỗ Văn Giang,2014-06-01,M,alive,,\n`);
  const imported = await importRegistry({ pool: hub.hub.pool, ring: await hub.hub.ring(), kind: 'population', path: join(dir, 'population.csv'), rejectsPath: join(dir, 'rejects'), workers: 1 });
  expect(imported.rejected).toBe(0);
  await (await startReconciliation(hub.hub.pool, await hub.hub.ring(), 'test')).done;
  minimal = await createPlatform('Flow Minimal', 'minimal');
  statutory = await createPlatform('Flow Statutory', 'statutory');
}, 90_000);
afterAll(async () => {
  await hub?.stop();
  await eid?.close();
});

describe('hosted verification by phone', () => {
  it('binds the account and issues an ID token with exactly the minimal claims; the sub is the phone API pseudonym', async () => {
    const s = await authorize(minimal, 'phone-user-1');
    const first = await s.browser.api(s.uid);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ platform: { name: 'Flow Minimal' }, stage: 'choose_method', role: 'subject', methods: ['phone', 'eid'], min_level: 'low', error: null });
    const done = await byPhone(s, '0912 000 001');
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.stage).toBe('finished');
    const { callback, tokens } = await complete(s, done.body.redirect_url);
    expect(callback.searchParams.get('iss')).toBe(`${hub.url}/oidc`);
    const t = await tokens();
    const claims = t.claims()!;
    expect(Object.keys(claims)).toEqual(expect.arrayContaining(['iss', 'aud', 'exp', 'iat', 'sub', 'acr', 'amr', 'verified', 'age_over_16', 'age_over_18', 'minor']));
    expect(Object.keys(claims).filter((k) => !ID_TOKEN_KEYS.includes(k))).toEqual([]);
    expect(claims).toMatchObject({ acr: 'low', amr: ['sms'], verified: true, age_over_16: true, age_over_18: true, minor: false });
    const account = await accountOf(minimal, 'phone-user-1');
    expect(account).toMatchObject({ status: 'verified', level: 'low', pseudonym: claims.sub });
    // The release is in the person's records (an access record per release).
    const personId = (await findPersonIdByPersonalId(hub.hub.pool, await hub.hub.ring(), PEOPLE.adult))!;
    const releases = await hub.hub.pool.query(`SELECT detail FROM access_records WHERE person_id = $1 AND purpose = 'claims_release'`, [personId]);
    expect(releases.rows.at(-1)!.detail).toMatchObject({ provider: 'Flow Minimal', use: 'id_token', claims: ['verified', 'age_over_16', 'age_over_18', 'minor'] });
    // UserInfo answers the same claims, and is another release.
    const info = await client.fetchUserInfo(s.config, t.access_token, claims.sub);
    expect(info).toMatchObject({ sub: claims.sub, verified: true, minor: false });
    expect(info).not.toHaveProperty('name');
  });

  it('refuses a wrong code_verifier and a replayed code', async () => {
    const s = await authorize(minimal, 'phone-user-2');
    const done = await byPhone(s, N.adult2);
    const { tokens } = await complete(s, done.body.redirect_url, client.randomPKCECodeVerifier());
    await expect(tokens()).rejects.toMatchObject({ error: 'invalid_grant' });

    const s2 = await authorize(minimal, 'phone-user-3');
    const done2 = await byPhone(s2, N.adult3);
    const c2 = await complete(s2, done2.body.redirect_url);
    const t = await c2.tokens();
    expect(t.claims()!.sub).toBeTruthy();
    await expect(c2.tokens()).rejects.toMatchObject({ error: 'invalid_grant' });
    // The replay revoked the grant: the access token of the first exchange no longer works.
    await expect(client.fetchUserInfo(s2.config, t.access_token, t.claims()!.sub)).rejects.toBeTruthy();
  });

  it('verifies again in a browser that signed in before, as another person (no single sign-on, no stuck logout)', async () => {
    const shared = new Browser();
    const first = await authorize(minimal, 'shared-1', {}, shared);
    const t1 = await (await complete(first, (await byPhone(first, N.adult)).body.redirect_url)).tokens();
    const second = await authorize(minimal, 'shared-2', {}, shared);
    expect((await shared.api(second.uid)).body.stage).toBe('choose_method');
    const t2 = await (await complete(second, (await byPhone(second, N.adultB)).body.redirect_url)).tokens();
    expect(t2.claims()!.sub).not.toBe(t1.claims()!.sub);
    expect(await accountOf(minimal, 'shared-2')).toMatchObject({ status: 'verified', pseudonym: t2.claims()!.sub });
  });

  it('answers a wrong code with the tries left, and refuses another browser', async () => {
    const s = await authorize(minimal, 'phone-user-4');
    await s.browser.api(s.uid, '/phone', { phone: N.adultB });
    const code = await lastCode(N.adultB);
    const wrong = await s.browser.api(s.uid, '/phone/confirm', { code: String((Number(code) + 1) % 1_000_000).padStart(6, '0') });
    expect(wrong.status).toBe(422);
    expect(wrong.body).toMatchObject({ code: 'CODE_INVALID', attempts_remaining: 4 });
    const state = await s.browser.api(s.uid);
    expect(state.body).toMatchObject({ stage: 'phone_code', phone: { masked: '09•• ••• 006', attempts_remaining: 4 } });
    const stranger = new Browser();
    const other = await stranger.api(s.uid);
    expect(other.status).toBe(404);
    expect(other.body.code).toBe('FLOW_NOT_FOUND');
    const aborted = await s.browser.api(s.uid, '/abort', {});
    const { callback } = await s.browser.go(aborted.body.redirect_url);
    expect(callback!.searchParams.get('error')).toBe('access_denied');
    expect(await accountOf(minimal, 'phone-user-4')).toMatchObject({ status: 'unverified' });
  });

  it('does not offer the phone for a higher level, and an unreached level fails with unmet_authentication_requirements', async () => {
    const s = await authorize(minimal, 'eid-user-high', { acr_values: 'high' });
    const state = await s.browser.api(s.uid);
    expect(state.body).toMatchObject({ methods: ['eid'], min_level: 'high' });
    const phone = await s.browser.api(s.uid, '/phone', { phone: N.adult });
    expect(phone.body.code).toBe('METHOD_NOT_OFFERED');
    const after = await byEid(s, 'Adult An', EIDAS_LOA.substantial);
    expect(after.body).toMatchObject({ stage: 'choose_method', error: { code: 'LEVEL_NOT_REACHED' } });
    const aborted = await s.browser.api(s.uid, '/abort', {});
    const { callback } = await s.browser.go(aborted.body.redirect_url);
    expect(callback!.searchParams.get('error')).toBe('unmet_authentication_requirements');
  });
});

describe('hosted verification by national eID', () => {
  it('satisfies a lower request with a higher level; one person, one platform: the same sub as by phone', async () => {
    const s = await authorize(minimal, 'eid-user-1', { acr_values: 'substantial' });
    const done = await byEid(s, 'Adult An', EIDAS_LOA.high);
    expect(done.body.stage).toBe('finished');
    const t = await (await complete(s, done.body.redirect_url)).tokens();
    const claims = t.claims()!;
    expect(claims).toMatchObject({ acr: 'high', amr: ['fed'], verified: true, minor: false });
    expect(claims.sub).toBe((await accountOf(minimal, 'phone-user-1')).pseudonym);
    expect(await accountOf(minimal, 'eid-user-1')).toMatchObject({ status: 'verified', level: 'high' });
  });
});

describe('statutory claims with consent', () => {
  it('shows the consent, releases name, birthdate and phone_number after agreement, and stops after withdrawal', async () => {
    const s = await authorize(statutory, 'stat-user-1', { scope: 'openid profile phone' });
    const after = await byPhone(s, N.adult);
    expect(after.body).toMatchObject({ stage: 'consent', consent: { claims: ['name', 'birthdate', 'phone_number'] } });
    expect(after.body.consent.legal_basis).toContain('147/2024');
    const agreed = await s.browser.api(s.uid, '/consent', { agree: true });
    expect(agreed.status).toBe(200);
    const t = await (await complete(s, agreed.body.redirect_url)).tokens();
    const claims = t.claims()!;
    expect(claims).toMatchObject({ name: 'Nguyễn Văn An', birthdate: '1990-05-01', phone_number: N.adult, verified: true });
    const personId = (await findPersonIdByPersonalId(hub.hub.pool, await hub.hub.ring(), PEOPLE.adult))!;
    const consents = await hub.hub.pool.query(`SELECT id, claims FROM claim_consents WHERE person_id = $1 AND provider_id = $2`, [personId, statutory.id]);
    expect(consents.rows).toHaveLength(1);
    const purposes = (await hub.hub.pool.query(`SELECT purpose, detail FROM access_records WHERE person_id = $1 AND detail->>'provider' = 'Flow Statutory' ORDER BY id`, [personId])).rows;
    expect(purposes.map((r) => r.purpose)).toEqual(expect.arrayContaining(['claims_consent', 'account_binding', 'claims_release']));
    expect(purposes.find((r) => r.purpose === 'claims_release')!.detail.claims).toEqual(expect.arrayContaining(['name', 'birthdate', 'phone_number']));
    // Withdrawal stops future releases, and is in the person's records too.
    expect(await listClaimConsents(hub.hub.pool, personId)).toMatchObject([{ platform: 'Flow Statutory', claims: ['name', 'birthdate', 'phone_number'], withdrawn_at: null }]);
    expect(await withdrawClaimConsent(hub.hub.pool, personId, consents.rows[0].id)).toBe(true);
    expect(await withdrawClaimConsent(hub.hub.pool, personId, consents.rows[0].id)).toBe(false);
    const withdrawal = await hub.hub.pool.query(`SELECT detail FROM access_records WHERE person_id = $1 AND purpose = 'claims_consent' AND detail->>'withdrawn' = 'true'`, [personId]);
    expect(withdrawal.rows).toHaveLength(1);
    const info = await client.fetchUserInfo(s.config, t.access_token, claims.sub);
    expect(info).not.toHaveProperty('name');
    expect(info).not.toHaveProperty('phone_number');
    expect(info).toMatchObject({ verified: true });
  });

  it('declining the consent goes back with access_denied and binds nothing', async () => {
    const s = await authorize(statutory, 'stat-user-2', { scope: 'openid profile' });
    const after = await byPhone(s, N.adultB);
    expect(after.body).toMatchObject({ stage: 'consent', consent: { claims: ['name', 'birthdate'] } });
    const declined = await s.browser.api(s.uid, '/consent', { agree: false });
    const { callback } = await s.browser.go(declined.body.redirect_url);
    expect(callback!.searchParams.get('error')).toBe('access_denied');
    expect(await accountOf(statutory, 'stat-user-2')).toMatchObject({ status: 'unverified' });
  });

  it('a double submit of the consent binds once', async () => {
    const s = await authorize(statutory, 'stat-user-3', { scope: 'openid profile' });
    await byPhone(s, N.adultB);
    const answers = await Promise.all([s.browser.api(s.uid, '/consent', { agree: true }), s.browser.api(s.uid, '/consent', { agree: true })]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const rows = await hub.hub.pool.query(`SELECT count(*)::int AS n FROM accounts WHERE provider_id = $1 AND account_ref = 'stat-user-3'`, [statutory.id]);
    expect(rows.rows[0].n).toBe(1);
  });
});

describe('the registries change between the code and the binding', () => {
  it('a SIM change reported while the person reads the consent binds no one (NUMBER_NOT_ELIGIBLE)', async () => {
    const s = await authorize(statutory, 'stat-user-sim', { scope: 'openid profile' });
    const after = await byPhone(s, many(2));
    expect(after.body).toMatchObject({ stage: 'consent' });
    const dir = mkdtempSync(join(tmpdir(), 'idbind-flow-sim-'));
    const file = join(dir, 'sim.ndjson');
    writeFileSync(file, JSON.stringify({ event_id: 'flow-sim-1', type: 'sim_changed', msisdn: many(2), at: new Date(Date.now() - 60_000).toISOString() }) + '\n');
    expect(await applySubscriptionEvents({ pool: hub.hub.pool, ring: await hub.hub.ring(), carrier: 'vinaphone', path: file, rejectsPath: `${file}.rejects` }))
      .toMatchObject({ accepted: 1 });
    const agreed = await s.browser.api(s.uid, '/consent', { agree: true });
    expect(agreed.status).toBe(422);
    expect(agreed.body).toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE' });
    expect(await accountOf(statutory, 'stat-user-sim')).toMatchObject({ status: 'unverified' });
    // Back at the choice of method, nothing of that verification kept: another number binds.
    expect((await s.browser.api(s.uid)).body).toMatchObject({ stage: 'choose_method', role: 'subject', methods: ['phone', 'eid'], error: { code: 'NUMBER_NOT_ELIGIBLE' } });
    const row = await hub.hub.pool.query('SELECT subject_person_id, subject_subscription_id, verification_id, consent_id, sealed FROM hosted_flows WHERE uid = $1', [s.uid]);
    expect(row.rows[0]).toEqual({ subject_person_id: null, subject_subscription_id: null, verification_id: null, consent_id: null, sealed: null });
    expect((await byPhone(s, many(3))).body).toMatchObject({ stage: 'consent' });
    const done = await s.browser.api(s.uid, '/consent', { agree: true });
    expect(done.body).toMatchObject({ redirect_url: expect.any(String) });
    expect(await accountOf(statutory, 'stat-user-sim')).toMatchObject({ status: 'verified' });
  });
});

describe('guardians (Decree 147/2024 Art. 27)', () => {
  it('a minor with a listed guardian: another adult is refused, the guardian verifies, the platform learns minor only', async () => {
    const s = await authorize(minimal, 'minor-user-1');
    const after = await byPhone(s, N.minor);
    expect(after.body).toMatchObject({ stage: 'guardian_intro', role: 'guardian', methods: ['phone', 'eid'] });
    // An adult who is not a guardian.
    const refused = await byPhone(s, N.adultB);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('GUARDIAN_NOT_LISTED');
    expect((await s.browser.api(s.uid)).body).toMatchObject({ stage: 'guardian_intro', role: 'guardian', error: { code: 'GUARDIAN_NOT_LISTED' } });
    // The minor cannot be their own guardian.
    const self = await byEid(s, 'Minor Binh', EIDAS_LOA.substantial);
    expect(self.body).toMatchObject({ stage: 'guardian_intro', error: { code: 'GUARDIAN_SAME_PERSON' } });
    // The listed guardian, by eID.
    const done = await byEid(s, 'Adult An', EIDAS_LOA.substantial);
    expect(done.body.stage).toBe('finished');
    const claims = (await (await complete(s, done.body.redirect_url)).tokens()).claims()!;
    expect(claims).toMatchObject({ acr: 'low', verified: true, minor: true, age_over_16: false, age_over_18: false });
    expect(Object.keys(claims).filter((k) => !ID_TOKEN_KEYS.includes(k))).toEqual([]);
    const ring = await hub.hub.ring();
    const guardianId = await findPersonIdByPersonalId(hub.hub.pool, ring, PEOPLE.adult);
    const row = await hub.hub.pool.query(`SELECT minor, guardian_person_id FROM accounts WHERE provider_id = $1 AND account_ref = 'minor-user-1'`, [minimal.id]);
    expect(row.rows[0]).toMatchObject({ minor: true, guardian_person_id: guardianId });
    const status = await accountOf(minimal, 'minor-user-1');
    expect(JSON.stringify(status)).not.toContain(guardianId!);
  });

  it('a minor alone cannot finish: cancelling binds nothing', async () => {
    const s = await authorize(minimal, 'minor-user-2');
    const after = await byEid(s, 'Minor Binh', EIDAS_LOA.substantial);
    expect(after.body).toMatchObject({ stage: 'guardian_intro', role: 'guardian' });
    const consent = await s.browser.api(s.uid, '/consent', { agree: true });
    expect(consent.body.code).toBe('FLOW_STEP_CLOSED');
    const aborted = await s.browser.api(s.uid, '/abort', {});
    const { callback } = await s.browser.go(aborted.body.redirect_url);
    expect(callback!.searchParams.get('error')).toBe('access_denied');
    expect(await accountOf(minimal, 'minor-user-2')).toMatchObject({ status: 'unverified' });
  });
});

describe('client settings at work', () => {
  it('a private_key_jwt client signs in; refresh tokens only for a client configured for them, and they stop when the account is unbound', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const keyed = await createPlatform('Flow Keyed', 'minimal', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] }, refresh_tokens: true });
    keyed.privateKey = privateKey;
    const s = await authorize(keyed, 'refresh-user-1', { scope: 'openid offline_access', prompt: 'consent' });
    const t = await (await complete(s, (await byPhone(s, many(0))).body.redirect_url)).tokens();
    expect(t.refresh_token).toBeTruthy();
    const refreshed = await client.refreshTokenGrant(s.config, t.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ sub: t.claims()!.sub, verified: true });
    const unbound = await fetch(`${hub.url}/v1/accounts/refresh-user-1`, { method: 'DELETE', headers: { authorization: `Bearer ${keyed.key}` } });
    expect(unbound.status).toBeLessThan(300);
    await expect(client.refreshTokenGrant(s.config, refreshed.refresh_token ?? t.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

    // A platform not configured for refresh tokens gets none, even when it asks.
    const plain = await createPlatform('Flow Plain', 'minimal');
    const m = await authorize(plain, 'refresh-user-2', { scope: 'openid offline_access', prompt: 'consent' });
    const tm = await (await complete(m, (await byPhone(m, many(1))).body.redirect_url)).tokens();
    expect(tm.refresh_token).toBeUndefined();
  });

  it('a person under 18 cannot be the guardian (GUARDIAN_IS_MINOR)', async () => {
    const s = await authorize(minimal, 'minor-user-3');
    expect((await byPhone(s, N.minor)).body).toMatchObject({ stage: 'guardian_intro' });
    const young = await byEid(s, 'Second minor', EIDAS_LOA.substantial);
    expect(young.body).toMatchObject({ stage: 'guardian_intro', role: 'guardian', error: { code: 'GUARDIAN_IS_MINOR' } });
  });
});
