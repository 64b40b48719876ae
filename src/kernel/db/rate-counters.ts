/**
 * Fixed-window counters in PostgreSQL for rate limits and budgets (issue 3 "Abuse"): shared by
 * every hub process, exact, and one round trip for all the limits a request is checked against
 * (`INSERT ... ON CONFLICT DO UPDATE` per bucket, atomic under concurrency).
 *
 * A bucket name must never carry a personal value in clear: a number's bucket is named by its
 * keyed blind index.
 *
 * The hot buckets every request shares (a provider's, its share of a number prefix, a client IP's,
 * a number prefix's, a daily SMS budget) are leased in blocks instead (rate-leases.ts); this exact
 * per-hit count stays for the per-number budgets.
 */
import type pg from 'pg';

export interface Limit {
  /** Stable bucket name, e.g. `verify:provider:<id>`. */
  bucket: string;
  windowSeconds: number;
  max: number;
  /** What the caller names in its error (`provider`, `number`, ...). */
  label: string;
}

export interface LimitResult {
  label: string;
  count: number;
  max: number;
  /** Seconds until the bucket's window ends. */
  retryAfterSeconds: number;
}

/**
 * Counts one hit in each bucket and answers the first limit now exceeded (in the order given), or
 * undefined when every limit holds. A hit is counted even when refused, so hammering a limit
 * keeps it closed.
 */
export async function hitLimits(db: pg.Pool | pg.PoolClient, limits: readonly Limit[], cost = 1): Promise<LimitResult | undefined> {
  return (await countHits(db, limits, cost)).limited;
}

/** `hitLimits`, also answering the counted rows (with their windows, to refund them: `refundHits`). */
export async function countHits(db: pg.Pool | pg.PoolClient, limits: readonly Limit[], cost = 1): Promise<{ limited: LimitResult | undefined; hits: HitRow[] }> {
  if (limits.length === 0) return { limited: undefined, hits: [] };
  const r = await db.query<HitRow>({
    name: 'rate_counters_hit',
    text: hitSql('$1', '$2', '$3'),
    values: [limits.map((l) => l.bucket), limits.map((l) => l.windowSeconds), cost],
  });
  return { limited: firstExceeded(limits, r.rows), hits: r.rows };
}

/**
 * Takes back hits that bought nothing: an SMS the gateway refused never reached the person, so it
 * must not spend their number's budget (a gateway outage would otherwise lock a number out for an
 * hour while nothing was sent). Each hit is taken back from the window it was counted in, never
 * below zero; a window that has ended is left alone (its count no longer limits anything).
 */
export async function refundHits(db: pg.Pool | pg.PoolClient, hits: readonly Pick<HitRow, 'bucket' | 'window_start'>[]): Promise<void> {
  if (hits.length === 0) return;
  await db.query(
    `UPDATE rate_counters rc SET count = rc.count - 1
       FROM unnest($1::text[], $2::timestamptz[]) AS h(bucket, window_start)
      WHERE rc.bucket = h.bucket AND rc.window_start = h.window_start AND rc.count > 0`,
    [hits.map((h) => h.bucket), hits.map((h) => h.window_start)],
  );
}

const VIETNAM_OFFSET_SECONDS = 25_200;

/**
 * SQL: the start of the fixed window of `seconds` (an SQL expression) holding now. Windows are
 * counted from midnight in Vietnam (UTC+07:00, no daylight saving), so a day's budget (a
 * provider's SMS per day, a number's starts and typed codes per day; issue 3 "Abuse") is the
 * Vietnamese calendar day, as the verification statistics' days are, rather than a day starting
 * at 07:00 there. Minute and hour windows fall where they did: 25,200 s is a whole number of both.
 */
export const windowStartSql = (seconds: string): string =>
  `to_timestamp(floor((extract(epoch FROM now()) + ${VIETNAM_OFFSET_SECONDS}) / ${seconds}) * ${seconds} - ${VIETNAM_OFFSET_SECONDS})`;

/**
 * The counting statement of `hitLimits` (its parameters: the buckets, their window seconds and
 * the cost), for a caller that counts hits in a CTE of a statement doing other work too.
 */
export const hitSql = (buckets: string, windows: string, cost: string): string => `INSERT INTO rate_counters AS rc (bucket, window_start, count)
           SELECT b, ${windowStartSql('w')}, ${cost} FROM unnest(${buckets}::text[], ${windows}::int[]) AS t(b, w)
           ON CONFLICT (bucket, window_start) DO UPDATE SET count = rc.count + EXCLUDED.count
           RETURNING bucket, count, extract(epoch FROM now() - window_start)::float8 AS elapsed, window_start`;

export interface HitRow {
  bucket: string;
  count: number;
  elapsed: number;
  /** The window the hit was counted in (a Date, or its JSON text when read through json_agg). */
  window_start: Date | string;
}

/** The first limit (in the order given) whose counted row is now over its maximum. */
export function firstExceeded(limits: readonly Limit[], rows: readonly HitRow[]): LimitResult | undefined {
  const byBucket = new Map(rows.map((row) => [row.bucket, row]));
  for (const l of limits) {
    const row = byBucket.get(l.bucket);
    if (row && row.count > l.max) {
      return { label: l.label, count: row.count, max: l.max, retryAfterSeconds: Math.max(1, Math.ceil(l.windowSeconds - row.elapsed)) };
    }
  }
  return undefined;
}

/** Drops windows that ended more than a day ago. */
export async function pruneRateCounters(db: pg.Pool | pg.PoolClient): Promise<number> {
  const r = await db.query(`DELETE FROM rate_counters WHERE window_start < now() - interval '2 days'`);
  return r.rowCount ?? 0;
}
