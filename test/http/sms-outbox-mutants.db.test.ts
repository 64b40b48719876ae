/**
 * Mutation review of issue 3's demo SMS outbox route: `GET /v1/dev/sms-outbox?to=PHONE` takes
 * `to` in any accepted form of the number (issue 3 "Interfaces that others' tests will rely
 * on"), and refuses a number that is not one with PHONE_INVALID rather than answering nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, startTestHub, type TestHub, type TestPlatform } from '../support/hub.ts';
import { N, seedVerificationRegistry } from '../support/verification-fixture.ts';

let hub: TestHub;
let platform: TestPlatform;

beforeAll(async () => {
  hub = await startTestHub({ demo: true, listen: false });
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  platform = await createTestPlatform(hub, 'Outbox Forms Net');
});
afterAll(async () => hub.stop());

function outbox(to: string) {
  return hub.app.inject({ url: `/v1/dev/sms-outbox?to=${encodeURIComponent(to)}` });
}

describe('GET /v1/dev/sms-outbox', () => {
  it('answers the same messages for every accepted form of the number', async () => {
    const r = await hub.app.inject({
      method: 'POST', url: '/v1/verifications', headers: { ...platform.auth, 'idempotency-key': randomUUID() }, payload: { account_ref: 'forms-1', phone: N.adult3 },
    });
    expect(r.statusCode, r.body).toBe(201);
    const national = `0${N.adult3.slice(3)}`; // 0912000013
    const canonical = (await outbox(N.adult3)).json() as { to: string; text: string }[];
    expect(canonical).toHaveLength(1);
    expect(canonical[0]!.to).toBe(N.adult3);
    expect(canonical[0]!.text).toContain('Outbox Forms Net');
    for (const form of [national, N.adult3.slice(1), `+84 ${N.adult3.slice(3, 6)} ${N.adult3.slice(6, 9)} ${N.adult3.slice(9)}`, `${national.slice(0, 4)}.${national.slice(4, 7)}.${national.slice(7)}`]) {
      const a = await outbox(form);
      expect(a.statusCode, form).toBe(200);
      expect(a.json(), form).toEqual(canonical);
    }
  });

  it('refuses a value that is not a Vietnamese mobile number with PHONE_INVALID, without echoing it', async () => {
    for (const to of ['12345', '+14155550100', 'not-a-number']) {
      const a = await outbox(to);
      expect(a.statusCode, to).toBe(400);
      expect(a.json().code, to).toBe('PHONE_INVALID');
      expect(a.body, to).not.toContain(to);
    }
  });
});
