/** The retry schedule and the delivery log's error texts (the dispatcher itself: test/http/webhooks-delivery.db.test.ts). */
import { describe, expect, it } from 'vitest';
import { OutboundUrlError } from '../kernel/http/outbound-http.ts';
import { DEFAULT_JITTER, DEFAULT_RETRY_DELAYS_MS, describeFailure, describeStatus, retryAfterDelayMs, retryAfterFailure } from './webhook-dispatcher.ts';

function schedule(random: () => number): number[] {
  const delays: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const next = retryAfterFailure(attempt, DEFAULT_RETRY_DELAYS_MS, DEFAULT_JITTER, random);
    if (next.outcome === 'dead') return delays;
    delays.push(next.delayMs);
  }
}

describe('retry schedule', () => {
  it('retries for at least 24 hours whatever the jitter draws, in 8 attempts, then dead-letters', () => {
    for (const random of [() => 0, () => 0.5, () => 0.999999, Math.random]) {
      const delays = schedule(random);
      expect(delays).toHaveLength(7);
      expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(24 * 3600_000);
    }
    expect(schedule(() => 0.5)).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
  });

  it('backs off: no delay shorter than the one before, jitter within ±10%', () => {
    const low = schedule(() => 0);
    const high = schedule(() => 1);
    expect([...low].sort((x, y) => x - y)).toEqual(low);
    expect(low.map((d, i) => d / DEFAULT_RETRY_DELAYS_MS[i]!)).toEqual(Array(7).fill(0.9));
    expect(high.map((d, i) => d / DEFAULT_RETRY_DELAYS_MS[i]!)).toEqual(Array(7).fill(1.1));
  });

  it('counts attempts from the last replay: a replayed delivery gets the whole schedule again', () => {
    expect(retryAfterFailure(8, DEFAULT_RETRY_DELAYS_MS, 0, Math.random)).toEqual({ outcome: 'dead' });
    expect(retryAfterFailure(1, DEFAULT_RETRY_DELAYS_MS, 0, Math.random)).toEqual({ outcome: 'retry', delayMs: 5_000 });
    expect(retryAfterFailure(1, [], 0, Math.random)).toEqual({ outcome: 'dead' });
  });
});

describe('delivery log texts', () => {
  it('names the class of failure, never a body or a payload', () => {
    const err = (code: string, message = 'connect ECONNREFUSED 127.0.0.1:9 {"account_ref":"x"}') => Object.assign(new Error(message), { code });
    expect(describeFailure(err('ECONNREFUSED'), 15_000)).toBe('connection refused');
    expect(describeFailure(err('ECONNRESET'), 15_000)).toBe('connection reset');
    expect(describeFailure(err('ENOTFOUND'), 15_000)).toBe('the host name does not resolve');
    expect(describeFailure(err('DEPTH_ZERO_SELF_SIGNED_CERT'), 15_000)).toBe('TLS error (DEPTH_ZERO_SELF_SIGNED_CERT)');
    expect(describeFailure(err('EPIPE'), 15_000)).toBe('network error (EPIPE)');
    expect(describeFailure(new Error('{"account_ref":"x"}'), 15_000)).toBe('network error (Error)');
    expect(describeFailure(new OutboundUrlError('no answer within 15000 ms'), 15_000)).toBe('timeout: no answer within 15000 ms');
    expect(describeFailure(Object.assign(new OutboundUrlError('the host resolves to a loopback address'), { code: 'EOUTBOUNDFORBIDDEN' }), 15_000))
      .toBe('destination refused: the host resolves to a loopback address');
    expect(describeStatus(302)).toBe('HTTP 302: redirects are not followed');
    expect(describeStatus(410)).toBe('HTTP 410 Gone: the endpoint is disabled until the webhook URL is set again');
    expect(describeStatus(404)).toBe('HTTP 404');
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-11-23T10:00:00Z');
  it('reads delay-seconds and HTTP-dates on the statuses that ask to slow down, capped', () => {
    expect(retryAfterDelayMs(429, '120', now, 36_000_000)).toBe(120_000);
    expect(retryAfterDelayMs(503, ' 7 ', now, 36_000_000)).toBe(7_000);
    expect(retryAfterDelayMs(502, 'Mon, 23 Nov 2026 11:00:00 GMT', now, 36_000_000)).toBe(3_600_000);
    expect(retryAfterDelayMs(504, 'Mon, 23 Nov 2026 09:00:00 GMT', now, 36_000_000)).toBe(0);
    expect(retryAfterDelayMs(429, '999999999', now, 36_000_000)).toBe(36_000_000);
  });
  it('ignores it when absent, unparsable, or on other statuses', () => {
    expect(retryAfterDelayMs(429, undefined, now, 36_000_000)).toBeUndefined();
    expect(retryAfterDelayMs(429, 'soon', now, 36_000_000)).toBeUndefined();
    expect(retryAfterDelayMs(429, '-5', now, 36_000_000)).toBeUndefined();
    expect(retryAfterDelayMs(500, '120', now, 36_000_000)).toBeUndefined();
    expect(retryAfterDelayMs(404, '120', now, 36_000_000)).toBeUndefined();
  });
});
