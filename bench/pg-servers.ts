/**
 * The PostgreSQL servers the benchmark runs on: the embedded PostgreSQL 18 (as `npm start` uses
 * it) and the system's PostgreSQL 15 (the oldest supported), each in its own temporary
 * directory, listening on 127.0.0.1 only, removed when stopped. Both run with their default
 * settings; the settings that matter for bulk loads are read back and reported.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedServer } from '../src/kernel/db/embedded-server.ts';
import type { PgKind } from './bench-args.ts';
import { postmasterPid, serverCpuSeconds } from './proc-cpu.ts';

export const PG15_BIN = '/usr/lib/postgresql/15/bin';

/** Settings that shape bulk-load speed, reported with the figures. */
const REPORTED_SETTINGS = ['shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'wal_level', 'synchronous_commit', 'fsync', 'work_mem', 'maintenance_work_mem'];

export interface BenchServer {
  readonly kind: PgKind;
  readonly version: string;
  readonly settings: Readonly<Record<string, string>>;
  urlFor(database: string): string;
  /** Runs one statement as the server's superuser in its maintenance database. */
  admin(sql: string): Promise<void>;
  /** CPU seconds the server's processes used so far (undefined without /proc). */
  cpuSeconds(): number | undefined;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port === 5432 ? freePort().then(resolvePort, reject) : resolvePort(port)));
    });
  });
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function describeServer(url: string): Promise<{ version: string; settings: Record<string, string> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const v = await client.query<{ server_version: string }>('SHOW server_version');
    const s = await client.query<{ name: string; setting: string; unit: string | null }>(
      'SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1) ORDER BY name',
      [REPORTED_SETTINGS],
    );
    const settings: Record<string, string> = {};
    for (const r of s.rows) settings[r.name] = r.unit ? `${r.setting} × ${r.unit}` : r.setting;
    return { version: v.rows[0]!.server_version, settings };
  } finally {
    await client.end();
  }
}

function makeAdmin(url: string): (sql: string) => Promise<void> {
  return async (sql) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
}

/** A temporary directory the `postgres` user can enter (it runs the server when we are root). */
function traversableTempDir(prefix: string): string {
  const dir = mkdtempSync(join('/tmp', prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export interface EmbeddedOptions {
  /**
   * Libraries for `shared_preload_libraries` (e.g. pg_stat_statements, to see which statements
   * take the server's time). They load only at server start, so the new cluster is started,
   * configured with ALTER SYSTEM, and restarted.
   */
  preloadLibraries?: readonly string[];
}

export async function startEmbedded(options: EmbeddedOptions = {}): Promise<BenchServer> {
  const dir = traversableTempDir('idbind-bench-pg18-');
  try {
    let server = await startEmbeddedServer({ dataDir: dir });
    if (options.preloadLibraries && options.preloadLibraries.length > 0) {
      await makeAdmin(server.url)(`ALTER SYSTEM SET shared_preload_libraries = '${options.preloadLibraries.join(',')}'`);
      await server.stop();
      server = await startEmbeddedServer({ dataDir: dir });
    }
    const maintenance = server.url;
    const { version, settings } = await describeServer(maintenance);
    return {
      kind: 'embedded',
      version,
      settings,
      urlFor: (db) => withDatabase(maintenance, db),
      admin: makeAdmin(maintenance),
      cpuSeconds: () => serverCpuSeconds(postmasterPid(join(dir, 'pg'))),
      async stop() {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/**
 * Starts the system PostgreSQL 15 in a fresh cluster: initdb and pg_ctl as the `postgres` user
 * (when we are root), trust authentication, TCP on 127.0.0.1 only, no Unix socket.
 */
export async function startSystemPg15(options: { preloadLibraries?: readonly string[] } = {}): Promise<BenchServer> {
  if (!existsSync(join(PG15_BIN, 'initdb'))) {
    throw new Error(`no PostgreSQL 15 in ${PG15_BIN}: install it with 'apt-get install -y postgresql-15', or run with --pg embedded`);
  }
  const ids = postgresIds();
  const run = (cmd: string, args: string[]) =>
    execFileSync(join(PG15_BIN, cmd), args, { stdio: ['ignore', 'ignore', 'pipe'], ...(ids ?? {}), env: { ...process.env, LC_ALL: 'C' } });
  const dir = traversableTempDir('idbind-bench-pg15-');
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  let started = false;
  const stop = async () => {
    if (started) {
      started = false;
      try {
        run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } catch {
        // Already stopped; the directory goes anyway.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    mkdirSync(data, { mode: 0o700 });
    if (ids) {
      chownSync(dir, ids.uid, ids.gid);
      chownSync(data, ids.uid, ids.gid);
    }
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C']);
    const port = await freePort();
    const preload = options.preloadLibraries?.length ? `shared_preload_libraries = '${options.preloadLibraries.join(',')}'\n` : '';
    appendFileSync(join(data, 'postgresql.conf'), `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n${preload}`);
    run('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', 'start']);
    started = true;
    const maintenance = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const { version, settings } = await describeServer(maintenance);
    const pid = postmasterPid(data);
    return {
      kind: 'system', version, settings, urlFor: (db) => withDatabase(maintenance, db), admin: makeAdmin(maintenance),
      cpuSeconds: () => serverCpuSeconds(pid), stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

export function startServer(kind: PgKind): Promise<BenchServer> {
  return kind === 'embedded' ? startEmbedded() : startSystemPg15();
}
