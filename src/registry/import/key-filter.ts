/**
 * A Bloom filter of blind indexes, in constant memory: "was this key possibly added?" Never a
 * false "no"; a false "yes" with a probability that grows with the keys added (at the default
 * size, about 3 in 10^7 per key for 100,000 keys, 2 in 1,000 for a million).
 *
 * Used by a carrier's first import (import-service.ts, mergeSubscriptions): the numbers of the
 * terminated subscriptions the run has inserted, which the unique index of live numbers cannot
 * see. A "yes" only costs that key a probe, so a false one changes no result.
 *
 * The keys are HMAC-SHA-256 outputs (blind-index.ts), uniformly distributed: the bit positions
 * are taken from their bytes, with no hashing of our own.
 */
import { INDEX_BYTES } from './import-protocol.ts';

/** Bit positions per key: four 32-bit words of the key, each reduced to the filter's size. */
const POSITIONS = 4;

export class KeyFilter {
  private readonly bits: Uint8Array;
  private readonly mask: number;
  added = 0;

  /** `log2Bits`: the filter's size, 2^log2Bits bits (default 2^24: 2 MiB). */
  constructor(log2Bits = 24) {
    if (!Number.isInteger(log2Bits) || log2Bits < 3 || log2Bits > 31) throw new RangeError('log2Bits: 3 to 31');
    this.bits = new Uint8Array(2 ** (log2Bits - 3));
    this.mask = 2 ** log2Bits - 1;
  }

  private position(key: Uint8Array, j: number): number {
    if (key.length !== INDEX_BYTES) throw new RangeError('a blind index is 32 bytes');
    const o = 4 * j;
    return ((key[o]! << 24) | (key[o + 1]! << 16) | (key[o + 2]! << 8) | key[o + 3]!) & this.mask;
  }

  add(key: Uint8Array): void {
    for (let j = 0; j < POSITIONS; j++) {
      const p = this.position(key, j);
      this.bits[p >>> 3]! |= 1 << (p & 7);
    }
    this.added++;
  }

  /** False: the key was certainly never added. True: it probably was. */
  mayHave(key: Uint8Array): boolean {
    if (this.added === 0) return false;
    for (let j = 0; j < POSITIONS; j++) {
      const p = this.position(key, j);
      if ((this.bits[p >>> 3]! & (1 << (p & 7))) === 0) return false;
    }
    return true;
  }
}
