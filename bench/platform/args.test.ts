import { describe, expect, it } from 'vitest';
import { FULL, PlatformArgsError, QUICK, STATUS_CACHE_MARGIN, STATUS_MAX_AGE, parseCount, parsePlatformArgs } from './args.ts';

describe('platform bench arguments', () => {
  it('defaults to the issue 3 sizes: 1 M bindings, 50 connections', () => {
    const a = parsePlatformArgs([]);
    expect(a.bindings).toBe(1_000_000);
    expect(a.connections).toBe(50);
    expect(a.duration).toBe(FULL.duration);
    expect(a.webhooks).toBe(FULL.webhooks);
    expect(a.quick).toBe(false);
    expect(a.out).toBe('.tmp/bench-platform.json');
  });

  it('--quick shrinks everything unless an option says otherwise', () => {
    const a = parsePlatformArgs(['--quick']);
    expect([a.bindings, a.registry, a.duration, a.verifySeconds, a.webhooks]).toEqual([QUICK.bindings, QUICK.registry, QUICK.duration, QUICK.verifySeconds, QUICK.webhooks]);
    expect(parsePlatformArgs(['--quick', '--bindings', '1m']).bindings).toBe(1_000_000);
  });

  it('reads counts with k and m, and --webhooks 0 skips the webhook measurement', () => {
    expect(parseCount('250k', 'bindings', 1)).toBe(250_000);
    expect(parseCount('1.5m', 'bindings', 1)).toBe(1_500_000);
    expect(parsePlatformArgs(['--webhooks', '0']).webhooks).toBe(0);
  });

  it('--pg-setting takes NAME=VALUE pairs, for experiments only', () => {
    expect(parsePlatformArgs([]).pgSettings).toEqual([]);
    expect(parsePlatformArgs(['--pg-setting', 'synchronous_commit=off', '--pg-setting', 'work_mem=64MB']).pgSettings)
      .toEqual([['synchronous_commit', 'off'], ['work_mem', '64MB']]);
    expect(() => parsePlatformArgs(['--pg-setting', "fsync=off'; DROP"])).toThrow(PlatformArgsError);
  });

  it('measures the status route uniform and Zipf by default, with a cache that holds every binding', () => {
    const a = parsePlatformArgs(['--bindings', '250k']);
    expect(a.statusPatterns).toEqual(['uniform', 'zipf']);
    expect(a.statusCacheSize).toBe(250_000 + STATUS_CACHE_MARGIN);
    expect(a.statusMaxAge).toBe(STATUS_MAX_AGE);
    expect(parsePlatformArgs(['--status-pattern', 'zipf']).statusPatterns).toEqual(['zipf']);
    expect(parsePlatformArgs(['--status-pattern', 'both', '--status-cache-size', '0']).statusCacheSize).toBe(0);
    expect(() => parsePlatformArgs(['--status-pattern', 'pareto'])).toThrow(PlatformArgsError);
    expect(() => parsePlatformArgs(['--status-max-age', '7200'])).toThrow(/3600/);
  });

  it('refuses malformed values and unknown options', () => {
    expect(() => parsePlatformArgs(['--bindings', 'many'])).toThrow(PlatformArgsError);
    expect(() => parsePlatformArgs(['--bindings', '10'])).toThrow(/at least 1000/);
    expect(() => parsePlatformArgs(['--connections', '0'])).toThrow(PlatformArgsError);
    expect(() => parsePlatformArgs(['--sizes', '1m'])).toThrow(PlatformArgsError);
  });
});
