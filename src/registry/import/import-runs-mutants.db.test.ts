/**
 * Import runs (import-runs.ts; DESIGN.md invariant 6, "imports are idempotent and resumable"),
 * pinned where a hand-made mutation review found the suite silent. A run is interrupted for real
 * (it fails part-way, after some batches committed, as a crash would), then run again: it resumes after its
 * last committed line and ends with the summary, rejects and progress of one clean run, however
 * the file is cut into chunks this time; a different file starts anew and abandons the
 * interrupted run for good; one registry's import holds off a second import and the deltas of that
 * registry only; a key rotation switching versions holds off every import. Real PostgreSQL.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { composePersonalId } from '../personal-id.ts';
import { applySubscriptionEvents } from '../subscription-events.ts';
import type { ImportProgress } from './import-runs.ts';
import { LOCK_BLIND_INDEX_VERSION } from './import-repository.ts';
import { importRegistry, type ImportOptions } from './import-service.ts';

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-import-runs-'));
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

const HEADER = 'personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids';
const NAMES = ['Nguyễn Văn An', 'Trần Thị Bình', 'Lê Văn Cường', 'Phạm Thị Dung', 'Hoàng Văn Em'];

/** A population file of `n` rows from serial `base`, lines 4 and 9 bad; returns its path and how many rows are good. */
function populationFile(name: string, base: number, n: number, nameShift = 0): { path: string; good: number; bad: number[] } {
  const lines = [HEADER];
  const bad: number[] = [];
  for (let i = 0; i < n; i++) {
    const line = i + 2;
    if (line === 4 || line === 9) {
      lines.push(`12345,Bad Row,1990-01-01,M,alive,,`); // not a personal ID number
      bad.push(line);
      continue;
    }
    const year = 1960 + (i % 40);
    lines.push(`${composePersonalId('001', year, i % 2 ? 'F' : 'M', base + i)},${NAMES[(i + nameShift) % NAMES.length]},${year}-0${1 + (i % 9)}-1${i % 10},${i % 2 ? 'F' : 'M'},alive,,`);
  }
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return { path, good: n - bad.length, bad };
}

const population = (path: string, extra: Partial<ImportOptions> = {}) =>
  importRegistry({ pool: db.pool, ring: db.ring, kind: 'population', path, rejectsPath: path + '.rejects.csv', workers: 1, chunkBytes: 64, ...extra });

async function runOf(path: string) {
  return (await db.pool.query<{ id: string; status: string; checkpoint_line: number }>(
    `SELECT id, status, checkpoint_line::int AS checkpoint_line FROM import_runs WHERE source_name = $1 ORDER BY started_at`, [path.split('/').pop()])).rows;
}

/** Runs the import of `path` and kills it (an error in the run, as a crash would) once it has committed ten rows or more. */
async function interrupt(path: string): Promise<{ id: string; checkpoint: number }> {
  await expect(population(path, {
    // 100 bytes at a time, so that the file makes many chunks, each committed on its own.
    open: () => {
      const bytes = readFileSync(path);
      return Readable.from(Array.from({ length: Math.ceil(bytes.length / 100) }, (_, i) => bytes.subarray(i * 100, i * 100 + 100)));
    },
    onProgress: (p) => {
      if (p.rowsRead >= 10) throw new Error('killed');
    },
  })).rejects.toThrow('killed');
  const runs = await runOf(path);
  expect(runs.map((r) => r.status)).toEqual(['failed']);
  // Batches committed before it was killed: the run has something to resume after, past a bad line.
  expect(runs[0]!.checkpoint_line).toBeGreaterThan(9);
  expect(runs[0]!.checkpoint_line).toBeLessThan(25);
  return { id: runs[0]!.id, checkpoint: runs[0]!.checkpoint_line };
}

describe('an interrupted import run again', () => {
  it('resumes after its last committed line, in one chunk this time, and reports, rejects and progresses as one clean run', async () => {
    const file = populationFile('resume.csv', 100, 24);
    const cut = await interrupt(file.path);
    const progress: ImportProgress[] = [];
    // Read from the file at once, one chunk holds it all: the lines up to the checkpoint are in it and must be skipped one by one.
    const summary = await population(file.path, { onProgress: (p) => progress.push(p) });
    expect(summary).toMatchObject({ run_id: cut.id, resumed_after_line: cut.checkpoint, accepted: file.good, unchanged: 0, rejected: file.bad.length });
    expect(readFileSync(summary.rejects_file, 'utf8').trim().split('\n').slice(1)).toEqual(file.bad.map((l) => `${l},personal_id,PERSONAL_ID_INVALID`));
    expect((await db.pool.query('SELECT count(*)::int AS n FROM import_rejects WHERE run_id = $1', [cut.id])).rows[0].n).toBe(file.bad.length);
    expect(progress.at(-1)).toMatchObject({ rowsRead: 24, accepted: file.good, unchanged: 0, rejected: file.bad.length });
    expect((await runOf(file.path)).map((r) => r.status)).toEqual(['completed']);
    // Run once more: a completed run is never resumed; the file changes nothing.
    expect(await population(file.path)).toMatchObject({ resumed_after_line: 0, accepted: 0, unchanged: file.good, rejected: file.bad.length });
  });

  it('starts anew for a different file, abandoning the interrupted run for good: its file run again later is read from its first line', async () => {
    const a = populationFile('first.csv', 300, 24);
    const cut = await interrupt(a.path);
    // The same people with other names: another file of the same registry.
    const b = populationFile('second.csv', 300, 24, 1);
    const other = await population(b.path);
    expect(other).toMatchObject({ resumed_after_line: 0, rejected: b.bad.length });
    expect(other.run_id).not.toBe(cut.id);
    expect((await runOf(a.path)).map((r) => r.status)).toEqual(['abandoned']);
    // File A again: its rows up to the old checkpoint were overwritten by B since, so it must read them all.
    const again = await population(a.path);
    expect(again).toMatchObject({ resumed_after_line: 0, accepted: a.good, unchanged: 0, rejected: a.bad.length });
    expect(again.run_id).not.toBe(cut.id);
  });
});

describe('locks', () => {
  it("one carrier's running import holds off that carrier's second import and its deltas, never another carrier's nor the population's", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const paused = join(dir, 'viettel.csv');
    const head = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at\n';
    const row = '0961000001,,,,store,2024-01-01T00:00:00+07:00,active,,\n';
    writeFileSync(paused, head + row);
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const first = importRegistry({
      pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier: 'viettel', path: paused, rejectsPath: paused + '.rejects.csv', workers: 1,
      onRunStarted: () => started(),
      open: () => Readable.from((async function* () {
        yield Buffer.from(head);
        await gate; // the run holds its lock meanwhile
        yield Buffer.from(row);
      })()),
    });
    try {
      await running;
      const again = importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier: 'viettel', path: paused, rejectsPath: paused + '.r2', workers: 1 });
      await expect(again).rejects.toMatchObject({ code: 'IMPORT_ALREADY_RUNNING' });
      const deltas = join(dir, 'viettel-deltas.ndjson');
      writeFileSync(deltas, JSON.stringify({ event_id: 'lock-1', type: 'unblocked', msisdn: '0961000001', at: '2025-03-06T09:00:00+07:00' }) + '\n');
      await expect(applySubscriptionEvents({ pool: db.pool, ring: db.ring, carrier: 'viettel', path: deltas, rejectsPath: deltas + '.r' }))
        .rejects.toMatchObject({ code: 'IMPORT_ALREADY_RUNNING' });
      const mobi = join(dir, 'mobifone.csv');
      writeFileSync(mobi, head + '0901000001,,,,store,2024-01-01T00:00:00+07:00,active,,\n');
      expect(await importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier: 'mobifone', path: mobi, rejectsPath: mobi + '.r', workers: 1 })).toMatchObject({ accepted: 1 });
      const people = populationFile('while-viettel.csv', 500, 3);
      expect(await population(people.path)).toMatchObject({ accepted: people.good });
    } finally {
      release();
    }
    expect(await first).toMatchObject({ accepted: 1, rejected: 0 });
  });

  it('refuses every import with KEY_ROTATION_RUNNING while a rotation switches blind-index versions, changing nothing, and imports once it is over', async () => {
    const file = populationFile('rotation.csv', 700, 5);
    const rotation = await db.pool.connect();
    const persons = async () => (await db.pool.query('SELECT count(*)::int AS n FROM persons')).rows[0].n as number;
    const before = await persons();
    try {
      await rotation.query('SELECT pg_advisory_lock($1, 0)', [LOCK_BLIND_INDEX_VERSION]);
      await expect(population(file.path)).rejects.toMatchObject({ code: 'KEY_ROTATION_RUNNING' });
      expect(await persons()).toBe(before);
      expect(await runOf(file.path)).toEqual([]);
    } finally {
      await rotation.query('SELECT pg_advisory_unlock_all()');
      rotation.release();
    }
    expect(await population(file.path)).toMatchObject({ resumed_after_line: 0, accepted: file.good });
    expect(await persons()).toBe(before + file.good);
  });
});
