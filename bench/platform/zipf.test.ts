import { describe, expect, it } from 'vitest';
import { zipfSampler } from './zipf.ts';

/** A seeded generator (mulberry32), so that the counts below are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Zipf sampler of the status measurement', () => {
  it('stays within 1..n, favours a few accounts as 1/k does, and spreads the popular ones over the refs', () => {
    const n = 10_000;
    const draw = zipfSampler(n, 1, seeded(7));
    const counts = new Map<number, number>();
    const draws = 200_000;
    for (let i = 0; i < draws; i++) {
      const k = draw();
      expect(k >= 1 && k <= n && Number.isInteger(k)).toBe(true);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const sorted = [...counts.entries()].sort((x, y) => y[1] - x[1]);
    const harmonic = Array.from({ length: n }, (_, i) => 1 / (i + 1)).reduce((a, b) => a + b, 0);
    // The most popular account takes about 1/H(n) of the reads, the top 1 % about H(100)/H(n).
    expect(sorted[0]![1] / draws).toBeCloseTo(1 / harmonic, 2);
    const top = sorted.slice(0, n / 100).reduce((a, [, c]) => a + c, 0) / draws;
    expect(top).toBeCloseTo(5.187 / harmonic, 1);
    // Not acct-1, acct-2, ... in that order.
    expect(sorted.slice(0, 3).map(([k]) => k)).not.toEqual([1, 2, 3]);
  });

  it('works for n = 1', () => {
    expect(zipfSampler(1)()).toBe(1);
  });
});
