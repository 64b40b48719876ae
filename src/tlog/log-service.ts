/**
 * The transparency log (issue 5 "Transparency log"; DESIGN.md invariant 3): an append-only RFC
 * 6962 tree of entries that commit to disclosure stages, signed checkpoints (C2SP
 * tlog-checkpoint, signed-note Ed25519), tiles (C2SP tlog-tiles), proofs and offline proof
 * bundles (C2SP tlog-proof), witness cosignatures (C2SP tlog-witness).
 *
 * Rules held here:
 * - appends happen inside the caller's transaction and are serialised by the tlog_state row
 *   lock, so indexes are consecutive and an entry exists exactly when the caller's change does;
 * - the signer (one at a time, advisory lock) integrates committed entries into the stored tree,
 *   and never signs a checkpoint inconsistent with the last one signed (in the database, and in
 *   the copy kept outside it in dataDir/log-checkpoint);
 * - at start, checkLogAgainstSavedCheckpoint refuses a database whose log is behind or differs
 *   from that saved copy (a restored or rolled-back database is noticed).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { formatCheckpoint, parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import { commitment, decodeEntry, encodeEntry, EntryError, type LogEntry } from './entry.ts';
import {
  consistencyProofRanges, foldRange, hashLeaf, inclusionProofRanges, integrate, integrationNeeds, rangeNodes, EMPTY_ROOT, type Range,
} from './merkle.ts';
import { bundleExtra, formatProofBundle } from './proof-bundle.ts';
import {
  formatNote, generateSigningKey, openNote, parseNote, parseSignatureLine, parseSigningKey, parseVerifierKey, signNote, ALG_COSIGNATURE_V1, type Verifier,
} from './signed-note.ts';
import { encodeEntryBundle, tileExists, TILE_HEIGHT, TILE_WIDTH, type TileRef } from './tiles.ts';
import { LogError } from './log-errors.ts';
import * as repo from './log-repository.ts';

export { commitTo, LOG_STAGES } from './entry.ts';
export type { LogEntry, LogStage } from './entry.ts';

/** The checkpoint kept outside the database, in the data directory. */
export const SAVED_CHECKPOINT_FILE = 'log-checkpoint';
/** The demo's generated log key, in the data directory (0600). */
export const DEMO_LOG_KEY_FILE = 'log-key';
/** The signer's advisory lock (arbitrary, constant; the migrations use 7_202_611). */
const SIGN_LOCK = 7_202_609;
/** Entries integrated per read. */
const INTEGRATE_BATCH = 10_000;

export interface SignedCheckpoint {
  size: number;
  /** The signed note, with any witness cosignature lines. */
  text: string;
}

export interface InclusionProof {
  index: number;
  size: number;
  leaf_hash: string;
  hashes: string[];
  root_hash: string;
}

export interface ConsistencyProof {
  from: number;
  to: number;
  hashes: string[];
  from_root_hash: string;
  to_root_hash: string;
}

export interface TransparencyLog {
  origin: string;
  vkey: string;
  /** Appends inside the caller's transaction (serialised: concurrent appends get consecutive indexes). */
  append(client: pg.PoolClient, entry: LogEntry): Promise<{ index: number }>;
  /**
   * Integrates appended entries into the tree, and signs and stores a new checkpoint when the
   * size grew (or when this origin has none yet); never signs a checkpoint inconsistent with the
   * last signed one; also writes it to the file outside the database. Returns the latest signed
   * checkpoint text.
   */
  sign(): Promise<SignedCheckpoint>;
  /** The latest signed checkpoint whose size > index, or undefined. */
  covering(index: number): Promise<SignedCheckpoint | undefined>;
  /** A C2SP tlog-proof bundle (text) for the entry at index, against the latest checkpoint covering it, with the opening as its extra data. */
  proofBundle(index: number, opening: { salt: string; record: unknown }): Promise<string>;
  /** The latest signed checkpoint of this origin with its cosignatures, or undefined before the first signing. */
  checkpoint(): Promise<SignedCheckpoint | undefined>;
  /** A tile or entry bundle of the latest signed tree, or undefined when it does not exist. */
  tile(ref: TileRef): Promise<Buffer | undefined>;
  /** Inclusion proof of the entry at index in the tree of `size` (default: the latest checkpoint's). */
  inclusionProof(index: number, size?: number): Promise<InclusionProof>;
  /** Consistency proof between two signed tree sizes, 0 < from <= to <= latest. */
  consistencyProof(from: number, to: number): Promise<ConsistencyProof>;
  /** The configured witnesses' verifier keys. */
  readonly witnesses: readonly string[];
  /** Adds a witness cosignature line to the checkpoint of this size, verified against the configured witnesses. */
  addCosignature(size: number, line: string): Promise<{ size: number; witness: string; added: boolean; text: string }>;
}

const b64 = (b: Buffer) => b.toString('base64');

/** MTH of each range, from the stored perfect subtrees (one query for all). */
async function rangeHashes(db: repo.Db, ranges: readonly Range[]): Promise<Buffer[]> {
  const per = ranges.map(([s, e]) => rangeNodes(s, e));
  const nodes = await repo.loadNodes(db, per.flat());
  return per.map((ids) => foldRange(ids.map((id) => {
    const h = nodes.get(`${id.level}/${id.index}`);
    if (!h) throw new LogError('LOG_INCONSISTENT', `tree node ${id.level}/${id.index} is missing`);
    return h;
  })));
}

async function rootAt(db: repo.Db, size: number): Promise<Buffer> {
  return size === 0 ? EMPTY_ROOT : (await rangeHashes(db, [[0, size]]))[0]!;
}

/** Integrates committed entries beyond the stored tree; returns the new tree size. */
async function integrateEntries(client: pg.PoolClient): Promise<number> {
  let size = await repo.treeSize(client);
  for (;;) {
    const rows = await repo.leafHashesFrom(client, size, INTEGRATE_BATCH);
    if (rows.length === 0) return size;
    rows.forEach((r, i) => {
      if (r.idx !== size + i) throw new LogError('LOG_INCONSISTENT', `log entries are not consecutive at index ${size + i}`);
    });
    const newSize = size + rows.length;
    const old = await repo.loadNodes(client, integrationNeeds(size, newSize));
    const nodes = integrate(size, rows.map((r) => r.leaf_hash), (id) => {
      const h = old.get(`${id.level}/${id.index}`);
      if (!h) throw new LogError('LOG_INCONSISTENT', `tree node ${id.level}/${id.index} is missing`);
      return h;
    });
    await repo.insertNodes(client, nodes);
    await repo.setTreeSize(client, newSize);
    size = newSize;
  }
}

function readSavedCheckpoint(dataDir: string): { note: string; checkpoint: Checkpoint } | undefined {
  const path = join(dataDir, SAVED_CHECKPOINT_FILE);
  if (!existsSync(path)) return undefined;
  const note = readFileSync(path, 'utf8');
  try {
    return { note, checkpoint: parseCheckpoint(parseNote(note).text) };
  } catch (e) {
    throw new LogError('LOG_INCONSISTENT', `the saved checkpoint ${path} is malformed: ${(e as Error).message}`);
  }
}

function writeSavedCheckpoint(dataDir: string, note: string): void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, SAVED_CHECKPOINT_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, note, { mode: 0o644 });
  renameSync(tmp, path);
}

/**
 * Checks the tree in the database against a checkpoint signed before: the tree must be at least
 * that large and have that root at that size.
 */
async function checkAgainst(db: repo.Db, treeSizeNow: number, c: { size: number; root: Buffer }, what: string): Promise<void> {
  if (treeSizeNow < c.size) throw new LogError('LOG_ROLLED_BACK', `the database's log has ${treeSizeNow} entries, ${what} covers ${c.size}: was the database restored from an older backup?`);
  if (!(await rootAt(db, c.size)).equals(c.root)) throw new LogError('LOG_INCONSISTENT', `the database's tree at size ${c.size} does not have the root of ${what}`);
}

function withCosignatures(note: string, lines: readonly string[]): string {
  if (lines.length === 0) return note;
  const parsed = parseNote(note);
  return formatNote(parsed.text, [...parsed.signatures.map((s) => s.line), ...lines]);
}

/** Parses IDBIND_LOG_WITNESSES: witness verifier keys separated by commas or whitespace. */
export function loadLogWitnesses(env: NodeJS.ProcessEnv): string[] {
  const raw = env.IDBIND_LOG_WITNESSES ?? '';
  const keys = raw.split(/[\s,]+/).filter((k) => k !== '');
  for (const k of keys) {
    try {
      parseVerifierKey(k);
    } catch (e) {
      throw new LogError('LOG_KEY_INVALID', `IDBIND_LOG_WITNESSES: ${(e as Error).message}`);
    }
  }
  return keys;
}

export function createTransparencyLog(deps: { pool: pg.Pool; dataDir: string; signingKey: string; witnesses?: readonly string[] }): TransparencyLog {
  let signer;
  try {
    signer = parseSigningKey(deps.signingKey);
  } catch (e) {
    throw new LogError('LOG_KEY_INVALID', (e as Error).message);
  }
  const origin = signer.name;
  const witnessKeys = [...(deps.witnesses ?? [])];
  const witnesses: Verifier[] = witnessKeys.map((k) => parseVerifierKey(k));
  const { pool, dataDir } = deps;

  async function latest(): Promise<SignedCheckpoint | undefined> {
    const row = await repo.latestCheckpoint(pool, origin);
    if (!row) return undefined;
    return { size: row.size, text: withCosignatures(row.text, await repo.cosignatureLines(pool, origin, row.size)) };
  }

  async function signedSize(): Promise<number> {
    return (await repo.latestCheckpoint(pool, origin))?.size ?? 0;
  }

  const log: TransparencyLog = {
    origin,
    vkey: signer.vkey,
    witnesses: witnessKeys,

    async append(client, entry) {
      let bytes: Buffer;
      try {
        bytes = encodeEntry(entry);
      } catch (e) {
        if (e instanceof EntryError) throw new LogError('LOG_ENTRY_INVALID', e.message);
        throw e;
      }
      const index = await repo.takeNextIndex(client);
      await repo.insertEntry(client, index, bytes.toString('utf8'), hashLeaf(bytes));
      return { index };
    },

    async sign() {
      const client = await pool.connect();
      let signedNote: string | undefined;
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [SIGN_LOCK]);
        const size = await integrateEntries(client);
        // Never sign a tree that is not an extension of what was signed before, whether the last
        // checkpoint is in the database (any origin: a new key continues the same tree) or only
        // in the copy outside it.
        const last = await repo.latestCheckpoint(client);
        if (last) await checkAgainst(client, size, last, `checkpoint ${last.origin} ${last.size} signed before`);
        const saved = readSavedCheckpoint(dataDir);
        if (saved) await checkAgainst(client, size, { size: saved.checkpoint.size, root: saved.checkpoint.rootHash }, `the saved checkpoint (${SAVED_CHECKPOINT_FILE})`);
        const mine = await repo.latestCheckpoint(client, origin);
        if (!mine || size > mine.size) {
          const root = await rootAt(client, size);
          signedNote = signNote(formatCheckpoint({ origin, size, rootHash: root, extensions: [] }), signer);
          await repo.insertCheckpoint(client, { origin, size, root, text: signedNote });
        }
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
      // Written after the commit: a crash in between leaves the file behind the database, which
      // the start-up check accepts; the other order could leave it ahead and block the start.
      if (signedNote) writeSavedCheckpoint(dataDir, signedNote);
      else {
        // Catch up a copy left behind (or removed) by a crash between a commit and its write.
        const mine = (await repo.latestCheckpoint(pool, origin))!;
        const saved = readSavedCheckpoint(dataDir);
        if (!saved || saved.checkpoint.origin !== origin || saved.checkpoint.size < mine.size) writeSavedCheckpoint(dataDir, mine.text);
      }
      return (await latest())!;
    },

    async covering(index) {
      const cp = await latest();
      return cp && cp.size > index ? cp : undefined;
    },

    checkpoint: latest,

    async proofBundle(index, opening) {
      const cp = await log.covering(index);
      if (!cp) throw new LogError('LOG_NOT_COVERED', `no signed checkpoint covers entry ${index} yet`);
      const text = await repo.entryAt(pool, index);
      if (text === undefined) throw new LogError('LOG_ENTRY_NOT_FOUND');
      const entry = decodeEntry(Buffer.from(text, 'utf8'));
      const salt = Buffer.from(opening.salt, 'base64');
      if (salt.length !== 32 || salt.toString('base64') !== opening.salt || commitment(salt, opening.record) !== entry.commitment) {
        throw new LogError('LOG_OPENING_MISMATCH');
      }
      const proof = await rangeHashes(pool, inclusionProofRanges(index, cp.size));
      return formatProofBundle({ extra: bundleExtra(entry, opening), index, proof, checkpoint: cp.text });
    },

    async tile(ref) {
      const size = await signedSize();
      if (!tileExists(ref, size)) return undefined;
      if (ref.level === 'entries') {
        const texts = await repo.entryTexts(pool, ref.index * TILE_WIDTH, ref.index * TILE_WIDTH + ref.width);
        if (texts.length !== ref.width) return undefined;
        return encodeEntryBundle(texts.map((t) => Buffer.from(t, 'utf8')));
      }
      const hashes = await repo.nodesAt(pool, ref.level * TILE_HEIGHT, ref.index * TILE_WIDTH, ref.width);
      if (hashes.length !== ref.width) return undefined;
      return Buffer.concat(hashes);
    },

    async inclusionProof(index, size) {
      const signed = await signedSize();
      const n = size ?? signed;
      if (!Number.isSafeInteger(index) || !Number.isSafeInteger(n) || index < 0 || index >= n || n > signed) {
        throw new LogError('LOG_PROOF_RANGE', `index must be below size, and size at most ${signed} (the latest checkpoint)`);
      }
      const ranges = inclusionProofRanges(index, n);
      const [leaf, root, ...hashes] = await rangeHashes(pool, [[index, index + 1], [0, n], ...ranges]);
      return { index, size: n, leaf_hash: b64(leaf!), hashes: hashes.map(b64), root_hash: b64(root!) };
    },

    async consistencyProof(from, to) {
      const signed = await signedSize();
      if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || from > to || to > signed) {
        throw new LogError('LOG_PROOF_RANGE', `want 0 < from <= to <= ${signed} (the latest checkpoint)`);
      }
      const [r1, r2, ...hashes] = await rangeHashes(pool, [[0, from], [0, to], ...consistencyProofRanges(from, to)]);
      return { from, to, hashes: hashes.map(b64), from_root_hash: b64(r1!), to_root_hash: b64(r2!) };
    },

    async addCosignature(size, line) {
      const cp = await repo.checkpointAt(pool, origin, size);
      if (!cp) throw new LogError('LOG_CHECKPOINT_NOT_FOUND');
      let sig;
      try {
        sig = parseSignatureLine(line);
      } catch {
        throw new LogError('LOG_WITNESS_REFUSED', 'malformed signature line (want "— name base64")');
      }
      const witness = witnesses.find((w) => w.name === sig.name && w.keyId.equals(sig.keyId));
      if (!witness) throw new LogError('LOG_WITNESS_REFUSED', 'not a signature by a configured witness (IDBIND_LOG_WITNESSES)');
      const body = parseNote(cp.text).text;
      if (!witness.verify(body, sig.signature)) throw new LogError('LOG_WITNESS_REFUSED', `the signature by ${witness.name} does not verify over checkpoint ${size}`);
      if (witness.alg === ALG_COSIGNATURE_V1) {
        // C2SP tlog-cosignature: verifiers MAY reject timestamps in the future (10 minutes of skew allowed).
        const time = Number(sig.signature.readBigUInt64BE(0));
        if (time > Date.now() / 1000 + 600) throw new LogError('LOG_WITNESS_REFUSED', 'the cosignature is dated in the future');
      }
      const added = await repo.insertCosignature(pool, { origin, size, witness: witness.name, line: sig.line });
      return { size, witness: witness.name, added, text: withCosignatures(cp.text, await repo.cosignatureLines(pool, origin, size)) };
    },
  };
  return log;
}

/**
 * At start: refuses (LOG_ROLLED_BACK / LOG_INCONSISTENT) when the database's log is behind or
 * inconsistent with the checkpoint saved in dataDir. No saved checkpoint: nothing to check (a
 * new data directory). A saved checkpoint of the current origin must carry a valid signature by
 * vkey; one of an earlier origin (the key was replaced, docs/tlog.md) is compared by size and
 * root only.
 */
export async function checkLogAgainstSavedCheckpoint(pool: pg.Pool, dataDir: string, vkey: string): Promise<void> {
  const saved = readSavedCheckpoint(dataDir);
  if (!saved) return;
  const verifier = parseVerifierKey(vkey);
  if (saved.checkpoint.origin === verifier.name) {
    try {
      openNote(saved.note, [verifier]);
    } catch (e) {
      throw new LogError('LOG_INCONSISTENT', `the saved checkpoint's signature does not verify with the log key: ${(e as Error).message}`);
    }
  }
  await checkAgainst(pool, await repo.treeSize(pool), { size: saved.checkpoint.size, root: saved.checkpoint.rootHash }, `the checkpoint saved in ${join(dataDir, SAVED_CHECKPOINT_FILE)}`);
}

/** The default origin: the public URL without its scheme and trailing slashes (C2SP tlog-tiles "Parameters"). */
export function defaultLogOrigin(publicUrl: string): string {
  return publicUrl.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
}

/**
 * The log signing key: IDBIND_LOG_KEY (the PRIVATE+KEY string), else in demo/test mode a key
 * generated once into dataDir/log-key (0600); production without it: a clear error. Origin (the
 * key name): IDBIND_LOG_ORIGIN, default the public URL without its scheme.
 */
export function loadLogKey(config: { mode: 'demo' | 'production'; dataDir: string; publicUrl: string; env: NodeJS.ProcessEnv }): string {
  const originEnv = config.env.IDBIND_LOG_ORIGIN && config.env.IDBIND_LOG_ORIGIN !== '' ? config.env.IDBIND_LOG_ORIGIN : undefined;
  const check = (skey: string, source: string): string => {
    let name: string;
    try {
      name = parseSigningKey(skey).name;
    } catch (e) {
      throw new LogError('LOG_KEY_INVALID', `${source}: ${(e as Error).message} (want PRIVATE+KEY+<origin>+<hash>+<key>, from \`idbind log generate-key\`)`);
    }
    if (originEnv !== undefined && name !== originEnv) throw new LogError('LOG_KEY_INVALID', `${source}: the key name ${name} is not IDBIND_LOG_ORIGIN (the key name is the log origin)`);
    return skey;
  };
  const given = config.env.IDBIND_LOG_KEY;
  if (given && given !== '') return check(given.trim(), 'IDBIND_LOG_KEY');
  const file = join(config.dataDir, DEMO_LOG_KEY_FILE);
  if (config.mode !== 'demo') {
    throw new LogError('LOG_KEY_MISSING', 'set IDBIND_LOG_KEY to the log signing key (make one with `idbind log generate-key --origin <origin>`); see docs/tlog.md');
  }
  if (existsSync(file)) return check(readFileSync(file, 'utf8').trim(), file);
  const origin = originEnv ?? defaultLogOrigin(config.publicUrl);
  let skey: string;
  try {
    skey = generateSigningKey(origin).skey;
  } catch (e) {
    throw new LogError('LOG_KEY_INVALID', `cannot name a log key after the origin ${JSON.stringify(origin)}: ${(e as Error).message}; set IDBIND_LOG_ORIGIN`);
  }
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(file, `${skey}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return skey;
}
