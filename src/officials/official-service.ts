/**
 * Authorities and officials, managed by the regulator's admin (issue 5 "Officials and the
 * authority console"): create, invite (again), deactivate, list. An official enrols a passkey
 * through a one-time invitation link `${publicUrl}/authority/enrol#<token>`; a lost passkey is
 * replaced through a new invitation, never a weaker factor. Quotas are the disclosure
 * capability's, not these.
 *
 * The invitation token is 256 random bits; the database keeps only HMAC-SHA256 of it under a key
 * derived from the key ring's blind-index key (DESIGN.md invariant 2), so a stolen database cannot
 * enrol a passkey. A lookup tries every live blind-index version, as other blind indexes do during
 * a rotation.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { inTransaction } from '../kernel/db/pool.ts';
import { uuidv7 } from '../kernel/ids.ts';
import { OFFICIAL_ROLES, OFFICIAL_SELECT, officialOf, recordOfficialAction, type Official, type OfficialRole } from './official-auth.ts';
import { OfficialError } from './official-errors.ts';

export type AuthorityKind = 'police' | 'procuracy' | 'court' | 'regulator';
export const AUTHORITY_KINDS: readonly AuthorityKind[] = ['police', 'procuracy', 'court', 'regulator'];

export const INVITATION_TTL_MS = 72 * 3600_000;

export interface Authority {
  id: string;
  name: string;
  kind: AuthorityKind;
  createdAt: Date;
}

export interface OfficialRecord extends Official {
  status: 'active' | 'deactivated';
  createdAt: Date;
  deactivatedAt: Date | null;
  passkeys: number;
}

export interface Invitation {
  url: string;
  expiresAt: Date;
}

function invitationKey(blindIndexKey: Buffer): Buffer {
  return createHmac('sha256', blindIndexKey).update('idbind official invitation token key v1').digest();
}

/** The stored form of an invitation token under one blind-index key version. */
export function invitationHash(blindIndexKey: Buffer, token: string): Buffer {
  return createHmac('sha256', invitationKey(blindIndexKey)).update(token, 'utf8').digest();
}

/** Every stored form the token may have (one per live blind-index version). */
export function invitationHashes(ring: KeyRing, token: string): Buffer[] {
  return ring.blindIndex.map((k) => invitationHash(k.key, token));
}

export function isInvitationToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}

interface AuthorityRow {
  id: string;
  name: string;
  kind: AuthorityKind;
  created_at: Date;
}

function authorityOf(r: AuthorityRow): Authority {
  return { id: r.id, name: r.name, kind: r.kind, createdAt: r.created_at };
}

export async function createAuthority(pool: pg.Pool, input: { name: string; kind: AuthorityKind; demo?: boolean }): Promise<Authority> {
  const name = input.name.trim();
  if (name.length < 1 || name.length > 200) throw new OfficialError('OFFICIAL_INPUT_INVALID', 'name must be 1 to 200 characters');
  const { rows } = await pool.query<AuthorityRow>(
    `INSERT INTO authorities (id, name, kind, demo) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING id, name, kind, created_at`,
    [uuidv7(), name, input.kind, input.demo ?? false],
  );
  if (!rows[0]) throw new OfficialError('AUTHORITY_NAME_TAKEN');
  return authorityOf(rows[0]);
}

export async function listAuthorities(pool: pg.Pool): Promise<Authority[]> {
  const { rows } = await pool.query<AuthorityRow>('SELECT id, name, kind, created_at FROM authorities ORDER BY created_at, id');
  return rows.map(authorityOf);
}

export async function getAuthority(db: pg.Pool | pg.PoolClient, id: string): Promise<Authority> {
  if (!isUuid(id)) throw new OfficialError('AUTHORITY_NOT_FOUND');
  const { rows } = await db.query<AuthorityRow>('SELECT id, name, kind, created_at FROM authorities WHERE id = $1', [id]);
  if (!rows[0]) throw new OfficialError('AUTHORITY_NOT_FOUND');
  return authorityOf(rows[0]);
}

export function isUuid(v: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
}

function checkRoles(roles: readonly string[]): OfficialRole[] {
  const unique = [...new Set(roles)];
  if (unique.length === 0 || unique.some((r) => !(OFFICIAL_ROLES as readonly string[]).includes(r))) {
    throw new OfficialError('OFFICIAL_INPUT_INVALID', `roles must be one or more of ${OFFICIAL_ROLES.join(', ')}`);
  }
  return unique as OfficialRole[];
}

/** Issues an invitation for an active official inside `client`'s transaction; earlier unused ones stop working. */
async function issueInvitation(client: pg.PoolClient, ring: KeyRing, publicUrl: string, officialId: string): Promise<Invitation> {
  await client.query('UPDATE official_invitations SET expires_at = now() WHERE official_id = $1 AND used_at IS NULL AND expires_at > now()', [officialId]);
  const token = randomBytes(32).toString('base64url');
  const { rows } = await client.query<{ expires_at: Date }>(
    `INSERT INTO official_invitations (id, official_id, token_hash, blind_index_version, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING expires_at`,
    [uuidv7(), officialId, invitationHash(ring.currentBlindIndex.key, token), ring.currentBlindIndex.version, INVITATION_TTL_MS / 1000],
  );
  return { url: `${publicUrl}/authority/enrol#${token}`, expiresAt: rows[0]!.expires_at };
}

async function lockedOfficial(client: pg.PoolClient, id: string): Promise<OfficialRecord> {
  if (!isUuid(id)) throw new OfficialError('OFFICIAL_NOT_FOUND');
  await client.query('SELECT 1 FROM officials WHERE id = $1 FOR UPDATE', [id]);
  return getOfficial(client, id);
}

export async function createOfficial(
  pool: pg.Pool, ring: KeyRing, publicUrl: string,
  input: { authorityId: string; name: string; roles: readonly string[] },
): Promise<{ official: OfficialRecord; invitation: Invitation }> {
  const roles = checkRoles(input.roles);
  const name = input.name.trim();
  if (name.length < 1 || name.length > 100) throw new OfficialError('OFFICIAL_INPUT_INVALID', 'name must be 1 to 100 characters');
  return inTransaction(pool, async (client) => {
    const authority = await getAuthority(client, input.authorityId);
    if (roles.includes('administrator') && authority.kind !== 'regulator') {
      throw new OfficialError('OFFICIAL_INPUT_INVALID', 'the administrator role is only for officials of a regulator authority');
    }
    const id = uuidv7();
    await client.query('INSERT INTO officials (id, authority_id, display_name, roles) VALUES ($1, $2, $3, $4)', [id, input.authorityId, name, roles]);
    const official = await getOfficial(client, id);
    const invitation = await issueInvitation(client, ring, publicUrl, id);
    await recordOfficialAction(client, { official, action: 'official.created', subject: id, detail: { by: 'admin', roles } });
    await recordOfficialAction(client, { official, action: 'official.invited', subject: id, detail: { by: 'admin', expires_at: invitation.expiresAt.toISOString() } });
    return { official, invitation };
  });
}

/** A new invitation (a lost passkey, an expired link); earlier unused links stop working. Never for a deactivated official. */
export async function inviteAgain(pool: pg.Pool, ring: KeyRing, publicUrl: string, officialId: string): Promise<{ official: OfficialRecord; invitation: Invitation }> {
  return inTransaction(pool, async (client) => {
    const official = await lockedOfficial(client, officialId);
    if (official.status !== 'active') throw new OfficialError('OFFICIAL_DEACTIVATED');
    const invitation = await issueInvitation(client, ring, publicUrl, official.id);
    await recordOfficialAction(client, { official, action: 'official.invited', subject: official.id, detail: { by: 'admin', expires_at: invitation.expiresAt.toISOString() } });
    return { official, invitation };
  });
}

/**
 * Deactivates an official at once: status, their sessions ended, open invitations void, one
 * audit record. Their passkeys stay (for the audit) but no longer sign in. Idempotent: a second
 * call changes nothing and records nothing.
 */
export async function deactivateOfficial(pool: pg.Pool, officialId: string): Promise<OfficialRecord> {
  return inTransaction(pool, async (client) => {
    const official = await lockedOfficial(client, officialId);
    if (official.status === 'deactivated') return official;
    await client.query("UPDATE officials SET status = 'deactivated', deactivated_at = now() WHERE id = $1", [official.id]);
    await client.query('DELETE FROM official_sessions WHERE official_id = $1', [official.id]);
    await client.query('UPDATE official_invitations SET expires_at = now() WHERE official_id = $1 AND used_at IS NULL AND expires_at > now()', [official.id]);
    await recordOfficialAction(client, { official, action: 'official.deactivated', subject: official.id, detail: { by: 'admin' } });
    return getOfficial(client, official.id);
  });
}

interface RecordRow {
  id: string;
  display_name: string;
  roles: string[];
  status: 'active' | 'deactivated';
  authority_id: string;
  authority_name: string;
  authority_kind: string;
  created_at: Date;
  deactivated_at: Date | null;
  passkeys: number;
}

const RECORD_SELECT = OFFICIAL_SELECT.replace(
  'SELECT ',
  'SELECT o.created_at, o.deactivated_at, (SELECT count(*)::int FROM official_passkeys p WHERE p.official_id = o.id) AS passkeys, ',
);

function recordOf(r: RecordRow): OfficialRecord {
  return { ...officialOf(r), status: r.status, createdAt: r.created_at, deactivatedAt: r.deactivated_at, passkeys: r.passkeys };
}

export async function getOfficial(db: pg.Pool | pg.PoolClient, id: string): Promise<OfficialRecord> {
  if (!isUuid(id)) throw new OfficialError('OFFICIAL_NOT_FOUND');
  const { rows } = await db.query<RecordRow>(`${RECORD_SELECT} WHERE o.id = $1`, [id]);
  if (!rows[0]) throw new OfficialError('OFFICIAL_NOT_FOUND');
  return recordOf(rows[0]);
}

export async function listOfficials(pool: pg.Pool, filter: { authorityId?: string } = {}): Promise<OfficialRecord[]> {
  if (filter.authorityId !== undefined) await getAuthority(pool, filter.authorityId);
  const { rows } = await pool.query<RecordRow>(
    `${RECORD_SELECT} WHERE ($1::uuid IS NULL OR o.authority_id = $1) ORDER BY a.name, o.created_at, o.id`,
    [filter.authorityId ?? null],
  );
  return rows.map(recordOf);
}

/** The official an unused, unexpired invitation is for (without consuming it), or INVITATION_INVALID. */
export async function pendingInvitation(pool: pg.Pool, ring: KeyRing, token: string): Promise<{ invitationId: string; official: OfficialRecord }> {
  if (!isInvitationToken(token)) throw new OfficialError('INVITATION_INVALID');
  const { rows } = await pool.query<{ id: string; official_id: string }>(
    'SELECT id, official_id FROM official_invitations WHERE token_hash = ANY($1) AND used_at IS NULL AND expires_at > now()',
    [invitationHashes(ring, token)],
  );
  if (!rows[0]) throw new OfficialError('INVITATION_INVALID');
  const official = await getOfficial(pool, rows[0].official_id);
  if (official.status !== 'active') throw new OfficialError('INVITATION_INVALID');
  return { invitationId: rows[0].id, official };
}

/**
 * Consumes an invitation: one conditional UPDATE, so of two concurrent uses exactly one wins
 * (DESIGN.md "Conventions"). Answers the official it was for; INVITATION_INVALID when the token is
 * unknown, used or expired.
 */
export async function consumeInvitation(client: pg.PoolClient | pg.Pool, ring: KeyRing, token: string): Promise<{ invitationId: string; officialId: string }> {
  if (!isInvitationToken(token)) throw new OfficialError('INVITATION_INVALID');
  const { rows } = await client.query<{ id: string; official_id: string }>(
    `UPDATE official_invitations SET used_at = now()
     WHERE token_hash = ANY($1) AND used_at IS NULL AND expires_at > now()
     RETURNING id, official_id`,
    [invitationHashes(ring, token)],
  );
  if (!rows[0]) throw new OfficialError('INVITATION_INVALID');
  return { invitationId: rows[0].id, officialId: rows[0].official_id };
}
