/** SQL of hosted verification flows and consents (migration 0007). */
import type pg from 'pg';

type Db = pg.Pool | pg.PoolClient;

export type Level = 'low' | 'substantial' | 'high';
export type FlowStage = 'choose_method' | 'phone_code' | 'guardian_intro' | 'consent' | 'finished';
export type FlowRole = 'subject' | 'guardian';
export type StatutoryClaim = 'name' | 'birthdate' | 'phone_number';

export interface FlowRow {
  id: string;
  uid: string;
  provider_id: string;
  account_ref: string;
  min_level: Level;
  statutory_claims: StatutoryClaim[];
  stage: FlowStage;
  role: FlowRole;
  verification_id: string | null;
  subject_person_id: string | null;
  subject_method: 'phone' | 'eid' | null;
  subject_level: Level | null;
  subject_subscription_id: string | null;
  guardian_person_id: string | null;
  guardian_method: 'phone' | 'eid' | null;
  consent_id: string | null;
  account_id: string | null;
  phone_hint: string | null;
  sealed: Buffer | null;
  dek_version: number | null;
  redirect_url: string | null;
  error_code: string | null;
  error_detail: string | null;
  expires_at: Date;
}

export async function insertFlow(db: Db, f: {
  id: string; uid: string; providerId: string; accountRef: string; minLevel: Level; statutoryClaims: StatutoryClaim[]; expiresAt: Date; errorCode: string | null;
}): Promise<void> {
  await db.query(
    `INSERT INTO hosted_flows (id, uid, provider_id, account_ref, min_level, statutory_claims, stage, expires_at, error_code)
     VALUES ($1, $2, $3, $4, $5, $6, 'choose_method', $7, $8) ON CONFLICT (uid) DO NOTHING`,
    [f.id, f.uid, f.providerId, f.accountRef, f.minLevel, f.statutoryClaims, f.expiresAt, f.errorCode],
  );
}

export async function findFlow(db: Db, uid: string, lock = false): Promise<FlowRow | undefined> {
  const r = await db.query<FlowRow>(`SELECT * FROM hosted_flows WHERE uid = $1${lock ? ' FOR UPDATE' : ''}`, [uid]);
  return r.rows[0];
}

/** Columns a step may change; every change is one UPDATE guarded by the stage it expects. */
export type FlowChange = Partial<Pick<FlowRow,
  'stage' | 'role' | 'verification_id' | 'subject_person_id' | 'subject_method' | 'subject_level' | 'subject_subscription_id' |
  'guardian_person_id' | 'guardian_method' | 'consent_id' | 'account_id' | 'phone_hint' | 'sealed' | 'dek_version' | 'redirect_url' |
  'error_code' | 'error_detail'>>;

/**
 * Applies a change if the flow is still at one of `fromStages` (and, when given, still has `role`):
 * two concurrent steps of one flow (a double submit, two tabs) cannot both apply.
 */
export async function changeFlow(db: Db, uid: string, fromStages: readonly FlowStage[], change: FlowChange, role?: FlowRole): Promise<boolean> {
  const keys = Object.keys(change) as (keyof FlowChange)[];
  const sets = keys.map((k, i) => `${k} = $${i + 4}`).join(', ');
  const r = await db.query(
    `UPDATE hosted_flows SET ${sets}${sets ? ', ' : ''}updated_at = now()
     WHERE uid = $1 AND stage = ANY($2::text[]) AND ($3::text IS NULL OR role = $3)`,
    [uid, fromStages, role ?? null, ...keys.map((k) => change[k] ?? null)],
  );
  return r.rowCount === 1;
}

export async function insertConsent(db: Db, c: { id: string; personId: string; providerId: string; claims: StatutoryClaim[]; purpose: string; legalBasis: string }): Promise<void> {
  await db.query(
    `INSERT INTO claim_consents (id, person_id, provider_id, claims, purpose, legal_basis) VALUES ($1, $2, $3, $4, $5, $6)`,
    [c.id, c.personId, c.providerId, c.claims, c.purpose, c.legalBasis],
  );
}

export interface ConsentRow {
  id: string;
  person_id: string;
  provider_id: string;
  claims: StatutoryClaim[];
  purpose: string;
  legal_basis: string;
  granted_at: Date;
  withdrawn_at: Date | null;
}

export async function findConsent(db: Db, id: string): Promise<ConsentRow | undefined> {
  const r = await db.query<ConsentRow>('SELECT * FROM claim_consents WHERE id = $1', [id]);
  return r.rows[0];
}

export async function consentsOfPerson(db: Db, personId: string): Promise<(ConsentRow & { provider_name: string })[]> {
  const r = await db.query<ConsentRow & { provider_name: string }>(
    `SELECT c.*, p.name AS provider_name FROM claim_consents c JOIN providers p ON p.id = c.provider_id WHERE c.person_id = $1 ORDER BY c.granted_at DESC`,
    [personId],
  );
  return r.rows;
}

/** Withdraws a live consent of the person; false when there is none (already withdrawn, or not theirs). */
export async function withdrawConsent(db: Db, personId: string, consentId: string): Promise<boolean> {
  const r = await db.query(`UPDATE claim_consents SET withdrawn_at = now() WHERE id = $1 AND person_id = $2 AND withdrawn_at IS NULL`, [consentId, personId]);
  return r.rowCount === 1;
}

export async function pseudonymOf(db: Db, personId: string, providerId: string): Promise<string | undefined> {
  const r = await db.query<{ pseudonym: string }>('SELECT pseudonym FROM pseudonyms WHERE person_id = $1 AND provider_id = $2', [personId, providerId]);
  return r.rows[0]?.pseudonym;
}
