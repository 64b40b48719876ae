/**
 * The regulator's staff on the admin API (issue 5: "The regulator's own staff sign in the same
 * way, replacing the admin token of the registries page"), in-process: the `administrator` role
 * only for officials of a regulator authority (service and database); an administrator's passkey
 * session reaches admin routes and each request is an audit record; a police official's session
 * and a deactivated administrator's are refused; the admin token works as before; the WebAuthn
 * options are rate limited per client IP.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { uuidv7 } from '../kernel/ids.ts';
import { errorHandler, notFoundHandler } from '../kernel/http/problem.ts';
import { officialRoutes } from './official-routes.ts';
import { adminOrStaffGuard } from './staff-admin-guard.ts';
import { assert, createCredential, type SoftCredential } from './soft-authenticator.test-helper.ts';

const PUBLIC_URL = 'https://hub.example';
const ADMIN = randomBytes(16).toString('hex');
const admin = { authorization: `Bearer ${ADMIN}` };
let db: TestDatabase;
let app: FastifyInstance;

beforeAll(async () => {
  db = await createTestDatabase();
  app = Fastify({ logger: false });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  const guard = adminOrStaffGuard(ADMIN, { pool: db.pool });
  await app.register(async (scope) => officialRoutes(scope, { pool: db.pool, ring: async () => db.ring, publicUrl: PUBLIC_URL, adminGuard: guard, mode: 'production', optionsPerMinute: 5 }));
  // An admin route of another capability (as the registries' routes take the guard).
  await app.register(async (scope) => {
    scope.addHook('onRequest', guard);
    scope.get('/v1/admin/test/runs/:id', async (req) => ({ official: req.official?.id ?? null }));
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await db.drop();
});

/** Each caller of the options routes gets its own address, so the rate limit of one test does not touch another. */
let addresses = 0;
const ipOf = () => `198.51.100.${++addresses}`;
const cookieOf = (setCookie: string | string[] | undefined) => String(setCookie).split(';')[0]!;

async function authority(kind: string): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/v1/admin/authorities', headers: admin, payload: { name: `${kind} ${randomBytes(3).toString('hex')}`, kind } });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().authority.id;
}

/** Creates an official over the admin API, enrols a passkey with the software authenticator, and signs in with it. */
async function signedInOfficial(authorityId: string, roles: string[]): Promise<{ id: string; cookie: string; credential: SoftCredential }> {
  const created = await app.inject({ method: 'POST', url: '/v1/admin/officials', headers: admin, payload: { authority_id: authorityId, name: 'Chuyên viên Test', roles } });
  expect(created.statusCode, created.body).toBe(201);
  const id = created.json().official.id as string;
  const token = (created.json().invitation_url as string).split('#')[1]!;
  const remoteAddress = ipOf();
  const o = await app.inject({ method: 'POST', url: '/v1/authority/enrol/options', payload: { token }, remoteAddress });
  expect(o.statusCode, o.body).toBe(200);
  const { credential, response } = createCredential(o.json(), PUBLIC_URL);
  const enrolled = await app.inject({ method: 'POST', url: '/v1/authority/enrol', payload: { token, response } });
  expect(enrolled.statusCode, enrolled.body).toBe(201);
  const s = await app.inject({ method: 'POST', url: '/v1/authority/sign-in/options', remoteAddress });
  expect(s.statusCode, s.body).toBe(200);
  const r = await app.inject({ method: 'POST', url: '/v1/authority/sign-in', payload: { response: assert(credential, s.json(), PUBLIC_URL) } });
  expect(r.statusCode, r.body).toBe(200);
  return { id, cookie: cookieOf(r.headers['set-cookie']), credential };
}

async function auditOf(officialId: string): Promise<{ action: string; detail: Record<string, unknown> }[]> {
  const { rows } = await db.pool.query('SELECT action, subject, detail FROM official_audit WHERE official_id = $1 ORDER BY id', [officialId]);
  return rows;
}

describe('the administrator role', () => {
  it('is only for officials of a regulator authority (admin API and database)', async () => {
    const police = await authority('police');
    const r = await app.inject({ method: 'POST', url: '/v1/admin/officials', headers: admin, payload: { authority_id: police, name: 'X', roles: ['administrator'] } });
    expect([r.statusCode, r.json().code]).toEqual([400, 'OFFICIAL_INPUT_INVALID']);
    await expect(db.pool.query('INSERT INTO officials (id, authority_id, display_name, roles) VALUES ($1, $2, $3, $4)', [uuidv7(), police, 'X', ['administrator']]))
      .rejects.toThrow(/only for officials of a regulator authority/);

    const regulator = await authority('regulator');
    const ok = await app.inject({ method: 'POST', url: '/v1/admin/officials', headers: admin, payload: { authority_id: regulator, name: 'Chuyên viên', roles: ['administrator'] } });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json().official).toMatchObject({ roles: ['administrator'], authority: { kind: 'regulator' } });
    // An authority with administrators stays a regulator; a police official cannot be moved in either.
    await expect(db.pool.query("UPDATE authorities SET kind = 'police' WHERE id = $1", [regulator])).rejects.toThrow(/administrator role/);
    await expect(db.pool.query('UPDATE officials SET authority_id = $1 WHERE id = $2', [police, ok.json().official.id])).rejects.toThrow(/regulator/);
  });
});

describe('the admin API with a staff session', () => {
  it("admits a regulator administrator's session and records each request (route and method, nothing else)", async () => {
    const staff = await signedInOfficial(await authority('regulator'), ['administrator']);
    const list = await app.inject({ url: '/v1/admin/authorities', headers: { cookie: staff.cookie } });
    expect(list.statusCode, list.body).toBe(200);
    const runId = uuidv7();
    const other = await app.inject({ url: `/v1/admin/test/runs/${runId}?q=1`, headers: { cookie: staff.cookie } });
    expect(other.json()).toEqual({ official: staff.id });
    const created = await app.inject({ method: 'POST', url: '/v1/admin/authorities', headers: { cookie: staff.cookie }, payload: { name: `Court ${runId}`, kind: 'court' } });
    expect(created.statusCode, created.body).toBe(201);

    const audit = (await auditOf(staff.id)).filter((a) => a.action === 'admin.request');
    expect(audit.map((a) => a.detail)).toEqual([
      { method: 'GET', route: '/v1/admin/authorities' },
      { method: 'GET', route: '/v1/admin/test/runs/:id' },
      { method: 'POST', route: '/v1/admin/authorities' },
    ]);
    expect(JSON.stringify(audit)).not.toContain(runId);
  });

  it("refuses a police official's session (403), an administrator of no regulator is impossible, and no session (401)", async () => {
    const police = await signedInOfficial(await authority('police'), ['requester', 'approver', 'auditor']);
    const r = await app.inject({ url: '/v1/admin/authorities', headers: { cookie: police.cookie } });
    expect([r.statusCode, r.json().code]).toEqual([403, 'OFFICIAL_ROLE_REQUIRED']);
    // A regulator official without the administrator role is refused too.
    const approver = await signedInOfficial(await authority('regulator'), ['approver']);
    const a = await app.inject({ url: '/v1/admin/test/runs/x', headers: { cookie: approver.cookie } });
    expect([a.statusCode, a.json().code]).toEqual([403, 'OFFICIAL_ROLE_REQUIRED']);
    expect((await auditOf(police.id)).some((x) => x.action === 'admin.request')).toBe(false);

    const forged = await app.inject({ url: '/v1/admin/authorities', headers: { cookie: `idbind_official=${randomBytes(32).toString('base64url')}` } });
    expect([forged.statusCode, forged.json().code]).toEqual([401, 'OFFICIAL_NOT_SIGNED_IN']);
    const none = await app.inject({ url: '/v1/admin/authorities' });
    expect([none.statusCode, none.json().code]).toEqual([401, 'ADMIN_TOKEN_INVALID']);
  });

  it('refuses a deactivated administrator at once, and their passkey', async () => {
    const staff = await signedInOfficial(await authority('regulator'), ['administrator']);
    expect((await app.inject({ url: '/v1/admin/authorities', headers: { cookie: staff.cookie } })).statusCode).toBe(200);
    const off = await app.inject({ method: 'POST', url: `/v1/admin/officials/${staff.id}/deactivate`, headers: admin });
    expect(off.statusCode, off.body).toBe(200);
    const r = await app.inject({ url: '/v1/admin/authorities', headers: { cookie: staff.cookie } });
    expect([r.statusCode, r.json().code]).toEqual([401, 'OFFICIAL_NOT_SIGNED_IN']);
    const s = await app.inject({ method: 'POST', url: '/v1/authority/sign-in/options', remoteAddress: ipOf() });
    const again = await app.inject({ method: 'POST', url: '/v1/authority/sign-in', payload: { response: assert(staff.credential, s.json(), PUBLIC_URL) } });
    expect([again.statusCode, again.json().code]).toEqual([403, 'OFFICIAL_DEACTIVATED']);
  });

  it('keeps the admin token: accepted, and judged alone when sent (a wrong token with a staff cookie is refused)', async () => {
    const staff = await signedInOfficial(await authority('regulator'), ['administrator']);
    const byToken = await app.inject({ url: '/v1/admin/test/runs/x', headers: admin });
    expect([byToken.statusCode, byToken.json()]).toEqual([200, { official: null }]);
    const wrong = await app.inject({ url: '/v1/admin/authorities', headers: { authorization: 'Bearer wrong', cookie: staff.cookie } });
    expect([wrong.statusCode, wrong.json().code]).toEqual([401, 'ADMIN_TOKEN_INVALID']);
  });
});

describe('rate limit of the WebAuthn options', () => {
  it('answers RATE_LIMITED with retry_after per client IP, sign-in and enrolment options together', async () => {
    const remoteAddress = '203.0.113.7';
    for (let i = 0; i < 4; i++) {
      expect((await app.inject({ method: 'POST', url: '/v1/authority/sign-in/options', remoteAddress })).statusCode).toBe(200);
    }
    const enrol = await app.inject({ method: 'POST', url: '/v1/authority/enrol/options', payload: { token: 'x'.repeat(43) }, remoteAddress });
    expect(enrol.json().code).toBe('INVITATION_INVALID');
    for (const url of ['/v1/authority/sign-in/options', '/v1/authority/enrol/options']) {
      const r = await app.inject({ method: 'POST', url, payload: url.includes('enrol') ? { token: 'x'.repeat(43) } : undefined, remoteAddress });
      expect([r.statusCode, r.json().code]).toEqual([429, 'RATE_LIMITED']);
      expect(r.json().retry_after).toBeGreaterThanOrEqual(1);
      expect(r.json().retry_after).toBeLessThanOrEqual(60);
    }
    // Another address is not affected.
    expect((await app.inject({ method: 'POST', url: '/v1/authority/sign-in/options', remoteAddress: '203.0.113.8' })).statusCode).toBe(200);
    // The bucket names a keyed hash, never the address.
    const { rows } = await db.pool.query("SELECT bucket FROM rate_counters WHERE bucket LIKE 'authority-options:%'");
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain('203.0.113');
  });
});
