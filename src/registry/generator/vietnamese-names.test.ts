/**
 * Vietnamese names for the generator (vietnamese-names.ts): NFC with diacritics, realistic
 * family-name shares, and "near" given names that the reconciliation must tell apart.
 */
import { describe, expect, it } from 'vitest';
import { nameMatchKey } from '../name-match.ts';
import { FAMILY_NAME_WEIGHTS, GIVEN_NAMES, NEAR_GIVEN_NAMES, fullName, randomName } from './vietnamese-names.ts';
import { prngFor } from './prng.ts';

describe('Vietnamese names', () => {
  it('are all NFC and carry diacritics', () => {
    const all = [...FAMILY_NAME_WEIGHTS.map(([n]) => n), ...GIVEN_NAMES.M, ...GIVEN_NAMES.F, ...Object.values(NEAR_GIVEN_NAMES)];
    for (const name of all) expect(name).toBe(name.normalize('NFC'));
    expect(all).toContain('Nguyễn');
    expect(all).toContain('Đặng');
    expect(all.filter((n) => /[^\x20-\x7e]/.test(n)).length).toBeGreaterThan(all.length / 3);
  });

  it('draw Nguyễn for about 38 % of people and Trần for about 11 %', () => {
    const rng = prngFor(1, 1, 1);
    let nguyen = 0;
    let tran = 0;
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const family = randomName(rng, i % 2 ? 'M' : 'F').family;
      if (family === 'Nguyễn') nguyen++;
      if (family === 'Trần') tran++;
    }
    expect(nguyen / n).toBeGreaterThan(0.35);
    expect(nguyen / n).toBeLessThan(0.41);
    expect(tran / n).toBeGreaterThan(0.09);
    expect(tran / n).toBeLessThan(0.13);
  });

  it('give women mostly the middle name Thị and men mostly Văn, never the other way round', () => {
    const rng = prngFor(2, 1, 1);
    let thi = 0;
    let van = 0;
    for (let i = 0; i < 10_000; i++) {
      const f = randomName(rng, 'F');
      const m = randomName(rng, 'M');
      if (f.middle[0] === 'Thị') thi++;
      if (m.middle[0] === 'Văn') van++;
      expect(m.middle).not.toContain('Thị');
      expect(f.middle).not.toContain('Văn');
      expect(GIVEN_NAMES.F).toContain(f.given);
      expect(GIVEN_NAMES.M).toContain(m.given);
    }
    expect(thi).toBeGreaterThan(3000);
    expect(van).toBeGreaterThan(2500);
  });

  it('take the given family name when one is imposed (a child takes the father\'s)', () => {
    const parts = randomName(prngFor(1, 1, 2), 'F', 'Lý');
    expect(parts.family).toBe('Lý');
    expect(fullName(parts).startsWith('Lý ')).toBe(true);
  });

  it('pair near given names that differ under the reconciliation comparison', () => {
    for (const [a, b] of Object.entries(NEAR_GIVEN_NAMES)) {
      for (const rule of [1, 2] as const) expect(nameMatchKey(a, rule), `${a} / ${b}`).not.toBe(nameMatchKey(b, rule));
    }
    expect(NEAR_GIVEN_NAMES['An']).toBe('Anh');
  });
});
