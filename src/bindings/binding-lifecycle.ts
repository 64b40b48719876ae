/**
 * Bindings follow the subscription and the person (issue 3; DESIGN.md invariant 7, "a number is
 * not a person"). When the registries change, every binding made through the number or of the
 * person moves on, in the same transaction as the registry change:
 *
 * - SIM change of the number: `verified` -> `needs_reverification`;
 * - termination, a new holder, porting out, or the holder's death: -> `revoked`. Porting out
 *   ends the subscription the binding was made through; the new carrier's `ported_in` is a new
 *   subscription whose holder is only known once it arrives, so the binding is not carried over
 *   (docs/platforms.md, "Status").
 *
 * The reason is stored (account_changes, accounts.status_reason) for the person's own view and
 * the regulator's statistics; the platform's event carries only the new status (invariant 1).
 * Each function is one SQL statement that updates the accounts and writes their events through
 * the outbox, so the registry change, the binding change and the event commit or fail together.
 */
import type pg from 'pg';
import { outboxCtes, type AccountEventType } from '../events/outbox.ts';

type Db = pg.Pool | pg.PoolClient;

/**
 * A SIM change reported up to this long before a binding's verification also flags it: the
 * change may have been made between the code being sent and confirmed, and reported late by the
 * carrier (a number swapped within the eligibility window must not stay verified). The default
 * eligibility window (IDBIND_SIM_CHANGE_WINDOW_HOURS); callers that have the configuration pass
 * the configured one (`simChangeWindowHours`), so that the lifecycle and the eligibility agree: a
 * longer window must flag what the number would have been refused for, a shorter one must not
 * flag a binding the number was eligible for.
 */
export const REVERIFY_WINDOW_HOURS = 72;

export type RevocationReason = 'terminated' | 'holder_changed' | 'ported_out' | 'deceased';

const LIVE = `('verified', 'needs_reverification')`;

/**
 * One statement: the accounts matched move to `status` with their events (outbox). `also` adds
 * conditions (and `from` relations) that PostgreSQL checks again on the account's latest version
 * should a concurrent change of it commit first (READ COMMITTED's re-check of an updated row).
 */
async function transition(db: Db, where: string, ids: readonly string[], status: 'revoked' | 'needs_reverification', reason: string, type: AccountEventType, fromStatuses: string,
  also: { from: string; where: string } = { from: '', where: '' }): Promise<number> {
  if (ids.length === 0) return 0;
  const r = await db.query<{ n: string }>(
    `WITH changed AS (
       UPDATE accounts a SET status = $2, status_reason = $3, sequence = a.sequence + 1, status_since = now()
       ${also.from}
       WHERE ${where} = ANY($1::uuid[]) AND a.status IN ${fromStatuses} ${also.where}
       RETURNING a.*
     ),${outboxCtes('$4')}
     SELECT count(*) AS n FROM changed`,
    [ids, status, reason, type],
  );
  return Number(r.rows[0]!.n);
}

/** Revokes every live binding made through these subscriptions. Returns how many changed. */
export function revokeBindingsOfSubscriptions(db: Db, subscriptionIds: readonly string[], reason: Exclude<RevocationReason, 'deceased'>): Promise<number> {
  return transition(db, 'a.subscription_id', subscriptionIds, 'revoked', reason, 'account.revoked', LIVE);
}

/** Revokes every live binding of these persons (death). */
export function revokeBindingsOfPersons(db: Db, personIds: readonly string[], reason: 'deceased'): Promise<number> {
  return transition(db, 'a.person_id', personIds, 'revoked', reason, 'account.revoked', LIVE);
}

/**
 * Verified bindings made through these subscriptions whose SIM changed after the binding's
 * verification, or up to {@link REVERIFY_WINDOW_HOURS} before it, need re-verification. The rule
 * is each binding's own, not the number's: a SIM change reported late (a full file, weeks after
 * it happened) concerns the bindings made before it, not one made through the same number once
 * the change had left the window, which the number would have passed even had it been known. A
 * binding re-verified (or re-bound through another number) while this runs is judged on its new
 * verification.
 */
export function flagBindingsOfSimChangedSubscriptions(db: Db, subscriptionIds: readonly string[], windowHours = REVERIFY_WINDOW_HOURS): Promise<number> {
  // Written into the statement: an integer only (the configuration's IDBIND_SIM_CHANGE_WINDOW_HOURS is).
  if (!Number.isInteger(windowHours) || windowHours < 0) throw new RangeError('windowHours: a non-negative integer');
  return transition(db, 'a.subscription_id', subscriptionIds, 'needs_reverification', 'sim_changed', 'account.needs_reverification', `('verified')`, {
    from: 'FROM subscriptions s',
    where: `AND s.id = a.subscription_id AND s.status <> 'terminated'
            AND s.sim_changed_at > a.verified_at - make_interval(hours => ${windowHours})`,
  });
}

/**
 * Verified bindings made through these subscriptions need re-verification: the number was ported
 * in at another carrier under another holder while these are still live (the donor's `ported_out`
 * not received yet). Who holds the SIM is unknown until the registries agree; the binding is not
 * revoked on one carrier's word, and the number verifies no one meanwhile (phone-eligibility.ts).
 */
export function flagBindingsOfContestedSubscriptions(db: Db, subscriptionIds: readonly string[]): Promise<number> {
  return transition(db, 'a.subscription_id', subscriptionIds, 'needs_reverification', 'ported_in_elsewhere', 'account.needs_reverification', `('verified')`);
}

/**
 * After a batch of registry updates: applies the rules to the subscriptions and persons it
 * touched, from their stored state (a terminated subscription revokes; a SIM changed after the
 * binding was verified, or within the SIM-change window before it, flags; a deceased person
 * revokes). Cheap when nothing is bound to them. `simChangeWindowHours`: the configured window
 * (default {@link REVERIFY_WINDOW_HOURS}).
 */
export async function applyRegistryStateToBindings(db: Db, touched: { subscriptionIds?: readonly string[]; personIds?: readonly string[] },
  simChangeWindowHours: number = REVERIFY_WINDOW_HOURS): Promise<void> {
  const subs = touched.subscriptionIds ?? [];
  if (subs.length > 0) {
    const r = await db.query<{ id: string; status: string; ended_reason: string | null; sim_changed_at: Date | null; account_status: string }>(
      `SELECT s.id, s.status, s.ended_reason, s.sim_changed_at, a.status AS account_status
       FROM accounts a JOIN subscriptions s ON s.id = a.subscription_id
       WHERE a.subscription_id = ANY($1::uuid[]) AND a.status IN ${LIVE}`,
      [subs],
    );
    const byReason = new Map<string, string[]>();
    const flag: string[] = [];
    for (const row of r.rows) {
      if (row.status === 'terminated') {
        const reason = row.ended_reason === 'holder_changed' || row.ended_reason === 'ported_out' ? row.ended_reason : 'terminated';
        byReason.set(reason, [...(byReason.get(reason) ?? []), row.id]);
      } else if (row.account_status === 'verified' && row.sim_changed_at) {
        flag.push(row.id);
      }
    }
    for (const [reason, ids] of byReason) await revokeBindingsOfSubscriptions(db, [...new Set(ids)], reason as Exclude<RevocationReason, 'deceased'>);
    // The statement applies the rule to each binding (flagBindingsOfSimChangedSubscriptions): of
    // the number's verified bindings, only those its SIM change concerns.
    await flagBindingsOfSimChangedSubscriptions(db, [...new Set(flag)], simChangeWindowHours);
  }
  const persons = touched.personIds ?? [];
  if (persons.length > 0) {
    const r = await db.query<{ id: string }>(
      `SELECT DISTINCT p.id FROM persons p JOIN accounts a ON a.person_id = p.id
       WHERE p.id = ANY($1::uuid[]) AND p.status = 'deceased' AND a.status IN ${LIVE}`,
      [persons],
    );
    await revokeBindingsOfPersons(db, r.rows.map((x) => x.id), 'deceased');
  }
}
