/**
 * Standard Webhooks signatures (DESIGN.md "Webhooks"; issue 3 "Webhooks").
 *
 * @see Standard Webhooks 1.0.0, "Signature scheme": the signed content is
 *   `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 under the secret's bytes (the base64
 *   after `whsec_`), serialised as `v1,<base64>`.
 * @see Standard Webhooks 1.0.0, "Webhook headers": `webhook-id` (stable across attempts),
 *   `webhook-timestamp` (integer Unix seconds of the attempt) and `webhook-signature`, a
 *   space-delimited list so that a delivery carries one signature per live secret during a
 *   rotation's overlap (the receiver accepts the delivery when any one matches).
 * @see Standard Webhooks 1.0.0, "Verifying signatures": constant-time comparison and a timestamp
 *   tolerance against replays.
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** The header names, lower-case as node:http sends and receives them. */
export const WEBHOOK_ID = 'webhook-id';
export const WEBHOOK_TIMESTAMP = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE = 'webhook-signature';

export class WebhookSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSignatureError';
  }
}

/** The key bytes of a `whsec_<base64>` secret (a secret without the prefix is taken as base64 too). */
export function webhookSecretKey(secret: string): Buffer {
  const b64 = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new WebhookSignatureError('the secret is not base64');
  const key = Buffer.from(b64, 'base64');
  // The spec asks for at least 24 random bytes; the hub's own secrets have 32.
  if (key.length < 24) throw new WebhookSignatureError('the secret is shorter than 24 bytes');
  return key;
}

/** One `v1,<base64>` signature. */
export function signatureV1(key: Buffer, id: string, timestamp: number, body: string | Buffer): string {
  // The id and the timestamp must not contain a '.', or two messages could sign alike (spec,
  // "Signature scheme"): ours are a UUID and an integer.
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8').update(body).digest('base64');
  return `v1,${mac}`;
}

/** The `webhook-signature` header value: one `v1` signature per key, newest secret first. */
export function signWebhook(keys: readonly Buffer[], id: string, timestamp: number, body: string | Buffer): string {
  if (keys.length === 0) throw new WebhookSignatureError('no live webhook secret to sign with');
  if (!Number.isInteger(timestamp) || timestamp < 0) throw new WebhookSignatureError('the timestamp is not whole Unix seconds');
  if (id.includes('.')) throw new WebhookSignatureError('the webhook id must not contain a dot');
  return keys.map((k) => signatureV1(k, id, timestamp, body)).join(' ');
}

/** The three Standard Webhooks headers of one attempt. */
export function webhookHeaders(keys: readonly Buffer[], id: string, timestamp: number, body: string | Buffer): Record<string, string> {
  return { [WEBHOOK_ID]: id, [WEBHOOK_TIMESTAMP]: String(timestamp), [WEBHOOK_SIGNATURE]: signWebhook(keys, id, timestamp, body) };
}

export interface VerifyOptions {
  /** Accepted distance of `webhook-timestamp` from now, in seconds (default 300, as the reference libraries). */
  toleranceSeconds?: number;
  /** Now, in ms since the epoch (tests). */
  now?: number;
}

/**
 * Verifies a delivery as a receiver would: the timestamp within the tolerance, and at least one
 * `v1` signature matching one of the secrets (constant-time). Returns the webhook id; throws
 * WebhookSignatureError otherwise. The body must be the raw bytes received, not re-serialised JSON.
 */
export function verifyWebhook(secrets: readonly string[], headers: Record<string, string | string[] | undefined>, body: string | Buffer, options: VerifyOptions = {}): string {
  const one = (name: string): string => {
    const v = headers[name];
    const s = Array.isArray(v) ? v[0] : v;
    if (!s) throw new WebhookSignatureError(`missing ${name}`);
    return s;
  };
  const id = one(WEBHOOK_ID);
  const tsText = one(WEBHOOK_TIMESTAMP);
  const signatures = one(WEBHOOK_SIGNATURE);
  if (!/^\d{1,12}$/.test(tsText)) throw new WebhookSignatureError('malformed webhook-timestamp');
  const ts = Number(tsText);
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(now - ts) > tolerance) throw new WebhookSignatureError('webhook-timestamp outside the tolerance');
  const expected = secrets.map((s) => Buffer.from(signatureV1(webhookSecretKey(s), id, ts, body).slice(3), 'base64'));
  for (const part of signatures.split(' ')) {
    const comma = part.indexOf(',');
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(part.slice(comma + 1), 'base64');
    for (const e of expected) if (given.length === e.length && timingSafeEqual(given, e)) return id;
  }
  throw new WebhookSignatureError('no matching signature');
}
