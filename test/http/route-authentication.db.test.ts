/**
 * Every provider route and every admin route is authenticated (issue 3: "Every provider call is
 * authenticated"). The list of routes is read from the OpenAPI document, so a route added later
 * without its guard fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ demo: false, listen: false });
});
afterAll(async () => hub.stop());

interface Operation {
  security?: Record<string, unknown>[];
}

function routes(doc: { paths: Record<string, Record<string, Operation>> }, scheme: string): { method: string; url: string }[] {
  const out: { method: string; url: string }[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!op.security?.some((s) => scheme in s)) continue;
      // Path parameters get a well-formed but unknown value.
      const url = path.replace(/\{([a-z_]+)\}/g, (_m, name: string) => (name === 'carrier' ? 'viettel' : name.endsWith('id') ? '00000000-0000-7000-8000-000000000000' : 'x'));
      out.push({ method: method.toUpperCase(), url });
    }
  }
  return out;
}

describe('authentication of every route', () => {
  it('refuses every provider route without a key, and with a malformed or unknown one', async () => {
    const doc = (await hub.app.inject('/openapi.json')).json();
    const list = routes(doc, 'apiKey');
    expect(list.length).toBeGreaterThan(20);
    for (const r of list) {
      for (const headers of [{}, { authorization: 'Bearer idbk_short' }, { authorization: `Bearer idbk_${'B'.repeat(43)}` }]) {
        const res = await hub.app.inject({ method: r.method as 'GET', url: r.url, headers: { ...headers, 'content-type': 'application/json' }, payload: r.method === 'GET' || r.method === 'DELETE' ? undefined : '{}' });
        expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
        expect(res.json().code, `${r.method} ${r.url}`).toBe('API_KEY_INVALID');
      }
    }
  });

  it('refuses every admin route without the admin token, and does not take a provider key for it', async () => {
    const created = await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: { authorization: `Bearer ${hub.adminToken}` }, payload: { name: 'Auth Net', kind: 'platform' } });
    const providerKey = created.json().api_key as string;
    const doc = (await hub.app.inject('/openapi.json')).json();
    const list = routes(doc, 'adminToken');
    expect(list.length).toBeGreaterThan(8);
    for (const r of list) {
      for (const headers of [{}, { authorization: `Bearer ${providerKey}` }]) {
        const res = await hub.app.inject({ method: r.method as 'GET', url: r.url, headers: { ...headers, 'content-type': 'application/json' }, payload: r.method === 'GET' || r.method === 'DELETE' ? undefined : '{}' });
        expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
        expect(res.json().code, `${r.method} ${r.url}`).toBe('ADMIN_TOKEN_INVALID');
      }
    }
  });
});
