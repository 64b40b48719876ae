/**
 * The import's probes find a batch's rows by their keys whatever the statistics say
 * (import-repository.ts, PROBE_SUBSCRIPTIONS_SQL). The case that went wrong: the table analysed
 * before a carrier's first rows, so the planner believed the carrier had none and read all of its
 * rows, filtering by number, for every batch of its import.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { explainNodes, insertRandomSubscriptions } from '../../../test/support/query-plans.ts';
import { findOrCreateCarrier, packKeys, PROBE_SUBSCRIPTIONS_SQL } from './import-repository.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

describe('import probes', () => {
  it("find a batch's numbers through the number index for a carrier the statistics have not seen", async () => {
    const known = await findOrCreateCarrier(db.pool, 'plan-known');
    const fresh = await findOrCreateCarrier(db.pool, 'plan-fresh');
    await insertRandomSubscriptions(db.pool, known, 20_000);
    await db.pool.query('ANALYZE subscriptions');
    await insertRandomSubscriptions(db.pool, fresh, 5_000);
    const keys = (await db.pool.query<{ k: Buffer }>('SELECT msisdn_bidx AS k FROM subscriptions WHERE carrier_id = $1 LIMIT 400', [fresh])).rows.map((r) => r.k);

    const nodes = await explainNodes(db.pool, PROBE_SUBSCRIPTIONS_SQL, [fresh, packKeys(keys)], 'ANALYZE');
    const scan = nodes.find((n) => n['Relation Name'] === 'subscriptions')!;
    expect(['subscriptions_number', 'subscriptions_live_number']).toContain(scan['Index Name']);
    expect(scan['Index Cond']).toMatch(/carrier_id = .*msisdn_bidx = |msisdn_bidx = .*carrier_id = /);
    // One descent per number, each finding its row. `msisdn_bidx = ANY(...)` gave "Index Cond:
    // carrier_id = ...; Filter: msisdn_bidx = ANY" here on PostgreSQL 15, reading all 5,000 of
    // the carrier's rows to find 400.
    expect(scan['Actual Loops']).toBe(400);
    expect(scan['Actual Rows']).toBe(1);
    expect(scan['Rows Removed by Filter'] ?? 0).toBe(0);
  });

  it('refuse keys that are not 32 bytes, rather than probe for shifted ones', () => {
    expect(() => packKeys([Buffer.alloc(32), Buffer.alloc(31)])).toThrow(RangeError);
  });
});
