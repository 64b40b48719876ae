/**
 * Provider isolation checks that a hand-made mutation review of issue 3 found no test failing
 * for. The existing isolation tests read another platform's account one by one before in bulk,
 * so the bulk read was answered from the status cache and never reached its own query; here each
 * route is the first to ask for the ref.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, startTestHub, type TestHub, type TestPlatform } from '../support/hub.ts';
import { many, seedVerificationRegistry } from '../support/verification-fixture.ts';

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
  const s = await hub.app.inject({
    method: 'POST', url: '/v1/verifications', headers: { ...p.auth, 'idempotency-key': randomUUID() }, payload: { account_ref: accountRef, phone },
  });
  expect(s.statusCode, s.body).toBe(201);
  const c = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${s.json().id}/confirm`, headers: p.auth, payload: { code: await lastCode(phone) } });
  expect(c.statusCode, c.body).toBe(200);
  return c.json().pseudonym as string;
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
