/**
 * The transparency log on a real PostgreSQL: appends in the caller's transaction (concurrent
 * appends get consecutive indexes, a rolled-back one leaves no gap), signing (only when the tree
 * grew, each checkpoint consistent with the previous), proof bundles that verify offline, tiles
 * that match the tree, witness cosignatures, and the refusal of a rolled-back or inconsistent
 * database against the checkpoint saved outside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, sign as edSign } from 'node:crypto';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { checkLogAgainstSavedCheckpoint, commitTo, createTransparencyLog, loadLogKey, type LogEntry, type TransparencyLog } from './log-service.ts';
import { generateSigningKey, formatVerifierKey, keyId, openNote, parseSigningKey, parseVerifierKey, ALG_COSIGNATURE_V1 } from './signed-note.ts';
import { parseCheckpoint } from './checkpoint.ts';
import { verifyProofBundle } from './proof-bundle.ts';
import { MemoryTree, hashLeaf, verifyConsistency, verifyInclusion } from './merkle.ts';
import { decodeEntryBundle, decodeTile } from './tiles.ts';
import { LogError } from './log-errors.ts';

const ORIGIN = 'hub.example/log';
const KEY = generateSigningKey(ORIGIN);
let db: TestDatabase;
let dir: string;
let log: TransparencyLog;

function entry(i: number, commitment = commitTo({ i }).commitment): LogEntry {
  return { stage: 'submitted', authority: `Authority ${i % 3}`, timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), commitment };
}

async function inTx<T>(pool: pg.Pool, f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const r = await f(c);
    await c.query('COMMIT');
    return r;
  } catch (e) {
    await c.query('ROLLBACK');
    throw e;
  } finally {
    c.release();
  }
}

async function appendMany(l: TransparencyLog, pool: pg.Pool, entries: LogEntry[]): Promise<void> {
  await inTx(pool, async (c) => {
    for (const e of entries) await l.append(c, e);
  });
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof LogError ? e.code : String(e);
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-tlog-'));
  log = createTransparencyLog({ pool: db.pool, dataDir: dir, signingKey: KEY.skey });
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('transparency log', () => {
  it('signs an empty log once, then a checkpoint only when the tree grew, each consistent with the one before', async () => {
    const empty = await log.sign();
    expect(empty.size).toBe(0);
    expect(parseCheckpoint(openNote(empty.text, [parseVerifierKey(KEY.vkey)]).text)).toMatchObject({ origin: ORIGIN, size: 0 });
    expect((await log.sign()).text).toBe(empty.text);
    expect(readFileSync(join(dir, 'log-checkpoint'), 'utf8')).toBe(empty.text);

    await appendMany(log, db.pool, [entry(0), entry(1), entry(2)]);
    const three = await log.sign();
    expect(three.size).toBe(3);
    await appendMany(log, db.pool, [entry(3), entry(4)]);
    const five = await log.sign();
    expect(five.size).toBe(5);
    expect(readFileSync(join(dir, 'log-checkpoint'), 'utf8')).toBe(five.text);
    const [c3, c5] = [three, five].map((c) => parseCheckpoint(openNote(c.text, [parseVerifierKey(KEY.vkey)]).text));
    const proof = await log.consistencyProof(3, 5);
    verifyConsistency(3, 5, proof.hashes.map((h) => Buffer.from(h, 'base64')), c3!.rootHash, c5!.rootHash);
    // The signed root is the RFC 6962 root of the entries' canonical bytes.
    const rows = (await db.pool.query<{ entry: string }>('SELECT entry FROM tlog_entries ORDER BY idx')).rows;
    expect(c5!.rootHash).toEqual(new MemoryTree(rows.map((r) => hashLeaf(Buffer.from(r.entry)))).root());
    expect(await log.covering(4)).toEqual(five);
    expect(await log.covering(5)).toBeUndefined();
  });

  it('catches up the saved copy when it fell behind (a crash between a commit and its write)', async () => {
    const { writeFileSync } = await import('node:fs');
    const latest = await log.sign();
    const older = (await db.pool.query<{ text: string }>('SELECT text FROM tlog_checkpoints WHERE size = 3')).rows[0]!.text;
    writeFileSync(join(dir, 'log-checkpoint'), older);
    expect((await log.sign()).text).toBe(latest.text);
    expect(readFileSync(join(dir, 'log-checkpoint'), 'utf8')).toBe(latest.text);
  });

  it('stores only the entry fields: no other field is accepted', async () => {
    const bad = { ...entry(9), name: 'Nguyen Van A' } as unknown as LogEntry;
    expect(await code(inTx(db.pool, (c) => log.append(c, bad)))).toBe('LOG_ENTRY_INVALID');
    expect(await code(inTx(db.pool, (c) => log.append(c, { ...entry(9), commitment: 'not hex' })))).toBe('LOG_ENTRY_INVALID');
    const cols = (await db.pool.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_name = 'tlog_entries' ORDER BY ordinal_position")).rows.map((r) => r.column_name);
    expect(cols).toEqual(['idx', 'entry', 'leaf_hash', 'created_at']);
  });

  it('gives concurrent appends consecutive indexes, and a rolled-back append leaves no gap', async () => {
    const before = (await log.sign()).size;
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => inTx(db.pool, async (c) => {
      const r = await log.append(c, entry(100 + i));
      await new Promise((res) => setTimeout(res, 5));
      if (i % 4 === 3) throw new Error('caller rolls back');
      return r.index;
    })));
    const indexes = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])).sort((a, b) => a - b);
    expect(indexes).toEqual(Array.from({ length: 9 }, (_, i) => before + i));
    const stored = (await db.pool.query<{ idx: string }>('SELECT idx FROM tlog_entries ORDER BY idx')).rows.map((r) => Number(r.idx));
    expect(stored).toEqual(Array.from({ length: before + 9 }, (_, i) => i));
    expect((await log.sign()).size).toBe(before + 9);
  });

  it('signs once per size when signers race (one signer at a time), each answer a checkpoint of the full tree', async () => {
    await appendMany(log, db.pool, [entry(200), entry(201), entry(202)]);
    const size = Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM tlog_entries')).rows[0]!.n);
    const other = createTransparencyLog({ pool: db.pool, dataDir: dir, signingKey: KEY.skey });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? other : log).sign()));
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect(results[0]!.size).toBe(size);
    const rows = (await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM tlog_checkpoints WHERE size = $1', [size])).rows;
    expect(Number(rows[0]!.n)).toBe(1);
    const nodes = (await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM tlog_nodes WHERE level = 0')).rows;
    expect(Number(nodes[0]!.n)).toBe(size);
  });

  it('hands out proof bundles that verify offline, and refuses an opening that does not match', async () => {
    const record = { request: 'r-42', stage: 'approved', reasons: 'theft', seal_until: null };
    const { salt, commitment } = commitTo(record);
    const index = await inTx(db.pool, async (c) => (await log.append(c, { ...entry(7), stage: 'approved', commitment })).index);
    expect(await code(log.proofBundle(index, { salt, record }))).toBe('LOG_NOT_COVERED');
    await log.sign();
    const bundle = await log.proofBundle(index, { salt, record });
    const v = verifyProofBundle(bundle, parseVerifierKey(KEY.vkey));
    expect(v).toMatchObject({ index, entry: { stage: 'approved', commitment }, opening: { salt, record } });
    expect(await code(log.proofBundle(index, { salt, record: { ...record, reasons: 'other' } }))).toBe('LOG_OPENING_MISMATCH');
    const inc = await log.inclusionProof(index);
    verifyInclusion(index, inc.size, Buffer.from(inc.leaf_hash, 'base64'), inc.hashes.map((h) => Buffer.from(h, 'base64')), Buffer.from(inc.root_hash, 'base64'));
    expect(await code(log.inclusionProof(index, inc.size + 1))).toBe('LOG_PROOF_RANGE');
    expect(await code(log.consistencyProof(0, 2))).toBe('LOG_PROOF_RANGE');
  });

  it('serves tiles and entry bundles that match the tree (C2SP tlog-tiles)', async () => {
    const size = (await log.sign()).size;
    await appendMany(log, db.pool, Array.from({ length: 300 - size }, (_, i) => entry(1000 + i)));
    expect((await log.sign()).size).toBe(300);
    const rows = (await db.pool.query<{ entry: string }>('SELECT entry FROM tlog_entries ORDER BY idx')).rows.map((r) => Buffer.from(r.entry));
    const tree = new MemoryTree(rows.map(hashLeaf));
    const full = await log.tile({ level: 0, index: 0, width: 256 });
    expect(decodeTile(full!, 256)).toEqual(rows.slice(0, 256).map(hashLeaf));
    expect(decodeTile((await log.tile({ level: 0, index: 1, width: 44 }))!, 44)).toEqual(rows.slice(256).map(hashLeaf));
    expect(decodeTile((await log.tile({ level: 1, index: 0, width: 1 }))!, 1)).toEqual([tree.rangeHash(0, 256)]);
    expect(decodeEntryBundle((await log.tile({ level: 'entries', index: 1, width: 44 }))!)).toEqual(rows.slice(256));
    expect(await log.tile({ level: 0, index: 1, width: 256 })).toBeUndefined();
    expect(await log.tile({ level: 0, index: 1, width: 45 })).toBeUndefined();
    expect(await log.tile({ level: 2, index: 0, width: 1 })).toBeUndefined();
  });

  it('is append-only in the database', async () => {
    await expect(db.pool.query("UPDATE tlog_entries SET entry = '{}' WHERE idx = 0")).rejects.toThrow(/append-only/);
    await expect(db.pool.query('DELETE FROM tlog_checkpoints')).rejects.toThrow(/append-only/);
  });

  it('accepts a configured witness cosignature (cosignature/v1) and refuses others', async () => {
    const w = generateSigningKey('witness.example');
    const seed = Buffer.from(w.skey.split('+').slice(4).join('+'), 'base64').subarray(1);
    const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
    const pub = parseVerifierKey(parseSigningKey(w.skey).vkey).publicKey;
    const wlog = createTransparencyLog({ pool: db.pool, dataDir: dir, signingKey: KEY.skey, witnesses: [formatVerifierKey('witness.example', pub, ALG_COSIGNATURE_V1)] });
    const cp = await wlog.sign();
    const body = cp.text.slice(0, cp.text.indexOf('\n\n') + 1);
    const cosign = (text: string, t = Math.floor(Date.now() / 1000)) => {
      const time = Buffer.alloc(8);
      time.writeBigUInt64BE(BigInt(t));
      const sig = edSign(null, Buffer.from(`cosignature/v1\ntime ${t}\n${text}`), priv);
      return `— witness.example ${Buffer.concat([keyId('witness.example', ALG_COSIGNATURE_V1, pub), time, sig]).toString('base64')}`;
    };
    expect(await code(wlog.addCosignature(cp.size, cosign(body.replace(/\n\d+\n/, '\n1\n'))))).toBe('LOG_WITNESS_REFUSED');
    expect(await code(wlog.addCosignature(cp.size, cosign(body, Math.floor(Date.now() / 1000) + 86_400)))).toBe('LOG_WITNESS_REFUSED');
    expect(await code(log.addCosignature(cp.size, cosign(body)))).toBe('LOG_WITNESS_REFUSED');
    expect(await code(wlog.addCosignature(cp.size + 1, cosign(body)))).toBe('LOG_CHECKPOINT_NOT_FOUND');
    const added = await wlog.addCosignature(cp.size, cosign(body));
    expect(added).toMatchObject({ size: cp.size, witness: 'witness.example', added: true });
    const published = (await wlog.checkpoint())!.text;
    expect(published).toContain('\n— witness.example ');
    expect(openNote(published, [parseVerifierKey(KEY.vkey)]).verifiedBy).toEqual([ORIGIN]);
    expect(openNote(published, [parseVerifierKey(wlog.witnesses[0]!)]).verifiedBy).toEqual(['witness.example']);
  });
});

describe('the checkpoint saved outside the database', () => {
  it('passes the start-up check for the database that signed it', async () => {
    await expect(checkLogAgainstSavedCheckpoint(db.pool, dir, KEY.vkey)).resolves.toBeUndefined();
  });

  it('refuses a database restored from an older backup (rolled back), and will not sign over it', async () => {
    const restored = await createTestDatabase();
    try {
      // The "backup": the same first 200 entries, nothing after.
      const rows = (await db.pool.query<{ entry: string }>('SELECT entry FROM tlog_entries WHERE idx < 200 ORDER BY idx')).rows;
      const old = createTransparencyLog({ pool: restored.pool, dataDir: mkdtempSync(join(tmpdir(), 'idbind-tlog-old-')), signingKey: KEY.skey });
      await appendMany(old, restored.pool, rows.map((r) => JSON.parse(r.entry) as LogEntry));
      await old.sign();
      expect(await code(checkLogAgainstSavedCheckpoint(restored.pool, dir, KEY.vkey))).toBe('LOG_ROLLED_BACK');
      const same = createTransparencyLog({ pool: restored.pool, dataDir: dir, signingKey: KEY.skey });
      expect(await code(same.sign())).toBe('LOG_ROLLED_BACK');
    } finally {
      await restored.drop();
    }
  });

  it('refuses a database whose log differs from the saved checkpoint (inconsistent), and will not sign over it', async () => {
    const other = await createTestDatabase();
    try {
      const n = Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM tlog_entries')).rows[0]!.n);
      const rows = (await db.pool.query<{ entry: string }>('SELECT entry FROM tlog_entries ORDER BY idx')).rows.map((r) => JSON.parse(r.entry) as LogEntry);
      rows[5] = { ...rows[5]!, authority: 'Someone else' };
      const forged = createTransparencyLog({ pool: other.pool, dataDir: mkdtempSync(join(tmpdir(), 'idbind-tlog-forged-')), signingKey: KEY.skey });
      await appendMany(forged, other.pool, rows);
      expect((await forged.sign()).size).toBe(n);
      expect(await code(checkLogAgainstSavedCheckpoint(other.pool, dir, KEY.vkey))).toBe('LOG_INCONSISTENT');
      const same = createTransparencyLog({ pool: other.pool, dataDir: dir, signingKey: KEY.skey });
      expect(await code(same.sign())).toBe('LOG_INCONSISTENT');
    } finally {
      await other.drop();
    }
  });

  it('refuses a saved checkpoint whose signature does not verify with the log key', async () => {
    const fake = generateSigningKey(ORIGIN);
    expect(await code(checkLogAgainstSavedCheckpoint(db.pool, dir, fake.vkey))).toBe('LOG_INCONSISTENT');
  });
});

describe('loadLogKey', () => {
  it('generates a demo key once, 0600, named after the public URL without its scheme', () => {
    const d = mkdtempSync(join(tmpdir(), 'idbind-tlog-key-'));
    try {
      const k = loadLogKey({ mode: 'demo', dataDir: d, publicUrl: 'http://127.0.0.1:8080', env: {} });
      expect(parseSigningKey(k).name).toBe('127.0.0.1:8080');
      expect(statSync(join(d, 'log-key')).mode & 0o777).toBe(0o600);
      expect(loadLogKey({ mode: 'demo', dataDir: d, publicUrl: 'http://other:1', env: {} })).toBe(k);
      expect(parseSigningKey(loadLogKey({ mode: 'demo', dataDir: mkdtempSync(join(tmpdir(), 'idbind-tlog-key-')), publicUrl: 'https://hub.example/', env: { IDBIND_LOG_ORIGIN: 'hub.example/log' } })).name).toBe('hub.example/log');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('takes IDBIND_LOG_KEY, and fails closed in production without it or with a bad one', () => {
    const d = mkdtempSync(join(tmpdir(), 'idbind-tlog-key-'));
    expect(loadLogKey({ mode: 'production', dataDir: d, publicUrl: 'https://hub.example', env: { IDBIND_LOG_KEY: KEY.skey } })).toBe(KEY.skey);
    expect(() => loadLogKey({ mode: 'production', dataDir: d, publicUrl: 'https://hub.example', env: {} })).toThrow(/IDBIND_LOG_KEY/);
    expect(existsSync(join(d, 'log-key'))).toBe(false);
    expect(() => loadLogKey({ mode: 'production', dataDir: d, publicUrl: 'https://hub.example', env: { IDBIND_LOG_KEY: 'PRIVATE+KEY+x' } })).toThrow(LogError);
    expect(() => loadLogKey({ mode: 'production', dataDir: d, publicUrl: 'https://hub.example', env: { IDBIND_LOG_KEY: KEY.skey, IDBIND_LOG_ORIGIN: 'elsewhere.example' } })).toThrow(/origin/i);
  });
});
