/**
 * The start's rate limits with leased hot buckets (src/kernel/db/rate-leases.ts), across two hub
 * "processes" (two pools on one database): a provider's limit and its daily SMS budget are never
 * exceeded, a provider over its own limit takes nothing from the shared buckets, and the
 * per-number budgets stay exact.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { many, N, seedVerificationRegistry } from '../../test/support/verification-fixture.ts';
import { loadConfig } from '../kernel/config/config.ts';
import { createPool } from '../kernel/db/pool.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { outboxSmsGateway } from './sms/sms-outbox.ts';
import { startVerification, type VerificationDeps } from './verification-service.ts';

let db: TestDatabase;
let dir: string;
let other: pg.Pool;
let processes: VerificationDeps[];

beforeAll(async () => {
  db = await createTestDatabase();
  other = createPool(db.url, 8);
  dir = mkdtempSync(join(tmpdir(), 'idbind-limits-'));
  await seedVerificationRegistry(db.pool, db.ring);
  const config = loadConfig({ mode: 'demo', env: { IDBIND_DATA_DIR: dir, IDBIND_LIMIT_NUMBER_PER_HOUR: '1000', IDBIND_LIMIT_NUMBER_PER_DAY: '1000' }, warn: () => undefined });
  processes = [db.pool, other].map((pool) => ({
    pool, ring: async () => db.ring, config: config.verification, smsTemplate: config.sms.template, sms: outboxSmsGateway(pool, async () => db.ring),
  }));
});
afterAll(async () => {
  await other.end();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function platform(name: string, limits: Record<string, number>): Promise<Provider> {
  return (await createProvider(db.pool, db.ring, { allowLoopback: false }, { name, kind: 'platform', limits: { accountsPerPerson: 100, ...limits } })).provider;
}

/** `n` starts at once, alternating between the two processes; the error codes (or 'started'). */
async function starts(provider: Provider, n: number, ip = '10.0.0.1'): Promise<string[]> {
  const settled = await Promise.allSettled(Array.from({ length: n }, (_, i) =>
    startVerification(processes[i % 2]!, provider, { accountRef: `acct-${provider.name}-${i}`, phone: many(i % 20), clientIp: ip })));
  return settled.map((s) => (s.status === 'fulfilled' ? 'started' : `${(s.reason as { code: string }).code}:${(s.reason as { extensions?: { limit?: string } }).extensions?.limit ?? ''}`));
}

async function count(bucketLike: string): Promise<number> {
  const r = await db.pool.query<{ n: number }>('SELECT coalesce(sum(count), 0)::int AS n FROM rate_counters WHERE bucket LIKE $1', [bucketLike]);
  return r.rows[0]!.n;
}

describe('start limits across two processes', () => {
  it("never exceed a provider's limit per minute, and one over it takes nothing from the shared buckets", async () => {
    const p = await platform('Three Net', { verificationsPerMinute: 3 });
    await awayFromMinuteEnd();
    const ipBefore = await count('verify:ip:%');
    const numberBefore = await count('verify:number-h:%');
    const outcomes = await starts(p, 12, '10.0.0.3');
    expect(outcomes.filter((o) => o === 'started')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'RATE_LIMITED:provider')).toHaveLength(9);
    expect(await count(`verify:provider:${p.id}`)).toBe(3);
    // Only the three admitted starts reached the buckets shared with other providers.
    expect(await count('verify:number-h:%')).toBe(numberBefore + 3);
    const ipAfter = await count('verify:ip:%');
    expect(ipAfter - ipBefore).toBeGreaterThanOrEqual(3); // leased: the block may hold a few more, unspent
    const codes = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM verifications WHERE provider_id = $1', [p.id]);
    expect(codes.rows[0]!.n).toBe(3);
  });

  it("never send more codes than the provider's daily SMS budget", async () => {
    const p = await platform('Budget Net', { smsPerDay: 4 });
    const outcomes = await starts(p, 10, '10.0.0.4');
    expect(outcomes.filter((o) => o === 'started')).toHaveLength(4);
    expect(outcomes.filter((o) => o.startsWith('SMS_BUDGET_EXHAUSTED'))).toHaveLength(6);
    expect(await count(`sms:provider:${p.id}`)).toBe(4);
    // A full budget answers before eligibility: an unknown number is not probed. It says when to
    // come back: at the end of the day's window, midnight in Vietnam (rate-counters.ts windowStartSql).
    const refused = await startVerification(processes[0]!, p, { accountRef: 'x', phone: N.unknown, clientIp: '10.0.0.4' }).then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ code: 'SMS_BUDGET_EXHAUSTED' });
    const midnight = await db.pool.query<{ s: number }>(
      `SELECT extract(epoch FROM (date_trunc('day', now() AT TIME ZONE 'Asia/Ho_Chi_Minh') + interval '1 day') AT TIME ZONE 'Asia/Ho_Chi_Minh' - now())::float8 AS s`);
    const retryAfter = (refused as { extensions?: { retry_after?: number } }).extensions?.retry_after;
    expect(retryAfter).toBeGreaterThan(0);
    expect(Math.abs(retryAfter! - midnight.rows[0]!.s)).toBeLessThan(120); // the lease's drift margin is 106 s for a day
  });

  it('keep the per-number limits exact', async () => {
    const p = await platform('Number Net', {});
    const config = loadConfig({ mode: 'demo', env: { IDBIND_DATA_DIR: dir, IDBIND_LIMIT_NUMBER_PER_HOUR: '2' }, warn: () => undefined });
    const strict = processes.map((d) => ({ ...d, config: config.verification }));
    const settled = await Promise.allSettled(Array.from({ length: 6 }, (_, i) =>
      startVerification(strict[i % 2]!, p, { accountRef: `n-${i}`, phone: N.adult3, clientIp: '10.0.0.5' })));
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(2);
    for (const s of settled.filter((x) => x.status === 'rejected')) expect(s.reason).toMatchObject({ code: 'RATE_LIMITED', extensions: { limit: 'number' } });
  });
});

/** Waits out the last 10 s of a minute, so that hits meant for one window of a minute fall in one (a loaded machine may take seconds over them). */
async function awayFromMinuteEnd(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 10_000) await new Promise((r) => setTimeout(r, left + 100));
}
