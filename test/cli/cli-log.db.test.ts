/**
 * `idbind log` as the real binary (issue 5 "Transparency log"): vkey and generate-key; checkpoint
 * from the database; verify --url against a live log served by logRoutes (signature, tiles,
 * consistency with the state file: a grown log passes, a rolled-back or forked one with the same
 * key fails, a wrong key fails); verify --proof offline (a bundle passes, a tampered one fails).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { errorHandler, notFoundHandler } from '../../src/kernel/http/problem.ts';
import { adminGuard } from '../../src/kernel/http/admin-auth.ts';
import { commitTo, createTransparencyLog, type LogEntry, type TransparencyLog } from '../../src/tlog/log-service.ts';
import { logRoutes } from '../../src/tlog/log-routes.ts';
import { generateSigningKey, parseSigningKey } from '../../src/tlog/signed-note.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
const KEY = generateSigningKey('hub.example');
let dir: string;
let env: NodeJS.ProcessEnv;

function idbind(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      res({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

interface Served { db: TestDatabase; log: TransparencyLog; app: FastifyInstance; url: string }

async function append(pool: pg.Pool, log: TransparencyLog, entries: LogEntry[]): Promise<number[]> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out: number[] = [];
    for (const e of entries) out.push((await log.append(c, e)).index);
    await c.query('COMMIT');
    return out;
  } finally {
    c.release();
  }
}

const entry = (i: number, commitment = commitTo({ i }).commitment): LogEntry => ({ stage: 'approved', authority: `Court ${i}`, timestamp: '2026-03-04T05:06:07Z', commitment });

/** A log with the same key on its own database and data directory, served over HTTP. */
async function serve(entries: LogEntry[]): Promise<Served> {
  const db = await createTestDatabase();
  const log = createTransparencyLog({ pool: db.pool, dataDir: mkdtempSync(join(dir, 'data-')), signingKey: KEY.skey });
  await append(db.pool, log, entries);
  await log.sign();
  const app = Fastify();
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  await app.register(async (scope) => logRoutes(scope, { log, pool: db.pool, adminGuard: adminGuard(undefined) }));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { db, log, app, url };
}

const served: Served[] = [];
let main: Served;
const first = Array.from({ length: 300 }, (_, i) => entry(i));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'idbind-cli-log-'));
  const { PATH, HOME } = process.env;
  env = { PATH, HOME, IDBIND_DATA_DIR: join(dir, 'hub-data'), IDBIND_PUBLIC_URL: 'https://hub.example' };
  main = await serve(first);
  served.push(main);
}, 60_000);
afterAll(async () => {
  for (const s of served) {
    await s.app.close();
    await s.db.drop();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('idbind log vkey, generate-key and checkpoint', () => {
  it('prints the vkey of IDBIND_LOG_KEY, and refuses without a key outside a demo', async () => {
    const r = await idbind(['log', 'vkey'], { IDBIND_LOG_KEY: KEY.skey });
    expect(r).toMatchObject({ status: 0, stdout: `${KEY.vkey}\n` });
    const none = await idbind(['log', 'vkey']);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('LOG_KEY_MISSING');
  }, 180_000);

  it('generates a key named after the origin', async () => {
    const r = await idbind(['log', 'generate-key', '--origin', 'new.example/log', '--json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { signing_key: string; vkey: string };
    expect(parseSigningKey(out.signing_key)).toMatchObject({ name: 'new.example/log', vkey: out.vkey });
    expect((await idbind(['log', 'generate-key'])).status).toBe(2);
  }, 180_000);

  it('prints the latest signed checkpoint of the database', async () => {
    const r = await idbind(['log', 'checkpoint', '--json'], { DATABASE_URL: main.db.url, IDBIND_LOG_KEY: KEY.skey });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { origin: string; size: number; text: string };
    expect(out).toMatchObject({ origin: 'hub.example', size: 300, text: (await main.log.checkpoint())!.text });
    const text = await idbind(['log', 'checkpoint'], { DATABASE_URL: main.db.url, IDBIND_LOG_KEY: KEY.skey });
    expect(text.stdout).toBe((await main.log.checkpoint())!.text);
  }, 180_000);
});

describe('idbind log verify --url', () => {
  it('verifies a live log, then its growth against the state file, with the key given or pinned', async () => {
    const state = join(dir, 'state-a.json');
    const r1 = await idbind(['log', 'verify', '--url', main.url, '--state', state]);
    expect(r1.status, r1.stderr).toBe(0);
    expect(r1.stdout).toContain('verified: hub.example at size 300');
    expect(r1.stdout).toContain('first checkpoint seen');
    expect(JSON.parse(readFileSync(state, 'utf8'))['hub.example']).toMatchObject({ size: 300, vkey: KEY.vkey });
    await append(main.db.pool, main.log, Array.from({ length: 213 }, (_, i) => entry(300 + i)));
    await main.log.sign();
    const r2 = await idbind(['log', 'verify', '--url', `${main.url}/log`, '--state', state, '--vkey', KEY.vkey, '--json']);
    expect(r2.status, r2.stderr).toBe(0);
    expect(JSON.parse(r2.stdout)).toMatchObject({ verified: true, origin: 'hub.example', size: 513, previous_size: 300 });
  }, 180_000);

  it('fails on a wrong key', async () => {
    const r = await idbind(['log', 'verify', '--url', main.url, '--state', join(dir, 'state-b.json'), '--vkey', generateSigningKey('hub.example').vkey]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('verification failed');
    expect(r.stderr).toContain('does not verify');
  }, 180_000);

  it('detects a rolled-back log and a forked one signed with the same key', async () => {
    const state = join(dir, 'state-c.json');
    expect((await idbind(['log', 'verify', '--url', main.url, '--state', state])).status).toBe(0);
    // The same key serving an older copy of the log (a restored database): smaller than seen.
    const rolledBack = await serve(first.slice(0, 200));
    served.push(rolledBack);
    const r1 = await idbind(['log', 'verify', '--url', rolledBack.url, '--state', state]);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toMatch(/rolled back: size 200 is below the size 513/);
    // The same key serving a rewritten history (entry 5 changed) that is larger than seen.
    const forkedEntries = Array.from({ length: 600 }, (_, i) => (i < 300 ? first[i]! : entry(i)));
    forkedEntries[5] = entry(5, commitTo({ forged: true }).commitment);
    const forked = await serve(forkedEntries);
    served.push(forked);
    const r2 = await idbind(['log', 'verify', '--url', forked.url, '--state', state]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/not consistent with the checkpoint of size 513/);
    // Neither replaced what was seen.
    expect(JSON.parse(readFileSync(state, 'utf8'))['hub.example'].size).toBe(513);
  }, 180_000);

  it('refuses a usage without exactly one of --url and --proof', async () => {
    expect((await idbind(['log', 'verify'])).status).toBe(2);
    expect((await idbind(['log', 'verify', '--url', main.url, '--proof', 'x'])).status).toBe(2);
  }, 180_000);
});

describe('idbind log verify --proof', () => {
  it('verifies a proof bundle offline, and fails on a tampered one', async () => {
    const record = { request: 'req-1', stage: 'released', legal_basis: 'Art. 1' };
    const { salt, commitment } = commitTo(record);
    const [index] = await append(main.db.pool, main.log, [{ ...entry(9999), stage: 'released', commitment }]);
    await main.log.sign();
    const bundle = await main.log.proofBundle(index!, { salt, record });
    const file = join(dir, 'release.tlog-proof');
    writeFileSync(file, bundle);
    const ok = await idbind(['log', 'verify', '--proof', file, '--vkey', KEY.vkey]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`verified: entry ${index} (released by Court 9999`);
    expect(ok.stdout).toContain('the opening matches its commitment');
    const local = await idbind(['log', 'verify', '--proof', file, '--json'], { IDBIND_LOG_KEY: KEY.skey });
    expect(JSON.parse(local.stdout)).toMatchObject({ verified: true, index, record });

    const lines = bundle.split('\n');
    lines[2] = `index ${index! - 1}`;
    writeFileSync(join(dir, 'moved.tlog-proof'), lines.join('\n'));
    const moved = await idbind(['log', 'verify', '--proof', join(dir, 'moved.tlog-proof'), '--vkey', KEY.vkey]);
    expect(moved.status).toBe(1);
    expect(moved.stderr).toContain('verification failed');
    expect((await idbind(['log', 'verify', '--proof', file, '--vkey', generateSigningKey('hub.example').vkey])).status).toBe(1);
    expect((await idbind(['log', 'verify', '--proof', file])).status).toBe(2);
  }, 180_000);
});
