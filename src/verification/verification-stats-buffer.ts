/**
 * Verification counters gathered in memory and written once a second (and when the server
 * closes), instead of one upsert of the same few rows per request: under load those rows were
 * hot, every verification waiting on the previous one's row lock and WAL flush
 * (docs/benchmarks.md, issue 3). A crash loses at most the last second of counts; the
 * verifications themselves are never buffered.
 */
import type pg from 'pg';

export class VerificationStatsBuffer {
  private outcomes = new Map<string, number>();
  private prefixes = new Map<string, number>();
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly pool: pg.Pool) {}

  countOutcome(providerId: string, outcome: string, reason: string): void {
    const k = `${providerId}\u0000${outcome}\u0000${reason}`;
    this.outcomes.set(k, (this.outcomes.get(k) ?? 0) + 1);
  }

  countPrefix(prefix: string, column: 'sent' | 'confirmed'): void {
    const k = `${prefix}\u0000${column}`;
    this.prefixes.set(k, (this.prefixes.get(k) ?? 0) + 1);
  }

  /** Writes what was counted; concurrent calls are serialised, and each waits for the counts before it. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write(), () => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    const outcomes = this.outcomes;
    const prefixes = this.prefixes;
    if (outcomes.size === 0 && prefixes.size === 0) return;
    this.outcomes = new Map();
    this.prefixes = new Map();
    const o = [...outcomes].map(([k, n]) => [...k.split('\u0000'), n] as [string, string, string, number]);
    const p = [...prefixes].map(([k, n]) => [...k.split('\u0000'), n] as [string, string, number]);
    try {
      // One statement for both tables, so a flush is written whole or not at all: the counts of a
      // failed one are put back below, and with two statements the first table's would have been
      // written and then counted again at the next flush.
      await this.pool.query(
        `WITH outcomes AS (
           INSERT INTO verification_stats AS vs (provider_id, day, outcome, reason, count)
           SELECT p, (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, o, r, n FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[]) AS t(p, o, r, n)
           ON CONFLICT (provider_id, day, outcome, reason) DO UPDATE SET count = vs.count + EXCLUDED.count
         ), ranges AS (
           INSERT INTO sms_prefix_stats AS s (prefix, hour, sent, confirmed)
           SELECT p, date_trunc('hour', now()), coalesce(sum(n) FILTER (WHERE c = 'sent'), 0), coalesce(sum(n) FILTER (WHERE c = 'confirmed'), 0)
           FROM unnest($5::text[], $6::text[], $7::bigint[]) AS t(p, c, n) GROUP BY p
           ON CONFLICT (prefix, hour) DO UPDATE SET sent = s.sent + EXCLUDED.sent, confirmed = s.confirmed + EXCLUDED.confirmed
         )
         SELECT 1`,
        [o.map((r) => r[0]), o.map((r) => r[1]), o.map((r) => r[2]), o.map((r) => r[3]), p.map((r) => r[0]), p.map((r) => r[1]), p.map((r) => r[2])],
      );
    } catch (e) {
      // Put the counts back, to be written with the next flush.
      for (const [k, n] of outcomes) this.outcomes.set(k, (this.outcomes.get(k) ?? 0) + n);
      for (const [k, n] of prefixes) this.prefixes.set(k, (this.prefixes.get(k) ?? 0) + n);
      throw e;
    }
  }
}
