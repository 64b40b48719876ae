/**
 * One-time codes (issue 3 "One-time codes"): stored as HMACs under a versioned key, bound to their
 * verification, compared in constant time. Pins what the mutation review of issue 3 found no test
 * failing for: the comparison going through crypto.timingSafeEqual (a Buffer.equals compare
 * survived), and the MAC naming its verification.
 */
import * as crypto from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { BlindIndexKey, KeyRing } from '../kernel/crypto/key-ring.ts';
import { codeMac, codeMatches, newCode } from './one-time-code.ts';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

function ringOf(...keys: BlindIndexKey[]): KeyRing {
  // Only the blind-index keys take part in a code's MAC.
  return { blindIndex: keys, currentBlindIndex: keys[0]! } as unknown as KeyRing;
}

const v1: BlindIndexKey = { version: 1, key: randomBytes(32), nameRule: 2 };
const v2: BlindIndexKey = { version: 2, key: randomBytes(32), nameRule: 2 };
const idA = '019a0000-0000-7000-8000-00000000000a';
const idB = '019a0000-0000-7000-8000-00000000000b';

beforeEach(() => { vi.mocked(crypto.timingSafeEqual).mockClear(); });

describe('one-time code MACs', () => {
  it('compare a right code through crypto.timingSafeEqual, and a wrong one too', () => {
    const ring = ringOf(v2, v1);
    const code = newCode();
    const stored = codeMac(ring, 1, idA, code)!;
    expect(codeMatches(ring, 1, idA, code, stored)).toBe(true);
    const other = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect(codeMatches(ring, 1, idA, other, stored)).toBe(false);
    const calls = vi.mocked(crypto.timingSafeEqual).mock.calls;
    expect(calls).toHaveLength(2);
    for (const [, b] of calls) expect(Buffer.compare(b as Buffer, stored)).toBe(0);
  });

  it('name their verification: the same code under another verification id does not match', () => {
    const ring = ringOf(v1);
    const code = '123456';
    const stored = codeMac(ring, 1, idA, code)!;
    expect(codeMac(ring, 1, idB, code)!.equals(stored)).toBe(false);
    expect(codeMatches(ring, 1, idB, code, stored)).toBe(false);
    expect(codeMatches(ring, 1, idA, code, stored)).toBe(true);
  });

  it('use the key version recorded with the code, and fail closed when that version is gone', () => {
    const both = ringOf(v2, v1);
    const stored = codeMac(both, 1, idA, '654321')!;
    expect(codeMatches(both, 1, idA, '654321', stored)).toBe(true);
    expect(codeMatches(both, 2, idA, '654321', stored)).toBe(false);
    expect(codeMatches(ringOf(v2), 1, idA, '654321', stored)).toBe(false);
  });
});
