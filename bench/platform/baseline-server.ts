/**
 * The baselines of the issue 3 status benchmark, in their own process (started by
 * bench/platform/run.ts):
 *
 *   node --import tsx bench/platform/baseline-server.ts DATABASE_URL POOL_SIZE
 *
 * A bare Fastify app, as the hub's server is built (same Fastify, no logger, no hooks, no auth):
 *
 * - `GET /c` answers a constant JSON object: the HTTP stack alone.
 * - `GET /row/:id` runs one named prepared statement, a primary-key lookup of the `accounts` row
 *   with that id, and answers it as JSON: the HTTP stack plus one PostgreSQL round trip on the
 *   same rows the status route reads. Its pool has as many connections as the hub's (12), so the
 *   two compare at the same database concurrency.
 *
 * Prints `{"url": ...}` once listening; stops on SIGTERM.
 */
import Fastify from 'fastify';
import pg from 'pg';

interface Row {
  id: string;
  account_ref: string;
  status: string;
  level: string | null;
  status_since: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function main(): Promise<void> {
  const [url, poolSize] = process.argv.slice(2);
  if (!url) throw new Error('usage: baseline-server.ts DATABASE_URL [POOL_SIZE]');
  const pool = new pg.Pool({ connectionString: url, max: Number(poolSize ?? 12), application_name: 'bench-baseline' });
  const app = Fastify({ logger: false });
  const constant = { status: 'verified', level: 'low', pseudonym: 'k3bMvRw0nHq1Jc5m8TgAxQ', since: '2026-01-01T00:00:00.000Z' };
  app.get('/c', async () => constant);
  app.get<{ Params: { id: string } }>('/row/:id', async (req, reply) => {
    if (!UUID.test(req.params.id)) return reply.status(400).send({ error: 'not a uuid' });
    const r = await pool.query<Row>({
      name: 'baseline_row',
      text: 'SELECT id, account_ref, status, level, status_since FROM accounts WHERE id = $1',
      values: [req.params.id],
    });
    const row = r.rows[0];
    if (!row) return reply.status(404).send({ error: 'not found' });
    return { account_ref: row.account_ref, status: row.status, level: row.level, since: row.status_since.toISOString() };
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(JSON.stringify({ url: address }) + '\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await app.close();
  await pool.end();
}

main().catch((e: unknown) => {
  process.stderr.write(`baseline server: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
