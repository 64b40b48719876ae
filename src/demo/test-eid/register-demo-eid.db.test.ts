/**
 * The demo's test eID mounted at /dev/eid of a Fastify server, with test persons picked from a
 * generated demo registry, and the hub's broker as its relying party (demo configuration): the
 * whole eID flow a newcomer tries with `npm start`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { loadConfig, EIDAS_LOA, type Config } from '../../kernel/config/config.ts';
import { seedDemoRegistry } from '../demo-seed.ts';
import { createEidBroker, EID_CALLBACK_PATH, type EidBroker } from '../../oidc/eid/eid-broker.ts';
import { EidError } from '../../oidc/eid/eid-errors.ts';
import { registerDemoEid } from './register-demo-eid.ts';
import { signInAtTestEid } from './test-eid-browser.ts';

let db: TestDatabase;
let dataDir: string;
let config: Config;
let app: FastifyInstance;
let broker: EidBroker;
let redirectUri: string;
let n = 0;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'idbind-demo-eid-'));
  await seedDemoRegistry({ pool: db.pool, ring: db.ring, dataDir, workers: 1, people: 400, subscriptions: 400 });
  const port = await freePort();
  config = loadConfig({ mode: 'demo', env: { IDBIND_DATA_DIR: dataDir, IDBIND_PUBLIC_URL: `http://127.0.0.1:${port}` }, warn: () => undefined });
  app = Fastify();
  registerDemoEid(app, { pool: db.pool, ring: async () => db.ring, config });
  await app.listen({ host: '127.0.0.1', port });
  redirectUri = `${config.publicUrl}${EID_CALLBACK_PATH}`;
  broker = createEidBroker({ pool: db.pool, ring: async () => db.ring, config: config.eid!, redirectUri });
}, 120_000);
afterAll(async () => {
  await app?.close();
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function login(person: string, acr: string) {
  const started = await broker.begin({ flowUid: `demo-${person.replace(/\W+/g, '-')}-${++n}`, role: 'subject', minLevel: 'substantial' });
  const walk = await signInAtTestEid(started.redirectUrl, { person, acr }, redirectUri);
  return { ...walk, cookie: started.cookie.value };
}

describe('the demo test eID at /dev/eid', () => {
  it('is an OpenID Provider at the configured issuer, requiring PKCE, offering the eIDAS levels', async () => {
    const res = await fetch(`${config.eid!.issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const meta = await res.json() as Record<string, unknown>;
    expect(meta.issuer).toBe(`${config.publicUrl}/dev/eid`);
    expect(meta.acr_values_supported).toEqual([EIDAS_LOA.low, EIDAS_LOA.substantial, EIDAS_LOA.high]);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.claims_supported).toContain('personal_id');
    // Without a code challenge, the authorization request is refused.
    const auth = new URL(String(meta.authorization_endpoint));
    auth.search = new URLSearchParams({ client_id: 'idbind-demo-broker', response_type: 'code', scope: 'openid', redirect_uri: redirectUri, state: 's', nonce: 'n' }).toString();
    const refused = await fetch(auth, { redirect: 'manual' });
    expect(new URL(refused.headers.get('location')!).searchParams.get('error_description')).toMatch(/requires PKCE/);
  });

  it('lists labelled test persons from the demo registry: adults, a minor with a guardian, that guardian, a deceased person, an unknown number', async () => {
    const { loginPage, callbackUrl, cookie } = await login('Adult', EIDAS_LOA.high);
    expect(loginPage).toContain('<html lang="vi">');
    expect(loginPage).toMatch(/<legend>Chọn người thử nghiệm \/ <span lang="en">Choose a test person<\/span><\/legend>/);
    for (const label of ['Adult: ', 'Minor under 16: ', 'Guardian of ', 'Deceased: ', 'Not in the population registry']) expect(loginPage).toContain(label);
    expect(loginPage).toContain('not accepted by idbind: fails closed');
    // No personal ID number is shown.
    expect(loginPage).not.toMatch(/\b\d{12}\b/);
    const r = await broker.complete({ callbackUrl, cookieValue: cookie });
    expect(r).toMatchObject({ flowUid: expect.stringMatching(/^demo-Adult-/), role: 'subject', level: 'high' });
    const status = await db.pool.query('SELECT status FROM persons WHERE id = $1', [r.personId]);
    expect(status.rows[0].status).toBe('alive');
  });

  it('walks the minor, the guardian, and the refused persons through the broker', async () => {
    for (const person of ['Minor under 16', 'Guardian of']) {
      const l = await login(person, EIDAS_LOA.substantial);
      expect(await broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie })).toMatchObject({ level: 'substantial' });
    }
    for (const [person, code] of [['Deceased', 'EID_PERSON_NOT_ELIGIBLE'], ['Not in the population', 'EID_PERSON_NOT_ELIGIBLE']] as const) {
      const l = await login(person, EIDAS_LOA.high);
      const e = await broker.complete({ callbackUrl: l.callbackUrl, cookieValue: l.cookie }).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(EidError);
      expect((e as EidError).code).toBe(code);
    }
    const low = await login('Adult', EIDAS_LOA.low);
    expect(await broker.complete({ callbackUrl: low.callbackUrl, cookieValue: low.cookie }).catch((e: EidError) => e.code)).toBe('EID_LEVEL_UNKNOWN');
  });

  it('records the demo-only read of the persons it lists', async () => {
    const r = await db.pool.query(`SELECT person_id, detail FROM access_records WHERE purpose = 'demo_test_eid' ORDER BY id`);
    expect(r.rows[0]).toMatchObject({ person_id: null });
    expect(r.rows[0].detail.persons_listed).toBe(r.rows.length - 1);
    expect(r.rows.length).toBeGreaterThanOrEqual(5);
  });

  it('is refused outside demo mode, and absent when a real upstream is configured', async () => {
    const other = Fastify();
    expect(() => registerDemoEid(other, { pool: db.pool, ring: async () => db.ring, config: { ...config, mode: 'production' } })).toThrow(/demo mode only/);
    registerDemoEid(other, { pool: db.pool, ring: async () => db.ring, config: { ...config, eid: { ...config.eid!, demo: false } } });
    expect((await other.inject({ url: '/dev/eid/.well-known/openid-configuration' })).statusCode).toBe(404);
    await other.close();
  });
});
