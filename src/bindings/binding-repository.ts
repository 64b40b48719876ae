/** SQL of accounts, bindings and pseudonyms. */
import type pg from 'pg';
import { outboxCtes } from '../events/outbox.ts';
import { liveElsewhereUnderAnotherHolderSql } from '../registry/registry-lookup.ts';

type Db = pg.Pool | pg.PoolClient;

export type AccountStatus = 'verified' | 'needs_reverification' | 'revoked' | 'unbound';
export type Level = 'low' | 'substantial' | 'high';
export type Method = 'phone' | 'eid' | 'chip';

export interface AccountStatusRow {
  account_ref: string;
  status: AccountStatus;
  level: Level | null;
  pseudonym: string | null;
  status_since: Date;
  verified_at: Date | null;
  /** A minor's account (Decree 147/2024 Art. 27), until the person turns 16. */
  minor: boolean;
}

// One index probe of one table: the account carries a copy of its pseudonym (migration 0005).
const STATUS_SELECT = `SELECT a.account_ref, a.status, a.level, a.pseudonym, a.status_since, a.verified_at, a.minor FROM accounts a`;

export async function accountStatus(db: Db, providerId: string, accountRef: string): Promise<AccountStatusRow | undefined> {
  const r = await db.query<AccountStatusRow>({
    name: 'account_status',
    text: `${STATUS_SELECT} WHERE a.provider_id = $1 AND a.account_ref = $2`,
    values: [providerId, accountRef],
  });
  return r.rows[0];
}

export async function accountStatuses(db: Db, providerId: string, accountRefs: readonly string[]): Promise<AccountStatusRow[]> {
  const r = await db.query<AccountStatusRow>({
    name: 'account_statuses',
    text: `${STATUS_SELECT} WHERE a.provider_id = $1 AND a.account_ref = ANY($2::text[])`,
    values: [providerId, accountRefs],
  });
  return r.rows;
}

/**
 * The person's pseudonym at the provider, created on first use, and the row locked for the rest
 * of the transaction: binds of one person at one provider are serialised, so the
 * accounts-per-person limit holds under concurrency.
 */
export async function lockPseudonym(client: pg.PoolClient, personId: string, providerId: string, fresh: string): Promise<string> {
  // One statement: the no-op update of an existing row locks it and returns the stored pseudonym.
  const r = await client.query<{ pseudonym: string }>({
    name: 'lock_pseudonym',
    text: `INSERT INTO pseudonyms AS ps (person_id, provider_id, pseudonym) VALUES ($1, $2, $3)
           ON CONFLICT (person_id, provider_id) DO UPDATE SET pseudonym = ps.pseudonym RETURNING pseudonym`,
    values: [personId, providerId, fresh],
  });
  return r.rows[0]!.pseudonym;
}

/** Share-locks a subscription until the transaction ends (a binding through it; bindAccount). */
export async function lockSubscription(client: pg.PoolClient, subscriptionId: string): Promise<void> {
  await client.query({ name: 'lock_subscription', text: 'SELECT 1 FROM subscriptions WHERE id = $1 FOR SHARE', values: [subscriptionId] });
}

/**
 * Removes the person's pseudonym at the provider that the caller's transaction has just created
 * (lockPseudonym's statement answered a new row) when nothing was bound after all: a pseudonym
 * exists for a (person, provider) only once an account was bound (issue 3 "Pseudonym").
 */
export async function forgetNewPseudonym(client: pg.PoolClient, personId: string, providerId: string): Promise<void> {
  await client.query(
    `DELETE FROM pseudonyms ps WHERE ps.person_id = $1 AND ps.provider_id = $2
       AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.person_id = $1 AND a.provider_id = $2)`,
    [personId, providerId],
  );
}

/**
 * The accounts-per-person count as an SQL subquery over the given expressions: the person's live
 * accounts at the provider other than one ref. Shared with the verification start's combined
 * statement (verification-repository.ts startChecks), so the early check and the binding's count
 * under lock are the same count.
 */
export function otherLiveAccountsSql(person: string, provider: string, accountRef: string): string {
  return `SELECT count(*) FROM accounts a WHERE a.person_id = ${person} AND a.provider_id = ${provider} AND a.account_ref <> ${accountRef}
            AND a.status IN ('verified', 'needs_reverification')`;
}

export interface BoundAccount {
  id: string;
  account_ref: string;
  level: Level;
  sequence: string;
  verified_at: Date;
}

/**
 * The binding statement (bindAccount), exported for the plan test (verification-plans.db.test.ts).
 * Parameters: $1 new account id, $2 provider, $3 account ref, $4 person, $5 subscription,
 * $6 method, $7 level, $8 event type, $9 pseudonym, $10 guardian, $11 actor, $12 binding's access
 * detail, $13 the accounts-per-person limit, $14 the verification completed by this binding (or
 * NULL), $15 the access detail of the age check when the limit refuses (with $14 only).
 */
export const BIND_ACCOUNT_SQL = `WITH allowed AS (SELECT (${otherLiveAccountsSql('$4::uuid', '$2::uuid', '$3::text')}) < $13::int AS below_limit,
                            NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = $5::uuid AND ${liveElsewhereUnderAnotherHolderSql('s')}) AS uncontested),
     changed AS (
       INSERT INTO accounts AS a (id, provider_id, account_ref, person_id, subscription_id, method, level, status, status_reason, sequence, verified_at, status_since, pseudonym,
                                  minor, guardian_person_id, guardian_consent_at)
       SELECT $1, $2, $3, $4, $5, $6, $7, 'verified', 'verified', 1, now(), now(), $9, $10::uuid IS NOT NULL, $10, CASE WHEN $10::uuid IS NULL THEN NULL ELSE now() END
       FROM allowed WHERE allowed.below_limit AND allowed.uncontested
       ON CONFLICT (provider_id, account_ref) DO UPDATE SET person_id = EXCLUDED.person_id, subscription_id = EXCLUDED.subscription_id, pseudonym = EXCLUDED.pseudonym,
         method = EXCLUDED.method, level = EXCLUDED.level, status = 'verified', status_reason = 'verified', sequence = a.sequence + 1,
         verified_at = now(), status_since = now(), minor = EXCLUDED.minor, guardian_person_id = EXCLUDED.guardian_person_id, guardian_consent_at = EXCLUDED.guardian_consent_at
       RETURNING a.*
     ),${outboxCtes('$8')},
     access AS (
       INSERT INTO access_records (person_id, purpose, actor, detail) SELECT c.person_id, 'account_binding', $11, $12::jsonb FROM changed c
     ),
     refused_access AS (
       INSERT INTO access_records (person_id, purpose, actor, detail) SELECT $4, 'age_check', $11, $15::jsonb FROM allowed WHERE NOT allowed.below_limit AND allowed.uncontested AND $14::uuid IS NOT NULL
     ),
     finished AS (
       UPDATE verifications v SET status = CASE WHEN allowed.below_limit AND allowed.uncontested THEN 'verified' ELSE 'failed' END,
         failure = CASE WHEN NOT allowed.uncontested THEN 'not_eligible_at_confirm' WHEN NOT allowed.below_limit THEN 'account_limit' END,
         account_id = coalesce((SELECT c.id FROM changed c), v.account_id), completed_at = now(), sealed = NULL, dek_version = NULL
       FROM allowed WHERE v.id = $14::uuid AND v.status = 'code_sent'
     )
     SELECT c.id, c.account_ref, c.level, c.sequence, c.verified_at, allowed.below_limit, allowed.uncontested FROM allowed LEFT JOIN changed c ON true`;

/**
 * Binds (or re-binds) the account, writes its `account.verified` event and the person's
 * `account_binding` access record (DESIGN.md invariant 4), in one statement, if the person has
 * fewer than `accountsPerPerson` other live accounts at the provider and the number it was proved
 * through is not contested; otherwise binds nothing and says why (`refused`). The caller holds
 * the person's pseudonym row at the provider locked (lockPseudonym) in an earlier statement of its
 * transaction: every binder of the person at the provider locks it before binding, so the count,
 * taken with this statement's snapshot, sees every binding committed before the lock was granted
 * and none can commit before ours does.
 *
 * Contested number (registry-lookup.ts liveElsewhereUnderAnotherHolderSql): the caller also holds
 * the subscription share-locked since an earlier statement, and a carrier's port-in locks the
 * donor's subscription before it flags that subscription's bindings
 * (import-repository.ts contestedSubscriptions). Whichever commits first, the other sees it: a
 * port-in that held the lock first is visible to this later statement's snapshot (refused), and
 * one that waited for ours flags the binding we made. The confirmation's own re-check cannot see
 * it: its snapshot is taken before it waits for the lock.
 *
 * With `verification`, the same statement completes the phone verification that proved the
 * number: `verified` with this account, or `failed` (`account_limit`, with an `age_check` access
 * record since the birth date was read for the age check; or `not_eligible_at_confirm`). One round
 * trip of the confirmation instead of four (issue 3 benchmark, docs/benchmarks.md).
 */
export async function bindAccount(client: pg.PoolClient, b: {
  id: string; providerId: string; accountRef: string; personId: string; subscriptionId: string | null; method: Method; level: Level; pseudonym: string;
  guardianPersonId: string | null;
  accountsPerPerson: number;
  /** The person's access record: who bound (`provider:<id>`) and what (no personal field). */
  access: { actor: string; detail: Record<string, unknown> };
  verification?: { id: string; ageCheckDetail: Record<string, unknown> };
}): Promise<{ bound: BoundAccount } | { refused: 'account_limit' | 'number_contested' }> {
  const r = await client.query<{ [K in keyof BoundAccount]: BoundAccount[K] | null } & { below_limit: boolean; uncontested: boolean }>({
    name: 'bind_account',
    text: BIND_ACCOUNT_SQL,
    values: [b.id, b.providerId, b.accountRef, b.personId, b.subscriptionId, b.method, b.level, 'account.verified', b.pseudonym, b.guardianPersonId,
      b.access.actor, JSON.stringify(b.access.detail), b.accountsPerPerson, b.verification?.id ?? null,
      b.verification ? JSON.stringify(b.verification.ageCheckDetail) : null],
  });
  const { below_limit, uncontested, ...row } = r.rows[0]!;
  if (!uncontested) return { refused: 'number_contested' };
  if (!below_limit || row.id === null) return { refused: 'account_limit' };
  return { bound: row as BoundAccount };
}

/** Unbinds a live or revoked account (the platform closed it) and writes `account.unbound`. */
export async function unbindAccount(db: Db, providerId: string, accountRef: string): Promise<boolean> {
  const r = await db.query<{ n: string }>(
    `WITH changed AS (
       UPDATE accounts a SET status = 'unbound', status_reason = 'account_closed', sequence = a.sequence + 1, status_since = now()
       WHERE a.provider_id = $1 AND a.account_ref = $2 AND a.status <> 'unbound'
       RETURNING a.*
     ),${outboxCtes('$3')}
     SELECT count(*) AS n FROM changed`,
    [providerId, accountRef, 'account.unbound'],
  );
  return Number(r.rows[0]!.n) > 0;
}

/**
 * The person unbinds one of their own accounts from their view (issue 5): `account.unbound` to
 * the platform as for any unbinding (the event carries no reason), `unbound_by_person` kept for
 * the person's history. Only a live or revoked account bound to that person; false otherwise.
 */
export async function unbindAccountOfPerson(db: Db, personId: string, accountId: string): Promise<{ provider_id: string; account_ref: string } | undefined> {
  const r = await db.query<{ provider_id: string; account_ref: string }>(
    `WITH changed AS (
       UPDATE accounts a SET status = 'unbound', status_reason = 'unbound_by_person', sequence = a.sequence + 1, status_since = now()
       WHERE a.id = $1 AND a.person_id = $2 AND a.status <> 'unbound'
       RETURNING a.*
     ),${outboxCtes('$3')}
     SELECT provider_id, account_ref FROM changed`,
    [accountId, personId, 'account.unbound'],
  );
  return r.rows[0];
}
