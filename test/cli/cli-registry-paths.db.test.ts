/**
 * The paths a carrier engineer types into `idbind import` and `idbind reconcile`, wrong: a
 * directory for the input file, a directory or the input file itself for `--rejects`, an existing
 * file for `--out`. Each must get a precise error before anything is imported or run (DESIGN.md
 * invariant 5: "Bad input gets a precise error and changes nothing"), not an unexpected failure
 * with a stack trace after the rows were committed or the run recorded. The real binary in child
 * processes, on a fresh database, as in cli-registry.db.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
let db: TestDatabase;
let dir: string;
let env: NodeJS.ProcessEnv;

function idbind(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function count(table: string): Promise<number> {
  return (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
}

const POPULATION = 'personal_id,full_name,birth_date,sex,status\n001090000001,Nguyễn Văn An,1990-05-01,M,alive\n001290000002,Trần Thị Bé,1990-05-01,F,alive\n';

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'idbind-cli-paths-'));
  const { PATH, HOME } = process.env;
  env = { PATH, HOME, DATABASE_URL: db.url, IDBIND_MASTER_KEY: randomBytes(32).toString('base64'), IDBIND_DATA_DIR: join(dir, 'data'), IDBIND_WORKERS: '1' };
  expect(idbind(['migrate']).status).toBe(0);
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('idbind import given a directory for FILE', () => {
  it('fails with IMPORT_FILE_NOT_FOUND naming the problem, for registry files and delta files alike', () => {
    for (const [args, name] of [
      [['import', 'population'], 'registry.csv'],
      [['import', 'subscriptions', '--carrier', 'viettel'], 'carrier.ndjson'],
      [['import', 'subscription-events', '--carrier', 'viettel'], 'deltas.ndjson'],
    ] as const) {
      const path = join(dir, name);
      mkdirSync(path, { recursive: true });
      const r = idbind([...args, path, '--json']);
      expect(r.status, name).toBe(1);
      expect(r.stderr, name).not.toContain('unexpected failure');
      expect(r.stderr, name).toMatch(/IMPORT_FILE_NOT_FOUND: .*directory/);
      expect(JSON.parse(r.stdout), name).toEqual({ error: { code: 'IMPORT_FILE_NOT_FOUND', message: expect.stringContaining('directory') } });
    }
  });
});

describe('idbind import --rejects', () => {
  it('refuses a directory before importing anything (it used to commit every row, then fail writing the rejects)', async () => {
    const input = join(dir, 'population.csv');
    writeFileSync(input, POPULATION);
    const rejectsDir = join(dir, 'rejects-here');
    mkdirSync(rejectsDir);
    const r = idbind(['import', 'population', input, '--rejects', rejectsDir, '--json']);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toContain('unexpected failure');
    expect(r.stderr).toContain('--rejects');
    expect(r.stderr).toContain('directory');
    expect(await count('persons')).toBe(0);
    expect(await count('import_runs')).toBe(0);
  });

  it('refuses a path inside a file (its directory cannot be made) before importing anything', async () => {
    const input = join(dir, 'population.csv');
    writeFileSync(input, POPULATION);
    const r = idbind(['import', 'population', input, '--rejects', join(input, 'rejects.csv')]);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toContain('unexpected failure');
    expect(r.stderr).toContain('--rejects');
    expect(await count('persons')).toBe(0);
  });

  it('refuses the input file itself, which the rejects would replace', async () => {
    const input = join(dir, 'deltas.csv-and-rejects.csv');
    writeFileSync(input, POPULATION);
    for (const rejects of [input, join(dir, '.', 'deltas.csv-and-rejects.csv')]) {
      const r = idbind(['import', 'population', input, '--rejects', rejects]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('--rejects');
      expect(readFileSync(input, 'utf8')).toBe(POPULATION);
    }
    expect(await count('persons')).toBe(0);
  });
});

describe('idbind reconcile --out', () => {
  it('refuses an existing file before the run starts (it used to fail after the run was recorded)', async () => {
    const file = join(dir, 'not-a-directory');
    writeFileSync(file, 'x\n');
    const r = idbind(['reconcile', '--out', file, '--json']);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toContain('unexpected failure');
    expect(r.stderr).toContain('--out');
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'USAGE' } });
    expect(await count('reconciliation_runs')).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('x\n');
  });
});
