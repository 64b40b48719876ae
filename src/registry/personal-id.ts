/**
 * The Vietnamese 12-digit personal ID number (Circular 07/2016/TT-BCA Art. 7; Decree 137/2015):
 * 3 digits of the birth-registration province, 1 digit for century and sex, 2 digits of the birth
 * year, 6 digits of serial. There is no check digit. The number itself is personal data: it is
 * only ever held in memory, sealed, or blind-indexed.
 */

/**
 * The 63 birth-registration province codes in use before the 2025 merger of provinces. Numbers
 * already issued keep their code, so this list, not the post-merger one, decides validity.
 */
export const PROVINCE_CODES: Readonly<Record<string, string>> = Object.freeze({
  '001': 'Hà Nội', '002': 'Hà Giang', '004': 'Cao Bằng', '006': 'Bắc Kạn', '008': 'Tuyên Quang',
  '010': 'Lào Cai', '011': 'Điện Biên', '012': 'Lai Châu', '014': 'Sơn La', '015': 'Yên Bái',
  '017': 'Hòa Bình', '019': 'Thái Nguyên', '020': 'Lạng Sơn', '022': 'Quảng Ninh', '024': 'Bắc Giang',
  '025': 'Phú Thọ', '026': 'Vĩnh Phúc', '027': 'Bắc Ninh', '030': 'Hải Dương', '031': 'Hải Phòng',
  '033': 'Hưng Yên', '034': 'Thái Bình', '035': 'Hà Nam', '036': 'Nam Định', '037': 'Ninh Bình',
  '038': 'Thanh Hóa', '040': 'Nghệ An', '042': 'Hà Tĩnh', '044': 'Quảng Bình', '045': 'Quảng Trị',
  '046': 'Thừa Thiên Huế', '048': 'Đà Nẵng', '049': 'Quảng Nam', '051': 'Quảng Ngãi', '052': 'Bình Định',
  '054': 'Phú Yên', '056': 'Khánh Hòa', '058': 'Ninh Thuận', '060': 'Bình Thuận', '062': 'Kon Tum',
  '064': 'Gia Lai', '066': 'Đắk Lắk', '067': 'Đắk Nông', '068': 'Lâm Đồng', '070': 'Bình Phước',
  '072': 'Tây Ninh', '074': 'Bình Dương', '075': 'Đồng Nai', '077': 'Bà Rịa - Vũng Tàu', '079': 'Hồ Chí Minh',
  '080': 'Long An', '082': 'Tiền Giang', '083': 'Bến Tre', '084': 'Trà Vinh', '086': 'Vĩnh Long',
  '087': 'Đồng Tháp', '089': 'An Giang', '091': 'Kiên Giang', '092': 'Cần Thơ', '093': 'Hậu Giang',
  '094': 'Sóc Trăng', '095': 'Bạc Liêu', '096': 'Cà Mau',
});

export type Sex = 'M' | 'F';

/** The 4th digit: even for men, odd for women; (digit >> 1) counts centuries from 1900. */
export function centurySexDigit(birthYear: number, sex: Sex): number {
  const century = Math.floor(birthYear / 100) - 19;
  if (century < 0 || century > 4) throw new RangeError('birth year outside 1900-2399');
  return century * 2 + (sex === 'F' ? 1 : 0);
}

export type PersonalIdProblem = 'PERSONAL_ID_INVALID' | 'PERSONAL_ID_CONTRADICTS_BIRTH_DATE' | 'PERSONAL_ID_CONTRADICTS_SEX';

/** Format only: 12 digits and a known province code. */
export function isWellFormedPersonalId(id: string): boolean {
  return /^\d{12}$/.test(id) && PROVINCE_CODES[id.slice(0, 3)] !== undefined;
}

/**
 * Checks a personal ID number against the birth year and sex it must encode; returns the first
 * problem, or undefined when consistent.
 */
export function checkPersonalId(id: string, birthYear: number, sex: Sex): PersonalIdProblem | undefined {
  if (!isWellFormedPersonalId(id)) return 'PERSONAL_ID_INVALID';
  const digit = Number(id[3]);
  const century = digit >> 1;
  if (1900 + century * 100 + Number(id.slice(4, 6)) !== birthYear) return 'PERSONAL_ID_CONTRADICTS_BIRTH_DATE';
  if ((digit % 2 === 1 ? 'F' : 'M') !== sex) return 'PERSONAL_ID_CONTRADICTS_SEX';
  return undefined;
}

/** Builds a personal ID number from its parts (used by the synthetic generator). */
export function composePersonalId(province: string, birthYear: number, sex: Sex, serial: number): string {
  if (PROVINCE_CODES[province] === undefined) throw new RangeError('unknown province code');
  if (!Number.isInteger(serial) || serial < 0 || serial > 999_999) throw new RangeError('serial outside 0-999999');
  return `${province}${centurySexDigit(birthYear, sex)}${String(birthYear % 100).padStart(2, '0')}${String(serial).padStart(6, '0')}`;
}
