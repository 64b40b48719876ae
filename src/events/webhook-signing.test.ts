/**
 * Standard Webhooks signing, checked against the reference library (`standardwebhooks`, the
 * specification's own TypeScript implementation) rather than against our own verifier only.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { signatureV1, signWebhook, verifyWebhook, webhookHeaders, webhookSecretKey, WebhookSignatureError } from './webhook-signing.ts';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const body = JSON.stringify({ id: '0d9f3b52-7f3e-4c4e-9a43-1f3f0f3b1c2d', type: 'account.verified', account_ref: 'user:42', status: 'verified', level: 'low', pseudonym: 'Zq', sequence: 1, note: 'Tiếng Việt ✓' });
const id = '0d9f3b52-7f3e-4c4e-9a43-1f3f0f3b1c2d';
const now = () => Math.floor(Date.now() / 1000);

describe('Standard Webhooks signatures', () => {
  it('produces exactly the reference library signature for the same id, timestamp and body', () => {
    const secret = newSecret();
    const ts = 1_674_087_231;
    expect(signatureV1(webhookSecretKey(secret), id, ts, body)).toBe(new Webhook(secret).sign(id, new Date(ts * 1000), body));
    expect(signatureV1(webhookSecretKey(secret), id, ts, Buffer.from(body))).toBe(new Webhook(secret).sign(id, new Date(ts * 1000), body));
  });

  it('is verified by the reference library, which returns the payload', () => {
    const secret = newSecret();
    const headers = webhookHeaders([webhookSecretKey(secret)], id, now(), body);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('signs with every live secret during a rotation overlap: the current and the previous secret both verify', () => {
    const previous = newSecret();
    const current = newSecret();
    const headers = webhookHeaders([webhookSecretKey(current), webhookSecretKey(previous)], id, now(), body);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(new Webhook(current).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(previous).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow(/No matching signature/);
    expect(verifyWebhook([previous], headers, body)).toBe(id);
    expect(verifyWebhook([current], headers, body)).toBe(id);
  });

  it('binds the id, the timestamp and every byte of the body', () => {
    const secret = newSecret();
    const ts = now();
    const headers = webhookHeaders([webhookSecretKey(secret)], id, ts, body);
    const wh = new Webhook(secret);
    expect(() => wh.verify(body.replace('user:42', 'user:43'), headers)).toThrow(/No matching signature/);
    expect(() => wh.verify(body, { ...headers, 'webhook-id': id.replace('0d9f', '1d9f') })).toThrow(/No matching signature/);
    expect(() => wh.verify(body, { ...headers, 'webhook-timestamp': String(ts - 1) })).toThrow(/No matching signature/);
    // Re-serialised JSON with other spacing is a different body (the spec's warning).
    expect(() => wh.verify(JSON.stringify(JSON.parse(body), null, 1), headers)).toThrow(/No matching signature/);
  });

  it('verifies reference-library signatures itself, and refuses stale timestamps, unknown versions and wrong secrets', () => {
    const secret = newSecret();
    const ts = now();
    const sig = new Webhook(secret).sign(id, new Date(ts * 1000), body);
    const headers = { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': `v1a,AAAA ${sig}` };
    expect(verifyWebhook([secret], headers, body)).toBe(id);
    expect(() => verifyWebhook([newSecret()], headers, body)).toThrow(WebhookSignatureError);
    expect(() => verifyWebhook([secret], { ...headers, 'webhook-signature': `v2,${sig.slice(3)}` }, body)).toThrow(/no matching signature/);
    expect(() => verifyWebhook([secret], headers, body, { now: (ts + 301) * 1000 })).toThrow(/tolerance/);
    expect(() => verifyWebhook([secret], { ...headers, 'webhook-timestamp': '12.5' }, body)).toThrow(/malformed/);
    expect(() => verifyWebhook([secret], { 'webhook-id': id, 'webhook-timestamp': String(ts) }, body)).toThrow(/missing webhook-signature/);
  });

  it('refuses to sign without a secret, with a dotted id or a fractional timestamp, and refuses short secrets', () => {
    const key = webhookSecretKey(newSecret());
    expect(() => signWebhook([], id, now(), body)).toThrow(/no live webhook secret/);
    expect(() => signWebhook([key], 'a.b', now(), body)).toThrow(/dot/);
    expect(() => signWebhook([key], id, 1.5, body)).toThrow(/whole/);
    expect(() => webhookSecretKey(`whsec_${randomBytes(16).toString('base64')}`)).toThrow(/24 bytes/);
    expect(() => webhookSecretKey('whsec_not base64!')).toThrow(/base64/);
  });
});
