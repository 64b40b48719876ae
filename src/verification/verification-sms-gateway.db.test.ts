/**
 * The HTTP SMS gateway failing in each way a gateway fails (issue 3 "SMS gateway" and "Abuse";
 * DESIGN.md invariant 5): what the platform gets, what the budgets keep, and that the code never
 * reaches a log line, a problem response or a metric label. The receiver is a local HTTP server
 * whose behaviour each test sets: answer a status, take the message and drop the connection
 * without an answer (the gateway may have sent it), or take it and never answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { many, N, seedVerificationRegistry } from '../../test/support/verification-fixture.ts';
import { loadConfig } from '../kernel/config/config.ts';
import { createPool } from '../kernel/db/pool.ts';
import { createMetrics, type Metrics } from '../kernel/metrics.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { httpSmsGateway } from './sms/sms-gateway.ts';
import { confirmCode, resendCode, startVerification, type VerificationDeps } from './verification-service.ts';

let db: TestDatabase;
let other: pg.Pool;
let dir: string;
let receiver: Server;
/** What the receiver does with the next messages: answer a status, drop the connection once it has the message, or never answer. */
let mode: number | 'drop' | 'hang' = 204;
/** Messages the receiver took (whatever it answered), per number. */
const received = new Map<string, string[]>();
const hanging: ServerResponse[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  other = createPool(db.url, 8);
  dir = mkdtempSync(join(tmpdir(), 'idbind-smsgw-'));
  await seedVerificationRegistry(db.pool, db.ring);
  receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { to, text } = JSON.parse(body) as { to: string; text: string };
      if (mode === 'drop' || mode === 'hang' || (mode >= 200 && mode < 300)) received.set(to, [...(received.get(to) ?? []), text]);
      if (mode === 'drop') return void req.socket.destroy();
      if (mode === 'hang') return void hanging.push(res);
      res.statusCode = mode;
      res.end(mode >= 400 ? JSON.stringify({ error: 'refused', text }) : undefined);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const res of hanging) res.destroy();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
  await other.end();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

interface Logged { message: string; fields: Record<string, unknown> }

/** A hub process's dependencies on `pool`, sending through the receiver (or `url`), with its warnings and metrics kept. */
function deps(env: Record<string, string> = {}, pool: pg.Pool = db.pool, url?: string): VerificationDeps & { logged: Logged[]; metrics: Metrics } {
  const port = (receiver.address() as { port: number }).port;
  const config = loadConfig({
    mode: 'production',
    env: { IDBIND_DATA_DIR: dir, IDBIND_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'), IDBIND_SMS_URL: url ?? `http://127.0.0.1:${port}/sms`, ...env },
    warn: () => undefined,
  });
  const logged: Logged[] = [];
  return {
    pool, ring: async () => db.ring, config: config.verification, smsTemplate: config.sms.template,
    sms: httpSmsGateway({ ...config.sms, url: config.sms.url! }, { allowLoopback: true }),
    metrics: createMetrics(), warn: (message, fields) => logged.push({ message, fields }), logged,
  };
}

async function platform(name: string, limits: Record<string, number> = {}): Promise<Provider> {
  return (await createProvider(db.pool, db.ring, { allowLoopback: false }, { name, kind: 'platform', limits: { accountsPerPerson: 100, ...limits } })).provider;
}

async function count(bucketLike: string): Promise<number> {
  const r = await db.pool.query<{ n: number }>('SELECT coalesce(sum(count), 0)::int AS n FROM rate_counters WHERE bucket LIKE $1', [bucketLike]);
  return r.rows[0]!.n;
}

const codeOf = (text: string) => text.match(/\b\d{6}\b/)![0];

describe("a gateway failure on the provider's last SMS of the day", () => {
  it('gives the SMS back: the next start, once the gateway is back, sends', async () => {
    const d = deps();
    const p = await platform('Last Slot Net', { smsPerDay: 2 });
    mode = 204;
    expect((await startVerification(d, p, { accountRef: 'slot-1', phone: many(0), clientIp: '10.2.0.1' })).status).toBe('code_sent');
    mode = 503;
    // The second and last SMS of the budget is refused by the gateway: nothing was sent.
    await expect(startVerification(d, p, { accountRef: 'slot-2', phone: many(1), clientIp: '10.2.0.1' }))
      .rejects.toMatchObject({ code: 'SMS_GATEWAY_UNAVAILABLE', extensions: { retry_after: 30 } });
    expect(await count(`sms:provider:${p.id}`)).toBe(1);
    mode = 204;
    // The platform retries as told: one SMS of its budget of two has been sent, so this one goes.
    expect((await startVerification(d, p, { accountRef: 'slot-2', phone: many(1), clientIp: '10.2.0.1' })).status).toBe('code_sent');
    expect(received.get(many(1))).toHaveLength(1);
    await expect(startVerification(d, p, { accountRef: 'slot-3', phone: many(2), clientIp: '10.2.0.1' })).rejects.toMatchObject({ code: 'SMS_BUDGET_EXHAUSTED' });
  });
});

describe('a gateway that took the message but gave no answer', () => {
  it("counts it against the number's limit: a gateway that drops connections cannot be used to flood a number", async () => {
    const d = deps({ IDBIND_LIMIT_NUMBER_PER_HOUR: '2' });
    const p = await platform('Flood Net');
    mode = 'drop';
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      answers.push(await startVerification(d, p, { accountRef: `flood-${i}`, phone: N.adult3, clientIp: '10.2.0.2' })
        .then(() => 'code_sent', (e: { code: string }) => e.code));
    }
    // The gateway had every message in hand and may have sent each: a number gets at most its
    // two an hour, whatever the gateway answers.
    expect(received.get(N.adult3)!.length).toBeLessThanOrEqual(2);
    expect(answers.slice(0, 2)).toEqual(['SMS_GATEWAY_UNAVAILABLE', 'SMS_GATEWAY_UNAVAILABLE']);
    expect(answers.slice(2)).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it("counts it against the provider's daily SMS budget", async () => {
    const d = deps();
    const p = await platform('Drop Budget Net', { smsPerDay: 2 });
    mode = 'drop';
    for (let i = 0; i < 4; i++) {
      await startVerification(d, p, { accountRef: `dropb-${i}`, phone: many(3 + i), clientIp: '10.2.0.3' }).catch(() => undefined);
    }
    const taken = [3, 4, 5, 6].reduce((n, i) => n + (received.get(many(i))?.length ?? 0), 0);
    expect(taken).toBeLessThanOrEqual(2);
    expect(await count(`sms:provider:${p.id}`)).toBe(2);
  });
});

describe('a gateway that took the message but gave no answer, on a resend', () => {
  it('counts the resend as sent: the new code stands, and the number and the budget keep the hit', async () => {
    const d = deps();
    const p = await platform('Drop Resend Net', { smsPerDay: 10 });
    mode = 204;
    const s = await startVerification(d, p, { accountRef: 'dropr', phone: many(7), clientIp: '10.2.0.6' });
    await db.pool.query(`UPDATE verifications SET last_sent_at = last_sent_at - interval '31 seconds' WHERE id = $1`, [s.id]);
    const numberBefore = await count('verify:number-h:%');
    mode = 'drop';
    await expect(resendCode(d, p, s.id, { clientIp: '10.2.0.6' })).rejects.toMatchObject({ code: 'SMS_GATEWAY_UNAVAILABLE' });
    expect(received.get(many(7))).toHaveLength(2);
    const row = await db.pool.query('SELECT sends FROM verifications WHERE id = $1', [s.id]);
    expect(row.rows[0]).toEqual({ sends: 2 });
    expect(await count('verify:number-h:%')).toBe(numberBefore + 1);
    expect(await count(`sms:provider:${p.id}`)).toBe(2);
    // The person may well hold the new code: it is the one that confirms.
    mode = 204;
    expect(await confirmCode(d, p, s.id, codeOf(received.get(many(7))!.at(-1)!))).toMatchObject({ status: 'verified' });
  });
});

describe('a gateway that takes the message and never answers', () => {
  it('is given up after the timeout, with the SMS counted as possibly sent', { timeout: 30_000 }, async () => {
    const d = deps();
    d.sms = httpSmsGateway({ url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/sms`, authorization: undefined, template: d.smsTemplate }, { allowLoopback: true }, { timeoutMs: 300 });
    const p = await platform('Hang Net', { smsPerDay: 5 });
    mode = 'hang';
    const t0 = Date.now();
    await expect(startVerification(d, p, { accountRef: 'hang', phone: many(8), clientIp: '10.2.0.7' })).rejects.toMatchObject({ code: 'SMS_GATEWAY_UNAVAILABLE' });
    // The 300 ms timeout, not the default 10 s, with room for a loaded machine.
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(received.get(many(8))).toHaveLength(1);
    expect(await count(`sms:provider:${p.id}`)).toBe(1);
    expect(d.logged.map((l) => l.fields.cause)).toEqual([expect.stringMatching(/no answer within 300 ms/)]);
    mode = 204;
  });
});

describe('parallel starts at the edge of the daily SMS budget, across two processes, with the gateway failing', () => {
  it('never get more messages to the gateway than the budget', async () => {
    const p = await platform('Edge Net', { smsPerDay: 5 });
    const procs = [deps({ IDBIND_LIMIT_NUMBER_PER_HOUR: '1000', IDBIND_LIMIT_NUMBER_PER_DAY: '1000' }), deps({ IDBIND_LIMIT_NUMBER_PER_HOUR: '1000', IDBIND_LIMIT_NUMBER_PER_DAY: '1000' }, other)];
    const phones = Array.from({ length: 8 }, (_, i) => many(10 + i));
    const before = phones.reduce((n, ph) => n + (received.get(ph)?.length ?? 0), 0);
    // Rounds of 16 parallel starts: refused messages (503) give their SMS back, taken ones (204) do not.
    for (const round of [503, 204, 503, 204, 204]) {
      mode = round;
      await Promise.allSettled(Array.from({ length: 16 }, (_, i) =>
        startVerification(procs[i % 2]!, p, { accountRef: `edge-${round}-${i}`, phone: phones[i % 8]!, clientIp: `10.2.1.${i}` })));
    }
    const taken = phones.reduce((n, ph) => n + (received.get(ph)?.length ?? 0), 0) - before;
    expect(taken).toBe(5);
    expect(await count(`sms:provider:${p.id}`)).toBe(5);
  });
});

describe('what a failure tells, and to whom', () => {
  it('a refusal (4xx, 5xx), a dropped connection and a closed port: a precise error, the code nowhere but in the message to the gateway', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const p = await platform('Tell Net');
    const texts: string[] = [];
    for (const [m, url] of [[400, undefined], [429, undefined], [500, undefined], ['drop', undefined], [204, `http://127.0.0.1:${closedPort}/sms`]] as const) {
      const d = deps({ IDBIND_LIMIT_NUMBER_PER_HOUR: '1000', IDBIND_LIMIT_NUMBER_PER_DAY: '1000' }, db.pool, url);
      mode = m;
      const e = await startVerification(d, p, { accountRef: `tell-${String(m)}`, phone: many(19), clientIp: '10.2.0.4' }).catch((x: unknown) => x) as
        { code: string; message: string; extensions?: Record<string, unknown> };
      expect(e.code, String(m)).toBe('SMS_GATEWAY_UNAVAILABLE');
      const all = JSON.stringify([e.message, e.extensions, d.logged, await d.metrics.registry.metrics()]);
      for (const t of received.get(many(19)) ?? []) texts.push(codeOf(t));
      for (const c of texts) expect(all, String(m)).not.toContain(c);
      expect(all).not.toContain(many(19).slice(3));
      expect(d.logged.map((l) => l.fields.cause)).toHaveLength(1);
    }
    expect(texts.length).toBeGreaterThanOrEqual(1);
  });

  it('a resend after a failed resend sends, and its code confirms', async () => {
    const d = deps();
    const p = await platform('Resend After Net');
    mode = 204;
    const s = await startVerification(d, p, { accountRef: 'raf', phone: many(18), clientIp: '10.2.0.5' });
    await db.pool.query(`UPDATE verifications SET last_sent_at = last_sent_at - interval '31 seconds' WHERE id = $1`, [s.id]);
    mode = 500;
    await expect(resendCode(d, p, s.id, { clientIp: '10.2.0.5' })).rejects.toMatchObject({ code: 'SMS_GATEWAY_UNAVAILABLE' });
    mode = 204;
    await resendCode(d, p, s.id, { clientIp: '10.2.0.5' });
    expect(await confirmCode(d, p, s.id, codeOf(received.get(many(18))!.at(-1)!))).toMatchObject({ status: 'verified' });
  });
});

describe('parallel starts and resends into one number range, across two processes', () => {
  it('never get more messages to the gateway than the range allows a minute', async () => {
    // Its own database: the range's bucket is shared by every test of this file.
    const own = await createTestDatabase();
    const ownOther = createPool(own.url, 8);
    try {
      await seedVerificationRegistry(own.pool, own.ring);
      const env = { IDBIND_LIMIT_PREFIX_PER_MINUTE: '6', IDBIND_LIMIT_PREFIX_SHARE_PERCENT: '100', IDBIND_LIMIT_NUMBER_PER_HOUR: '1000', IDBIND_LIMIT_NUMBER_PER_DAY: '1000' };
      const procs = [{ ...deps(env, own.pool), ring: async () => own.ring }, { ...deps(env, ownOther), ring: async () => own.ring }];
      const p = (await createProvider(own.pool, own.ring, { allowLoopback: false }, { name: 'Range Race Net', kind: 'platform', limits: { accountsPerPerson: 100 } })).provider;
      // All in one minute window: not within 10 s of its end (a loaded machine may take seconds over the 29 requests).
      const left = 60_000 - (Date.now() % 60_000);
      if (left < 10_000) await new Promise((r) => setTimeout(r, left + 100));
      mode = 204;
      const phones = [0, 1, 2].map((i) => many(i));
      const before = phones.reduce((n, ph) => n + (received.get(ph)?.length ?? 0), 0);
      // Three verifications started, their resends made due, then 20 starts and 6 resends at once.
      const first = await Promise.all(phones.map((ph, i) => startVerification(procs[i % 2]!, p, { accountRef: `rr-${i}`, phone: ph, clientIp: '10.2.2.1' })));
      await own.pool.query(`UPDATE verifications SET last_sent_at = last_sent_at - interval '31 seconds' WHERE id = ANY($1::uuid[])`, [first.map((s) => s.id)]);
      await Promise.allSettled([
        ...Array.from({ length: 20 }, (_, i) => startVerification(procs[i % 2]!, p, { accountRef: `rr-s${i}`, phone: phones[i % 3]!, clientIp: `10.2.2.${i + 2}` })),
        ...Array.from({ length: 6 }, (_, i) => resendCode(procs[i % 2]!, p, first[i % 3]!.id, { clientIp: '10.2.2.1' })),
      ]);
      const taken = phones.reduce((n, ph) => n + (received.get(ph)?.length ?? 0), 0) - before;
      expect(taken).toBe(6);
    } finally {
      await ownOther.end();
      await own.drop();
    }
  });
});
