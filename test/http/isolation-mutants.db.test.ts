/**
 * Provider isolation and account checks that a hand-made mutation review of issue 3 found no test
 * failing for. The existing isolation tests read another platform's account one by one before in
 * bulk, so the bulk read was answered from the status cache and never reached its own query; here
 * each route is the first to ask for the ref. Also: a repeated DELETE emits no second event, and a
 * verification's recovered result never shows the pseudonym of a person the account was re-bound to.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, startTestHub, type TestHub, type TestPlatform } from '../support/hub.ts';
import { many, N, seedVerificationRegistry } from '../support/verification-fixture.ts';

let hub: TestHub;
let owner: TestPlatform;
let other: TestPlatform;

beforeAll(async () => {
  hub = await startTestHub({ demo: true, listen: false });
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  owner = await createTestPlatform(hub, 'Owner Net');
  other = await createTestPlatform(hub, 'Other Net');
}, 180_000);
afterAll(async () => hub?.stop());

async function lastCode(phone: string): Promise<string> {
  const r = await hub.app.inject({ url: `/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}` });
  return (r.json() as { text: string }[]).at(-1)!.text.match(/\b\d{6}\b/)![0];
}

/** Starts and confirms a verification: the account is bound at `p`. */
async function verify(p: TestPlatform, accountRef: string, phone: string): Promise<string> {
  return (await verifyWithId(p, accountRef, phone)).pseudonym;
}

async function verifyWithId(p: TestPlatform, accountRef: string, phone: string): Promise<{ id: string; pseudonym: string }> {
  const s = await hub.app.inject({
    method: 'POST', url: '/v1/verifications', headers: { ...p.auth, 'idempotency-key': randomUUID() }, payload: { account_ref: accountRef, phone },
  });
  expect(s.statusCode, s.body).toBe(201);
  const c = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${s.json().id}/confirm`, headers: p.auth, payload: { code: await lastCode(phone) } });
  expect(c.statusCode, c.body).toBe(200);
  return { id: s.json().id as string, pseudonym: c.json().pseudonym as string };
}

const unverified = (ref: string) => ({ account_ref: ref, status: 'unverified', level: null, pseudonym: null, since: null, minor: false });

describe("bulk status never answers another platform's account", () => {
  // Kills: the provider dropped from the bulk status query (binding-repository.ts accountStatuses).
  it('as JSON: a ref bound at another platform, asked in bulk first, is unverified with no pseudonym', async () => {
    const pseudonym = await verify(owner, 'iso-bulk-json', many(0));
    const r = await hub.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: other.auth, payload: { account_refs: ['iso-bulk-json'] } });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({ accounts: [unverified('iso-bulk-json')] });
    expect(r.body).not.toContain(pseudonym);
    // The owner reads it, in bulk too.
    const mine = await hub.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: owner.auth, payload: { account_refs: ['iso-bulk-json'] } });
    expect(mine.json().accounts[0]).toMatchObject({ status: 'verified', pseudonym });
  });

  it('as NDJSON: the same', async () => {
    const pseudonym = await verify(owner, 'iso-bulk-ndjson', many(1));
    const r = await hub.app.inject({
      method: 'POST', url: '/v1/accounts/status', headers: { ...other.auth, 'content-type': 'application/x-ndjson' }, payload: `${JSON.stringify({ account_ref: 'iso-bulk-ndjson' })}\n`,
    });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.body.trim().split('\n').map((l) => JSON.parse(l))).toEqual([unverified('iso-bulk-ndjson')]);
    expect(r.body).not.toContain(pseudonym);
  });

  it('one by one, asked first, the same', async () => {
    const pseudonym = await verify(owner, 'iso-single', many(2));
    const r = await hub.app.inject({ url: '/v1/accounts/iso-single', headers: other.auth });
    expect(r.json()).toEqual(unverified('iso-single'));
    expect(r.body).not.toContain(pseudonym);
  });
});

describe('unbinding and re-binding', () => {
  // Kills: `a.status <> 'unbound'` dropped from the unbinding (binding-repository.ts unbindAccount):
  // a repeated DELETE wrote a second account.unbound and moved the sequence on.
  it('a repeated DELETE answers 204 and writes no second account.unbound, the sequence unmoved', async () => {
    await verify(owner, 'unbind-twice', many(4));
    const events = async () => (await hub.hub.pool.query<{ type: string; sequence: number }>(
      `SELECT type, (payload->>'sequence')::int AS sequence FROM events WHERE provider_id = $1 AND payload->>'account_ref' = 'unbind-twice' ORDER BY 2`, [owner.id])).rows;
    for (let i = 0; i < 3; i++) expect((await hub.app.inject({ method: 'DELETE', url: '/v1/accounts/unbind-twice', headers: owner.auth })).statusCode).toBe(204);
    expect(await events()).toEqual([{ type: 'account.verified', sequence: 1 }, { type: 'account.unbound', sequence: 2 }]);
    const seq = await hub.hub.pool.query(`SELECT sequence::int AS s FROM accounts WHERE provider_id = $1 AND account_ref = 'unbind-twice'`, [owner.id]);
    expect(seq.rows).toEqual([{ s: 2 }]);
  });

  // Kills: the person check dropped from getVerification's recovered result
  // (verification-service.ts `a.person_id === row.person_id`).
  it("a verification's recovered result disappears once its account is re-bound to another person, never showing that person's pseudonym", async () => {
    const first = await verifyWithId(owner, 'rebind-1', many(5));
    const before = await hub.app.inject({ url: `/v1/verifications/${first.id}`, headers: owner.auth });
    expect(before.json()).toMatchObject({ status: 'verified', result: { account_ref: 'rebind-1', pseudonym: first.pseudonym } });
    const second = await verifyWithId(owner, 'rebind-1', N.adultB);
    expect(second.pseudonym).not.toBe(first.pseudonym);
    const after = await hub.app.inject({ url: `/v1/verifications/${first.id}`, headers: owner.auth });
    expect(after.json().status).toBe('verified');
    expect(after.json().result).toBeUndefined();
    expect(after.body).not.toContain(second.pseudonym);
    expect((await hub.app.inject({ url: `/v1/verifications/${second.id}`, headers: owner.auth })).json().result).toMatchObject({ pseudonym: second.pseudonym });
  });
});
