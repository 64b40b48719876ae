import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { createProvider } from '../../providers/provider-service.ts';
import { AppError } from '../errors.ts';
import { createHash, randomBytes } from 'node:crypto';
import { canonicalRequestJson, requestHash, runIdempotent, storedKey } from './idempotency.ts';
import { hitLimits } from '../db/rate-counters.ts';

let db: TestDatabase;
let providerId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  providerId = (await createProvider(db.pool, db.ring, { allowLoopback: false }, { name: 'Idem', kind: 'platform' })).provider.id;
});
afterAll(async () => db.drop());

/** The current blind-index key, under which records are stored. */
const bidx = () => db.ring.currentBlindIndex;

describe('runIdempotent', () => {
  it('runs the work once for many concurrent requests with one key', async () => {
    const key = randomUUID();
    let runs = 0;
    const scope = { providerId, key, route: 'POST /x', body: { a: 1 }, keys: db.ring.blindIndex };
    const work = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 50));
      return { status: 201, body: { n: runs } };
    };
    const settled = await Promise.allSettled(Array.from({ length: 8 }, () => runIdempotent(db.pool, scope, work)));
    expect(runs).toBe(1);
    const ok = settled.filter((s) => s.status === 'fulfilled');
    const inUse = settled.filter((s) => s.status === 'rejected' && (s.reason as AppError).code === 'IDEMPOTENCY_KEY_IN_USE');
    expect(ok.length + inUse.length).toBe(8);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    const after = await runIdempotent(db.pool, scope, work);
    expect(after).toEqual({ status: 201, body: { n: 1 }, replayed: true });
    expect(runs).toBe(1);
  });

  it('fingerprints the body with its members sorted (arrays in order): member order is the same request, a value or element order is not', async () => {
    const first = { account_ref: 'a-1', phone: '0912345678', nested: { z: [1, { y: 2, x: 3 }], a: null } };
    const reordered = JSON.parse('{"nested": {"a": null, "z": [1, {"x": 3, "y": 2}]}, "phone": "0912345678", "account_ref": "a-1"}') as unknown;
    expect(requestHash('POST /x', reordered, bidx()).equals(requestHash('POST /x', first, bidx()))).toBe(true);
    expect(canonicalRequestJson(reordered)).toBe('{"account_ref":"a-1","nested":{"a":null,"z":[1,{"x":3,"y":2}]},"phone":"0912345678"}');
    for (const other of [
      { ...first, phone: '+84912345678' }, // the same number in another form: another request text
      { ...first, nested: { z: [{ y: 2, x: 3 }, 1], a: null } }, // array order is meaning
      { account_ref: 'a-1', phone: '0912345678' },
    ]) expect(requestHash('POST /x', other, bidx()).equals(requestHash('POST /x', first, bidx()))).toBe(false);
    expect(requestHash('POST /y', first, bidx()).equals(requestHash('POST /x', first, bidx()))).toBe(false);

    const key = randomUUID();
    let runs = 0;
    const work = async () => ({ status: 201, body: { n: ++runs } });
    await runIdempotent(db.pool, { providerId, key, route: 'POST /x', body: first, keys: db.ring.blindIndex }, work);
    const replay = await runIdempotent(db.pool, { providerId, key, route: 'POST /x', body: reordered, keys: db.ring.blindIndex }, work);
    expect(replay).toEqual({ status: 201, body: { n: 1 }, replayed: true });
    await expect(runIdempotent(db.pool, { providerId, key, route: 'POST /x', body: { ...first, phone: '0912345679' }, keys: db.ring.blindIndex }, work))
      .rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(runs).toBe(1);
  });

  it('forgets answers a retry should not see again (server errors, rate limits)', async () => {
    const scope = { providerId, key: randomUUID(), route: 'POST /x', body: {}, keys: db.ring.blindIndex };
    await expect(runIdempotent(db.pool, scope, async () => {
      throw new AppError('RATE_LIMITED', { status: 429, title: 't' });
    })).rejects.toThrow();
    const again = await runIdempotent(db.pool, scope, async () => ({ status: 200, body: 'ok' }));
    expect(again).toEqual({ status: 200, body: 'ok', replayed: false });
  });
});

describe('hitLimits', () => {
  it('counts exactly under concurrency and names the first limit exceeded', async () => {
    const bucket = `t:${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 40 }, () => hitLimits(db.pool, [{ bucket, windowSeconds: 3600, max: 25, label: 'test' }])));
    expect(results.filter((r) => r === undefined)).toHaveLength(25);
    const refused = results.filter((r) => r !== undefined);
    expect(refused).toHaveLength(15);
    expect(refused[0]).toMatchObject({ label: 'test', max: 25 });
    expect(refused[0]!.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused[0]!.retryAfterSeconds).toBeLessThanOrEqual(3600);
  });
});

describe('an abandoned first request', () => {
  it('lets a retry take the key over once the first has run longer than any request can', async () => {
    const scope = { providerId, key: randomUUID(), route: 'POST /x', body: {}, keys: db.ring.blindIndex };
    const hash = requestHash('POST /x', {}, bidx());
    await db.pool.query(`INSERT INTO idempotency_keys (provider_id, key, route, request_hash, created_at) VALUES ($1, $2, $3, $4, now() - interval '2 minutes')`,
      [scope.providerId, storedKey(scope.providerId, scope.key, bidx()), scope.route, hash]);
    const r = await runIdempotent(db.pool, scope, async () => ({ status: 201, body: 'again' }));
    expect(r).toEqual({ status: 201, body: 'again', replayed: false });
    await db.pool.query(`INSERT INTO idempotency_keys (provider_id, key, route, request_hash) VALUES ($1, $2, $3, $4)`, [scope.providerId, storedKey(scope.providerId, 'fresh-' + scope.key, bidx()), scope.route, hash]);
    await expect(runIdempotent(db.pool, { ...scope, key: 'fresh-' + scope.key }, async () => ({ status: 201, body: 'x' }))).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE' });
  });
});

describe('what is stored', () => {
  it('keeps neither the key nor the request as sent: a key and a body naming a number are blind indexes', async () => {
    const key = 'verify-0912345678';
    await runIdempotent(db.pool, { providerId, key, route: 'POST /x', body: { phone: '0912345678' }, keys: db.ring.blindIndex }, async () => ({ status: 201, body: { ok: true } }));
    const rows = await db.pool.query<{ key: string; request_hash: Buffer }>('SELECT key, request_hash FROM idempotency_keys WHERE provider_id = $1 AND key LIKE $2', [providerId, `${bidx().version}:%`]);
    expect(rows.rows.map((r) => r.key)).toContain(storedKey(providerId, key, bidx()));
    const all = (await db.pool.query<{ r: string }>('SELECT t::text AS r FROM idempotency_keys t')).rows.map((r) => r.r).join('\n');
    expect(all).not.toContain('912345678');
    // Not the unkeyed SHA-256 of the request either, which trying every number would undo.
    const unkeyed = createHash('sha256').update('POST /x').update('\u0000').update(canonicalRequestJson({ phone: '0912345678' })).digest();
    expect(rows.rows.some((r) => r.request_hash.equals(unkeyed))).toBe(false);
  });

  it('replays a request stored under the previous blind-index version, and one stored before keys were hashed (the upgrade)', async () => {
    const older = { version: 900, key: randomBytes(32), nameRule: 2 as const };
    const key = randomUUID();
    let runs = 0;
    const work = async () => ({ status: 201, body: { n: ++runs } });
    // Stored while `older` was current.
    await runIdempotent(db.pool, { providerId, key, route: 'POST /x', body: { a: 1 }, keys: [older] }, work);
    // A retry after the rotation: the current version first, the older one still live.
    const replay = await runIdempotent(db.pool, { providerId, key, route: 'POST /x', body: { a: 1 }, keys: [bidx(), older] }, work);
    expect(replay).toEqual({ status: 201, body: { n: 1 }, replayed: true });
    await expect(runIdempotent(db.pool, { providerId, key, route: 'POST /x', body: { a: 2 }, keys: [bidx(), older] }, work)).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    // A record from before the upgrade: the key as sent, an unkeyed fingerprint.
    const legacy = randomUUID();
    const legacyHash = createHash('sha256').update('POST /x').update('\u0000').update(canonicalRequestJson({ a: 1 })).digest();
    await db.pool.query(`INSERT INTO idempotency_keys (provider_id, key, route, request_hash, status_code, response) VALUES ($1, $2, 'POST /x', $3, 201, '{"n": 0}')`, [providerId, legacy, legacyHash]);
    expect(await runIdempotent(db.pool, { providerId, key: legacy, route: 'POST /x', body: { a: 1 }, keys: db.ring.blindIndex }, work)).toEqual({ status: 201, body: { n: 0 }, replayed: true });
    expect(runs).toBe(1);
  });
});
