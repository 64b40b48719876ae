/**
 * A fresh database per test file on the run's PostgreSQL (see global-setup.ts), migrated, with a
 * key ring under a random master key. Never a mock: DESIGN.md "Tests".
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPool } from '../../src/kernel/db/pool.ts';
import { migrate } from '../../src/kernel/db/migrations.ts';
import { deriveMasterKeyId, type MasterKey } from '../../src/kernel/crypto/master-keys.ts';
import { loadKeyRing, type KeyRing } from '../../src/kernel/crypto/key-ring.ts';

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  master: MasterKey;
  ring: KeyRing;
  drop(): Promise<void>;
}

export function randomMasterKey(): MasterKey {
  const key = randomBytes(32);
  return { id: deriveMasterKeyId(key), key };
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const baseUrl = inject('databaseUrl');
  const name = `idbind_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), 8);
  const master = randomMasterKey();
  let ring = undefined as unknown as KeyRing;
  if (options.migrate !== false) {
    await migrate(pool);
    ring = await loadKeyRing(pool, [master]);
  }
  return {
    url: url.toString(),
    pool,
    master,
    ring,
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
