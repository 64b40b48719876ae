/**
 * Mutation review of @idbind/sdk's retries (packages/sdk/src/client.ts): a start whose first try
 * is still running on the hub (IDEMPOTENCY_KEY_IN_USE) is tried again with the same key; a
 * `retry_after` longer than the longest wait is not waited for (the error is the caller's at
 * once); a `Retry-After` header without the problem member is waited for all the same
 * (RFC 9110 section 10.2.3). The hub is a stub fetch here: the timing is what is under test.
 */
import { describe, expect, it } from 'vitest';
import { IdbindClient, type FetchFunction } from '../../packages/sdk/src/index.ts';

const problem = (status: number, code: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ type: 'x', title: code, status, code, ...extra }), { status, headers: { 'content-type': 'application/problem+json', ...headers } });

describe('IdbindClient retries', () => {
  it('repeats a start answered IDEMPOTENCY_KEY_IN_USE with the same key, and returns the answer', async () => {
    const keys: string[] = [];
    const fetch: FetchFunction = async (_url, init) => {
      keys.push((init.headers as Record<string, string>)['idempotency-key']!);
      if (keys.length === 1) return problem(409, 'IDEMPOTENCY_KEY_IN_USE');
      return new Response(JSON.stringify({ id: 'v-1', status: 'code_sent', expires_at: '2030-01-01T00:00:00.000Z' }), { status: 201, headers: { 'content-type': 'application/json' } });
    };
    const client = new IdbindClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'idbk_x', fetch, retry: { minDelayMs: 1, maxDelayMs: 50 } });
    expect(await client.startVerification({ accountRef: 'a-1', phone: '0912000001' })).toMatchObject({ id: 'v-1' });
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });

  it('does not wait for a retry_after longer than its longest wait: the error comes at once', async () => {
    let calls = 0;
    const fetch: FetchFunction = async () => {
      calls++;
      return problem(503, 'SMS_GATEWAY_UNAVAILABLE', { retry_after: 60 }, { 'retry-after': '60' });
    };
    const client = new IdbindClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'idbk_x', fetch, retry: { retries: 2, minDelayMs: 1, maxDelayMs: 200 } });
    // One call, and the test's own time limit: waiting 60 s (or the longest wait, then trying
    // again) would fail one or the other. No wall-clock bound: a loaded CI machine is slow.
    await expect(client.getAccount('a-1')).rejects.toMatchObject({ code: 'SMS_GATEWAY_UNAVAILABLE', retry_after: 60 });
    expect(calls).toBe(1);
  });

  it('waits for a Retry-After header that the problem document does not repeat', async () => {
    const at: number[] = [];
    const fetch: FetchFunction = async () => {
      at.push(Date.now());
      if (at.length === 1) return problem(503, 'INTERNAL', {}, { 'retry-after': '1' });
      return new Response(JSON.stringify({ account_ref: 'a-1', status: 'unverified' }), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const client = new IdbindClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'idbk_x', fetch, retry: { retries: 1, minDelayMs: 1, maxDelayMs: 5000 } });
    expect(await client.getAccount('a-1')).toMatchObject({ status: 'unverified' });
    expect(at).toHaveLength(2);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
  });
});
