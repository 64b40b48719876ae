/**
 * The comparison with the previous run (COMPARE_RUNS_SQL) runs inside the new run's transaction,
 * while the new run's results are uncommitted and missing from the statistics. Planned as two
 * `NOT EXISTS`, it became a nested loop over those results, once per result of the previous run:
 * minutes at 4.8 M subscriptions (docs/benchmarks.md, "Reconciliation"). As a full join it can
 * only be a hash or merge join, whatever the statistics say.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { explainNodes } from '../../../test/support/query-plans.ts';
import { COMPARE_RUNS_SQL } from './reconciliation-repository.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

const RUN_1 = '00000000-0000-7000-8000-000000000001';
const RUN_2 = '00000000-0000-7000-8000-000000000002';
const RUN_3 = '00000000-0000-7000-8000-000000000003';

/** `n` results of a run: subscription ids from 1 + offset, every fifth one HOLDER_DECEASED. */
async function addResults(db: TestDatabase['pool'] | import('pg').PoolClient, run: string, offset: number, n: number): Promise<void> {
  await db.query(
    `INSERT INTO reconciliation_results (run_id, subscription_id, carrier_id, category)
     SELECT $1, ('00000000-0000-7000-9000-' || lpad(to_hex(i), 12, '0'))::uuid, 1,
            CASE WHEN i % 5 = 0 THEN 'HOLDER_DECEASED' ELSE 'NO_HOLDER' END
     FROM generate_series($2::int + 1, $2::int + $3::int) AS i`,
    [run, offset, n],
  );
}

describe('the comparison with the previous run', () => {
  it('joins the two runs by hashing or merging, also while the new run is uncommitted and unanalysed', async () => {
    for (const run of [RUN_1, RUN_2]) {
      await db.pool.query(`INSERT INTO reconciliation_runs (id, status, finished_at) VALUES ($1, 'completed', now())`, [run]);
      await addResults(db.pool, run, 0, 20_000);
    }
    await db.pool.query('ANALYZE reconciliation_results');
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO reconciliation_runs (id, status) VALUES ($1, 'running')`, [RUN_3]);
      // 15,000 results as in run 2 (1 to 15,000), 5,000 new ones (20,001 to 25,000): 5,000
      // resolved (15,001 to 20,000), 1,000 of them HOLDER_DECEASED.
      await addResults(client, RUN_3, 0, 15_000);
      await addResults(client, RUN_3, 20_000, 5_000);
      // And one subscription whose category changed (NO_HOLDER in run 2): resolved in its old
      // category, new in its new one.
      await client.query(`UPDATE reconciliation_results SET category = 'HOLDER_NOT_FOUND' WHERE run_id = $1 AND subscription_id = '00000000-0000-7000-9000-000000000001'`, [RUN_3]);
      const nodes = await explainNodes(client, COMPARE_RUNS_SQL, [RUN_3, RUN_2]);
      expect(nodes.map((n) => n['Node Type'])).not.toContain('Nested Loop');
      expect(nodes.map((n) => n['Node Type']).some((t) => t === 'Hash Join' || t === 'Merge Join')).toBe(true);
      const counts = await client.query<{ category: string; kind: string; n: string }>(COMPARE_RUNS_SQL, [RUN_3, RUN_2]);
      expect(counts.rows.map((r) => `${r.kind} ${r.category} ${r.n}`).sort()).toEqual([
        'new HOLDER_DECEASED 1000', 'new HOLDER_NOT_FOUND 1', 'new NO_HOLDER 4000', 'resolved HOLDER_DECEASED 1000', 'resolved NO_HOLDER 4001',
      ]);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
