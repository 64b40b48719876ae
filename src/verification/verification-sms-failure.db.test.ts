/**
 * What an SMS gateway failure costs (issue 3 "SMS gateway" and "Abuse"), through the real HTTP
 * gateway against a local receiver that refuses or takes messages on demand: a code that never
 * left spends none of the number's budget nor the platform's daily SMS budget; a refused resend
 * leaves the code the person already holds valid. Also the resend rules: every code counts for
 * its number range, three codes at most, none after the code has expired.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { many, N, seedVerificationRegistry } from '../../test/support/verification-fixture.ts';
import { loadConfig } from '../kernel/config/config.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { httpSmsGateway } from './sms/sms-gateway.ts';
import { expireVerifications } from './verification-maintenance.ts';
import { confirmCode, resendCode, startVerification, type VerificationDeps } from './verification-service.ts';

let db: TestDatabase;
let dir: string;
let receiver: Server;
/** The status the receiver answers; the texts it took, per number. */
let answer = 204;
const received = new Map<string, string[]>();

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-smsfail-'));
  await seedVerificationRegistry(db.pool, db.ring);
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (answer >= 200 && answer < 300) {
        const { to, text } = JSON.parse(body) as { to: string; text: string };
        received.set(to, [...(received.get(to) ?? []), text]);
      }
      res.statusCode = answer;
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await new Promise((r) => receiver.close(r));
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** A hub process's verification dependencies on `on` (this file's database unless given), sending through the receiver. */
function deps(env: Record<string, string> = {}, on: TestDatabase = db): VerificationDeps {
  const port = (receiver.address() as { port: number }).port;
  const config = loadConfig({ mode: 'production', env: { IDBIND_DATA_DIR: dir, IDBIND_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'), IDBIND_SMS_URL: `http://127.0.0.1:${port}/sms`, ...env }, warn: () => undefined });
  return {
    pool: on.pool, ring: async () => on.ring, config: config.verification, smsTemplate: config.sms.template,
    sms: httpSmsGateway({ ...config.sms, url: config.sms.url! }, { allowLoopback: true }),
  };
}

/** Waits out the last 10 s of a minute, so that hits meant for one window of a minute fall in one (a loaded machine may take seconds over them). */
async function awayFromMinuteEnd(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 10_000) await new Promise((r) => setTimeout(r, left + 100));
}

async function platform(name: string, limits: Record<string, number> = {}): Promise<Provider> {
  return (await createProvider(db.pool, db.ring, { allowLoopback: false }, { name, kind: 'platform', limits: { accountsPerPerson: 100, ...limits } })).provider;
}

function lastCode(e164: string): string {
  return received.get(e164)!.at(-1)!.match(/\b\d{6}\b/)![0];
}

async function count(bucketLike: string): Promise<number> {
  const r = await db.pool.query<{ n: number }>('SELECT coalesce(sum(count), 0)::int AS n FROM rate_counters WHERE bucket LIKE $1', [bucketLike]);
  return r.rows[0]!.n;
}

/** Lets the next resend of `id` come (it waits 30 s after a code). */
async function waitOutResendInterval(id: string): Promise<void> {
  await db.pool.query(`UPDATE verifications SET last_sent_at = last_sent_at - interval '31 seconds' WHERE id = $1`, [id]);
}

describe('a code the gateway refused', () => {
  it("spends none of the number's starts nor the platform's SMS budget, and tells the platform to retry", async () => {
    const d = deps({ IDBIND_LIMIT_NUMBER_PER_HOUR: '2' });
    const p = await platform('Outage Net', { smsPerDay: 3 });
    const before = await count('verify:number-h:%');
    answer = 503;
    for (let i = 0; i < 4; i++) {
      const e = await startVerification(d, p, { accountRef: `outage-${i}`, phone: N.adult2, clientIp: '10.1.0.1' }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'SMS_GATEWAY_UNAVAILABLE', extensions: { retry_after: 30 } });
      // The gateway's own answer is the operator's (logged), not the platform's.
      expect((e as Error).message).not.toMatch(/503/);
    }
    expect(await count('verify:number-h:%')).toBe(before);
    expect(await count(`sms:provider:${p.id}`)).toBe(0);
    answer = 204;
    // Four refused starts against a limit of two an hour and a budget of three a day: still open.
    const ok = await startVerification(d, p, { accountRef: 'outage-ok', phone: N.adult2, clientIp: '10.1.0.1' });
    expect(ok.status).toBe('code_sent');
    expect(await count('verify:number-h:%')).toBe(before + 1);
    expect(await count(`sms:provider:${p.id}`)).toBe(1);
    const failed = await db.pool.query('SELECT status, failure FROM verifications WHERE provider_id = $1 ORDER BY created_at', [p.id]);
    expect(failed.rows.slice(0, 4)).toEqual(Array(4).fill({ status: 'failed', failure: 'sms_failed' }));
  });

  it('on a resend, leaves the code the person already holds valid and gives the resend back', async () => {
    const d = deps();
    const p = await platform('Resend Outage Net');
    answer = 204;
    const started = await startVerification(d, p, { accountRef: 'resend-outage', phone: many(10), clientIp: '10.1.0.2' });
    const held = lastCode(many(10));
    await waitOutResendInterval(started.id);
    answer = 500;
    await expect(resendCode(d, p, started.id, { clientIp: '10.1.0.2' })).rejects.toMatchObject({ code: 'SMS_GATEWAY_UNAVAILABLE' });
    const row = await db.pool.query('SELECT sends, status FROM verifications WHERE id = $1', [started.id]);
    expect(row.rows[0]).toEqual({ sends: 1, status: 'code_sent' });
    // The wait is given back too: the platform may retry at once.
    answer = 204;
    await resendCode(d, p, started.id, { clientIp: '10.1.0.2' });
    expect(received.get(many(10))).toHaveLength(2);
    const fresh = lastCode(many(10));
    if (fresh !== held) await expect(confirmCode(d, p, started.id, held)).rejects.toMatchObject({ code: 'CODE_INVALID' });
    expect(await confirmCode(d, p, started.id, fresh)).toMatchObject({ status: 'verified' });
  });

  it('keeps the held code confirmable after a refused resend', async () => {
    const d = deps();
    const p = await platform('Held Code Net');
    answer = 204;
    const started = await startVerification(d, p, { accountRef: 'held', phone: many(11), clientIp: '10.1.0.3' });
    const held = lastCode(many(11));
    await waitOutResendInterval(started.id);
    answer = 502;
    await expect(resendCode(d, p, started.id, { clientIp: '10.1.0.3' })).rejects.toMatchObject({ code: 'SMS_GATEWAY_UNAVAILABLE' });
    answer = 204;
    expect(await confirmCode(d, p, started.id, held)).toMatchObject({ status: 'verified', account_ref: 'held' });
  });
});

describe('resends', () => {
  it('send three codes at most: the fourth is RESEND_LIMIT_REACHED', async () => {
    const d = deps();
    const p = await platform('Three Codes Net');
    answer = 204;
    const started = await startVerification(d, p, { accountRef: 'three', phone: many(12), clientIp: '10.1.0.4' });
    for (let i = 0; i < 2; i++) {
      await waitOutResendInterval(started.id);
      await resendCode(d, p, started.id, { clientIp: '10.1.0.4' });
    }
    await waitOutResendInterval(started.id);
    // 409, not 429: the verification's state refuses it, and no wait changes that (a 429 tells
    // generic HTTP clients to try again later).
    await expect(resendCode(d, p, started.id, { clientIp: '10.1.0.4' })).rejects.toMatchObject({ code: 'RESEND_LIMIT_REACHED', status: 409 });
    expect(received.get(many(12))).toHaveLength(3);
  });

  it('refuse an expired code with CODE_EXPIRED, before and after the sweep marks it', async () => {
    const d = deps();
    const p = await platform('Expired Net');
    answer = 204;
    const started = await startVerification(d, p, { accountRef: 'expired', phone: many(13), clientIp: '10.1.0.5' });
    await db.pool.query(`UPDATE verifications SET code_expires_at = now() - interval '1 second', last_sent_at = now() - interval '5 minutes' WHERE id = $1`, [started.id]);
    await expect(resendCode(d, p, started.id, { clientIp: '10.1.0.5' })).rejects.toMatchObject({ code: 'CODE_EXPIRED' });
    expect(await expireVerifications(db.pool)).toBeGreaterThanOrEqual(1);
    await expect(resendCode(d, p, started.id, { clientIp: '10.1.0.5' })).rejects.toMatchObject({ code: 'CODE_EXPIRED' });
    expect(received.get(many(13))).toHaveLength(1);
  });

  it("count for the number's range, as starts do (SMS pumping)", async () => {
    // Its own database: the range's bucket is shared by every test of this file.
    const own = await createTestDatabase();
    try {
      await seedVerificationRegistry(own.pool, own.ring);
      // The whole range to one provider: its share (verification-prefix-share.db.test.ts) would refuse first.
      const d = deps({ IDBIND_LIMIT_PREFIX_PER_MINUTE: '2', IDBIND_LIMIT_PREFIX_SHARE_PERCENT: '100' }, own);
      const p = (await createProvider(own.pool, own.ring, { allowLoopback: false }, { name: 'Range Net', kind: 'platform', limits: { accountsPerPerson: 100 } })).provider;
      answer = 204;
      await awayFromMinuteEnd();
      const started = await startVerification(d, p, { accountRef: 'range-1', phone: many(14), clientIp: '10.1.0.6' });
      await own.pool.query(`UPDATE verifications SET last_sent_at = last_sent_at - interval '31 seconds' WHERE id = $1`, [started.id]);
      await resendCode(d, p, started.id, { clientIp: '10.1.0.6' });
      await expect(startVerification(d, p, { accountRef: 'range-2', phone: many(15), clientIp: '10.1.0.7' }))
        .rejects.toMatchObject({ code: 'RATE_LIMITED', extensions: { limit: 'number_prefix' } });
    } finally {
      await own.drop();
    }
  });
});

describe('the per-client-IP limit', () => {
  it('is per platform: one platform reaching it leaves another at the same address its own', async () => {
    const d = deps({ IDBIND_LIMIT_IP_PER_MINUTE: '2' });
    const a = await platform('Same Address A');
    const b = await platform('Same Address B');
    answer = 204;
    await awayFromMinuteEnd();
    await startVerification(d, a, { accountRef: 'ip-a1', phone: many(16), clientIp: '203.0.113.9' });
    await startVerification(d, a, { accountRef: 'ip-a2', phone: many(17), clientIp: '203.0.113.9' });
    await expect(startVerification(d, a, { accountRef: 'ip-a3', phone: many(18), clientIp: '203.0.113.9' }))
      .rejects.toMatchObject({ code: 'RATE_LIMITED', extensions: { limit: 'client_ip' } });
    // Another address at the same platform, and the same address at another platform, are open.
    expect((await startVerification(d, a, { accountRef: 'ip-a4', phone: many(18), clientIp: '203.0.113.10' })).status).toBe('code_sent');
    expect((await startVerification(d, b, { accountRef: 'ip-b1', phone: many(19), clientIp: '203.0.113.9' })).status).toBe('code_sent');
  });
});
