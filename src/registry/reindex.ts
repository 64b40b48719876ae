/**
 * Background key migrations of every sealed table (DESIGN.md invariant 2; issue 2 `idbind keys
 * rotate`; issue 3 adds webhook secrets, the demo SMS outbox and open verifications): re-encryption
 * of sealed records under the current data key, and re-indexing of blind indexes under the
 * current blind-index key. Both walk a table in primary-key order in small
 * batches, each its own transaction, touching only rows still on an older version
 * (`FOR UPDATE SKIP LOCKED`), so they are resumable at any point, safe to run twice at once, and
 * never block an import for long.
 */
import type pg from 'pg';
import { blindIndex } from '../kernel/crypto/blind-index.ts';
import { associatedData, openBytes, openRecord, sealBytes, sealRecord } from '../kernel/crypto/envelope.ts';
import { dataKeyFor, KeyRingError, type BlindIndexKey, type KeyRing } from '../kernel/crypto/key-ring.ts';
import { msisdnIndex, personIndexes, subscriptionIndexes } from './row-crypto.ts';
import { personFromSealedFields, type PersonStatus, type SubscriptionRow, type Channel, type SubscriptionStatus } from './registry-rows.ts';

/**
 * Every table holding sealed data or blind indexes (DESIGN.md invariant 2: "rotating a data key
 * re-encrypts fields in the background; rotating the blind-index key re-indexes"). A table left
 * out here would keep rows under an old key, and retiring that key would strand them: each sealed
 * column of the schema must appear, and key-rotation-service.db.test.ts checks it does.
 */
export const SEALED_TABLES = [
  'persons', 'subscriptions', 'subscription_events', 'webhook_secrets', 'sms_outbox', 'verifications', 'oidc_clients', 'oidc_signing_keys', 'hosted_flows',
] as const;
export type SealedTable = (typeof SEALED_TABLES)[number];

export interface MigrationProgress {
  table: SealedTable;
  done: number;
}

const BATCH = 2000;
/** SQLSTATE of a lock not granted at once (`NOWAIT`) or within `lock_timeout`. */
const LOCK_NOT_AVAILABLE = '55P03';
/** SQLSTATE of the transaction PostgreSQL aborts to break a deadlock. */
const DEADLOCK_DETECTED = '40P01';
/**
 * How long a batch job's re-index waits for one lock before it lets go of its batch and tries it
 * again. A confirmation holds its subscription, then asks for the person (FOR SHARE OF s, p), while
 * the re-index holds the person and asks for the subscription: waiting longer than PostgreSQL's
 * deadlock_timeout (1 s) would end in a deadlock, and PostgreSQL may abort the confirmation.
 */
const BATCH_JOB_LOCK_TIMEOUT = '200ms';

interface Row {
  id: string;
  sealed: Buffer;
  dek_version: number;
  [k: string]: unknown;
}

function iso(v: unknown): string {
  return v instanceof Date ? v.toISOString() : v === null || v === undefined ? '' : String(v);
}

interface TableSpec {
  idType: 'uuid' | 'bigint';
  /**
   * `record`: fields sealed with sealRecord; `bytes`: one value sealed with sealBytes (webhook
   * secrets, a verification's number), re-sealed byte for byte.
   */
  sealedAs: 'record' | 'bytes';
  /** Columns besides `sealed` that re-indexing reads. */
  extraColumns: string;
  /** Blind-index columns, recomputed on re-index under the current key; none: no blind index. */
  indexColumns: readonly string[];
  /** The blind-index columns of one row, recomputed from its opened fields under `bidx`. */
  reindex?(row: Row, fields: string[], bidx: BlindIndexKey): Record<string, Buffer | null>;
}

const TABLES: Record<SealedTable, TableSpec> = {
  persons: {
    // pid_bidx as stored: the key of the subscriptions a batch of persons re-indexes with it (migrateTable).
    idType: 'uuid', sealedAs: 'record', extraColumns: ', status, pid_bidx', indexColumns: ['pid_bidx', 'match_bidx', 'digest'],
    reindex(row, fields, bidx) {
      const ix = personIndexes(bidx, personFromSealedFields(fields, row.status as PersonStatus));
      return { pid_bidx: ix.pidBidx, match_bidx: ix.matchBidx, digest: ix.digest };
    },
  },
  subscriptions: {
    // msisdn_bidx and holder_bidx as stored: the keys of the rows a batch re-indexes with it (reindexLinkedRows).
    idType: 'uuid', sealedAs: 'record', extraColumns: ', channel, registered_at, status, sim_changed_at, device_changed_at, msisdn_bidx, holder_bidx',
    indexColumns: ['msisdn_bidx', 'holder_bidx', 'holder_match_bidx', 'digest'],
    reindex(row, fields, bidx) {
      const s: SubscriptionRow = {
        msisdn: fields[0] ?? '', holderPersonalId: fields[1] ?? '', holderFullName: fields[2] ?? '', holderBirthDate: fields[3] ?? '',
        channel: row.channel as Channel, registeredAt: iso(row.registered_at), status: row.status as SubscriptionStatus,
        simChangedAt: iso(row.sim_changed_at), deviceChangedAt: iso(row.device_changed_at),
      };
      // The digest is of the row as the carrier's file last gave it; a carrier re-sending that row
      // after re-indexing is still "unchanged" only if nothing else changed, which is what we want.
      const ix = subscriptionIndexes(bidx, s);
      return { msisdn_bidx: ix.msisdnBidx, holder_bidx: ix.holderBidx, holder_match_bidx: ix.holderMatchBidx, digest: ix.digest };
    },
  },
  subscription_events: {
    idType: 'bigint', sealedAs: 'record', extraColumns: ', type, at', indexColumns: ['msisdn_bidx', 'digest'],
    reindex(row, fields, bidx) {
      return {
        msisdn_bidx: msisdnIndex(bidx.key, fields[0] ?? ''),
        digest: blindIndex(bidx.key, 'subscription_event.digest', [row.type, iso(row.at), ...fields].join('\u001f')),
      };
    },
  },
  // A provider's webhook signing secret (src/providers/provider-credentials.ts): sealed, no index.
  webhook_secrets: { idType: 'uuid', sealedAs: 'bytes', extraColumns: '', indexColumns: [] },
  // Demo SMS outbox (src/verification/sms/sms-outbox.ts): [to, text], found by the number's index.
  sms_outbox: {
    idType: 'uuid', sealedAs: 'record', extraColumns: '', indexColumns: ['to_bidx'],
    reindex: (_row, fields, bidx) => ({ to_bidx: msisdnIndex(bidx.key, fields[0] ?? '') }),
  },
  // An open verification's number (src/verification/verification-service.ts), sealed while a code
  // may be resent and NULL once completed; its msisdn_bidx is the number's index (phone-eligibility.ts).
  // Completed rows keep an index nobody can recompute once its version is retired: they are never
  // looked up by it, and such a dead index is exactly what retiring a key is for.
  verifications: {
    idType: 'uuid', sealedAs: 'bytes', extraColumns: '', indexColumns: ['msisdn_bidx'],
    reindex: (_row, fields, bidx) => ({ msisdn_bidx: msisdnIndex(bidx.key, fields[0] ?? '') }),
  },
  // An OpenID client's secret (src/oidc/oidc-client-service.ts): sealed, no index.
  oidc_clients: { idType: 'uuid', sealedAs: 'bytes', extraColumns: '', indexColumns: [] },
  // The OpenID Provider's private signing JWKs (src/oidc/signing-keys.ts): sealed, no index.
  oidc_signing_keys: { idType: 'uuid', sealedAs: 'bytes', extraColumns: '', indexColumns: [] },
  // A hosted flow's verified number, kept for a statutory platform's phone_number claim (migration 0007).
  hosted_flows: { idType: 'uuid', sealedAs: 'bytes', extraColumns: '', indexColumns: [] },
};

/**
 * One-time codes still open (issue 3 "One-time codes"): their HMAC key is derived from the
 * blind-index key of `code_key_version` (src/verification/one-time-code.ts) and the code itself is
 * not stored, so they cannot be re-keyed; a version is retired only once none of them can still be
 * confirmed. They expire within minutes (5; a minute more for clock skew between the hub and the
 * database); an expired code is refused as expired before any key is needed, and a resend issues a
 * new code under the current version.
 */
// `completed_at IS NULL`: an open session, by migration 0019's partial index.
const LIVE_CODES = `completed_at IS NULL AND status = 'code_sent' AND code_hmac IS NOT NULL AND code_expires_at > now() - interval '1 minute'`;

/** Carrier jobs whose sealed upload may still be opened; each holds back every older data key (keyVersionInUse). */
export const OPEN_CARRIER_JOBS = `status IN ('queued', 'running')`;
/** Officials' invitations that can still be used; each holds back its blind-index version (keyVersionInUse). */
export const OPEN_INVITATIONS = 'used_at IS NULL AND expires_at > now()';

type Mode = 'reencrypt' | 'reindex';

/** Re-encrypts or re-indexes these rows of `table` (selected FOR UPDATE) under the current keys. */
async function migrateRows(client: pg.PoolClient, ring: KeyRing, table: SealedTable, mode: Mode, rows: readonly Row[]): Promise<void> {
  const spec = TABLES[table];
  const ids: string[] = [];
  const sealedOut: Buffer[] = [];
  const indexCols: Record<string, (Buffer | null)[]> = Object.fromEntries(spec.indexColumns.map((c) => [c, []]));
  for (const row of rows) {
    const ad = associatedData(table, 'sealed', row.id);
    const key = dataKeyFor(ring, row.dek_version);
    const plain = spec.sealedAs === 'bytes' ? openBytes(key, row.sealed, ad) : undefined;
    const fields = plain ? [plain.toString('utf8')] : openRecord(key, row.sealed, ad);
    ids.push(row.id);
    if (mode === 'reencrypt') {
      sealedOut.push(plain
        ? sealBytes(ring.currentData.key, ring.currentData.version, plain, ad)
        : sealRecord(ring.currentData.key, ring.currentData.version, fields, ad));
    } else {
      const ix = spec.reindex!(row, fields, ring.currentBlindIndex);
      for (const c of spec.indexColumns) indexCols[c]!.push(ix[c] ?? null);
    }
  }
  const idType = spec.idType;
  if (mode === 'reencrypt') {
    await client.query(
      `UPDATE ${table} t SET sealed = u.sealed, dek_version = $3 FROM unnest($1::${idType}[], $2::bytea[]) AS u(id, sealed) WHERE t.id = u.id`,
      [ids, sealedOut, ring.currentData.version],
    );
  } else {
    const cols = spec.indexColumns;
    const sets = cols.map((c) => `${c} = u.${c}`).join(', ');
    const params = cols.map((_, i) => `$${i + 2}::bytea[]`).join(', ');
    await client.query(
      `UPDATE ${table} t SET ${sets}, bidx_version = $${cols.length + 2} FROM unnest($1::${idType}[], ${params}) AS u(id, ${cols.join(', ')}) WHERE t.id = u.id`,
      [ids, ...cols.map((c) => indexCols[c]), ring.currentBlindIndex.version],
    );
  }
}

/**
 * Re-indexes, in the caller's transaction, every row on an older version linked to rows it has just
 * re-indexed, and returns how many. Rows whose blind indexes are compared with each other's must
 * change version together, or a reader sees one side under the new version and the other under the
 * old, and the comparison fails:
 * - a person and the live subscriptions it holds (pid_bidx = holder_bidx, match_bidx =
 *   holder_match_bidx: eligibility, the binding's re-check, the person's own view). Re-indexed apart,
 *   every holder would look unregistered until the subscriptions pass caught up;
 * - the live rows of one number at every carrier (msisdn_bidx across carriers: a number contested
 *   by a port in flight, registry-lookup.ts liveElsewhereUnderAnotherHolderSql). Re-indexed apart,
 *   the donor's row would look uncontested and its holder verify through a SIM the port gave to
 *   someone else.
 * The links are followed until nothing linked is left on an older version: the persons holding a
 * moved subscription (`holders`), the live subscriptions of a moved person (`persons`, their
 * pid_bidx before the move, by the subscriptions_holder index) and the other live rows of a moved
 * subscription's number (`numbers`, one probe of the (carrier, number) index per carrier, for the
 * numbers `sharedNumbers` lists: live at more than one carrier when the pass began). A linked
 * row is never skipped: left behind, it is the split this prevents. Batch jobs wait for it
 * (`wait`, up to BATCH_JOB_LOCK_TIMEOUT, then their caller tries the batch again); the background
 * work does not (NOWAIT: LOCK_NOT_AVAILABLE), and its caller leaves the whole batch to the next
 * pass. Neither holds a person long while a confirmation holds that person's subscription and
 * waits for the person (a deadlock), nor makes a confirmation wait long for a batch.
 */
async function reindexLinkedRows(
  client: pg.PoolClient, ring: KeyRing, target: number, seed: { persons: Buffer[]; numbers: Buffer[]; holders: Buffer[] },
  options: { wait: boolean; sharedNumbers: ReadonlySet<string> },
): Promise<number> {
  const { wait, sharedNumbers } = options;
  // Only numbers live at several carriers have other rows to move (sharedNumbers): no probe for the rest.
  const shared = (keys: Buffer[]) => keys.filter((k) => sharedNumbers.has(k.toString('hex')));
  let { persons, holders } = seed;
  let numbers = shared(seed.numbers);
  const nowait = wait ? '' : ' NOWAIT';
  let moved = 0;
  const subscriptionColumns = `id::text AS id, sealed, dek_version${TABLES.subscriptions.extraColumns}`;
  // The same columns of the lateral `s` below.
  const lateralColumns = `s.id::text AS id, ${`sealed, dek_version${TABLES.subscriptions.extraColumns}`.split(', ').map((c) => `s.${c}`).join(', ')}`;
  // `byHolder`: rows found as the live subscriptions of persons just moved, whose holders need no lookup.
  const moveSubscriptions = async (rows: Row[], byHolder: boolean) => {
    if (rows.length === 0) return;
    await migrateRows(client, ring, 'subscriptions', 'reindex', rows);
    moved += rows.length;
    numbers = numbers.concat(shared(rows.map((x) => x.msisdn_bidx as Buffer)));
    if (!byHolder) holders = holders.concat(rows.flatMap((x) => (x.holder_bidx ? [x.holder_bidx as Buffer] : [])));
  };
  while (persons.length + numbers.length + holders.length > 0) {
    if (holders.length > 0) {
      const r = await client.query<Row>(
        `SELECT id::text AS id, sealed, dek_version${TABLES.persons.extraColumns} FROM persons
         WHERE pid_bidx = ANY($1::bytea[]) AND bidx_version <> $2 AND sealed IS NOT NULL ORDER BY id FOR UPDATE${nowait}`,
        [holders, target],
      );
      holders = [];
      if (r.rows.length > 0) {
        await migrateRows(client, ring, 'persons', 'reindex', r.rows);
        moved += r.rows.length;
        persons = persons.concat(r.rows.map((x) => x.pid_bidx as Buffer));
      }
    }
    if (persons.length > 0) {
      const r = await client.query<Row>(
        `SELECT ${subscriptionColumns} FROM subscriptions
         WHERE holder_bidx = ANY($1::bytea[]) AND status <> 'terminated' AND bidx_version <> $2 AND sealed IS NOT NULL ORDER BY id FOR UPDATE${nowait}`,
        [persons, target],
      );
      persons = [];
      await moveSubscriptions(r.rows, true);
    }
    if (numbers.length > 0) {
      const r = await client.query<Row>(
        // Per carrier, a probe of the (carrier, number) index per number: never a scan of the table.
        `SELECT ${lateralColumns} FROM carriers c
         JOIN LATERAL (SELECT * FROM subscriptions s
                       WHERE s.carrier_id = c.id AND s.msisdn_bidx = ANY($1::bytea[]) AND s.status <> 'terminated' AND s.bidx_version <> $2 AND s.sealed IS NOT NULL) s ON true
         ORDER BY s.id FOR UPDATE OF s${nowait}`,
        [numbers, target],
      );
      numbers = [];
      await moveSubscriptions(r.rows, false);
    }
  }
  return moved;
}

interface MigrateOptions {
  onProgress?: (p: MigrationProgress) => void;
  /** Skip rows other transactions hold locked, and never wait for a linked row (background work). */
  skipLocked?: boolean;
  batchSize?: number;
  /** Re-index: sharedLiveNumbers of the pass. */
  sharedNumbers?: ReadonlySet<string>;
}

async function migrateTable(pool: pg.Pool, ring: KeyRing, table: SealedTable, mode: Mode, options: MigrateOptions = {}): Promise<number> {
  const { onProgress, skipLocked = true, batchSize = BATCH, sharedNumbers = new Set<string>() } = options;
  const spec = TABLES[table];
  if (mode === 'reindex' && spec.indexColumns.length === 0) return 0;
  // With a single key version not retired, every row already uses it (a version is retired only
  // when no row uses it): skip the walk of the whole table, which every import start would
  // otherwise pay (seconds at national scale; issue 2 benchmark).
  if (mode === 'reindex' ? ring.blindIndex.length <= 1 : ring.data.size <= 1) return 0;
  const column = mode === 'reencrypt' ? 'dek_version' : 'bidx_version';
  const target = mode === 'reencrypt' ? ring.currentData.version : ring.currentBlindIndex.version;
  let lastId = spec.idType === 'bigint' ? '0' : '00000000-0000-0000-0000-000000000000';
  let done = 0;
  let coupled = 0;
  for (;;) {
    const client = await pool.connect();
    let rows: Row[] = [];
    try {
      await client.query('BEGIN');
      if (!skipLocked) await client.query(`SET LOCAL lock_timeout = '${BATCH_JOB_LOCK_TIMEOUT}'`);
      await assertTargetCurrent(client, mode, target);
      const r = await client.query<Row>(
        `SELECT id::text AS id, sealed, dek_version${spec.extraColumns} FROM ${table}
         WHERE id > $1 AND ${column} <> $2 AND sealed IS NOT NULL ORDER BY id LIMIT ${batchSize} FOR UPDATE${skipLocked ? ' SKIP LOCKED' : ''}`,
        [lastId, target],
      );
      rows = r.rows;
      if (rows.length === 0) {
        await client.query('COMMIT');
        break;
      }
      await migrateRows(client, ring, table, mode, rows);
      let linked = 0;
      if (mode === 'reindex' && table === 'persons') {
        linked = await reindexLinkedRows(client, ring, target, { persons: rows.map((x) => x.pid_bidx as Buffer), numbers: [], holders: [] }, { wait: !skipLocked, sharedNumbers });
      } else if (mode === 'reindex' && table === 'subscriptions') {
        const live = rows.filter((x) => x.status !== 'terminated');
        linked = await reindexLinkedRows(client, ring, target, {
          persons: [], numbers: live.map((x) => x.msisdn_bidx as Buffer), holders: live.flatMap((x) => (x.holder_bidx ? [x.holder_bidx as Buffer] : [])),
        }, { wait: !skipLocked, sharedNumbers });
      }
      await client.query('COMMIT');
      coupled += linked;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      const code = (e as { code?: string }).code;
      if (skipLocked && code === LOCK_NOT_AVAILABLE && rows.length > 0) {
        // A linked row locked by another transaction (background work): this batch is left whole
        // to the next pass, as the rows SKIP LOCKED leaves (reindexLinkedRows).
        lastId = rows[rows.length - 1]!.id;
        continue;
      }
      if (!skipLocked && (code === LOCK_NOT_AVAILABLE || code === DEADLOCK_DETECTED)) {
        // A batch job must not leave rows behind: the same batch again, once the other
        // transaction (a confirmation: milliseconds) had time to finish.
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
        continue;
      }
      throw e;
    } finally {
      client.release();
    }
    done += rows.length;
    lastId = rows[rows.length - 1]!.id;
    onProgress?.({ table, done });
  }
  return done + coupled;
}

/**
 * Fails, in a batch's transaction, when `target` is no longer the current version of its key, and
 * keeps it current until the batch commits (FOR SHARE: a rotation's switch waits for the batch).
 * The background pass holds no key-version lock and may run for hours, so a second rotation can
 * happen under it (docs/keys.md); the ring it loaded would then re-index rows the new version's
 * pass, or an import's start re-index, had already moved, back to the older version, behind the
 * import's probes (a person imported twice), and seal rows under a data key that retirement may
 * destroy as soon as its grace is over. It stops instead; its next pass loads the new ring.
 */
async function assertTargetCurrent(client: pg.PoolClient, mode: Mode, target: number): Promise<void> {
  const r = await client.query<{ version: number }>(
    `SELECT version FROM key_versions WHERE purpose = $1 AND state = 'current' FOR SHARE`,
    [mode === 'reencrypt' ? 'data' : 'blind_index'],
  );
  if (r.rows[0]?.version !== target) {
    throw new KeyRingError('the key ring is out of date: a key rotation made new versions current after this process loaded its keys; run again');
  }
}

/**
 * Fails when `ring` is not the key table's current versions: a process that loaded its ring before
 * a rotation (an import hashing its file first, say) would write rows under the old versions,
 * probe by an index no row carries any more, and seal under a key that may already be destroyed.
 * Batch jobs call completePendingReindex with the key-version lock held shared, so the versions
 * cannot change after this check.
 */
export async function assertRingCurrent(db: pg.Pool | pg.PoolClient, ring: KeyRing): Promise<void> {
  const r = await db.query<{ purpose: string; version: number }>(`SELECT purpose, version FROM key_versions WHERE state = 'current'`);
  const current = new Map(r.rows.map((x) => [x.purpose, x.version]));
  if (current.get('data') !== ring.currentData.version || current.get('blind_index') !== ring.currentBlindIndex.version) {
    throw new KeyRingError('the key ring is out of date: a key rotation made new versions current after this process loaded its keys; run again');
  }
}

/**
 * Re-indexes every row still on an older blind-index version; returns how many it changed.
 *
 * By default (`skipLocked: false`) it waits for rows other transactions hold locked instead of
 * skipping them: an import or reconciliation calls it before it starts so that every row carries
 * the current version, and a row skipped here (one a binding share-locks, say) would be missed by
 * the job's probes and joins (a person imported a second time as a new row). The background key
 * work passes `skipLocked: true`: what it skips, it finds on its next pass, and retirement counts it.
 * The ring must be current (assertRingCurrent).
 */
export async function completePendingReindex(
  pool: pg.Pool, ring: KeyRing, onProgress?: (p: MigrationProgress) => void, options: { skipLocked?: boolean; batchSize?: number } = {},
): Promise<number> {
  const client = await pool.connect();
  try {
    await assertRingCurrent(client, ring);
  } finally {
    client.release();
  }
  // A single version not retired: nothing can be pending (migrateTable's own early return).
  if (ring.blindIndex.length <= 1) return 0;
  let n = 0;
  const sharedNumbers = await sharedLiveNumbers(pool, ring.currentBlindIndex.version);
  for (const table of SEALED_TABLES) {
    n += await migrateTable(pool, ring, table, 'reindex', { onProgress, skipLocked: options.skipLocked ?? false, batchSize: options.batchSize, sharedNumbers });
  }
  return n;
}

/**
 * The numbers (their index on an older version, hex) live at more than one carrier: a port in
 * flight, whose rows reindexLinkedRows moves together. One aggregate per pass instead of probing
 * every carrier for every live number of every batch. A number becoming shared during the pass
 * needs no more: imports (the only writers of registry rows) bring every row up to date before
 * they start, so rows they add are on the current version already.
 */
async function sharedLiveNumbers(pool: pg.Pool, target: number): Promise<Set<string>> {
  const r = await pool.query<{ n: Buffer }>(
    `SELECT msisdn_bidx AS n FROM subscriptions WHERE status <> 'terminated' AND bidx_version <> $1 GROUP BY msisdn_bidx HAVING count(*) > 1`,
    [target],
  );
  return new Set(r.rows.map((x) => x.n.toString('hex')));
}

/** Re-encrypts every sealed record still under an older data key; returns how many it changed. */
export async function completePendingReencryption(pool: pg.Pool, ring: KeyRing, onProgress?: (p: MigrationProgress) => void): Promise<number> {
  let n = 0;
  for (const table of SEALED_TABLES) n += await migrateTable(pool, ring, table, 'reencrypt', { onProgress });
  return n;
}

export type KeyUsageTable = SealedTable | 'verification_codes';

export interface KeyUsage {
  table: KeyUsageTable;
  kind: 'data' | 'blind_index';
  version: number;
  rows: number;
}

/**
 * Rows per table and key version, for `idbind keys status` and retirement: every sealed value
 * (by dek_version), every blind index (by bidx_version) and every one-time code that can still be
 * confirmed (by code_key_version, as `verification_codes`).
 */
export async function keyUsage(db: pg.Pool | pg.PoolClient): Promise<KeyUsage[]> {
  const out: KeyUsage[] = [];
  const add = async (table: KeyUsageTable, kind: KeyUsage['kind'], sql: string) => {
    const r = await db.query<{ v: number; n: string }>(sql);
    for (const row of r.rows) out.push({ table, kind, version: row.v, rows: Number(row.n) });
  };
  for (const table of SEALED_TABLES) {
    await add(table, 'data', `SELECT dek_version AS v, count(*) AS n FROM ${table} WHERE sealed IS NOT NULL AND dek_version IS NOT NULL GROUP BY 1`);
    if (TABLES[table].indexColumns.length > 0) {
      await add(table, 'blind_index', `SELECT bidx_version AS v, count(*) AS n FROM ${table} WHERE bidx_version IS NOT NULL${table === 'verifications' ? ' AND sealed IS NOT NULL' : ''} GROUP BY 1`);
    }
  }
  await add('verification_codes', 'blind_index', `SELECT code_key_version AS v, count(*) AS n FROM verifications WHERE ${LIVE_CODES} GROUP BY 1`);
  return out;
}

/**
 * Whether any row still needs this key version: a sealed value under it, a blind index of it
 * (completed verifications excepted, see TABLES), or a one-time code under it that can still be
 * confirmed. Retirement destroys a version only when this is false.
 */
export async function keyVersionInUse(db: pg.Pool | pg.PoolClient, purpose: 'data' | 'blind_index', version: number): Promise<boolean> {
  const checks: string[] = [];
  for (const table of SEALED_TABLES) {
    if (purpose === 'data') checks.push(`EXISTS (SELECT 1 FROM ${table} WHERE dek_version = $1 AND sealed IS NOT NULL)`);
    else if (TABLES[table].indexColumns.length > 0) {
      checks.push(`EXISTS (SELECT 1 FROM ${table} WHERE bidx_version = $1${table === 'verifications' ? ' AND sealed IS NOT NULL' : ''})`);
    }
  }
  // A carrier's upload waiting for its job, or being received, is sealed under a data key
  // (src/carriers/upload-encryption.ts) that the file names and no row records: while any job is
  // open no older data key goes, or the job could not open its file and the upload would be lost.
  if (purpose === 'data') checks.push(`EXISTS (SELECT 1 FROM carrier_jobs WHERE ${OPEN_CARRIER_JOBS})`);
  if (purpose === 'blind_index') checks.push(`EXISTS (SELECT 1 FROM verifications WHERE code_key_version = $1 AND ${LIVE_CODES})`);
  // An official's open invitation is an HMAC under its blind-index version: the version stays until the link is used or expires.
  if (purpose === 'blind_index') checks.push(`EXISTS (SELECT 1 FROM official_invitations WHERE blind_index_version = $1 AND ${OPEN_INVITATIONS})`);
  const r = await db.query<{ used: boolean }>(`SELECT ${checks.join(' OR ')} AS used`, [version]);
  return r.rows[0]!.used;
}
