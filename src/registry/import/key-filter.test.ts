/** KeyFilter: never forgets a key it was given, and rarely claims one it was not. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyFilter } from './key-filter.ts';

describe('KeyFilter', () => {
  it('answers yes for every key added, and no for nearly every other', () => {
    const filter = new KeyFilter(20); // 1 Mi bits: 20,000 keys make false answers about 1 in 10^5
    const added = Array.from({ length: 20_000 }, () => randomBytes(32));
    for (const k of added) filter.add(k);
    expect(added.every((k) => filter.mayHave(k))).toBe(true);
    const others = Array.from({ length: 50_000 }, () => randomBytes(32));
    const falseYes = others.filter((k) => filter.mayHave(k)).length;
    expect(falseYes).toBeLessThan(20);
    expect(filter.added).toBe(20_000);
  });

  it('answers no while empty, and refuses keys that are not blind indexes and impossible sizes', () => {
    const filter = new KeyFilter(10);
    expect(filter.mayHave(randomBytes(32))).toBe(false);
    expect(() => filter.add(randomBytes(16))).toThrow(RangeError);
    expect(() => new KeyFilter(2)).toThrow(RangeError);
    expect(() => new KeyFilter(32)).toThrow(RangeError);
  });

  it('sets bits from the key itself: a key differing only past the words it reads is the same to it', () => {
    const filter = new KeyFilter(26);
    const k = randomBytes(32);
    filter.add(k);
    const twin = Buffer.from(k);
    twin.writeUInt8(twin.readUInt8(31) ^ 0xff, 31); // bytes 16..31 are not read
    expect(filter.mayHave(twin)).toBe(true);
    const other = Buffer.from(k);
    other.writeUInt8(other.readUInt8(0) ^ 0xff, 0);
    expect(filter.mayHave(other)).toBe(false);
  });
});
