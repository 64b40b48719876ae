import { describe, expect, it } from 'vitest';
import { isVietnameseMobileByLibphonenumber, normaliseVietnameseMobile } from './phone-number.ts';

describe('the per-prefix cache of libphonenumber verdicts', () => {
  it('is exact: for every 5-digit prefix, numbers with different endings get the same verdict', () => {
    const endings = ['0000', '5555', '9999', '1234'];
    let mobilePrefixes = 0;
    for (let p = 10_000; p < 100_000; p++) {
      const prefix = String(p);
      const verdicts = endings.map((e) => isVietnameseMobileByLibphonenumber(prefix + e));
      expect(new Set(verdicts).size, prefix).toBe(1);
      if (verdicts[0]) mobilePrefixes++;
    }
    expect(mobilePrefixes).toBeGreaterThan(1000);
  });

  it('gives the same answer as libphonenumber, cached or not', () => {
    for (const n of ['961234567', '961234568', '896000001', '891000001', '241234567', '992000000']) {
      const expected = isVietnameseMobileByLibphonenumber(n) ? `+84${n}` : undefined;
      expect(normaliseVietnameseMobile(`0${n}`)).toBe(expected);
      expect(normaliseVietnameseMobile(`0${n}`)).toBe(expected);
    }
  });
});
