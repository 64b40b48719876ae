/**
 * SQL of the upstream logins (migration 0008): one row per login started at the national eID,
 * keyed by the SHA-256 of its state and bound to the SHA-256 of its browser cookie.
 */
import type pg from 'pg';
import type { AssuranceLevel } from '../../kernel/config/config.ts';

export type EidRole = 'subject' | 'guardian';

export interface StartedLogin {
  stateHash: Buffer;
  browserHash: Buffer;
  flowUid: string;
  role: EidRole;
  minLevel: AssuranceLevel;
  ttlSeconds: number;
}

export async function insertLogin(pool: pg.Pool, login: StartedLogin): Promise<void> {
  await pool.query(
    `INSERT INTO eid_logins (state_hash, browser_hash, flow_uid, role, min_level, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
    [login.stateHash, login.browserHash, login.flowUid, login.role, login.minLevel, login.ttlSeconds],
  );
}

export interface ConsumedLogin {
  flow_uid: string;
  role: EidRole;
  min_level: AssuranceLevel;
}

/**
 * Consumes a login: one conditional UPDATE, so of two concurrent callbacks with the same state
 * exactly one gets the row (DESIGN.md "Conventions": security-relevant state changes are single
 * atomic statements). A wrong browser cookie consumes nothing: a forged callback cannot burn the
 * login of the browser that started it.
 */
export async function consumeLogin(pool: pg.Pool, stateHash: Buffer, browserHash: Buffer): Promise<ConsumedLogin | undefined> {
  const r = await pool.query<ConsumedLogin>(
    `UPDATE eid_logins SET consumed_at = now()
     WHERE state_hash = $1 AND browser_hash = $2 AND consumed_at IS NULL AND expires_at > now()
     RETURNING flow_uid, role, min_level`,
    [stateHash, browserHash],
  );
  return r.rows[0];
}

export interface LoginTrace {
  flow_uid: string;
  same_browser: boolean;
  consumed: boolean;
  expired: boolean;
}

/** Why a login could not be consumed (after consumeLogin found nothing). */
export async function traceLogin(pool: pg.Pool, stateHash: Buffer, browserHash: Buffer): Promise<LoginTrace | undefined> {
  const r = await pool.query<LoginTrace>(
    `SELECT flow_uid, browser_hash = $2 AS same_browser, consumed_at IS NOT NULL AS consumed, expires_at <= now() AS expired
     FROM eid_logins WHERE state_hash = $1`,
    [stateHash, browserHash],
  );
  return r.rows[0];
}

/** Deletes logins expired for more than a day (for the hub's periodic housekeeping); returns how many. */
export async function pruneEidLogins(pool: pg.Pool): Promise<number> {
  const r = await pool.query(`DELETE FROM eid_logins WHERE expires_at < now() - interval '1 day'`);
  return r.rowCount ?? 0;
}

/** The registry status of a person (a plain column: no personal field is read). */
export async function personStatus(pool: pg.Pool, personId: string): Promise<string | undefined> {
  const r = await pool.query<{ status: string }>('SELECT status FROM persons WHERE id = $1', [personId]);
  return r.rows[0]?.status;
}
