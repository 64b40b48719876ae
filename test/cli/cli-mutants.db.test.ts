/**
 * The command line's contract (issue 2 "CLI", issue 3 `idbind providers`), pinned where a
 * mutation review of src/cli.ts and src/cli/ found it unpinned: usage errors (no command, unknown
 * options, stray arguments, misplaced options) exit 2 and change nothing; `idbind migrate` really
 * applies the migrations and says which; the import's progress bar is drawn on a terminal only and
 * its default rejects file of a delta import is named after the kind; `keys rotate` takes exactly
 * one of its three flags and rotates the key it names; production `serve` seeds nothing and needs
 * its admin token. The real binary in child processes on a fresh database, as in
 * cli-registry.db.test.ts; the terminal case in-process (a child's stderr is a pipe).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { serveOnce } from '../support/serve.ts';
import { main } from '../../src/cli.ts';
import { deriveMasterKeyId } from '../../src/kernel/crypto/master-keys.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
const MIGRATIONS = readdirSync(new URL('../../migrations/', import.meta.url)).filter((f) => /^\d{4}_.*\.sql$/.test(f)).map((f) => f.replace(/\.sql$/, '')).sort();
let db: TestDatabase;
let dir: string;
let env: NodeJS.ProcessEnv;
const masterKey = randomBytes(32);

function idbind(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 45_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function count(sql: string): Promise<number> {
  return (await db.pool.query<{ n: number }>(sql)).rows[0]!.n;
}

const POPULATION = 'personal_id,full_name,birth_date,sex,status\n001090000001,Nguyễn Văn An,1990-05-01,M,alive\n001190000002,Trần Thị Bé,1990-05-01,F,alive\n';

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'idbind-cli-mutants-'));
  const { PATH, HOME } = process.env;
  env = { PATH, HOME, DATABASE_URL: db.url, IDBIND_MASTER_KEY: masterKey.toString('base64'), IDBIND_DATA_DIR: join(dir, 'data'), IDBIND_WORKERS: '1' };
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('idbind migrate', () => {
  it('applies every pending migration and names each, then finds none pending (text and --json)', async () => {
    const r = idbind(['migrate', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ applied: MIGRATIONS });
    // Applied for real: the schema is there before any other command ran.
    expect(await count(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('persons', 'subscriptions', 'key_versions')`)).toBe(3);
    expect(JSON.parse(idbind(['migrate', '--json']).stdout)).toEqual({ applied: [] });
    const text = idbind(['migrate']);
    expect(text.status).toBe(0);
    expect(text.stdout).toBe('no pending migrations\n');
  });

  it('prints "applied NNNN_name" per migration without --json', async () => {
    const fresh = await createTestDatabase({ migrate: false });
    try {
      const r = idbind(['migrate'], { DATABASE_URL: fresh.url });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(MIGRATIONS.map((m) => `applied ${m}\n`).join(''));
    } finally {
      await fresh.drop();
    }
  });
});

describe('usage errors: exit 2, a line naming the problem and the command\'s help, nothing changed', () => {
  it('answers `idbind` with no command by its usage and exit 2 (a request for help exits 0)', () => {
    const bare = idbind([]);
    expect(bare.status).toBe(2);
    expect(bare.stdout).toMatch(/^Usage: idbind <command>/);
    expect(idbind(['help']).status).toBe(0);
  });

  it('refuses an unknown option on every command (never an unexpected failure), and --json says USAGE', async () => {
    for (const args of [
      ['import', 'population', 'x.csv'], ['reconcile'], ['reconcile', 'prune', '--keep-runs', '1'], ['keys', 'status'], ['migrate'],
      ['serve'], ['providers', 'list'], ['generate', '--people', '1', '--subscriptions', '0', '--out', 'x'], ['oidc', 'keys'], ['log', 'vkey'],
    ]) {
      const r = idbind([...args, '--bogus', '--json']);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain("'--bogus'");
      expect(r.stderr, args.join(' ')).toContain(`Run 'idbind ${args[0]} --help' for usage.`);
      expect(r.stderr, args.join(' ')).not.toContain('unexpected failure');
      expect(JSON.parse(r.stdout), args.join(' ')).toEqual({ error: { code: 'USAGE', message: expect.stringContaining('--bogus') } });
    }
    expect(await count('SELECT count(*)::int AS n FROM reconciliation_runs')).toBe(0);
  });

  it('refuses misplaced import options and arguments before importing anything', async () => {
    const file = join(dir, 'usage-population.csv');
    writeFileSync(file, POPULATION);
    for (const [args, message] of [
      [['import', 'population', '--carrier', 'viettel', file], '--carrier goes with subscriptions and subscription-events only'],
      [['import', 'population', file, file], 'give exactly one FILE'],
      [['import', 'subscriptions', '--carrier', 'Viettel', file], '--carrier must be a slug'],
      [['import', 'subscription-events', '--carrier', 'viettel_mobile', file], '--carrier must be a slug'],
      [['import', 'people', file], 'say what to import'],
    ] as const) {
      const r = idbind([...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(message);
    }
    expect(await count('SELECT count(*)::int AS n FROM persons')).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM import_runs')).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM carriers')).toBe(0);
  });

  it('refuses an argument `reconcile`, `reconcile prune` and `migrate` do not take, running nothing', async () => {
    for (const [args, extra] of [[['reconcile', 'now'], 'now'], [['reconcile', 'prune', 'all', '--keep-runs', '1'], 'all'], [['migrate', 'up'], 'up']] as const) {
      const r = idbind([...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(`unexpected argument: ${extra}`);
    }
    expect(await count('SELECT count(*)::int AS n FROM reconciliation_runs')).toBe(0);
  });

  it('refuses `keys rotate` with two flags, and a flag with status or resume, changing no key', async () => {
    const before = (await db.pool.query('SELECT purpose, version, state FROM key_versions ORDER BY 1, 2')).rows;
    for (const args of [
      ['keys', 'rotate', '--master', '--data'], ['keys', 'rotate', '--data', '--blind-index'], ['keys', 'rotate', '--master', '--data', '--blind-index'],
    ]) {
      const r = idbind(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('rotate takes exactly one of --master, --data, --blind-index');
    }
    for (const args of [['keys', 'status', '--data'], ['keys', 'resume', '--blind-index'], ['keys', 'status', '--master']]) {
      const r = idbind(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('goes with rotate');
    }
    for (const args of [['keys'], ['keys', 'status', 'now'], ['keys', 'rotated', '--data']]) {
      const r = idbind(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('say status, rotate or resume');
    }
    expect((await db.pool.query('SELECT purpose, version, state FROM key_versions ORDER BY 1, 2')).rows).toEqual(before);
  });

  it('refuses `providers` without a subcommand, an unknown one, a stray argument or no --name (exit 2), creating nothing', async () => {
    const bare = idbind(['providers']);
    expect(bare.status).toBe(2);
    expect(bare.stdout).toMatch(/^Usage:/);
    for (const [args, message] of [
      [['providers', 'delete', '--name', 'X'], "unknown subcommand 'delete'"],
      [['providers', 'create', 'Sen', '--name', 'Sen', '--kind', 'platform'], 'unexpected argument: Sen'],
      [['providers', 'create', '--kind', 'platform'], '--name is required'],
      [['providers', 'create', '--name', 'Sen', '--kind', 'bank'], '--kind must be platform, carrier or registrar'],
      [['providers', 'create', '--name', 'Sen'], '--kind must be platform, carrier or registrar'],
    ] as const) {
      const r = idbind([...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(message);
    }
    expect(await count(`SELECT count(*)::int AS n FROM providers WHERE kind <> 'portal'`)).toBe(0);
  });
});

describe('idbind import', () => {
  it('draws no progress bar when stderr is not a terminal, and writes the summary on stdout only', () => {
    const file = join(dir, 'pipe-population.csv');
    writeFileSync(file, POPULATION);
    const r = idbind(['import', 'population', file, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const summary = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ accepted: 2, unchanged: 0, rejected: 0, rejects_file: join(dir, 'data', 'rejects', 'population.pipe-population.csv.rejects.csv') });
  });

  it('draws a progress bar on stderr when it is a terminal, and leaves stdout to the summary', async () => {
    const file = join(dir, 'tty-population.csv');
    writeFileSync(file, 'personal_id,full_name,birth_date,sex,status\n001090000003,Lê Văn Cường,1990-05-01,M,alive\n');
    const out = new PassThrough();
    const err = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    let stdout = '';
    let stderr = '';
    out.on('data', (c: Buffer) => (stdout += c.toString()));
    err.on('data', (c: Buffer) => (stderr += c.toString()));
    const status = await main(['import', 'population', file, '--json'], { stdout: out, stderr: err, env, cwd: dir });
    expect(status, stderr).toBe(0);
    expect(stderr).toMatch(/\rimport population \[#{24}\] 100% \d+ rows, 0 rejected \d+s/);
    expect(stderr).toContain('\u001b[K'); // the rest of the terminal line cleared
    expect(stderr.endsWith('\n')).toBe(true);
    expect(JSON.parse(stdout)).toMatchObject({ accepted: 1, rejected: 0 });
  });

  it('writes a delta file\'s rejects, by default, to DATA_DIR/rejects/subscription-events.<carrier>.<file>.rejects.csv (exit 3)', () => {
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, '{"event_id":"e1","type":"terminated","msisdn":"0281234567","at":"2024-01-01T00:00:00+07:00"}\n');
    const r = idbind(['import', 'subscription-events', '--carrier', 'events-co', file, '--json']);
    expect(r.status, r.stderr).toBe(3);
    const summary = JSON.parse(r.stdout) as { rejects_file: string; rejected: number };
    expect(summary.rejected).toBe(1);
    expect(summary.rejects_file).toBe(join(dir, 'data', 'rejects', 'subscription-events.events-co.events.ndjson.rejects.csv'));
    expect(readFileSync(summary.rejects_file, 'utf8')).toMatch(/^line,field,code\n1,msisdn,NOT_VIETNAMESE_MOBILE\n$/);
  });
});

describe('idbind reconcile --json --out', () => {
  const CATEGORY_CODES = ['NO_HOLDER', 'HOLDER_NOT_FOUND', 'HOLDER_DATA_MISMATCH', 'HOLDER_DECEASED', 'ONLINE_BEYOND_LIMIT'];
  const zero = Object.fromEntries(CATEGORY_CODES.map((c) => [c, 0]));
  interface Run { run_id: string; subscriptions: number; categories: Record<string, number>; by_carrier: Record<string, Record<string, number>>; compared_to_previous: Record<string, { new: number; resolved: number }> }

  it('prints the issue\'s shape, every category counted, and one action list per carrier with msisdn and category only', () => {
    const file = join(dir, 'viettel.csv');
    writeFileSync(file, [
      'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status',
      '0961000001,,,,store,2024-01-01,active', // NO_HOLDER
      '0961000002,001090000009,Phạm Văn Dũng,1990-05-01,store,2024-01-01,active', // HOLDER_NOT_FOUND
      '0961000003,001090000001,NGUYEN VAN AN,1990-05-01,store,2024-01-01,active', // clean
    ].join('\n') + '\n');
    expect(idbind(['import', 'subscriptions', '--carrier', 'viettel', file]).status).toBe(0);
    const r = idbind(['reconcile', '--json', '--out', join(dir, 'actions')]);
    expect(r.status, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout) as Run & { action_lists: Record<string, string> };
    expect(Object.keys(run)).toEqual(['run_id', 'subscriptions', 'categories', 'by_carrier', 'compared_to_previous', 'action_lists']);
    expect(run.run_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.subscriptions).toBe(3);
    expect(run.categories).toEqual({ ...zero, NO_HOLDER: 1, HOLDER_NOT_FOUND: 1 });
    // Every carrier known, its junk or none (events-co came with the delta file above).
    expect(run.by_carrier).toEqual({ 'events-co': zero, viettel: { ...zero, NO_HOLDER: 1, HOLDER_NOT_FOUND: 1 } });
    expect(Object.keys(run.compared_to_previous).sort()).toEqual([...CATEGORY_CODES].sort());
    expect(run.action_lists).toMatchObject({ viettel: join(dir, 'actions', 'viettel.csv') });
    expect(readFileSync(join(dir, 'actions', 'viettel.csv'), 'utf8').trim().split('\n').sort()).toEqual(['+84961000001,NO_HOLDER', '+84961000002,HOLDER_NOT_FOUND', 'msisdn,category']);
  });

  it('compares with the previous run: a terminated junk number counts as resolved, nothing as new', () => {
    const events = join(dir, 'viettel-events.ndjson');
    writeFileSync(events, '{"event_id":"t-1","type":"terminated","msisdn":"0961000001","at":"2024-06-01T00:00:00+07:00"}\n');
    expect(idbind(['import', 'subscription-events', '--carrier', 'viettel', events]).status).toBe(0);
    const r = idbind(['reconcile', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout) as Run;
    expect(Object.keys(run)).toEqual(['run_id', 'subscriptions', 'categories', 'by_carrier', 'compared_to_previous']);
    expect(run.subscriptions).toBe(2);
    expect(run.categories).toEqual({ ...zero, HOLDER_NOT_FOUND: 1 });
    expect(run.compared_to_previous).toEqual({ ...Object.fromEntries(CATEGORY_CODES.map((c) => [c, { new: 0, resolved: 0 }])), NO_HOLDER: { new: 0, resolved: 1 } });
  });
});

describe('idbind keys rotate', () => {
  it('--data and --blind-index each make a new version of that key current (--no-wait), and say which', async () => {
    const data = idbind(['keys', 'rotate', '--data', '--no-wait']);
    expect(data.status, data.stderr).toBe(0);
    expect(data.stdout).toBe('data key v2 is now current\n');
    const blind = idbind(['keys', 'rotate', '--blind-index', '--no-wait', '--json']);
    expect(blind.status, blind.stderr).toBe(0);
    expect(JSON.parse(blind.stdout)).toEqual({ version: 2, waiting: false });
    const rows = (await db.pool.query<{ purpose: string; version: number; state: string }>(`SELECT purpose, version, state FROM key_versions WHERE purpose IN ('data', 'blind_index') ORDER BY 1, 2`)).rows;
    expect(rows).toEqual([
      { purpose: 'blind_index', version: 1, state: 'previous' }, { purpose: 'blind_index', version: 2, state: 'current' },
      { purpose: 'data', version: 1, state: 'previous' }, { purpose: 'data', version: 2, state: 'current' },
    ]);
  });

  it('keys resume re-encrypts and re-indexes what the rotations left, then retires the replaced versions past their grace', async () => {
    // The grace every process has to take the new key (60 s) is made past, rather than waited.
    await db.pool.query(`UPDATE key_versions SET created_at = created_at - interval '5 minutes'`);
    const r = idbind(['keys', 'resume']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^re-encrypted [1-9][\d,]* and re-indexed [1-9][\d,]* rows; retired (blind_index v1, data v1|data v1, blind_index v1)\n$/);
    const status = JSON.parse(idbind(['keys', 'status', '--json']).stdout) as { data_keys: { version: number; state: string }[]; blind_index_keys: { version: number; state: string }[] };
    expect(status.data_keys.map((k) => [k.version, k.state])).toEqual([[1, 'retired'], [2, 'current']]);
    expect(status.blind_index_keys.map((k) => [k.version, k.state])).toEqual([[1, 'retired'], [2, 'current']]);
  });

  it('--master re-wraps every live key under the first key of IDBIND_MASTER_KEYS, after which the old one wraps nothing', async () => {
    const next = randomBytes(32);
    const both = { IDBIND_MASTER_KEY: '', IDBIND_MASTER_KEYS: `next-2026:${next.toString('base64')},${masterKey.toString('base64')}` };
    const r = idbind(['keys', 'rotate', '--master'], both);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('re-wrapped 2 key(s) under next-2026\n');
    const status = idbind(['keys', 'status'], both);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toContain('next-2026 (current): wraps 2 key(s)\n');
    expect(status.stdout).toContain(`${deriveMasterKeyId(masterKey)}: wraps 0 key(s) — may be removed from configuration\n`);
    // The retired versions' wrapped keys are deleted (docs/keys.md): they are no longer "wrapped by"
    // the old master key, which the operator is told may be removed.
    expect(status.stdout).toMatch(/^ {2}v1 retired +0 rows, destroyed$/m);
    expect(status.stdout).not.toContain(`wrapped by ${deriveMasterKeyId(masterKey)}`);
    const json = idbind(['keys', 'rotate', '--master', '--json'], { IDBIND_MASTER_KEY: '', IDBIND_MASTER_KEYS: `next-2026:${next.toString('base64')}` });
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'MASTER_KEY_NOT_NEW' } });
    // The people imported above are still read under the new master key alone.
    const again = idbind(['import', 'population', join(dir, 'pipe-population.csv'), '--json'], { IDBIND_MASTER_KEY: '', IDBIND_MASTER_KEYS: `next-2026:${next.toString('base64')}` });
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ accepted: 0, unchanged: 2, rejected: 0 });
  });
});

describe('idbind serve in production mode', () => {
  it('refuses to start without IDBIND_ADMIN_TOKEN, naming it', async () => {
    const fresh = await createTestDatabase({ migrate: false });
    try {
      const out = await serveOnce({ DATABASE_URL: fresh.url, IDBIND_DATA_DIR: join(dir, 'serve-no-token'), IDBIND_WORKERS: '1', IDBIND_MASTER_KEY: randomBytes(32).toString('base64') });
      expect(out.status).toBe(1);
      expect(out.stdout).not.toContain('is running');
      expect(out.stderr).toMatch(/^idbind serve: .*IDBIND_ADMIN_TOKEN/m);
    } finally {
      await fresh.drop();
    }
  }, 60_000);

  it("refuses the demo's generated master key even on a fresh database (no demo platform or mode recorded to give it away)", async () => {
    const fresh = await createTestDatabase({ migrate: false });
    const dataDir = join(dir, 'serve-demo-key');
    try {
      const key = randomBytes(32).toString('base64');
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(join(dataDir, 'demo-master.key'), `${key}\n`, { mode: 0o600 });
      const out = await serveOnce({ DATABASE_URL: fresh.url, IDBIND_DATA_DIR: dataDir, IDBIND_WORKERS: '1', IDBIND_MASTER_KEY: key, IDBIND_ADMIN_TOKEN: randomBytes(32).toString('base64url') });
      expect(out.status).toBe(1);
      expect(out.stdout).not.toContain('is running');
      expect(out.stderr).toMatch(/^idbind serve: the master key is the demo's generated key/m);
    } finally {
      await fresh.drop();
    }
  }, 60_000);

  it('runs, seeding no registry and no demo platform, and generating nothing into the data directory', async () => {
    const fresh = await createTestDatabase({ migrate: false });
    const dataDir = join(dir, 'serve-production');
    try {
      const out = await serveOnce({
        DATABASE_URL: fresh.url, IDBIND_DATA_DIR: dataDir, IDBIND_WORKERS: '1', IDBIND_MASTER_KEY: randomBytes(32).toString('base64'),
        IDBIND_ADMIN_TOKEN: randomBytes(32).toString('base64url'),
      });
      expect(out.stdout, out.stderr).toContain('idbind is running\n');
      expect(out.stdout).not.toContain('demo');
      const counts = await fresh.pool.query(`SELECT (SELECT count(*)::int FROM persons) AS people, (SELECT count(*)::int FROM subscriptions) AS subscriptions,
        (SELECT count(*)::int FROM providers WHERE kind <> 'portal') AS providers, (SELECT mode FROM deployment_mode) AS mode`);
      expect(counts.rows[0]).toEqual({ people: 0, subscriptions: 0, providers: 0, mode: 'production' });
      expect(existsSync(dataDir) ? readdirSync(dataDir).filter((f) => f.startsWith('demo')) : []).toEqual([]);
    } finally {
      await fresh.drop();
    }
  }, 60_000);
});
