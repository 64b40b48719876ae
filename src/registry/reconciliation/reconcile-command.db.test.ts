/**
 * `idbind reconcile` in-process (src/cli/reconcile-command.ts) against a test database: what the
 * command reports once its run has completed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { importRegistry } from '../import/import-service.ts';
import { composePersonalId } from '../personal-id.ts';
import { reconcileCommand } from '../../cli/reconcile-command.ts';
import { listRuns, startReconciliation } from './reconciliation-service.ts';
import { LOCK_RECONCILIATION } from './reconciliation-repository.ts';

let db: TestDatabase;
let dir: string;
const H = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at';

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-reconcile-cmd-'));
  const pid = composePersonalId('001', 1980, 'M', 1);
  writeFileSync(join(dir, 'p.csv'), `personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids\n${pid},Nguyễn Văn An,1980-01-01,M,alive,,\n`);
  writeFileSync(join(dir, 'v.csv'), `${H}\n0961000001,,,,store,2024-01-01T08:00:00,active,,\n0961000002,${pid},Nguyễn Văn An,1980-01-01,store,2024-01-01T08:00:00,active,,\n`);
  const common = { pool: db.pool, ring: db.ring, workers: 1 };
  await importRegistry({ ...common, kind: 'population', path: join(dir, 'p.csv'), rejectsPath: join(dir, 'r1.csv') });
  await importRegistry({ ...common, kind: 'subscriptions', carrier: 'viettel', path: join(dir, 'v.csv'), rejectsPath: join(dir, 'r2.csv') });
  // Two completed runs, so that retention has something to delete.
  for (let i = 0; i < 2; i++) await (await startReconciliation(db.pool, db.ring, 'test')).done;
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

function sink(isTTY: boolean, onWrite?: (text: string) => void) {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      onWrite?.(chunk.toString('utf8'));
      done();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, text: () => text };
}

describe('idbind reconcile --keep-runs', () => {
  it('reports its completed run and its action lists when retention is refused because another run started meanwhile', async () => {
    // Another reconciliation (the admin API's, say) takes the lock the moment this run lets it go:
    // a session waiting for the lock is granted it as the run releases it, before the command's
    // retention asks for it.
    let other: pg.PoolClient | undefined;
    let waiting: Promise<unknown> | undefined;
    const stderr = sink(true, (line) => {
      if (line.includes('step 4 of 4') && !waiting) {
        waiting = db.pool.connect().then((c) => {
          other = c;
          return c.query('SELECT pg_advisory_lock($1, 0)', [LOCK_RECONCILIATION]);
        });
      }
    });
    const stdout = sink(false);
    const env = { DATABASE_URL: db.url, IDBIND_MASTER_KEY: db.master.key.toString('base64'), IDBIND_DATA_DIR: join(dir, 'data') };
    try {
      const status = await reconcileCommand.run(['--json', '--out', join(dir, 'lists'), '--keep-runs', '1'], { stdout: stdout.stream, stderr: stderr.stream, env, cwd: dir });
      await waiting;
      expect(status).toBe(0);
      const out = JSON.parse(stdout.text()) as { run_id: string; categories: Record<string, number>; pruned_runs?: unknown };
      const [latest] = await listRuns(db.pool, 1);
      expect(out.run_id).toBe(latest!.run_id);
      expect(latest!.status).toBe('completed');
      expect(out.categories.NO_HOLDER).toBe(1);
      expect(out.pruned_runs).toBeUndefined();
      expect(readFileSync(join(dir, 'lists', 'viettel.csv'), 'utf8')).toBe('msisdn,category\n+84961000001,NO_HOLDER\n');
      // Said on stderr, without failing the command: the next run's retention deletes them.
      expect(stderr.text()).toMatch(/retention .*RECONCILIATION_ALREADY_RUNNING/);
    } finally {
      await waiting;
      await other?.query('SELECT pg_advisory_unlock_all()');
      other?.release();
    }
  });
});
