/**
 * The plans of statements, for tests that check which tables and indexes a statement reads
 * (EXPLAIN (FORMAT JSON); the plan tests of migrations 0018, 0019 and 0020, and of the import's probes).
 */
import type pg from 'pg';

/** The fields of an EXPLAIN (FORMAT JSON) plan node the tests read. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
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
