/**
 * Plain-SQL migrations (DESIGN.md "Storage": one schema, one migration history for the embedded
 * server, a PostgreSQL server and later Citus). Files in `migrations/` named `NNNN_name.sql` are
 * applied in order, each in its own transaction, under an advisory lock so that two processes
 * never apply the same one. A checksum is recorded: an applied file that was edited afterwards is
 * refused rather than silently diverging.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type pg from 'pg';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));
const LOCK_KEY = 7_202_611; // arbitrary, constant: the migration lock

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), 'utf8');
      return {
        version: Number(file.slice(0, 4)),
        name: file.slice(5, -4),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

async function ensureTable(client: pg.ClientBase): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
}

export interface MigrationStatus {
  applied: number[];
  pending: Migration[];
}

export async function migrationStatus(pool: pg.Pool): Promise<MigrationStatus> {
  const migrations = readMigrations();
  const exists = await pool.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS ok");
  if (!exists.rows[0].ok) return { applied: [], pending: migrations };
  const rows = await pool.query<{ version: number; checksum: string }>('SELECT version, checksum FROM schema_migrations ORDER BY version');
  const applied = new Map(rows.rows.map((r) => [r.version, r.checksum]));
  for (const m of migrations) {
    const sum = applied.get(m.version);
    if (sum !== undefined && sum !== m.checksum) {
      throw new MigrationError(`migration ${m.version}_${m.name} was changed after it was applied; restore the original file`);
    }
  }
  // A schema this code does not know (a newer idbind migrated the database, then an older one
  // was started on it): refused, never served (DESIGN.md invariant 5, fail closed).
  const known = new Set(migrations.map((m) => m.version));
  const unknown = await pool.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations WHERE NOT (version = ANY($1::int[])) ORDER BY version', [[...known]]);
  if (unknown.rows.length > 0) {
    const first = unknown.rows[0]!;
    throw new MigrationError(`the database has migration ${String(first.version).padStart(4, '0')}_${first.name}, which this version of idbind does not know: it was migrated by a newer idbind; run that version`);
  }
  return { applied: [...applied.keys()], pending: migrations.filter((m) => !applied.has(m.version)) };
}

/** Applies pending migrations; returns those applied. */
export async function migrate(pool: pg.Pool): Promise<Migration[]> {
  const client = await pool.connect();
  const done: Migration[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await ensureTable(client);
    const { pending } = await migrationStatus(pool);
    for (const m of pending) {
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
        done.push(m);
      } catch (e) {
        await client.query('ROLLBACK');
        throw new MigrationError(`migration ${m.version}_${m.name} failed: ${(e as Error).message}`);
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
  return done;
}
