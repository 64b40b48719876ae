/**
 * SQL of registry imports. Every batch is merged in one transaction together with its rejects and
 * the run's checkpoint and counters (DESIGN.md invariant 6), so a killed import resumes at the
 * last committed batch and never counts or stores a row twice.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';
import type pg from 'pg';
import type { RowReject } from '../reject-codes.ts';
import { COPY_BINARY_HEADER, COPY_BINARY_TRAILER } from './copy-binary.ts';
import { INDEX_BYTES } from './import-protocol.ts';

/** Advisory lock namespaces (first int4 key). */
export const LOCK_IMPORT = 72_026;
export const LOCK_BLIND_INDEX_VERSION = 72_027;

export type ImportKind = 'population' | 'subscriptions' | 'subscription_events';

export interface ImportRunRow {
  id: string;
  status: string;
  checkpoint_line: string;
  rows_read: string;
  accepted: string;
  unchanged: string;
  rejected: string;
}

/**
 * The carrier's id, creating the carrier on first use. A new carrier's row is counted at once
 * (`ANALYZE carriers`): the table is too small for autovacuum ever to analyse it (50 changed rows
 * are its threshold), and unanalysed it looks like a thousand carriers to the planner, which then
 * answered a number lookup with a scan of every subscription instead of one index probe per
 * carrier (phone-eligibility.ts; eligibility-plans.db.test.ts).
 */
export async function findOrCreateCarrier(db: pg.Pool | pg.PoolClient, slug: string): Promise<number> {
  const r = await db.query<{ id: number; created: boolean }>(
    `WITH ins AS (INSERT INTO carriers (slug) VALUES ($1) ON CONFLICT (slug) DO NOTHING RETURNING id)
     SELECT id, true AS created FROM ins UNION ALL SELECT id, false AS created FROM carriers WHERE slug = $1`,
    [slug],
  );
  if (r.rows[0]!.created) await db.query('ANALYZE carriers');
  return r.rows[0]!.id;
}

export async function findCarrier(db: pg.Pool | pg.PoolClient, slug: string): Promise<number | undefined> {
  const r = await db.query<{ id: number }>('SELECT id FROM carriers WHERE slug = $1', [slug]);
  return r.rows[0]?.id;
}

function kindCode(kind: ImportKind): number {
  return kind === 'population' ? 1 : kind === 'subscriptions' ? 2 : 3;
}

/** One import per registry (population, or one carrier's subscriptions) at a time. */
export async function tryLockRegistry(client: pg.PoolClient, kind: ImportKind, carrierId: number | null): Promise<boolean> {
  const key2 = kind === 'population' ? 0 : 1_000_000 * kindCode(kind) + (carrierId ?? 0);
  const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_IMPORT, key2]);
  return r.rows[0]!.ok;
}

/**
 * Has the server check every second that this session's client is still there, also while a
 * statement runs or waits for a lock (client_connection_check_interval, PostgreSQL 14 and later;
 * where the platform cannot, the setting is refused and the session goes on without it). Batch
 * jobs take it before their advisory locks. A batch job killed (kill -9, a lost host) while its
 * statement ran or waited kept its session, and with it the registry's or the reconciliation's
 * lock, until that statement ended, since the server reads from the client only between
 * statements: a lock wait behind a long transaction, or a reconciliation's classification of
 * millions of rows, and every run started meanwhile was refused as "already running" though
 * nothing ran. Now the session ends, its transaction rolled back and its locks released, within
 * about a second of the client's death. `RESET` it before the connection goes back to a pool
 * (unwatchClientConnection).
 */
export async function watchClientConnection(client: pg.PoolClient): Promise<void> {
  await client.query(`SET client_connection_check_interval = '1s'`).catch(() => undefined);
}

export async function unwatchClientConnection(client: pg.PoolClient): Promise<void> {
  await client.query('RESET client_connection_check_interval').catch(() => undefined);
}

/**
 * Batch jobs hold this shared lock for their whole run: a blind-index rotation (exclusive) cannot
 * change the current version under them, so all their keys are of one version.
 */
export async function tryLockBlindIndexShared(client: pg.PoolClient): Promise<boolean> {
  const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock_shared($1, 0) AS ok', [LOCK_BLIND_INDEX_VERSION]);
  return r.rows[0]!.ok;
}

/** The interrupted run of this file with these options (migration 0029), if any. */
export async function findResumableRun(db: pg.PoolClient, kind: ImportKind, carrierId: number | null, sha256: string, options: ImportRunOptions): Promise<ImportRunRow | undefined> {
  const r = await db.query<ImportRunRow>(
    `SELECT id, status, checkpoint_line, rows_read, accepted, unchanged, rejected FROM import_runs
     WHERE kind = $1 AND carrier_id IS NOT DISTINCT FROM $2 AND source_sha256 = $3 AND status IN ('running', 'failed') AND options = $4::jsonb
     ORDER BY started_at DESC LIMIT 1`,
    [kind, carrierId, sha256, JSON.stringify(options)],
  );
  return r.rows[0];
}

/** Runs of the same registry left unfinished with another file will never be resumed. */
export async function abandonOtherRuns(db: pg.PoolClient, kind: ImportKind, carrierId: number | null, keepId: string): Promise<void> {
  await db.query(
    `WITH gone AS (
       UPDATE import_runs SET status = 'abandoned', updated_at = now(), finished_at = now()
       WHERE kind = $1 AND carrier_id IS NOT DISTINCT FROM $2 AND status IN ('running', 'failed') AND id <> $3 RETURNING id)
     DELETE FROM import_seen WHERE run_id IN (SELECT id FROM gone)`,
    [kind, carrierId, keepId],
  );
}

/**
 * What a run was allowed to do, stored with it (migration 0029). Only options that change what
 * the run writes belong here: a run is resumed only with the same ones.
 */
export interface ImportRunOptions {
  /** Population: rows may record as alive people stored as deceased (`idbind import population --correct-deaths`). */
  correct_deaths?: true;
}

export async function createRun(
  db: pg.PoolClient, run: { id: string; kind: ImportKind; carrierId: number | null; sourceName: string; sha256: string; bytes: number; options: ImportRunOptions },
): Promise<void> {
  await db.query(
    `INSERT INTO import_runs (id, kind, carrier_id, source_name, source_sha256, source_bytes, status, options) VALUES ($1, $2, $3, $4, $5, $6, 'running', $7::jsonb)`,
    [run.id, run.kind, run.carrierId, run.sourceName, run.sha256, run.bytes, JSON.stringify(run.options)],
  );
}

export async function markRunRunning(db: pg.PoolClient, runId: string): Promise<void> {
  await db.query(`UPDATE import_runs SET status = 'running', error = NULL, updated_at = now() WHERE id = $1`, [runId]);
}

export interface BatchCounters {
  checkpointLine: number;
  rowsRead: number;
  accepted: number;
  unchanged: number;
  rejected: number;
}

export async function advanceRun(db: pg.PoolClient, runId: string, c: BatchCounters): Promise<void> {
  await db.query(
    `UPDATE import_runs SET checkpoint_line = $2, rows_read = rows_read + $3, accepted = accepted + $4,
       unchanged = unchanged + $5, rejected = rejected + $6, updated_at = now() WHERE id = $1`,
    [runId, c.checkpointLine, c.rowsRead, c.accepted, c.unchanged, c.rejected],
  );
}

export async function insertRejects(db: pg.PoolClient, runId: string, rejects: readonly RowReject[]): Promise<void> {
  if (rejects.length === 0) return;
  await db.query(
    `INSERT INTO import_rejects (run_id, line, field, code)
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING`,
    [runId, rejects.map((r) => r.line), rejects.map((r) => r.field), rejects.map((r) => r.code)],
  );
}

export async function insertSeen(db: pg.PoolClient, runId: string, keys: readonly Buffer[]): Promise<void> {
  if (keys.length === 0) return;
  await db.query('INSERT INTO import_seen (run_id, key) SELECT $1, unnest($2::bytea[]) ON CONFLICT DO NOTHING', [runId, keys]);
}

/**
 * The 32-byte keys packed end to end in one bytea parameter (`packKeys`), as an array for
 * `= ANY(...)`. A batch probes thousands of keys: as a bytea[] parameter each key travelled as
 * hex text that the hub formatted and the server parsed (6,500 keys: 70 ms a probe, hub and
 * server together, against 22 ms packed; issue 2 benchmark). The array is an InitPlan, so the
 * index is probed with it as with a parameter.
 */
function packedKeysSql(param: string): string {
  return `ARRAY(SELECT ${packedKeyAt(param, 'i')} FROM ${packedKeyPositions(param)} AS i)`;
}

/** The positions 0 .. n-1 of the n keys packed in `param` (a set-returning FROM item). */
function packedKeyPositions(param: string): string {
  return `generate_series(0, length(${param}::bytea) / ${INDEX_BYTES} - 1)`;
}

/** The key at position `i` of the keys packed in `param`. */
function packedKeyAt(param: string, i: string): string {
  return `substring(${param}::bytea FROM 1 + ${INDEX_BYTES} * ${i} FOR ${INDEX_BYTES})`;
}

/** Keys (each INDEX_BYTES long) packed end to end, for the probes' packed-key parameters. */
export function packKeys(keys: readonly Uint8Array[]): Buffer {
  for (const k of keys) if (k.length !== INDEX_BYTES) throw new RangeError('a probe key is 32 bytes');
  return Buffer.concat(keys);
}

/** Which of these keys (of any length: an event id is one) the run remembered as seen. Only a re-import has any. */
export async function probeSeen(db: pg.PoolClient, runId: string, keys: readonly Buffer[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const r = await db.query<{ key: Buffer }>('SELECT key FROM import_seen WHERE run_id = $1 AND key = ANY($2::bytea[])', [runId, keys]);
  return new Set(r.rows.map((row) => row.key.toString('hex')));
}

/** Inserts rows given as binary COPY tuples (copy-binary.ts), in the order of `columns`. */
export async function copyInto(db: pg.PoolClient, table: string, columns: readonly string[], tuples: Uint8Array): Promise<void> {
  if (tuples.length === 0) return;
  const stream = db.query(copyStreams.from(`COPY ${table} (${columns.join(', ')}) FROM STDIN (FORMAT binary)`));
  await pipeline(Readable.from([COPY_BINARY_HEADER, tuples, COPY_BINARY_TRAILER]), stream);
}

export async function finishRun(db: pg.Pool | pg.PoolClient, runId: string): Promise<void> {
  await db.query(
    `WITH done AS (UPDATE import_runs SET status = 'completed', finished_at = now(), updated_at = now() WHERE id = $1 RETURNING id)
     DELETE FROM import_seen WHERE run_id IN (SELECT id FROM done)`,
    [runId],
  );
}

export async function failRun(db: pg.Pool | pg.PoolClient, runId: string, error: string): Promise<void> {
  await db.query(`UPDATE import_runs SET status = 'failed', error = $2, updated_at = now() WHERE id = $1`, [runId, error.slice(0, 500)]);
}

export async function readRun(db: pg.Pool | pg.PoolClient, runId: string): Promise<ImportRunRow> {
  const r = await db.query<ImportRunRow>('SELECT id, status, checkpoint_line, rows_read, accepted, unchanged, rejected FROM import_runs WHERE id = $1', [runId]);
  return r.rows[0]!;
}

export async function readRejects(db: pg.Pool | pg.PoolClient, runId: string): Promise<RowReject[]> {
  const r = await db.query<{ line: string; field: string; code: RowReject['code'] }>(
    'SELECT line, field, code FROM import_rejects WHERE run_id = $1 ORDER BY line',
    [runId],
  );
  return r.rows.map((x) => ({ line: Number(x.line), field: x.field, code: x.code }));
}

// ---- population ----

export { PERSON_COPY_COLUMNS } from './import-protocol.ts';

export interface ExistingPerson {
  id: string;
  pid_bidx: Buffer;
  digest: Buffer;
  import_run_id: string | null;
  status: string;
}

/** The stored persons of a batch: $1 their blind indexes packed by packKeys. */
export const PROBE_PERSONS_SQL = `SELECT id, pid_bidx, digest, import_run_id, status FROM persons WHERE pid_bidx = ANY(${packedKeysSql('$1')})`;

export async function probePersons(db: pg.PoolClient, keys: Buffer): Promise<Map<string, ExistingPerson>> {
  if (keys.length === 0) return new Map();
  const r = await db.query<ExistingPerson>(PROBE_PERSONS_SQL, [keys]);
  return new Map(r.rows.map((row) => [row.pid_bidx.toString('hex'), row]));
}

export interface PersonUpdate {
  id: string;
  matchBidx: Buffer;
  digest: Buffer;
  bidxVersion: number;
  sealed: Buffer;
  dekVersion: number;
  status: string;
  line: number;
}

export async function updatePersons(db: pg.PoolClient, runId: string, rows: readonly PersonUpdate[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE persons p SET match_bidx = u.match_bidx, digest = u.digest, bidx_version = u.bidx_version, sealed = u.sealed,
       dek_version = u.dek_version, status = u.status, import_run_id = $1, import_line = u.line, updated_at = now()
     FROM unnest($2::uuid[], $3::bytea[], $4::bytea[], $5::int[], $6::bytea[], $7::int[], $8::text[], $9::bigint[])
       AS u(id, match_bidx, digest, bidx_version, sealed, dek_version, status, line)
     WHERE p.id = u.id`,
    [runId, rows.map((r) => r.id), rows.map((r) => r.matchBidx), rows.map((r) => r.digest), rows.map((r) => r.bidxVersion),
      rows.map((r) => r.sealed), rows.map((r) => r.dekVersion), rows.map((r) => r.status), rows.map((r) => r.line)],
  );
}

// ---- subscriptions ----

export { SUBSCRIPTION_COPY_COLUMNS } from './import-protocol.ts';

export interface ExistingSubscription {
  id: string;
  msisdn_bidx: Buffer;
  holder_bidx: Buffer | null;
  digest: Buffer;
  status: string;
  import_run_id: string | null;
  registered_at: Date;
  /** The latest delta event applied to it (NULL when none). */
  last_event_at: Date | null;
  sim_changed_at: Date | null;
  device_changed_at: Date | null;
}

/**
 * Every subscription ever held of a batch's numbers at the carrier, newest first: $1 the carrier,
 * $2 the numbers' blind indexes packed by packKeys.
 *
 * One index descent per number, by (carrier_id, msisdn_bidx): each number is joined laterally,
 * and `OFFSET 0` keeps the planner from flattening the join into a scan of the carrier's rows, so
 * both columns are equalities of the index scan. As `msisdn_bidx = ANY(...)`, a planner whose
 * statistics predate the carrier's first rows (analysed before its first import) believed the
 * carrier had none and read all of its rows by carrier_id, filtering the numbers, for every
 * batch: quadratic in the file (on PostgreSQL 15, 10.5 s for a batch of 6,500 numbers against
 * 100,000 of the carrier's rows). The index keeps the carrier first so that a carrier's import
 * inserts into its own part of it (docs/benchmarks.md: number first made every insert a random
 * page of the whole index, 31 to 52 µs of server CPU per row at 4m).
 */
export const PROBE_SUBSCRIPTIONS_SQL = `SELECT s.id, s.msisdn_bidx, s.holder_bidx, s.digest, s.status, s.import_run_id, s.registered_at, s.last_event_at, s.sim_changed_at, s.device_changed_at
     FROM ${packedKeyPositions('$2')} AS i
     CROSS JOIN LATERAL (SELECT * FROM subscriptions WHERE carrier_id = $1 AND msisdn_bidx = ${packedKeyAt('$2', 'i')} OFFSET 0) s
     ORDER BY s.registered_at DESC, s.id DESC`;

/** Whether the carrier has any subscription stored (by the (carrier_id, msisdn_bidx) index). */
export async function carrierHasSubscriptions(db: pg.PoolClient, carrierId: number): Promise<boolean> {
  const r = await db.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM subscriptions WHERE carrier_id = $1) AS any', [carrierId]);
  return r.rows[0]!.any;
}

export async function probeSubscriptions(db: pg.PoolClient, carrierId: number, keys: Buffer): Promise<Map<string, ExistingSubscription[]>> {
  if (keys.length === 0) return new Map();
  const r = await db.query<ExistingSubscription>(PROBE_SUBSCRIPTIONS_SQL, [carrierId, keys]);
  const out = new Map<string, ExistingSubscription[]>();
  for (const row of r.rows) {
    const k = row.msisdn_bidx.toString('hex');
    const list = out.get(k);
    if (list) list.push(row);
    else out.set(k, [row]);
  }
  return out;
}

/** Ends live subscriptions whose number now belongs to another holder (kept as history). */
export async function endSubscriptions(db: pg.PoolClient, ids: readonly string[], reason: 'holder_changed' | 'terminated' | 'ported_out', at: string): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE subscriptions SET status = 'terminated', ended_reason = $2, ended_at = $3, updated_at = now()
     WHERE id = ANY($1::uuid[]) AND status <> 'terminated'`,
    [ids, reason, at],
  );
}

/**
 * Ends subscriptions each at its own time, a full file's change of holder: when the new holder's
 * subscription began, but never before the old one began nor after now (a file's dates are the
 * carrier's, and a new registration dated before the old one, or in the future, says nothing
 * better about when the old holder lost the number).
 */
export async function endSubscriptionsAt(db: pg.PoolClient, ends: readonly { id: string; at: string }[], reason: 'holder_changed'): Promise<void> {
  if (ends.length === 0) return;
  await db.query(
    `UPDATE subscriptions s SET status = 'terminated', ended_reason = $3, ended_at = least(now(), greatest(s.registered_at, e.at)), updated_at = now()
     FROM unnest($1::uuid[], $2::timestamptz[]) AS e(id, at) WHERE s.id = e.id AND s.status <> 'terminated'`,
    [ends.map((e) => e.id), ends.map((e) => e.at), reason],
  );
}

/** The number's live subscription at the carrier, if any. */
export async function liveSubscriptionId(db: pg.PoolClient, carrierId: number, msisdnBidx: Buffer): Promise<string | undefined> {
  const r = await db.query<{ id: string }>(`SELECT id FROM subscriptions WHERE carrier_id = $1 AND msisdn_bidx = $2 AND status <> 'terminated'`, [carrierId, msisdnBidx]);
  return r.rows[0]?.id;
}

/** When the latest block or unblock applied to a subscription happened (ms), if any. */
export async function lastBlockEventAt(db: pg.PoolClient, subscriptionId: string): Promise<number | undefined> {
  const r = await db.query<{ at: Date | null }>(
    `SELECT max(at) AS at FROM subscription_events WHERE subscription_id = $1 AND outcome = 'applied' AND type IN ${BLOCK_EVENTS}`,
    [subscriptionId],
  );
  return r.rows[0]?.at?.getTime();
}

/**
 * The live subscriptions, at other carriers, of the numbers of these new subscriptions, under
 * another holder (or none): a port whose donor's `ported_out` has not arrived, or a number one of
 * the two registries has wrong. Who holds the SIM is unknown; the bindings made through those
 * subscriptions are re-checked (binding-lifecycle.ts flagBindingsOfContestedSubscriptions) and
 * the number verifies no one meanwhile (phone-eligibility.ts). One probe of the (carrier,
 * number) index per carrier and subscription.
 */
export async function contestedSubscriptions(db: pg.PoolClient, newIds: readonly string[]): Promise<string[]> {
  if (newIds.length === 0) return [];
  const r = await db.query<{ id: string }>(`${CONTESTED_SQL} WHERE n.id = ANY($1::uuid[]) AND ${CONTESTED_WHERE} ${LOCK_CONTESTED}`, [newIds]);
  return r.rows.map((row) => row.id);
}

/** contestedSubscriptions for the new live rows a full-file run (`$1`) just stored at a carrier (`$2`) for these numbers (`$3`). */
export async function contestedByImportedRows(db: pg.PoolClient, runId: string, carrierId: number, msisdnBidxs: readonly Buffer[]): Promise<string[]> {
  if (msisdnBidxs.length === 0) return [];
  const r = await db.query<{ id: string }>(
    `${CONTESTED_SQL} WHERE n.carrier_id = $2 AND n.msisdn_bidx = ANY($3::bytea[]) AND n.import_run_id = $1 AND ${CONTESTED_WHERE} ${LOCK_CONTESTED}`,
    [runId, carrierId, msisdnBidxs],
  );
  return r.rows.map((row) => row.id);
}

const CONTESTED_SQL = `SELECT o.id FROM subscriptions n
     JOIN carriers c ON c.id <> n.carrier_id
     JOIN LATERAL (SELECT o.id, o.holder_bidx FROM subscriptions o
                   WHERE o.carrier_id = c.id AND o.msisdn_bidx = n.msisdn_bidx AND o.status <> 'terminated') o ON true`;
const CONTESTED_WHERE = `n.status <> 'terminated' AND o.holder_bidx IS DISTINCT FROM n.holder_bidx`;
/**
 * The contested subscriptions are locked until the import's transaction ends, in this statement,
 * before their bindings are flagged in the next one: a confirmation binding through one of them
 * holds it share-locked from its re-check to its commit, so either this waits and the flagging's
 * later snapshot sees the new binding, or the confirmation waits and its binding statement sees
 * this port-in (binding-repository.ts bindAccount, "Contested number"). Ordered by id, so two
 * imports lock in the same order. No key is changed: FOR NO KEY UPDATE.
 */
const LOCK_CONTESTED = `ORDER BY o.id FOR NO KEY UPDATE OF o`;

/** The events that set a live subscription's block state (its `status`). */
const BLOCK_EVENTS = "('blocked_outgoing', 'blocked_both', 'unblocked')";

/**
 * SQL: the type of the latest block or unblock applied to the subscription `subscription` (a
 * column or parameter), dated after `after` when given; NULL when none.
 */
function latestBlockEventSql(subscription: string, after?: string): string {
  return `(SELECT e.type FROM subscription_events e
           WHERE e.subscription_id = ${subscription} AND e.outcome = 'applied' AND e.type IN ${BLOCK_EVENTS}${after ? ` AND e.at > ${after}` : ''}
           ORDER BY e.at DESC, e.id DESC LIMIT 1)`;
}
/** A live status's rank, least restrictive first (SQL: the position in this array). */
const BLOCK_RANK = "ARRAY['active', 'blocked_outgoing', 'blocked_both']";

/**
 * What happened to a number after a new holder's subscription began, reported against the old
 * one because the change of holder arrived after it (a late `holder_changed` delta, a full file
 * naming a new holder, a registration after a termination that arrived late): it is the new
 * subscription's (DESIGN.md invariant 7: a number is not a person). Left on the old one, a SIM
 * swapped after the change would be missing from the new holder's subscription, and the phone
 * verification's "no SIM change within 72 h" check (issue 3) would pass for it.
 *
 * The new subscription (`toId`) takes the old one's SIM and device change times dated after `at`
 * (the later of those and its own), the block state of the latest block or unblock applied to the
 * old one after `at` when more restrictive than its own (fail closed: a file row's `active` may
 * predate the block), and those events (applied or stale, for the person's history). The old one
 * keeps what its remaining events say, as of `at`.
 */
export async function handOverLaterChanges(db: pg.PoolClient, fromId: string, toId: string, at: string): Promise<void> {
  await db.query(
    `UPDATE subscriptions n SET
       sim_changed_at = greatest(n.sim_changed_at, CASE WHEN o.sim_changed_at > $3 THEN o.sim_changed_at END),
       device_changed_at = greatest(n.device_changed_at, CASE WHEN o.device_changed_at > $3 THEN o.device_changed_at END),
       -- The later block, if more restrictive (an unblock, none, or a terminated row: no rank, kept).
       status = (SELECT CASE WHEN array_position(${BLOCK_RANK}, l.type) > array_position(${BLOCK_RANK}, n.status) THEN l.type ELSE n.status END
                 FROM (SELECT ${latestBlockEventSql('o.id', '$3')} AS type) l),
       last_event_at = CASE WHEN o.last_event_at > $3 THEN greatest(n.last_event_at, o.last_event_at) ELSE n.last_event_at END,
       updated_at = now()
     FROM subscriptions o WHERE n.id = $2 AND o.id = $1`,
    [fromId, toId, at],
  );
  await db.query('UPDATE subscription_events SET subscription_id = $2 WHERE subscription_id = $1 AND at > $3', [fromId, toId, at]);
  await db.query(
    `UPDATE subscriptions o SET
       sim_changed_at = CASE WHEN o.sim_changed_at > $2 THEN (SELECT max(e.at) FROM subscription_events e
         WHERE e.subscription_id = o.id AND e.outcome = 'applied' AND e.type = 'sim_changed') ELSE o.sim_changed_at END,
       device_changed_at = CASE WHEN o.device_changed_at > $2 THEN (SELECT max(e.at) FROM subscription_events e
         WHERE e.subscription_id = o.id AND e.outcome = 'applied' AND e.type = 'device_changed') ELSE o.device_changed_at END,
       last_event_at = least(o.last_event_at, $2), updated_at = now()
     WHERE o.id = $1`,
    [fromId, at],
  );
}

export interface SubscriptionUpdate {
  id: string;
  holderBidx: Buffer | null;
  holderMatchBidx: Buffer | null;
  digest: Buffer;
  bidxVersion: number;
  sealed: Buffer;
  dekVersion: number;
  channel: string;
  registeredAt: string;
  status: string;
  simChangedAt: string | null;
  deviceChangedAt: string | null;
  line: number;
}

export async function updateSubscriptions(db: pg.PoolClient, runId: string, rows: readonly SubscriptionUpdate[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE subscriptions s SET holder_bidx = u.holder_bidx, holder_match_bidx = u.holder_match_bidx, digest = u.digest,
       bidx_version = u.bidx_version, sealed = u.sealed, dek_version = u.dek_version, channel = u.channel,
       registered_at = u.registered_at,
       -- A row never lifts a block that a delta set (the latest block event applied to the
       -- subscription is the block it is in): the file may predate it, and an unblocked number
       -- is eligible for verification again. An "unblocked" delta lifts it; a termination in a
       -- row always applies.
       status = CASE WHEN u.status <> 'terminated' AND s.status <> 'terminated'
                      AND array_position(${BLOCK_RANK}, s.status) > array_position(${BLOCK_RANK}, u.status)
                      AND s.status = ${latestBlockEventSql('s.id')}
                 THEN s.status ELSE u.status END,
       -- A SIM or device change the hub knows of is never erased nor moved back by a row (an
       -- older file imported again, or one written before a delta): fail closed, the number stays
       -- inside the verification's SIM-change window (issue 3) until the time has really passed.
       sim_changed_at = greatest(s.sim_changed_at, u.sim_changed_at), device_changed_at = greatest(s.device_changed_at, u.device_changed_at),
       ended_at = CASE WHEN u.status = 'terminated' THEN coalesce(s.ended_at, now()) ELSE NULL END,
       ended_reason = CASE WHEN u.status = 'terminated' THEN coalesce(s.ended_reason, 'terminated') ELSE NULL END,
       import_run_id = $1, import_line = u.line, updated_at = now()
     FROM unnest($2::uuid[], $3::bytea[], $4::bytea[], $5::bytea[], $6::int[], $7::bytea[], $8::int[], $9::text[], $10::timestamptz[],
                 $11::text[], $12::timestamptz[], $13::timestamptz[], $14::bigint[])
       AS u(id, holder_bidx, holder_match_bidx, digest, bidx_version, sealed, dek_version, channel, registered_at, status,
            sim_changed_at, device_changed_at, line)
     WHERE s.id = u.id`,
    [runId, rows.map((r) => r.id), rows.map((r) => r.holderBidx), rows.map((r) => r.holderMatchBidx), rows.map((r) => r.digest),
      rows.map((r) => r.bidxVersion), rows.map((r) => r.sealed), rows.map((r) => r.dekVersion), rows.map((r) => r.channel),
      rows.map((r) => r.registeredAt), rows.map((r) => r.status), rows.map((r) => r.simChangedAt), rows.map((r) => r.deviceChangedAt),
      rows.map((r) => r.line)],
  );
}
