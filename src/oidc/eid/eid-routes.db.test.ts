/**
 * `GET /verify/eid/callback` over HTTP (in-process), after a real login at the local test eID.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { PEOPLE, seedVerificationRegistry } from '../../../test/support/verification-fixture.ts';
import { DEFAULT_EID_ACR_MAP, EIDAS_LOA } from '../../kernel/config/config.ts';
import { errorHandler } from '../../kernel/http/problem.ts';
import { errorClass } from '../../kernel/errors.ts';
import { findPersonIdByPersonalId } from '../../registry/registry-lookup.ts';
import { startTestEidServer, type TestEidServer } from '../../demo/test-eid/test-eid-provider.ts';
import { signInAtTestEid, type TestEidChoice } from '../../demo/test-eid/test-eid-browser.ts';
import { createEidBroker, type EidBroker, type EidResult } from './eid-broker.ts';
import { eidCallbackRoutes, eidCookieHeader } from './eid-routes.ts';

/** Stand-ins for the hosted flow's own errors. */
class FlowError extends errorClass('FlowError', {
  GUARDIAN_NOT_LISTED: { status: 403, title: 'The adult is not a registered guardian of the minor' },
  FLOW_EXPIRED: { status: 410, title: 'The verification flow has expired' },
}) {}

const REDIRECT_URI = 'http://127.0.0.1:9/verify/eid/callback';
const CLIENT = { client_id: 'idbind-routes-broker', client_secret: 'routes-broker-secret-0123456789', redirect_uris: [REDIRECT_URI] };

let db: TestDatabase;
let eid: TestEidServer;
let broker: EidBroker;
let app: FastifyInstance;
const verified: EidResult[] = [];
const failed: Array<[string, string]> = [];
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedVerificationRegistry(db.pool, db.ring);
  eid = await startTestEidServer({
    persons: [{ personalId: PEOPLE.adult, label: 'Adult An' }, { personalId: PEOPLE.deceased, label: 'Deceased Cuong' }],
    clients: [CLIENT],
    acrValues: [EIDAS_LOA.substantial, EIDAS_LOA.high],
  });
  broker = createEidBroker({
    pool: db.pool, ring: async () => db.ring, redirectUri: REDIRECT_URI,
    config: { issuer: eid.issuer, clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret, personalIdClaim: 'personal_id', acrMap: DEFAULT_EID_ACR_MAP, scope: 'openid', allowInsecure: true, demo: false },
  });
  app = Fastify();
  app.setErrorHandler(errorHandler);
  await app.register(async (scope) => eidCallbackRoutes(scope, {
    broker,
    async onVerified(r) {
      // A flow that refuses the person (here: the test's "refusing" flows) fails like any eID error.
      if (r.flowUid.startsWith('refuse-')) throw new FlowError('GUARDIAN_NOT_LISTED');
      verified.push(r);
    },
    async onFailed(flowUid, code) {
      if (flowUid.startsWith('gone-')) throw new FlowError('FLOW_EXPIRED');
      failed.push([flowUid, code]);
    },
  }));
});
afterAll(async () => {
  await app?.close();
  await eid?.close();
  await db?.drop();
});

async function login(choice: TestEidChoice, prefix = 'flow-') {
  const flowUid = `${prefix}${++n}`;
  const started = await broker.begin({ flowUid, role: 'subject', minLevel: 'substantial' });
  const { callbackUrl } = await signInAtTestEid(started.redirectUrl, choice, REDIRECT_URI);
  const u = new URL(callbackUrl);
  return { flowUid, path: `${u.pathname}${u.search}`, cookie: `${started.cookie.name}=${started.cookie.value}`, started };
}

describe('GET /verify/eid/callback', () => {
  it('completes, tells the flow, clears the cookie and sends the browser back to the flow with 303', async () => {
    const l = await login({ person: 'Adult An', acr: EIDAS_LOA.high });
    const res = await app.inject({ url: l.path, headers: { cookie: `other=1; ${l.cookie}` } });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/verify/${l.flowUid}`);
    expect(String(res.headers['set-cookie'])).toMatch(/^idbind_eid=; Path=\/verify\/eid\/callback; Max-Age=0; HttpOnly; SameSite=Lax/);
    expect(verified).toContainEqual({ flowUid: l.flowUid, role: 'subject', personId: await findPersonIdByPersonalId(db.pool, db.ring, PEOPLE.adult), level: 'high' });
  });

  it('sends the browser back to its flow with the code when the eID step fails', async () => {
    const cancelled = await login({ cancel: true });
    const res = await app.inject({ url: cancelled.path, headers: { cookie: cancelled.cookie } });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/verify/${cancelled.flowUid}`);
    const deceased = await login({ person: 'Deceased', acr: EIDAS_LOA.high });
    await app.inject({ url: deceased.path, headers: { cookie: deceased.cookie } });
    const refused = await login({ person: 'Adult An', acr: EIDAS_LOA.high }, 'refuse-');
    expect((await app.inject({ url: refused.path, headers: { cookie: refused.cookie } })).headers.location).toBe(`/verify/${refused.flowUid}`);
    expect(failed).toEqual(expect.arrayContaining([
      [cancelled.flowUid, 'EID_FAILED'], [deceased.flowUid, 'EID_PERSON_NOT_ELIGIBLE'], [refused.flowUid, 'GUARDIAN_NOT_LISTED'],
    ]));
  });

  it('answers an error itself when the answer belongs to no flow of this browser: problem+json, or a page for a browser', async () => {
    const l = await login({ person: 'Adult An', acr: EIDAS_LOA.high });
    const api = await app.inject({ url: l.path });
    expect(api.statusCode).toBe(400);
    expect(api.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(api.json()).toMatchObject({ code: 'EID_FAILED', status: 400 });
    const page = await app.inject({ url: l.path, headers: { cookie: 'idbind_eid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', accept: 'text/html,*/*' } });
    expect(page.statusCode).toBe(400);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<html lang="vi">');
    expect(page.body).toContain('EID_FAILED');
    // The login was not spent by the forged calls: its own browser still completes it.
    expect((await app.inject({ url: l.path, headers: { cookie: l.cookie } })).statusCode).toBe(303);
    // A flow that is gone answers its own error.
    const gone = await login({ cancel: true }, 'gone-');
    const res = await app.inject({ url: gone.path, headers: { cookie: gone.cookie } });
    expect(res.statusCode).toBe(410);
    expect(res.json()).toMatchObject({ code: 'FLOW_EXPIRED' });
  });

  it('builds the begin cookie: HttpOnly, SameSite=Lax, Secure over https', async () => {
    const { started } = await login({ cancel: true });
    expect(eidCookieHeader(started.cookie, { secure: true })).toBe(`idbind_eid=${started.cookie.value}; Path=/verify/eid/callback; Max-Age=600; HttpOnly; SameSite=Lax; Secure`);
    expect(eidCookieHeader(started.cookie, { secure: false })).not.toContain('Secure');
  });
});
