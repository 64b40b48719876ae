/**
 * A database keeps the mode of its first `idbind serve` (migration 0031, src/demo/deployment-mode.ts):
 * a production database is never served with --demo, which would add the demo platforms (whose
 * keys the demo prints) and the demo endpoints that hand out the admin token; a demo's database is
 * never served in production. The real binary in child processes; the mode inferred for a
 * database served before the marker existed is tested on the function itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase } from '../support/database.ts';
import { serveOnce } from '../support/serve.ts';
import { claimDeploymentMode } from '../../src/demo/deployment-mode.ts';
import { createProvider } from '../../src/providers/provider-service.ts';
import { DEMO_PLATFORM_NAMES } from '../../src/demo/demo-platforms.ts';

let dir: string;
const masterKey = randomBytes(32).toString('base64');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'idbind-serve-mode-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `idbind serve [--demo]` on `databaseUrl` until it runs (then SIGTERM) or fails. */
const serve = (databaseUrl: string, demo: boolean, env: NodeJS.ProcessEnv = {}) => serveOnce({
  DATABASE_URL: databaseUrl, IDBIND_DATA_DIR: join(dir, randomBytes(4).toString('hex')), IDBIND_WORKERS: '1', IDBIND_MASTER_KEY: masterKey,
  IDBIND_ADMIN_TOKEN: randomBytes(32).toString('base64url'), ...env,
}, demo ? ['--demo'] : []);

describe('the mode a database is served in', () => {
  it('refuses --demo on a database first served in production, in one line, and changes nothing in it', async () => {
    const db = await createTestDatabase({ migrate: false });
    try {
      const first = await serve(db.url, false);
      expect(first.stdout, first.stderr).toContain('is running');
      // A data directory of its own, no keys given: demo mode would generate its secrets there.
      const demoDir = join(dir, 'refused-demo');
      const demo = await serve(db.url, true, { IDBIND_DATA_DIR: demoDir, IDBIND_MASTER_KEY: '', IDBIND_ADMIN_TOKEN: '' });
      expect(demo.status).toBe(1);
      expect(demo.stdout).not.toContain('is running');
      expect(demo.stderr).toMatch(/^idbind serve: the database is a production one .*--demo would add demo platforms/m);
      // One line of ours (oidc-provider may warn about the Node version on its own line).
      expect(demo.stderr.split('\n').filter((l) => l.startsWith('idbind')), demo.stderr).toHaveLength(1);
      const providers = await db.pool.query('SELECT name FROM providers WHERE name = ANY($1::text[])', [DEMO_PLATFORM_NAMES]);
      expect(providers.rows).toEqual([]);
      expect((await db.pool.query('SELECT mode FROM deployment_mode')).rows).toEqual([{ mode: 'production' }]);
      // Nothing of a demo left in the refused start's data directory (which the CLI would then take for a demo's).
      expect(existsSync(demoDir) ? readdirSync(demoDir).filter((f) => f.startsWith('demo-')) : []).toEqual([]);
      // Production mode keeps serving it.
      expect((await serve(db.url, false)).stdout).toContain('is running');
    } finally {
      await db.drop();
    }
  }, 90_000);

  it('refuses production on a database a demo recorded', async () => {
    const db = await createTestDatabase();
    try {
      expect(await claimDeploymentMode(db.pool, 'demo')).toBe('demo');
      const out = await serve(db.url, false);
      expect(out.status).toBe(1);
      expect(out.stderr).toMatch(/first served by `idbind serve --demo`/);
    } finally {
      await db.drop();
    }
  }, 60_000);

  it('infers the mode of a database served before the marker: the demo platforms make a demo; providers or registry data without them, production', async () => {
    const empty = await createTestDatabase();
    const loaded = await createTestDatabase();
    const demo = await createTestDatabase();
    try {
      expect(await claimDeploymentMode(empty.pool, 'demo')).toBe('demo');
      expect(await claimDeploymentMode(empty.pool, 'production')).toBe('demo'); // recorded once, kept
      await createProvider(loaded.pool, loaded.ring, { allowLoopback: false }, { name: 'Real Social', kind: 'platform' });
      expect(await claimDeploymentMode(loaded.pool, 'demo')).toBe('production');
      await createProvider(demo.pool, demo.ring, { allowLoopback: false }, { name: DEMO_PLATFORM_NAMES[0]!, kind: 'platform' });
      expect(await claimDeploymentMode(demo.pool, 'production')).toBe('demo');
      // Two first starts at once record one mode, and both read it.
      const racing = await createTestDatabase();
      try {
        const modes = await Promise.all([claimDeploymentMode(racing.pool, 'demo'), claimDeploymentMode(racing.pool, 'production')]);
        expect(modes[0]).toBe(modes[1]);
      } finally {
        await racing.drop();
      }
    } finally {
      await Promise.all([empty.drop(), loaded.drop(), demo.drop()]);
    }
  });
});
