/**
 * Access records (DESIGN.md invariant 4): decrypting a personal field takes a stated purpose, and
 * the purpose decides what is recorded. A batch job (import, reconciliation, key rotation) records
 * one entry for its run; a read about one person records one entry for that person (issue 5 shows
 * these to the person); a status lookup records nothing.
 */
import type pg from 'pg';

/** Purposes of entries about one person (DESIGN.md invariant 4: the person sees each). */
export type PersonPurpose =
  | 'account_binding'
  | 'age_check'
  /** A minor's registered guardians read to check the adult in the hosted flow (Decree 147/2024 Art. 27). */
  | 'guardian_check'
  /** Claims released to a platform through the OpenID Provider (issue 4: one record per release). */
  | 'claims_release'
  /** The person agreed, or withdrew their agreement, to statutory claims being released to a platform. */
  | 'claims_consent'
  /**
   * A disclosure request released this person's identity or binding history to an authority
   * (DESIGN.md invariant 3); hidden from the person while a court's seal lasts, shown after.
   */
  | 'disclosure';

export async function recordPersonAccess(
  db: pg.Pool | pg.PoolClient, entry: { personId: string; purpose: PersonPurpose; actor: string; detail: Record<string, unknown> },
): Promise<void> {
  await db.query('INSERT INTO access_records (person_id, purpose, actor, detail) VALUES ($1, $2, $3, $4)', [
    entry.personId, entry.purpose, entry.actor, JSON.stringify(entry.detail),
  ]);
}

export type BatchPurpose = 'registry_import' | 'subscription_events_import' | 'reconciliation' | 'action_list_export' | 'key_rotation'
  /** The daily check of the birth dates of minors' accounts (bindings/minor-accounts.ts; Decree 147/2024 Art. 27). */
  | 'minor_age_check';

export async function recordBatchAccess(
  db: pg.Pool | pg.PoolClient, entry: { purpose: BatchPurpose; actor: string; runId: string | null; detail?: Record<string, unknown> },
): Promise<void> {
  await db.query('INSERT INTO access_records (purpose, actor, run_id, detail) VALUES ($1, $2, $3, $4)', [
    entry.purpose, entry.actor, entry.runId, JSON.stringify(entry.detail ?? {}),
  ]);
}
