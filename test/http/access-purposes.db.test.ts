/**
 * Completeness of the access records (issue 5: "decrypting a personal field requires a purpose
 * (invariant 4 of the design), and a test exercises every purpose and checks the access records
 * it must leave"). Every purpose of src/access/access-records.ts (PERSON_PURPOSES, BATCH_PURPOSES)
 * has a trigger here that goes through the real code path (import, reconciliation, the carrier's
 * action list, key rotation, the daily minority check, the hosted flow with a guardian and a
 * statutory consent, the token exchange, the citizen portal, a released disclosure viewed by its
 * requester) and the records it must leave:
 * one per run for a batch, one per person for a read about a person, with the actor and detail
 * named. A purpose added without a trigger fails here (and does not type-check: the tables are
 * Records over the purposes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { N, PEOPLE, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { CookieJar } from '../../src/demo/test-eid/test-eid-browser.ts';
import { BATCH_PURPOSES, PERSON_PURPOSES, type BatchPurpose, type PersonPurpose } from '../../src/access/access-records.ts';
import { applySubscriptionEvents } from '../../src/registry/subscription-events.ts';
import { startReconciliation } from '../../src/registry/reconciliation/reconciliation-service.ts';
import { findPersonIdByPersonalId } from '../../src/registry/registry-lookup.ts';
import { addKeyVersion, completeKeyWork } from '../../src/keys/key-rotation-service.ts';
import { endMinorities } from '../../src/bindings/minor-accounts.ts';
import { listAccess, listSubscriptions } from '../../src/citizen/citizen-service.ts';
import { createAuthority, createOfficial } from '../../src/officials/official-service.ts';
import type { Official } from '../../src/officials/official-auth.ts';
import { createTransparencyLog, loadLogKey } from '../../src/tlog/log-service.ts';
import { outboxSmsGateway } from '../../src/verification/sms/sms-outbox.ts';
import { approveRequest, sealedRequestIds, submitRequest, viewRelease, type DisclosureDeps } from '../../src/disclosure/disclosure-service.ts';

const REDIRECT_URI = 'https://platform.example/callback';
/** A UUID in text (ids in access records' details). */
const UUID_TEXT = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

let hub: TestHub;
let dir: string;
const people: Record<string, string> = {};

/** What a trigger must leave: records about persons (by fixture name), or one record for a run. */
type Expected = { person: keyof typeof PEOPLE; actor: RegExp; detail?: Record<string, unknown> }[] | { run: true; actor: RegExp; detail?: Record<string, unknown> };
type Trigger = () => Promise<Expected>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Answer = Record<string, any>;

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
  async api(uid: string, path = '', body?: unknown): Promise<Answer> {
    const res = await this.fetch(new URL(`/verify/${uid}/api${path}`, hub.url), body === undefined
      ? {}
      : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const out = (await res.json()) as Answer;
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(out)}`);
    return out;
  }
}

async function lastCode(phone: string): Promise<string> {
  const r = await hub.app.inject({ url: `/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}` });
  return /\b\d{6}\b/.exec((r.json() as { text: string }[]).at(-1)!.text)![0];
}

async function admin(path: string, body: unknown): Promise<Answer> {
  const r = await fetch(`${hub.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await r.json()) as Answer;
}

/**
 * The hosted flow for a statutory platform: the minor verifies by phone, their listed guardian
 * by phone, both agree to the statutory claims, and the platform exchanges the code.
 */
async function minorWithGuardianAtStatutoryPlatform(): Promise<void> {
  const created = await admin('/v1/admin/providers', { name: 'Purposes Statutory', kind: 'platform', legal_profile: 'statutory' });
  const c = await fetch(`${hub.url}/v1/provider/oidc-client`, {
    method: 'PUT', headers: { authorization: `Bearer ${created.api_key}`, 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT_URI] }),
  });
  const oc = (await c.json()) as { client_id: string; client_secret: string };
  const config = await client.discovery(new URL(`${hub.url}/oidc`), oc.client_id, oc.client_secret, client.ClientSecretBasic(oc.client_secret), { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: REDIRECT_URI, scope: 'openid profile', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, account_ref: 'minor-1',
  });
  const browser = new Browser();
  const auth = await browser.fetch(url);
  const uid = /^\/verify\/([A-Za-z0-9_-]+)$/.exec(auth.headers.get('location')!)![1]!;
  await browser.api(uid, '/phone', { phone: N.minor });
  const guardianAsked = await browser.api(uid, '/phone/confirm', { code: await lastCode(N.minor) });
  expect(guardianAsked).toMatchObject({ stage: 'guardian_intro', role: 'guardian' });
  await browser.api(uid, '/phone', { phone: N.adult });
  expect(await browser.api(uid, '/phone/confirm', { code: await lastCode(N.adult) })).toMatchObject({ stage: 'consent' });
  const done = await browser.api(uid, '/consent', { agree: true });
  let next = new URL(done.redirect_url, hub.url);
  for (let hop = 0; hop < 5 && !next.href.startsWith(REDIRECT_URI); hop++) next = new URL((await browser.fetch(next)).headers.get('location')!, next);
  const tokens = await client.authorizationCodeGrant(config, next, { pkceCodeVerifier: verifier, expectedState: state });
  expect(tokens.claims()).toMatchObject({ minor: true, name: 'Trần Thị Bình' });
}

let flowDone: Promise<void> | undefined;
/** The flow runs once; each purpose it exercises checks its own records. */
function hostedFlowOnce(): Promise<void> {
  flowDone ??= minorWithGuardianAtStatutoryPlatform();
  return flowDone;
}

/** The trigger of each person purpose, in the order they run. */
const PERSON_TRIGGERS: Record<PersonPurpose, Trigger> = {
  age_check: async () => {
    await hostedFlowOnce();
    return [{ person: 'minor', actor: /^provider:/, detail: { provider: 'Purposes Statutory', flow: 'hosted', method: 'phone' } }];
  },
  guardian_check: async () => {
    await hostedFlowOnce();
    // The minor's guardians read, and the guardian's own record of acting as one.
    return [{ person: 'minor', actor: /^provider:/, detail: { provider: 'Purposes Statutory', method: 'phone' } },
      { person: 'adult', actor: /^provider:/, detail: { as: 'guardian' } }];
  },
  claims_consent: async () => {
    await hostedFlowOnce();
    return [{ person: 'minor', actor: /^provider:/, detail: { provider: 'Purposes Statutory', agreed_by: 'guardian', claims: ['name', 'birthdate'] } }];
  },
  account_binding: async () => {
    await hostedFlowOnce();
    return [{ person: 'minor', actor: /^provider:/, detail: { provider: 'Purposes Statutory', account_ref: 'minor-1', guardian_consented: true } },
      { person: 'adult', actor: /^provider:/, detail: { as: 'guardian' } }];
  },
  claims_release: async () => {
    await hostedFlowOnce();
    return [{ person: 'minor', actor: /^provider:/, detail: { provider: 'Purposes Statutory', use: 'id_token', claims: ['verified', 'age_over_16', 'age_over_18', 'minor', 'name', 'birthdate'] } }];
  },
  self_view: async () => {
    const subs = await listSubscriptions({ pool: hub.hub.pool, ring: () => hub.hub.ring() }, { personId: people.adultB!, level: 'low', method: 'phone', expiresAt: new Date() });
    expect(subs.map((s) => s.number)).toContain(N.adultB);
    return [{ person: 'adultB', actor: /^person:/, detail: { action: 'subscriptions', level: 'low' } }];
  },
  disclosure: async () => {
    // A requester of one authority files, an approver of another approves (released once the log's
    // checkpoint covers it), and the requester views the release: the person's identity is opened.
    await hostedFlowOnce();
    const ring = await hub.hub.ring();
    const signingKey = loadLogKey({ mode: 'demo', dataDir: hub.dataDir, publicUrl: hub.url, env: {} });
    const deps: DisclosureDeps = {
      pool: hub.hub.pool, ring: () => hub.hub.ring(), log: createTransparencyLog({ pool: hub.hub.pool, dataDir: hub.dataDir, signingKey }),
      sms: outboxSmsGateway(hub.hub.pool, () => hub.hub.ring()), config: { officialPerDay: 8, authorityPerDay: 50, expiryDays: 7 },
    };
    const official = async (authorityId: string, name: string, roles: string[]): Promise<Official> => {
      const { official: o } = await createOfficial(hub.hub.pool, ring, hub.url, { authorityId, name, roles });
      return { id: o.id, name: o.name, authorityId: o.authorityId, authorityName: o.authorityName, authorityKind: o.authorityKind, roles: o.roles };
    };
    const police = await createAuthority(hub.hub.pool, { name: 'Purposes police', kind: 'police' });
    const procuracy = await createAuthority(hub.hub.pool, { name: 'Purposes procuracy', kind: 'procuracy' });
    const requester = await official(police.id, 'Requester', ['requester']);
    const approver = await official(procuracy.id, 'Approver', ['approver']);
    const provider = (await hub.hub.pool.query<{ id: string }>(`SELECT id FROM providers WHERE name = 'Purposes Statutory'`)).rows[0]!.id;
    const filed = await submitRequest(deps, requester, {
      providerId: provider, accountRef: 'minor-1', legalBasis: 'Bộ luật Tố tụng hình sự 2015, Điều 88', caseReference: 'PURPOSES-1',
      reasons: 'The account posted threats against a named person; the identity is needed to summon its holder.', asks: ['identity'],
    });
    expect((await approveRequest(deps, approver, filed.id)).status).toBe('released');
    await viewRelease(deps, requester, filed.id);
    // The person sees it in their full history (no seal), not at low.
    const session = { personId: people.minor!, method: 'eid' as const, expiresAt: new Date() };
    const citizen = { pool: hub.hub.pool, ring: () => hub.hub.ring(), sealedDisclosures: (id: string) => sealedRequestIds(hub.hub.pool, id) };
    expect((await listAccess(citizen, { ...session, level: 'substantial' })).records.some((r) => r.purpose === 'disclosure' && r.what.request_id === filed.id)).toBe(true);
    expect((await listAccess(citizen, { ...session, level: 'low' })).records.some((r) => r.purpose === 'disclosure')).toBe(false);
    return [{ person: 'minor', actor: /^authority:/, detail: { authority: 'Purposes police', request_id: filed.id, asks: ['identity'], case_reference: 'PURPOSES-1' } }];
  },
};

let carrierKey = '';

/** The trigger of each batch purpose, in the order they run. */
const BATCH_TRIGGERS: Record<BatchPurpose, Trigger> = {
  registry_import: async () => {
    await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
    for (const name of Object.keys(PEOPLE) as (keyof typeof PEOPLE)[]) people[name] = (await findPersonIdByPersonalId(hub.hub.pool, await hub.hub.ring(), PEOPLE[name]))!;
    return { run: true, actor: /.+/, detail: {} };
  },
  subscription_events_import: async () => {
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, `${JSON.stringify({ event_id: 'e-1', type: 'device_changed', msisdn: N.oldSimChange, at: new Date(Date.now() - 200 * 3_600_000).toISOString() })}\n`);
    const summary = await applySubscriptionEvents({ pool: hub.hub.pool, ring: await hub.hub.ring(), carrier: 'vinaphone', path: file, rejectsPath: join(dir, 'events.rejects') });
    expect(summary.rejected, readFileSync(join(dir, 'events.rejects'), 'utf8')).toBe(0);
    return { run: true, actor: /.+/ };
  },
  reconciliation: async () => {
    await (await startReconciliation(hub.hub.pool, await hub.hub.ring(), 'purposes-test')).done;
    return { run: true, actor: /^purposes-test$/ };
  },
  action_list_export: async () => {
    const carrier = await admin('/v1/admin/providers', { name: 'Purposes VinaPhone', kind: 'carrier', carrier: 'vinaphone' });
    carrierKey = carrier.api_key;
    const list = await fetch(`${hub.url}/v1/carrier/action-list`, { headers: { authorization: `Bearer ${carrierKey}` } });
    expect(list.status).toBe(200);
    expect(await list.text()).toContain(`${N.noHolder},NO_HOLDER`);
    return { run: true, actor: /^provider:/, detail: { carrier: 'vinaphone' } };
  },
  minor_age_check: async () => {
    await hostedFlowOnce();
    await endMinorities(hub.hub.pool, await hub.hub.ring());
    return { run: true, actor: /^system:minor-accounts$/ };
  },
  key_rotation: async () => {
    await addKeyVersion(hub.hub.pool, hub.hub.config.masterKeys[0]!, 'data');
    await completeKeyWork(hub.hub.pool, await hub.hub.ring({ fresh: true }), 'purposes-test');
    return { run: true, actor: /^purposes-test$/ };
  },
};

async function watermark(): Promise<string> {
  return (await hub.hub.pool.query<{ m: string }>('SELECT coalesce(max(id), 0)::text AS m FROM access_records')).rows[0]!.m;
}

async function recordsSince(mark: string, purpose: string): Promise<{ person_id: string | null; actor: string; run_id: string | null; detail: Record<string, unknown> }[]> {
  return (await hub.hub.pool.query('SELECT person_id, actor, run_id, detail FROM access_records WHERE id > $1 AND purpose = $2 ORDER BY id', [mark, purpose])).rows;
}

beforeAll(async () => {
  hub = await startTestHub({ demo: true, publicPort: true });
  dir = mkdtempSync(join(tmpdir(), 'idbind-purposes-'));
}, 120_000);
afterAll(async () => {
  await hub?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('every access purpose is exercised and leaves its records', () => {
  it('has a trigger for every purpose the code declares, and none for a purpose it does not', () => {
    expect(Object.keys(PERSON_TRIGGERS).sort()).toEqual([...PERSON_PURPOSES].sort());
    expect(Object.keys(BATCH_TRIGGERS).sort()).toEqual([...BATCH_PURPOSES].sort());
  });

  for (const purpose of Object.keys(BATCH_TRIGGERS) as BatchPurpose[]) {
    it(`batch purpose ${purpose}: one record for the run, about no person`, async () => {
      const mark = await watermark();
      const expected = await BATCH_TRIGGERS[purpose]() as Extract<Expected, { run: true }>;
      const records = await recordsSince(mark, purpose);
      expect(records.length, `${purpose} leaves one record per run`).toBeGreaterThanOrEqual(1);
      for (const r of records) {
        expect(r.person_id).toBeNull();
        expect(r.actor).toMatch(expected.actor);
        if (expected.detail) expect(r.detail).toMatchObject(expected.detail);
      }
    });
  }

  for (const purpose of Object.keys(PERSON_TRIGGERS) as PersonPurpose[]) {
    const trigger = PERSON_TRIGGERS[purpose];
    it(`person purpose ${purpose}: a record for each person it is about, with who and what`, async () => {
      // The hosted flow runs once for several purposes: its records are looked for from before it.
      const mark = flowDone ? '0' : await watermark();
      const expected = await trigger() as Exclude<Expected, { run: true }>;
      const records = await recordsSince(mark, purpose);
      for (const e of expected) {
        const mine = records.filter((r) => r.person_id === people[e.person] && e.actor.test(r.actor) && (!e.detail || matches(r.detail, e.detail)));
        expect(mine.length, `${purpose} about ${e.person}: ${JSON.stringify(records)}`).toBeGreaterThanOrEqual(1);
      }
      // A record about a person names no personal value (DESIGN.md invariant 2): no number, no
      // personal ID. Ids are taken out first: a UUID's last group is all digits about once in 280.
      for (const r of records) expect(JSON.stringify(r.detail).replace(UUID_TEXT, '<id>')).not.toMatch(/\+84\d{9}|\b\d{12}\b/);
    });
  }
});

function matches(actual: Record<string, unknown>, expected: Record<string, unknown>): boolean {
  try {
    expect(actual).toMatchObject(expected);
    return true;
  } catch {
    return false;
  }
}
