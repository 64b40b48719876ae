/**
 * Issue 3 "Status: bulk POST /v1/accounts/status (up to 10,000 refs; beyond that an
 * application/x-ndjson request answered by an application/x-ndjson stream)" at its limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';

let t: TestHub;
let auth: Record<string, string>;
beforeAll(async () => {
  t = await startTestHub({ demo: true, listen: false });
  const r = await t.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: { authorization: `Bearer ${t.adminToken}` }, payload: { name: 'Bulk Social', kind: 'platform' } });
  auth = { authorization: `Bearer ${r.json().api_key}` };
});
afterAll(async () => {
  await t?.stop();
});

const ref = (i: number) => `${'r'.repeat(120)}${String(i).padStart(8, '0')}`; // 128 characters, the longest ref

describe('bulk status at the limits', () => {
  it('takes 10,000 refs of the longest length as JSON, pretty-printed', async () => {
    const body = JSON.stringify({ account_refs: Array.from({ length: 10_000 }, (_, i) => ref(i)) }, null, 2);
    const r = await t.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: { ...auth, 'content-type': 'application/json' }, payload: body });
    expect(r.statusCode, r.body.slice(0, 200)).toBe(200);
    expect(r.json().accounts).toHaveLength(10_000);
  });

  it('answers more than 10,000 refs as JSON with BULK_TOO_LARGE (send NDJSON), however long the refs', async () => {
    const body = JSON.stringify({ account_refs: Array.from({ length: 20_000 }, (_, i) => ref(i)) });
    const r = await t.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: { ...auth, 'content-type': 'application/json' }, payload: body });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ code: 'BULK_TOO_LARGE' });
  });

  it('streams an NDJSON request of more than 2 MiB, one answer per line', async () => {
    const n = 25_000;
    const body = Array.from({ length: n }, (_, i) => JSON.stringify({ account_ref: ref(i) })).join('\n') + '\n';
    expect(body.length).toBeGreaterThan(3 * 1024 * 1024);
    const r = await t.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: { ...auth, 'content-type': 'application/x-ndjson' }, payload: body });
    expect(r.statusCode, r.body.slice(0, 200)).toBe(200);
    const lines = r.body.trimEnd().split('\n');
    expect(lines).toHaveLength(n);
    expect(JSON.parse(lines[n - 1]!)).toMatchObject({ account_ref: ref(n - 1), status: 'unverified' });
  });

  it('answers a malformed NDJSON line in its place, and a mixed-case content type too', async () => {
    const body = ['{"account_ref":"a-1"}', '{"account_ref":"bad ref"}', 'not json', '{"account_ref":"a-1"}'].join('\n');
    const r = await t.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: { ...auth, 'content-type': 'Application/X-NDJSON; charset=utf-8' }, payload: body });
    expect(r.statusCode, r.body).toBe(200);
    const lines = r.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.account_ref ?? l.code)).toEqual(['a-1', 'REQUEST_INVALID', 'REQUEST_INVALID', 'a-1']);
    expect(JSON.stringify(lines)).not.toContain('bad ref');
  });
});
