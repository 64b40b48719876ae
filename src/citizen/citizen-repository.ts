/** SQL of the citizen portal (migration 0012): sign-ins in progress, sessions, the person's own rows. */
import { createHash } from 'node:crypto';
import type pg from 'pg';

type Db = pg.Pool | pg.PoolClient;

export type SessionLevel = 'low' | 'substantial' | 'high';

/** 30 minutes without a request ends a session; 2 hours end it whatever happens. */
export const SESSION_IDLE_MINUTES = 30;
export const SESSION_ABSOLUTE_MINUTES = 120;
export const SIGN_IN_TTL_SECONDS = 600;

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export async function insertSignIn(db: Db, s: { idHash: Buffer; codeVerifier: string; state: string; nonce: string; level: 'low' | 'substantial' }): Promise<void> {
  // Expired attempts go as new ones come (index on expires_at; a handful of rows each time).
  await db.query('DELETE FROM citizen_sign_ins WHERE expires_at < now()');
  await db.query(
    `INSERT INTO citizen_sign_ins (id_hash, code_verifier, state, nonce, level, expires_at) VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
    [s.idHash, s.codeVerifier, s.state, s.nonce, s.level, SIGN_IN_TTL_SECONDS],
  );
}

/** Takes a sign-in once (one statement: a second callback with the same cookie finds nothing). */
export async function takeSignIn(db: Db, idHash: Buffer): Promise<{ code_verifier: string; state: string; nonce: string; level: 'low' | 'substantial' } | undefined> {
  const r = await db.query<{ code_verifier: string; state: string; nonce: string; level: 'low' | 'substantial' }>(
    'DELETE FROM citizen_sign_ins WHERE id_hash = $1 AND expires_at > now() RETURNING code_verifier, state, nonce, level', [idHash],
  );
  return r.rows[0];
}

export async function insertSession(db: Db, s: { id: string; tokenHash: Buffer; personId: string; level: SessionLevel; method: 'phone' | 'eid' }): Promise<Date> {
  await db.query('DELETE FROM citizen_sessions WHERE expires_at < now() OR last_seen_at < now() - make_interval(mins => $1)', [SESSION_IDLE_MINUTES]);
  const r = await db.query<{ expires_at: Date }>(
    `INSERT INTO citizen_sessions (id, token_hash, person_id, level, method, expires_at) VALUES ($1, $2, $3, $4, $5, now() + make_interval(mins => $6))
     RETURNING expires_at`,
    [s.id, s.tokenHash, s.personId, s.level, s.method, SESSION_ABSOLUTE_MINUTES],
  );
  return r.rows[0]!.expires_at;
}

export interface SessionRow {
  id: string;
  person_id: string;
  level: SessionLevel;
  method: 'phone' | 'eid';
  expires_at: Date;
  last_seen_at: Date;
}

/** The live session of a token, its idle clock restarted, in one statement (idle and absolute limits checked there). */
export async function touchSession(db: Db, hash: Buffer): Promise<SessionRow | undefined> {
  const r = await db.query<SessionRow>(
    `UPDATE citizen_sessions SET last_seen_at = now()
     WHERE token_hash = $1 AND expires_at > now() AND last_seen_at > now() - make_interval(mins => $2)
     RETURNING id, person_id, level, method, expires_at, last_seen_at`,
    [hash, SESSION_IDLE_MINUTES],
  );
  return r.rows[0];
}

export async function deleteSession(db: Db, hash: Buffer): Promise<void> {
  await db.query('DELETE FROM citizen_sessions WHERE token_hash = $1', [hash]);
}

/** The person behind a `sub` of the portal: the internal reverse lookup of the pseudonym (never exposed). */
export async function personOfPortalSubject(db: Db, portalId: string, sub: string): Promise<string | undefined> {
  const r = await db.query<{ person_id: string }>('SELECT person_id FROM pseudonyms WHERE provider_id = $1 AND pseudonym = $2', [portalId, sub]);
  return r.rows[0]?.person_id;
}

export interface AccountRow {
  id: string;
  provider_name: string;
  account_ref: string;
  pseudonym: string | null;
  level: string | null;
  method: string | null;
  status: 'verified' | 'needs_reverification' | 'revoked' | 'unbound';
  status_reason: string | null;
  minor: boolean;
  verified_at: Date | null;
  status_since: Date;
}

export async function accountsOfPerson(db: Db, personId: string): Promise<AccountRow[]> {
  const r = await db.query<AccountRow>(
    `SELECT a.id, p.name AS provider_name, a.account_ref, a.pseudonym, a.level, a.method, a.status, a.status_reason, a.minor, a.verified_at, a.status_since
     FROM accounts a JOIN providers p ON p.id = a.provider_id
     WHERE a.person_id = $1 ORDER BY (a.status = 'unbound'), a.status_since DESC`,
    [personId],
  );
  return r.rows;
}

export interface SubscriptionRow {
  id: string;
  carrier: string;
  carrier_id: number;
  sealed: Buffer;
  dek_version: number;
  channel: string;
  registered_at: Date;
  status: string;
  ended_at: Date | null;
  reported_at: Date | null;
}

/** Every subscription whose registered holder is the person (the holder's blind index), terminated ones too. */
export async function subscriptionsOfPerson(db: Db, personId: string, subscriptionId?: string): Promise<SubscriptionRow[]> {
  const r = await db.query<SubscriptionRow>(
    `SELECT s.id, c.slug AS carrier, s.carrier_id, s.sealed, s.dek_version, s.channel, s.registered_at, s.status, s.ended_at, sr.reported_at
     FROM persons p JOIN subscriptions s ON s.holder_bidx = p.pid_bidx JOIN carriers c ON c.id = s.carrier_id
     LEFT JOIN subscription_reports sr ON sr.subscription_id = s.id AND sr.person_id = p.id
     WHERE p.id = $1 AND ($2::uuid IS NULL OR s.id = $2::uuid)
     ORDER BY (s.status = 'terminated'), s.registered_at DESC, s.id`,
    [personId, subscriptionId ?? null],
  );
  return r.rows;
}

/** The report of one of the person's subscriptions; an earlier report of theirs stands (idempotent). */
export async function insertReport(db: Db, r: { id: string; subscriptionId: string; personId: string; carrierId: number }): Promise<Date> {
  const q = await db.query<{ reported_at: Date }>(
    `WITH ins AS (
       INSERT INTO subscription_reports (id, subscription_id, person_id, carrier_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (subscription_id, person_id) DO NOTHING RETURNING reported_at
     )
     SELECT reported_at FROM ins UNION ALL
     SELECT reported_at FROM subscription_reports WHERE subscription_id = $2 AND person_id = $3 LIMIT 1`,
    [r.id, r.subscriptionId, r.personId, r.carrierId],
  );
  return q.rows[0]!.reported_at;
}

export interface AccessRow {
  id: string;
  purpose: string;
  actor: string;
  detail: Record<string, unknown>;
  at: Date;
  actor_name: string | null;
  actor_kind: string | null;
}

/** The person's access records, newest first, with the provider's name for provider actors. */
export async function accessOfPerson(db: Db, personId: string, purposes: readonly string[] | null, limit: number): Promise<AccessRow[]> {
  const r = await db.query<AccessRow>(
    `SELECT ar.id::text AS id, ar.purpose, ar.actor, ar.detail, ar.at, p.name AS actor_name, p.kind AS actor_kind
     FROM access_records ar
     LEFT JOIN providers p ON ar.actor LIKE 'provider:%' AND p.id::text = substr(ar.actor, 10)
     WHERE ar.person_id = $1 AND ($2::text[] IS NULL OR ar.purpose = ANY($2::text[]))
     ORDER BY ar.at DESC, ar.id DESC LIMIT $3`,
    [personId, purposes, limit],
  );
  return r.rows;
}
