/**
 * SQL of the transparency log (migrations/0009_tlog.sql). Only stages, authorities, timestamps,
 * commitments, hashes and signed notes pass through here: nothing personal.
 */
import type pg from 'pg';
import type { NodeId, StoredNode } from './merkle.ts';

export type Db = pg.Pool | pg.PoolClient;

export interface CheckpointRow {
  origin: string;
  size: number;
  root: Buffer;
  /** The signed note, log signature only. */
  text: string;
  created_at: string;
}

/** Takes the next index under the append lock (the tlog_state row, held to the caller's commit). */
export async function takeNextIndex(client: pg.PoolClient): Promise<number> {
  const r = await client.query<{ idx: string }>('UPDATE tlog_state SET next_index = next_index + 1 RETURNING next_index - 1 AS idx');
  return Number(r.rows[0]!.idx);
}

export async function insertEntry(client: pg.PoolClient, idx: number, entry: string, leafHash: Buffer): Promise<void> {
  await client.query('INSERT INTO tlog_entries (idx, entry, leaf_hash) VALUES ($1, $2, $3)', [idx, entry, leafHash]);
}

/** Committed appended entries (the count of consecutive indexes from 0). */
export async function appendedCount(db: Db): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT next_index AS n FROM tlog_state')).rows[0]!.n);
}

export async function leafHashesFrom(db: Db, from: number, limit: number): Promise<{ idx: number; leaf_hash: Buffer }[]> {
  const r = await db.query<{ idx: string; leaf_hash: Buffer }>('SELECT idx, leaf_hash FROM tlog_entries WHERE idx >= $1 ORDER BY idx LIMIT $2', [from, limit]);
  return r.rows.map((x) => ({ idx: Number(x.idx), leaf_hash: x.leaf_hash }));
}

export async function entryTexts(db: Db, from: number, to: number): Promise<string[]> {
  const r = await db.query<{ entry: string }>('SELECT entry FROM tlog_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx', [from, to]);
  return r.rows.map((x) => x.entry);
}

export async function entryAt(db: Db, idx: number): Promise<string | undefined> {
  return (await db.query<{ entry: string }>('SELECT entry FROM tlog_entries WHERE idx = $1', [idx])).rows[0]?.entry;
}

/** Entries whose tree nodes are stored. */
export async function treeSize(db: Db): Promise<number> {
  return Number((await db.query<{ size: string }>('SELECT size FROM tlog_tree')).rows[0]!.size);
}

export async function setTreeSize(client: pg.PoolClient, size: number): Promise<void> {
  await client.query('UPDATE tlog_tree SET size = $1', [size]);
}

const nodeKey = (level: number, index: number) => `${level}/${index}`;

/** Stored nodes by `level/index`; a missing one is simply absent from the map. */
export async function loadNodes(db: Db, ids: readonly NodeId[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (ids.length === 0) return out;
  const r = await db.query<{ level: number; idx: string; hash: Buffer }>(
    'SELECT n.level, n.idx, n.hash FROM tlog_nodes n JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx',
    [ids.map((i) => i.level), ids.map((i) => i.index)],
  );
  for (const row of r.rows) out.set(nodeKey(row.level, Number(row.idx)), row.hash);
  return out;
}

export async function insertNodes(client: pg.PoolClient, nodes: readonly StoredNode[]): Promise<void> {
  for (let i = 0; i < nodes.length; i += 5000) {
    const batch = nodes.slice(i, i + 5000);
    await client.query(
      'INSERT INTO tlog_nodes (level, idx, hash) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])',
      [batch.map((n) => n.level), batch.map((n) => n.index), batch.map((n) => n.hash)],
    );
  }
}

/** Hashes at one level, indexes [from, from + count), in order (a tile). */
export async function nodesAt(db: Db, level: number, from: number, count: number): Promise<Buffer[]> {
  const r = await db.query<{ hash: Buffer }>('SELECT hash FROM tlog_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx', [level, from, from + count]);
  return r.rows.map((x) => x.hash);
}

const CHECKPOINT_COLUMNS = "origin, size, root, text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at";

function checkpointRow(r: { origin: string; size: string; root: Buffer; text: string; created_at: string } | undefined): CheckpointRow | undefined {
  return r && { origin: r.origin, size: Number(r.size), root: r.root, text: r.text, created_at: r.created_at };
}

type RawCheckpoint = { origin: string; size: string; root: Buffer; text: string; created_at: string };

/** The largest signed checkpoint of this origin (of any origin when undefined). */
export async function latestCheckpoint(db: Db, origin?: string): Promise<CheckpointRow | undefined> {
  const r = origin === undefined
    ? await db.query<RawCheckpoint>(`SELECT ${CHECKPOINT_COLUMNS} FROM tlog_checkpoints ORDER BY size DESC, created_at DESC LIMIT 1`)
    : await db.query<RawCheckpoint>(`SELECT ${CHECKPOINT_COLUMNS} FROM tlog_checkpoints WHERE origin = $1 ORDER BY size DESC LIMIT 1`, [origin]);
  return checkpointRow(r.rows[0]);
}

export async function checkpointAt(db: Db, origin: string, size: number): Promise<CheckpointRow | undefined> {
  return checkpointRow((await db.query<RawCheckpoint>(`SELECT ${CHECKPOINT_COLUMNS} FROM tlog_checkpoints WHERE origin = $1 AND size = $2`, [origin, size])).rows[0]);
}

export async function insertCheckpoint(client: pg.PoolClient, c: { origin: string; size: number; root: Buffer; text: string }): Promise<void> {
  await client.query('INSERT INTO tlog_checkpoints (origin, size, root, text) VALUES ($1, $2, $3, $4)', [c.origin, c.size, c.root, c.text]);
}

export async function cosignatureLines(db: Db, origin: string, size: number): Promise<string[]> {
  const r = await db.query<{ signature_line: string }>('SELECT signature_line FROM tlog_cosignatures WHERE origin = $1 AND size = $2 ORDER BY witness', [origin, size]);
  return r.rows.map((x) => x.signature_line);
}

/** Records a witness's cosignature line; the first one kept per witness and checkpoint. Returns whether it was new. */
export async function insertCosignature(db: Db, c: { origin: string; size: number; witness: string; line: string }): Promise<boolean> {
  const r = await db.query(
    'INSERT INTO tlog_cosignatures (origin, size, witness, signature_line) VALUES ($1, $2, $3, $4) ON CONFLICT (origin, size, witness) DO NOTHING',
    [c.origin, c.size, c.witness, c.line],
  );
  return (r.rowCount ?? 0) > 0;
}
