/**
 * Key rotation (DESIGN.md invariant 2; issue 2 `idbind keys`):
 *
 * - master: the current master key (first in IDBIND_MASTER_KEYS) re-wraps every data and
 *   blind-index key still wrapped by an older one; the older master key can then be removed from
 *   configuration (`keys status` says when).
 * - data: a new data key becomes current; sealed records are re-encrypted under it in the
 *   background, resumably (reindex.ts); the old version is retired — its wrapped key destroyed —
 *   once no row uses it.
 * - blind index: a new blind-index key becomes current; rows are re-indexed in the background
 *   while lookups try every version not retired; the old version is retired once no row uses it.
 *
 * Switching the current version takes the exclusive key-version lock, which imports and
 * reconciliations hold shared for their whole run, so no batch job ever mixes versions.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { unwrapKey, wrapKey, type MasterKey } from '../kernel/crypto/master-keys.ts';
import { CURRENT_NAME_RULE, nameRuleFor, wrapLabel, type KeyPurpose, type KeyRing, type KeyRow as RingKeyRow, type NameRule } from '../kernel/crypto/key-ring.ts';
import { LOCK_BLIND_INDEX_VERSION } from '../registry/import/import-repository.ts';
import {
  assertRingCurrent, completePendingReencryption, completePendingReindex, keyUsage, keyVersionInUse, OPEN_CARRIER_JOBS, OPEN_INVITATIONS, type MigrationProgress,
} from '../registry/reindex.ts';
import { recordBatchAccess } from '../access/access-records.ts';
import { uuidv7 } from '../kernel/ids.ts';
import { KeyError } from './key-errors.ts';

interface KeyRow extends RingKeyRow {
  created_at: Date;
  retired_at: Date | null;
}

export interface KeyStatus {
  master_keys: { id: string; configured: boolean; current: boolean; wraps: number }[];
  data_keys: { version: number; state: string; master_key_id: string | null; rows: number; created_at: string; retired_at: string | null }[];
  /** `name_rule`: how names are folded for this version's match indexes (migration 0030). */
  blind_index_keys: { version: number; state: string; master_key_id: string | null; rows: number; created_at: string; retired_at: string | null; name_rule: number | null }[];
  /** The rule a new blind-index version takes (`keys rotate --blind-index`); docs/keys.md "Name rules". */
  latest_name_rule: NameRule;
  /**
   * `open_codes`: one-time codes still open under a blind-index version that is not current; they
   * cannot be re-keyed (the code is not stored) and hold that version back until they expire.
   * `open_invitations`: officials' invitation links likewise, until used or expired (72 hours).
   * `open_carrier_jobs`: carrier jobs whose sealed upload is still to be read, while an older data
   * key is not retired; they hold every older data key back until they end. Without these a version
   * kept by keyVersionInUse showed 0 rows and nothing pending, and nothing said why it stayed.
   */
  pending: { reencrypt_rows: number; reindex_rows: number; open_codes: number; open_invitations: number; open_carrier_jobs: number };
}

export async function keyStatus(pool: pg.Pool, masterKeys: readonly MasterKey[]): Promise<KeyStatus> {
  const keys = await pool.query<KeyRow>('SELECT purpose, version, wrapped, master_key_id, state, name_rule, created_at, retired_at FROM key_versions ORDER BY purpose, version');
  const usage = await keyUsage(pool);
  const rowsFor = (kind: 'data' | 'blind_index', version: number) => usage.filter((u) => u.kind === kind && u.version === version).reduce((a, u) => a + u.rows, 0);
  const current = (p: KeyPurpose) => keys.rows.find((k) => k.purpose === p && k.state === 'current')?.version;
  const wrapCount = new Map<string, number>();
  for (const k of keys.rows) if (k.state !== 'retired' && k.master_key_id) wrapCount.set(k.master_key_id, (wrapCount.get(k.master_key_id) ?? 0) + 1);
  const ids = new Set([...masterKeys.map((m) => m.id), ...wrapCount.keys()]);
  const invitations = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM official_invitations WHERE ${OPEN_INVITATIONS} AND blind_index_version IS DISTINCT FROM $1`, [current('blind_index') ?? null],
  );
  const olderData = keys.rows.some((k) => k.purpose === 'data' && k.state === 'previous');
  const jobs = olderData ? await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM carrier_jobs WHERE ${OPEN_CARRIER_JOBS}`) : undefined;
  const describe = (p: KeyPurpose) => keys.rows.filter((k) => k.purpose === p).map((k) => ({
    version: k.version, state: k.state, master_key_id: k.master_key_id, rows: rowsFor(p, k.version),
    created_at: k.created_at.toISOString(), retired_at: k.retired_at?.toISOString() ?? null,
    // Blind-index versions only (a data key has no name rule).
    ...(p === 'blind_index' ? { name_rule: k.name_rule } : {}),
  }));
  return {
    master_keys: [...ids].map((id) => ({ id, configured: masterKeys.some((m) => m.id === id), current: masterKeys[0]?.id === id, wraps: wrapCount.get(id) ?? 0 })),
    data_keys: describe('data'),
    blind_index_keys: describe('blind_index') as KeyStatus['blind_index_keys'],
    pending: {
      reencrypt_rows: usage.filter((u) => u.kind === 'data' && u.version !== current('data')).reduce((a, u) => a + u.rows, 0),
      reindex_rows: usage.filter((u) => u.kind === 'blind_index' && u.table !== 'verification_codes' && u.version !== current('blind_index')).reduce((a, u) => a + u.rows, 0),
      open_codes: usage.filter((u) => u.table === 'verification_codes' && u.version !== current('blind_index')).reduce((a, u) => a + u.rows, 0),
      open_invitations: invitations.rows[0]!.n,
      open_carrier_jobs: jobs?.rows[0]!.n ?? 0,
    },
    latest_name_rule: CURRENT_NAME_RULE,
  };
}

async function withExclusiveKeyLock<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, 0) AS ok', [LOCK_BLIND_INDEX_VERSION]);
    if (!r.rows[0]!.ok) throw new KeyError('KEY_ROTATION_BLOCKED');
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, 0)', [LOCK_BLIND_INDEX_VERSION]);
    }
  } finally {
    client.release();
  }
}

/** Re-wraps every live key under the current master key; returns how many were re-wrapped. */
export async function rotateMasterKey(pool: pg.Pool, masterKeys: readonly MasterKey[]): Promise<{ rewrapped: number; master_key_id: string }> {
  const current = masterKeys[0]!;
  const byId = new Map(masterKeys.map((m) => [m.id, m]));
  return withExclusiveKeyLock(pool, async (client) => {
    const rows = await client.query<KeyRow>(`SELECT purpose, version, wrapped, master_key_id, state, name_rule FROM key_versions WHERE state <> 'retired' FOR UPDATE`);
    const stale = rows.rows.filter((r) => r.master_key_id !== current.id);
    if (stale.length === 0) {
      throw new KeyError('MASTER_KEY_NOT_NEW', `every key is wrapped by ${current.id}; to rotate, put the new key first in IDBIND_MASTER_KEYS (new:...,old:...)`);
    }
    for (const r of stale) {
      const old = byId.get(r.master_key_id ?? '');
      if (!old) throw new KeyError('MASTER_KEY_MISSING', `${r.purpose} key v${r.version} is wrapped by ${r.master_key_id}, which is not in IDBIND_MASTER_KEYS`);
      const label = wrapLabel(r.purpose, r.version);
      const plain = unwrapKey(old, r.wrapped!, label);
      await client.query('UPDATE key_versions SET wrapped = $3, master_key_id = $4 WHERE purpose = $1 AND version = $2', [
        r.purpose, r.version, wrapKey(current, plain, label), current.id,
      ]);
    }
    return { rewrapped: stale.length, master_key_id: current.id };
  });
}

/** Makes a new data or blind-index key current; the previous current becomes `previous`. */
export async function addKeyVersion(pool: pg.Pool, master: MasterKey, purpose: KeyPurpose): Promise<number> {
  return withExclusiveKeyLock(pool, async (client) => {
    const max = await client.query<{ v: number }>('SELECT coalesce(max(version), 0) AS v FROM key_versions WHERE purpose = $1', [purpose]);
    const version = max.rows[0]!.v + 1;
    await client.query(`UPDATE key_versions SET state = 'previous' WHERE purpose = $1 AND state = 'current'`, [purpose]);
    await client.query(`INSERT INTO key_versions (purpose, version, wrapped, master_key_id, state, name_rule) VALUES ($1, $2, $3, $4, 'current', $5)`, [
      purpose, version, wrapKey(master, randomBytes(32), wrapLabel(purpose, version)), master.id, nameRuleFor(purpose),
    ]);
    return version;
  });
}

/**
 * How long a version stays after the rotation that replaced it before it may be destroyed. Every
 * process re-reads the key table within RING_RECHECK_MS (src/hub.ts), but until then, and for the
 * rest of a request that loaded its ring just before the switch, it still seals and indexes under
 * the old version; retiring it meanwhile would strand what it writes (a sealed value no key opens).
 * Rows written so late are found by the pass that follows the grace, like any other.
 */
export const KEY_RETIRE_GRACE_MS = 60_000;

/** SQL: when the `previous` key `k` was replaced (its successor's creation), where its grace starts. */
const SUPERSEDED_AT_SQL = '(SELECT min(n.created_at) FROM key_versions n WHERE n.purpose = k.purpose AND n.version > k.version)';

export interface RetireOptions {
  /** Default KEY_RETIRE_GRACE_MS; tests pass 0. */
  graceMs?: number;
}

/**
 * Retires (destroys) every `previous` key that no row uses any more (reindex.ts keyVersionInUse:
 * every sealed table, every blind index, every one-time code that can still be confirmed) and that
 * was replaced at least `graceMs` ago, so a retirement never strands a record, a webhook secret or
 * an open code. Returns the versions retired. Runs under the exclusive lock so no batch job can be
 * writing with a version being retired.
 */
export async function retireUnusedKeys(pool: pg.Pool, options: RetireOptions = {}): Promise<{ purpose: KeyPurpose; version: number }[]> {
  const graceMs = options.graceMs ?? KEY_RETIRE_GRACE_MS;
  return withExclusiveKeyLock(pool, async (client) => {
    const prev = await client.query<{ purpose: KeyPurpose; version: number }>(
      `SELECT k.purpose, k.version FROM key_versions k
       WHERE k.state = 'previous'
         AND ${SUPERSEDED_AT_SQL} <= now() - make_interval(secs => $1)`,
      [graceMs / 1000],
    );
    const retired: { purpose: KeyPurpose; version: number }[] = [];
    for (const k of prev.rows) {
      if (await keyVersionInUse(client, k.purpose, k.version)) continue;
      await client.query(`UPDATE key_versions SET state = 'retired', wrapped = NULL, retired_at = now() WHERE purpose = $1 AND version = $2`, [k.purpose, k.version]);
      retired.push(k);
    }
    return retired;
  });
}

/** Milliseconds until every `previous` key is past its retirement grace (0: all are). */
export async function retirementGraceLeft(pool: pg.Pool, graceMs = KEY_RETIRE_GRACE_MS): Promise<number> {
  const r = await pool.query<{ ms: number | null }>(
    `SELECT max(extract(epoch FROM (n.superseded_at + make_interval(secs => $1) - now())) * 1000)::float8 AS ms
     FROM (SELECT ${SUPERSEDED_AT_SQL} AS superseded_at
           FROM key_versions k WHERE k.state = 'previous') n`,
    [graceMs / 1000],
  );
  return Math.max(0, Math.ceil(r.rows[0]!.ms ?? 0));
}

/** True when a rotation left work to do (a `previous` key exists). Cheap: reads the key table only. */
export async function hasPendingKeyWork(pool: pg.Pool): Promise<boolean> {
  const r = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM key_versions WHERE state = 'previous'`);
  return Number(r.rows[0]!.n) > 0;
}

/**
 * Finishes any pending re-encryption and re-indexing, then retires unused versions. Resumable:
 * interrupted, it is simply run again (`idbind keys resume`, or the server's background task).
 */
export async function completeKeyWork(
  pool: pg.Pool, ring: KeyRing, actor: string, onProgress?: (p: MigrationProgress & { mode: string }) => void,
  options: { retireGraceMs?: number } = {},
) {
  // A ring from before a rotation would re-encrypt towards a version no longer current.
  await assertRingCurrent(pool, ring);
  const reencrypted = await completePendingReencryption(pool, ring, (p) => onProgress?.({ ...p, mode: 'reencrypt' }));
  const reindexed = await completePendingReindex(pool, ring, (p) => onProgress?.({ ...p, mode: 'reindex' }), { skipLocked: true });
  if (reencrypted + reindexed > 0) {
    await recordBatchAccess(pool, { purpose: 'key_rotation', actor, runId: uuidv7(), detail: { reencrypted, reindexed } });
  }
  const retired: { purpose: KeyPurpose; version: number }[] = await retireUnusedKeys(pool, { graceMs: options.retireGraceMs }).catch((e: unknown) => {
    if (e instanceof KeyError && e.code === 'KEY_ROTATION_BLOCKED') return [];
    throw e;
  });
  return { reencrypted, reindexed, retired };
}
