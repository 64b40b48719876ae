/**
 * Access records (DESIGN.md invariant 4): decrypting a personal field takes a stated purpose, and
 * the purpose decides what is recorded. A batch job (import, reconciliation, key rotation) records
 * one entry for its run; a read about one person records one entry for that person (issue 5 shows
 * these to the person); a status lookup records nothing.
 */
import type pg from 'pg';

/**
 * Purposes of entries about one person (DESIGN.md invariant 4: the person sees each, with the
 * exceptions of test/http/access-purposes.db.test.ts and docs/citizen.md: a disclosure only once
 * no seal lasts). The list is the source of the type, so a new purpose is a new entry here, and
 * the completeness test fails until a real code path is shown to leave its record.
 */
export const PERSON_PURPOSES = [
  'account_binding',
  'age_check',
  /** A minor's registered guardians read to check the adult in the hosted flow (Decree 147/2024 Art. 27). */
  'guardian_check',
  /** Claims released to a platform through the OpenID Provider (issue 4: one record per release). */
  'claims_release',
  /** The person agreed, or withdrew their agreement, to statutory claims being released to a platform. */
  'claims_consent',
  /**
   * A disclosure request released this person's identity or binding history to an authority
   * (DESIGN.md invariant 3); hidden from the person while a court's seal lasts, shown after.
   */
  'disclosure',
  /**
   * The person themselves, in their own view (the citizen portal, issue 5): a sign-in, or a read
   * that opened their sealed data (their numbers, the export). Recorded like any other read.
   */
  'self_view',
] as const;

export type PersonPurpose = (typeof PERSON_PURPOSES)[number];

export async function recordPersonAccess(
  db: pg.Pool | pg.PoolClient, entry: { personId: string; purpose: PersonPurpose; actor: string; detail: Record<string, unknown> },
): Promise<void> {
  await db.query({
    name: 'record_person_access',
    text: 'INSERT INTO access_records (person_id, purpose, actor, detail) VALUES ($1, $2, $3, $4)',
    values: [entry.personId, entry.purpose, entry.actor, JSON.stringify(entry.detail)],
  });
}

/** Purposes of entries about a batch run (one entry per run, no person). */
export const BATCH_PURPOSES = ['registry_import', 'subscription_events_import', 'reconciliation', 'action_list_export', 'key_rotation',
  /** The daily check of the birth dates of minors' accounts (bindings/minor-accounts.ts; Decree 147/2024 Art. 27). */
  'minor_age_check'] as const;

export type BatchPurpose = (typeof BATCH_PURPOSES)[number];

export async function recordBatchAccess(
  db: pg.Pool | pg.PoolClient, entry: { purpose: BatchPurpose; actor: string; runId: string | null; detail?: Record<string, unknown> },
): Promise<void> {
  await db.query('INSERT INTO access_records (purpose, actor, run_id, detail) VALUES ($1, $2, $3, $4)', [
    entry.purpose, entry.actor, entry.runId, JSON.stringify(entry.detail ?? {}),
  ]);
}
