/**
 * A session-level advisory lock held on a connection of its own, not one of the pool's: the holder
 * may keep it for minutes (a carrier's upload) or run work that needs the pool's connections while
 * others wait for it (the demo's disclosure seeding). Ending that session releases the lock, also
 * when the process dies.
 */
import pg from 'pg';

export interface AdvisoryLockHold {
  /** Ends the lock's session (idempotent). */
  release(): Promise<void>;
}

/**
 * Takes the lock (`key`, `subKey`; a string sub-key is hashed with PostgreSQL's `hashtext`): waits
 * for it with `wait`, else answers undefined at once when another session holds it.
 */
export async function holdAdvisoryLock(
  pool: pg.Pool, key: number, subKey: number | string, options: { wait: boolean; applicationName: string },
): Promise<AdvisoryLockHold | undefined> {
  const client = new pg.Client({ ...pool.options, application_name: pool.options.application_name ?? options.applicationName });
  client.on('error', () => undefined);
  await client.connect();
  const second = typeof subKey === 'string' ? 'hashtext($2)' : '$2::int';
  try {
    const r = await client.query<{ ok: boolean }>(
      options.wait ? `SELECT pg_advisory_lock($1, ${second}) IS NOT NULL AS ok` : `SELECT pg_try_advisory_lock($1, ${second}) AS ok`, [key, subKey]);
    if (!r.rows[0]!.ok) {
      await client.end();
      return undefined;
    }
  } catch (e) {
    await client.end().catch(() => undefined);
    throw e;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await client.end().catch(() => undefined);
    },
  };
}
