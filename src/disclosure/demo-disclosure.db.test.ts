/**
 * The demo's one completed disclosure (demo-disclosure.ts) is seeded by the demo start and by
 * every GET /v1/demo/session, which may run at once (two tabs, two hub processes on one
 * database). Each seeder checked that no request existed and then filed its own, so the demo
 * showed several disclosures of its one account, each logged, reported and notified. The seeding
 * is serialised by an advisory lock and checked again under it. (The CLI test
 * cli-serve-startup-demo-seed.db.test.ts drives sessions right after the banner, which now comes
 * after the start's own seeding: the concurrent seeders are driven here.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { seedDemoRegistry } from '../demo/demo-seed.ts';
import { ensureDemoPlatforms } from '../demo/demo-platforms.ts';
import { ensureDemoAuthorities, type DemoOfficials } from '../officials/demo-officials.ts';
import { createTransparencyLog, loadLogKey } from '../tlog/log-service.ts';
import { outboxSmsGateway } from '../verification/sms/sms-outbox.ts';
import type { DisclosureDeps } from './disclosure-service.ts';
import { DEMO_DISCLOSED_ACCOUNT, ensureDemoDisclosure } from './demo-disclosure.ts';

let db: TestDatabase;
let dataDir: string;
let deps: DisclosureDeps;
let officials: DemoOfficials;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'idbind-demo-disclosure-'));
  await seedDemoRegistry({ pool: db.pool, ring: db.ring, dataDir, workers: 1, people: 400, subscriptions: 480 });
  await ensureDemoPlatforms(db.pool, db.ring, dataDir);
  officials = await ensureDemoAuthorities(db.pool, db.ring, 'http://127.0.0.1:8080');
  const signingKey = loadLogKey({ mode: 'demo', dataDir, publicUrl: 'http://127.0.0.1:8080', env: {} });
  deps = { pool: db.pool, ring: async () => db.ring, log: createTransparencyLog({ pool: db.pool, dataDir, signingKey }), sms: outboxSmsGateway(db.pool, async () => db.ring) };
}, 120_000);
afterAll(async () => {
  await db.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the demo disclosure', () => {
  it('is filed once however many seeders run at once, and not again later', async () => {
    const filed = await Promise.all([1, 2, 3, 4].map(() => ensureDemoDisclosure(deps, db.ring, officials)));
    expect(filed.filter((id) => id !== undefined)).toHaveLength(1);
    const requests = await db.pool.query<{ id: string; account_ref: string }>('SELECT id, account_ref FROM disclosure_requests');
    expect(requests.rows).toEqual([{ id: filed.find((id) => id !== undefined), account_ref: DEMO_DISCLOSED_ACCOUNT }]);
    expect(await ensureDemoDisclosure(deps, db.ring, officials)).toBeUndefined();
    expect((await db.pool.query('SELECT 1 FROM disclosure_requests')).rowCount).toBe(1);
  });
});
