/**
 * The hub's real answers against its own OpenAPI document (issue 3 "Verification API
 * (OpenAPI-documented, RFC 9457 errors with stable codes)"): platforms generate their clients from
 * GET /openapi.json, so every status a route answers must be documented, with the media type it is
 * sent with (RFC 9457 section 3: application/problem+json for errors) and a schema its body
 * validates against. Each route is driven through its real success and failure paths.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { many, N, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { startReconciliation } from '../../src/registry/reconciliation/reconciliation-service.ts';
import { Contract, inlineRefs, type Answer, type OpenApiDocument } from './openapi-contract.ts';

let hub: TestHub;
let admin: Record<string, string>;
let contract: Contract;

interface Provider {
  id: string;
  auth: Record<string, string>;
}

async function createProvider(name: string, extra: Record<string, unknown> = {}): Promise<Provider> {
  const r = await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: admin, payload: { name, kind: 'platform', ...extra } });
  expect(r.statusCode, r.body).toBe(201);
  return { id: r.json().provider.id, auth: { authorization: `Bearer ${r.json().api_key}` } };
}

let platform: Provider;
let carrier: Provider;

beforeAll(async () => {
  hub = await startTestHub({ demo: true, listen: false });
  admin = { authorization: `Bearer ${hub.adminToken}` };
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  await (await startReconciliation(hub.hub.pool, await hub.hub.ring(), 'test')).done;
  contract = new Contract((await hub.app.inject('/openapi.json')).json());
  platform = await createProvider('Contract Net', { limits: { accounts_per_person: 100 } });
  carrier = await createProvider('Contract Carrier', { kind: 'carrier', carrier: 'vinaphone' });
});
afterAll(async () => hub.stop());

/** Every violation of the document by these answers, with the error code where there is one. */
function check(method: string, path: string, ...answers: Answer[]): void {
  const found = answers.flatMap((a) => contract.violations(method, path, a));
  if (found.length > 0) throw new Error(`${found.length} violation(s) of the OpenAPI document:\n${found.join('\n')}`);
}

function start(p: Provider, accountRef: string, phone: string, key: string = randomUUID()) {
  return hub.app.inject({ method: 'POST', url: '/v1/verifications', headers: { ...p.auth, 'idempotency-key': key }, payload: { account_ref: accountRef, phone } });
}

async function lastCode(phone: string): Promise<string> {
  const r = await hub.app.inject({ url: `/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}` });
  return (r.json() as { text: string }[]).at(-1)!.text.match(/\b\d{6}\b/)![0];
}

function wrong(code: string): string {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

describe('the document itself', () => {
  it('resolves every $ref, applies only declared security schemes, and gives every operation a unique operationId', () => {
    const doc = contract.doc as OpenApiDocument;
    expect(doc.openapi).toMatch(/^3\.1\./);
    const schemes = Object.keys(doc.components.securitySchemes ?? {});
    const ids = new Map<string, number>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(() => inlineRefs(op, doc), `${method} ${path}`).not.toThrow();
        for (const s of op.security ?? []) for (const name of Object.keys(s)) expect(schemes, `${method} ${path}`).toContain(name);
        // Generated clients name their methods after it (operation-ids.ts).
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z]+[A-Za-z0-9]*$/);
        if (op.operationId) ids.set(op.operationId, (ids.get(op.operationId) ?? 0) + 1);
        // Every path parameter of the template is declared, and nothing else in the path.
        const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
        expect((op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort(), `${method} ${path}`).toEqual(inPath);
      }
    }
    expect([...ids].filter(([, n]) => n > 1)).toEqual([]);
    expect(doc.paths['/v1/verifications/{id}/confirm']!.post!.operationId).toBe('postVerificationsByIdConfirm');
    expect(doc.paths['/v1/accounts/{account_ref}']!.get!.operationId).toBe('getAccountsByAccountRef');
  });

  it('documents on every operation the problems any route answers: 413 and 415 with a body, 401 with a credential, 403 with an API key', async () => {
    const doc = contract.doc as OpenApiDocument;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const statuses = Object.keys((op as { responses?: Record<string, unknown> }).responses ?? {});
        const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
        if ((op as { requestBody?: unknown }).requestBody) expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(['413', '415']));
        if (schemes.length > 0) expect(statuses, `${method} ${path}`).toContain('401');
        if (schemes.includes('apiKey')) expect(statuses, `${method} ${path}`).toContain('403');
      }
    }
    // And a route the review found answering 415 undocumented does answer it, as documented.
    const r = await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/xml' }, payload: '<p/>' });
    expect(r.statusCode).toBe(415);
    expect(r.headers['content-type']).toContain('application/problem+json');
  });

  it('documents every error response as application/problem+json (RFC 9457 section 3), the media type the hub answers with', () => {
    const wrongType: string[] = [];
    for (const [path, ops] of Object.entries(contract.doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, r] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          const types = Object.keys(r.content ?? {});
          if (!types.includes('application/problem+json') || types.includes('application/json')) wrongType.push(`${method} ${path} ${status}: ${types.join(', ')}`);
        }
      }
    }
    if (wrongType.length > 0) throw new Error(`${wrongType.length} error response(s) not documented as application/problem+json, e.g.:\n${wrongType.slice(0, 5).join('\n')}`);
  });
});

describe('POST /v1/verifications', () => {
  const path = '/v1/verifications';

  it('201 code_sent, with Location; a replay too', async () => {
    const key = randomUUID();
    const s = await start(platform, 'c-start-1', N.adult, key);
    expect(s.statusCode, s.body).toBe(201);
    const replay = await start(platform, 'c-start-1', N.adult, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    check('POST', path, s, replay);
  });

  it('400 REQUEST_INVALID, PHONE_INVALID, IDEMPOTENCY_KEY_REQUIRED; 401; 403 for a carrier; 422 NUMBER_NOT_ELIGIBLE and IDEMPOTENCY_KEY_REUSED', async () => {
    const key = randomUUID();
    const answers = [
      await start(platform, '../bad ref', N.adult),
      await start(platform, 'c-start-2', '12345'),
      await hub.app.inject({ method: 'POST', url: path, headers: platform.auth, payload: { account_ref: 'c-start-3', phone: N.adult } }),
      await hub.app.inject({ method: 'POST', url: path, headers: { 'idempotency-key': key }, payload: { account_ref: 'c-start-3', phone: N.adult } }),
      await start(carrier, 'c-start-3', N.adult),
      await start(platform, 'c-start-4', N.deceased),
      await start(platform, 'c-start-5', N.adult2, key),
      await start(platform, 'c-start-6', N.adult2, key),
    ];
    expect(answers.map((a) => a.json().code)).toEqual([
      'REQUEST_INVALID', 'PHONE_INVALID', 'IDEMPOTENCY_KEY_REQUIRED', 'API_KEY_INVALID', 'PROVIDER_KIND_FORBIDDEN', 'NUMBER_NOT_ELIGIBLE', undefined, 'IDEMPOTENCY_KEY_REUSED',
    ]);
    check('POST', path, ...answers);
  });

  it('413 and 415 for a body too large or not JSON', async () => {
    const big = await hub.app.inject({
      method: 'POST', url: path, headers: { ...platform.auth, 'idempotency-key': randomUUID(), 'content-type': 'application/json' },
      payload: JSON.stringify({ account_ref: 'c-big', phone: 'x'.repeat(1_100_000) }),
    });
    const text = await hub.app.inject({ method: 'POST', url: path, headers: { ...platform.auth, 'idempotency-key': randomUUID(), 'content-type': 'application/xml' }, payload: '<a/>' });
    expect([big.statusCode, text.statusCode], text.body).toEqual([413, 415]);
    check('POST', path, big, text);
  });

  it('429 RATE_LIMITED with Retry-After, and SMS_BUDGET_EXHAUSTED', async () => {
    const phone = many(0);
    for (let i = 0; i < 5; i++) expect((await start(platform, `c-rl-${i}`, phone)).statusCode).toBe(201);
    const limited = await start(platform, 'c-rl-6', phone);
    const tight = await createProvider('Contract Tight', { limits: { sms_per_day: 1 } });
    expect((await start(tight, 'c-b-1', many(1))).statusCode).toBe(201);
    const budget = await start(tight, 'c-b-2', many(2));
    expect([limited.json().code, budget.json().code]).toEqual(['RATE_LIMITED', 'SMS_BUDGET_EXHAUSTED']);
    check('POST', path, limited, budget);
  });
});

describe('GET /v1/verifications/{id}, resend, confirm', () => {
  it('GET: 200 while code_sent and once verified (with its result); 404 for an unknown or malformed id', async () => {
    const s = await start(platform, 'c-get-1', many(3));
    const id = s.json().id as string;
    const sent = await hub.app.inject({ url: `/v1/verifications/${id}`, headers: platform.auth });
    const c = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/confirm`, headers: platform.auth, payload: { code: await lastCode(many(3)) } });
    expect(c.statusCode, c.body).toBe(200);
    const done = await hub.app.inject({ url: `/v1/verifications/${id}`, headers: platform.auth });
    expect(done.json().result).toMatchObject({ status: 'verified', level: 'low' });
    const unknown = await hub.app.inject({ url: `/v1/verifications/${randomUUID()}`, headers: platform.auth });
    const malformed = await hub.app.inject({ url: '/v1/verifications/not-a-uuid', headers: platform.auth });
    check('GET', '/v1/verifications/{id}', sent, done, unknown, malformed);
    check('POST', '/v1/verifications/{id}/confirm', c);
  });

  it('confirm: 400 CODE_MALFORMED, 422 CODE_INVALID, 409 TOO_MANY_ATTEMPTS and VERIFICATION_COMPLETED, 410 CODE_EXPIRED, 403 GUARDIAN_REQUIRED', async () => {
    const confirm = (id: string, code: string) => hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/confirm`, headers: platform.auth, payload: { code } });
    const s = await start(platform, 'c-conf-1', many(4));
    const id = s.json().id as string;
    const code = await lastCode(many(4));
    const answers = [await confirm(id, 'abc')];
    for (let i = 0; i < 5; i++) answers.push(await confirm(id, wrong(code)));
    answers.push(await confirm(id, code));
    const e = await start(platform, 'c-conf-2', many(5));
    await hub.hub.pool.query(`UPDATE verifications SET code_expires_at = now() - interval '1 second' WHERE id = $1`, [e.json().id]);
    answers.push(await confirm(e.json().id, await lastCode(many(5))));
    const m = await start(platform, 'c-conf-3', N.minor);
    answers.push(await confirm(m.json().id, await lastCode(N.minor)));
    const c = await start(platform, 'c-conf-4', many(6));
    await confirm(c.json().id, await lastCode(many(6)));
    answers.push(await confirm(c.json().id, await lastCode(many(6))));
    expect(answers.map((a) => a.json().code)).toEqual([
      'CODE_MALFORMED', 'CODE_INVALID', 'CODE_INVALID', 'CODE_INVALID', 'CODE_INVALID', 'TOO_MANY_ATTEMPTS', 'TOO_MANY_ATTEMPTS', 'CODE_EXPIRED', 'GUARDIAN_REQUIRED', 'VERIFICATION_COMPLETED',
    ]);
    check('POST', '/v1/verifications/{id}/confirm', ...answers);
    // The minor's verification reads back as guardian_required.
    check('GET', '/v1/verifications/{id}', await hub.app.inject({ url: `/v1/verifications/${m.json().id}`, headers: platform.auth }));
  });

  it('resend: 200 with no body and with a body; 429 RESEND_TOO_SOON with Retry-After; 404', async () => {
    const s = await start(platform, 'c-resend-1', many(7));
    const id = s.json().id as string;
    const soon = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/resend`, headers: platform.auth });
    await hub.hub.pool.query(`UPDATE verifications SET last_sent_at = now() - interval '31 seconds' WHERE id = $1`, [id]);
    const ok = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/resend`, headers: platform.auth });
    await hub.hub.pool.query(`UPDATE verifications SET last_sent_at = now() - interval '31 seconds' WHERE id = $1`, [id]);
    const withBody = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/resend`, headers: platform.auth, payload: { client_ip: '203.0.113.9' } });
    const unknown = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${randomUUID()}/resend`, headers: platform.auth });
    expect([soon.statusCode, ok.statusCode, withBody.statusCode, unknown.statusCode]).toEqual([429, 200, 200, 404]);
    check('POST', '/v1/verifications/{id}/resend', soon, ok, withBody, unknown);
  });
});

/** A verified account of `p` (through the real flow). */
async function verified(p: Provider, accountRef: string, phone: string): Promise<void> {
  const s = await start(p, accountRef, phone);
  expect(s.statusCode, s.body).toBe(201);
  const c = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${s.json().id}/confirm`, headers: p.auth, payload: { code: await lastCode(phone) } });
  expect(c.statusCode, c.body).toBe(200);
}

describe('accounts', () => {
  it('GET status: 200 verified and unverified; 400 bad ref; 401', async () => {
    await verified(platform, 'c-acct-1', many(8));
    const answers = await Promise.all([
      hub.app.inject({ url: '/v1/accounts/c-acct-1', headers: platform.auth }),
      hub.app.inject({ url: '/v1/accounts/nobody', headers: platform.auth }),
      hub.app.inject({ url: '/v1/accounts/%20bad', headers: platform.auth }),
      hub.app.inject({ url: '/v1/accounts/c-acct-1' }),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 400, 401]);
    check('GET', '/v1/accounts/{account_ref}', ...answers);
  });

  it('bulk status: 200 JSON and NDJSON; 400; 413 BULK_TOO_LARGE', async () => {
    const url = '/v1/accounts/status';
    const answers = [
      await hub.app.inject({ method: 'POST', url, headers: platform.auth, payload: { account_refs: ['c-acct-1', 'nobody'] } }),
      await hub.app.inject({ method: 'POST', url, headers: { ...platform.auth, 'content-type': 'application/x-ndjson' }, payload: '{"account_ref":"c-acct-1"}\nnot json\n{"account_ref":"nobody"}\n' }),
      await hub.app.inject({ method: 'POST', url, headers: platform.auth, payload: { account_refs: [] } }),
      await hub.app.inject({ method: 'POST', url, headers: platform.auth, payload: { account_refs: Array.from({ length: 10_001 }, (_, i) => `a${i}`) } }),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 400, 413]);
    check('POST', url, ...answers);
  });

  // Not documented, and src/bindings/binding-routes.ts is not this review's to change. The fix:
  // 403: PROBLEM_SCHEMA on the three account routes (providerGuard answers PROVIDER_KIND_FORBIDDEN
  // to a carrier, PROVIDER_DISABLED to a disabled provider), and 415: PROBLEM_SCHEMA on
  // POST /v1/accounts/status (a body neither JSON nor NDJSON). These pass once it is made.
  it('the account routes document 403 (a carrier, a disabled provider) and bulk status 415 (binding-routes.ts)', async () => {
    const url = '/v1/accounts/status';
    const answers: [string, string, Answer][] = [
      ['GET', '/v1/accounts/{account_ref}', await hub.app.inject({ url: '/v1/accounts/c-acct-1', headers: carrier.auth })],
      ['DELETE', '/v1/accounts/{account_ref}', await hub.app.inject({ method: 'DELETE', url: '/v1/accounts/c-acct-1', headers: carrier.auth })],
      ['POST', url, await hub.app.inject({ method: 'POST', url, headers: carrier.auth, payload: { account_refs: ['x'] } })],
      ['POST', url, await hub.app.inject({ method: 'POST', url, headers: { ...platform.auth, 'content-type': 'application/xml' }, payload: '<a/>' })],
    ];
    expect(answers.map(([, , a]) => a.statusCode)).toEqual([403, 403, 403, 415]);
    for (const [method, path, a] of answers) check(method, path, a);
  });

  it('DELETE: 204; 404 for an account never bound', async () => {
    await verified(platform, 'c-acct-2', many(9));
    const gone = await hub.app.inject({ method: 'DELETE', url: '/v1/accounts/c-acct-2', headers: platform.auth });
    const missing = await hub.app.inject({ method: 'DELETE', url: '/v1/accounts/never-bound', headers: platform.auth });
    expect([gone.statusCode, missing.statusCode]).toEqual([204, 404]);
    check('DELETE', '/v1/accounts/{account_ref}', gone, missing);
  });
});

describe('providers', () => {
  it('admin create: 201 with Location; 400; 409 name taken; 422 webhook URL refused', async () => {
    const url = '/v1/admin/providers';
    const answers = [
      await hub.app.inject({ method: 'POST', url, headers: admin, payload: { name: 'Contract Created', kind: 'platform' } }),
      await hub.app.inject({ method: 'POST', url, headers: admin, payload: { name: '', kind: 'platform' } }),
      await hub.app.inject({ method: 'POST', url, headers: admin, payload: { name: 'Contract Created', kind: 'platform' } }),
      await hub.app.inject({ method: 'POST', url, headers: admin, payload: { name: 'Contract Private', kind: 'platform', webhook_url: 'https://10.0.0.1/hooks' } }),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([201, 400, 409, 422]);
    check('POST', url, ...answers);
  });

  it("the provider's own routes: 200/201; 403 for a disabled provider", async () => {
    const p = await createProvider('Contract Self');
    const answers = {
      get: await hub.app.inject({ url: '/v1/provider', headers: p.auth }),
      webhook: await hub.app.inject({ method: 'PUT', url: '/v1/provider/webhook', headers: p.auth, payload: { url: null } }),
      secret: await hub.app.inject({ url: '/v1/provider/webhook-secret', headers: p.auth }),
      secrets: await hub.app.inject({ method: 'POST', url: '/v1/provider/webhook-secrets', headers: p.auth }),
      stats: await hub.app.inject({ url: '/v1/provider/verification-stats', headers: p.auth }),
    };
    expect(Object.values(answers).map((a) => a.statusCode)).toEqual([200, 200, 200, 201, 200]);
    check('GET', '/v1/provider', answers.get);
    check('PUT', '/v1/provider/webhook', answers.webhook);
    check('GET', '/v1/provider/webhook-secret', answers.secret);
    check('POST', '/v1/provider/webhook-secrets', answers.secrets);
    check('GET', '/v1/provider/verification-stats', answers.stats);
    expect((await hub.app.inject({ method: 'PATCH', url: `/v1/admin/providers/${p.id}`, headers: admin, payload: { status: 'disabled' } })).statusCode).toBe(200);
    const disabled = await hub.app.inject({ url: '/v1/provider', headers: p.auth });
    expect(disabled.json().code).toBe('PROVIDER_DISABLED');
    check('GET', '/v1/provider', disabled);
    check('GET', '/v1/provider/verification-stats', await hub.app.inject({ url: '/v1/provider/verification-stats', headers: p.auth }));
    check('GET', '/v1/webhooks/deliveries', await hub.app.inject({ url: '/v1/webhooks/deliveries', headers: p.auth }));
  });
});

describe('webhooks', () => {
  it('delivery log, one delivery, replays, events: 200/202; 400 bad cursor; 404; 409 no URL; 422 replay invalid; 429 test events', async () => {
    const p = await createProvider('Contract Hooks');
    const noUrl = await hub.app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: p.auth });
    expect(noUrl.json().code).toBe('WEBHOOK_URL_NOT_SET');
    await hub.hub.pool.query(`UPDATE providers SET webhook_url = 'http://127.0.0.1:9/hooks' WHERE id = $1`, [p.id]);
    await verified(p, 'c-hook-1', many(10));
    const tests = [];
    // The limit (10 a minute) counts in whole minutes: the 12 calls must fall in one, so do not
    // start within 15 s of the next one (a loaded machine may take seconds over them).
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
    for (let i = 0; i < 12; i++) tests.push(await hub.app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: p.auth }));
    expect(tests.map((t) => t.statusCode)).toContain(429);
    check('POST', '/v1/webhooks/test', noUrl, ...tests);
    const list = await hub.app.inject({ url: '/v1/webhooks/deliveries?limit=2', headers: p.auth });
    expect(list.json().deliveries.length).toBeGreaterThan(0);
    const badCursor = await hub.app.inject({ url: '/v1/webhooks/deliveries?cursor=nonsense', headers: p.auth });
    check('GET', '/v1/webhooks/deliveries', list, badCursor);
    const ids = (await hub.app.inject({ url: '/v1/webhooks/deliveries?limit=500', headers: p.auth })).json().deliveries.map((d: { event_id: string }) => d.event_id) as string[];
    const one = await Promise.all(ids.map((id) => hub.app.inject({ url: `/v1/webhooks/deliveries/${id}`, headers: p.auth })));
    check('GET', '/v1/webhooks/deliveries/{event_id}', ...one, await hub.app.inject({ url: `/v1/webhooks/deliveries/${randomUUID()}`, headers: p.auth }));
    check('POST', '/v1/webhooks/deliveries/{event_id}/replay',
      await hub.app.inject({ method: 'POST', url: `/v1/webhooks/deliveries/${ids[0]}/replay`, headers: p.auth }),
      await hub.app.inject({ method: 'POST', url: `/v1/webhooks/deliveries/${randomUUID()}/replay`, headers: p.auth }));
    check('POST', '/v1/webhooks/replay',
      await hub.app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: p.auth, payload: { status: 'dead' } }),
      await hub.app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: p.auth, payload: {} }),
      await hub.app.inject({ method: 'POST', url: '/v1/webhooks/replay', headers: p.auth, payload: { since: 'yesterday' } }));
    // An event is served once every older transaction has ended (another file's may still be
    // open on a busy run): asked again until the page holds one.
    let events = await hub.app.inject({ url: '/v1/events', headers: p.auth });
    for (const end = Date.now() + 60_000; events.json().events.length === 0 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 50));
      events = await hub.app.inject({ url: '/v1/events', headers: p.auth });
    }
    expect(events.json().events.length).toBeGreaterThan(0);
    check('GET', '/v1/events', events, await hub.app.inject({ url: '/v1/events?after=nonsense', headers: p.auth }));
  });
});

describe('carriers', () => {
  it('upload 202 with Location; job 200; 404; 415; 403 for a platform; action list 404 or 200', async () => {
    const csv = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at\n+84912555001,001090000001,Nguyen Van An,1990-05-01,store,2020-01-01T00:00:00Z,active,,\n';
    const up = await hub.app.inject({ method: 'POST', url: '/v1/carrier/registry', headers: { ...carrier.auth, 'content-type': 'text/csv' }, payload: csv });
    expect(up.statusCode, up.body).toBe(202);
    const xml = await hub.app.inject({ method: 'POST', url: '/v1/carrier/registry', headers: { ...carrier.auth, 'content-type': 'application/xml' }, payload: '<a/>' });
    const asPlatform = await hub.app.inject({ method: 'POST', url: '/v1/carrier/registry', headers: { ...platform.auth, 'content-type': 'text/csv' }, payload: csv });
    check('POST', '/v1/carrier/registry', up, xml, asPlatform);
    for (const end = Date.now() + 60_000; !['completed', 'failed'].includes((await hub.app.inject({ url: up.json().location, headers: carrier.auth })).json().status) && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
    check('GET', '/v1/carrier/jobs/{id}',
      await hub.app.inject({ url: up.json().location, headers: carrier.auth }),
      await hub.app.inject({ url: `/v1/carrier/jobs/${randomUUID()}`, headers: carrier.auth }));
    check('GET', '/v1/carrier/jobs', await hub.app.inject({ url: '/v1/carrier/jobs', headers: carrier.auth }));
    check('GET', '/v1/carrier/jobs/{id}/rejects', await hub.app.inject({ url: `${up.json().location}/rejects`, headers: carrier.auth }));
    check('GET', '/v1/carrier/action-list', await hub.app.inject({ url: '/v1/carrier/action-list', headers: carrier.auth }));
  });
});
