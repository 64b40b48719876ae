/**
 * Opening the hub: configuration, the database (the embedded server in the data directory, or
 * DATABASE_URL), migrations, and the key ring. Shared by every CLI command and the server, so
 * they all start the same way and fail closed the same way.
 */
import type pg from 'pg';
import { loadConfig, type Config, type Mode } from './kernel/config/config.ts';
import { startEmbeddedServer, type EmbeddedServer } from './kernel/db/embedded-server.ts';
import { createPool } from './kernel/db/pool.ts';
import { migrate, migrationStatus } from './kernel/db/migrations.ts';
import { loadKeyRing, type KeyRing } from './kernel/crypto/key-ring.ts';

export interface Hub {
  readonly config: Config;
  readonly pool: pg.Pool;
  /**
   * The key ring, reloaded when the key table changed (a rotation by another process), checked
   * at most every RING_RECHECK_MS unless `fresh` (after this process changed the keys).
   */
  ring(options?: { fresh?: boolean }): Promise<KeyRing>;
  close(): Promise<void>;
}

export interface OpenHubOptions {
  mode: Mode;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** `idbind migrate` needs no master key; everything that touches personal data does. */
  requireMasterKeys?: boolean;
  requireAdminToken?: boolean;
  /** `idbind serve` in production: refuse the demo's generated master key (config.ts). */
  refuseDemoMasterKey?: boolean;
  /** Apply pending migrations (default), or refuse to run with an error naming `idbind migrate`. */
  migrations?: 'apply' | 'require';
  log?: (line: string) => void;
}

/** How long a process trusts its key ring before checking the key table for a rotation. */
export const RING_RECHECK_MS = 1_000;

export class HubStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HubStartError';
  }
}

export async function openHub(options: OpenHubOptions): Promise<Hub> {
  const config = loadConfig({
    mode: options.mode,
    env: options.env,
    cwd: options.cwd,
    requireMasterKeys: options.requireMasterKeys,
    requireAdminToken: options.requireAdminToken,
    refuseDemoMasterKey: options.refuseDemoMasterKey,
    warn: options.log,
  });
  let embedded: EmbeddedServer | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedServer({ dataDir: config.dataDir });
    url = embedded.url;
  }
  const pool = createPool(url, 12);
  try {
    // One schema serves PostgreSQL 15 and newer (DESIGN.md "Storage"); older servers are refused.
    const version = await pool.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
    if (version.rows[0]!.v < 150000) throw new HubStartError('idbind needs PostgreSQL 15 or newer at DATABASE_URL');
    if (options.migrations === 'require') {
      const status = await migrationStatus(pool);
      if (status.pending.length > 0) throw new HubStartError(`${status.pending.length} migration(s) pending: run \`idbind migrate\``);
    } else {
      await migrate(pool);
    }
  } catch (e) {
    await pool.end().catch(() => undefined);
    await embedded?.stop();
    throw e;
  }
  let ring: KeyRing | undefined;
  let stamp = '';
  let checkedAt = 0;
  return {
    config,
    pool,
    async ring(options = {}) {
      if (config.masterKeys.length === 0) throw new HubStartError('no master key configured (IDBIND_MASTER_KEY)');
      const readStamp = async () =>
        (await pool.query<{ s: string | null }>({
          name: 'key_ring_stamp', text: `SELECT string_agg(purpose || version || state, ',' ORDER BY purpose, version) AS s FROM key_versions`,
        })).rows[0]!.s ?? '';
      // A rotation by another process is noticed within RING_RECHECK_MS: until then this process
      // seals under the previous current key, which stays readable, and background key work
      // re-encrypts or re-indexes such rows like any other (docs/keys.md). Checking on every
      // call cost a query per request (4 per phone verification).
      if (ring && !options.fresh && Date.now() - checkedAt < RING_RECHECK_MS) return ring;
      const current = await readStamp();
      if (!ring || current !== stamp) {
        ring = await loadKeyRing(pool, config.masterKeys);
        stamp = await readStamp();
      }
      checkedAt = Date.now();
      return ring;
    },
    async close() {
      await pool.end().catch(() => undefined);
      await embedded?.stop();
    },
  };
}
