/**
 * Issue 3 "Status": bulk `POST /v1/accounts/status` takes JSON or NDJSON, as sent. Any other
 * body is bad input with a precise error (DESIGN.md invariant 5; docs/errors.md
 * UNSUPPORTED_MEDIA_TYPE: "the request body's content type is not one the route accepts"), never
 * a 200 whose every line says REQUEST_INVALID because the hub read compressed bytes as text.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';

let t: TestHub;
let auth: Record<string, string>;
beforeAll(async () => {
  t = await startTestHub({ demo: true, listen: false });
  const r = await t.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: { authorization: `Bearer ${t.adminToken}` }, payload: { name: 'Media Social', kind: 'platform' } });
  auth = { authorization: `Bearer ${r.json().api_key}` };
});
afterAll(async () => {
  await t?.stop();
});

const post = (headers: Record<string, string>, payload: string | Buffer) =>
  t.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: { ...auth, ...headers }, payload });

describe('bulk status media types', () => {
  it('refuses a compressed body (Content-Encoding) with UNSUPPORTED_MEDIA_TYPE, NDJSON and JSON alike', async () => {
    const ndjson = gzipSync(Buffer.from('{"account_ref":"m-1"}\n{"account_ref":"m-2"}\n'));
    for (const [type, body] of [['application/x-ndjson', ndjson], ['application/json', gzipSync(Buffer.from('{"account_refs":["m-1"]}'))]] as const) {
      const r = await post({ 'content-type': type, 'content-encoding': 'gzip' }, body);
      expect(r.statusCode, r.body.slice(0, 200)).toBe(415);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    }
  });

  it('refuses a body that is neither JSON nor NDJSON with UNSUPPORTED_MEDIA_TYPE', async () => {
    const r = await post({ 'content-type': 'text/plain' }, 'm-1\nm-2\n');
    expect(r.statusCode, r.body.slice(0, 200)).toBe(415);
    expect(r.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('still takes both media types, identity-encoded or not encoded', async () => {
    const json = await post({ 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'identity' }, '{"account_refs":["m-1"]}');
    expect(json.statusCode, json.body).toBe(200);
    expect(json.json().accounts).toEqual([expect.objectContaining({ account_ref: 'm-1', status: 'unverified' })]);
    const nd = await post({ 'content-type': 'application/x-ndjson' }, '{"account_ref":"m-1"}\n');
    expect(nd.statusCode, nd.body).toBe(200);
    expect(JSON.parse(nd.body.trim())).toMatchObject({ account_ref: 'm-1', status: 'unverified' });
  });
});
