/**
 * Keyed blind indexes (DESIGN.md invariant 2): lookups of low-entropy values such as a 12-digit
 * personal ID number or a phone number use HMAC-SHA256 under a dedicated, versioned key, never a
 * plain hash (which anyone could reverse by enumerating 10^12 values).
 *
 * Each use has its own domain tag so that equal inputs in different roles never collide
 * (a personal ID and a row digest, say).
 */
import { hash } from 'node:crypto';

export type BlindIndexDomain =
  | 'person.personal_id'
  | 'person.match'
  | 'person.digest'
  | 'subscription.msisdn'
  | 'subscription.digest'
  | 'subscription_event.digest'
  | 'idempotency.key'
  | 'idempotency.request';

const BLOCK = 64; // SHA-256's block size (RFC 2104 section 2: B = 64)
const DIGEST = 32;

interface Pads {
  /** K XOR ipad (RFC 2104 section 2). */
  ipad: Buffer;
  /** Per domain: K XOR ipad, the domain tag and its 0x00 separator, followed by room for the value. */
  inner: Map<BlindIndexDomain, { buf: Buffer; valueAt: number }>;
  /** K XOR opad, followed by the inner digest. */
  outer: Buffer;
}

// The import computes three or four blind indexes per row, millions of rows per file. Through
// createHmac each one pays for a new HMAC context and its key schedule, which costs more than
// hashing the short input (issue 2 benchmark, docs/benchmarks.md). So the two padded keys of
// RFC 2104 are derived once per key, each domain's prefix is written once, and every index is
// two one-shot SHA-256 calls: the same HMAC-SHA256, bit for bit (tested against createHmac in
// blind-index.test.ts).
const padsByKey = new WeakMap<Buffer, Pads>();

function padsOf(key: Buffer): Pads {
  let pads = padsByKey.get(key);
  if (!pads) {
    // Every key of the ring is 32 bytes; a key longer than a block would first be hashed (RFC 2104).
    if (key.length > BLOCK) throw new RangeError('a blind-index key is at most 64 bytes');
    const ipad = Buffer.alloc(BLOCK);
    const outer = Buffer.alloc(BLOCK + DIGEST);
    for (let i = 0; i < BLOCK; i++) {
      const k = i < key.length ? key[i]! : 0;
      ipad[i] = k ^ 0x36;
      outer[i] = k ^ 0x5c;
    }
    pads = { ipad, inner: new Map(), outer };
    padsByKey.set(key, pads);
  }
  return pads;
}

function innerOf(pads: Pads, domain: BlindIndexDomain, valueBytes: number): { buf: Buffer; valueAt: number } {
  let inner = pads.inner.get(domain);
  if (!inner || inner.buf.length < inner.valueAt + valueBytes) {
    const valueAt = BLOCK + domain.length + 1;
    const buf = Buffer.alloc(valueAt + Math.max(256, valueBytes * 2));
    pads.ipad.copy(buf, 0);
    buf.write(domain, BLOCK, 'latin1');
    buf[valueAt - 1] = 0;
    inner = { buf, valueAt };
    pads.inner.set(domain, inner);
  }
  return inner;
}

/** HMAC-SHA256(key, domain || 0x00 || UTF-8(value)). */
export function blindIndex(key: Buffer, domain: BlindIndexDomain, value: string): Buffer {
  const pads = padsOf(key);
  // At most 3 bytes of UTF-8 per UTF-16 unit: room for any value without measuring it first.
  const inner = innerOf(pads, domain, value.length * 3);
  // The buffers are reused between calls: the function is synchronous, and a worker thread has
  // its own module instance.
  const end = inner.valueAt + inner.buf.write(value, inner.valueAt, 'utf8');
  hash('sha256', inner.buf.subarray(0, end), 'buffer').copy(pads.outer, BLOCK);
  return hash('sha256', pads.outer, 'buffer');
}
