/**
 * A demo's data directory later served without --demo (issue 2: production mode has "no
 * generated keys, no demo data"): the demo's master key is generated and kept in clear beside the
 * data, and its platforms' API keys and client secrets sit in demo-platforms.json and were printed
 * at every start. `idbind serve` must refuse it, in one line that says why, rather than accept
 * those keys in production (DESIGN.md invariant 5). The CLI's other commands keep working on a
 * demo directory (providers-command.ts, and the hint of config.ts), so only `serve` is tested.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { serveOnce } from '../support/serve.ts';
import { openHub } from '../../src/hub.ts';
import { ensureDemoPlatforms } from '../../src/demo/demo-platforms.ts';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'idbind-demo-data-'));
  // What `idbind serve --demo` leaves: a generated master key, the demo platforms and their keys.
  const hub = await openHub({ mode: 'demo', env: { DATABASE_URL: db.url, IDBIND_DATA_DIR: dir }, log: () => undefined });
  try {
    await ensureDemoPlatforms(hub.pool, await hub.ring(), dir, 'http://127.0.0.1:8080');
  } finally {
    await hub.close();
  }
}, 60_000);
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `idbind serve` (production) on the test's database and data directory until it runs or fails. */
const serve = (env: NodeJS.ProcessEnv) =>
  serveOnce({ DATABASE_URL: db.url, IDBIND_DATA_DIR: dir, IDBIND_WORKERS: '1', IDBIND_ADMIN_TOKEN: randomBytes(32).toString('base64url'), ...env });

describe('idbind serve (production) on a demo data directory', () => {
  it("refuses a database that holds the demo's platforms, whose API keys are in the demo's files, whatever the master key", async () => {
    // A demo run with a master key of the operator's (or a demo whose master key was rotated).
    const other = await createTestDatabase({ migrate: false });
    const otherDir = mkdtempSync(join(tmpdir(), 'idbind-demo-data-'));
    const key = randomBytes(32).toString('base64');
    try {
      const hub = await openHub({ mode: 'demo', env: { DATABASE_URL: other.url, IDBIND_DATA_DIR: otherDir, IDBIND_MASTER_KEY: key }, log: () => undefined });
      try {
        await ensureDemoPlatforms(hub.pool, await hub.ring(), otherDir, 'http://127.0.0.1:8080');
      } finally {
        await hub.close();
      }
      const out = await serve({ DATABASE_URL: other.url, IDBIND_DATA_DIR: join(otherDir, 'elsewhere'), IDBIND_MASTER_KEY: key });
      expect(out.stdout).not.toContain('is running');
      expect(out.status).toBe(1);
      expect(out.stderr).toMatch(/idbind serve: .*demo platforms/);
    } finally {
      await other.drop();
      rmSync(otherDir, { recursive: true, force: true });
    }
  }, 60_000);

  it("refuses the demo's generated master key, in one line", async () => {
    const out = await serve({ IDBIND_MASTER_KEY_FILE: join(dir, 'demo-master.key') });
    expect(out.stdout).not.toContain('is running');
    expect(out.status).toBe(1);
    const lines = out.stderr.trim().split('\n').filter((l) => l.startsWith('idbind serve:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/demo/);
    expect(lines[0]).toMatch(/--demo/);
  }, 60_000);

  it('refuses the same key given as IDBIND_MASTER_KEY', async () => {
    const key = readFileSync(join(dir, 'demo-master.key'), 'utf8').trim();
    const out = await serve({ IDBIND_MASTER_KEY: key });
    expect(out.stdout).not.toContain('is running');
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/idbind serve: .*demo/);
  }, 60_000);
});
