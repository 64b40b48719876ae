/**
 * A verification's id is a UUID, and UUIDs are case-insensitive on input (RFC 9562 section 4):
 * a platform that stored it where it comes back in upper case (SQL Server's uniqueidentifier,
 * for one) must still reach its verification, as it reaches its webhook deliveries by an event
 * id in either case. It got VERIFICATION_NOT_FOUND (404) instead, as if the verification did not
 * exist, on the read, the resend and the confirm.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, startTestHub, type TestHub, type TestPlatform } from '../support/hub.ts';
import { many, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { startReconciliation } from '../../src/registry/reconciliation/reconciliation-service.ts';

let hub: TestHub;
let platform: TestPlatform;

beforeAll(async () => {
  hub = await startTestHub({ demo: true, listen: false });
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  await (await startReconciliation(hub.hub.pool, await hub.hub.ring(), 'test')).done;
  platform = await createTestPlatform(hub, 'Upper Case Net', { limits: { accounts_per_person: 100 } });
});
afterAll(async () => hub.stop());

async function lastCode(phone: string): Promise<string> {
  const r = await hub.app.inject({ url: `/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}` });
  return (r.json() as { text: string }[]).at(-1)!.text.match(/\b\d{6}\b/)![0];
}

describe('a verification id in upper case', () => {
  it('reads, resends and confirms the verification, answering its id as the hub gave it', async () => {
    const phone = many(3);
    const started = await hub.app.inject({
      method: 'POST', url: '/v1/verifications', headers: { ...platform.auth, 'idempotency-key': randomUUID() }, payload: { account_ref: 'upper-1', phone },
    });
    expect(started.statusCode, started.body).toBe(201);
    const id = started.json().id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const upper = id.toUpperCase();

    const read = await hub.app.inject({ url: `/v1/verifications/${upper}`, headers: platform.auth });
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json()).toMatchObject({ id, account_ref: 'upper-1', status: 'code_sent' });

    // Too soon for a resend: the verification was found (not VERIFICATION_NOT_FOUND).
    const resend = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${upper}/resend`, headers: platform.auth });
    expect(resend.json().code).toBe('RESEND_TOO_SOON');

    const confirmed = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${upper}/confirm`, headers: platform.auth, payload: { code: await lastCode(phone) } });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(confirmed.json()).toMatchObject({ account_ref: 'upper-1', status: 'verified' });
    const after = await hub.app.inject({ url: `/v1/verifications/${upper}`, headers: platform.auth });
    expect(after.json()).toMatchObject({ id, status: 'verified', result: { account_ref: 'upper-1' } });
  });

  it('is still not found for another provider, in either case', async () => {
    const other = await createTestPlatform(hub, 'Upper Case Other');
    const started = await hub.app.inject({
      method: 'POST', url: '/v1/verifications', headers: { ...platform.auth, 'idempotency-key': randomUUID() }, payload: { account_ref: 'upper-2', phone: many(4) },
    });
    const id = started.json().id as string;
    for (const asked of [id, id.toUpperCase()]) {
      const r = await hub.app.inject({ url: `/v1/verifications/${asked}`, headers: other.auth });
      expect(r.json().code).toBe('VERIFICATION_NOT_FOUND');
    }
  });
});
