/**
 * The generator's randomness (prng.ts): determinism for a seed (issue 2: "deterministic for a
 * given --seed"), and the bijections that make serials and numbers unique without memory.
 */
import { describe, expect, it } from 'vitest';
import { Permutation, WeightedTable, mix32, prngFor } from './prng.ts';

describe('prngFor', () => {
  it('gives the same sequence for the same (seed, stream, index) and different ones otherwise', () => {
    const draw = (seed: number, stream: number, index: number) => {
      const rng = prngFor(seed, stream, index);
      return Array.from({ length: 8 }, () => rng.next());
    };
    expect(draw(1, 2, 3)).toEqual(draw(1, 2, 3));
    expect(draw(1, 2, 3)).not.toEqual(draw(2, 2, 3));
    expect(draw(1, 2, 3)).not.toEqual(draw(1, 3, 3));
    expect(draw(1, 2, 3)).not.toEqual(draw(1, 2, 4));
  });

  it('keeps int() within its bounds and reaches both ends', () => {
    const rng = prngFor(7, 1, 0);
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const v = rng.int(-3, 3);
      expect(v).toBeGreaterThanOrEqual(-3);
      expect(v).toBeLessThanOrEqual(3);
      seen.add(v);
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    expect(() => rng.int(2, 1)).toThrow(RangeError);
  });

  it('has roughly uniform first outputs across neighbouring indices (no seed structure leaks)', () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 64_000; i++) buckets[prngFor(1, 1, i).next() >>> 28]! += 1;
    for (const b of buckets) expect(Math.abs(b - 4000)).toBeLessThan(300);
  });
});

describe('WeightedTable', () => {
  it('samples items in proportion to their weights', () => {
    const table = new WeightedTable([['a', 0.54], ['b', 0.25], ['c', 0.18], ['d', 0.03]] as const);
    const rng = prngFor(3, 3, 3);
    const counts: Record<string, number> = { a: 0, b: 0, c: 0, d: 0 };
    for (let i = 0; i < 100_000; i++) counts[rng.weighted(table)]! += 1;
    expect(counts.a! / 100_000).toBeCloseTo(0.54, 1);
    expect(counts.b! / 100_000).toBeCloseTo(0.25, 1);
    expect(counts.c! / 100_000).toBeCloseTo(0.18, 1);
    expect(counts.d! / 100_000).toBeGreaterThan(0.02);
    expect(counts.d! / 100_000).toBeLessThan(0.04);
  });

  it('refuses empty tables and non-positive weights', () => {
    expect(() => new WeightedTable([])).toThrow(RangeError);
    expect(() => new WeightedTable([['a', 0]])).toThrow(RangeError);
  });
});

describe('Permutation', () => {
  it.each([1, 2, 3, 5, 17, 1000, 4096, 65_537, 1_000_000])('is a bijection of [0, %i) with an exact inverse', (n) => {
    const p = new Permutation(n, 1, 1);
    const hit = new Uint8Array(n);
    let outside = 0;
    let badInverse = 0;
    for (let x = 0; x < n; x++) {
      const y = p.forward(x);
      if (!(y >= 0 && y < n)) outside++;
      else hit[y] = 1;
      if (x % 7 === 0 && p.inverse(y) !== x) badInverse++;
    }
    expect(outside).toBe(0);
    expect(badInverse).toBe(0);
    expect(hit.reduce((a, b) => a + b, 0)).toBe(n);
  });

  it('depends on the seed and the stream, and actually shuffles', () => {
    const a = new Permutation(1000, 1, 1);
    const b = new Permutation(1000, 2, 1);
    const c = new Permutation(1000, 1, 2);
    const image = (p: Permutation) => Array.from({ length: 1000 }, (_, i) => p.forward(i));
    expect(image(a)).not.toEqual(image(b));
    expect(image(a)).not.toEqual(image(c));
    const fixed = image(a).filter((y, x) => y === x).length;
    expect(fixed).toBeLessThan(10);
  });

  it('handles a number space larger than 2^26 (a carrier: 120 sub-prefixes of 10^6 numbers)', () => {
    const p = new Permutation(120_000_000, 9, 100);
    const seen = new Set<number>();
    let bad = 0;
    for (let x = 0; x < 50_000; x++) {
      const y = p.forward(x);
      if (y >= 120_000_000 || p.inverse(y) !== x) bad++;
      seen.add(y);
    }
    expect(bad).toBe(0);
    expect(seen.size).toBe(50_000);
  });

  it('rejects points outside its domain', () => {
    const p = new Permutation(10, 1, 1);
    expect(() => p.forward(10)).toThrow(RangeError);
    expect(() => p.inverse(-1)).toThrow(RangeError);
    expect(() => p.forward(1.5)).toThrow(RangeError);
  });
});

describe('mix32', () => {
  it('is a 32-bit hash with avalanche (one flipped input bit flips about half the output bits)', () => {
    let total = 0;
    for (let x = 0; x < 1000; x++) {
      const d = (mix32(x) ^ mix32(x ^ 1)) >>> 0;
      total += d.toString(2).split('1').length - 1;
    }
    expect(total / 1000).toBeGreaterThan(12);
    expect(total / 1000).toBeLessThan(20);
  });
});
