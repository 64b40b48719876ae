/**
 * Periodic housekeeping of verification state, run by the server: expires unconfirmed
 * verifications (and drops their sealed number, which a resend no longer needs), prunes rate
 * counters and idempotency keys, and raises the SMS-pumping alert (issue 3 "Abuse": a metric and
 * an alert for prefixes whose codes are sent but rarely confirmed).
 */
import type pg from 'pg';
import type { Metrics } from '../kernel/metrics.ts';
import { pruneRateCounters } from '../kernel/db/rate-counters.ts';
import { pruneIdempotencyKeys } from '../kernel/http/idempotency.ts';
import { suspiciousPrefixes } from './verification-repository.ts';
import { SMS_PUMPING_MAX_CONFIRM_RATE, SMS_PUMPING_MIN_SENT } from './verification-stats.ts';

/**
 * Open verifications past their time, found by migration 0019's partial index on open sessions
 * (`completed_at IS NULL`: a predicate no statement of the request path states, so none of them
 * can be planned onto this index).
 */
export const EXPIRE_VERIFICATIONS_SQL = `UPDATE verifications SET status = 'expired', failure = 'expired', completed_at = now(), sealed = NULL, dek_version = NULL
  WHERE completed_at IS NULL AND status = 'code_sent' AND code_expires_at <= now()`;

/**
 * The sweep and its count in the providers' statistics (`expired`, as a confirmation that finds a
 * code expired counts it), in one statement: an expiry counts once, whole or not at all, and only
 * when this statement is the one that ends the verification (a confirmation that ended it first
 * has counted it; verification-service.ts).
 */
const EXPIRE_AND_COUNT_SQL = `WITH expired AS (${EXPIRE_VERIFICATIONS_SQL} RETURNING provider_id),
  counted AS (
    INSERT INTO verification_stats AS vs (provider_id, day, outcome, reason, count)
    SELECT provider_id, (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, 'expired', '', count(*) FROM expired GROUP BY provider_id
    ON CONFLICT (provider_id, day, outcome, reason) DO UPDATE SET count = vs.count + EXCLUDED.count
  )
  SELECT count(*)::int AS n FROM expired`;

export async function expireVerifications(pool: pg.Pool): Promise<number> {
  const r = await pool.query<{ n: number }>(EXPIRE_AND_COUNT_SQL);
  return r.rows[0]!.n;
}

export interface MaintenanceResult {
  expired: number;
  suspects: string[];
}

export async function runVerificationMaintenance(pool: pg.Pool, metrics: Pick<Metrics, 'smsPumpingSuspected' | 'verificationOutcomes'> | undefined,
  warn: (msg: string, fields: Record<string, unknown>) => void): Promise<MaintenanceResult> {
  const expired = await expireVerifications(pool);
  // The outcomes metric counts an expiry where the statistics do: whoever ends the verification.
  if (expired > 0) metrics?.verificationOutcomes.inc({ outcome: 'expired' }, expired);
  await pruneRateCounters(pool);
  await pruneIdempotencyKeys(pool);
  const suspects = await suspiciousPrefixes(pool, 1, SMS_PUMPING_MIN_SENT, SMS_PUMPING_MAX_CONFIRM_RATE);
  metrics?.smsPumpingSuspected.reset();
  for (const s of suspects) {
    metrics?.smsPumpingSuspected.set({ prefix: s.prefix }, 1);
    // A prefix is a network range, not a person: safe to log.
    warn('SMS pumping suspected: codes sent to this prefix are rarely confirmed', { prefix: s.prefix, sent: s.sent, confirmed: s.confirmed });
  }
  return { expired, suspects: suspects.map((s) => s.prefix) };
}
