/**
 * Set-based SQL that puts the issue 3 benchmark's load into the hub's database quickly:
 *
 * - bound accounts for the status measurement: synthetic persons (random-looking bytea where the
 *   registry keeps blind indexes, digests and sealed fields: the status route never reads a
 *   person), their pseudonyms at the platform, and one account each (`acct-1` ... `acct-N`);
 * - a burst of account events for the webhook measurement, written by the product's own outbox
 *   SQL (`outboxCtes`), as a carrier's delta that revokes many bindings at once would write them.
 *
 * Row ids are derived from the row number (md5 as a uuid), so that a load generator can name a
 * random existing row without a list: account `acct-i` has id md5('acct-i').
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { outboxCtes } from '../../src/events/outbox.ts';

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-seed' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface SeedTimes {
  persons_s: number;
  pseudonyms_s: number;
  accounts_s: number;
  analyze_s: number;
}

/**
 * N synthetic persons `bench-person-1..N`, and for each a pseudonym at the provider and one
 * account `acct-i`: about 95 % verified, 3 % needs_reverification, 2 % revoked.
 */
export async function seedBindings(url: string, providerId: string, n: number): Promise<SeedTimes> {
  return withClient(url, async (c) => {
    const v = await c.query<{ data: number; bidx: number }>(
      `SELECT (SELECT version FROM key_versions WHERE purpose = 'data' AND state = 'current') AS data,
              (SELECT version FROM key_versions WHERE purpose = 'blind_index' AND state = 'current') AS bidx`,
    );
    const { data, bidx } = v.rows[0]!;
    const timed = async (sql: string, values: unknown[]) => {
      const t0 = performance.now();
      await c.query(sql, values);
      return (performance.now() - t0) / 1000;
    };
    const persons_s = await timed(
      `INSERT INTO persons (id, pid_bidx, match_bidx, digest, bidx_version, sealed, dek_version, status)
       SELECT md5('bench-person-' || i)::uuid, sha256(convert_to('bench-pid-' || i, 'UTF8')), sha256(convert_to('bench-match-' || i, 'UTF8')),
              sha256(convert_to('bench-digest-' || i, 'UTF8')), $2, decode(repeat(md5('bench-sealed-' || i), 12), 'hex'), $3, 'alive'
       FROM generate_series(1, $1::int) AS i`,
      [n, bidx, data],
    );
    const pseudonyms_s = await timed(
      `INSERT INTO pseudonyms (person_id, provider_id, pseudonym)
       SELECT md5('bench-person-' || i)::uuid, $2::uuid, translate(rtrim(encode(substr(sha256(convert_to('bench-ps-' || $2::text || '-' || i, 'UTF8')), 1, 16), 'base64'), '='), '+/', '-_')
       FROM generate_series(1, $1::int) AS i`,
      [n, providerId],
    );
    const accounts_s = await timed(
      `INSERT INTO accounts (id, provider_id, account_ref, person_id, method, level, status, status_reason, sequence, verified_at, status_since, pseudonym)
       SELECT md5('acct-' || i)::uuid, $2::uuid, 'acct-' || i, md5('bench-person-' || i)::uuid, 'phone', 'low',
              CASE WHEN i % 50 = 0 THEN 'revoked' WHEN i % 33 = 0 THEN 'needs_reverification' ELSE 'verified' END,
              CASE WHEN i % 50 = 0 THEN 'terminated' WHEN i % 33 = 0 THEN 'sim_changed' ELSE 'verified' END,
              CASE WHEN i % 50 = 0 OR i % 33 = 0 THEN 2 ELSE 1 END,
              now() - (i % 10000) * interval '1 minute', now() - (i % 5000) * interval '1 minute',
              translate(rtrim(encode(substr(sha256(convert_to('bench-ps-' || $2::text || '-' || i, 'UTF8')), 1, 16), 'base64'), '='), '+/', '-_')
       FROM generate_series(1, $1::int) AS i`,
      [n, providerId],
    );
    const analyze_s = await timed('ANALYZE persons, pseudonyms, accounts', []);
    return { persons_s, pseudonyms_s, accounts_s, analyze_s };
  });
}

export interface EventBurst {
  events: number;
  /** Seconds the outbox statement took (it commits when it returns: the deliveries are due). */
  statement_s: number;
  /** Wall-clock ms since the epoch when the statement returned, committed. */
  committed_at: number;
}

/**
 * Binds `n` accounts `hook-1..n` of the provider (persons `bench-person-1..n`, which
 * seedBindings made), then revokes them all in one statement that writes their
 * `account.revoked` events and pending deliveries through the outbox, as a registry change does.
 */
export async function prepareWebhookAccounts(url: string, providerId: string, n: number): Promise<void> {
  await withClient(url, async (c) => {
    await c.query(
      `INSERT INTO pseudonyms (person_id, provider_id, pseudonym)
       SELECT md5('bench-person-' || i)::uuid, $2::uuid, translate(rtrim(encode(substr(sha256(convert_to('bench-ps-' || $2::text || '-' || i, 'UTF8')), 1, 16), 'base64'), '='), '+/', '-_')
       FROM generate_series(1, $1::int) AS i ON CONFLICT DO NOTHING`,
      [n, providerId],
    );
    await c.query(
      `INSERT INTO accounts (id, provider_id, account_ref, person_id, method, level, status, status_reason, verified_at, pseudonym)
       SELECT gen_random_uuid(), $2::uuid, 'hook-' || i, md5('bench-person-' || i)::uuid, 'phone', 'low', 'verified', 'verified', now(),
              translate(rtrim(encode(substr(sha256(convert_to('bench-ps-' || $2::text || '-' || i, 'UTF8')), 1, 16), 'base64'), '='), '+/', '-_')
       FROM generate_series(1, $1::int) AS i`,
      [n, providerId],
    );
  });
}

export async function revokeWebhookAccounts(url: string, providerId: string): Promise<EventBurst> {
  return withClient(url, async (c) => {
    const t0 = performance.now();
    const r = await c.query<{ n: string }>(
      `WITH changed AS (
         UPDATE accounts a SET status = 'revoked', status_reason = 'terminated', sequence = a.sequence + 1, status_since = now()
         WHERE a.provider_id = $1 AND a.status = 'verified' RETURNING a.*
       ),${outboxCtes('$2')}
       SELECT count(*) AS n FROM deliveries`,
      [providerId, 'account.revoked'],
    );
    const t1 = performance.now();
    return { events: Number(r.rows[0]!.n), statement_s: (t1 - t0) / 1000, committed_at: performance.timeOrigin + t1 };
  });
}

/** Deliveries of the provider by status. */
export async function deliveryCounts(url: string, providerId: string): Promise<Record<string, number>> {
  return withClient(url, async (c) => {
    const r = await c.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM webhook_deliveries WHERE provider_id = $1 GROUP BY status', [providerId]);
    return Object.fromEntries(r.rows.map((x) => [x.status, Number(x.n)]));
  });
}

/** Committed transactions of the database so far (pg_stat_database), to count statements per request. */
export async function committedTransactions(url: string): Promise<number> {
  return withClient(url, async (c) => {
    // The statistics are flushed by each backend at most once a second; a snapshot read is enough.
    const r = await c.query<{ n: string }>('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()');
    return Number(r.rows[0]!.n);
  });
}
