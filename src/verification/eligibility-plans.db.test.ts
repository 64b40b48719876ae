/**
 * The number lookup of a verification (phone-eligibility.ts) probes the (carrier, number) index
 * once per carrier, also for a carrier whose rows the statistics have not seen yet (a carrier
 * imported after the last ANALYZE of subscriptions). It relies on carriers being counted: the hub
 * analyses the table when it creates a carrier (findOrCreateCarrier; migration 0022). Unanalysed,
 * the table looked like a thousand carriers, and PostgreSQL 15 answered with a scan of every
 * subscription.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { explainNodes, insertRandomSubscriptions } from '../../test/support/query-plans.ts';
import { findOrCreateCarrier } from '../registry/import/import-repository.ts';
import { ELIGIBILITY_CANDIDATE_SQL } from './phone-eligibility.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

describe('the number lookup', () => {
  it('probes each carrier by number, also for a carrier the statistics have not seen', async () => {
    const known = await findOrCreateCarrier(db.pool, 'lookup-known');
    await insertRandomSubscriptions(db.pool, known, 20_000);
    await db.pool.query('ANALYZE subscriptions');
    const fresh = await findOrCreateCarrier(db.pool, 'lookup-fresh');
    await insertRandomSubscriptions(db.pool, fresh, 20_000);
    // Counted when created: the planner sees the carriers there are.
    const counted = await db.pool.query<{ reltuples: number }>(`SELECT reltuples FROM pg_class WHERE oid = 'carriers'::regclass`);
    const carriers = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM carriers');
    expect(counted.rows[0]!.reltuples).toBe(carriers.rows[0]!.n);

    const key = (await db.pool.query<{ k: Buffer }>('SELECT msisdn_bidx AS k FROM subscriptions WHERE carrier_id = $1 LIMIT 1', [fresh])).rows[0]!.k;
    const nodes = await explainNodes(db.pool, ELIGIBILITY_CANDIDATE_SQL, [[key]], 'ANALYZE');
    // The number's probes (alias s); the holder's live subscriptions (alias o) are counted only for a
    // flagged online number (reconciliation-repository.ts junkFlagStandsSql), through the holder index.
    const all = nodes.filter((n) => n['Relation Name'] === 'subscriptions');
    expect(all.map((n) => n['Node Type'])).not.toContain('Seq Scan');
    const scans = all.filter((n) => n['Alias'] === 's');
    expect(scans.length).toBeGreaterThan(0);
    for (const count of all.filter((n) => n['Alias'] !== 's')) {
      expect(count['Alias']).toBe('o');
      expect(count['Index Cond']).toMatch(/holder_bidx = s\.holder_bidx/);
    }
    for (const scan of scans) {
      expect(scan['Index Cond']).toMatch(/msisdn_bidx = ANY/);
      // Nothing read and thrown away: the number is an index condition, not a filter.
      expect(scan['Rows Removed by Filter'] ?? 0).toBe(0);
    }
    // And the lookup finds the number.
    const found = await db.pool.query<{ id: string | null }>(ELIGIBILITY_CANDIDATE_SQL, [[key]]);
    expect(found.rows[0]?.id).toEqual(expect.any(String));
  });
});
