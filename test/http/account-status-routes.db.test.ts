/**
 * Issue 3 "Status" through HTTP at the edges of an account ref: `account_ref` is "1 to 128
 * characters of `A-Za-z0-9._:-`" (POST /v1/verifications binds such refs), so every ref a
 * platform could bind must also be readable and unbindable by `GET` and `DELETE
 * /v1/accounts/{account_ref}`; a longer one is bad input with an RFC 9457 problem and a stable
 * code (docs/errors.md), like any other invalid ref.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';

let t: TestHub;
let auth: Record<string, string>;
let providerId: string;
beforeAll(async () => {
  t = await startTestHub({ demo: true, listen: false });
  const r = await t.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: { authorization: `Bearer ${t.adminToken}` }, payload: { name: 'Long Refs Social', kind: 'platform' } });
  auth = { authorization: `Bearer ${r.json().api_key}` };
  providerId = r.json().provider.id;
});
afterAll(async () => {
  await t?.stop();
});

/** A bound account, as a verification leaves it (the binding itself is not what is tested here). */
async function bound(accountRef: string): Promise<void> {
  await t.hub.pool.query(
    `INSERT INTO accounts (id, provider_id, account_ref, method, level, status, status_reason, verified_at, status_since, pseudonym)
     VALUES (gen_random_uuid(), $1, $2, 'phone', 'low', 'verified', 'verified', now(), now(), 'pseudonym-of-long-ref')`,
    [providerId, accountRef],
  );
}

describe('account refs of every allowed length', () => {
  it.each([101, 128])('reads and unbinds an account whose ref has %i characters', async (n) => {
    const ref = `${'L'.repeat(n - 4)}${String(n).padStart(4, '0')}`;
    await bound(ref);
    const got = await t.app.inject({ url: `/v1/accounts/${ref}`, headers: auth });
    expect(got.statusCode, got.body.slice(0, 200)).toBe(200);
    expect(got.json()).toMatchObject({ account_ref: ref, status: 'verified', pseudonym: 'pseudonym-of-long-ref' });
    const del = await t.app.inject({ method: 'DELETE', url: `/v1/accounts/${ref}`, headers: auth });
    expect(del.statusCode, del.body.slice(0, 200)).toBe(204);
    expect((await t.app.inject({ url: `/v1/accounts/${ref}`, headers: auth })).json()).toMatchObject({ account_ref: ref, status: 'unverified', pseudonym: null });
  });

  it('reads a 128-character ref whose colons arrive percent-encoded (384 characters in the path)', async () => {
    const ref = ':'.repeat(124) + 'pc01';
    await bound(ref);
    const got = await t.app.inject({ url: `/v1/accounts/${ref.replaceAll(':', '%3A')}`, headers: auth });
    expect(got.statusCode, got.body.slice(0, 200)).toBe(200);
    expect(got.json()).toMatchObject({ account_ref: ref, status: 'verified' });
  });

  it.each([129, 400])('answers a ref of %i characters as REQUEST_INVALID in problem+json, without echoing it', async (n) => {
    const ref = 'x'.repeat(n);
    for (const method of ['GET', 'DELETE'] as const) {
      const r = await t.app.inject({ method, url: `/v1/accounts/${ref}`, headers: auth });
      expect(r.statusCode).toBe(400);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.json()).toMatchObject({ code: 'REQUEST_INVALID', status: 400 });
      expect(r.body).not.toContain(ref);
    }
  });
});
