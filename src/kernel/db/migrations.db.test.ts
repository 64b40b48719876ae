/**
 * The migration runner (migrations.ts) on a real PostgreSQL: two processes starting at once on a
 * fresh database apply each migration once, and a database migrated by a newer idbind is refused
 * (DESIGN.md invariant 5, fail closed) instead of being served by code that does not know its schema.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { createPool } from './pool.ts';
import { migrate, migrationStatus, readMigrations, MigrationError } from './migrations.ts';

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

describe('migrations', () => {
  it('applies each migration once when two processes start at once on a fresh database', async () => {
    db = await createTestDatabase({ migrate: false });
    const other = createPool(db.url, 4);
    try {
      const [a, b] = await Promise.all([migrate(db.pool), migrate(other)]);
      const all = readMigrations().map((m) => m.version);
      expect([...a, ...b].map((m) => m.version).sort((x, y) => x - y)).toEqual(all);
      const rows = await db.pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.rows.map((r) => r.version)).toEqual(all);
    } finally {
      await other.end();
    }
  });

  it('refuses a database that has a migration this version does not know (a newer idbind migrated it)', async () => {
    db = await createTestDatabase();
    await db.pool.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'from_the_future', 'x')");
    await expect(migrationStatus(db.pool)).rejects.toThrow(MigrationError);
    await expect(migrationStatus(db.pool)).rejects.toThrow(/9999_from_the_future.*newer idbind/);
    await expect(migrate(db.pool)).rejects.toThrow(/9999_from_the_future.*newer idbind/);
  });
});
