/**
 * Imports and PostgreSQL's deadlock breaking (DESIGN.md invariant 6: nothing lost, nothing
 * doubled). Two carriers' imports can deadlock on ported numbers: each batch holds its own new
 * rows and locks the other carrier's live row of the same number (contestedByImportedRows).
 * PostgreSQL aborts one of the two transactions; that batch is merged again instead of failing the
 * whole run.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { importRegistry } from './import-service.ts';
import { composePersonalId } from '../personal-id.ts';

let db: TestDatabase;
let dir: string;
beforeEach(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-import-deadlock-'));
});
afterEach(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

const H = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at';
const pid = (n: number) => composePersonalId('001', 1985, 'M', n);

function write(name: string, lines: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

const importFile = (path: string, kind: 'population' | 'subscriptions', carrier?: string, chunkBytes = 64) =>
  importRegistry({ pool: db.pool, ring: db.ring, kind, carrier, path, rejectsPath: path + '.rejects.csv', workers: 1, chunkBytes });

async function population(n: number): Promise<void> {
  const rows = ['personal_id,full_name,birth_date,sex,status'];
  for (let i = 1; i <= n; i++) rows.push(`${pid(i)},Nguyễn Văn An,1985-01-01,M,alive`);
  await importFile(write('people.csv', rows), 'population', undefined, 1 << 16);
}

/** Makes PostgreSQL's next `times` checkpoints of an import fail as a deadlock victim does. */
async function abortNextCheckpoints(times: number): Promise<void> {
  await db.pool.query(`CREATE SEQUENCE test_deadlocks`);
  await db.pool.query(`CREATE FUNCTION test_deadlock() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- nextval is not rolled back with the aborted transaction: exactly \`times\` aborts.
      IF nextval('test_deadlocks') <= ${times} THEN
        RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';
      END IF;
      RETURN NEW;
    END $$`);
  await db.pool.query(`CREATE TRIGGER test_deadlock BEFORE UPDATE OF checkpoint_line ON import_runs FOR EACH ROW
    WHEN (NEW.checkpoint_line > OLD.checkpoint_line) EXECUTE FUNCTION test_deadlock()`);
}

async function liveRows(carrier: string): Promise<number> {
  const r = await db.pool.query(
    `SELECT count(*)::int AS n FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id WHERE c.slug = $1 AND s.status <> 'terminated'`, [carrier]);
  return r.rows[0].n;
}

describe('a batch aborted to break a deadlock', () => {
  it('is merged again: the run completes with every row once', async () => {
    await population(20);
    const subs = [H];
    for (let i = 1; i <= 20; i++) subs.push(`09610000${String(i).padStart(2, '0')},${pid(i)},Nguyễn Văn An,1985-01-01,store,2024-01-01T08:00:00,active,`);
    const path = write('viettel.csv', subs);
    await abortNextCheckpoints(3);
    const summary = await importFile(path, 'subscriptions', 'viettel');
    expect(summary).toMatchObject({ accepted: 20, unchanged: 0, rejected: 0 });
    expect(await liveRows('viettel')).toBe(20);
    const run = await db.pool.query(`SELECT status, rows_read::int AS rows_read, accepted::int AS accepted FROM import_runs WHERE kind = 'subscriptions'`);
    expect(run.rows).toEqual([{ status: 'completed', rows_read: 20, accepted: 20 }]);
    // Each abort was one batch merged again, not a row counted twice.
    expect((await db.pool.query(`SELECT last_value::int AS v FROM test_deadlocks`)).rows[0].v).toBeGreaterThan(3);
  });

  it('fails the run, resumable, when the batch keeps being the victim', async () => {
    await abortNextCheckpoints(1000);
    const rows = ['personal_id,full_name,birth_date,sex,status', `${pid(1)},Nguyễn Văn An,1985-01-01,M,alive`];
    await expect(importFile(write('p.csv', rows), 'population')).rejects.toMatchObject({ code: '40P01' });
    const run = await db.pool.query(`SELECT status FROM import_runs`);
    expect(run.rows).toEqual([{ status: 'failed' }]);
    await db.pool.query('DROP TRIGGER test_deadlock ON import_runs');
    expect(await importFile(join(dir, 'p.csv'), 'population')).toMatchObject({ accepted: 1, rejected: 0 });
  });

  // The interleaving that deadlocks (each batch holding what the other's next statement locks) is
  // rare and not forced here; the test above forces the abort. This one checks the end state of
  // two such imports run together: every row once at each carrier, whatever PostgreSQL did.
  it('two carriers importing numbers ported between them at the same time both complete', async () => {
    const n = 60;
    await population(2 * n);
    // First imports: viettel holds numbers 1..n under persons 1..n, mobifone numbers n+1..2n under
    // persons n+1..2n.
    const num = (i: number) => `0962${String(i).padStart(6, '0')}`;
    const row = (i: number, person: number, simChanged = '') => `${num(i)},${pid(person)},Nguyễn Văn An,1985-01-01,store,2024-01-01T08:00:00,active,${simChanged}`;
    await importFile(write('v1.csv', [H, ...Array.from({ length: n }, (_, k) => row(k + 1, k + 1))]), 'subscriptions', 'viettel', 1 << 16);
    await importFile(write('m1.csv', [H, ...Array.from({ length: n }, (_, k) => row(n + k + 1, n + k + 1))]), 'subscriptions', 'mobifone', 1 << 16);
    // Then each receives the other's numbers under new holders, before the donors' port-outs,
    // and changes its own rows (a SIM change), in small batches at the same time: a batch locks
    // the other carrier's live rows of its ported numbers, then updates its own rows, which the
    // other carrier's batch may hold locked for the same reason.
    const sim = '2024-06-01T08:00:00';
    const v2 = write('v2.csv', [H, ...Array.from({ length: n }, (_, k) => [row(k + 1, k + 1, sim), row(n + k + 1, k + 1)]).flat()]);
    const m2 = write('m2.csv', [H, ...Array.from({ length: n }, (_, k) => [row(n + k + 1, n + k + 1, sim), row(k + 1, n + k + 1)]).flat()]);
    const [a, b] = await Promise.all([importFile(v2, 'subscriptions', 'viettel', 200), importFile(m2, 'subscriptions', 'mobifone', 200)]);
    expect(a).toMatchObject({ accepted: 2 * n, rejected: 0 });
    expect(b).toMatchObject({ accepted: 2 * n, rejected: 0 });
    expect(await liveRows('viettel')).toBe(2 * n);
    expect(await liveRows('mobifone')).toBe(2 * n);
  });
});
