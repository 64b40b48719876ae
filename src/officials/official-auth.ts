/**
 * Officials' sessions and the interface other capabilities use (issue 5 "Officials and the
 * authority console"): `officialGuard` admits a request with a live session of an active official
 * and sets `request.official`; `requireRole` checks a role; `recordOfficialAction` writes the audit
 * record every official action leaves.
 *
 * A session is a random 256-bit token in the `idbind_official` cookie (HttpOnly, SameSite=Strict,
 * Path=/, Secure on https); the database keeps only its SHA-256 (a high-entropy token needs no key).
 * A session expires after 8 hours without use and 12 hours after it was opened, whichever comes
 * first, and at once when its official is deactivated (the guard reads the official's status on
 * every request, and deactivation deletes the sessions).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type pg from 'pg';
import { OfficialError } from './official-errors.ts';

/** `administrator`: the regulator's own staff, who use the admin API with their session (only officials of a `regulator` authority). */
export type OfficialRole = 'requester' | 'approver' | 'auditor' | 'administrator';
export const OFFICIAL_ROLES: readonly OfficialRole[] = ['requester', 'approver', 'auditor', 'administrator'];

export interface Official {
  id: string;
  name: string;
  authorityId: string;
  authorityName: string;
  authorityKind: string;
  roles: OfficialRole[];
}

declare module 'fastify' {
  interface FastifyRequest {
    official?: Official;
  }
}

export const SESSION_COOKIE = 'idbind_official';
export const SESSION_IDLE_MS = 8 * 3600_000;
export const SESSION_ABSOLUTE_MS = 12 * 3600_000;
/** A session's idle expiry is pushed forward at most once a minute (one write per minute, not per request). */
const SESSION_TOUCH_MS = 60_000;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** The value of one cookie in a Cookie header (RFC 6265 5.4), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Set-Cookie for a session token (or, with '', one that clears it). */
export function sessionCookie(token: string, secure: boolean): string {
  const maxAge = token === '' ? 0 : Math.floor(SESSION_ABSOLUTE_MS / 1000);
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}

export interface OfficialRow {
  id: string;
  display_name: string;
  roles: string[];
  status: 'active' | 'deactivated';
  authority_id: string;
  authority_name: string;
  authority_kind: string;
}

export const OFFICIAL_SELECT = `SELECT o.id, o.display_name, o.roles, o.status, a.id AS authority_id, a.name AS authority_name, a.kind AS authority_kind
  FROM officials o JOIN authorities a ON a.id = o.authority_id`;

export function officialOf(row: OfficialRow): Official {
  return {
    id: row.id, name: row.display_name, authorityId: row.authority_id, authorityName: row.authority_name, authorityKind: row.authority_kind,
    roles: row.roles.filter((r): r is OfficialRole => (OFFICIAL_ROLES as readonly string[]).includes(r)),
  };
}

/** The official of a live session token, or undefined (unknown, expired, or deactivated official). */
export async function sessionOfficial(pool: pg.Pool, token: string): Promise<Official | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const hash = sha256(token);
  const { rows } = await pool.query<OfficialRow & { expires_at: Date; absolute_expires_at: Date }>({
    name: 'official-session',
    text: `${OFFICIAL_SELECT.replace('SELECT ', 'SELECT s.expires_at, s.absolute_expires_at, ')}
      JOIN official_sessions s ON s.official_id = o.id
      WHERE s.token_hash = $1 AND s.expires_at > now() AND s.absolute_expires_at > now()`,
    values: [hash],
  });
  const row = rows[0];
  if (!row || row.status !== 'active') return undefined;
  const idle = Math.min(Date.now() + SESSION_IDLE_MS, row.absolute_expires_at.getTime());
  if (idle - row.expires_at.getTime() > SESSION_TOUCH_MS) {
    await pool.query('UPDATE official_sessions SET expires_at = LEAST(now() + make_interval(secs => $2), absolute_expires_at) WHERE token_hash = $1', [hash, SESSION_IDLE_MS / 1000]);
  }
  return officialOf(row);
}

/** Opens a session for an active official (inside the caller's transaction when given a client); returns the token. */
export async function createSession(db: pg.Pool | pg.PoolClient, officialId: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const { rowCount } = await db.query(
    `INSERT INTO official_sessions (token_hash, official_id, expires_at, absolute_expires_at)
     SELECT $1, id, now() + make_interval(secs => $3), now() + make_interval(secs => $4) FROM officials WHERE id = $2 AND status = 'active'`,
    [sha256(token), officialId, SESSION_IDLE_MS / 1000, SESSION_ABSOLUTE_MS / 1000],
  );
  if (rowCount !== 1) throw new OfficialError('OFFICIAL_DEACTIVATED');
  return token;
}

/** Ends the session of `token` (sign-out); true when there was one. */
export async function endSession(pool: pg.Pool, token: string): Promise<boolean> {
  const { rowCount } = await pool.query('DELETE FROM official_sessions WHERE token_hash = $1', [sha256(token)]);
  return rowCount === 1;
}

/** preHandler: a valid session of an active official, else 401 OFFICIAL_NOT_SIGNED_IN (problem+json). Sets request.official. */
export function officialGuard(deps: { pool: pg.Pool }): preHandlerAsyncHookHandler {
  return async function guard(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const token = cookieValue(request.headers.cookie, SESSION_COOKIE);
    const official = token ? await sessionOfficial(deps.pool, token) : undefined;
    if (!official) throw new OfficialError('OFFICIAL_NOT_SIGNED_IN');
    request.official = official;
  };
}

/** 403 OFFICIAL_ROLE_REQUIRED unless the signed-in official has the role. */
export function requireRole(request: FastifyRequest, role: OfficialRole): Official {
  const official = request.official;
  if (!official) throw new OfficialError('OFFICIAL_NOT_SIGNED_IN');
  if (!official.roles.includes(role)) throw new OfficialError('OFFICIAL_ROLE_REQUIRED', `the ${role} role is needed`, { role });
  return official;
}

/** An active official of a regulator authority holding `administrator`: the regulator's staff, admitted to the admin API. */
export function isRegulatorStaff(official: Official): boolean {
  return official.authorityKind === 'regulator' && official.roles.includes('administrator');
}

/** An audit record of an official action, inside the caller's transaction when given a client. */
export async function recordOfficialAction(
  db: pg.Pool | pg.PoolClient,
  a: { official: Official; action: string; subject?: string; detail?: Record<string, unknown> },
): Promise<void> {
  await db.query({
    name: 'official-audit-insert',
    text: 'INSERT INTO official_audit (official_id, authority_id, action, subject, detail) VALUES ($1, $2, $3, $4, $5)',
    values: [a.official.id, a.official.authorityId, a.action, a.subject ?? null, JSON.stringify(a.detail ?? {})],
  });
}

/**
 * Tests and demo: a session for an official without a passkey ceremony; returns the cookie header
 * value `idbind_official=...`. Not reachable over HTTP outside demo mode (only the demo route,
 * registered in demo mode, calls it).
 */
export async function openOfficialSession(pool: pg.Pool, officialId: string): Promise<string> {
  return `${SESSION_COOKIE}=${await createSession(pool, officialId)}`;
}
