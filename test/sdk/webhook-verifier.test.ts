/**
 * The SDK's webhook verifier against signatures made by the `standardwebhooks` reference library
 * (issue 3 "SDK and console") and by the hub's own signer: a good delivery gives the typed
 * event; a wrong secret, a changed body or id, a stale or future timestamp, missing headers and
 * a bad secret are refused with their own codes; a rotation's two signatures and a list of
 * secrets are accepted.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook, WebhookVerificationError, type WebhookVerificationCode } from '../../packages/sdk/src/index.ts';
import { webhookHeaders, webhookSecretKey } from '../../src/events/webhook-signing.ts';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

function accountEvent(overrides: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    type: 'account.verified',
    account_ref: 'user-42',
    status: 'verified',
    level: 'low',
    pseudonym: 'Qm9uam91ciBsZSBtb25kZQ',
    since: '2026-01-05T03:04:05.670Z',
    minor: false,
    sequence: 3,
    occurred_at: '2026-01-05T03:04:05.678Z',
    ...overrides,
  };
}

/** A delivery as the reference library signs it: headers and the raw body. */
function signed(secret: string, payload: unknown, at = new Date(), id = (payload as { id?: string }).id ?? randomUUID()) {
  const body = JSON.stringify(payload);
  const signature = new Webhook(secret).sign(id, at, body);
  return { body, headers: { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature } };
}

async function refusal(work: Promise<unknown>): Promise<WebhookVerificationCode> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return (error as WebhookVerificationError).code;
  }
  throw new Error('expected the delivery to be refused');
}

describe('verifyWebhook', () => {
  it('accepts a delivery signed by the reference library and returns the typed account event', async () => {
    const secret = newSecret();
    const payload = accountEvent();
    const { body, headers } = signed(secret, payload);
    const event = await verifyWebhook({ secret, headers, body });
    expect(event).toEqual(payload);
    if (event.type !== 'webhook.test') expect(event.sequence).toBe(3); // narrowed to AccountEvent
    // The reference library agrees that this delivery is genuine.
    expect(new Webhook(secret).verify(body, headers)).toEqual(payload);
  });

  it('takes the body as bytes, the headers as a Fetch Headers object or in any case, and the test event', async () => {
    const secret = newSecret();
    const payload = { id: randomUUID(), type: 'webhook.test', occurred_at: new Date().toISOString() };
    const { body, headers } = signed(secret, payload);
    expect(await verifyWebhook({ secret, headers: new Headers(headers), body: new TextEncoder().encode(body) })).toEqual(payload);
    const shouting = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), [v]]));
    expect(await verifyWebhook({ secret, headers: shouting, body })).toEqual(payload);
  });

  it("takes the Headers of another fetch implementation (the undici package, node-fetch), not only the global class", async () => {
    // Such a class is not `instanceof globalThis.Headers` and keeps its entries out of its own
    // enumerable properties; TypeScript accepts it as Headers all the same.
    class ForeignHeaders implements Headers {
      readonly #inner: Headers;
      constructor(init: Record<string, string>) {
        this.#inner = new Headers(init);
      }
      append(name: string, value: string) { this.#inner.append(name, value); }
      delete(name: string) { this.#inner.delete(name); }
      get(name: string) { return this.#inner.get(name); }
      getSetCookie() { return this.#inner.getSetCookie(); }
      has(name: string) { return this.#inner.has(name); }
      set(name: string, value: string) { this.#inner.set(name, value); }
      forEach(callback: (value: string, key: string, parent: Headers) => void) { this.#inner.forEach((v, k) => callback(v, k, this)); }
      entries() { return this.#inner.entries(); }
      keys() { return this.#inner.keys(); }
      values() { return this.#inner.values(); }
      [Symbol.iterator]() { return this.#inner[Symbol.iterator](); }
    }
    const secret = newSecret();
    const payload = accountEvent();
    const { body, headers } = signed(secret, payload);
    const foreign = new ForeignHeaders(headers);
    expect(foreign instanceof Headers).toBe(false);
    expect(await verifyWebhook({ secret, headers: foreign, body })).toEqual(payload);
  });

  it('refuses a wrong secret', async () => {
    const { body, headers } = signed(newSecret(), accountEvent());
    expect(await refusal(verifyWebhook({ secret: newSecret(), headers, body }))).toBe('SIGNATURE_MISMATCH');
  });

  it('refuses a tampered body, a changed webhook-id and a changed timestamp', async () => {
    const secret = newSecret();
    const { body, headers } = signed(secret, accountEvent());
    const tampered = body.replace('"status":"verified"', '"status":"revoked"');
    expect(tampered).not.toBe(body);
    expect(await refusal(verifyWebhook({ secret, headers, body: tampered }))).toBe('SIGNATURE_MISMATCH');
    expect(await refusal(verifyWebhook({ secret, headers: { ...headers, 'webhook-id': randomUUID() }, body }))).toBe('SIGNATURE_MISMATCH');
    const moved = String(Number(headers['webhook-timestamp']) - 1);
    expect(await refusal(verifyWebhook({ secret, headers: { ...headers, 'webhook-timestamp': moved }, body }))).toBe('SIGNATURE_MISMATCH');
    // Re-serialised JSON is not the raw body either (a space is enough).
    expect(await refusal(verifyWebhook({ secret, headers, body: JSON.stringify(JSON.parse(body), null, 1) }))).toBe('SIGNATURE_MISMATCH');
  });

  it('refuses a stale or a future timestamp outside the tolerance, and accepts one inside it', async () => {
    const secret = newSecret();
    const now = Date.now();
    const stale = signed(secret, accountEvent(), new Date(now - 301_000));
    expect(await refusal(verifyWebhook({ secret, ...stale, now }))).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
    const future = signed(secret, accountEvent(), new Date(now + 301_000));
    expect(await refusal(verifyWebhook({ secret, ...future, now }))).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
    const recent = signed(secret, accountEvent(), new Date(now - 290_000));
    expect((await verifyWebhook({ secret, ...recent, now })).type).toBe('account.verified');
    expect(await refusal(verifyWebhook({ secret, ...recent, now, toleranceSeconds: 60 }))).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
    expect(await refusal(verifyWebhook({ secret, headers: { ...recent.headers, 'webhook-timestamp': '12e3' }, body: recent.body }))).toBe('TIMESTAMP_INVALID');
  });

  it('refuses missing headers and a malformed or absent secret', async () => {
    const secret = newSecret();
    const { body, headers } = signed(secret, accountEvent());
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const without: Record<string, string> = { ...headers };
      delete without[name];
      expect(await refusal(verifyWebhook({ secret, headers: without, body }))).toBe('MISSING_HEADER');
    }
    expect(await refusal(verifyWebhook({ secret: 'whsec_not base64!', headers, body }))).toBe('SECRET_INVALID');
    expect(await refusal(verifyWebhook({ secret: `whsec_${randomBytes(8).toString('base64')}`, headers, body }))).toBe('SECRET_INVALID');
    expect(await refusal(verifyWebhook({ secrets: [], headers, body }))).toBe('SECRET_INVALID');
  });

  it("accepts the hub's rotation signatures (one per live secret) with either secret, and a list of secrets", async () => {
    const [oldSecret, newOne] = [newSecret(), newSecret()];
    const payload = accountEvent({ type: 'account.needs_reverification', status: 'needs_reverification' });
    const body = JSON.stringify(payload);
    const ts = Math.floor(Date.now() / 1000);
    // The hub's own signer, with both secrets of a rotation's overlap, newest first.
    const headers = webhookHeaders([webhookSecretKey(newOne), webhookSecretKey(oldSecret)], payload.id, ts, body);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(await verifyWebhook({ secret: oldSecret, headers, body })).toEqual(payload);
    expect(await verifyWebhook({ secret: newOne, headers, body })).toEqual(payload);
    // A receiver mid-rotation holds both secrets; a delivery signed with only one still passes.
    const onlyNew = signed(newOne, payload);
    expect(await verifyWebhook({ secrets: [oldSecret, newOne], ...onlyNew })).toEqual(payload);
    expect(await refusal(verifyWebhook({ secrets: [oldSecret], ...onlyNew }))).toBe('SIGNATURE_MISMATCH');
  });

  it('refuses a genuine delivery whose body is not an event, and hands over one of an unknown type', async () => {
    const secret = newSecret();
    const notEvent = signed(secret, { hello: 'world' }, new Date(), randomUUID());
    expect(await refusal(verifyWebhook({ secret, ...notEvent }))).toBe('PAYLOAD_INVALID');
    const future = signed(secret, { id: randomUUID(), type: 'domain.transferred', occurred_at: new Date().toISOString() });
    try {
      await verifyWebhook({ secret, ...future });
      throw new Error('expected UNKNOWN_EVENT_TYPE');
    } catch (error) {
      expect(error).toMatchObject({ code: 'UNKNOWN_EVENT_TYPE', payload: { type: 'domain.transferred' } });
    }
  });
});
