/**
 * Verification statistics (issue 3 "SDK and console": started, confirmed, failed by reason) count
 * a verification whose code expired unconfirmed, the commonest failure (the person never typed the
 * code), as `expired`. They counted it only when the platform happened to call confirm after the
 * expiry; the maintenance sweep, which expires every other one, counted nothing, so the console
 * showed verifications started that neither succeeded nor failed. Each expiry counts once, whoever
 * notices it first.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, startTestHub, type TestHub, type TestPlatform } from '../support/hub.ts';
import { many, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { startReconciliation } from '../../src/registry/reconciliation/reconciliation-service.ts';
import { runVerificationMaintenance } from '../../src/verification/verification-maintenance.ts';

let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ demo: true, listen: false });
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  await (await startReconciliation(hub.hub.pool, await hub.hub.ring(), 'test')).done;
});
afterAll(async () => hub.stop());

async function start(p: TestPlatform, accountRef: string, phone: string): Promise<string> {
  const r = await hub.app.inject({ method: 'POST', url: '/v1/verifications', headers: { ...p.auth, 'idempotency-key': randomUUID() }, payload: { account_ref: accountRef, phone } });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().id;
}

async function expireCode(id: string): Promise<void> {
  await hub.hub.pool.query(`UPDATE verifications SET code_expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
}

async function failed(p: TestPlatform): Promise<Record<string, number>> {
  const r = await hub.app.inject({ url: '/v1/provider/verification-stats?days=2', headers: p.auth });
  expect(r.statusCode, r.body).toBe(200);
  const days = r.json().days as { failed: Record<string, number> }[];
  return days.reduce<Record<string, number>>((all, d) => {
    for (const [k, n] of Object.entries(d.failed)) all[k] = (all[k] ?? 0) + n;
    return all;
  }, {});
}

const sweep = () => runVerificationMaintenance(hub.hub.pool, undefined, () => undefined);

describe('expired verifications in the statistics', () => {
  it('counts one that the sweep expires, once, and not again when the platform then confirms it', async () => {
    const p = await createTestPlatform(hub, 'Expiry Stats A', { limits: { accounts_per_person: 100 } });
    const id = await start(p, 'exp-a', many(5));
    await expireCode(id);
    expect((await sweep()).expired).toBeGreaterThanOrEqual(1);
    expect(await failed(p)).toEqual({ expired: 1 });
    const late = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/confirm`, headers: p.auth, payload: { code: '000000' } });
    expect(late.json().code).toBe('CODE_EXPIRED');
    await sweep();
    expect(await failed(p)).toEqual({ expired: 1 });
  });

  it('counts one that a confirm finds expired, once, and the sweep does not count it again', async () => {
    const p = await createTestPlatform(hub, 'Expiry Stats B', { limits: { accounts_per_person: 100 } });
    const id = await start(p, 'exp-b', many(6));
    await expireCode(id);
    const late = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/confirm`, headers: p.auth, payload: { code: '000000' } });
    expect(late.json().code).toBe('CODE_EXPIRED');
    await sweep();
    expect(await failed(p)).toEqual({ expired: 1 });
  });

  it('counts every provider\'s expiries under that provider', async () => {
    const p = await createTestPlatform(hub, 'Expiry Stats C', { limits: { accounts_per_person: 100 } });
    const q = await createTestPlatform(hub, 'Expiry Stats D', { limits: { accounts_per_person: 100 } });
    const ids = [await start(p, 'exp-c1', many(7)), await start(p, 'exp-c2', many(8)), await start(q, 'exp-d1', many(9))];
    for (const id of ids) await expireCode(id);
    await sweep();
    expect(await failed(p)).toEqual({ expired: 2 });
    expect(await failed(q)).toEqual({ expired: 1 });
  });
});
