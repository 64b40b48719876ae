/**
 * The plans of statements, for tests that check which tables and indexes a statement reads
 * (EXPLAIN (FORMAT JSON); the plan tests of migrations 0018, 0019 and 0020, and of the import's probes).
 */
import type pg from 'pg';

/** The fields of an EXPLAIN (FORMAT JSON) plan node the tests read. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Alias?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Filter?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/**
 * Every node of `EXPLAIN (<options>, FORMAT JSON) <sql>`, root first. With `ANALYZE` the
 * statement runs: wrap a writing one in a transaction that is rolled back.
 */
export async function explainNodes(db: pg.Pool | pg.PoolClient, sql: string, values: unknown[] = [], options = ''): Promise<PlanNode[]> {
  const r = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (${options ? `${options}, ` : ''}FORMAT JSON) ${sql}`, values);
  const nodes: PlanNode[] = [];
  const walk = (n: PlanNode) => {
    nodes.push(n);
    n.Plans?.forEach(walk);
  };
  walk(r.rows[0]!['QUERY PLAN'][0].Plan);
  return nodes;
}

/**
 * `n` live subscriptions of a carrier with random numbers, stored as an import stores them, for
 * the plan tests (only the columns the number lookups read carry meaning).
 */
export async function insertRandomSubscriptions(db: pg.Pool, carrierId: number, n: number): Promise<void> {
  await db.query(
    `INSERT INTO subscriptions (id, carrier_id, msisdn_bidx, digest, bidx_version, sealed, dek_version, channel, registered_at, status)
     SELECT gen_random_uuid(), $1, sha256(gen_random_uuid()::text::bytea), sha256(gen_random_uuid()::text::bytea), 1, '\\x00', 1, 'store', now(), 'active'
     FROM generate_series(1, $2)`,
    [carrierId, n],
  );
}
