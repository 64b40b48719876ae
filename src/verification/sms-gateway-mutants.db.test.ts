/**
 * Mutation review of issue 3's HTTP SMS gateway (sms/sms-gateway.ts): what the gateway "took".
 * Only a 2xx answer means the gateway has the message; a redirect is no answer of that kind and
 * is not followed (DESIGN.md "Outbound HTTP": no redirects). A connection refused means nothing
 * reached the gateway, so nothing may be counted against the number or the platform's budget.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { many, seedVerificationRegistry } from '../../test/support/verification-fixture.ts';
import { loadConfig } from '../kernel/config/config.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { httpSmsGateway } from './sms/sms-gateway.ts';
import { startVerification, type VerificationDeps } from './verification-service.ts';

let db: TestDatabase;
let dir: string;
let receiver: Server;
/** Paths the receiver was asked for, in order. */
const asked: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-smsmut-'));
  await seedVerificationRegistry(db.pool, db.ring);
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      asked.push(req.url ?? '');
      if (req.url === '/drop') return void req.socket.destroy(); // took it, then no answer
      if (req.url === '/sms') {
        // "Moved": the gateway did not take the message here.
        res.statusCode = 302;
        res.setHeader('location', '/elsewhere');
        return void res.end();
      }
      res.statusCode = 204;
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

function deps(url: string): VerificationDeps {
  const config = loadConfig({ mode: 'production', env: { IDBIND_DATA_DIR: dir, IDBIND_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'), IDBIND_SMS_URL: url }, warn: () => undefined });
  return {
    pool: db.pool, ring: async () => db.ring, config: config.verification, smsTemplate: config.sms.template,
    sms: httpSmsGateway({ ...config.sms, url: config.sms.url! }, { allowLoopback: true }),
  };
}

async function platform(name: string): Promise<Provider> {
  return (await createProvider(db.pool, db.ring, { allowLoopback: false }, { name, kind: 'platform', limits: { accountsPerPerson: 100 } })).provider;
}

async function count(bucketLike: string): Promise<number> {
  const r = await db.pool.query<{ n: number }>('SELECT coalesce(sum(count), 0)::int AS n FROM rate_counters WHERE bucket LIKE $1', [bucketLike]);
  return r.rows[0]!.n;
}

async function prefixSent(prefix: string): Promise<number> {
  const r = await db.pool.query<{ n: number }>('SELECT coalesce(sum(sent), 0)::int AS n FROM sms_prefix_stats WHERE prefix = $1', [prefix]);
  return r.rows[0]!.n;
}

async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}/sms`;
}

describe('the HTTP SMS gateway', () => {
  it('takes only a 2xx as sent: a redirect is a refusal, not followed, and costs the number and the budget nothing', async () => {
    const port = (receiver.address() as { port: number }).port;
    const p = await platform('Moved Net');
    const numberBefore = await count('verify:number-%');
    const e = await startVerification(deps(`http://127.0.0.1:${port}/sms`), p, { accountRef: 'moved-1', phone: many(3), clientIp: '10.9.0.1' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'SMS_GATEWAY_UNAVAILABLE', extensions: { retry_after: 30 } });
    expect(asked).toEqual(['/sms']); // the redirect was not followed
    expect(await count('verify:number-%')).toBe(numberBefore);
    expect(await count(`sms:provider:${p.id}`)).toBe(0);
    const v = await db.pool.query('SELECT status, failure FROM verifications WHERE provider_id = $1', [p.id]);
    expect(v.rows).toEqual([{ status: 'failed', failure: 'sms_failed' }]);
  });

  it('counts nothing for a gateway whose port refuses the connection: nothing can have been sent', async () => {
    const p = await platform('Refused Net');
    const numberBefore = await count('verify:number-%');
    const e = await startVerification(deps(await closedPortUrl()), p, { accountRef: 'refused-1', phone: many(4), clientIp: '10.9.0.2' }).catch((x: unknown) => x) as Error;
    expect(e).toMatchObject({ code: 'SMS_GATEWAY_UNAVAILABLE' });
    expect(e.message).toMatch(/nothing was counted/);
    expect(e.message).not.toMatch(/may have been sent/);
    expect(await count('verify:number-%')).toBe(numberBefore);
    expect(await count(`sms:provider:${p.id}`)).toBe(0);
  });

  it("counts a code the gateway may have sent (it took the request, then no answer) as sent for the number's range (SMS pumping)", async () => {
    const port = (receiver.address() as { port: number }).port;
    const p = await platform('Dropped Net');
    const before = await prefixSent('+84912');
    const e = await startVerification(deps(`http://127.0.0.1:${port}/drop`), p, { accountRef: 'dropped-1', phone: many(5), clientIp: '10.9.0.3' }).catch((x: unknown) => x) as Error;
    expect(e).toMatchObject({ code: 'SMS_GATEWAY_UNAVAILABLE' });
    expect(e.message).toMatch(/may have been sent/);
    expect(await prefixSent('+84912')).toBe(before + 1);
  });
});
