import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { importRegistry } from '../import/import-service.ts';
import { applySubscriptionEvents } from '../subscription-events.ts';
import { composePersonalId } from '../personal-id.ts';
import { listRuns, openActionList, pruneReconciliationResults, startReconciliation, writeActionList, writeActionLists, type PrunedRun, type RunStep, type RunSummary } from './reconciliation-service.ts';
import { RegistryError } from '../registry-errors.ts';
import { CATEGORIES } from './categories.ts';

let db: TestDatabase;
let dir: string;
const id = (n: number, year = 1980, sex: 'M' | 'F' = 'M') => composePersonalId('001', year, sex, n);

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-recon-'));
  const people = [
    'personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids',
    `${id(1)},Nguyễn Văn An,1980-01-01,M,alive,,`,
    `${id(2)},Trần Văn Bình,1980-02-02,M,deceased,2025-01-01,`,
    `${id(3)},Lê Văn Cường,1980-03-03,M,alive,,`,
    `${id(4)},Phạm Văn Dũng,1980-04-04,M,alive,,`,
    `${id(5)},Đặng Văn Em,1980-05-05,M,alive,,`,
  ];
  writeFileSync(join(dir, 'people.csv'), people.join('\n') + '\n');
  const H = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at';
  const viettel = [
    H,
    `0961000001,,,,store,2024-01-01T08:00:00,active,,`, // NO_HOLDER
    `0961000002,${id(99)},Ghost Person,1980-01-01,store,2024-01-01T08:00:00,active,,`, // HOLDER_NOT_FOUND
    `0961000003,${id(2)},Trần Văn Bình,1980-02-02,store,2024-01-01T08:00:00,active,,`, // HOLDER_DECEASED
    `0961000004,${id(3)},Lê Văn Cường Anh,1980-03-03,store,2024-01-01T08:00:00,active,,`, // HOLDER_DATA_MISMATCH (name)
    `0961000005,${id(3)},Lê Văn Cường,1980-03-04,store,2024-01-01T08:00:00,active,,`, // HOLDER_DATA_MISMATCH (birth date)
    `0961000006,${id(1)},NGUYEN  VAN AN,1980-01-01,online,2024-01-01T08:00:00,active,,`, // matches after folding: clean
    `0961000007,${id(1)},Nguyễn Văn An,1980-01-01,online,2024-02-01T08:00:00,active,,`, // 2nd: clean
    `0961000008,${id(1)},Nguyễn Văn An,1980-01-01,store,2024-03-01T08:00:00,active,,`, // 3rd: clean
    `0961000009,${id(1)},Nguyễn Văn An,1980-01-01,online,2024-04-01T08:00:00,active,,`, // 4th online: ONLINE_BEYOND_LIMIT
    `0961000010,${id(1)},Nguyễn Văn An,1980-01-01,vneid,2024-05-01T08:00:00,active,,`, // 5th but vneid: clean
    `0961000011,${id(1)},Nguyễn Văn An,1980-01-01,online,2024-06-01T08:00:00,terminated,,`, // terminated: never classified
    `0961000012,,,,store,2024-01-01T08:00:00,terminated,,`, // terminated without holder: never classified
    // Holder 4: four subscriptions registered at the same instant; the tie is broken by number, so
    // the online one with the highest number is 4th and beyond the limit, the online one with the
    // lowest number is 1st and fine.
    `0961000023,${id(4)},Phạm Văn Dũng,1980-04-04,online,2024-07-01T08:00:00,active,,`,
    `0961000020,${id(4)},Phạm Văn Dũng,1980-04-04,online,2024-07-01T08:00:00,active,,`,
    `0961000022,${id(4)},Phạm Văn Dũng,1980-04-04,store,2024-07-01T08:00:00,active,,`,
    `0961000021,${id(4)},Phạm Văn Dũng,1980-04-04,store,2024-07-01T08:00:00,active,,`,
    // Holder 5: a subscription in an earlier category still takes its place in the order, and an
    // online subscription beyond the limit in an earlier category stays in that category.
    `0961000040,${id(5)},Đặng Văn Em,1980-05-05,online,2024-01-01T08:00:00,active,,`, // 1st: clean
    `0961000041,${id(5)},Đặng Văn Em Khác,1980-05-05,online,2024-02-01T08:00:00,active,,`, // 2nd: HOLDER_DATA_MISMATCH
    `0961000042,${id(5)},Đặng Văn Em,1980-05-05,store,2024-03-01T08:00:00,active,,`, // 3rd: clean
    `0961000043,${id(5)},Đặng Văn Em,1980-05-05,online,2024-04-01T08:00:00,active,,`, // 4th online: ONLINE_BEYOND_LIMIT
    `0961000044,${id(5)},Đặng Văn Em,1980-05-06,online,2024-05-01T08:00:00,active,,`, // 5th online: HOLDER_DATA_MISMATCH first
  ];
  writeFileSync(join(dir, 'viettel.csv'), viettel.join('\n') + '\n');
  // The same holder at another carrier: counted per carrier, so clean there.
  // There, a terminated subscription registered before the live ones takes no place in the order:
  // the online one is the 3rd live subscription, not the 4th, so it is clean.
  writeFileSync(join(dir, 'mobifone.csv'), [
    H,
    `0901000002,${id(1)},Nguyễn Văn An,1980-01-01,online,2023-01-01T08:00:00,terminated,,`,
    `0901000003,${id(1)},Nguyễn Văn An,1980-01-01,store,2024-01-01T08:00:00,active,,`,
    `0901000004,${id(1)},Nguyễn Văn An,1980-01-01,store,2024-02-01T08:00:00,active,,`,
    `0901000001,${id(1)},Nguyễn Văn An,1980-01-01,online,2024-08-01T08:00:00,active,,`,
  ].join('\n') + '\n');
  const common = { pool: db.pool, ring: db.ring, workers: 2 };
  await importRegistry({ ...common, kind: 'population', path: join(dir, 'people.csv'), rejectsPath: join(dir, 'r1.csv') });
  await importRegistry({ ...common, kind: 'subscriptions', carrier: 'viettel', path: join(dir, 'viettel.csv'), rejectsPath: join(dir, 'r2.csv') });
  await importRegistry({ ...common, kind: 'subscriptions', carrier: 'mobifone', path: join(dir, 'mobifone.csv'), rejectsPath: join(dir, 'r3.csv') });
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function actionList(runId: string, carrier: string): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeActionList(db.pool, db.ring, runId, carrier, out, 'test');
  return Buffer.concat(chunks).toString('utf8');
}

describe('reconciliation', () => {
  let firstRun = '';

  it('puts each subscription in the first category that applies, in the authoritative order', async () => {
    // Each step is recorded on the run before it starts, where anyone polling the run sees it.
    const steps: { step: RunStep; polled: RunSummary | undefined }[] = [];
    const onStep = async (step: RunStep) => {
      steps.push({ step, polled: (await listRuns(db.pool, 1))[0] });
    };
    const run = await (await startReconciliation(db.pool, db.ring, 'test', { onStep })).done;
    firstRun = run.run_id;
    expect(steps.map((s) => `${s.step.number}/${s.step.of} ${s.step.code}`)).toEqual([
      '1/4 reindexing', '2/4 classifying', '3/4 settling_ties', '4/4 comparing',
    ]);
    for (const { step, polled } of steps) expect(polled).toMatchObject({ run_id: run.run_id, status: 'running', step });
    expect(run.step).toBeNull();
    expect(run.status).toBe('completed');
    expect(run.subscriptions).toBe(22); // 25 rows, 3 terminated
    expect(run.categories).toEqual({ NO_HOLDER: 1, HOLDER_NOT_FOUND: 1, HOLDER_DECEASED: 1, HOLDER_DATA_MISMATCH: 4, ONLINE_BEYOND_LIMIT: 3 });
    expect(run.by_carrier!.mobifone).toEqual({ NO_HOLDER: 0, HOLDER_NOT_FOUND: 0, HOLDER_DECEASED: 0, HOLDER_DATA_MISMATCH: 0, ONLINE_BEYOND_LIMIT: 0 });
    expect(run.compared_to_previous!.NO_HOLDER).toEqual({ new: 1, resolved: 0 });
  });

  it('writes action lists with the number and the category only, ties broken by number', async () => {
    const csv = await actionList(firstRun, 'viettel');
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('msisdn,category');
    expect(new Set(lines.slice(1))).toEqual(new Set([
      '+84961000001,NO_HOLDER', '+84961000002,HOLDER_NOT_FOUND', '+84961000003,HOLDER_DECEASED',
      '+84961000004,HOLDER_DATA_MISMATCH', '+84961000005,HOLDER_DATA_MISMATCH',
      '+84961000009,ONLINE_BEYOND_LIMIT', '+84961000023,ONLINE_BEYOND_LIMIT',
      '+84961000041,HOLDER_DATA_MISMATCH', '+84961000043,ONLINE_BEYOND_LIMIT', '+84961000044,HOLDER_DATA_MISMATCH',
    ]));
    expect(csv).not.toMatch(/Nguy|Tr|001080/);
    const files = await writeActionLists(db.pool, db.ring, firstRun, join(dir, 'lists'), 'test');
    expect(readFileSync(files.mobifone!, 'utf8')).toBe('msisdn,category\n');
  });

  it('answers the counts in the authoritative order of categories, as stored runs too', async () => {
    const [run] = (await listRuns(db.pool, 50)).filter((r) => r.run_id === firstRun);
    expect(Object.keys(run!.categories!)).toEqual([...CATEGORIES]);
    expect(Object.keys(run!.compared_to_previous!)).toEqual([...CATEGORIES]);
    for (const counts of Object.values(run!.by_carrier!)) expect(Object.keys(counts)).toEqual([...CATEGORIES]);
  });

  it('replaces existing files, never writing into them: an old 0644 list or a planted link keeps its content', async () => {
    const out = join(dir, 'lists-over');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'mobifone.csv'), 'old content\n', { mode: 0o644 });
    chmodSync(join(out, 'mobifone.csv'), 0o644);
    const old = join(out, 'mobifone.csv');
    const before = statSync(old).ino;
    // A link to a world-readable file where the list goes: the numbers must never land there.
    writeFileSync(join(dir, 'elsewhere.txt'), 'not yours\n', { mode: 0o644 });
    symlinkSync(join(dir, 'elsewhere.txt'), join(out, 'viettel.csv'));
    const files = await writeActionLists(db.pool, db.ring, firstRun, out, 'test');
    expect(readFileSync(join(dir, 'elsewhere.txt'), 'utf8')).toBe('not yours\n');
    expect(lstatSync(files.viettel!).isFile()).toBe(true);
    expect(statSync(files.viettel!).mode & 0o777).toBe(0o600);
    expect(readFileSync(files.viettel!, 'utf8')).toMatch(/^msisdn,category\n\+84/);
    // A new file in place of the old one (its inode), never the old one rewritten.
    expect(statSync(files.mobifone!).ino).not.toBe(before);
    expect(statSync(files.mobifone!).mode & 0o777).toBe(0o600);
    expect(readdirSync(out).sort()).toEqual(['mobifone.csv', 'viettel.csv']);
  });

  it('records one access entry per run, not one per row', async () => {
    const r = await db.pool.query('SELECT purpose, count(*)::int AS n FROM access_records WHERE run_id = $1 GROUP BY purpose ORDER BY purpose', [firstRun]);
    // One export through writeActionList, two through each writeActionLists (one per carrier).
    expect(r.rows).toEqual([{ purpose: 'action_list_export', n: 5 }, { purpose: 'reconciliation', n: 1 }]);
    const personal = await db.pool.query('SELECT count(*)::int AS n FROM access_records WHERE person_id IS NOT NULL');
    expect(personal.rows[0].n).toBe(0);
  });

  it('compares with the previous completed run: resolved and new per category', async () => {
    const delta = [
      { event_id: 'e1', type: 'terminated', msisdn: '0961000001', at: '2025-01-01T00:00:00+07:00' },
      { event_id: 'e2', type: 'holder_changed', msisdn: '0961000003', at: '2025-01-02T00:00:00+07:00', holder_personal_id: id(5), holder_full_name: 'Đặng Văn Em', holder_birth_date: '1980-05-05', channel: 'store' },
      { event_id: 'e3', type: 'registered', msisdn: '0961000030', at: '2025-01-03T00:00:00+07:00', holder_personal_id: '', holder_full_name: '', holder_birth_date: '', channel: 'store' },
    ];
    writeFileSync(join(dir, 'delta.ndjson'), delta.map((d) => JSON.stringify(d)).join('\n') + '\n');
    const s = await applySubscriptionEvents({ pool: db.pool, ring: db.ring, carrier: 'viettel', path: join(dir, 'delta.ndjson'), rejectsPath: join(dir, 'r4.csv') });
    expect(s).toMatchObject({ accepted: 3, rejected: 0 });
    const run = await (await startReconciliation(db.pool, db.ring, 'test')).done;
    expect(run.previous_run_id).toBe(firstRun);
    expect(run.categories).toEqual({ NO_HOLDER: 1, HOLDER_NOT_FOUND: 1, HOLDER_DECEASED: 0, HOLDER_DATA_MISMATCH: 4, ONLINE_BEYOND_LIMIT: 3 });
    expect(run.compared_to_previous!.NO_HOLDER).toEqual({ new: 1, resolved: 1 });
    expect(run.compared_to_previous!.HOLDER_DECEASED).toEqual({ new: 0, resolved: 1 });
    expect(run.compared_to_previous!.HOLDER_DATA_MISMATCH).toEqual({ new: 0, resolved: 0 });
  });

  it('refuses a second run while one holds the lock, and an action list of an unknown run', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(72028, 0)');
      await expect(startReconciliation(db.pool, db.ring, 'test')).rejects.toMatchObject({ code: 'RECONCILIATION_ALREADY_RUNNING' });
    } finally {
      await client.query('SELECT pg_advisory_unlock_all()');
      client.release();
    }
    await expect(actionList('00000000-0000-7000-8000-000000000000', 'viettel')).rejects.toBeInstanceOf(RegistryError);
  });

  it('gives exactly one run when two are started at once', async () => {
    const results = await Promise.allSettled([startReconciliation(db.pool, db.ring, 'a'), startReconciliation(db.pool, db.ring, 'b')]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(1);
    await (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof startReconciliation>>>).value.done;
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'RECONCILIATION_ALREADY_RUNNING' } });
  });

  it('keeps the step a failed run stopped in, and writes none of its results', async () => {
    const stop = (step: RunStep) => {
      if (step.code === 'settling_ties') throw new Error('stopped for the test');
    };
    const handle = await startReconciliation(db.pool, db.ring, 'test', { onStep: stop });
    await expect(handle.done).rejects.toThrow('stopped for the test');
    const [run] = await listRuns(db.pool, 1);
    expect(run).toMatchObject({ run_id: handle.runId, status: 'failed', step: { code: 'settling_ties', number: 3, of: 4 }, categories: null });
    const results = await db.pool.query('SELECT count(*)::int AS n FROM reconciliation_results WHERE run_id = $1', [handle.runId]);
    expect(results.rows[0].n).toBe(0);
  });

  it('prunes the results of all but the most recent completed runs, keeping their counts and the comparison', async () => {
    const resultRows = async () => Object.fromEntries((await db.pool.query<{ run_id: string; n: number }>(
      'SELECT run_id, count(*)::int AS n FROM reconciliation_results GROUP BY run_id')).rows.map((r) => [r.run_id, r.n]));
    const completed = (await listRuns(db.pool, 50)).filter((r) => r.status === 'completed'); // newest first
    expect(completed.length).toBeGreaterThanOrEqual(3);
    const before = await resultRows();
    const older = completed.slice(2).reverse(); // oldest first
    const expected = older.map((r) => ({ run_id: r.run_id, results: before[r.run_id] ?? 0 }));
    expect(expected.every((r) => r.results > 0)).toBe(true);

    // A dry run lists the runs and their row counts, and deletes nothing.
    expect(await pruneReconciliationResults(db.pool, { keepRuns: 2, dryRun: true })).toEqual(expected);
    expect(await resultRows()).toEqual(before);

    // A download of an older run under way when retention deletes its rows fails; it never ends
    // as a shorter list.
    const reading = await openActionList(db.pool, db.ring, older[0]!.run_id, 'viettel', 'test');
    expect((await reading.next()).value).toBe('msisdn,category\n');

    const progress: string[] = [];
    const onRun = (run: PrunedRun, done: number, of: number) => progress.push(`${done}/${of} ${run.run_id}`);
    expect(await pruneReconciliationResults(db.pool, { keepRuns: 2, onRun })).toEqual(expected);
    expect(progress).toEqual(expected.map((r, i) => `${i + 1}/${expected.length} ${r.run_id}`));
    const after = await resultRows();
    for (const r of older) expect(after[r.run_id]).toBeUndefined();
    for (const r of completed.slice(0, 2)) expect(after[r.run_id]).toBe(before[r.run_id]);

    // The runs and their counts stay; only the pruned ones are marked.
    const runs = new Map((await listRuns(db.pool, 50)).map((r) => [r.run_id, r]));
    for (const r of completed) {
      expect(runs.get(r.run_id)!.categories).toEqual(r.categories);
      expect(runs.get(r.run_id)!.results_pruned_at === null).toBe(!older.includes(r));
    }
    await expect(reading.next()).rejects.toMatchObject({ code: 'RECONCILIATION_RESULTS_PRUNED' });
    await expect(actionList(older[0]!.run_id, 'viettel')).rejects.toMatchObject({ code: 'RECONCILIATION_RESULTS_PRUNED' });
    expect((await actionList(completed[0]!.run_id, 'viettel')).split('\n')[0]).toBe('msisdn,category');

    // Nothing left to prune at the same retention; the next run compares with the latest one.
    expect(await pruneReconciliationResults(db.pool, { keepRuns: 2 })).toEqual([]);
    const next = await (await startReconciliation(db.pool, db.ring, 'test')).done;
    expect(next.previous_run_id).toBe(completed[0]!.run_id);
    for (const c of Object.values(next.compared_to_previous!)) expect(c).toEqual({ new: 0, resolved: 0 });
  });

  it('refuses to prune while a run holds the lock, and below one kept run', async () => {
    await expect(pruneReconciliationResults(db.pool, { keepRuns: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(pruneReconciliationResults(db.pool, { keepRuns: 1.5 })).rejects.toBeInstanceOf(RangeError);
    const client = await db.pool.connect();
    const rows = await db.pool.query('SELECT count(*)::int AS n FROM reconciliation_results');
    try {
      await client.query('SELECT pg_advisory_lock(72028, 0)');
      await expect(pruneReconciliationResults(db.pool, { keepRuns: 1 })).rejects.toMatchObject({ code: 'RECONCILIATION_ALREADY_RUNNING' });
    } finally {
      await client.query('SELECT pg_advisory_unlock_all()');
      client.release();
    }
    expect((await db.pool.query('SELECT count(*)::int AS n FROM reconciliation_results')).rows).toEqual(rows.rows);
  });
});
