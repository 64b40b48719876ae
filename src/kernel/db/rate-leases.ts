/**
 * Token leases on hot shared rate-limit buckets (issue 3 "Abuse" and "≥ 1,000 verifications/s";
 * DESIGN.md "HTTP": rate limits per provider and per number; docs/benchmarks.md, issue 3).
 *
 * Why: every verification start hits the same few rows of `rate_counters` (the provider's bucket,
 * its share of the number prefix, the client IP's, the number prefix's, the provider's daily SMS
 * budget). Counting each hit with its own `INSERT ... ON CONFLICT DO UPDATE` (rate-counters.ts
 * `hitLimits`) makes those rows pathological under load: every update queues on the previous
 * one's row lock and WAL flush and walks the HOT chain of dead versions the previous updates
 * left. They were three quarters of PostgreSQL's execution time per verification.
 *
 * What: a process takes a block of N hits from the bucket's PostgreSQL counter in one statement
 * (`count += min(N, max - count)`, never past `max`) and hands them out in memory, one per hit.
 *
 * Guarantees, across every hub process sharing the database:
 * - **The limit is never exceeded.** A token exists only once PostgreSQL has added it to the
 *   window's count, and the count is never raised past `max`; a token is only handed out inside
 *   the window it was counted in (its end is taken from the database's clock, measured from
 *   before the lease statement was sent, minus a margin for clock drift); tokens still held when
 *   the window ends are dropped, never carried over. A process may hold unused tokens: the limit
 *   can be under-used, never over-spent.
 * - **Small limits stay exact.** A block is at most an eighth of what the window has left (and
 *   about two seconds of this process's demand for the bucket), so near the end of a budget, and
 *   always for a limit such as 5 per minute, every lease is of exactly the hits that are waiting:
 *   the same one statement per hit as exact counting. What a process may leave unspent at a
 *   window's end is thus at most about two seconds of its own demand.
 * - **Hammering keeps a limit closed.** The exact counter counts a refused hit too (count > max);
 *   in a fixed window a count never goes down, so that only mattered for the other buckets of the
 *   same request, which are still counted as before (the caller takes from each shared bucket
 *   whatever the others answer). Here a full window stays full until it ends: once PostgreSQL
 *   answers "no tokens left" the process refuses every hit of that bucket in memory until the
 *   window ends, without a statement, so hammering a closed limit costs the database nothing.
 * - **Order of buckets** is the caller's, as with `hitLimits`: a request refused by a bucket
 *   taken earlier (the provider's own, its share of a prefix) never takes from the later, shared
 *   ones: the caller awaits those first.
 *
 * Per-number and per-verification budgets (attempts, a code's consumption) are security budgets
 * on rows that are not hot: they stay exact, counted by `hitLimits` and conditional updates.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { windowStartSql, type Limit, type LimitResult } from './rate-counters.ts';

/** The largest block a process takes at once. */
export const MAX_BLOCK = 256;
/** A block is at most this fraction of what the window has left (so a small budget stays exact). */
const BLOCK_SHARE = 8;
/** A block is sized to last about this long at the rate the last one was spent (at most twice the last one). */
const HORIZON_MS = 2000;

/** Held tokens are dropped this long before the window ends: clock drift between this process and PostgreSQL. */
export function marginMs(windowSeconds: number): number {
  return 20 + windowSeconds; // 20 ms + 1 ms per second of window (0.1 %): 80 ms for a minute, 86 s for a day
}

interface Bucket {
  max: number;
  windowSeconds: number;
  /** Leased, not yet handed out. */
  tokens: number;
  /** performance.now() after which held tokens are dropped (before the window's end). */
  usableUntil: number;
  /** performance.now() until which the window is known to be full. */
  closedUntil: number;
  /** performance.now() of the end of the window of the last lease (never later than the database's). */
  windowEnd: number;
  /** What the window had left after the last lease (max - count). */
  remaining: number;
  /** The database's start of the window of the last lease: the window its tokens were counted in. */
  windowStart: Date | undefined;
  /** Tokens of the last lease (all handed out by the next one: a lease is only taken when none are left). */
  lastGrant: number;
  leasedAt: number;
  waiting: number;
  inflight: Promise<void> | undefined;
}

/** Leases for one process (one pool). */
export class RateLeases {
  private readonly buckets = new Map<string, Bucket>();
  /** Statements sent, for tests and diagnostics. */
  statements = 0;

  constructor(private readonly db: pg.Pool) {}

  /**
   * Takes one hit from each bucket in order; answers the first one refused (like `hitLimits`).
   * A refused bucket does not stop the later ones from being taken: they are counted as the exact
   * counter counts every bucket of a request.
   */
  async takeAll(limits: readonly Limit[]): Promise<LimitResult | undefined> {
    const results = await Promise.all(limits.map((l) => this.take(l)));
    return results.find((r) => r !== undefined);
  }

  /** Takes one hit; undefined when it is granted, the refusal otherwise. */
  async take(limit: Limit): Promise<LimitResult | undefined> {
    const taken = await this.takeCounted(limit);
    return 'refused' in taken ? taken.refused : undefined;
  }

  /**
   * Takes one hit and answers the window it was counted in, so that a hit which bought nothing
   * (an SMS the gateway refused) can be given back with `refund`.
   */
  async takeCounted(limit: Limit): Promise<{ refused: LimitResult } | { window: Date }> {
    for (;;) {
      const b = this.bucket(limit);
      const now = performance.now();
      if (now >= b.usableUntil) b.tokens = 0;
      if (b.tokens > 0) {
        b.tokens--;
        return { window: b.windowStart! };
      }
      if (now < b.closedUntil) return { refused: this.refused(limit, b, now) };
      if (b.inflight) {
        b.waiting++;
        try {
          await b.inflight;
        } finally {
          b.waiting--;
        }
        continue;
      }
      b.inflight = this.lease(limit.bucket, b).finally(() => { b.inflight = undefined; });
      await b.inflight;
      const after = performance.now();
      // The lease this hit waited for: take from it now, or answer that the window is full.
      if (b.tokens > 0 && after < b.usableUntil) {
        b.tokens--;
        return { window: b.windowStart! };
      }
      if (after < b.closedUntil) return { refused: this.refused(limit, b, after) };
    }
  }

  /**
   * Gives back a hit taken with `takeCounted` that bought nothing, to the database's count of the
   * window it was counted in (never below zero), where any process can lease it again: the limit
   * is still never exceeded, since the hit given back was never used. A window that has ended is
   * left alone.
   *
   * This process's bucket is opened again when it was marked full for that window: the lease
   * that took the last hit closed it in memory until the window's end, so without this a refund
   * of a day's last SMS (the gateway refused it) was never leased again, and a gateway outage
   * under parallel load closed a provider's daily budget for the day with nothing sent. The next
   * hit leases from the database, which answers whether the refund is still there.
   */
  async refund(limit: Limit, window: Date): Promise<void> {
    this.statements++;
    const r = await this.db.query(
      'UPDATE rate_counters SET count = count - 1 WHERE bucket = $1 AND window_start = $2 AND count > 0',
      [limit.bucket, window],
    );
    const b = this.buckets.get(limit.bucket);
    if ((r.rowCount ?? 0) > 0 && b && b.windowStart?.getTime() === window.getTime() && b.closedUntil > performance.now()) {
      b.closedUntil = 0;
      b.remaining = Math.max(b.remaining, 1);
    }
  }

  /**
   * Whether a hit would be granted now, without spending it (a token may be leased and kept):
   * undefined when it would, the refusal (with the seconds until the window ends) otherwise.
   */
  async available(limit: Limit): Promise<LimitResult | undefined> {
    const refused = await this.take(limit);
    if (refused) return refused;
    this.bucket(limit).tokens++;
    return undefined;
  }

  /** Tokens this process holds unused for a bucket (tests, diagnostics). */
  held(bucket: string): number {
    const b = this.buckets.get(bucket);
    return b && performance.now() < b.usableUntil ? b.tokens : 0;
  }

  private refused(limit: Limit, b: Bucket, now: number): LimitResult {
    return { label: limit.label, count: b.max, max: b.max, retryAfterSeconds: Math.max(1, Math.ceil((b.closedUntil - now) / 1000)) };
  }

  private bucket(limit: Limit): Bucket {
    let b = this.buckets.get(limit.bucket);
    if (!b || b.max !== limit.max || b.windowSeconds !== limit.windowSeconds) {
      // A changed limit drops what was held under the old one (never spent past the new one).
      b = {
        max: limit.max, windowSeconds: limit.windowSeconds, tokens: 0, usableUntil: 0, closedUntil: 0, windowEnd: 0, remaining: limit.max, windowStart: undefined,
        lastGrant: 0, leasedAt: -Infinity, waiting: 0, inflight: undefined,
      };
      this.buckets.set(limit.bucket, b);
    }
    return b;
  }

  private async lease(bucket: string, b: Bucket): Promise<void> {
    const sent = performance.now();
    // The demand seen since the last lease, over the horizon: a bucket hit twice a second leases
    // about four at a time, one hit every few seconds leases one at a time.
    const since = Math.max(1, sent - b.leasedAt);
    const block = Math.min(MAX_BLOCK, 2 * Math.max(1, b.lastGrant), Math.max(1, Math.ceil((b.lastGrant * HORIZON_MS) / since)));
    const demand = b.waiting + 1;
    // Near a window's end nothing is kept: only the hits waiting now are leased.
    const nearEnd = sent >= b.windowEnd - marginMs(b.windowSeconds) && sent < b.windowEnd;
    const keep = nearEnd ? 0 : Math.min(block, Math.floor(b.remaining / BLOCK_SHARE));
    const want = Math.max(1, Math.min(b.max, Math.max(demand, keep)));
    this.statements++;
    const r = await this.db.query<{ granted: number | null; count: number | null; left_ms: number; window_start: Date }>({
      name: 'rate_counters_lease',
      text: `WITH w AS (SELECT now() AS now, ${windowStartSql('$2::int')} AS start),
                  up AS (
                    INSERT INTO rate_counters AS rc (bucket, window_start, count, granted)
                    SELECT $1::text, w.start, greatest(0, least($3::int, $4::int)), greatest(0, least($3::int, $4::int)) FROM w
                    ON CONFLICT (bucket, window_start) DO UPDATE
                      SET count = rc.count + least($3::int, $4::int - rc.count), granted = least($3::int, $4::int - rc.count)
                      WHERE rc.count < $4::int
                    RETURNING granted, count)
             SELECT up.granted, up.count, (extract(epoch FROM w.start + make_interval(secs => $2::int) - w.now) * 1000)::float8 AS left_ms, w.start AS window_start
             FROM w LEFT JOIN up ON true`,
      values: [bucket, b.windowSeconds, want, b.max],
    });
    const row = r.rows[0]!;
    const end = sent + row.left_ms; // measured from before the statement: never later than the database's window end
    b.leasedAt = sent;
    b.windowEnd = end;
    b.windowStart = row.window_start;
    const granted = row.granted ?? 0;
    b.lastGrant = granted;
    b.remaining = row.count === null ? 0 : Math.max(0, b.max - row.count);
    b.tokens = granted;
    // Kept tokens are usable until shortly before the window ends; tokens of a lease made within
    // that margin go only to the hits waiting for them now (a few ms: they resume right away).
    b.usableUntil = Math.max(end - marginMs(b.windowSeconds), granted > 0 ? performance.now() + 5 : 0);
    if (granted === 0 || b.remaining === 0) b.closedUntil = end; // full: refused in memory until the window ends
    // An exhausted window with tokens still held: refused once they are spent (closedUntil set
    // above), because no other process can give any back.
    if (granted === 0) b.tokens = 0;
  }
}

const perPool = new WeakMap<pg.Pool, RateLeases>();

/** The process's leases on the database behind `pool` (one set per pool: a pool stands for a process). */
export function rateLeases(pool: pg.Pool): RateLeases {
  let l = perPool.get(pool);
  if (!l) {
    l = new RateLeases(pool);
    perPool.set(pool, l);
  }
  return l;
}
