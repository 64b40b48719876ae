/** SQL of verification sessions, their statistics and the SMS-pumping counters. */
import type pg from 'pg';
import { hitSql, windowStartSql, type HitRow } from '../kernel/db/rate-counters.ts';
import { junkFlagStandsSql } from '../registry/reconciliation/reconciliation-repository.ts';
import { otherLiveAccountsSql } from '../bindings/binding-repository.ts';
import { liveElsewhereUnderAnotherHolderSql } from '../registry/registry-lookup.ts';
import { ELIGIBILITY_CANDIDATE_SQL, type EligibilityCandidate } from './phone-eligibility.ts';

type Db = pg.Pool | pg.PoolClient;

export type VerificationStatus = 'code_sent' | 'verified' | 'failed' | 'expired' | 'guardian_required';

export interface VerificationRow {
  id: string;
  provider_id: string;
  account_ref: string;
  status: VerificationStatus;
  failure: string | null;
  msisdn_bidx: Buffer | null;
  bidx_version: number | null;
  number_prefix: string | null;
  sealed: Buffer | null;
  dek_version: number | null;
  subscription_id: string | null;
  person_id: string | null;
  code_hmac: Buffer | null;
  code_key_version: number | null;
  code_expires_at: Date | null;
  attempts: number;
  sends: number;
  last_sent_at: Date | null;
  consumed_at: Date | null;
  account_id: string | null;
  created_at: Date;
  completed_at: Date | null;
}

export async function insertVerification(db: Db, v: {
  id: string; providerId: string; accountRef: string; msisdnBidx: Buffer; bidxVersion: number; numberPrefix: string; sealed: Buffer; dekVersion: number; subscriptionId: string; personId: string;
  codeHmac: Buffer; codeKeyVersion: number; ttlSeconds: number;
}): Promise<Date> {
  const r = await db.query<{ code_expires_at: Date }>({
    name: 'insert_verification',
    text: `INSERT INTO verifications (id, provider_id, account_ref, method, msisdn_bidx, bidx_version, number_prefix, sealed, dek_version,
             subscription_id, person_id, status, code_hmac, code_key_version, code_expires_at, sends, last_sent_at)
           VALUES ($1, $2, $3, 'phone', $4, $5, $6, $7, $8, $9, $10, 'code_sent', $11, $12, now() + make_interval(secs => $13), 1, now())
           RETURNING code_expires_at`,
    values: [v.id, v.providerId, v.accountRef, v.msisdnBidx, v.bidxVersion, v.numberPrefix, v.sealed, v.dekVersion, v.subscriptionId, v.personId,
      v.codeHmac, v.codeKeyVersion, v.ttlSeconds],
  });
  return r.rows[0]!.code_expires_at;
}

export const START_CHECKS_SQL = `WITH hits AS (${hitSql('$2', '$6', '1')}),
                cand AS (${ELIGIBILITY_CANDIDATE_SQL})
           SELECT (SELECT json_agg(json_build_object('bucket', bucket, 'count', count, 'elapsed', elapsed, 'window_start', window_start)) FROM hits) AS hits, cand.*,
             CASE WHEN $5::boolean AND cand.person_id IS NOT NULL THEN (${otherLiveAccountsSql('cand.person_id', '$3', '$4')}) END AS live_accounts
           FROM (SELECT 1) one LEFT JOIN cand ON true`;

/**
 * The checks of a start that need the database, in one statement (issue 3 throughput): one hit
 * counted in each of the number's exact buckets (`hitLimits`' counting), the number's eligibility
 * candidate, and the holder's other live accounts at this provider (the early accounts-per-person
 * check, binding-repository.ts otherLiveAccountsSql; the binding re-checks it under lock). The
 * eligibility was always decided before the limits were counted, whatever they answer: reading it
 * in the same statement reveals nothing more.
 */
export async function startChecks(db: Db, s: {
  numberKeys: Buffer[]; buckets: string[]; windows: number[]; providerId: string; accountRef: string; countAccounts: boolean;
}): Promise<{ hits: HitRow[]; candidate: EligibilityCandidate | undefined; liveAccounts: number }> {
  const r = await db.query<EligibilityCandidate & { hits: HitRow[] | null; live_accounts: string | null }>({
    name: 'verification_start_checks',
    text: START_CHECKS_SQL,
    values: [s.numberKeys, s.buckets, s.providerId, s.accountRef, s.countAccounts, s.windows],
  });
  const row = r.rows[0]!;
  return { hits: row.hits ?? [], candidate: row.id === null ? undefined : row, liveAccounts: Number(row.live_accounts ?? 0) };
}

/**
 * The statements that find one verification by its id, exported for the plan test
 * (verification-plans.db.test.ts): each must be planned onto the primary key, whatever the
 * table's statistics (migration 0019).
 */
export const COUNT_ATTEMPT_WITHIN_BUDGET_SQL = `WITH v AS (SELECT msisdn_bidx FROM verifications
              WHERE id = $1 AND provider_id = $2 AND status = 'code_sent' AND consumed_at IS NULL AND code_expires_at > now() AND msisdn_bidx IS NOT NULL),
        hit AS (INSERT INTO rate_counters AS rc (bucket, window_start, count)
                SELECT 'otp:number-d:' || rtrim(translate(encode(v.msisdn_bidx, 'base64'), '+/' || chr(10), '-_'), '='),
                       ${windowStartSql('86400')}, 1
                FROM v
                ON CONFLICT (bucket, window_start) DO UPDATE SET count = rc.count + 1
                RETURNING count, extract(epoch FROM now() - window_start)::float8 AS elapsed),
        upd AS (UPDATE verifications SET attempts = attempts + 1
                WHERE id = $1 AND provider_id = $2 AND status = 'code_sent' AND consumed_at IS NULL AND attempts < $3 AND code_expires_at > now()
                  AND (SELECT count FROM hit) <= $4
                RETURNING *)
   SELECT hit.count AS otp_count, hit.elapsed AS otp_elapsed, upd.* FROM hit LEFT JOIN upd ON true`;

const CONSUME_CODE_SQL = `UPDATE verifications SET consumed_at = now() WHERE id = $1 AND consumed_at IS NULL AND status = 'code_sent' AND code_expires_at > now() RETURNING id`;

/**
 * The verification's holder ($3) if still eligible through its subscription ($2), share-locked:
 * the same living holder, the subscription active, its holder's name and birth date those of the
 * registry (phone-eligibility.ts `mismatched`), no SIM or device change in the last $4 hours, no
 * junk-SIM category of the latest reconciliation that still stands (junkFlagStandsSql), and the
 * number live at no other carrier under another holder (`contested`: a port-in committed between
 * the start and the confirmation). `from` adds relations to the FROM list.
 */
function eligibleHolderSql(from = '', p = { subscription: '$2', person: '$3', hours: '$4' }, lock = true): string {
  return `SELECT p.sealed, p.dek_version FROM ${from}subscriptions s JOIN persons p ON p.pid_bidx = s.holder_bidx
             WHERE s.id = ${p.subscription} AND s.status = 'active' AND p.id = ${p.person} AND p.status = 'alive' AND s.holder_match_bidx IS NOT DISTINCT FROM p.match_bidx
               AND (s.sim_changed_at IS NULL OR s.sim_changed_at <= now() - make_interval(hours => ${p.hours}))
               AND (s.device_changed_at IS NULL OR s.device_changed_at <= now() - make_interval(hours => ${p.hours}))
               AND NOT ${junkFlagStandsSql('s')}
               AND NOT ${liveElsewhereUnderAnotherHolderSql('s')}
             ${lock ? 'FOR SHARE OF s, p' : ''}`;
}

/**
 * Whether the verification's holder would still pass the confirmation's re-check (no lock: a
 * resend decides only whether a new code may leave; the confirmation re-checks under lock).
 */
export async function holderStillEligible(db: Db, subscriptionId: string, personId: string, simChangeWindowHours: number): Promise<boolean> {
  const r = await db.query({
    name: 'holder_still_eligible',
    text: eligibleHolderSql('', { subscription: '$1', person: '$2', hours: '$3' }, false),
    values: [subscriptionId, personId, simChangeWindowHours],
  });
  return r.rows.length > 0;
}

/**
 * The hosted flow binds minutes after the code was confirmed (consent, guardians): the holder is
 * re-checked as the confirmation re-checks it, and share-locked until the binding commits, so a
 * SIM change, death or port reported meanwhile either is seen here or sees the binding.
 */
export async function lockEligibleHolder(client: pg.PoolClient, subscriptionId: string, personId: string, simChangeWindowHours: number): Promise<boolean> {
  const r = await client.query({
    name: 'lock_eligible_holder',
    text: eligibleHolderSql('', { subscription: '$1', person: '$2', hours: '$3' }),
    values: [subscriptionId, personId, simChangeWindowHours],
  });
  return r.rows.length > 0;
}

export const CONSUME_AND_RECHECK_SQL = `WITH c AS (${CONSUME_CODE_SQL})
           SELECT e.sealed, e.dek_version FROM c LEFT JOIN (
             ${eligibleHolderSql()}) e ON true`;

/**
 * CONSUME_AND_RECHECK_SQL for a confirmation that binds: when the holder is still eligible, the
 * same statement also takes the person's pseudonym row at the provider, created on first use and
 * locked until the transaction ends (lockPseudonym's statement, binding-repository.ts), so that
 * the binding that follows counts the person's accounts under that lock. One round trip fewer.
 * Parameters: those of CONSUME_AND_RECHECK_SQL, then $5 the provider and $6 a fresh pseudonym.
 */
export const CONSUME_RECHECK_AND_LOCK_SQL = `WITH c AS (${CONSUME_CODE_SQL}),
     e AS (${eligibleHolderSql('c, ')}),
     taken AS (INSERT INTO pseudonyms AS ps (person_id, provider_id, pseudonym) SELECT $3, $5, $6 FROM e
               ON CONFLICT (person_id, provider_id) DO UPDATE SET pseudonym = ps.pseudonym
               RETURNING pseudonym, xmax = 0 AS created)
   SELECT e.sealed, e.dek_version, t.pseudonym, t.created AS pseudonym_created FROM c LEFT JOIN e ON true LEFT JOIN taken t ON true`;

export const FIND_VERIFICATION_SQL = 'SELECT * FROM verifications WHERE id = $1 AND provider_id = $2';

export const FINISH_VERIFICATION_SQL = `UPDATE verifications SET status = $2, failure = $3, account_id = coalesce($4, account_id), completed_at = now(), sealed = NULL, dek_version = NULL
           WHERE id = $1 AND status = 'code_sent'`;

export const REPLACE_CODE_SQL = `UPDATE verifications SET code_hmac = $2, code_key_version = $3, code_expires_at = now() + make_interval(secs => $4),
       sends = sends + 1, last_sent_at = now()
     WHERE id = $1 AND status = 'code_sent' AND consumed_at IS NULL AND code_expires_at > now() AND sends < $5 AND last_sent_at <= now() - make_interval(secs => $6)
     RETURNING code_expires_at`;

/**
 * Puts back the code a resend replaced, when the gateway refused the new one: the person still
 * holds the previous code, and the resend slot and its wait are given back (the row as it was before
 * the resend). Only if the new code
 * is still the verification's (nothing consumed or replaced it since).
 */
export const RESTORE_CODE_SQL = `UPDATE verifications SET code_hmac = $3, code_key_version = $4, code_expires_at = $5, sends = $7, last_sent_at = $6
     WHERE id = $1 AND code_hmac = $2 AND status = 'code_sent' AND consumed_at IS NULL`;

/**
 * A typed code's budgets in one statement: one hit counted in the number's daily budget of typed
 * codes (`otp:number-d:<blind index>`, exact: `hitLimits`' counting) while the verification can
 * take a code, and the attempt counted before the check (one conditional update)
 * only if that budget holds. `otp` is undefined when the verification cannot take a code (closed,
 * consumed, expired or not this provider's): nothing was counted; `row` is undefined when the
 * per-number budget refused or the attempts are spent (or a concurrent confirm closed it).
 */
export async function countAttemptWithinBudget(db: Db, providerId: string, id: string, maxAttempts: number, numberAttemptsPerDay: number): Promise<{
  otp?: { count: number; elapsed: number }; row?: VerificationRow;
}> {
  const r = await db.query<VerificationRow & { otp_count: number; otp_elapsed: number }>({
    name: 'count_attempt_within_budget',
    text: COUNT_ATTEMPT_WITHIN_BUDGET_SQL,
    values: [id, providerId, maxAttempts, numberAttemptsPerDay],
  });
  const row = r.rows[0];
  if (!row) return {};
  const { otp_count, otp_elapsed, ...verification } = row;
  return { otp: { count: otp_count, elapsed: otp_elapsed }, row: verification.id === null ? undefined : verification as VerificationRow };
}

/**
 * Consumes the code and re-checks the holder in one statement, inside the confirmation's
 * transaction: undefined when the code was already consumed (exactly one of any number of
 * concurrent callers consumes it: one conditional update); otherwise the holder's
 * sealed record when still eligible (the same living holder, the subscription active, no SIM or
 * device change in the window, no junk flag), share-locked until the transaction ends, or null.
 */
export async function consumeAndRecheck(client: pg.PoolClient, v: { id: string; subscription_id: string | null; person_id: string | null }, simChangeWindowHours: number): Promise<
  { holder: { sealed: Buffer; dek_version: number } | null } | undefined
> {
  const r = await client.query<{ sealed: Buffer | null; dek_version: number | null }>({
    name: 'consume_and_recheck',
    text: CONSUME_AND_RECHECK_SQL,
    values: [v.id, v.subscription_id, v.person_id, simChangeWindowHours],
  });
  const row = r.rows[0];
  if (!row) return undefined;
  return { holder: row.sealed && row.dek_version !== null ? { sealed: row.sealed, dek_version: row.dek_version } : null };
}

/**
 * consumeAndRecheck for a confirmation that binds (CONSUME_RECHECK_AND_LOCK_SQL): with an
 * eligible holder, also the person's pseudonym at the provider, its row locked until the
 * transaction ends.
 */
export async function consumeRecheckAndLock(client: pg.PoolClient, v: { id: string; subscription_id: string | null; person_id: string | null }, simChangeWindowHours: number,
  providerId: string, freshPseudonym: string): Promise<{ holder: { sealed: Buffer; dek_version: number; pseudonym: string; pseudonymCreated: boolean } | null } | undefined> {
  const r = await client.query<{ sealed: Buffer | null; dek_version: number | null; pseudonym: string | null; pseudonym_created: boolean | null }>({
    name: 'consume_recheck_and_lock',
    text: CONSUME_RECHECK_AND_LOCK_SQL,
    values: [v.id, v.subscription_id, v.person_id, simChangeWindowHours, providerId, freshPseudonym],
  });
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    holder: row.sealed && row.dek_version !== null && row.pseudonym
      ? { sealed: row.sealed, dek_version: row.dek_version, pseudonym: row.pseudonym, pseudonymCreated: row.pseudonym_created === true }
      : null,
  };
}

export async function findVerification(db: Db, providerId: string, id: string): Promise<VerificationRow | undefined> {
  const r = await db.query<VerificationRow>({
    name: 'find_verification',
    text: FIND_VERIFICATION_SQL,
    values: [id, providerId],
  });
  return r.rows[0];
}

/** Ends an open verification; false when it was no longer open (another request or the expiry sweep ended it first). */
export async function finishVerification(db: Db, id: string, status: VerificationStatus, failure: string | null, accountId: string | null = null): Promise<boolean> {
  const r = await db.query({
    name: 'finish_verification',
    text: FINISH_VERIFICATION_SQL,
    values: [id, status, failure, accountId],
  });
  return (r.rowCount ?? 0) > 0;
}

/** A new code for the same session: the attempt count is kept (a resend never resets it). */
export async function replaceCode(db: Db, id: string, codeHmac: Buffer, codeKeyVersion: number, ttlSeconds: number, maxSends: number, minIntervalSeconds: number): Promise<Date | undefined> {
  const r = await db.query<{ code_expires_at: Date }>(
    REPLACE_CODE_SQL,
    [id, codeHmac, codeKeyVersion, ttlSeconds, maxSends, minIntervalSeconds],
  );
  return r.rows[0]?.code_expires_at;
}

export async function restoreCode(db: Db, previous: VerificationRow, replacedBy: Buffer): Promise<void> {
  await db.query(RESTORE_CODE_SQL, [previous.id, replacedBy, previous.code_hmac, previous.code_key_version, previous.code_expires_at, previous.last_sent_at, previous.sends]);
}

/** Bound account of a completed verification (to recover a lost reply). */
export async function boundAccountOf(db: Db, accountId: string): Promise<{ account_ref: string; level: string; pseudonym: string | null; verified_at: Date | null; person_id: string | null; status: string } | undefined> {
  const r = await db.query<{ account_ref: string; level: string; pseudonym: string | null; verified_at: Date | null; person_id: string | null; status: string }>(
    'SELECT a.account_ref, a.level, a.pseudonym, a.verified_at, a.person_id, a.status FROM accounts a WHERE a.id = $1',
    [accountId],
  );
  return r.rows[0];
}

/** Adds to a provider's daily outcome counters (day in Vietnam time). */
export async function countOutcome(db: Db, providerId: string, outcome: string, reason = ''): Promise<void> {
  await db.query({
    name: 'count_outcome',
    text: `INSERT INTO verification_stats AS vs (provider_id, day, outcome, reason, count)
           VALUES ($1, (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, $2, $3, 1)
           ON CONFLICT (provider_id, day, outcome, reason) DO UPDATE SET count = vs.count + 1`,
    values: [providerId, outcome, reason],
  });
}

export async function countPrefix(db: Db, prefix: string, column: 'sent' | 'confirmed'): Promise<void> {
  await db.query({
    name: `count_prefix_${column}`,
    text: `INSERT INTO sms_prefix_stats AS s (prefix, hour, ${column}) VALUES ($1, date_trunc('hour', now()), 1)
           ON CONFLICT (prefix, hour) DO UPDATE SET ${column} = s.${column} + 1`,
    values: [prefix],
  });
}

export interface StatsRow {
  day: string;
  outcome: string;
  reason: string;
  count: string;
}

export async function outcomeStats(db: Db, providerId: string | null, days: number): Promise<StatsRow[]> {
  const r = await db.query<StatsRow>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, outcome, reason, sum(count)::text AS count FROM verification_stats
     WHERE ($1::uuid IS NULL OR provider_id = $1) AND day > (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - $2::int
     GROUP BY day, outcome, reason ORDER BY day, outcome, reason`,
    [providerId, days],
  );
  return r.rows;
}

/** Prefixes whose codes were sent often but rarely confirmed in the last `hours` (SMS pumping). */
export async function suspiciousPrefixes(db: Db, hours: number, minSent: number, maxConfirmRate: number): Promise<{ prefix: string; sent: number; confirmed: number }[]> {
  const r = await db.query<{ prefix: string; sent: string; confirmed: string }>(
    `SELECT prefix, sum(sent)::text AS sent, sum(confirmed)::text AS confirmed FROM sms_prefix_stats
     WHERE hour >= date_trunc('hour', now()) - make_interval(hours => $1)
     GROUP BY prefix HAVING sum(sent) >= $2 AND sum(confirmed) < sum(sent) * $3 ORDER BY prefix`,
    [hours, minSent, maxConfirmRate],
  );
  return r.rows.map((x) => ({ prefix: x.prefix, sent: Number(x.sent), confirmed: Number(x.confirmed) }));
}
