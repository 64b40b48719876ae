/**
 * The officials' HTTP API in-process (issue 5): the admin API behind the admin token; enrolment
 * through an invitation and sign-in with a passkey (a software authenticator answering the hub's
 * WebAuthn options); the session cookie; sign-out; deactivation refusing sessions and passkeys at
 * once; single-use challenges; role checks through officialGuard and requireRole; the demo routes
 * only in demo mode.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { adminGuard } from '../kernel/http/admin-auth.ts';
import { errorHandler, notFoundHandler } from '../kernel/http/problem.ts';
import { officialGuard, requireRole } from './official-auth.ts';
import { officialRoutes } from './official-routes.ts';
import { ensureDemoAuthorities } from './demo-officials.ts';
import { assert, createCredential, type SoftCredential } from './soft-authenticator.test-helper.ts';

const PUBLIC_URL = 'https://hub.example';
const ORIGIN = 'https://hub.example';
const ADMIN = randomBytes(16).toString('hex');
const admin = { authorization: `Bearer ${ADMIN}` };
let db: TestDatabase;
let app: FastifyInstance;
let demoApp: FastifyInstance;

async function build(mode: 'demo' | 'production'): Promise<FastifyInstance> {
  const a = Fastify({ logger: false });
  a.setErrorHandler(errorHandler);
  a.setNotFoundHandler(notFoundHandler);
  await a.register(async (scope) => officialRoutes(scope, { pool: db.pool, ring: async () => db.ring, publicUrl: PUBLIC_URL, adminGuard: adminGuard(ADMIN), mode }));
  // A route of another capability, as the disclosure routes use the guard.
  await a.register(async (scope) => {
    scope.addHook('preHandler', officialGuard({ pool: db.pool }));
    scope.get('/test/approve', async (req) => ({ ok: requireRole(req, 'approver').id }));
  });
  await a.ready();
  return a;
}

beforeAll(async () => {
  db = await createTestDatabase();
  app = await build('production');
  demoApp = await build('demo');
});
afterAll(async () => {
  await app.close();
  await demoApp.close();
  await db.drop();
});

const cookieOf = (setCookie: string | string[] | undefined) => String(setCookie).split(';')[0]!;

async function authority(name = `Viện ${randomBytes(3).toString('hex')}`, kind = 'procuracy'): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/v1/admin/authorities', headers: admin, payload: { name, kind } });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().authority.id;
}

async function official(authorityId: string, roles: string[] = ['approver']) {
  const r = await app.inject({ method: 'POST', url: '/v1/admin/officials', headers: admin, payload: { authority_id: authorityId, name: 'Kiểm sát viên Test', roles } });
  expect(r.statusCode, r.body).toBe(201);
  const body = r.json();
  return { id: body.official.id as string, token: (body.invitation_url as string).split('#')[1]!, body };
}

async function enrolWith(token: string): Promise<{ credential: SoftCredential; cookie: string; status: number; body: Record<string, unknown> }> {
  const o = await app.inject({ method: 'POST', url: '/v1/authority/enrol/options', payload: { token } });
  expect(o.statusCode, o.body).toBe(200);
  const { credential, response } = createCredential(o.json(), ORIGIN);
  const r = await app.inject({ method: 'POST', url: '/v1/authority/enrol', payload: { token, response } });
  return { credential, cookie: cookieOf(r.headers['set-cookie']), status: r.statusCode, body: r.json() };
}

async function signInWith(credential: SoftCredential, origin = ORIGIN) {
  const o = await app.inject({ method: 'POST', url: '/v1/authority/sign-in/options' });
  expect(o.statusCode, o.body).toBe(200);
  const options = o.json();
  const response = assert(credential, options, origin);
  const r = await app.inject({ method: 'POST', url: '/v1/authority/sign-in', payload: { response } });
  return { r, response, options };
}

describe('admin API', () => {
  it('refuses without the admin token', async () => {
    for (const [method, url] of [['GET', '/v1/admin/authorities'], ['POST', '/v1/admin/authorities'], ['GET', '/v1/admin/officials'], ['POST', '/v1/admin/officials']] as const) {
      const r = await app.inject({ method, url, payload: method === 'POST' ? {} : undefined });
      expect(r.statusCode).toBe(401);
      expect(r.json().code).toBe('ADMIN_TOKEN_INVALID');
    }
  });

  it('creates and lists authorities and officials; answers the invitation link; validates input', async () => {
    const aid = await authority('Tòa án nhân dân Test', 'court');
    const dup = await app.inject({ method: 'POST', url: '/v1/admin/authorities', headers: admin, payload: { name: 'Tòa án nhân dân Test', kind: 'court' } });
    expect([dup.statusCode, dup.json().code]).toEqual([409, 'AUTHORITY_NAME_TAKEN']);
    const badKind = await app.inject({ method: 'POST', url: '/v1/admin/authorities', headers: admin, payload: { name: 'X', kind: 'army' } });
    expect([badKind.statusCode, badKind.json().code]).toEqual([400, 'REQUEST_INVALID']);
    const list = await app.inject({ url: '/v1/admin/authorities', headers: admin });
    expect(list.json().authorities).toContainEqual(expect.objectContaining({ id: aid, name: 'Tòa án nhân dân Test', kind: 'court' }));

    const { id, body } = await official(aid, ['requester', 'auditor']);
    expect(body.invitation_url).toMatch(/^https:\/\/hub\.example\/authority\/enrol#[A-Za-z0-9_-]{43}$/);
    expect(body.official).toMatchObject({ id, name: 'Kiểm sát viên Test', roles: ['requester', 'auditor'], status: 'active', passkeys: 0, deactivated_at: null,
      authority: { id: aid, name: 'Tòa án nhân dân Test', kind: 'court' } });
    const badRole = await app.inject({ method: 'POST', url: '/v1/admin/officials', headers: admin, payload: { authority_id: aid, name: 'X', roles: ['admin'] } });
    expect(badRole.statusCode).toBe(400);
    const noAuthority = await app.inject({ method: 'POST', url: '/v1/admin/officials', headers: admin, payload: { authority_id: 'nope', name: 'X', roles: ['approver'] } });
    expect([noAuthority.statusCode, noAuthority.json().code]).toEqual([404, 'AUTHORITY_NOT_FOUND']);
    const filtered = await app.inject({ url: `/v1/admin/officials?authority_id=${aid}`, headers: admin });
    expect(filtered.json().officials.map((o: { id: string }) => o.id)).toEqual([id]);
    const unknown = await app.inject({ method: 'POST', url: '/v1/admin/officials/0190f0f0-0000-7000-8000-000000000000/deactivate', headers: admin });
    expect([unknown.statusCode, unknown.json().code]).toEqual([404, 'OFFICIAL_NOT_FOUND']);
  });
});

describe('enrolment and sign-in with a passkey', () => {
  it('enrols through the invitation (signed in at once), signs out, signs in again, and reads /me', async () => {
    const aid = await authority();
    const { id, token } = await official(aid, ['approver']);
    const enrolled = await enrolWith(token);
    expect(enrolled.status).toBe(201);
    expect(enrolled.body).toMatchObject({ id, roles: ['approver'], authority: { id: aid, kind: 'procuracy' } });
    expect(enrolled.cookie).toMatch(/^idbind_official=[A-Za-z0-9_-]{43}$/);
    let me = await app.inject({ url: '/v1/authority/me', headers: { cookie: enrolled.cookie } });
    expect(me.json()).toEqual({ id, name: 'Kiểm sát viên Test', authority: expect.objectContaining({ id: aid }), roles: ['approver'] });

    // The invitation is spent.
    const again = await app.inject({ method: 'POST', url: '/v1/authority/enrol/options', payload: { token } });
    expect([again.statusCode, again.json().code]).toEqual([400, 'INVITATION_INVALID']);

    const out = await app.inject({ method: 'POST', url: '/v1/authority/sign-out', headers: { cookie: enrolled.cookie } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^idbind_official=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0; Secure$/);
    me = await app.inject({ url: '/v1/authority/me', headers: { cookie: enrolled.cookie } });
    expect([me.statusCode, me.json().code, me.headers['content-type']]).toEqual([401, 'OFFICIAL_NOT_SIGNED_IN', 'application/problem+json; charset=utf-8']);

    const { r } = await signInWith(enrolled.credential);
    expect(r.statusCode, r.body).toBe(200);
    expect(String(r.headers['set-cookie'])).toMatch(/^idbind_official=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/);
    me = await app.inject({ url: '/v1/authority/me', headers: { cookie: cookieOf(r.headers['set-cookie']) } });
    expect(me.json().id).toBe(id);

    const audit = await db.pool.query('SELECT action, detail FROM official_audit WHERE official_id = $1 ORDER BY id', [id]);
    expect(audit.rows.map((x) => x.action)).toEqual(['official.created', 'official.invited', 'official.passkey_enrolled', 'official.signed_in', 'official.signed_out', 'official.signed_in']);
    const stored = await db.pool.query('SELECT counter, transports, last_used_at FROM official_passkeys WHERE official_id = $1', [id]);
    expect(stored.rows[0]).toMatchObject({ counter: '1', transports: ['internal'] });
  });

  it('holds several passkeys; a lost one is replaced through a new invitation', async () => {
    const { id, token } = await official(await authority());
    const first = await enrolWith(token);
    const invite = await app.inject({ method: 'POST', url: `/v1/admin/officials/${id}/invitation`, headers: admin });
    expect(invite.statusCode).toBe(201);
    const second = await enrolWith(invite.json().invitation_url.split('#')[1]);
    expect(second.status).toBe(201);
    expect((await signInWith(first.credential)).r.statusCode).toBe(200);
    expect((await signInWith(second.credential)).r.statusCode).toBe(200);
    const view = await app.inject({ url: `/v1/admin/officials/${id}`, headers: admin });
    expect(view.json().passkeys).toBe(2);
  });

  it('a challenge is single use: a replayed assertion is refused', async () => {
    const { token } = await official(await authority());
    const { credential } = await enrolWith(token);
    const { r, response } = await signInWith(credential);
    expect(r.statusCode).toBe(200);
    const replay = await app.inject({ method: 'POST', url: '/v1/authority/sign-in', payload: { response } });
    expect([replay.statusCode, replay.json().code]).toEqual([400, 'WEBAUTHN_CHALLENGE_INVALID']);
  });

  it('refuses an expired challenge, a wrong origin, an unknown passkey, a missing user verification', async () => {
    const { token } = await official(await authority());
    const { credential } = await enrolWith(token);
    const o = await app.inject({ method: 'POST', url: '/v1/authority/sign-in/options' });
    await db.pool.query("UPDATE official_challenges SET expires_at = now() - interval '1 second' WHERE challenge = $1", [o.json().challenge]);
    const expired = await app.inject({ method: 'POST', url: '/v1/authority/sign-in', payload: { response: assert(credential, o.json(), ORIGIN) } });
    expect(expired.json().code).toBe('WEBAUTHN_CHALLENGE_INVALID');
    expect((await signInWith(credential, 'https://evil.example')).r.json().code).toBe('PASSKEY_NOT_RECOGNISED');
    const stranger = createCredential({ challenge: 'x', rp: { id: 'hub.example' }, user: { id: 'AAAA' } }, ORIGIN).credential;
    expect((await signInWith(stranger)).r.json()).toMatchObject({ status: 401, code: 'PASSKEY_NOT_RECOGNISED' });
    const o2 = await app.inject({ method: 'POST', url: '/v1/authority/sign-in/options' });
    const noUv = await app.inject({ method: 'POST', url: '/v1/authority/sign-in', payload: { response: assert(credential, o2.json(), ORIGIN, { uv: false }) } });
    expect(noUv.json().code).toBe('PASSKEY_NOT_RECOGNISED');
  });

  it('enrolment refuses a registration without user verification, and keeps the invitation for a retry', async () => {
    const { token } = await official(await authority());
    const o = await app.inject({ method: 'POST', url: '/v1/authority/enrol/options', payload: { token } });
    expect(o.json()).toMatchObject({ rp: { id: 'hub.example', name: 'idbind' }, authenticatorSelection: { residentKey: 'required', userVerification: 'required' }, attestation: 'none' });
    const { response } = createCredential(o.json(), ORIGIN, { uv: false });
    const r = await app.inject({ method: 'POST', url: '/v1/authority/enrol', payload: { token, response } });
    expect([r.statusCode, r.json().code]).toEqual([400, 'PASSKEY_VERIFICATION_FAILED']);
    expect((await enrolWith(token)).status).toBe(201);
  });

  it('a challenge of one invitation does not enrol with another', async () => {
    const a = await official(await authority());
    const b = await official(await authority());
    const o = await app.inject({ method: 'POST', url: '/v1/authority/enrol/options', payload: { token: a.token } });
    const { response } = createCredential(o.json(), ORIGIN);
    const r = await app.inject({ method: 'POST', url: '/v1/authority/enrol', payload: { token: b.token, response } });
    expect(r.json().code).toBe('INVITATION_INVALID');
    // b's invitation was not spent by the refused attempt? It was consumed inside a rolled-back transaction: still usable.
    expect((await enrolWith(b.token)).status).toBe(201);
  });

  it('of concurrent enrolments with one invitation exactly one succeeds', async () => {
    const { id, token } = await official(await authority());
    const responses = await Promise.all(Array.from({ length: 6 }, async () => {
      const o = await app.inject({ method: 'POST', url: '/v1/authority/enrol/options', payload: { token } });
      return createCredential(o.json(), ORIGIN).response;
    }));
    const results = await Promise.all(responses.map((response) => app.inject({ method: 'POST', url: '/v1/authority/enrol', payload: { token, response } })));
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 400, 400, 400, 400, 400]);
    const n = await db.pool.query('SELECT count(*)::int AS n FROM official_passkeys WHERE official_id = $1', [id]);
    expect(n.rows[0].n).toBe(1);
  });
});

describe('deactivation', () => {
  it('ends the session at once and refuses the passkey and new invitations', async () => {
    const { id, token } = await official(await authority(), ['approver']);
    const { credential, cookie } = await enrolWith(token);
    expect((await app.inject({ url: '/test/approve', headers: { cookie } })).statusCode).toBe(200);
    const d = await app.inject({ method: 'POST', url: `/v1/admin/officials/${id}/deactivate`, headers: admin });
    expect(d.json()).toMatchObject({ status: 'deactivated' });
    expect((await app.inject({ url: '/v1/authority/me', headers: { cookie } })).json().code).toBe('OFFICIAL_NOT_SIGNED_IN');
    expect((await app.inject({ url: '/test/approve', headers: { cookie } })).statusCode).toBe(401);
    const { r } = await signInWith(credential);
    expect([r.statusCode, r.json().code]).toEqual([403, 'OFFICIAL_DEACTIVATED']);
    const audit = await db.pool.query('SELECT action, detail FROM official_audit WHERE official_id = $1 ORDER BY id DESC LIMIT 2', [id]);
    expect(audit.rows).toEqual([
      { action: 'official.sign_in_refused', detail: { reason: 'deactivated', passkey: credential.id } },
      { action: 'official.deactivated', detail: { by: 'admin' } },
    ]);
    const inv = await app.inject({ method: 'POST', url: `/v1/admin/officials/${id}/invitation`, headers: admin });
    expect([inv.statusCode, inv.json().code]).toEqual([403, 'OFFICIAL_DEACTIVATED']);
  });
});

describe('roles', () => {
  it('requireRole answers 403 OFFICIAL_ROLE_REQUIRED to an official without the role, 401 without a session', async () => {
    const { token } = await official(await authority(), ['requester']);
    const { cookie } = await enrolWith(token);
    const r = await app.inject({ url: '/test/approve', headers: { cookie } });
    expect([r.statusCode, r.json().code, r.json().role]).toEqual([403, 'OFFICIAL_ROLE_REQUIRED', 'approver']);
    expect((await app.inject({ url: '/test/approve' })).json().code).toBe('OFFICIAL_NOT_SIGNED_IN');
    expect((await app.inject({ url: '/test/approve', headers: { cookie: 'idbind_official=forged' } })).json().code).toBe('OFFICIAL_NOT_SIGNED_IN');
  });
});

describe('demo sign-in', () => {
  it('exists only in demo mode, and only for demo officials', async () => {
    expect((await app.inject({ url: '/v1/demo/officials' })).statusCode).toBe(404);
    // Listing seeds them when the hub has not yet.
    const first = await demoApp.inject({ url: '/v1/demo/officials' });
    expect(first.json().officials).toHaveLength(5);
    const demo = await ensureDemoAuthorities(db.pool, db.ring, PUBLIC_URL);
    expect((await app.inject({ method: 'POST', url: `/v1/demo/officials/${demo.requester.id}/session` })).statusCode).toBe(404);

    const list = await demoApp.inject({ url: '/v1/demo/officials' });
    expect(list.json().officials.map((o: { id: string }) => o.id)).toEqual([demo.requester.id, demo.policeApprover.id, demo.approver.id, demo.auditor.id, demo.judge.id]);
    const s = await demoApp.inject({ method: 'POST', url: `/v1/demo/officials/${demo.approver.id}/session` });
    expect(s.json()).toMatchObject({ id: demo.approver.id, roles: ['approver'] });
    const me = await demoApp.inject({ url: '/v1/authority/me', headers: { cookie: cookieOf(s.headers['set-cookie']) } });
    expect(me.json().id).toBe(demo.approver.id);

    const { id } = await official(await authority());
    const notDemo = await demoApp.inject({ method: 'POST', url: `/v1/demo/officials/${id}/session` });
    expect([notDemo.statusCode, notDemo.json().code]).toEqual([404, 'OFFICIAL_NOT_FOUND']);
  });
});
