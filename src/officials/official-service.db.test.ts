/**
 * Officials on a real PostgreSQL (issue 5 "Officials and the authority console"): invitations are
 * stored only as a keyed hash, are single use (of concurrent uses exactly one wins), expire, and
 * are replaced by a new one; sessions expire idle and absolutely and end at deactivation; roles are
 * checked; audit records follow their transaction.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { inTransaction } from '../kernel/db/pool.ts';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { openOfficialSession, recordOfficialAction, requireRole, sessionOfficial, type Official } from './official-auth.ts';
import {
  consumeInvitation, createAuthority, createOfficial, deactivateOfficial, invitationHash, inviteAgain, listOfficials, pendingInvitation,
} from './official-service.ts';
import { ensureDemoAuthorities, listDemoOfficials } from './demo-officials.ts';
import { OfficialError } from './official-errors.ts';

const PUBLIC_URL = 'https://hub.example';
let db: TestDatabase;
let authorityId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  authorityId = (await createAuthority(db.pool, { name: 'Công an Test', kind: 'police' })).id;
});
afterAll(async () => db.drop());

const tokenOf = (url: string) => url.slice(url.indexOf('#') + 1);

async function newOfficial(roles: string[] = ['requester']) {
  return createOfficial(db.pool, db.ring, PUBLIC_URL, { authorityId, name: `Cán bộ ${randomBytes(3).toString('hex')}`, roles });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return e instanceof OfficialError ? e.code : String(e);
  }
}

describe('invitations', () => {
  it('is a link to /authority/enrol with a 256-bit token that is stored only as HMAC under a key derived from the blind-index key', async () => {
    const { official, invitation } = await newOfficial();
    expect(invitation.url).toMatch(/^https:\/\/hub\.example\/authority\/enrol#[A-Za-z0-9_-]{43}$/);
    expect(invitation.expiresAt.getTime() - Date.now()).toBeGreaterThan(71.9 * 3600_000);
    expect(invitation.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(72 * 3600_000);
    const token = tokenOf(invitation.url);
    const { rows } = await db.pool.query('SELECT token_hash, blind_index_version FROM official_invitations WHERE official_id = $1', [official.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash.equals(invitationHash(db.ring.currentBlindIndex.key, token))).toBe(true);
    expect(rows[0].blind_index_version).toBe(db.ring.currentBlindIndex.version);
    const dump = await db.pool.query('SELECT row_to_json(i)::text AS t FROM official_invitations i');
    expect(dump.rows.map((r) => r.t).join()).not.toContain(token);
    expect(dump.rows.map((r) => r.t).join()).not.toContain(Buffer.from(token, 'base64url').toString('hex'));
  });

  it('is used once: the second use, a made-up token and a malformed one are INVITATION_INVALID', async () => {
    const { official, invitation } = await newOfficial();
    const token = tokenOf(invitation.url);
    expect((await pendingInvitation(db.pool, db.ring, token)).official.id).toBe(official.id);
    expect((await consumeInvitation(db.pool, db.ring, token)).officialId).toBe(official.id);
    expect(await codeOf(consumeInvitation(db.pool, db.ring, token))).toBe('INVITATION_INVALID');
    expect(await codeOf(pendingInvitation(db.pool, db.ring, token))).toBe('INVITATION_INVALID');
    expect(await codeOf(consumeInvitation(db.pool, db.ring, randomBytes(32).toString('base64url')))).toBe('INVITATION_INVALID');
    expect(await codeOf(consumeInvitation(db.pool, db.ring, 'not a token'))).toBe('INVITATION_INVALID');
  });

  it('of 12 concurrent uses of one invitation, exactly one wins', async () => {
    const { official, invitation } = await newOfficial();
    const token = tokenOf(invitation.url);
    const results = await Promise.all(Array.from({ length: 12 }, () => codeOf(consumeInvitation(db.pool, db.ring, token))));
    expect(results.filter((r) => r === 'OK')).toHaveLength(1);
    expect(results.filter((r) => r === 'INVITATION_INVALID')).toHaveLength(11);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM official_invitations WHERE official_id = $1 AND used_at IS NOT NULL', [official.id]);
    expect(rows[0].n).toBe(1);
  });

  it('expires after 72 hours', async () => {
    const { official, invitation } = await newOfficial();
    await db.pool.query("UPDATE official_invitations SET expires_at = now() - interval '1 second' WHERE official_id = $1", [official.id]);
    expect(await codeOf(pendingInvitation(db.pool, db.ring, tokenOf(invitation.url)))).toBe('INVITATION_INVALID');
    expect(await codeOf(consumeInvitation(db.pool, db.ring, tokenOf(invitation.url)))).toBe('INVITATION_INVALID');
  });

  it('a new invitation voids the earlier unused one', async () => {
    const { official, invitation: first } = await newOfficial();
    const { invitation: second } = await inviteAgain(db.pool, db.ring, PUBLIC_URL, official.id);
    expect(second.url).not.toBe(first.url);
    expect(await codeOf(consumeInvitation(db.pool, db.ring, tokenOf(first.url)))).toBe('INVITATION_INVALID');
    expect(await codeOf(consumeInvitation(db.pool, db.ring, tokenOf(second.url)))).toBe('OK');
  });

  it('is still found under the previous blind-index key during a rotation', async () => {
    const { official, invitation } = await newOfficial();
    const newer = { version: 99, key: randomBytes(32), nameRule: 2 as const };
    const rotated: KeyRing = { ...db.ring, currentBlindIndex: newer, blindIndex: [newer, ...db.ring.blindIndex] };
    expect((await consumeInvitation(db.pool, rotated, tokenOf(invitation.url))).officialId).toBe(official.id);
  });

  it('rejects unknown roles and blank names, and an unknown authority', async () => {
    expect(await codeOf(createOfficial(db.pool, db.ring, PUBLIC_URL, { authorityId, name: 'X', roles: ['admin'] }))).toBe('OFFICIAL_INPUT_INVALID');
    expect(await codeOf(createOfficial(db.pool, db.ring, PUBLIC_URL, { authorityId, name: 'X', roles: [] }))).toBe('OFFICIAL_INPUT_INVALID');
    expect(await codeOf(createOfficial(db.pool, db.ring, PUBLIC_URL, { authorityId, name: '   ', roles: ['approver'] }))).toBe('OFFICIAL_INPUT_INVALID');
    expect(await codeOf(createOfficial(db.pool, db.ring, PUBLIC_URL, { authorityId: '0190f0f0-0000-7000-8000-000000000000', name: 'X', roles: ['approver'] }))).toBe('AUTHORITY_NOT_FOUND');
    expect(await codeOf(createAuthority(db.pool, { name: 'Công an Test', kind: 'court' }))).toBe('AUTHORITY_NAME_TAKEN');
  });
});

describe('sessions and deactivation', () => {
  async function sessionToken(officialId: string) {
    return (await openOfficialSession(db.pool, officialId)).split('=')[1]!;
  }

  it('a session finds its official; it ends after 8 hours idle or 12 hours in all', async () => {
    const { official } = await newOfficial(['requester', 'auditor']);
    const token = await sessionToken(official.id);
    expect(await sessionOfficial(db.pool, token)).toEqual({
      id: official.id, name: official.name, authorityId, authorityName: 'Công an Test', authorityKind: 'police', roles: ['requester', 'auditor'],
    });
    await db.pool.query("UPDATE official_sessions SET expires_at = now() - interval '1 second' WHERE official_id = $1", [official.id]);
    expect(await sessionOfficial(db.pool, token)).toBeUndefined();
    const token2 = await sessionToken(official.id);
    await db.pool.query("UPDATE official_sessions SET absolute_expires_at = now() - interval '1 second' WHERE official_id = $1", [official.id]);
    expect(await sessionOfficial(db.pool, token2)).toBeUndefined();
    await db.pool.query('DELETE FROM official_sessions WHERE official_id = $1', [official.id]);
    await sessionToken(official.id);
    const { rows } = await db.pool.query('SELECT expires_at - created_at AS idle, absolute_expires_at - created_at AS abs FROM official_sessions WHERE official_id = $1', [official.id]);
    expect(rows[0]).toMatchObject({ idle: { hours: 8 }, abs: { hours: 12 } });
  });

  it('use pushes the idle expiry forward, never past the absolute one', async () => {
    const { official } = await newOfficial();
    const token = await sessionToken(official.id);
    await db.pool.query("UPDATE official_sessions SET expires_at = now() + interval '1 hour', absolute_expires_at = now() + interval '3 hours' WHERE official_id = $1", [official.id]);
    expect(await sessionOfficial(db.pool, token)).toBeDefined();
    const { rows } = await db.pool.query('SELECT expires_at = absolute_expires_at AS capped FROM official_sessions WHERE official_id = $1', [official.id]);
    expect(rows[0].capped).toBe(true);
  });

  it('deactivation ends sessions at once, voids invitations, refuses new sessions and invitations, and is audited once', async () => {
    const { official, invitation } = await newOfficial();
    const token = await sessionToken(official.id);
    expect(await sessionOfficial(db.pool, token)).toBeDefined();
    const after = await deactivateOfficial(db.pool, official.id);
    expect(after).toMatchObject({ status: 'deactivated' });
    expect(after.deactivatedAt).toBeInstanceOf(Date);
    expect(await sessionOfficial(db.pool, token)).toBeUndefined();
    expect(await codeOf(openOfficialSession(db.pool, official.id))).toBe('OFFICIAL_DEACTIVATED');
    expect(await codeOf(inviteAgain(db.pool, db.ring, PUBLIC_URL, official.id))).toBe('OFFICIAL_DEACTIVATED');
    expect(await codeOf(consumeInvitation(db.pool, db.ring, tokenOf(invitation.url)))).toBe('INVITATION_INVALID');
    await deactivateOfficial(db.pool, official.id);
    const { rows } = await db.pool.query('SELECT action, detail FROM official_audit WHERE official_id = $1 ORDER BY id', [official.id]);
    expect(rows.map((r) => r.action)).toEqual(['official.created', 'official.invited', 'official.deactivated']);
    expect(rows[2].detail).toEqual({ by: 'admin' });
    expect((await listOfficials(db.pool, { authorityId })).find((o) => o.id === official.id)?.status).toBe('deactivated');
  });

  it('a session read at the moment of deactivation is refused: the status is read with the session', async () => {
    const { official } = await newOfficial();
    const token = await sessionToken(official.id);
    // A deactivation that left a session row behind (it does not) would still not let it in.
    await db.pool.query("UPDATE officials SET status = 'deactivated', deactivated_at = now() WHERE id = $1", [official.id]);
    expect(await sessionOfficial(db.pool, token)).toBeUndefined();
  });
});

describe('roles and audit records', () => {
  const official: Official = { id: '', name: 'A', authorityId: '', authorityName: 'X', authorityKind: 'police', roles: ['requester'] };
  const req = (o?: Official) => ({ official: o }) as unknown as FastifyRequest;

  it('requireRole answers the official with the role, 403 OFFICIAL_ROLE_REQUIRED without, 401 without a session', () => {
    expect(requireRole(req(official), 'requester')).toBe(official);
    let e: unknown;
    try {
      requireRole(req(official), 'approver');
    } catch (err) {
      e = err;
    }
    expect(e).toMatchObject({ code: 'OFFICIAL_ROLE_REQUIRED', status: 403, extensions: { role: 'approver' } });
    expect(() => requireRole(req(undefined), 'requester')).toThrow(expect.objectContaining({ code: 'OFFICIAL_NOT_SIGNED_IN', status: 401 }));
  });

  it('recordOfficialAction writes inside the caller transaction: a rollback leaves no record', async () => {
    const { official: o } = await newOfficial();
    const me: Official = { id: o.id, name: o.name, authorityId: o.authorityId, authorityName: o.authorityName, authorityKind: o.authorityKind, roles: o.roles };
    await inTransaction(db.pool, (c) => recordOfficialAction(c, { official: me, action: 'test.kept', subject: 'x', detail: { n: 1 } }));
    await expect(inTransaction(db.pool, async (c) => {
      await recordOfficialAction(c, { official: me, action: 'test.rolled_back' });
      throw new Error('abort');
    })).rejects.toThrow('abort');
    const { rows } = await db.pool.query("SELECT action, subject, detail, authority_id FROM official_audit WHERE official_id = $1 AND action LIKE 'test.%'", [o.id]);
    expect(rows).toEqual([{ action: 'test.kept', subject: 'x', detail: { n: 1 }, authority_id: authorityId }]);
  });
});

describe('demo authorities', () => {
  it('creates the police unit and the procuracy with their four officials once, however often and concurrently it runs', async () => {
    const [a, b] = await Promise.all([ensureDemoAuthorities(db.pool, db.ring, PUBLIC_URL), ensureDemoAuthorities(db.pool, db.ring, PUBLIC_URL)]);
    const c = await ensureDemoAuthorities(db.pool, db.ring, PUBLIC_URL);
    expect(a).toEqual(b);
    expect(a).toEqual(c);
    expect(a.requester).toMatchObject({ authorityKind: 'police', roles: ['requester'], authorityName: 'Công an TP Hà Nội — Phòng An ninh mạng (demo)' });
    expect(a.approver).toMatchObject({ authorityKind: 'procuracy', roles: ['approver'], authorityName: 'Viện kiểm sát nhân dân TP Hà Nội (demo)' });
    expect(a.policeApprover).toMatchObject({ authorityId: a.requester.authorityId, roles: ['approver'] });
    expect(a.auditor.roles).toEqual(['auditor']);
    expect((await listDemoOfficials(db.pool)).map((o) => o.id).sort()).toEqual([a.requester.id, a.approver.id, a.policeApprover.id, a.auditor.id, a.judge.id].sort());
  });
});
