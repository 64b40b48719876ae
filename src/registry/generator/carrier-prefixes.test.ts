/**
 * The generator's prefix table (carrier-prefixes.ts): every number it can produce is a Vietnamese
 * mobile number the hub accepts (issue 2: "only Vietnamese mobile numbers are accepted").
 */
import { describe, expect, it } from 'vitest';
import { normaliseVietnameseMobile } from '../phone-number.ts';
import { CARRIERS, CARRIER_SLUGS, carrierNumberSpace, carrierSubPrefixes } from './carrier-prefixes.ts';
import { prngFor } from './prng.ts';

describe('carrier prefixes', () => {
  it('lists the four carriers with market shares that sum to 1', () => {
    expect(CARRIERS.map((c) => c.slug)).toEqual([...CARRIER_SLUGS]);
    expect(CARRIERS.reduce((s, c) => s + c.share, 0)).toBeCloseTo(1, 10);
    expect(CARRIERS.find((c) => c.slug === 'viettel')!.share).toBeCloseTo(0.54);
  });

  it('gives each trunk prefix at least one usable sub-prefix, and no sub-prefix to two carriers', () => {
    const subs = carrierSubPrefixes();
    const owner = new Map<string, string>();
    for (const carrier of CARRIERS) {
      for (const prefix of carrier.prefixes) {
        expect(subs[carrier.slug].some((s) => `0${s}`.startsWith(prefix)), `${carrier.slug} ${prefix}`).toBe(true);
      }
      for (const s of subs[carrier.slug]) {
        expect(owner.get(s)).toBeUndefined();
        owner.set(s, carrier.slug);
      }
    }
  });

  it('leaves out the parts of a range that are not MOBILE numbers (MobiFone 0890-0895)', () => {
    const mobifone = carrierSubPrefixes().mobifone;
    expect(mobifone.filter((s) => s.startsWith('89'))).toEqual(['896', '897', '898', '899']);
    expect(normaliseVietnameseMobile('0890123456')).toBeUndefined();
    expect(normaliseVietnameseMobile('0896123456')).toBe('+84896123456');
  });

  it('produces only numbers normaliseVietnameseMobile accepts, in all three written shapes', () => {
    const subs = carrierSubPrefixes();
    const rng = prngFor(1, 1, 1);
    for (const slug of CARRIER_SLUGS) {
      for (const sub of subs[slug]) {
        for (let i = 0; i < 20; i++) {
          const national = `${sub}${String(rng.int(0, 999_999)).padStart(6, '0')}`;
          for (const written of [`0${national}`, `84${national}`, `+84${national}`]) {
            expect(normaliseVietnameseMobile(written)).toBe(`+84${national}`);
          }
        }
      }
    }
  });

  it('gives each carrier room for millions of numbers', () => {
    expect(carrierNumberSpace('viettel')).toBe(120_000_000);
    expect(carrierNumberSpace('vietnamobile')).toBeGreaterThanOrEqual(20_000_000);
  });
});
