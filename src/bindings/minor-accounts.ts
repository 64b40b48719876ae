/**
 * The end of a minor's account (Decree 147/2024 Art. 27; issue 4 "Guardians"): an account bound
 * with a guardian's consent carries `minor = true`; when the person turns 16 (in Vietnam's
 * calendar date, from the registry's birth date) the account's minority ends: `minor` turns false,
 * `status_reason` becomes `minor_ended`, and the platform gets `account.minor_ended` through the
 * outbox, in one statement with the change (DESIGN.md invariant 6). The account keeps its status
 * (`verified` stays verified) and `status_since`; its `sequence` moves on like every change. The
 * guardian stays recorded inside idbind for the person's history and is never in the event
 * (invariant 1), nor is any birth date.
 *
 * The birth date is sealed (invariant 2: nothing stores it, or a date derived from it, in clear),
 * so each check opens the minors' records: one query per batch of accounts (accounts joined to
 * their persons' sealed records), one decryption per distinct person. Reads are recorded
 * (invariant 4): one batch entry per run that opened records, and one `age_check` entry for the
 * person of each account whose minority ended.
 *
 * Cost: a person's age changes only when Vietnam's date changes, so {@link endMinoritiesDaily}
 * (what the server's every-minute maintenance calls) runs the check at most once per Vietnam
 * calendar day per process and pool, without a migration or a "checked on" column: a restart or a
 * second process checks again, which is harmless (the update is conditional, see below). An
 * account bound as a minor late on the eve of the person's 16th birthday and finished after that
 * day's check is ended by the next day's check.
 *
 * Concurrency: the change is one conditional update (`WHERE minor`, for the person checked), so
 * two runs at once end each account once and write one event; an account re-bound to another
 * person between the read and the update is left alone.
 */
import type pg from 'pg';
import { associatedData, openRecord } from '../kernel/crypto/envelope.ts';
import { dataKeyFor, type KeyRing } from '../kernel/crypto/key-ring.ts';
import { outboxCtes } from '../events/outbox.ts';
import { recordBatchAccess, recordPersonAccess } from '../access/access-records.ts';
import { uuidv7 } from '../kernel/ids.ts';
import { ageOn } from '../registry/dates.ts';
import { personFromSealedFields, vietnamToday } from '../registry/registry-rows.ts';

/** The age at which a minor's account ends its minority (Decree 147/2024 Art. 27). */
export const MINORITY_ENDS_AT_AGE = 16;

/** Who the access records name as having read the records. */
export const MINOR_ACCOUNTS_ACTOR = 'system:minor-accounts';

const LIVE = `('verified', 'needs_reverification')`;
const FIRST_UUID = '00000000-0000-0000-0000-000000000000';

export interface EndMinoritiesResult {
  /** Live minors' accounts whose person's record was opened. */
  checked: number;
  /** Accounts whose minority this run ended (one `account.minor_ended` event each). */
  ended: number;
}

export interface EndMinoritiesOptions {
  /** The instant whose Vietnam date decides ages (default: now). */
  now?: number | Date;
  /** Accounts per query and per transaction (default 1000). */
  batchSize?: number;
}

interface CandidateRow {
  id: string;
  person_id: string;
  sealed: Buffer;
  dek_version: number;
}

/**
 * Ends the minority of every live minor's account whose person is now 16 or older. Safe to run
 * concurrently with itself, with bindings and with the registry lifecycle.
 */
export async function endMinorities(pool: pg.Pool, ring: KeyRing, options: EndMinoritiesOptions = {}): Promise<EndMinoritiesResult> {
  const now = options.now === undefined ? Date.now() : typeof options.now === 'number' ? options.now : options.now.getTime();
  const today = vietnamToday(now);
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize: a positive integer');
  const runId = uuidv7();
  let checked = 0;
  let ended = 0;
  let after = FIRST_UUID;
  for (;;) {
    // Keyset pagination on the partial index accounts_minor (id WHERE minor).
    const r = await pool.query<CandidateRow>({
      name: 'minor_accounts_batch',
      text: `SELECT a.id, a.person_id, p.sealed, p.dek_version
             FROM accounts a JOIN persons p ON p.id = a.person_id
             WHERE a.minor AND a.status IN ${LIVE} AND a.id > $1
             ORDER BY a.id LIMIT $2`,
      values: [after, batchSize],
    });
    if (r.rows.length === 0) break;
    after = r.rows[r.rows.length - 1]!.id;
    checked += r.rows.length;
    const ageOf = new Map<string, number>();
    const due: { id: string; personId: string }[] = [];
    for (const row of r.rows) {
      let age = ageOf.get(row.person_id);
      if (age === undefined) {
        const fields = openRecord(dataKeyFor(ring, row.dek_version), row.sealed, associatedData('persons', 'sealed', row.person_id));
        age = ageOn(personFromSealedFields(fields, 'alive').birthDate, today);
        ageOf.set(row.person_id, age);
      }
      if (age >= MINORITY_ENDS_AT_AGE) due.push({ id: row.id, personId: row.person_id });
    }
    if (due.length > 0) ended += await endMinorityOf(pool, due);
    if (r.rows.length < batchSize) break;
  }
  if (checked > 0) {
    // The birth dates of every live minor's account were read: one entry for the run.
    await recordBatchAccess(pool, { purpose: 'minor_age_check', actor: MINOR_ACCOUNTS_ACTOR, runId, detail: { on: today, checked, ended } });
  }
  return { checked, ended };
}

/**
 * One transaction: the conditional update with its events (outbox) and history, then one
 * `age_check` access record per account changed, for its person. Returns how many changed.
 */
async function endMinorityOf(pool: pg.Pool, due: readonly { id: string; personId: string }[]): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const r = await client.query<{ person_id: string; account_ref: string; provider_name: string }>(
      `WITH changed AS (
         UPDATE accounts a SET minor = false, status_reason = 'minor_ended', sequence = a.sequence + 1
         FROM unnest($1::uuid[], $2::uuid[]) AS d (id, person_id)
         WHERE a.id = d.id AND a.person_id = d.person_id AND a.minor AND a.status IN ${LIVE}
         RETURNING a.*
       ),${outboxCtes('$3')}
       SELECT c.person_id, c.account_ref, p.name AS provider_name FROM changed c JOIN providers p ON p.id = c.provider_id`,
      [due.map((d) => d.id), due.map((d) => d.personId), 'account.minor_ended'],
    );
    for (const row of r.rows) {
      await recordPersonAccess(client, {
        personId: row.person_id, purpose: 'age_check', actor: MINOR_ACCOUNTS_ACTOR,
        detail: { reason: 'minor_ended', provider: row.provider_name, account_ref: row.account_ref },
      });
    }
    await client.query('COMMIT');
    return r.rows.length;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/** The Vietnam date of the last complete run, per pool (one hub process has one pool). */
const lastRun = new WeakMap<pg.Pool, string>();

/**
 * {@link endMinorities} at most once per Vietnam calendar day per pool, for the server's
 * every-minute maintenance: the first call of a day runs it (a failed run is tried again by the
 * next call), every other call that day returns undefined at once without a query.
 */
export async function endMinoritiesDaily(pool: pg.Pool, ring: () => Promise<KeyRing>, now: number = Date.now()): Promise<EndMinoritiesResult | undefined> {
  const today = vietnamToday(now);
  if (lastRun.get(pool) === today) return undefined;
  const result = await endMinorities(pool, await ring(), { now });
  lastRun.set(pool, today);
  return result;
}
