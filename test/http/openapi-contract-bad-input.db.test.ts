/**
 * Bad input to the provider's own routes against the OpenAPI document: a rotation with a
 * negative overlap, or verification statistics for 0 days, answers 400 REQUEST_INVALID, so the
 * document must say so (a client generated from it treats an undocumented status as unexpected).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { Contract, type Answer } from './openapi-contract.ts';

let hub: TestHub;
let admin: Record<string, string>;
let contract: Contract;
let provider: { id: string; auth: Record<string, string> };

beforeAll(async () => {
  hub = await startTestHub({ demo: true, listen: false });
  admin = { authorization: `Bearer ${hub.adminToken}` };
  contract = new Contract((await hub.app.inject('/openapi.json')).json());
  const r = await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: admin, payload: { name: 'Contract Bad Input', kind: 'platform' } });
  expect(r.statusCode, r.body).toBe(201);
  provider = { id: r.json().provider.id, auth: { authorization: `Bearer ${r.json().api_key}` } };
});
afterAll(async () => hub.stop());

function check(method: string, path: string, a: Answer): void {
  expect(a.statusCode, a.body).toBe(400);
  expect(JSON.parse(a.body).code).toBe('REQUEST_INVALID');
  expect(contract.violations(method, path, a)).toEqual([]);
}

describe('400 REQUEST_INVALID is documented where it is answered', () => {
  it('rotations of the API key and the webhook secret (the provider\'s and the admin\'s)', async () => {
    for (const payload of [{ overlap_seconds: -1 }, { overlap_seconds: 'soon' }, { other: 1 }]) {
      check('POST', '/v1/provider/api-keys', await hub.app.inject({ method: 'POST', url: '/v1/provider/api-keys', headers: provider.auth, payload }));
      check('POST', '/v1/provider/webhook-secrets', await hub.app.inject({ method: 'POST', url: '/v1/provider/webhook-secrets', headers: provider.auth, payload }));
      check('POST', '/v1/admin/providers/{id}/api-keys', await hub.app.inject({ method: 'POST', url: `/v1/admin/providers/${provider.id}/api-keys`, headers: admin, payload }));
    }
  });

  it('verification statistics, the provider\'s and the regulator\'s', async () => {
    for (const days of ['0', '367', 'week']) {
      check('GET', '/v1/provider/verification-stats', await hub.app.inject({ url: `/v1/provider/verification-stats?days=${days}`, headers: provider.auth }));
      check('GET', '/v1/admin/verification-stats', await hub.app.inject({ url: `/v1/admin/verification-stats?days=${days}`, headers: admin }));
    }
  });
});

describe('bulk status as JSON', () => {
  it('refuses a member beside account_refs, as its documented schema (additionalProperties: false) and every other route do', async () => {
    const r = await hub.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: provider.auth, payload: { account_refs: ['a-1'], account_ref: 'a-2' } });
    check('POST', '/v1/accounts/status', r);
    const body = contract.operation('POST', '/v1/accounts/status')!.requestBody!.content!['application/json']!.schema as { additionalProperties?: boolean };
    expect(body.additionalProperties).toBe(false);
  });
});

describe('path parameters longer than their schema allows', () => {
  const long = 'a'.repeat(65);
  it('one delivery and its replay; one provider (the admin\'s)', async () => {
    check('GET', '/v1/webhooks/deliveries/{event_id}', await hub.app.inject({ url: `/v1/webhooks/deliveries/${long}`, headers: provider.auth }));
    check('POST', '/v1/webhooks/deliveries/{event_id}/replay', await hub.app.inject({ method: 'POST', url: `/v1/webhooks/deliveries/${long}/replay`, headers: provider.auth }));
    check('GET', '/v1/admin/providers/{id}', await hub.app.inject({ url: `/v1/admin/providers/${long}`, headers: admin }));
  });
});

describe('bulk status as JSON, one bad ref among many', () => {
  it('names the position of the first bad ref, as schema validation does elsewhere (body.<member>.<index>), without repeating its value', async () => {
    const refs = Array.from({ length: 5000 }, (_, i) => `ok-${i}`);
    refs[3721] = 'user 42@example.com';
    const r = await hub.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: provider.auth, payload: { account_refs: refs } });
    check('POST', '/v1/accounts/status', r);
    expect(r.json().detail).toMatch(/^body\.account_refs\.3721: /);
    expect(r.body).not.toContain('example.com');
  });
});

describe('a body the hub cannot parse', () => {
  // The detail said the web framework's internal name (FST_ERR_CTP_INVALID_JSON_BODY): a platform
  // developer reading the problem could not tell what was wrong with the request.
  it('names what is wrong in words, not the framework\'s error code, and never repeats the body', async () => {
    const cases: [string, string, RegExp][] = [
      ['{"account_ref": "a-1", "phone": "+8490 0000 ', 'application/json', /^body: not valid JSON/],
      ['', 'application/json', /^body: empty/],
      ['{"account_ref": "a-1", "__proto__": {"x": 1}}', 'application/json', /^body: not valid JSON .* or a member named __proto__/],
    ];
    for (const [payload, type, detail] of cases) {
      const r = await hub.app.inject({ method: 'POST', url: '/v1/verifications', headers: { ...provider.auth, 'content-type': type, 'idempotency-key': 'k-parse' }, payload });
      check('POST', '/v1/verifications', r);
      const problem = JSON.parse(r.body) as { detail?: string };
      expect(problem.detail).toMatch(detail);
      expect(problem.detail).not.toMatch(/FST_|8490/);
    }
  });
});

describe('a value outside a choice', () => {
  // A union answered with its first branch's complaint ("must be equal to constant"), which named
  // neither the choices nor, for an address, that both IPv4 and IPv6 are taken.
  it('names the choices a member takes, never the value sent', async () => {
    const bad = await hub.app.inject({ method: 'PATCH', url: `/v1/admin/providers/${provider.id}`, headers: admin, payload: { status: 'paused' } });
    check('PATCH', '/v1/admin/providers/{id}', bad);
    expect(JSON.parse(bad.body).detail).toBe("body.status: must be one of 'active', 'disabled'");
    const ip = await hub.app.inject({
      method: 'POST', url: '/v1/verifications', headers: { ...provider.auth, 'idempotency-key': 'k-ip' }, payload: { account_ref: 'a-1', phone: '+84912345678', client_ip: 'not-an-address' },
    });
    check('POST', '/v1/verifications', ip);
    expect(JSON.parse(ip.body).detail).toBe('body.client_ip: must match format "ipv4" or "ipv6"');
  });
});
