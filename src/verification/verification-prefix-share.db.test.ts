/**
 * Fairness of the shared rate limits (issue 3 "Abuse"): the number-prefix limit is a ceiling
 * shared by every provider against SMS pumping, but one provider may spend only its share of it
 * (`IDBIND_LIMIT_PREFIX_SHARE_PERCENT`), so it cannot rate-limit every other platform's users in
 * that range. A resend checks the provider's own buckets (its limit per minute, its prefix share)
 * first, as a start does, and a resend they refuse spends nothing shared.
 *
 * Each test has its own database: the range's bucket (every fixture number is in +84912) would
 * otherwise carry over between tests within a minute.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { many, openVerificationTestbed, type VerificationTestbed } from '../../test/support/verification-fixture.ts';
import { rateLeases } from '../kernel/db/rate-leases.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { readOutbox } from './sms/sms-outbox.ts';
import { resendCode, startVerification } from './verification-service.ts';

const PREFIX = '+84912';
let bed: VerificationTestbed | undefined;

afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

async function open(env: Record<string, string>): Promise<VerificationTestbed> {
  bed = await openVerificationTestbed('Share Net', { IDBIND_LIMIT_NUMBER_PER_HOUR: '1000', IDBIND_LIMIT_NUMBER_PER_DAY: '1000', ...env });
  return bed;
}

async function platform(b: VerificationTestbed, name: string, limits: Record<string, number> = {}): Promise<Provider> {
  return (await createProvider(b.db.pool, b.db.ring, { allowLoopback: false }, { name, kind: 'platform', limits: { accountsPerPerson: 100, ...limits } })).provider;
}

/** A start's outcome: 'started', or its error code and the limit it names. */
async function start(b: VerificationTestbed, p: Provider, i: number): Promise<string> {
  try {
    await startVerification(b.deps, p, { accountRef: `acct-${p.name}-${i}`, phone: many(i), clientIp: '10.9.0.1' });
    return 'started';
  } catch (e) {
    const err = e as { code: string; extensions?: { limit?: string } };
    return `${err.code}:${err.extensions?.limit ?? ''}`;
  }
}

/**
 * Hits spent from the buckets named like `like`: counted in PostgreSQL minus the tokens this
 * process leased and still holds (a leased token is spent only when handed out).
 */
async function spent(b: VerificationTestbed, like: string): Promise<number> {
  const r = await b.db.pool.query<{ bucket: string; n: number }>(
    'SELECT bucket, sum(count)::int AS n FROM rate_counters WHERE bucket LIKE $1 GROUP BY bucket', [like]);
  const leases = rateLeases(b.db.pool);
  return r.rows.reduce((sum, row) => sum + row.n - leases.held(row.bucket), 0);
}

/** What every shared bucket of a start or resend has spent (client IP, prefix, number, SMS budget). */
async function sharedSpent(b: VerificationTestbed): Promise<Record<string, number>> {
  return {
    client_ip: await spent(b, 'verify:ip:%'),
    number_prefix: await spent(b, `verify:prefix:${PREFIX}`),
    number_hour: await spent(b, 'verify:number-h:%'),
    number_day: await spent(b, 'verify:number-d:%'),
    sms_per_day: await spent(b, 'sms:provider:%'),
  };
}

/** Lets the code sent by a start be resent (30 s apart). */
async function resendable(b: VerificationTestbed, id: string): Promise<void> {
  await b.db.pool.query(`UPDATE verifications SET last_sent_at = last_sent_at - interval '31 seconds' WHERE id = $1`, [id]);
}

describe('the number-prefix limit', () => {
  it("is shared, but one provider spends only its share: another provider's users in the range still verify", async () => {
    // A range of 8 per minute: one provider may take 4 of it (the default share, 50 %).
    const b = await open({ IDBIND_LIMIT_PREFIX_PER_MINUTE: '8' });
    const a = await platform(b, 'Pumping Net');
    const other = await platform(b, 'Bystander Net');
    const third = await platform(b, 'Third Net');
    await awayFromMinuteEnd();
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) outcomes.push(await start(b, a, i));
    expect(outcomes.filter((o) => o === 'started')).toHaveLength(4);
    expect(outcomes.filter((o) => o === 'RATE_LIMITED:number_prefix_share')).toHaveLength(6);
    // The refused starts spent nothing shared: the range's bucket counts A's four codes only.
    expect(await spent(b, `verify:prefix:${PREFIX}`)).toBe(4);
    expect(await spent(b, 'verify:number-h:%')).toBe(4);
    expect(await spent(b, `verify:prefix-share:${a.id}:${PREFIX}`)).toBe(4);

    // Another provider's user with a number in that range still verifies, up to its own share.
    for (let i = 10; i < 14; i++) expect(await start(b, other, i)).toBe('started');
    expect(await readOutbox(b.db.pool, b.db.ring, many(10))).toHaveLength(1);
    // The range's ceiling still holds for everyone together (SMS pumping).
    expect(await start(b, third, 14)).toBe('RATE_LIMITED:number_prefix');
    expect(await spent(b, `verify:prefix:${PREFIX}`)).toBe(8);
  });

  it('answers the share as RATE_LIMITED with limit number_prefix_share and a Retry-After', async () => {
    const b = await open({ IDBIND_LIMIT_PREFIX_PER_MINUTE: '4', IDBIND_LIMIT_PREFIX_SHARE_PERCENT: '25' });
    const a = await platform(b, 'Quarter Net');
    await awayFromMinuteEnd();
    expect(await start(b, a, 0)).toBe('started');
    const refused = startVerification(b.deps, a, { accountRef: 'q-1', phone: many(1), clientIp: '10.9.0.1' });
    await expect(refused).rejects.toMatchObject({
      code: 'RATE_LIMITED', status: 429, extensions: { limit: 'number_prefix_share', retry_after: expect.any(Number) as number },
    });
  });
});

describe('a resend', () => {
  it("refused by the provider's own limit spends nothing shared", async () => {
    const b = await open({});
    const p = await platform(b, 'Busy Net', { verificationsPerMinute: 2 });
    await awayFromMinuteEnd();
    const first = await startVerification(b.deps, p, { accountRef: 'busy-0', phone: many(0), clientIp: '10.9.0.1' });
    await startVerification(b.deps, p, { accountRef: 'busy-1', phone: many(1), clientIp: '10.9.0.1' });
    await resendable(b, first.id);
    const before = await sharedSpent(b);
    await expect(resendCode(b.deps, p, first.id, { clientIp: '10.9.0.1' }))
      .rejects.toMatchObject({ code: 'RATE_LIMITED', extensions: { limit: 'provider' } });
    expect(await sharedSpent(b)).toEqual(before);
    expect(await readOutbox(b.db.pool, b.db.ring, many(0))).toHaveLength(1);
  });

  it("refused by the provider's share of the range spends nothing shared", async () => {
    // A range of 4 per minute, a share of 2: two starts spend it.
    const b = await open({ IDBIND_LIMIT_PREFIX_PER_MINUTE: '4' });
    const p = await platform(b, 'Ranged Net');
    await awayFromMinuteEnd();
    const first = await startVerification(b.deps, p, { accountRef: 'ranged-0', phone: many(0), clientIp: '10.9.0.1' });
    await startVerification(b.deps, p, { accountRef: 'ranged-1', phone: many(1), clientIp: '10.9.0.1' });
    await resendable(b, first.id);
    const before = await sharedSpent(b);
    await expect(resendCode(b.deps, p, first.id, { clientIp: '10.9.0.1' }))
      .rejects.toMatchObject({ code: 'RATE_LIMITED', extensions: { limit: 'number_prefix_share' } });
    expect(await sharedSpent(b)).toEqual(before);
    expect(before.number_prefix).toBe(2);
    expect(await readOutbox(b.db.pool, b.db.ring, many(0))).toHaveLength(1);
  });
});

/** Waits out the last 10 s of a minute, so that a test's hits fall in one window of a minute. */
async function awayFromMinuteEnd(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 10_000) await new Promise((r) => setTimeout(r, left + 100));
}
