/**
 * The national eID broker end to end: begin, a real login at the local test eID provider (an
 * oidc-provider instance on a loopback port, walked with a cookie jar), complete. Never a mock
 * of the HTTP exchange (issue 4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { PEOPLE, seedVerificationRegistry } from '../../../test/support/verification-fixture.ts';
import { DEFAULT_EID_ACR_MAP, EIDAS_LOA, type AssuranceLevel, type EidConfig } from '../../kernel/config/config.ts';
import { findPersonIdByPersonalId } from '../../registry/registry-lookup.ts';
import { startTestEidServer, type TestEidServer } from '../../demo/test-eid/test-eid-provider.ts';
import { signInAtTestEid, type TestEidChoice } from '../../demo/test-eid/test-eid-browser.ts';
import { createEidBroker, EID_COOKIE_NAME, pruneEidLogins, unavailableEidBroker, type EidBroker } from './eid-broker.ts';
import { EidError } from './eid-errors.ts';

const REDIRECT_URI = 'http://127.0.0.1:9/verify/eid/callback';
const CLIENT = { client_id: 'idbind-test-broker', client_secret: 'test-broker-secret-0123456789abcdef', redirect_uris: [REDIRECT_URI] };

let db: TestDatabase;
let eid: TestEidServer;
let broker: EidBroker;
let config: EidConfig;
let adultId: string;
let flowCounter = 0;

const newFlow = () => `flow-${++flowCounter}-${Date.now().toString(36)}`;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedVerificationRegistry(db.pool, db.ring);
  adultId = (await findPersonIdByPersonalId(db.pool, db.ring, PEOPLE.adult))!;
  eid = await startTestEidServer({
    persons: [
      { personalId: PEOPLE.adult, label: 'Adult An (registered)' },
      { personalId: PEOPLE.deceased, label: 'Deceased Cuong' },
      { personalId: '001090999999', label: 'Unregistered person' },
      { personalId: '', label: 'No claim released' },
      { personalId: '12345', label: 'Malformed number' },
    ],
    clients: [CLIENT],
    acrValues: [EIDAS_LOA.low, EIDAS_LOA.substantial, EIDAS_LOA.high],
  });
  config = {
    issuer: eid.issuer, clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret, personalIdClaim: 'personal_id',
    acrMap: DEFAULT_EID_ACR_MAP, scope: 'openid', allowInsecure: true, demo: false,
  };
  broker = createEidBroker({ pool: db.pool, ring: async () => db.ring, config, redirectUri: REDIRECT_URI });
});
afterAll(async () => {
  await eid?.close();
  await db?.drop();
});

/** begin, then a login at the test eID: the callback URL and the browser's cookie. */
async function loginAt(choice: TestEidChoice, minLevel: AssuranceLevel = 'substantial', role: 'subject' | 'guardian' = 'subject', b = broker) {
  const flowUid = newFlow();
  const started = await b.begin({ flowUid, role, minLevel });
  const walk = await signInAtTestEid(started.redirectUrl, choice, REDIRECT_URI);
  return { flowUid, started, callbackUrl: walk.callbackUrl, cookie: started.cookie.value, loginPage: walk.loginPage };
}

async function eidError(p: Promise<unknown>): Promise<EidError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(EidError);
  return e as EidError;
}

describe('national eID broker', () => {
  it('begins with PKCE S256, state, nonce, prompt=login and the acr values accepted, storing only hashes', async () => {
    const flowUid = newFlow();
    const { redirectUrl, cookie } = await broker.begin({ flowUid, role: 'subject', minLevel: 'substantial' });
    const url = new URL(redirectUrl);
    expect(url.origin).toBe(eid.issuer);
    const p = url.searchParams;
    expect(p.get('response_type')).toBe('code');
    expect(p.get('client_id')).toBe(CLIENT.client_id);
    expect(p.get('redirect_uri')).toBe(REDIRECT_URI);
    expect(p.get('code_challenge_method')).toBe('S256');
    expect(p.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.get('nonce')).toBeTruthy();
    expect(p.get('prompt')).toBe('login');
    expect(p.get('acr_values')).toBe(`${EIDAS_LOA.high} ${EIDAS_LOA.substantial}`);
    expect(cookie).toMatchObject({ name: EID_COOKIE_NAME, path: '/verify/eid/callback', maxAgeSeconds: 600 });
    const rows = await db.pool.query('SELECT * FROM eid_logins WHERE flow_uid = $1', [flowUid]);
    expect(rows.rows).toHaveLength(1);
    const row = rows.rows[0];
    expect(row.state_hash.equals(createHash('sha256').update(p.get('state')!).digest())).toBe(true);
    expect(row.browser_hash.equals(createHash('sha256').update(cookie.value).digest())).toBe(true);
    expect(row.expires_at.getTime() - row.created_at.getTime()).toBe(600_000);
    // Neither the state, the cookie, the verifier nor the nonce is stored in clear.
    const dump = JSON.stringify(rows.rows);
    for (const secret of [p.get('state')!, cookie.value, p.get('nonce')!]) expect(dump).not.toContain(secret);
    // Only the levels at least as high as required are asked for.
    const high = new URL((await broker.begin({ flowUid: newFlow(), role: 'subject', minLevel: 'high' })).redirectUrl);
    expect(high.searchParams.get('acr_values')).toBe(EIDAS_LOA.high);
  });

  it('completes: the registered person, at the level mapped from the upstream acr', async () => {
    const l = await loginAt({ person: 'Adult An', acr: EIDAS_LOA.high }, 'substantial', 'guardian');
    // The login page lists the test persons and pre-selects the most preferred level asked for.
    expect(l.loginPage).toContain('<label for="person-0">Adult An (registered)</label>');
    expect(l.loginPage).toMatch(/value="http:\/\/eidas\.europa\.eu\/LoA\/high" required checked/);
    const r = await broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie });
    expect(r).toEqual({ flowUid: l.flowUid, role: 'guardian', personId: adultId, level: 'high' });
    expect(JSON.stringify(r)).not.toContain(PEOPLE.adult);
    const substantial = await loginAt({ person: 'Adult An', acr: EIDAS_LOA.substantial }, 'low');
    // The path and query of the request are enough (the rest is the registered redirect URI).
    expect(await broker.complete({ callbackUrl: `/verify/eid/callback${new URL(substantial.callbackUrl).search}`, cookieValue: substantial.cookie }))
      .toMatchObject({ personId: adultId, level: 'substantial', role: 'subject' });
  });

  it('fails closed on an upstream acr that is not mapped (EID_LEVEL_UNKNOWN), naming the flow', async () => {
    const l = await loginAt({ person: 'Adult An', acr: EIDAS_LOA.low }, 'low');
    const e = await eidError(broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie }));
    expect(e.code).toBe('EID_LEVEL_UNKNOWN');
    expect(e.flowUid).toBe(l.flowUid);
  });

  it('refuses a level lower than required (LEVEL_NOT_REACHED)', async () => {
    const l = await loginAt({ person: 'Adult An', acr: EIDAS_LOA.substantial }, 'high');
    const e = await eidError(broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie }));
    expect(e).toMatchObject({ code: 'LEVEL_NOT_REACHED', flowUid: l.flowUid });
  });

  it('refuses to begin when no upstream acr maps to the level required', async () => {
    const only = createEidBroker({ pool: db.pool, ring: async () => db.ring, config: { ...config, acrMap: { [EIDAS_LOA.substantial]: 'substantial' } }, redirectUri: REDIRECT_URI });
    const e = await eidError(only.begin({ flowUid: 'flow-x', role: 'subject', minLevel: 'high' }));
    expect(e).toMatchObject({ code: 'LEVEL_NOT_REACHED', flowUid: 'flow-x' });
  });

  it('refuses a person not in the registry, a deceased person, a missing and a malformed personal ID claim', async () => {
    for (const [person, reason] of [['Unregistered', 'not_registered'], ['Deceased', 'deceased'], ['No claim', 'claim_missing'], ['Malformed', 'claim_missing']] as const) {
      const l = await loginAt({ person, acr: EIDAS_LOA.high });
      const e = await eidError(broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie }));
      expect(e, person).toMatchObject({ code: 'EID_PERSON_NOT_ELIGIBLE', flowUid: l.flowUid, reason });
      // The holder learns the same thing whether unregistered or deceased; never the number.
      if (reason !== 'claim_missing') expect(e.detail).toBe('the eID holder cannot verify an account with idbind');
      expect(`${e.message} ${JSON.stringify(e)}`).not.toMatch(/001085000003|001090999999/);
    }
  });

  it('accepts a state once: of two concurrent callbacks exactly one completes, and a later replay fails', async () => {
    const l = await loginAt({ person: 'Adult An', acr: EIDAS_LOA.high });
    const results = await Promise.allSettled([
      broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie }),
      broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie }),
      broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as EidError);
    expect(failures.map((f) => [f.code, f.reason, f.flowUid])).toEqual([['EID_FAILED', 'replayed', l.flowUid], ['EID_FAILED', 'replayed', l.flowUid]]);
    const again = await eidError(broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie }));
    expect(again).toMatchObject({ code: 'EID_FAILED', reason: 'replayed' });
  });

  it('accepts a state only with the cookie of the browser that began it (login CSRF), without burning it', async () => {
    const l = await loginAt({ person: 'Adult An', acr: EIDAS_LOA.high });
    const other = (await broker.begin({ flowUid: newFlow(), role: 'subject', minLevel: 'low' })).cookie.value;
    for (const cookieValue of [undefined, 'not-a-cookie', other]) {
      const e = await eidError(broker.complete({ callbackUrl: l.callbackUrl, cookieValue }));
      expect(e.code).toBe('EID_FAILED');
      // Another browser is not sent to this flow.
      expect(e.flowUid).toBeUndefined();
    }
    expect(await broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie })).toMatchObject({ flowUid: l.flowUid, personId: adultId });
  });

  it('fails on an upstream error answer (the person cancelled), and the state is spent', async () => {
    const l = await loginAt({ cancel: true });
    expect(new URL(l.callbackUrl).searchParams.get('error')).toBe('access_denied');
    const e = await eidError(broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie }));
    expect(e).toMatchObject({ code: 'EID_FAILED', flowUid: l.flowUid, reason: 'access_denied', detail: 'the eID login was cancelled' });
    const again = await eidError(broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie }));
    expect(again.reason).toBe('replayed');
  });

  it('fails on an unknown state, an expired login, a tampered code and a wrong client secret', async () => {
    const l = await loginAt({ person: 'Adult An', acr: EIDAS_LOA.high });
    const unknown = new URL(l.callbackUrl);
    unknown.searchParams.set('state', 'forged-state');
    expect(await eidError(broker.complete({ callbackUrl: unknown.href, cookieValue: l.cookie }))).toMatchObject({ code: 'EID_FAILED', reason: 'unknown_state', flowUid: undefined });
    const noState = new URL(l.callbackUrl);
    noState.searchParams.delete('state');
    expect((await eidError(broker.complete({ callbackUrl: noState.href, cookieValue: l.cookie }))).reason).toBe('no_state');

    const tampered = new URL(l.callbackUrl);
    tampered.searchParams.set('code', `${tampered.searchParams.get('code')}x`);
    expect(await eidError(broker.complete({ callbackUrl: tampered.href, cookieValue: l.cookie }))).toMatchObject({ code: 'EID_FAILED', flowUid: l.flowUid, reason: 'invalid_grant' });

    const late = await loginAt({ person: 'Adult An', acr: EIDAS_LOA.high });
    await db.pool.query(`UPDATE eid_logins SET expires_at = now() - interval '1 second' WHERE flow_uid = $1`, [late.flowUid]);
    expect(await eidError(broker.complete({ callbackUrl: late.callbackUrl, cookieValue: late.cookie }))).toMatchObject({ code: 'EID_FAILED', reason: 'expired', flowUid: late.flowUid });

    const wrongSecret = createEidBroker({ pool: db.pool, ring: async () => db.ring, config: { ...config, clientSecret: 'wrong-secret' }, redirectUri: REDIRECT_URI });
    const w = await loginAt({ person: 'Adult An', acr: EIDAS_LOA.high }, 'substantial', 'subject', wrongSecret);
    expect(await eidError(wrongSecret.complete({ callbackUrl: w.callbackUrl, cookieValue: w.cookie }))).toMatchObject({ code: 'EID_FAILED', flowUid: w.flowUid, reason: 'invalid_client' });
  });

  it('answers EID_UNAVAILABLE when no eID is configured or the upstream cannot be reached', async () => {
    expect((await eidError(unavailableEidBroker().begin({ flowUid: 'f', role: 'subject', minLevel: 'low' }))).code).toBe('EID_UNAVAILABLE');
    const down = createEidBroker({ pool: db.pool, ring: async () => db.ring, config: { ...config, issuer: 'http://127.0.0.1:9' }, redirectUri: REDIRECT_URI });
    expect((await eidError(down.begin({ flowUid: 'f', role: 'subject', minLevel: 'low' }))).code).toBe('EID_UNAVAILABLE');
  });

  it('prunes logins expired for more than a day', async () => {
    await db.pool.query(`UPDATE eid_logins SET expires_at = now() - interval '2 days' WHERE flow_uid LIKE 'flow-1-%'`);
    expect(await pruneEidLogins(db.pool)).toBeGreaterThanOrEqual(1);
    expect((await db.pool.query(`SELECT 1 FROM eid_logins WHERE flow_uid LIKE 'flow-1-%'`)).rowCount).toBe(0);
  });
});
