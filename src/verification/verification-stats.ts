/**
 * Verification statistics (issue 3 "SDK and console": started, confirmed, failed by reason).
 * A provider sees its own counts with eligibility reasons summed as `not_eligible` (DESIGN.md
 * invariant 1); the regulator sees the precise internal reasons and the SMS-pumping suspects.
 */
import type pg from 'pg';
import type { Provider } from '../providers/provider-service.ts';
import { outcomeStats, suspiciousPrefixes } from './verification-repository.ts';

export interface DayStats {
  day: string;
  started: number;
  confirmed: number;
  failed: Record<string, number>;
}

/** Outcomes a provider may see by name; every eligibility reason is `not_eligible`. */
function publicReason(outcome: string, reason: string): string | undefined {
  switch (outcome) {
    case 'not_eligible': return 'not_eligible';
    case 'failed': return reason === 'number_not_eligible' ? 'not_eligible' : reason;
    case 'wrong_code': case 'expired': case 'sms_failed': return outcome;
    case 'rate_limited': return `rate_limited:${reason}`;
    default: return undefined;
  }
}

function fold(rows: { day: string; outcome: string; reason: string; count: string }[], reasonOf: (o: string, r: string) => string | undefined): DayStats[] {
  const days = new Map<string, DayStats>();
  for (const row of rows) {
    let d = days.get(row.day);
    if (!d) {
      d = { day: row.day, started: 0, confirmed: 0, failed: {} };
      days.set(row.day, d);
    }
    const n = Number(row.count);
    if (row.outcome === 'started') d.started += n;
    else if (row.outcome === 'confirmed') d.confirmed += n;
    else {
      const k = reasonOf(row.outcome, row.reason);
      if (k) d.failed[k] = (d.failed[k] ?? 0) + n;
    }
  }
  return [...days.values()];
}

export async function providerVerificationStats(pool: pg.Pool, provider: Provider, days: number): Promise<DayStats[]> {
  return fold(await outcomeStats(pool, provider.id, days), publicReason);
}

export async function adminVerificationStats(pool: pg.Pool, days: number) {
  const daily = fold(await outcomeStats(pool, null, days), (o, r) => (o === 'resent' ? undefined : r ? `${o}:${r}` : o));
  return { days: daily, sms_pumping_suspects: await suspiciousPrefixes(pool, 1, SMS_PUMPING_MIN_SENT, SMS_PUMPING_MAX_CONFIRM_RATE) };
}

/** A prefix is suspect when at least this many codes went to it in the last hour ... */
export const SMS_PUMPING_MIN_SENT = 50;
/** ... and fewer than this share were confirmed (real people confirm most codes they ask for). */
export const SMS_PUMPING_MAX_CONFIRM_RATE = 0.2;
