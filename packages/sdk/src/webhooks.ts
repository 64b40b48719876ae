/**
 * Verifying the hub's webhook deliveries, as a receiver must before trusting one.
 *
 * @see Standard Webhooks 1.0.0, "Signature scheme": HMAC-SHA256 under the secret's bytes (the
 *   base64 after `whsec_`) of `${webhook-id}.${webhook-timestamp}.${body}`, sent as
 *   `v1,<base64>`; `webhook-signature` is a space-separated list (one signature per live secret
 *   during a rotation), and one match is enough.
 * @see Standard Webhooks 1.0.0, "Verifying signatures": compare in constant time, and refuse a
 *   timestamp too far from now, so that a captured delivery cannot be replayed later.
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 *
 * WebCrypto only (no node:crypto), so the same code verifies in Node, Deno, Bun, workers and
 * browsers. The body must be the raw bytes received: JSON parsed and serialised again may differ
 * by a space and no longer match.
 */
import type { AccountEvent, AccountEventType, TestEvent, WebhookEvent } from './types.js';

const SECRET_PREFIX = 'whsec_';
const ACCOUNT_EVENT_TYPES: readonly string[] = ['account.verified', 'account.needs_reverification', 'account.revoked', 'account.unbound', 'account.minor_ended'] satisfies AccountEventType[];

/** Why a delivery was refused. Answer 400 for every one of them, and 2xx only to a verified delivery. */
export type WebhookVerificationCode =
  /** `webhook-id`, `webhook-timestamp` or `webhook-signature` is absent. */
  | 'MISSING_HEADER'
  /** `webhook-timestamp` is not whole Unix seconds. */
  | 'TIMESTAMP_INVALID'
  /** The timestamp is further than the tolerance from now: a replay, or a clock far off. */
  | 'TIMESTAMP_OUT_OF_TOLERANCE'
  /** No `v1` signature matches any of the secrets: wrong secret, or the body or headers were changed. */
  | 'SIGNATURE_MISMATCH'
  /** A secret given to the verifier is not `whsec_<base64>` of at least 24 bytes (a configuration error). */
  | 'SECRET_INVALID'
  /** `toleranceSeconds` is not a finite number of at least 0, or `now` is not a valid time (a configuration error). */
  | 'OPTIONS_INVALID'
  /** The signature matched but the body is not an event (a bug, not an attack). */
  | 'PAYLOAD_INVALID'
  /** The signature matched, the event is of a type this SDK does not know: acknowledge it (2xx) and ignore it. */
  | 'UNKNOWN_EVENT_TYPE';

export class WebhookVerificationError extends Error {
  readonly code: WebhookVerificationCode;
  /** For `UNKNOWN_EVENT_TYPE` only: the verified payload, parsed. */
  readonly payload: unknown;

  constructor(code: WebhookVerificationCode, message: string, payload?: unknown) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.code = code;
    this.payload = payload;
  }
}

/**
 * Request headers as Node (`req.headers`), Fetch (`request.headers`, of any fetch implementation:
 * the global one, the undici package, node-fetch...) or a plain object give them.
 */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** The `whsec_...` secret of GET /v1/provider/webhook-secret. */
  secret?: string | undefined;
  /** Several secrets, e.g. old and new while you roll a rotation out: a match with any one is enough. */
  secrets?: readonly string[] | undefined;
  headers: WebhookHeaders;
  /** The raw body, exactly as received. */
  body: string | Uint8Array | ArrayBuffer;
  /** How far `webhook-timestamp` may be from now, in seconds (default 300, as the spec's reference libraries); a finite number, at least 0. */
  toleranceSeconds?: number | undefined;
  /** Now (default the clock), for tests. */
  now?: Date | number | undefined;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  // Duck-typed, not `instanceof Headers`: a Headers object of another fetch implementation (the
  // undici package, node-fetch) is not an instance of the global class, and its entries are not
  // own properties, so it would read as having no headers at all. A plain record's `get` member
  // would be a header's string value, never a function.
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  // Node lower-cases incoming names; a hand-built object may not have.
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

function base64ToBytes(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) return null;
  try {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

function secretKeyBytes(secret: string): Uint8Array {
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const bytes = base64ToBytes(b64);
  // The spec asks for 24 to 64 random bytes; the hub's secrets have 32.
  if (!bytes || bytes.length < 24) throw new WebhookVerificationError('SECRET_INVALID', 'a webhook secret is not whsec_<base64> of at least 24 bytes');
  return bytes;
}

/** Equal without an early exit, so the time taken does not tell how many leading bytes matched. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function bodyBytes(body: string | Uint8Array | ArrayBuffer): Uint8Array {
  if (typeof body === 'string') return new TextEncoder().encode(body);
  return body instanceof Uint8Array ? body : new Uint8Array(body);
}

async function hmacSha256(key: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const cryptoKey = await globalThis.crypto.subtle.importKey('raw', key as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', cryptoKey, message as BufferSource));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The payload as a typed event, after checking the members the types promise. */
function toEvent(payload: unknown): WebhookEvent {
  const invalid = (what: string) => new WebhookVerificationError('PAYLOAD_INVALID', `the event has no valid ${what}`);
  if (!isRecord(payload)) throw invalid('JSON object');
  if (typeof payload.id !== 'string') throw invalid('id');
  if (typeof payload.type !== 'string') throw invalid('type');
  if (typeof payload.occurred_at !== 'string') throw invalid('occurred_at');
  if (payload.type === 'webhook.test') return { id: payload.id, type: 'webhook.test', occurred_at: payload.occurred_at } satisfies TestEvent;
  if (!ACCOUNT_EVENT_TYPES.includes(payload.type)) {
    throw new WebhookVerificationError('UNKNOWN_EVENT_TYPE', `event type ${payload.type} is unknown to this SDK version`, payload);
  }
  if (typeof payload.account_ref !== 'string') throw invalid('account_ref');
  if (typeof payload.status !== 'string') throw invalid('status');
  if (typeof payload.sequence !== 'number') throw invalid('sequence');
  const nullableString = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    id: payload.id,
    type: payload.type as AccountEventType,
    account_ref: payload.account_ref,
    status: payload.status as AccountEvent['status'],
    level: nullableString(payload.level) as AccountEvent['level'],
    pseudonym: nullableString(payload.pseudonym),
    since: nullableString(payload.since),
    minor: payload.minor === true,
    sequence: payload.sequence,
    occurred_at: payload.occurred_at,
  };
}

/**
 * Verifies one delivery and returns its event; throws {@link WebhookVerificationError}
 * otherwise. Checks, in order: the three headers are present, the timestamp is within
 * `toleranceSeconds` of now, and one `v1` signature matches one of the secrets. Deduplicate on
 * the returned `id` (the same for every attempt of a delivery) and drop an account event whose
 * `sequence` is not above the last one you applied for that account.
 */
export async function verifyWebhook(options: VerifyWebhookOptions): Promise<WebhookEvent> {
  const secrets = [...(options.secrets ?? []), ...(options.secret !== undefined ? [options.secret] : [])];
  // Fail closed: a verifier without a secret would otherwise have nothing to compare and accept nothing, silently.
  if (secrets.length === 0) throw new WebhookVerificationError('SECRET_INVALID', 'no webhook secret was given');
  const keys = secrets.map(secretKeyBytes);

  const id = header(options.headers, 'webhook-id');
  const timestamp = header(options.headers, 'webhook-timestamp');
  const signatures = header(options.headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('MISSING_HEADER', 'webhook-id, webhook-timestamp and webhook-signature are required');
  if (!/^\d{1,15}$/.test(timestamp)) throw new WebhookVerificationError('TIMESTAMP_INVALID', 'webhook-timestamp is not Unix seconds');

  const nowMs = options.now === undefined ? Date.now() : typeof options.now === 'number' ? options.now : options.now.getTime();
  const tolerance = options.toleranceSeconds ?? 300;
  // Fail closed: compared with NaN (a tolerance read from an unset variable, an invalid Date) or
  // Infinity, every timestamp would pass, and a captured delivery could be replayed at any time.
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new WebhookVerificationError('OPTIONS_INVALID', 'toleranceSeconds must be a finite number of seconds, at least 0');
  if (!Number.isFinite(nowMs)) throw new WebhookVerificationError('OPTIONS_INVALID', 'now must be a valid time');
  if (Math.abs(Math.floor(nowMs / 1000) - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError('TIMESTAMP_OUT_OF_TOLERANCE', `webhook-timestamp is more than ${tolerance} s from now`);
  }

  const body = bodyBytes(options.body);
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix, 0);
  signed.set(body, prefix.length);
  const expected = await Promise.all(keys.map((key) => hmacSha256(key, signed)));

  const given = signatures
    .split(' ')
    .map((part) => part.split(','))
    .filter((pair) => pair.length === 2 && pair[0] === 'v1')
    .map((pair) => base64ToBytes(pair[1]!))
    .filter((bytes): bytes is Uint8Array => bytes !== null);
  let matched = false;
  // Every pair is compared, match or not, so the time taken does not tell which secret matched.
  for (const g of given) for (const e of expected) if (constantTimeEqual(g, e)) matched = true;
  if (!matched) throw new WebhookVerificationError('SIGNATURE_MISMATCH', 'no webhook-signature matches the secret');

  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw new WebhookVerificationError('PAYLOAD_INVALID', 'the body is not UTF-8 JSON');
  }
  return toEvent(payload);
}
