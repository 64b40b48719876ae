/**
 * One-time codes (issue 3 "One-time codes"; ory/kratos persister_code.go): six random digits,
 * stored only as an HMAC under a versioned key and compared in constant time. The HMAC key is
 * derived from the blind-index key of the recorded version (its own domain, so a code's HMAC is
 * never comparable with an index), and the verification id is bound into the MAC, so a stored
 * value is useless for any other verification.
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';

export const CODE_PATTERN = /^\d{6}$/;

export function newCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

const derived = new WeakMap<Buffer, Buffer>();
function codeKey(bidxKey: Buffer): Buffer {
  let k = derived.get(bidxKey);
  if (!k) {
    k = createHmac('sha256', bidxKey).update('idbind one-time code key v1').digest();
    derived.set(bidxKey, k);
  }
  return k;
}

export function codeMac(ring: KeyRing, version: number, verificationId: string, code: string): Buffer | undefined {
  const key = ring.blindIndex.find((k) => k.version === version)?.key;
  if (!key) return undefined;
  return createHmac('sha256', codeKey(key)).update(verificationId).update('\u0000').update(code).digest();
}

/** Constant-time comparison; false when the key version is gone (fail closed). */
export function codeMatches(ring: KeyRing, version: number, verificationId: string, code: string, stored: Buffer): boolean {
  const mac = codeMac(ring, version, verificationId, code);
  return mac !== undefined && mac.length === stored.length && timingSafeEqual(mac, stored);
}
