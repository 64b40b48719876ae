/**
 * The demo's one completed disclosure (issue 5 "Demo": "one completed demo disclosure") is seeded
 * in the background after the banner, and again on each GET /v1/demo/session, which the web app
 * calls as soon as it is opened. A user who opens the web app right after the banner (or two tabs)
 * runs that seeding alongside the start's: each must not file a disclosure of its own, or the
 * authority console, the log and the report show two demo disclosures of the one account, and
 * the person is notified twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { serveDuring } from '../support/serve.ts';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'idbind-demo-seed-'));
}, 60_000);
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('idbind serve --demo: the web app opened right after the banner', () => {
  it('seeds one demo disclosure, however many sessions are asked for while the start seeds it', async () => {
    const env = { DATABASE_URL: db.url, IDBIND_DATA_DIR: dir, IDBIND_WORKERS: '1', IDBIND_LOG_LEVEL: 'warn' };
    const out = await serveDuring(env, ['--demo'], async ({ url }) => {
      const sessions = await Promise.all([1, 2, 3].map(() => fetch(`${url}/v1/demo/session`)));
      for (const s of sessions) expect(s.status).toBe(200);
      // Every session answered after its seeding: a request, and only one, exists by now.
      const requests = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM disclosure_requests');
      expect(requests.rows[0]!.n).toBe(1);
    });
    expect(out.status, out.stderr).toBe(0);
  }, 180_000);
});
