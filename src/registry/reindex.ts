/**
 * Background key migrations of the registry tables (DESIGN.md invariant 2; issue 2 `idbind keys
 * rotate`): re-encryption of sealed records under the current data key, and re-indexing of blind
 * indexes under the current blind-index key. Both walk a table in primary-key order in small
 * batches, each its own transaction, touching only rows still on an older version
 * (`FOR UPDATE SKIP LOCKED`), so they are resumable at any point, safe to run twice at once, and
 * never block an import for long.
 */
import type pg from 'pg';
import { blindIndex } from '../kernel/crypto/blind-index.ts';
import { associatedData, openRecord, sealRecord } from '../kernel/crypto/envelope.ts';
import { dataKeyFor, type KeyRing } from '../kernel/crypto/key-ring.ts';
import { msisdnIndex, personIndexes, subscriptionIndexes } from './row-crypto.ts';
import { personFromSealedFields, type PersonStatus, type SubscriptionRow, type Channel, type SubscriptionStatus } from './registry-rows.ts';

export const SEALED_TABLES = ['persons', 'subscriptions', 'subscription_events'] as const;
export type SealedTable = (typeof SEALED_TABLES)[number];

export interface MigrationProgress {
  table: SealedTable;
  done: number;
}

const BATCH = 2000;

interface Row {
  id: string;
  sealed: Buffer;
  dek_version: number;
  [k: string]: unknown;
}

function iso(v: unknown): string {
  return v instanceof Date ? v.toISOString() : v === null || v === undefined ? '' : String(v);
}

/** The blind-index columns of one row, recomputed from its opened record under `bidx`. */
function reindexRow(table: SealedTable, row: Row, fields: string[], bidx: Buffer): Record<string, Buffer | null> {
  if (table === 'persons') {
    const p = personFromSealedFields(fields, row.status as PersonStatus);
    const ix = personIndexes(bidx, p);
    return { pid_bidx: ix.pidBidx, match_bidx: ix.matchBidx, digest: ix.digest };
  }
  if (table === 'subscriptions') {
    const s: SubscriptionRow = {
      msisdn: fields[0] ?? '', holderPersonalId: fields[1] ?? '', holderFullName: fields[2] ?? '', holderBirthDate: fields[3] ?? '',
      channel: row.channel as Channel, registeredAt: iso(row.registered_at), status: row.status as SubscriptionStatus,
      simChangedAt: iso(row.sim_changed_at), deviceChangedAt: iso(row.device_changed_at),
    };
    // The digest is of the row as the carrier's file last gave it; a carrier re-sending that row
    // after re-indexing is still "unchanged" only if nothing else changed, which is what we want.
    const ix = subscriptionIndexes(bidx, s);
    return { msisdn_bidx: ix.msisdnBidx, holder_bidx: ix.holderBidx, holder_match_bidx: ix.holderMatchBidx, digest: ix.digest };
  }
  return {
    msisdn_bidx: msisdnIndex(bidx, fields[0] ?? ''),
    digest: blindIndex(bidx, 'subscription_event.digest', [row.type, iso(row.at), ...fields].join('\u001f')),
  };
}

const EXTRA_COLUMNS: Record<SealedTable, string> = {
  persons: 'status',
  subscriptions: 'channel, registered_at, status, sim_changed_at, device_changed_at',
  subscription_events: 'type, at',
};

const INDEX_COLUMNS: Record<SealedTable, string[]> = {
  persons: ['pid_bidx', 'match_bidx', 'digest'],
  subscriptions: ['msisdn_bidx', 'holder_bidx', 'holder_match_bidx', 'digest'],
  subscription_events: ['msisdn_bidx', 'digest'],
};

type Mode = 'reencrypt' | 'reindex';

async function migrateTable(pool: pg.Pool, ring: KeyRing, table: SealedTable, mode: Mode, onProgress?: (p: MigrationProgress) => void): Promise<number> {
  const column = mode === 'reencrypt' ? 'dek_version' : 'bidx_version';
  const target = mode === 'reencrypt' ? ring.currentData.version : ring.currentBlindIndex.version;
  let lastId = table === 'subscription_events' ? '0' : '00000000-0000-0000-0000-000000000000';
  let done = 0;
  for (;;) {
    const client = await pool.connect();
    let rows: Row[];
    try {
      await client.query('BEGIN');
      const r = await client.query<Row>(
        `SELECT id::text AS id, sealed, dek_version, ${EXTRA_COLUMNS[table]} FROM ${table}
         WHERE id > $1 AND ${column} <> $2 AND sealed IS NOT NULL ORDER BY id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
        [lastId, target],
      );
      rows = r.rows;
      if (rows.length === 0) {
        await client.query('COMMIT');
        break;
      }
      const ids: string[] = [];
      const sealedOut: Buffer[] = [];
      const indexCols: Record<string, (Buffer | null)[]> = Object.fromEntries(INDEX_COLUMNS[table].map((c) => [c, []]));
      for (const row of rows) {
        const ad = associatedData(table, 'sealed', row.id);
        const fields = openRecord(dataKeyFor(ring, row.dek_version), row.sealed, ad);
        ids.push(row.id);
        if (mode === 'reencrypt') {
          sealedOut.push(sealRecord(ring.currentData.key, ring.currentData.version, fields, ad));
        } else {
          const ix = reindexRow(table, row, fields, ring.currentBlindIndex.key);
          for (const c of INDEX_COLUMNS[table]) indexCols[c]!.push(ix[c] ?? null);
        }
      }
      const idType = table === 'subscription_events' ? 'bigint' : 'uuid';
      if (mode === 'reencrypt') {
        await client.query(
          `UPDATE ${table} t SET sealed = u.sealed, dek_version = $3 FROM unnest($1::${idType}[], $2::bytea[]) AS u(id, sealed) WHERE t.id = u.id`,
          [ids, sealedOut, ring.currentData.version],
        );
      } else {
        const cols = INDEX_COLUMNS[table];
        const sets = cols.map((c) => `${c} = u.${c}`).join(', ');
        const params = cols.map((_, i) => `$${i + 2}::bytea[]`).join(', ');
        await client.query(
          `UPDATE ${table} t SET ${sets}, bidx_version = $${cols.length + 2} FROM unnest($1::${idType}[], ${params}) AS u(id, ${cols.join(', ')}) WHERE t.id = u.id`,
          [ids, ...cols.map((c) => indexCols[c]), ring.currentBlindIndex.version],
        );
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
    done += rows.length;
    lastId = rows[rows.length - 1]!.id;
    onProgress?.({ table, done });
  }
  return done;
}

/** Re-indexes every row still on an older blind-index version; returns how many it changed. */
export async function completePendingReindex(pool: pg.Pool, ring: KeyRing, onProgress?: (p: MigrationProgress) => void): Promise<number> {
  let n = 0;
  for (const table of SEALED_TABLES) n += await migrateTable(pool, ring, table, 'reindex', onProgress);
  return n;
}

/** Re-encrypts every sealed record still under an older data key; returns how many it changed. */
export async function completePendingReencryption(pool: pg.Pool, ring: KeyRing, onProgress?: (p: MigrationProgress) => void): Promise<number> {
  let n = 0;
  for (const table of SEALED_TABLES) n += await migrateTable(pool, ring, table, 'reencrypt', onProgress);
  return n;
}

/** Rows per table and key version, for `idbind keys status` and retirement. */
export async function keyUsage(pool: pg.Pool): Promise<{ table: SealedTable; kind: 'data' | 'blind_index'; version: number; rows: number }[]> {
  const out: { table: SealedTable; kind: 'data' | 'blind_index'; version: number; rows: number }[] = [];
  for (const table of SEALED_TABLES) {
    const d = await pool.query<{ v: number; n: string }>(`SELECT dek_version AS v, count(*) AS n FROM ${table} WHERE dek_version IS NOT NULL GROUP BY 1`);
    for (const r of d.rows) out.push({ table, kind: 'data', version: r.v, rows: Number(r.n) });
    const b = await pool.query<{ v: number; n: string }>(`SELECT bidx_version AS v, count(*) AS n FROM ${table} GROUP BY 1`);
    for (const r of b.rows) out.push({ table, kind: 'blind_index', version: r.v, rows: Number(r.n) });
  }
  return out;
}
