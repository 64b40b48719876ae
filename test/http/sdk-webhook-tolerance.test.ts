/**
 * @idbind/sdk's webhook verifier given a tolerance or a clock that is not a number (a receiver
 * reading them from an unset environment variable): it must refuse, not accept every timestamp.
 * Standard Webhooks 1.0.0 "Verifying signatures": a timestamp too far from now is refused, so
 * that a captured delivery cannot be replayed later (DESIGN.md invariant 5: fail closed).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook, WebhookVerificationError } from '../../packages/sdk/src/index.ts';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const body = JSON.stringify({ id: 'msg_1', type: 'webhook.test', occurred_at: '2026-01-01T00:00:00.000Z' });
// Signed a day ago: a delivery captured then and replayed now.
const signedAt = new Date(Date.now() - 86_400_000);
const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_1', signedAt, body) };

async function refusal(options: Partial<Parameters<typeof verifyWebhook>[0]>): Promise<string> {
  try {
    await verifyWebhook({ secret, headers, body, ...options });
  } catch (e) {
    expect(e).toBeInstanceOf(WebhookVerificationError);
    return (e as WebhookVerificationError).code;
  }
  return 'accepted';
}

describe('verifyWebhook with a tolerance or clock that is not a number', () => {
  it('refuses a day-old delivery with the default tolerance', async () => {
    expect(await refusal({})).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
  });

  it.each([
    ['a tolerance of NaN (Number of an unset variable)', { toleranceSeconds: Number(undefined) }],
    ['a negative tolerance', { toleranceSeconds: -1 }],
    ['an infinite tolerance', { toleranceSeconds: Infinity }],
    ['an invalid Date as now', { now: new Date('not a date') }],
    ['NaN as now', { now: Number.NaN }],
  ])('refuses rather than accepting every timestamp: %s', async (_what, options) => {
    expect(await refusal(options)).not.toBe('accepted');
  });
});
