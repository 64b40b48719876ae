/**
 * @idbind/sdk's client given numeric options that are not numbers (a platform reading them from
 * an unset environment variable: `Number(undefined)` is NaN). NaN retries never end (`i >= NaN`
 * is false), and NaN delays do not wait: a hub answering 503 would be called in a tight loop
 * forever. The constructor refuses them, as it refuses a malformed baseUrl.
 */
import { describe, expect, it } from 'vitest';
import { IdbindClient, IdbindError, type FetchFunction } from '../../packages/sdk/src/index.ts';

const unset = Number(undefined);

describe('IdbindClient options that are not numbers', () => {
  it.each([
    ['retry.retries', { retry: { retries: unset } }],
    ['retry.minDelayMs', { retry: { minDelayMs: unset } }],
    ['retry.maxDelayMs', { retry: { maxDelayMs: unset } }],
    ['timeoutMs', { timeoutMs: unset }],
    ['a negative timeoutMs', { timeoutMs: -1 }],
    ['infinite retries', { retry: { retries: Infinity } }],
  ])('refuses %s at construction, before any call', (_what, options) => {
    let calls = 0;
    const fetch: FetchFunction = async () => {
      calls++;
      return new Response(JSON.stringify({ code: 'INTERNAL', status: 503, title: 'down' }), { status: 503, headers: { 'content-type': 'application/problem+json' } });
    };
    expect(() => new IdbindClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'idbk_x', fetch, ...options })).toThrow(TypeError);
    expect(calls).toBe(0);
  });

  it('still takes 0 retries and a timeout of 0 (no timer), and a retry count it then keeps to', async () => {
    let calls = 0;
    const fetch: FetchFunction = async () => {
      calls++;
      return new Response(JSON.stringify({ code: 'INTERNAL', status: 503, title: 'down' }), { status: 503, headers: { 'content-type': 'application/problem+json' } });
    };
    const client = new IdbindClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'idbk_x', fetch, timeoutMs: 0, retry: { retries: 2, minDelayMs: 1, maxDelayMs: 2 } });
    await expect(client.getAccount('a-1')).rejects.toBeInstanceOf(IdbindError);
    expect(calls).toBe(3);
    expect(() => new IdbindClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'idbk_x', retry: { retries: 0 } })).not.toThrow();
  });
});

describe('IdbindClient ids refused before sending', () => {
  it.each([
    ['getVerification', (c: IdbindClient) => c.getVerification('..')],
    ['confirmCode', (c: IdbindClient) => c.confirmCode('..', '123456')],
    ['getWebhookDelivery', (c: IdbindClient) => c.getWebhookDelivery('.')],
    ['getCarrierJob', (c: IdbindClient) => c.getCarrierJob('..')],
  ])('%s: a dot segment is refused at once, not retried as if the hub were unreachable', async (_what, call) => {
    let calls = 0;
    const fetch: FetchFunction = async () => {
      calls++;
      return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
    };
    // Retries that would wait minutes: a refusal retried as transient never settles within the race.
    const client = new IdbindClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'idbk_x', fetch, retry: { retries: 2, minDelayMs: 600_000, maxDelayMs: 600_000 } });
    const original = Math.random;
    Math.random = () => 0.99;
    let timer: NodeJS.Timeout | undefined;
    try {
      const settled = call(client).then(() => 'resolved', (e: unknown) => (e instanceof IdbindError ? e.code : 'other'));
      // 10 s: a retry would wait 10 min; a loaded machine may take more than a moment to refuse.
      const pending = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still pending'), 10_000)));
      expect(await Promise.race([settled, pending])).toMatch(/_NOT_FOUND$/);
    } finally {
      clearTimeout(timer);
      Math.random = original;
    }
    expect(calls).toBe(0);
  });
});
