/**
 * Imports killed with SIGKILL at pseudo-random moments (issue 2: "An import killed at any moment
 * (kill -9) and run again ends with exactly the rows it should have: no duplicates, nothing
 * missing"; DESIGN.md invariant 6). The real `idbind` binary runs in child processes against one
 * database and is killed, again and again, then run to the end; a second database, sharing its
 * keys (so that blind indexes and row digests compare), imports the same files once each without
 * interruption. Both must end in the same state: the same rows (by blind index and digest of their
 * content), the same history, the same delta events and outcomes, the same run summary, the same
 * rejects file, one completed run and one access record per file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
let killed: TestDatabase;
let reference: TestDatabase;
let dir: string;
let baseEnv: NodeJS.ProcessEnv;

interface Exit {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const envOf = (db: TestDatabase, name: string): NodeJS.ProcessEnv => ({ ...baseEnv, DATABASE_URL: db.url, IDBIND_DATA_DIR: join(dir, `data-${name}`) });

function idbind(db: TestDatabase, name: string, args: string[]): Exit {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: envOf(db, name), encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function start(db: TestDatabase, name: string, args: string[]): { child: ReturnType<typeof spawn>; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: envOf(db, name), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exit = new Promise<Exit>((resolve) => child.once('exit', (status, signal) => resolve({ status, signal, stdout, stderr })));
  return { child, exit };
}

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  killed = await createTestDatabase();
  reference = await createTestDatabase();
  // The reference database takes the killed one's keys (wrapped under the same master key), so
  // that blind indexes and digests of the same rows are equal in both.
  const keys = await killed.pool.query('SELECT purpose, version, wrapped, master_key_id, state, name_rule FROM key_versions');
  await reference.pool.query('DELETE FROM key_versions');
  for (const k of keys.rows) {
    await reference.pool.query('INSERT INTO key_versions (purpose, version, wrapped, master_key_id, state, name_rule) VALUES ($1, $2, $3, $4, $5, $6)',
      [k.purpose, k.version, k.wrapped, k.master_key_id, k.state, k.name_rule]);
  }
  dir = mkdtempSync(join(tmpdir(), 'idbind-kill-'));
  const { PATH, HOME } = process.env;
  // Batches of 32 KiB: a dozen thousand rows make as many batches as a national file's first megabytes.
  baseEnv = { PATH, HOME, IDBIND_MASTER_KEY: killed.master.key.toString('base64'), IDBIND_WORKERS: '2', IDBIND_IMPORT_CHUNK_KIB: '32' };
});
afterAll(async () => {
  await killed?.drop();
  await reference?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---- the files ----

const T0 = Date.parse('2026-06-01T00:00:00+07:00');
const iso = (ms: number) => new Date(ms).toISOString();

interface Files {
  population: string;
  viettel: string;
  viettelChanged: string;
  events: string;
}

/**
 * The generator's files, with rows rejected in every batch (a repeated key, a malformed value),
 * a changed carrier file (blocks, SIM changes, terminations, new holders, dropped rows, new
 * numbers, rows older than what is stored) and a delta file whose events depend on their order
 * (a holder change then a SIM change of the same number, a termination then a registration).
 */
function writeFiles(gen: string): Files {
  const lines = (f: string) => readFileSync(join(gen, f), 'utf8').trim().split('\n');
  const [popHeader, ...people] = lines('population.csv');
  const pop = [popHeader!];
  people.forEach((l, i) => {
    pop.push(l);
    if (i % 1500 === 1499) pop.push(people[i - 100]!); // DUPLICATE_KEY
    if (i % 2500 === 2499) pop.push('999999999999,Nguyễn Văn A,1990-01-01,M,alive,,'); // bad ID
  });
  const population = join(dir, 'population.csv');
  writeFileSync(population, pop.join('\n') + '\n');

  const [subHeader, ...subs] = lines('viettel.csv');
  const first = [subHeader!];
  subs.forEach((l, i) => {
    first.push(l);
    if (i % 1500 === 1499) first.push(subs[i - 100]!); // DUPLICATE_KEY
    if (i % 2500 === 2499) first.push('0281234567,,,,store,2024-01-01,active,,'); // not a mobile number
  });
  const viettel = join(dir, 'viettel.csv');
  writeFileSync(viettel, first.join('\n') + '\n');

  // The changed file. Columns: msisdn, holder_personal_id, holder_full_name, holder_birth_date,
  // channel, registered_at, status, sim_changed_at, device_changed_at.
  const holders = people.map((l) => l.split(',')).filter((c) => c[4] === 'alive').map((c) => [c[0]!, c[1]!, c[2]!]);
  const numbers = new Set(subs.map((l) => l.split(',')[0]!.slice(-9)));
  const changed = [subHeader!];
  const live: string[] = [];
  subs.forEach((l, i) => {
    const c = l.split(',');
    if (i % 17 === 5) return; // absent: left as it is
    if (i % 7 === 0 && c[6] === 'active') c[6] = 'blocked_outgoing';
    if (i % 11 === 0) c[7] = '2026-03-01T10:00:00+07:00';
    if (i % 13 === 0 && c[1] !== '') {
      const h = holders[(i * 7) % holders.length]!;
      [c[1], c[2], c[3], c[4], c[5]] = [h[0]!, h[1]!, h[2]!, 'store', '2026-05-01T09:00:00+07:00']; // a new holder
    } else if (i % 19 === 0 && c[1] !== '' && c[6] !== 'terminated') {
      const h = holders[(i * 3) % holders.length]!;
      [c[1], c[2], c[3], c[5]] = [h[0]!, h[1]!, h[2]!, '2000-01-01T09:00:00+07:00']; // OLDER_THAN_STORED
    } else if (i % 23 === 0 && c[6] === 'active') c[6] = 'terminated';
    changed.push(c.join(','));
    if (c[6] !== 'terminated' && i % 19 !== 0) live.push(c[0]!);
    if (i % 1200 === 1199) changed.push(changed[changed.length - 50]!); // DUPLICATE_KEY
  });
  for (let n = 0, k = 0; n < 3000; k++) {
    const number = `0868${String(100000 + k * 37).padStart(6, '0')}`;
    if (numbers.has(number.slice(-9))) continue;
    const h = holders[(k * 11) % holders.length]!;
    changed.push(`${number},${h[0]},${h[1]},${h[2]},online,2026-04-0${1 + (k % 9)}T10:00:00+07:00,active,,`);
    n++;
  }
  const viettelChanged = join(dir, 'viettel-changed.csv');
  writeFileSync(viettelChanged, changed.join('\n') + '\n');

  // Deltas: one event first, so that the pairs below straddle the batches of 500.
  const ev: string[] = [JSON.stringify({ event_id: 'e-first', type: 'device_changed', msisdn: live[0], at: iso(T0) })];
  let id = 0;
  const event = (o: Record<string, string>) => ev.push(JSON.stringify({ event_id: `e-${id++}`, ...o }));
  for (let j = 1; j * 5 < live.length && j < 2600; j++) {
    const msisdn = live[j * 5]!;
    const at = T0 + j * 60_000;
    const h = holders[(j * 13) % holders.length]!;
    const holder = { holder_personal_id: h[0]!, holder_full_name: h[1]!, holder_birth_date: h[2]! };
    switch (j % 4) {
      case 0: // a new holder, then a SIM change: the new holder's
        event({ type: 'holder_changed', msisdn, at: iso(at), ...holder, channel: 'store' });
        event({ type: 'sim_changed', msisdn, at: iso(at + 1000) });
        break;
      case 1: // terminated, then registered again: a new subscription
        event({ type: 'terminated', msisdn, at: iso(at) });
        event({ type: 'registered', msisdn, at: iso(at + 1000), ...holder, channel: 'online' });
        break;
      case 2: // blocked then unblocked, and a block older than the unblock (stale)
        event({ type: 'blocked_both', msisdn, at: iso(at) });
        event({ type: 'unblocked', msisdn, at: iso(at + 2000) });
        event({ type: 'blocked_outgoing', msisdn, at: iso(at + 1000) });
        break;
      default: // a SIM change then its event sent again (DUPLICATE_KEY), and a bad number
        event({ type: 'sim_changed', msisdn, at: iso(at) });
        ev.push(ev[ev.length - 1]!);
        if (j % 40 === 3) event({ type: 'blocked_both', msisdn: '0281234567', at: iso(at) });
    }
  }
  const events = join(dir, 'viettel-events.ndjson');
  writeFileSync(events, ev.join('\n') + '\n');
  return { population, viettel, viettelChanged, events };
}

// ---- the state compared ----

/** The database's registry state, in terms both databases share (blind indexes, digests, times). */
async function snapshot(pool: pg.Pool): Promise<Record<string, string[]>> {
  const q = async (sql: string) => (await pool.query<{ r: string }>(sql)).rows.map((x) => x.r);
  return {
    persons: await q(`SELECT concat_ws('|', encode(pid_bidx, 'hex'), encode(match_bidx, 'hex'), encode(digest, 'hex'), status) AS r FROM persons ORDER BY 1`),
    subscriptions: await q(`SELECT concat_ws('|', c.slug, encode(s.msisdn_bidx, 'hex'), encode(s.holder_bidx, 'hex'), encode(s.holder_match_bidx, 'hex'),
        encode(s.digest, 'hex'), s.channel, s.registered_at, s.status, s.sim_changed_at, s.device_changed_at,
        -- A termination by a full file is dated when it was imported: only whether there is one compares.
        CASE WHEN s.ended_at IS NULL THEN '-' WHEN s.ended_at > now() - interval '1 day' THEN 'import time' ELSE s.ended_at::text END,
        s.ended_reason, s.last_event_at) AS r
      FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id ORDER BY 1`),
    events: await q(`SELECT concat_ws('|', c.slug, e.event_id, e.type, e.at, encode(e.msisdn_bidx, 'hex'), encode(e.digest, 'hex'), e.outcome, e.reject_code,
        encode(s.msisdn_bidx, 'hex'), s.registered_at, encode(s.holder_bidx, 'hex'), e.sealed IS NOT NULL AND length(e.sealed) > 1) AS r
      FROM subscription_events e JOIN carriers c ON c.id = e.carrier_id LEFT JOIN subscriptions s ON s.id = e.subscription_id ORDER BY 1`),
    runs: await q(`SELECT concat_ws('|', kind, source_name, status, checkpoint_line, rows_read, accepted, unchanged, rejected) AS r FROM import_runs ORDER BY started_at`),
    access: await q(`SELECT concat_ws('|', a.purpose, a.actor, a.detail) AS r FROM access_records a ORDER BY a.at, a.id`),
    leftovers: await q(`SELECT 'import_seen ' || count(*) AS r FROM import_seen UNION ALL SELECT 'accounts ' || status || ' ' || count(*) FROM accounts GROUP BY status
      UNION ALL SELECT 'outbox ' || count(*) FROM events`),
  };
}

/** Equal snapshots, or the first few differences of each part (not megabytes of diff). */
function diffSnapshots(a: Record<string, string[]>, b: Record<string, string[]>) {
  const out: Record<string, { onlyKilled: string[]; onlyReference: string[]; counts: number[] }> = {};
  for (const part of Object.keys(b)) {
    const xs = new Set(a[part]);
    const ys = new Set(b[part]);
    const onlyKilled = a[part]!.filter((r) => !ys.has(r));
    const onlyReference = b[part]!.filter((r) => !xs.has(r));
    if (a[part]!.length !== b[part]!.length || onlyKilled.length > 0 || onlyReference.length > 0) {
      out[part] = { onlyKilled: onlyKilled.slice(0, 5), onlyReference: onlyReference.slice(0, 5), counts: [a[part]!.length, b[part]!.length] };
    }
  }
  return out;
}

// ---- killing ----

interface KillLog {
  attempts: string[];
  final: Exit;
  /** How many kills landed while a run had committed a batch and not yet finished. */
  midRun: number;
}

async function runState(pool: pg.Pool): Promise<{ status: string; checkpoint: number } | undefined> {
  const r = await pool.query<{ status: string; checkpoint: number }>(
    `SELECT status, checkpoint_line::int AS checkpoint FROM import_runs ORDER BY updated_at DESC LIMIT 1`,
  );
  return r.rows[0];
}

/**
 * Runs `args` against the killed database, killing it `kills` times: by elapsed time (even
 * attempts) or just after a batch commits (odd attempts: the workers then hold the next chunks),
 * then runs it to the end. Each run is started at once after the kill, as an operator would.
 */
async function importWithKills(args: string[], seed: number, kills: number, maxDelayMs: number): Promise<KillLog> {
  const rng = prng(seed);
  const attempts: string[] = [];
  let midRun = 0;
  for (let k = 0; k < kills; k++) {
    const { child, exit } = start(killed, 'k', args);
    let ended: Exit | undefined;
    void exit.then((e) => (ended = e));
    if (k % 2 === 0) {
      const delay = 300 + Math.floor(rng() * maxDelayMs * 0.6);
      await Promise.race([exit, sleep(delay)]);
    } else {
      // Wait for a batch (or two) to commit, then kill within a few milliseconds.
      const before = (await runState(killed.pool))?.checkpoint ?? 0;
      const commits = 1 + Math.floor(rng() * 2);
      let seen = 0;
      let last = before;
      for (const end = Date.now() + 60_000; !ended && seen < commits && Date.now() < end;) {
        await sleep(5);
        const now = (await runState(killed.pool))?.checkpoint ?? 0;
        if (now !== last) {
          seen++;
          last = now;
        }
      }
      await sleep(Math.floor(rng() * 20));
    }
    if (ended) {
      attempts.push(`run ${k}: ended by itself (${ended.status})`);
      return { attempts, final: ended, midRun };
    }
    child.kill('SIGKILL');
    const killedExit = await exit;
    const state = await runState(killed.pool);
    if (state && state.status === 'running' && state.checkpoint > 0) midRun++;
    attempts.push(`run ${k}: killed, run ${state?.status ?? 'none'} at line ${state?.checkpoint ?? 0}`);
    // Killed after its run committed, on its way out: the import had ended (run again, the same
    // file would be a second import, which changes nothing, as another test shows).
    if (state?.status === 'completed') return { attempts, final: killedExit, midRun };
  }
  const { exit } = start(killed, 'k', args);
  const final = await exit;
  attempts.push(`final run: ${final.status}`);
  return { attempts, final, midRun };
}

describe('imports killed with SIGKILL at pseudo-random moments, run again until they end', () => {
  let files: Files;

  beforeAll(() => {
    const gen = join(dir, 'gen');
    expect(idbind(killed, 'k', ['generate', '--people', '12000', '--subscriptions', '14400', '--junk-rate', '0.03', '--seed', '5', '--out', gen]).status).toBe(0);
    files = writeFiles(gen);
  }, 180_000);

  const cases: { name: string; args: () => string[]; rejects: string; seed: number }[] = [
    { name: 'population', args: () => ['import', 'population', files.population, '--json'], rejects: 'population.population.csv.rejects.csv', seed: 1 },
    { name: 'a carrier\'s first import', args: () => ['import', 'subscriptions', '--carrier', 'viettel', files.viettel, '--json'], rejects: 'subscriptions.viettel.viettel.csv.rejects.csv', seed: 2 },
    { name: 'a changed carrier file imported again', args: () => ['import', 'subscriptions', '--carrier', 'viettel', files.viettelChanged, '--json'], rejects: 'subscriptions.viettel.viettel-changed.csv.rejects.csv', seed: 3 },
    { name: 'a delta file whose events depend on their order', args: () => ['import', 'subscription-events', '--carrier', 'viettel', files.events, '--json'], rejects: 'subscription-events.viettel.viettel-events.ndjson.rejects.csv', seed: 4 },
  ];

  for (const c of cases) {
    it(`${c.name}: ends as one uninterrupted import does`, async () => {
      const t = Date.now();
      const ref = idbind(reference, 'r', c.args());
      const took = Date.now() - t;
      expect([0, 3]).toContain(ref.status);
      const refSummary = JSON.parse(ref.stdout);
      expect(refSummary.rejected).toBeGreaterThan(0);

      const log = await importWithKills(c.args(), c.seed, 4, took);
      const final = log.final;
      const rejectsFile = join(dir, 'data-k', 'rejects', c.rejects);
      if (final.signal === null) {
        expect(final.status, `${log.attempts.join('; ')}\n${final.stderr}`).toBe(ref.status);
        const summary = JSON.parse(final.stdout);
        // The resumed run reports the whole file's counts, the killed runs' batches included.
        expect({ ...summary, run_id: '', rejects_file: '', resumed_after_line: 0 }).toEqual({ ...refSummary, run_id: '', rejects_file: '', resumed_after_line: 0 });
        expect(summary.rejects_file).toBe(rejectsFile);
      }
      expect(log.midRun, log.attempts.join('; ')).toBeGreaterThan(0);
      expect(readFileSync(rejectsFile, 'utf8')).toBe(readFileSync(join(dir, 'data-r', 'rejects', c.rejects), 'utf8'));
      expect(diffSnapshots(await snapshot(killed.pool), await snapshot(reference.pool)), log.attempts.join('; ')).toEqual({});
      console.log(c.name, log.attempts.join('; '), `reference ${took} ms`);
    }, 300_000); // 48 s here under load: a reference import, four killed runs and the last
  }
});

/** The backend of the killed database waiting for a lock in a statement like `like`, once there is one. */
async function waitForBlockedBackend(like: string): Promise<number> {
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    const r = await killed.pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`, [like],
    );
    if (r.rows[0]) return r.rows[0].pid;
    await sleep(25);
  }
  throw new Error(`no backend waited in ${like}`);
}

/** Whether any session holds the advisory lock (namespace, key) (import-repository.ts, reconciliation-repository.ts). */
async function advisoryLockHeld(namespace: number, key: number): Promise<boolean> {
  const r = await killed.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
     WHERE l.locktype = 'advisory' AND d.datname = current_database() AND l.classid = $1 AND l.objid = $2 AND l.granted`, [namespace, key],
  );
  return r.rows[0]!.n > 0;
}

/** A population file of people already stored, some of them renamed: accepted rows are updates. */
function renamedPopulation(name: string, every: number): string {
  const [header, ...rows] = readFileSync(join(dir, 'population.csv'), 'utf8').trim().split('\n');
  const out = rows.slice(0, 20_000).map((l, i) => {
    const c = l.split(',');
    if (i % every === 0 && /^\d{12}$/.test(c[0]!)) c[1] = `${c[1]} ${name}`;
    return c.join(',');
  });
  const path = join(dir, `population-${name}.csv`);
  writeFileSync(path, [header, ...out].join('\n') + '\n');
  return path;
}

describe('killed at the moments that matter (a lock held by the test stops the import there)', () => {
  it('killed in the final step, between marking its run completed and recording its access: the run again reports the file and records the run', async () => {
    const path = renamedPopulation('Completion', 5);
    const args = ['import', 'population', path, '--json'];
    const ref = idbind(reference, 'r', args);
    expect(ref.status).toBe(3);

    const blocker = await killed.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE access_records IN SHARE MODE');
      const { child, exit } = start(killed, 'k', args);
      const pid = await waitForBlockedBackend('INSERT INTO access_records%');
      child.kill('SIGKILL');
      await exit;
      // The process died before its statement reached the server: as if it was never sent.
      await killed.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    const again = idbind(killed, 'k', args);
    expect(again.status, again.stderr).toBe(3);
    const summary = JSON.parse(again.stdout);
    expect({ ...summary, run_id: '', rejects_file: '', resumed_after_line: 0 }).toEqual({ ...JSON.parse(ref.stdout), run_id: '', rejects_file: '', resumed_after_line: 0 });
    expect(readFileSync(summary.rejects_file, 'utf8')).toBe(readFileSync(JSON.parse(ref.stdout).rejects_file, 'utf8'));
    // Every completed run that wrote rows has its access record (DESIGN.md invariant 4).
    const unrecorded = await killed.pool.query(
      `SELECT r.id, r.accepted FROM import_runs r WHERE r.status = 'completed' AND NOT EXISTS (SELECT 1 FROM access_records a WHERE a.run_id = r.id)`,
    );
    expect(unrecorded.rows).toEqual([]);
    expect(diffSnapshots(await snapshot(killed.pool), await snapshot(reference.pool))).toEqual({});
  }, 120_000);

  it('killed while its statement waits (a lock, a long statement): the server lets the registry lock go within seconds, and a run started then is not refused', async () => {
    const path = renamedPopulation('Waiting', 7);
    const args = ['import', 'population', path, '--json'];
    const ref = idbind(reference, 'r', args);
    expect(ref.status).toBe(3);

    const blocker = await killed.pool.connect();
    let heldAfterKill = true;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE import_rejects IN SHARE MODE');
      const { child, exit } = start(killed, 'k', args);
      await waitForBlockedBackend('INSERT INTO import_rejects%');
      child.kill('SIGKILL');
      await exit;
      // The killed run's backend still waits in its statement; its client is gone (checked every
      // second: client_connection_check_interval). Up to 30 s for a loaded machine.
      for (const end = Date.now() + 30_000; heldAfterKill && Date.now() < end;) {
        await sleep(100);
        heldAfterKill = await advisoryLockHeld(72_026, 0);
      }
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    expect(heldAfterKill, 'the killed import still held the population lock 30 s after it died').toBe(false);
    const again = idbind(killed, 'k', args);
    expect(again.status, again.stderr).toBe(3);
    expect({ ...JSON.parse(again.stdout), run_id: '', rejects_file: '', resumed_after_line: 0 }).toEqual({ ...JSON.parse(ref.stdout), run_id: '', rejects_file: '', resumed_after_line: 0 });
    expect(diffSnapshots(await snapshot(killed.pool), await snapshot(reference.pool))).toEqual({});
  }, 120_000);
});

describe('idbind reconcile killed mid-run', () => {
  it('leaves its run failed (by the next run), and the next run completes and compares with the last completed run', async () => {
    const first = idbind(killed, 'k', ['reconcile', '--json']);
    expect(first.status, first.stderr).toBe(0);
    const r1 = JSON.parse(first.stdout);

    // Killed at pseudo-random moments...
    const rng = prng(9);
    for (let k = 0; k < 2; k++) {
      const { child, exit } = start(killed, 'k', ['reconcile', '--json']);
      await Promise.race([exit, sleep(600 + Math.floor(rng() * 1500))]);
      child.kill('SIGKILL');
      await exit;
    }
    // ... and while it classifies (its statement waits for a lock the test holds).
    const blocker = await killed.pool.connect();
    let heldAfterKill = true;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE reconciliation_results IN SHARE MODE');
      const { child, exit } = start(killed, 'k', ['reconcile', '--json']);
      await waitForBlockedBackend('%INSERT INTO reconciliation_results%');
      child.kill('SIGKILL');
      await exit;
      for (const end = Date.now() + 30_000; heldAfterKill && Date.now() < end;) {
        await sleep(100);
        heldAfterKill = await advisoryLockHeld(72_028, 0);
      }
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    expect(heldAfterKill, 'the killed reconciliation still held its lock 30 s after it died').toBe(false);

    const next = idbind(killed, 'k', ['reconcile', '--json']);
    expect(next.status, next.stderr).toBe(0);
    const r3 = JSON.parse(next.stdout);
    expect(r3.categories).toEqual(r1.categories);
    expect(Object.values(r3.compared_to_previous)).toEqual(Object.values(r3.compared_to_previous).map(() => ({ new: 0, resolved: 0 })));
    const runs = await killed.pool.query<{ id: string; status: string; error: string | null; results: number; previous: string | null }>(
      `SELECT r.id, r.status, r.error, (SELECT count(*)::int FROM reconciliation_results x WHERE x.run_id = r.id) AS results, r.summary->>'previous_run_id' AS previous
       FROM reconciliation_runs r ORDER BY r.started_at`,
    );
    expect(runs.rows[0]).toMatchObject({ id: r1.run_id, status: 'completed' });
    // A pseudo-random kill may have come after its run completed: that run is then the previous one.
    const before = runs.rows.slice(0, -1);
    const previous = before.filter((r) => r.status === 'completed').at(-1)!;
    expect(runs.rows.at(-1)).toMatchObject({ id: r3.run_id, status: 'completed', previous: previous.id });
    const interrupted = before.filter((r) => r.status !== 'completed');
    expect(interrupted.length).toBeGreaterThanOrEqual(1);
    for (const run of interrupted) expect(run).toMatchObject({ status: 'failed', error: 'interrupted', results: 0 });
  }, 120_000);
});
