/**
 * Idempotency keys on provider writes (DESIGN.md "HTTP"; the IETF httpapi draft
 * "The Idempotency-Key HTTP Header Field"). The first request with a key stores its answer; a
 * retry with the same key and the same request gets the same answer (`Idempotent-Replayed:
 * true`) and changes nothing; the same key with a different request is refused; a retry while
 * the first is still running is refused with IDEMPOTENCY_KEY_IN_USE. Answers that a retry
 * should not see again (rate limits, server errors) are not stored, so the retry runs afresh.
 * Keys live 24 hours.
 *
 * Neither the key nor the request is stored as sent (DESIGN.md invariant 2: a stolen database
 * without the keys reveals nobody): a platform may make its key of a phone number
 * (`verify-0912345678`), and the request holds one. Both are kept as blind indexes (HMAC-SHA256
 * under the blind-index key, kernel/crypto/blind-index.ts): an unkeyed hash of a request naming a
 * number is undone by trying every number. The stored key names its version (`3:...`), and a
 * record is found under every version not retired, so a retry across a blind-index rotation is
 * still the same request.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { AppError, defineErrors } from '../errors.ts';
import { blindIndex } from '../crypto/blind-index.ts';
import type { VersionedKey } from '../crypto/key-ring.ts';

export const IDEMPOTENCY_ERRORS = defineErrors({
  IDEMPOTENCY_KEY_REQUIRED: { status: 400, title: 'An Idempotency-Key header is required' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'The Idempotency-Key was used for a different request' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, title: 'A request with this Idempotency-Key is still running' },
});

export class IdempotencyError extends AppError {
  constructor(code: keyof typeof IDEMPOTENCY_ERRORS, detail?: string) {
    super(code, IDEMPOTENCY_ERRORS[code], detail);
    this.name = 'IdempotencyError';
  }
}

const KEY = /^[\x21-\x7e]{1,255}$/;

/** A request still unanswered after this long is taken to have died with its process. */
export const ABANDONED_AFTER_MS = 60_000;

/** The header's value, checked: 1 to 255 visible ASCII characters. */
export function idempotencyKeyOf(header: string | string[] | undefined): string {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v === '') throw new IdempotencyError('IDEMPOTENCY_KEY_REQUIRED');
  if (!KEY.test(v)) throw new IdempotencyError('IDEMPOTENCY_KEY_REQUIRED', 'Idempotency-Key: 1 to 255 visible ASCII characters');
  return v;
}

/**
 * The request's fingerprint: the route and the parsed body in a canonical form, members of every
 * object sorted by name (recursively, arrays kept in order), so that a retry whose JSON library
 * writes the same members in another order is the same request (RFC 8259 section 4: an object is
 * an unordered collection; the httpapi Idempotency-Key draft's "Idempotency Fingerprint" leaves
 * its form to the server). Values are not normalised: a phone written in another form is another request.
 *
 * Fingerprints stored before this form (the body's members in the order received) equal it only
 * for bodies whose members came sorted (`{"account_ref", "phone"}` does): a retry, across the
 * upgrade, of a request whose members came in another order is refused as IDEMPOTENCY_KEY_REUSED
 * instead of replayed, until its key expires (24 hours, pruneIdempotencyKeys). Nothing was sent
 * twice, and no migration rewrites stored fingerprints for that one day.
 */
export function requestHash(route: string, body: unknown, key: VersionedKey): Buffer {
  return blindIndex(key.key, 'idempotency.request', `${route}\u0000${canonicalRequestJson(body ?? null)}`);
}

/** The key as stored under one blind-index version: `<version>:<HMAC of the provider and the key>`. */
export function storedKey(providerId: string, key: string, bidx: VersionedKey): string {
  return `${bidx.version}:${blindIndex(bidx.key, 'idempotency.key', `${providerId}\u0000${key}`).toString('base64url')}`;
}

/**
 * Records written before keys and fingerprints were keyed (the key as sent, an unkeyed SHA-256):
 * still found, so that a retry across the upgrade is replayed rather than run twice. They are gone
 * 24 hours after the upgrade (pruneIdempotencyKeys), and this with them in a later version.
 */
function legacyRequestHash(route: string, body: unknown): Buffer {
  return createHash('sha256').update(route).update('\u0000').update(canonicalRequestJson(body ?? null)).digest();
}

/**
 * The body as JSON with every object's members sorted by name (UTF-16 code units), arrays in
 * order, no whitespace; scalars as JSON.stringify writes them. Not the transparency log's
 * RFC 8785 form (src/tlog/canonical-json.ts), which refuses fractions: a request body may hold any
 * JSON, and this form only has to be the same for equal bodies within this hub.
 */
export function canonicalRequestJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalRequestJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalRequestJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

interface StoredProblem {
  code: string;
  title: string;
  detail: string | null;
  extensions: Readonly<Record<string, unknown>>;
}

export interface StoredAnswer<T> {
  status: number;
  body: T;
  replayed: boolean;
}

export interface IdempotencyScope {
  providerId: string;
  /** The Idempotency-Key as sent (idempotencyKeyOf); stored only as a blind index. */
  key: string;
  route: string;
  /** The parsed request body, fingerprinted with the route. */
  body: unknown;
  /** The blind-index keys not retired, current first (KeyRing.blindIndex). */
  keys: readonly VersionedKey[];
}

/** Runs `work` once per (provider, key); see the module comment. */
export async function runIdempotent<T>(pool: pg.Pool, scope: IdempotencyScope, work: () => Promise<{ status: number; body: T }>): Promise<StoredAnswer<T>> {
  if (scope.keys.length === 0) throw new Error('runIdempotent: no blind-index key');
  // Every form the record may be stored under, with the fingerprint in that form; the first (the
  // current version's) is the one a new record takes.
  const forms = [
    ...scope.keys.map((k) => ({ key: storedKey(scope.providerId, scope.key, k), hash: () => requestHash(scope.route, scope.body, k) })),
    { key: scope.key, hash: () => legacyRequestHash(scope.route, scope.body) },
  ];
  const stored = forms[0]!.key;
  // Claimed under the current version unless a form of another version (or the legacy one) holds it.
  const inserted = await pool.query({
    name: 'idempotency_key_claim',
    text: `INSERT INTO idempotency_keys (provider_id, key, route, request_hash)
           SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM idempotency_keys WHERE provider_id = $1 AND key = ANY($5::text[]))
           ON CONFLICT DO NOTHING`,
    values: [scope.providerId, stored, scope.route, forms[0]!.hash(), forms.slice(1).map((f) => f.key)],
  });
  if (inserted.rowCount === 0) {
    const r = await pool.query<{ key: string; route: string; request_hash: Buffer; status_code: number | null; response: T; created_at: Date }>(
      'SELECT key, route, request_hash, status_code, response, created_at FROM idempotency_keys WHERE provider_id = $1 AND key = ANY($2::text[])',
      [scope.providerId, forms.map((f) => f.key)],
    );
    const row = r.rows[0];
    if (!row) return runIdempotent(pool, scope, work); // pruned in between: start again
    const form = forms.find((f) => f.key === row.key)!;
    if (row.route !== scope.route || !row.request_hash.equals(form.hash())) throw new IdempotencyError('IDEMPOTENCY_KEY_REUSED');
    if (row.status_code === null) {
      // A first request that has run longer than any request can (its process died) no longer
      // holds the key: the retry takes it over rather than being refused for 24 hours.
      if (Date.now() - row.created_at.getTime() > ABANDONED_AFTER_MS) {
        const gone = await pool.query(
          'DELETE FROM idempotency_keys WHERE provider_id = $1 AND key = $2 AND status_code IS NULL AND created_at < now() - make_interval(secs => $3)',
          [scope.providerId, row.key, ABANDONED_AFTER_MS / 1000],
        );
        // Only the retry that removed it starts again (once); any other sees the new first request.
        if (gone.rowCount === 1) return runIdempotent(pool, scope, work);
      }
      throw new IdempotencyError('IDEMPOTENCY_KEY_IN_USE');
    }
    const problem = (row.response as { __problem?: StoredProblem } | null)?.__problem;
    if (problem) throw new ReplayedRefusal(problem.code, { status: row.status_code, title: problem.title }, problem.detail ?? undefined, { ...problem.extensions });
    return { status: row.status_code, body: row.response, replayed: true };
  }
  let answer: { status: number; body: T };
  try {
    answer = await work();
  } catch (e) {
    if (e instanceof AppError && e.status < 500 && e.status !== 429 && e.status !== 409) {
      // A refusal for this request is its answer: store it as its problem document.
      await pool.query('UPDATE idempotency_keys SET status_code = $3, response = $4 WHERE provider_id = $1 AND key = $2', [
        scope.providerId, stored, e.status, JSON.stringify({ __problem: { code: e.code, title: e.title, detail: e.detail ?? null, extensions: e.extensions } satisfies StoredProblem }),
      ]);
    } else {
      await pool.query('DELETE FROM idempotency_keys WHERE provider_id = $1 AND key = $2', [scope.providerId, stored]);
    }
    throw e;
  }
  await pool.query({
    name: 'idempotency_key_answer',
    text: 'UPDATE idempotency_keys SET status_code = $3, response = $4 WHERE provider_id = $1 AND key = $2',
    values: [scope.providerId, stored, answer.status, JSON.stringify(answer.body)],
  });
  return { ...answer, replayed: false };
}

/**
 * A stored refusal answered again: the error handler marks it `Idempotent-Replayed: true`, as a
 * replayed success is, so a platform can tell the retry ran nothing (docs/platforms.md).
 */
export class ReplayedRefusal extends AppError {}

export async function pruneIdempotencyKeys(pool: pg.Pool): Promise<number> {
  const r = await pool.query(`DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'`);
  return r.rowCount ?? 0;
}
