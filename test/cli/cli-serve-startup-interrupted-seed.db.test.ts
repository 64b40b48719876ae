/**
 * The first demo start seeds its synthetic registry before the banner (some 20 s: population,
 * carriers, two reconciliations). A Ctrl-C (SIGTERM) meanwhile, the likeliest moment for a user to
 * give up waiting, left part of it, and every later start took any person as "seeded": the demo
 * ran without subscriptions, printed no number that can verify, and README's walkthrough had
 * nothing to verify. The next start must finish the seeding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { serveOnce } from '../support/serve.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'idbind-interrupted-seed-'));
}, 60_000);
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function count(sql: string): Promise<number> {
  // The first start creates the tables: until then, nothing.
  return (await db.pool.query<{ n: number }>(sql).catch(() => ({ rows: [{ n: 0 }] }))).rows[0]!.n;
}

describe('idbind serve --demo stopped while it seeds its registry', () => {
  it('finishes the seeding at the next start: its numbers can verify', async () => {
    const env = { DATABASE_URL: db.url, IDBIND_DATA_DIR: dir, IDBIND_WORKERS: '1', IDBIND_LOG_LEVEL: 'warn' };
    const { PATH, HOME } = process.env;
    const first = spawn(process.execPath, [BIN, 'serve', '--demo', '--port', '0'], { env: { PATH, HOME, ...env }, stdio: 'ignore' });
    const exited = new Promise((resolve) => first.once('exit', resolve));
    // Stopped once part of the population is in, before any subscription.
    for (let i = 0; i < 1200 && (await count('SELECT count(*)::int AS n FROM persons')) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    first.kill('SIGTERM');
    await exited;
    expect(await count('SELECT count(*)::int AS n FROM subscriptions')).toBe(0);

    const out = await serveOnce(env, ['--demo']);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/demo numbers that can verify: \+84\d+, \+84\d+, \+84\d+ /);
    expect(await count("SELECT count(*)::int AS n FROM reconciliation_runs WHERE status = 'completed'")).toBe(2);
    // The whole registry, once: the seeding ran again over what the stopped one had imported.
    expect(await count('SELECT count(*)::int AS n FROM persons')).toBe(20_000);
    expect(await count('SELECT count(*)::int AS n FROM subscriptions')).toBe(24_000);
  }, 240_000);
});
