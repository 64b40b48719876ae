/**
 * The PostgreSQL connection pool (node-postgres). One pool per process; every connection is
 * named `idbind-<pid>` so that the embedded server knows which idbind processes still use it.
 */
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// Dates and timestamps come back as strings/Date as pg does by default; bigint counts as strings
// are converted where read. int8 → string avoids silent precision loss.

export function createPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: `idbind-${process.pid}` });
  // An idle client's error (server restart) must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `fn` in one transaction: the unit of every state change (DESIGN.md invariant 6). */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
