/**
 * Whether a number may verify an account (issue 3 "Verification API"; DESIGN.md "Verification
 * methods": a +84 mobile number matched to an active subscription whose holder is a registered,
 * living person, with no recent SIM swap).
 *
 * The precise reason is for internal statistics only: every failure answers the platform with
 * the one code NUMBER_NOT_ELIGIBLE (DESIGN.md invariant 1: a platform must not learn that a holder
 * died or changed SIM). Reads no personal field: everything is decided on blind indexes, statuses
 * and dates.
 */
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { msisdnIndex } from '../registry/row-crypto.ts';
import { junkFlagStandsSql } from '../registry/reconciliation/reconciliation-repository.ts';

export const INELIGIBILITY_REASONS = [
  'no_subscription', 'number_contested', 'subscription_not_active', 'no_holder', 'holder_not_found', 'holder_deceased',
  'holder_data_mismatch', 'junk_sim', 'recent_sim_change', 'recent_device_change', 'account_limit',
] as const;
export type IneligibilityReason = (typeof INELIGIBILITY_REASONS)[number];

export type Eligibility =
  | { eligible: true; subscriptionId: string; personId: string; msisdnBidx: Buffer; bidxVersion: number }
  | { eligible: false; reason: IneligibilityReason; msisdnBidx: Buffer; bidxVersion: number };

export interface EligibilityCandidate {
  /** Null when a caller's outer join found none. */
  id: string | null;
  status: string;
  holder_bidx: Buffer | null;
  sim_changed_at: Date | null;
  device_changed_at: Date | null;
  person_id: string | null;
  person_status: string | null;
  /** The holder's name or birth date, as the carrier has them, differ from the population registry's. */
  mismatched: boolean;
  /** The number is live at another carrier under another holder (or none). */
  contested: boolean;
  flagged: boolean;
}

/**
 * The live subscriptions of a number (blind indexes of every key version: `$1`) at any carrier
 * (the carrier is whichever file holds it), their holder in the population registry, and whether
 * the latest completed reconciliation put them in a junk-SIM category whose cause still stands
 * (reconciliation-repository.ts junkFlagStandsSql); the one that decides first.
 * One probe of the (carrier, number) index per carrier: the registries have no index led by the
 * number alone (it would slow every import), and without the carrier the planner scanned the
 * whole index (docs/benchmarks.md, issue 3).
 *
 * The blind indexes reach the probes through an InitPlan (`(SELECT $1::bytea[])`, cast again so
 * that `ANY` takes it as an array, not as a subquery to compare row by row), so the
 * planner never sees the array's values: the plan does not depend on them (one or two keys, one
 * probe per carrier either way), and a plan that saw them was cheaper in the planner's eyes than
 * the generic one (which assumes ten elements), so PostgreSQL planned the hub's prepared start
 * anew on every call: 0.8 ms of planning per verification against 0.2 ms of execution in the issue 3
 * benchmark. Hidden, custom and generic plans cost the same, and the prepared statement keeps its
 * generic plan (verification-plans.db.test.ts).
 *
 * Two checks do not wait for a reconciliation run (adversarial review of issues 2 and 3): a
 * subscription created or changed since the latest run is in no category yet.
 * - `mismatched`: the holder's name and birth date compared with the registry's, as the
 *   reconciliation's HOLDER_DATA_MISMATCH compares them (the same keyed index), so a number
 *   registered under someone's ID number with another name never verifies that person.
 * - `contested`: the number is live at several carriers (a port whose donor's `ported_out` has not
 *   arrived yet) and they do not name the same holder. Which one holds the SIM is unknown, and the
 *   code would reach the new holder while binding the old one: no one is verified until the
 *   registries agree.
 */
export const ELIGIBILITY_CANDIDATE_SQL = `SELECT s.id, s.status, s.holder_bidx, s.sim_changed_at, s.device_changed_at, p.id AS person_id, p.status AS person_status,
             s.holder_match_bidx IS DISTINCT FROM p.match_bidx AS mismatched,
             first_value(s.holder_bidx) OVER holders IS DISTINCT FROM last_value(s.holder_bidx) OVER holders AS contested,
             ${junkFlagStandsSql('s')} AS flagged
           FROM carriers c
           JOIN LATERAL (SELECT * FROM subscriptions s WHERE s.carrier_id = c.id AND s.msisdn_bidx = ANY(((SELECT $1::bytea[]))::bytea[]) AND s.status <> 'terminated') s ON true
           LEFT JOIN persons p ON p.pid_bidx = s.holder_bidx
           WINDOW holders AS (ORDER BY s.holder_bidx NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
           ORDER BY (s.status = 'active') DESC, s.registered_at DESC
           LIMIT 1`;

/** The number's blind indexes under every key version (the first is the current one's). */
export function numberKeys(ring: KeyRing, e164: string): Buffer[] {
  return ring.blindIndex.map((k) => msisdnIndex(k.key, e164));
}

/** Decides on the candidate `ELIGIBILITY_CANDIDATE_SQL` found (none: no live subscription). */
export function eligibilityOf(
  s: EligibilityCandidate | undefined, msisdnBidx: Buffer, bidxVersion: number, options: { simChangeWindowHours: number; now?: Date },
): Eligibility {
  const no = (reason: IneligibilityReason): Eligibility => ({ eligible: false, reason, msisdnBidx, bidxVersion });
  if (!s || s.id === null) return no('no_subscription');
  if (s.contested) return no('number_contested');
  if (s.status !== 'active') return no('subscription_not_active');
  if (!s.holder_bidx) return no('no_holder');
  if (!s.person_id) return no('holder_not_found');
  if (s.person_status !== 'alive') return no('holder_deceased');
  if (s.mismatched) return no('holder_data_mismatch');
  if (s.flagged) return no('junk_sim');
  const cutoff = (options.now ?? new Date()).getTime() - options.simChangeWindowHours * 3_600_000;
  if (s.sim_changed_at && s.sim_changed_at.getTime() > cutoff) return no('recent_sim_change');
  if (s.device_changed_at && s.device_changed_at.getTime() > cutoff) return no('recent_device_change');
  return { eligible: true, subscriptionId: s.id, personId: s.person_id, msisdnBidx, bidxVersion };
}

/** The prefix a number is counted under for SMS-pumping statistics: +84 and three digits. */
export function numberPrefix(e164: string): string {
  return e164.slice(0, 6);
}
