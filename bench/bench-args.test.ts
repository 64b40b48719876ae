import { describe, expect, it } from 'vitest';
import { BenchArgsError, parseBenchArgs, parseSize } from './bench-args.ts';

describe('bench arguments', () => {
  it('defaults to the issue 2 sizes on both PostgreSQL servers', () => {
    const a = parseBenchArgs([]);
    expect(a.sizes).toEqual([
      { label: '1m', people: 1_000_000, subscriptions: 1_200_000 },
      { label: '4m', people: 4_000_000, subscriptions: 4_800_000 },
    ]);
    expect(a.pg).toEqual(['embedded', 'system']);
    expect(a.quick).toBe(false);
    expect(a.out).toBe('.tmp/bench-result.json');
  });

  it('--quick is 100k people and 120k subscriptions unless --sizes says otherwise', () => {
    expect(parseBenchArgs(['--quick']).sizes).toEqual([{ label: '100k', people: 100_000, subscriptions: 120_000 }]);
    expect(parseBenchArgs(['--quick', '--sizes', '20k']).sizes.map((s) => s.people)).toEqual([20_000]);
  });

  it('reads k, m and plain numbers, and orders the sizes from smallest to largest', () => {
    const a = parseBenchArgs(['--sizes', '4m, 250000,1.5M', '--pg', 'system']);
    expect(a.sizes.map((s) => [s.label, s.people, s.subscriptions])).toEqual([
      ['250000', 250_000, 300_000],
      ['1.5m', 1_500_000, 1_800_000],
      ['4m', 4_000_000, 4_800_000],
    ]);
    expect(a.pg).toEqual(['system']);
  });

  it('refuses what it cannot measure', () => {
    expect(() => parseSize('1g')).toThrow(BenchArgsError);
    expect(() => parseSize('999')).toThrow(/at least 1000/);
    expect(() => parseSize('61m')).toThrow(/60 million/);
    expect(() => parseBenchArgs(['--sizes', '1m,1000k'])).toThrow(/twice/);
    expect(() => parseBenchArgs(['--sizes', ','])).toThrow(/at least one/);
    expect(() => parseBenchArgs(['--pg', 'embedded,embedded'])).toThrow(/twice/);
    expect(() => parseBenchArgs(['--pg', 'sqlite'])).toThrow(/embedded and\/or system/);
    expect(() => parseBenchArgs(['--size', '1m'])).toThrow(BenchArgsError);
    expect(() => parseBenchArgs(['extra'])).toThrow(BenchArgsError);
  });
});
