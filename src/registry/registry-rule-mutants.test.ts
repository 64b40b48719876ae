/**
 * Rules of the registries' rows (issue 2 "Rules"; docs/formats.md) on the cases the other row
 * tests leave open, found by a hand-made mutation review: each case here failed on a small change
 * to the rule that the rest of the suite let through.
 */
import { describe, expect, it } from 'vitest';
import { checkPersonalId, composePersonalId, isWellFormedPersonalId } from './personal-id.ts';
import { normaliseVietnameseMobile } from './phone-number.ts';
import { latestAcceptedTime, validatePersonRecord, validateSubscriptionRecord } from './registry-rows.ts';

/**
 * The 63 birth-registration province codes in use before the 2025 merger (Circular 07/2016/TT-BCA,
 * annex), written out here independently of personal-id.ts.
 */
const PRE_2025_CODES = `
  001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 036 037
  038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 074 075 077 079
  080 082 083 084 086 087 089 091 092 093 094 095 096`.trim().split(/\s+/);

describe('the province code of a personal ID number', () => {
  it('is exactly one of the 63 pre-2025 codes: every other three digits are refused', () => {
    expect(new Set(PRE_2025_CODES).size).toBe(63);
    const known = new Set(PRE_2025_CODES);
    const accepted: string[] = [];
    for (let c = 0; c < 1000; c++) {
      const code = String(c).padStart(3, '0');
      if (isWellFormedPersonalId(`${code}090000001`)) accepted.push(code);
      else expect(known.has(code), code).toBe(false);
    }
    expect(accepted).toEqual(PRE_2025_CODES);
  });
});

describe('the century and sex digit', () => {
  // (4th digit, birth year, sex): 0/1 1900s, 2/3 2000s, 4/5 2100s, and on ("..."): 6/7 2200s, 8/9 2300s.
  const table: [string, number, 'M' | 'F'][] = [
    ['0', 1999, 'M'], ['1', 1900, 'F'], ['2', 2000, 'M'], ['3', 2024, 'F'], ['4', 2101, 'M'], ['5', 2199, 'F'], ['6', 2205, 'M'], ['7', 2250, 'F'], ['8', 2300, 'M'], ['9', 2399, 'F'],
  ];
  it.each(table)('digit %s: born %i, sex %s, both ways', (digit, year, sex) => {
    const yy = String(year % 100).padStart(2, '0');
    const id = `079${digit}${yy}000042`;
    expect(composePersonalId('079', year, sex, 42)).toBe(id);
    expect(checkPersonalId(id, year, sex)).toBeUndefined();
    expect(checkPersonalId(id, year, sex === 'M' ? 'F' : 'M')).toBe('PERSONAL_ID_CONTRADICTS_SEX');
    expect(checkPersonalId(id, year - 100, sex)).toBe('PERSONAL_ID_CONTRADICTS_BIRTH_DATE');
  });
});

describe('the dates of a population row, at their boundaries', () => {
  const TODAY = '2026-11-23';
  const base = { personal_id: '001090000123', full_name: 'Nguyễn Văn An', birth_date: '1990-05-01', sex: 'M', status: 'alive', died_on: '', guardian_personal_ids: '' };
  const newborn = { ...base, personal_id: composePersonalId('001', 2026, 'F', 7), sex: 'F', full_name: 'Nguyễn Thị Bé' };

  it('takes a person born today, and refuses one born tomorrow (a birth date after today)', () => {
    expect(validatePersonRecord({ ...newborn, birth_date: TODAY }, TODAY)).toMatchObject({ ok: true, row: { birthDate: TODAY } });
    expect(validatePersonRecord({ ...newborn, birth_date: '2026-11-24' }, TODAY)).toEqual({ ok: false, field: 'birth_date', code: 'DATE_INVALID' });
  });

  it('takes a death on the day of birth and a death today; refuses one the day before birth or tomorrow', () => {
    const deceased = { ...base, status: 'deceased' };
    expect(validatePersonRecord({ ...deceased, died_on: '1990-05-01' }, TODAY)).toMatchObject({ ok: true, row: { diedOn: '1990-05-01' } });
    expect(validatePersonRecord({ ...deceased, died_on: TODAY }, TODAY)).toMatchObject({ ok: true, row: { diedOn: TODAY } });
    expect(validatePersonRecord({ ...deceased, died_on: '1990-04-30' }, TODAY)).toEqual({ ok: false, field: 'died_on', code: 'DIED_ON_INCONSISTENT' });
    expect(validatePersonRecord({ ...deceased, died_on: '2026-11-24' }, TODAY)).toEqual({ ok: false, field: 'died_on', code: 'DIED_ON_INCONSISTENT' });
  });
});

describe('Vietnamese numbers that are not mobile numbers', () => {
  // libphonenumber's full metadata knows these 9-digit national numbers as valid, of another type.
  const notMobile: [string, string][] = [['VOIP', '0672123456'], ['TOLL_FREE', '0180012345'], ['PREMIUM_RATE', '0190012345']];
  it.each(notMobile)('refuses a valid %s number, in every accepted shape', (_type, national) => {
    for (const n of [national, `84${national.slice(1)}`, `+84${national.slice(1)}`]) expect(normaliseVietnameseMobile(n), n).toBeUndefined();
  });

  it('rejects such a subscription row as NOT_VIETNAMESE_MOBILE', () => {
    const row = {
      msisdn: '0672123456', holder_personal_id: '', holder_full_name: '', holder_birth_date: '', channel: 'store', registered_at: '2024-01-01T08:00:00', status: 'active',
    };
    expect(validateSubscriptionRecord(row, latestAcceptedTime(Date.parse('2026-11-23T12:00:00+07:00')))).toEqual({ ok: false, field: 'msisdn', code: 'NOT_VIETNAMESE_MOBILE' });
  });
});
