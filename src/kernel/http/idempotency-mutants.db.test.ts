/**
 * Mutation review of issue 3's idempotency keys (idempotency.ts): keys live 24 hours (the
 * maintenance prune forgets them, and the same key is then a new request), and an answer a retry
 * should not see again is not stored: a server error (5xx), a rate limit (429), a conflict (409).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { createProvider } from '../../providers/provider-service.ts';
import { AppError } from '../errors.ts';
import { idempotencyKeyOf, pruneIdempotencyKeys, runIdempotent } from './idempotency.ts';

let db: TestDatabase;
let providerId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  providerId = (await createProvider(db.pool, db.ring, { allowLoopback: false }, { name: 'Idem Mutants', kind: 'platform' })).provider.id;
});
afterAll(async () => db.drop());

const scopeOf = (key: string, body: unknown = { a: 1 }) => ({ providerId, key, route: 'POST /x', body, keys: db.ring.blindIndex });

describe('idempotency keys', () => {
  it('are forgotten by the prune after 24 hours, not before: the same key then runs a new request', async () => {
    let runs = 0;
    const work = async () => ({ status: 201, body: { n: ++runs } });
    const young = randomUUID();
    const old = randomUUID();
    await runIdempotent(db.pool, scopeOf(young), work);
    await runIdempotent(db.pool, scopeOf(old), work);
    await db.pool.query(`UPDATE idempotency_keys SET created_at = now() - interval '23 hours 50 minutes' WHERE provider_id = $1`, [providerId]);
    // Only `old` is past its 24 hours.
    const oldStored = (await db.pool.query<{ key: string }>('SELECT key FROM idempotency_keys WHERE provider_id = $1 ORDER BY created_at, key', [providerId])).rows;
    expect(oldStored).toHaveLength(2);
    const [{ key: oldKey }] = (await db.pool.query<{ key: string }>(
      'SELECT key FROM idempotency_keys WHERE provider_id = $1 AND response @> $2::jsonb', [providerId, JSON.stringify({ n: 2 })])).rows as [{ key: string }];
    await db.pool.query(`UPDATE idempotency_keys SET created_at = now() - interval '24 hours 10 minutes' WHERE provider_id = $1 AND key = $2`, [providerId, oldKey]);

    expect(await pruneIdempotencyKeys(db.pool)).toBe(1);
    // Within 24 hours: still the first answer, and another body with it is refused.
    expect(await runIdempotent(db.pool, scopeOf(young), work)).toEqual({ status: 201, body: { n: 1 }, replayed: true });
    await expect(runIdempotent(db.pool, scopeOf(young, { a: 2 }), work)).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    // Past 24 hours: a new request, even with another body.
    expect(await runIdempotent(db.pool, scopeOf(old, { a: 2 }), work)).toEqual({ status: 201, body: { n: 3 }, replayed: false });
  });

  for (const [status, code] of [[503, 'SMS_GATEWAY_UNAVAILABLE'], [500, 'INTERNAL'], [429, 'RATE_LIMITED'], [409, 'IDEMPOTENCY_KEY_IN_USE']] as const) {
    it(`do not keep a ${status} answer: the retry runs afresh`, async () => {
      const scope = scopeOf(randomUUID());
      await expect(runIdempotent(db.pool, scope, async () => {
        throw new AppError(code, { status, title: 't' });
      })).rejects.toMatchObject({ code });
      expect(await runIdempotent(db.pool, scope, async () => ({ status: 201, body: 'ran' }))).toEqual({ status: 201, body: 'ran', replayed: false });
    });
  }

  it('keep a refusal (4xx other than 409 and 429) as the answer: the retry gets it without running again', async () => {
    const scope = scopeOf(randomUUID());
    let runs = 0;
    const refuse = async (): Promise<{ status: number; body: string }> => {
      runs++;
      throw new AppError('NUMBER_NOT_ELIGIBLE', { status: 422, title: 'The number is not eligible' });
    };
    await expect(runIdempotent(db.pool, scope, refuse)).rejects.toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE', status: 422 });
    await expect(runIdempotent(db.pool, scope, refuse)).rejects.toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE', status: 422 });
    expect(runs).toBe(1);
  });

  it('take 1 to 255 visible ASCII characters as the key, and refuse 256 or a space', () => {
    const longest = '!' + 'k'.repeat(253) + '~';
    expect(idempotencyKeyOf(longest)).toBe(longest);
    expect(idempotencyKeyOf('x')).toBe('x');
    for (const bad of ['k'.repeat(256), 'a b', '', undefined]) expect(() => idempotencyKeyOf(bad), String(bad)).toThrow(expect.objectContaining({ code: 'IDEMPOTENCY_KEY_REQUIRED' }));
  });
});
