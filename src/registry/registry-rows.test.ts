import { describe, expect, it } from 'vitest';
import { latestAcceptedTime, validatePersonRecord, validateSubscriptionRecord } from './registry-rows.ts';
import { checkPersonalId, composePersonalId, isWellFormedPersonalId, PROVINCE_CODES } from './personal-id.ts';
import { normaliseVietnameseMobile } from './phone-number.ts';
import { nameMatchKey } from './name-match.ts';
import { ageOn, parseCalendarDate, parseInstant } from './dates.ts';

const TODAY = '2026-11-23';
/** The hub's clock for the subscription cases: 2026-11-23 12:00 in Vietnam. */
const NOT_AFTER = latestAcceptedTime(Date.parse('2026-11-23T12:00:00+07:00'));
const person = { personal_id: '001090000123', full_name: 'Nguyễn Văn An', birth_date: '1990-05-01', sex: 'M', status: 'alive', died_on: '', guardian_personal_ids: '' };
const sub = {
  msisdn: '0961234567', holder_personal_id: '001090000123', holder_full_name: 'Nguyễn Văn An', holder_birth_date: '1990-05-01',
  channel: 'store', registered_at: '2024-01-01T08:00:00', status: 'active', sim_changed_at: '', device_changed_at: '',
};

describe('personal ID numbers', () => {
  it('knows the 63 pre-2025 province codes and no others', () => {
    expect(Object.keys(PROVINCE_CODES)).toHaveLength(63);
    expect(isWellFormedPersonalId('079300000001')).toBe(true);
    for (const bad of ['003300000001', '097300000001', '000300000001', '07930000001', '07930000000a']) expect(isWellFormedPersonalId(bad), bad).toBe(false);
  });

  it('encodes century and sex in the 4th digit and the year in the 5th and 6th', () => {
    expect(composePersonalId('001', 1990, 'M', 1)).toBe('001090000001');
    expect(composePersonalId('001', 1990, 'F', 1)).toBe('001190000001');
    expect(composePersonalId('048', 2005, 'M', 42)).toBe('048205000042');
    expect(composePersonalId('048', 2105, 'F', 42)).toBe('048505000042');
    expect(checkPersonalId('001190000001', 1990, 'F')).toBeUndefined();
    expect(checkPersonalId('001190000001', 1991, 'F')).toBe('PERSONAL_ID_CONTRADICTS_BIRTH_DATE');
    expect(checkPersonalId('001190000001', 2090, 'F')).toBe('PERSONAL_ID_CONTRADICTS_BIRTH_DATE');
    expect(checkPersonalId('001190000001', 1990, 'M')).toBe('PERSONAL_ID_CONTRADICTS_SEX');
  });
});

describe('phone numbers', () => {
  it('normalises the three accepted forms to E.164, mobile numbers only', () => {
    for (const n of ['0961234567', '84961234567', '+84961234567', ' +84961234567 ']) expect(normaliseVietnameseMobile(n)).toBe('+84961234567');
    for (const n of ['0241234567', '+14155550100', '961234567', '0061234567', '09612345678', '+84 96 123 4567', '']) expect(normaliseVietnameseMobile(n), n).toBeUndefined();
  });
});

describe('names and dates', () => {
  it('matches names across case, spaces and Vietnamese diacritics, and only then', () => {
    expect(nameMatchKey('NGUYEN  VAN AN', 2)).toBe(nameMatchKey('Nguyễn Văn An', 2));
    expect(nameMatchKey('Đặng Thị Ánh', 2)).toBe(nameMatchKey('dang thi anh', 2));
    expect(nameMatchKey('Nguyễn Văn An'.normalize('NFD'), 2)).toBe(nameMatchKey('Nguyễn Văn An', 2));
    expect(nameMatchKey('Nguyễn Văn Anh', 2)).not.toBe(nameMatchKey('Nguyễn Văn An', 2));
  });

  it('reads times without an offset as Vietnam time and rejects impossible dates', () => {
    expect(parseInstant('2024-03-01T08:30:00')).toBe('2024-03-01T01:30:00.000Z');
    expect(parseInstant('2024-03-01')).toBe('2024-02-29T17:00:00.000Z');
    expect(parseInstant('2024-03-01T08:30:00Z')).toBe('2024-03-01T08:30:00.000Z');
    expect(parseInstant('2024-03-01T08:30:00-05:00')).toBe('2024-03-01T13:30:00.000Z');
    for (const bad of ['2023-02-29', '2024-13-01T00:00:00', '2024-01-01T24:00:00', 'yesterday', '2024-01-01T08:00:00+15:00']) expect(parseInstant(bad), bad).toBeUndefined();
    expect(parseCalendarDate('2024-02-29')).toBe('2024-02-29');
    expect(parseCalendarDate('2023-02-29')).toBeUndefined();
    expect(ageOn('2010-11-24', '2026-11-23')).toBe(15);
    expect(ageOn('2010-11-23', '2026-11-23')).toBe(16);
  });
});

describe('population rows: one precise reject code per problem', () => {
  const cases: [string, Record<string, string>, string, string][] = [
    ['missing name', { full_name: '' }, 'full_name', 'MISSING_FIELD'],
    ['bad ID', { personal_id: '12345' }, 'personal_id', 'PERSONAL_ID_INVALID'],
    ['year digits', { birth_date: '1991-05-01' }, 'personal_id', 'PERSONAL_ID_CONTRADICTS_BIRTH_DATE'],
    ['sex digit', { sex: 'F' }, 'personal_id', 'PERSONAL_ID_CONTRADICTS_SEX'],
    ['bad date', { birth_date: '1990-02-30' }, 'birth_date', 'DATE_INVALID'],
    ['future birth', { personal_id: '001227000123', birth_date: '2027-01-01' }, 'birth_date', 'DATE_INVALID'],
    ['bad sex', { sex: 'X' }, 'sex', 'SEX_INVALID'],
    ['bad status', { status: 'missing' }, 'status', 'STATUS_UNKNOWN'],
    ['died but alive', { died_on: '2020-01-01' }, 'died_on', 'DIED_ON_INCONSISTENT'],
    ['died before born', { status: 'deceased', died_on: '1980-01-01' }, 'died_on', 'DIED_ON_INCONSISTENT'],
    ['bad death date', { status: 'deceased', died_on: '2020-02-31' }, 'died_on', 'DATE_INVALID'],
    ['name with digits', { full_name: 'R2D2' }, 'full_name', 'NAME_INVALID'],
    ['name with a tab', { full_name: 'Nguyễn\tVăn' }, 'full_name', 'NAME_INVALID'],
    ['bad guardian', { guardian_personal_ids: '001090000001;abc' }, 'guardian_personal_ids', 'GUARDIAN_ID_INVALID'],
    ['own guardian', { guardian_personal_ids: '001090000123' }, 'guardian_personal_ids', 'GUARDIAN_ID_INVALID'],
  ];
  it.each(cases)('%s', (_label, change, field, code) => {
    expect(validatePersonRecord({ ...person, ...change }, TODAY)).toEqual({ ok: false, field, code });
  });

  it('accepts and normalises a valid row', () => {
    const v = validatePersonRecord({ ...person, full_name: '  Nguyễn   Văn An '.normalize('NFD'), guardian_personal_ids: '079300000002; 001090000001' }, TODAY);
    expect(v).toEqual({ ok: true, row: { personalId: '001090000123', fullName: 'Nguyễn Văn An', birthDate: '1990-05-01', sex: 'M', status: 'alive', diedOn: '', guardianPersonalIds: ['001090000001', '079300000002'] } });
  });
});

describe('subscription rows: one precise reject code per problem', () => {
  const cases: [string, Record<string, string>, string, string][] = [
    ['missing channel', { channel: '' }, 'channel', 'MISSING_FIELD'],
    ['landline', { msisdn: '0241234567' }, 'msisdn', 'NOT_VIETNAMESE_MOBILE'],
    ['foreign', { msisdn: '+14155550100' }, 'msisdn', 'NOT_VIETNAMESE_MOBILE'],
    ['bad holder ID', { holder_personal_id: '999999999999' }, 'holder_personal_id', 'PERSONAL_ID_INVALID'],
    ['bad holder birth date', { holder_birth_date: '1990-00-10' }, 'holder_birth_date', 'DATE_INVALID'],
    ['bad channel', { channel: 'kiosk' }, 'channel', 'CHANNEL_UNKNOWN'],
    ['bad time', { registered_at: '01/01/2024' }, 'registered_at', 'DATE_INVALID'],
    ['bad status', { status: 'suspended' }, 'status', 'STATUS_UNKNOWN'],
    ['bad SIM change time', { sim_changed_at: 'soon' }, 'sim_changed_at', 'DATE_INVALID'],
    ['control character in name', { holder_full_name: 'An\u0001' }, 'holder_full_name', 'NAME_INVALID'],
    ['registered more than a day ahead', { registered_at: '2026-11-24T12:00:01+07:00' }, 'registered_at', 'DATE_INVALID'],
    ['SIM changed in 2099', { sim_changed_at: '2099-01-01T00:00:00' }, 'sim_changed_at', 'DATE_INVALID'],
    ['device changed more than a day ahead', { device_changed_at: '2026-11-25T00:00:00' }, 'device_changed_at', 'DATE_INVALID'],
  ];
  it.each(cases)('%s', (_label, change, field, code) => {
    expect(validateSubscriptionRecord({ ...sub, ...change }, NOT_AFTER)).toEqual({ ok: false, field, code });
  });

  it('accepts times up to a day ahead of the hub\'s clock (clocks and time zones)', () => {
    const v = validateSubscriptionRecord({ ...sub, registered_at: '2026-11-24T12:00:00+07:00', sim_changed_at: '2026-11-24T05:00:00Z' }, NOT_AFTER);
    expect(v.ok && v.row).toMatchObject({ registeredAt: '2026-11-24T05:00:00.000Z', simChangedAt: '2026-11-24T05:00:00.000Z' });
  });

  it('accepts a subscription without a holder (that is a junk category, not a reject)', () => {
    const v = validateSubscriptionRecord({ ...sub, holder_personal_id: '', holder_full_name: '', holder_birth_date: '' }, NOT_AFTER);
    expect(v.ok && v.row).toMatchObject({ msisdn: '+84961234567', holderPersonalId: '', registeredAt: '2024-01-01T01:00:00.000Z' });
  });

  it("takes a holder's birth date after today as the carrier has it, like a wrong name (docs/formats.md: reconciliation reports it)", () => {
    const v = validateSubscriptionRecord({ ...sub, holder_birth_date: '2099-01-01' }, NOT_AFTER);
    expect(v.ok && v.row).toMatchObject({ holderBirthDate: '2099-01-01' });
    expect(validateSubscriptionRecord({ ...sub, holder_birth_date: '1899-12-31' }, NOT_AFTER)).toEqual({ ok: false, field: 'holder_birth_date', code: 'DATE_INVALID' });
  });
});
