/**
 * Where fixed windows start (rate-counters.ts windowStartSql): a day's budget is the Vietnamese
 * calendar day (midnight at UTC+07:00), for the exact counters and the leased buckets alike, and
 * minute and hour windows start on the minute and the hour.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { countHits } from './rate-counters.ts';
import { RateLeases } from './rate-leases.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

/** PostgreSQL's own answer: the start of the current day, hour or minute in Vietnam. */
async function vietnamStart(unit: 'day' | 'hour' | 'minute'): Promise<number> {
  const r = await db.pool.query<{ t: Date }>(`SELECT date_trunc($1, now() AT TIME ZONE 'Asia/Ho_Chi_Minh') AT TIME ZONE 'Asia/Ho_Chi_Minh' AS t`, [unit]);
  return r.rows[0]!.t.getTime();
}

async function windowOf(bucket: string): Promise<number> {
  const r = await db.pool.query<{ w: Date }>('SELECT window_start AS w FROM rate_counters WHERE bucket = $1', [bucket]);
  expect(r.rows).toHaveLength(1);
  return r.rows[0]!.w.getTime();
}

describe('fixed windows', () => {
  it('counts a day from midnight in Vietnam, an hour from the hour, a minute from the minute (exact counters)', async () => {
    for (const [seconds, unit] of [[86_400, 'day'], [3600, 'hour'], [60, 'minute']] as const) {
      const bucket = `test:${randomUUID()}`;
      const { hits } = await countHits(db.pool, [{ bucket, windowSeconds: seconds, max: 10, label: 'test' }]);
      expect(hits).toHaveLength(1);
      // The hit and the check read now() in two statements: a boundary may fall between them.
      const start = await windowOf(bucket);
      const expected = await vietnamStart(unit);
      expect([expected, expected - seconds * 1000]).toContain(start);
    }
  });

  it('leases a day from midnight in Vietnam', async () => {
    const bucket = `test:${randomUUID()}`;
    const leases = new RateLeases(db.pool);
    const taken = await leases.takeCounted({ bucket, windowSeconds: 86_400, max: 100, label: 'test' });
    expect('window' in taken && taken.window.getTime()).toBe(await vietnamStart('day'));
    expect(await windowOf(bucket)).toBe(await vietnamStart('day'));
  });
});
