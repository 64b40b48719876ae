/**
 * Which statements took PostgreSQL's time during a measurement (pg_stat_statements, loaded by
 * the bench's own server): calls per request show the round trips a request costs, and the
 * execution time per statement shows where the server's share of a request goes. Execution time
 * includes lock and WAL waits (a hot row's update waits for the previous holder's commit).
 */
import pg from 'pg';

export interface StatementStat {
  /** The normalised statement, shortened to its first 160 characters on one line. */
  query: string;
  calls: number;
  calls_per_request: number;
  mean_ms: number;
  total_ms: number;
  /** Share of the execution time of all statements in the measurement. */
  share: number;
}

export interface StatementReport {
  calls_per_request: number;
  exec_ms_per_request: number;
  top: StatementStat[];
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-statements' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function enableStatements(url: string): Promise<void> {
  await withClient(url, (c) => c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'));
}

export async function resetStatements(url: string): Promise<void> {
  await withClient(url, (c) => c.query('SELECT pg_stat_statements_reset()'));
}

/** The statements since the last reset, the `n` costliest first, per `requests` requests. */
export async function statementReport(url: string, requests: number, n = 12): Promise<StatementReport> {
  return withClient(url, async (c) => {
    const r = await c.query<{ query: string; calls: string; total: number; mean: number }>(
      `SELECT query, calls, total_exec_time AS total, mean_exec_time AS mean FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND query NOT LIKE '%pg_stat_activity%' AND query NOT LIKE '%pg_stat_statements%'
       ORDER BY total_exec_time DESC`,
    );
    const all = r.rows.map((x) => ({ query: x.query, calls: Number(x.calls), total: x.total, mean: x.mean }));
    const totalMs = all.reduce((s, x) => s + x.total, 0);
    const calls = all.reduce((s, x) => s + x.calls, 0);
    const per = (x: number) => (requests > 0 ? x / requests : 0);
    return {
      calls_per_request: per(calls),
      exec_ms_per_request: per(totalMs),
      top: all.slice(0, n).map((x) => ({
        query: x.query.replace(/\s+/g, ' ').trim().slice(0, 160), calls: x.calls, calls_per_request: per(x.calls),
        mean_ms: x.mean, total_ms: x.total, share: totalMs > 0 ? x.total / totalMs : 0,
      })),
    };
  });
}
