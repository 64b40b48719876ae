/**
 * The log's HTTP routes in-process (fastify inject) on a real PostgreSQL: the checkpoint and vkey
 * as text, tiles and entry bundles as octet streams with immutable caching, JSON proofs that
 * verify, and the admin witness endpoint refusing an invalid cosignature.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, sign as edSign } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { errorHandler, notFoundHandler } from '../kernel/http/problem.ts';
import { adminGuard } from '../kernel/http/admin-auth.ts';
import { commitTo, createTransparencyLog, type TransparencyLog } from './log-service.ts';
import { logRoutes } from './log-routes.ts';
import { ALG_COSIGNATURE_V1, formatVerifierKey, generateSigningKey, keyId, openNote, parseSigningKey, parseVerifierKey } from './signed-note.ts';
import { parseCheckpoint } from './checkpoint.ts';
import { MemoryTree, hashLeaf, verifyConsistency, verifyInclusion } from './merkle.ts';
import { decodeEntryBundle, decodeTile } from './tiles.ts';

const ADMIN = 'a'.repeat(40);
const KEY = generateSigningKey('hub.example');
const W = generateSigningKey('witness.example');
const wSeed = Buffer.from(W.skey.split('+').slice(4).join('+'), 'base64').subarray(1);
const wPriv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), wSeed]), format: 'der', type: 'pkcs8' });
const wPub = parseVerifierKey(parseSigningKey(W.skey).vkey).publicKey;
const WITNESS_VKEY = formatVerifierKey('witness.example', wPub, ALG_COSIGNATURE_V1);

let db: TestDatabase;
let dir: string;
let log: TransparencyLog;
let app: FastifyInstance;
let entries: Buffer[];

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-tlog-http-'));
  log = createTransparencyLog({ pool: db.pool, dataDir: dir, signingKey: KEY.skey, witnesses: [WITNESS_VKEY] });
  const c = await db.pool.connect();
  await c.query('BEGIN');
  for (let i = 0; i < 260; i++) {
    await log.append(c, { stage: 'submitted', authority: 'Police', timestamp: '2026-02-03T04:05:06Z', commitment: commitTo({ i }).commitment });
  }
  await c.query('COMMIT');
  c.release();
  await log.sign();
  entries = (await db.pool.query<{ entry: string }>('SELECT entry FROM tlog_entries ORDER BY idx')).rows.map((r) => Buffer.from(r.entry));
  app = Fastify();
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  await app.register(fastifySwagger, { openapi: { openapi: '3.1.0', info: { title: 'idbind', version: 'test' }, components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } } } } });
  await app.register(async (scope) => logRoutes(scope, { log, pool: db.pool, adminGuard: adminGuard(ADMIN) }));
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('log routes', () => {
  it('are described in the OpenAPI document, proofs with their JSON schemas', () => {
    const doc = app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }> }>> };
    for (const p of ['/log/checkpoint', '/log/vkey', '/v1/log/proof/inclusion', '/v1/log/proof/consistency', '/v1/log/witness']) expect(Object.keys(doc.paths), p).toContain(p);
    const inclusion = doc.paths['/v1/log/proof/inclusion']!.get!.responses['200']!.content!['application/json']!.schema;
    expect(Object.keys(inclusion.properties ?? {})).toEqual(['index', 'size', 'leaf_hash', 'hashes', 'root_hash']);
    const consistency = doc.paths['/v1/log/proof/consistency']!.get!.responses['200']!.content!['application/json']!.schema;
    expect(Object.keys(consistency.properties ?? {})).toEqual(['from', 'to', 'hashes', 'from_root_hash', 'to_root_hash']);
  });

  it('serves the signed checkpoint and the vkey as text', async () => {
    const vkey = await app.inject({ url: '/log/vkey' });
    expect(vkey.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(vkey.body).toBe(`${KEY.vkey}\n`);
    const cp = await app.inject({ url: '/log/checkpoint' });
    expect(cp.statusCode).toBe(200);
    expect(cp.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(cp.headers['cache-control']).toBe('no-cache');
    const body = parseCheckpoint(openNote(cp.body, [parseVerifierKey(vkey.body.trim())]).text);
    expect(body).toMatchObject({ origin: 'hub.example', size: 260 });
    expect(body.rootHash).toEqual(new MemoryTree(entries.map(hashLeaf)).root());
  });

  it('serves tiles and entry bundles (C2SP tlog-tiles), full ones immutable', async () => {
    const full = await app.inject({ url: '/log/tile/0/000' });
    expect(full.statusCode).toBe(200);
    expect(full.headers['content-type']).toBe('application/octet-stream');
    expect(full.headers['cache-control']).toContain('immutable');
    expect(decodeTile(full.rawPayload, 256)).toEqual(entries.slice(0, 256).map(hashLeaf));
    const partial = await app.inject({ url: '/log/tile/0/001.p/4' });
    expect(decodeTile(partial.rawPayload, 4)).toEqual(entries.slice(256).map(hashLeaf));
    const level1 = await app.inject({ url: '/log/tile/1/000.p/1' });
    expect(decodeTile(level1.rawPayload, 1)).toEqual([new MemoryTree(entries.map(hashLeaf)).rangeHash(0, 256)]);
    const bundle = await app.inject({ url: '/log/tile/entries/001.p/4' });
    expect(bundle.headers['content-type']).toBe('application/octet-stream');
    expect(decodeEntryBundle(bundle.rawPayload)).toEqual(entries.slice(256));
    expect(decodeEntryBundle((await app.inject({ url: '/log/tile/entries/000' })).rawPayload)).toHaveLength(256);
    for (const missing of ['/log/tile/0/001', '/log/tile/0/001.p/5', '/log/tile/0/1', '/log/tile/2/000.p/1', '/log/tile/0/x000/000']) {
      const r = await app.inject({ url: missing });
      expect(r.statusCode, missing).toBe(404);
      expect(r.json()).toMatchObject({ code: 'NOT_FOUND' });
    }
  });

  it('answers inclusion and consistency proofs as JSON that verify', async () => {
    const inc = (await app.inject({ url: '/v1/log/proof/inclusion?index=257&size=260' })).json() as { hashes: string[]; root_hash: string; leaf_hash: string; size: number };
    expect(Buffer.from(inc.leaf_hash, 'base64')).toEqual(hashLeaf(entries[257]!));
    verifyInclusion(257, 260, hashLeaf(entries[257]!), inc.hashes.map((h) => Buffer.from(h, 'base64')), Buffer.from(inc.root_hash, 'base64'));
    const latest = (await app.inject({ url: '/v1/log/proof/inclusion?index=3' })).json() as { size: number };
    expect(latest.size).toBe(260);
    const con = (await app.inject({ url: '/v1/log/proof/consistency?from=100&to=260' })).json() as { hashes: string[]; from_root_hash: string; to_root_hash: string };
    const tree = new MemoryTree(entries.map(hashLeaf));
    expect(Buffer.from(con.from_root_hash, 'base64')).toEqual(tree.root(100));
    verifyConsistency(100, 260, con.hashes.map((h) => Buffer.from(h, 'base64')), tree.root(100), tree.root(260));
    expect((await app.inject({ url: '/v1/log/proof/inclusion?index=260' })).json()).toMatchObject({ code: 'LOG_PROOF_RANGE', status: 400 });
    expect((await app.inject({ url: '/v1/log/proof/consistency?from=10&to=261' })).json()).toMatchObject({ code: 'LOG_PROOF_RANGE' });
    expect((await app.inject({ url: '/v1/log/proof/inclusion?index=x' })).json()).toMatchObject({ code: 'REQUEST_INVALID' });
  });

  it('adds a witness cosignature for the admin, publishes it with the checkpoint, and refuses an invalid one', async () => {
    const cp = (await app.inject({ url: '/log/checkpoint' })).body;
    const text = cp.slice(0, cp.indexOf('\n\n') + 1);
    const t = Math.floor(Date.now() / 1000);
    const time = Buffer.alloc(8);
    time.writeBigUInt64BE(BigInt(t));
    const line = (msg: string) => `— witness.example ${Buffer.concat([keyId('witness.example', ALG_COSIGNATURE_V1, wPub), time, edSign(null, Buffer.from(`cosignature/v1\ntime ${t}\n${msg}`), wPriv)]).toString('base64')}`;
    const auth = { authorization: `Bearer ${ADMIN}` };
    expect((await app.inject({ method: 'POST', url: '/v1/log/witness', payload: { size: 260, signature: line(text) } })).statusCode).toBe(401);
    const bad = await app.inject({ method: 'POST', url: '/v1/log/witness', headers: auth, payload: { size: 260, signature: line(text.replace('260', '259')) } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'LOG_WITNESS_REFUSED' });
    const unknown = generateSigningKey('witness.example');
    const forged = `— witness.example ${Buffer.concat([parseSigningKey(unknown.skey).keyId, parseSigningKey(unknown.skey).sign(Buffer.from(text))]).toString('base64')}`;
    expect((await app.inject({ method: 'POST', url: '/v1/log/witness', headers: auth, payload: { size: 260, signature: forged } })).json()).toMatchObject({ code: 'LOG_WITNESS_REFUSED' });
    expect((await app.inject({ method: 'POST', url: '/v1/log/witness', headers: auth, payload: { size: 7, signature: line(text) } })).json()).toMatchObject({ code: 'LOG_CHECKPOINT_NOT_FOUND' });
    const ok = await app.inject({ method: 'POST', url: '/v1/log/witness', headers: auth, payload: { size: 260, signature: line(text) } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ size: 260, witness: 'witness.example', added: true });
    const published = (await app.inject({ url: '/log/checkpoint' })).body;
    expect(published).toBe(`${cp}${line(text)}\n`);
    expect(openNote(published, [parseVerifierKey(WITNESS_VKEY)]).verifiedBy).toEqual(['witness.example']);
    expect((await app.inject({ method: 'POST', url: '/v1/log/witness', headers: auth, payload: { size: 260, signature: line(text) } })).json()).toMatchObject({ added: false });
  });
});
