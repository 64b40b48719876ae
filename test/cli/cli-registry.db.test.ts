/**
 * The CLI end to end, as a carrier engineer would run it: the real `idbind` binary in child
 * processes against a fresh database: generate, import, reconcile, re-import, a dump of the
 * database that must contain no generated personal value, and an import killed with SIGKILL and
 * run again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, statSync, existsSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { composePersonalId } from '../../src/registry/personal-id.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
let db: TestDatabase;
let dir: string;
let env: NodeJS.ProcessEnv;

function idbind(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'idbind-cli-'));
  const { PATH, HOME } = process.env;
  env = { PATH, HOME, DATABASE_URL: db.url, IDBIND_MASTER_KEY: randomBytes(32).toString('base64'), IDBIND_DATA_DIR: join(dir, 'data'), IDBIND_WORKERS: '2' };
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('idbind CLI on generated registries', () => {
  const gen = () => join(dir, 'gen');
  let firstRunId = '';
  let planted: { planted: Record<string, number>; by_carrier: Record<string, Record<string, number>>; people: number; files: Record<string, string> };

  it('generates, imports every file, and reconciles to exactly the planted junk', () => {
    const g = idbind(['generate', '--people', '3000', '--subscriptions', '3600', '--junk-rate', '0.03', '--seed', '7', '--out', gen(), '--json']);
    expect(g.status).toBe(0);
    planted = JSON.parse(g.stdout);
    const pop = idbind(['import', 'population', planted.files.population!, '--json']);
    expect(pop.status).toBe(0);
    expect(JSON.parse(pop.stdout)).toMatchObject({ accepted: 3000, unchanged: 0, rejected: 0 });
    for (const carrier of Object.keys(planted.by_carrier)) {
      const r = idbind(['import', 'subscriptions', '--carrier', carrier, planted.files[carrier]!, '--json']);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout).rejected).toBe(0);
    }
    const rec = idbind(['reconcile', '--json', '--out', join(dir, 'actions')]);
    expect(rec.status).toBe(0);
    const run = JSON.parse(rec.stdout);
    firstRunId = run.run_id;
    expect(run.categories).toEqual(planted.planted);
    expect(run.by_carrier).toEqual(planted.by_carrier);
    const viettel = join(dir, 'actions', 'viettel.csv');
    expect(statSync(viettel).mode & 0o777).toBe(0o600);
    const total = Object.values(planted.by_carrier.viettel!).reduce((a, b) => a + b, 0);
    expect(readFileSync(viettel, 'utf8').trim().split('\n')).toHaveLength(total + 1);
  });

  it('prunes older runs\' results: a dry run lists them, `reconcile --keep-runs` and `reconcile prune` delete them', () => {
    const junk = Object.values(planted.planted).reduce((a, b) => a + b, 0);
    expect(idbind(['reconcile', '--json']).status).toBe(0);
    const dry = idbind(['reconcile', 'prune', '--keep-runs', '1', '--dry-run', '--json']);
    expect(dry.status).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ dry_run: true, keep_runs: 1, runs: [{ run_id: firstRunId, results: junk }], results: junk });
    const third = idbind(['reconcile', '--json', '--keep-runs', '2']);
    expect(third.status).toBe(0);
    expect(JSON.parse(third.stdout).pruned_runs).toEqual([{ run_id: firstRunId, results: junk }]);
    const again = idbind(['reconcile', 'prune', '--keep-runs', '2', '--json']);
    expect(JSON.parse(again.stdout)).toEqual({ dry_run: false, keep_runs: 2, runs: [], results: 0 });
    const text = idbind(['reconcile', 'prune', '--keep-runs', '1']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/deleted the results of 1 run, [\d,]+ rows/);
    expect(idbind(['reconcile', 'prune']).stderr).toMatch(/--keep-runs N is required/);
    expect(idbind(['reconcile', 'prune']).status).toBe(2);
    expect(idbind(['reconcile', 'prune', '--keep-runs', '0']).status).toBe(2);
    expect(idbind(['reconcile', '--keep-runs', 'x']).status).toBe(2);
  });

  it('changes nothing when a file is imported again', () => {
    const r = idbind(['import', 'population', planted.files.population!, '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 0, unchanged: 3000, rejected: 0 });
  });

  it('stores no generated personal value in clear: a dump of every table contains none', async () => {
    const tables = await db.pool.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`);
    let dump = '';
    for (const { tablename } of tables.rows) {
      const rows = await db.pool.query(`SELECT t::text AS r FROM ${tablename} t`);
      dump += rows.rows.map((r) => r.r).join('\n');
    }
    expect(dump.length).toBeGreaterThan(1_000_000);
    const people = readFileSync(planted.files.population!, 'utf8').trim().split('\n').slice(1, 400).map((l) => l.split(','));
    const subs = readFileSync(planted.files.viettel!, 'utf8').trim().split('\n').slice(1, 400).map((l) => l.split(','));
    const needles = new Set<string>();
    for (const p of people) {
      needles.add(p[0]!); // personal ID
      needles.add(p[1]!.replace(/"/g, '')); // full name
    }
    for (const s of subs) needles.add(s[0]!.replace(/^(\+84|84|0)/, '')); // the number's 9 significant digits
    const hexDump = dump.toLowerCase();
    // The clear-text search skips bytea values (`\x` + hex): 9 decimal digits turn up by chance
    // inside megabytes of ciphertext hex (a few per cent of runs), which is no leak; the hex-encoded
    // search below covers what bytea could hide.
    const textDump = dump.replace(/\\x[0-9a-f]+/g, '');
    for (const needle of needles) {
      if (needle.length < 6) continue;
      expect(textDump.includes(needle), 'a personal value appears in clear').toBe(false);
      expect(hexDump.includes(Buffer.from(needle, 'utf8').toString('hex')), 'a personal value appears hex-encoded').toBe(false);
    }
    const rejects = readFileSync(join(dir, 'data', 'rejects', 'population.population.csv.rejects.csv'), 'utf8');
    expect(rejects).toBe('line,field,code\n');
  });

  it('exits 3 and writes a 0600 rejects file with codes only when rows are rejected', () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'personal_id,full_name,birth_date,sex,status\n001090000001,Nguyễn Văn An,1990-05-01,M,alive\n001290000001,Trần Thị Bé,1990-05-01,F,alive\n');
    // Audit of issue 2, finding 7: over an existing 0644 file the rejects were written under its
    // old mode, then chmodded; a reader that opened it before read them all.
    writeFileSync(join(dir, 'bad.rejects.csv'), 'old\n', { mode: 0o644 });
    const reader = openSync(join(dir, 'bad.rejects.csv'), 'r');
    try {
      const r = idbind(['import', 'population', bad, '--json', '--rejects', join(dir, 'bad.rejects.csv')]);
      expect(r.status).toBe(3);
      expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 1, rejected: 1, rejects_file: join(dir, 'bad.rejects.csv') });
      expect(readFileSync(join(dir, 'bad.rejects.csv'), 'utf8')).toBe('line,field,code\n3,personal_id,PERSONAL_ID_CONTRADICTS_BIRTH_DATE\n');
      expect(statSync(join(dir, 'bad.rejects.csv')).mode & 0o777).toBe(0o600);
      const seen = Buffer.alloc(100);
      expect(seen.toString('utf8', 0, readSync(reader, seen, 0, 100, 0))).toBe('old\n');
    } finally {
      closeSync(reader);
    }
  });

  it('names the default rejects file after the kind of import and the carrier: two carriers\' files of the same name keep their own', () => {
    const header = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status';
    const rejects: Record<string, string> = {};
    for (const [carrier, bad] of [['carrier-a', 2], ['carrier-b', 3]] as const) {
      const d = join(dir, carrier);
      mkdirSync(d, { recursive: true });
      const rows = ['0971000001', '0971000002'].map((m, i) => `${i + 2 === bad ? '0281234567' : m},,,,store,2024-01-01,active`);
      writeFileSync(join(d, 'subscriptions.csv'), [header, ...rows].join('\n') + '\n');
      const r = idbind(['import', 'subscriptions', '--carrier', carrier, join(d, 'subscriptions.csv'), '--json']);
      expect(r.status).toBe(3);
      rejects[carrier] = JSON.parse(r.stdout).rejects_file;
      expect(rejects[carrier]).toBe(join(dir, 'data', 'rejects', `subscriptions.${carrier}.subscriptions.csv.rejects.csv`));
    }
    expect(readFileSync(rejects['carrier-a']!, 'utf8')).toBe('line,field,code\n2,msisdn,NOT_VIETNAMESE_MOBILE\n');
    expect(readFileSync(rejects['carrier-b']!, 'utf8')).toBe('line,field,code\n3,msisdn,NOT_VIETNAMESE_MOBILE\n');
  });

  it('answers --help on every command, and usage errors with exit 2', () => {
    for (const c of ['serve', 'migrate', 'generate', 'import', 'reconcile', 'keys']) {
      const r = idbind([c, '--help']);
      expect(r.status, c).toBe(0);
      expect(r.stdout).toMatch(/^Usage:/m);
    }
    expect(idbind(['import', 'subscriptions', 'x.csv']).status).toBe(2);
    expect(idbind(['import', 'subscriptions', '--carrier', 'viettel', '--correct-deaths', 'x.csv']).status).toBe(2);
    expect(idbind(['import', 'population', 'x.txt']).status).toBe(1);
    expect(idbind(['frobnicate']).status).toBe(2);
    expect(idbind(['keys', 'rotate']).status).toBe(2);
  });

  it('fails closed without a master key outside demo mode, naming the variable', () => {
    const r = idbind(['reconcile'], { IDBIND_MASTER_KEY: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('IDBIND_MASTER_KEY');
    const short = idbind(['reconcile'], { IDBIND_MASTER_KEY: Buffer.alloc(16).toString('base64') });
    expect(short.status).toBe(1);
    expect(short.stderr).toContain('32 bytes');
  });
});

describe('an import killed with SIGKILL', () => {
  it('resumes after its last committed batch and ends with exactly the rows it should have', async () => {
    const out = join(dir, 'big');
    expect(idbind(['generate', '--people', '60000', '--subscriptions', '100', '--seed', '3', '--out', out]).status).toBe(0);
    await db.pool.query('TRUNCATE persons, import_runs, import_rejects, import_seen, reconciliation_runs, reconciliation_results, access_records, subscription_events, subscriptions CASCADE');
    const child = spawn(process.execPath, [BIN, 'import', 'population', join(out, 'population.csv'), '--json'], { env, stdio: 'ignore' });
    let checkpoint = 0;
    for (const end = Date.now() + 120_000; checkpoint === 0 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 50));
      const r = await db.pool.query(`SELECT coalesce(max(checkpoint_line), 0)::int AS c FROM import_runs WHERE status = 'running'`);
      checkpoint = r.rows[0].c;
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(checkpoint).toBeGreaterThan(0);
    const mid = await db.pool.query('SELECT count(*)::int AS n FROM persons');
    expect(mid.rows[0].n).toBeLessThan(60000);

    const again = idbind(['import', 'population', join(out, 'population.csv'), '--json']);
    expect(again.status).toBe(0);
    const summary = JSON.parse(again.stdout);
    expect(summary.resumed_after_line).toBeGreaterThan(0);
    expect(summary).toMatchObject({ accepted: 60000, unchanged: 0, rejected: 0 });
    const end = await db.pool.query('SELECT count(*)::int AS n, count(DISTINCT pid_bidx)::int AS d FROM persons');
    expect(end.rows[0]).toEqual({ n: 60000, d: 60000 });
    const runs = await db.pool.query(`SELECT status, count(*)::int AS n FROM import_runs GROUP BY status`);
    expect(runs.rows).toEqual([{ status: 'completed', n: 1 }]);
    expect(existsSync(summary.rejects_file)).toBe(true);
  });
});

// Audit of issue 2, finding 1: a quote never closed used to hold every later line in one record,
// and past 16 MiB failed the whole import (exit 1, IMPORT_FORMAT_INVALID "never closed").
describe('a quote never closed, followed by many megabytes of rows', () => {
  it('rejects that one line and imports every other row, for population and subscription files (exit 3)', async () => {
    expect(idbind(['migrate']).status).toBe(0); // when run alone
    await db.pool.query('TRUNCATE persons, import_runs, import_rejects, import_seen, reconciliation_runs, reconciliation_results, access_records, subscription_events, subscriptions CASCADE');
    // Long names (letters and spaces, under 200 characters) so that 17 MiB, past the old 16 MiB
    // bound, take about 75,000 rows.
    const name = (i: number) => `Nguyễn Văn Thành Công Minh Đức Quang Huy Hoàng Bảo Khánh Phúc Lộc Thọ An Bình Trường Sơn Hải Long Tuấn Kiệt Nhật Tân Vĩnh Phú Quốc Việt Hùng Dũng Mạnh Tiến Trung Kiên Nghĩa Hiếu Thảo ${String.fromCharCode(65 + (i % 26))}`;
    const rows = 75_000;
    const pid = (i: number) => composePersonalId('001', 1990, 'M', 100_000 + i);
    const lines = ['personal_id,full_name,birth_date,sex,status'];
    lines.push(`${pid(0)},"Trần Thị Bé,1990-05-01,M,alive`); // line 2: opened, never closed
    for (let i = 1; i <= rows; i++) lines.push(`${pid(i)},${name(i)},1990-05-01,M,alive`);
    const population = join(dir, 'open-quote-population.csv');
    writeFileSync(population, lines.join('\n') + '\n');
    expect(statSync(population).size).toBeGreaterThan(17 * 1024 * 1024);
    const p = idbind(['import', 'population', population, '--json', '--rejects', join(dir, 'open-quote-population.rejects.csv')]);
    expect(p.stderr).not.toContain('IMPORT_FORMAT_INVALID');
    expect(p.status).toBe(3);
    expect(JSON.parse(p.stdout)).toMatchObject({ accepted: rows, unchanged: 0, rejected: 1 });
    expect(readFileSync(join(dir, 'open-quote-population.rejects.csv'), 'utf8')).toBe('line,field,code\n2,*,MALFORMED_ROW\n');

    const subs = ['msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status'];
    subs.push(`0981000000,${pid(0)},Trần "Thị Bé,1990-05-01,store,2024-01-01,active`); // line 2: a stray quote, never closed
    for (let i = 1; i <= rows; i++) subs.push(`098${String(1_000_000 + i).padStart(7, '0')},${pid(i)},${name(i)},1990-05-01,store,2024-01-01T08:00:00,active`);
    const carrierFile = join(dir, 'open-quote-subscriptions.csv');
    writeFileSync(carrierFile, subs.join('\n') + '\n');
    expect(statSync(carrierFile).size).toBeGreaterThan(17 * 1024 * 1024);
    const s = idbind(['import', 'subscriptions', '--carrier', 'open-quote', carrierFile, '--json', '--rejects', join(dir, 'open-quote-subscriptions.rejects.csv')]);
    expect(s.stderr).not.toContain('IMPORT_FORMAT_INVALID');
    expect(s.status).toBe(3);
    expect(JSON.parse(s.stdout)).toMatchObject({ accepted: rows, unchanged: 0, rejected: 1 });
    expect(readFileSync(join(dir, 'open-quote-subscriptions.rejects.csv'), 'utf8')).toBe('line,field,code\n2,*,MALFORMED_ROW\n');
  }, 240_000);
});
