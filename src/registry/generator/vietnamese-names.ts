/**
 * Vietnamese personal names for the synthetic registry (issue 2: "Vietnamese names with
 * diacritics"; DESIGN.md "Synthetic data only": no real person's record is ever used).
 *
 * A Vietnamese full name is family name, one or two middle names, and a given name
 * ("Nguyễn Thị Minh Anh"). Family-name weights follow the commonly cited shares (Nguyễn about
 * 38 %, Trần 11 %, Lê 9.5 %, Phạm 7 %, Hoàng/Huỳnh 5 %, Phan 4.5 %, Vũ/Võ 4 %, Đặng, Bùi 2 %, Đỗ,
 * Hồ, Ngô 1.3 %, Dương 1 %, Lý 0.5 %), with the long tail shared by rarer names. Middle names
 * depend on sex (Văn for men and Thị for women are the most frequent). Every string is NFC, the
 * form the hub stores (`canonicalName` in src/registry/name-match.ts), and carries its diacritics,
 * because reconciliation must see through them (`nameMatchKey`): "NGUYEN VAN AN" must match
 * "Nguyễn Văn An".
 */
import type { Sex } from '../personal-id.ts';
import { WeightedTable } from './prng.ts';

const nfc = (entries: readonly (readonly [string, number])[]): [string, number][] =>
  entries.map(([name, weight]) => [name.normalize('NFC'), weight]);

/** Family names and their approximate share of the population, in percent. */
export const FAMILY_NAME_WEIGHTS: readonly [string, number][] = nfc([
  ['Nguyễn', 38], ['Trần', 11], ['Lê', 9.5], ['Phạm', 7.1], ['Hoàng', 3.1], ['Huỳnh', 2.0],
  ['Phan', 4.5], ['Vũ', 2.0], ['Võ', 1.9], ['Đặng', 2.1], ['Bùi', 2.0], ['Đỗ', 1.4], ['Hồ', 1.3],
  ['Ngô', 1.3], ['Dương', 1.0], ['Lý', 0.5], ['Đào', 0.8], ['Đoàn', 0.8], ['Trương', 0.8],
  ['Đinh', 0.7], ['Lâm', 0.6], ['Mai', 0.5], ['Trịnh', 0.5], ['Lương', 0.5], ['Cao', 0.4],
  ['Hà', 0.4], ['Tô', 0.3], ['Vương', 0.3], ['Chu', 0.3], ['Tạ', 0.3], ['Lưu', 0.3], ['Kiều', 0.2],
  ['Quách', 0.2], ['Thái', 0.2], ['Tăng', 0.2], ['Phùng', 0.2], ['La', 0.1], ['Triệu', 0.2],
  ['Châu', 0.2], ['Khúc', 0.1], ['Lục', 0.1],
]);

const MIDDLE_NAME_WEIGHTS: Readonly<Record<Sex, readonly [string, number][]>> = {
  M: nfc([
    ['Văn', 40], ['Hữu', 6], ['Đức', 7], ['Minh', 8], ['Quang', 5], ['Công', 4], ['Thanh', 4],
    ['Ngọc', 3], ['Xuân', 3], ['Đình', 4], ['Trọng', 3], ['Quốc', 4], ['Gia', 3], ['Hoàng', 3],
    ['Anh', 2], ['Bảo', 2], ['Duy', 3], ['Thành', 2], ['Tiến', 2], ['Mạnh', 2], ['Tuấn', 2],
  ]),
  F: nfc([
    ['Thị', 45], ['Ngọc', 7], ['Thanh', 5], ['Thu', 5], ['Minh', 3], ['Kim', 4], ['Bích', 2],
    ['Thùy', 3], ['Hồng', 3], ['Phương', 3], ['Mỹ', 3], ['Hoài', 2], ['Khánh', 2], ['Bảo', 2],
    ['Diệu', 2], ['Quỳnh', 2], ['Hải', 2], ['Tường', 1], ['Lan', 1], ['Như', 2], ['Hà', 1],
  ]),
};

/** A second middle name, used by about a quarter of names ("Nguyễn Thị Minh Anh"). */
const SECOND_MIDDLE_NAMES: Readonly<Record<Sex, readonly string[]>> = {
  M: ['Minh', 'Quang', 'Anh', 'Hoàng', 'Gia', 'Bảo', 'Đức', 'Thanh', 'Nhật', 'Trung', 'Hải', 'Tuấn'].map((s) => s.normalize('NFC')),
  F: ['Minh', 'Ngọc', 'Thanh', 'Thu', 'Bảo', 'Khánh', 'Phương', 'Hoài', 'Mai', 'Thảo', 'Kim', 'Diễm'].map((s) => s.normalize('NFC')),
};

export const GIVEN_NAMES: Readonly<Record<Sex, readonly string[]>> = {
  M: [
    'An', 'Anh', 'Bảo', 'Bình', 'Cường', 'Dũng', 'Duy', 'Dương', 'Đạt', 'Đức', 'Giang', 'Hải', 'Hào',
    'Hiếu', 'Hiệp', 'Hòa', 'Hoàng', 'Huy', 'Hùng', 'Khang', 'Khánh', 'Khoa', 'Kiên', 'Lâm', 'Long',
    'Lộc', 'Luân', 'Minh', 'Nam', 'Nghĩa', 'Nhân', 'Phát', 'Phong', 'Phúc', 'Quân', 'Quang', 'Sơn',
    'Tài', 'Tâm', 'Thắng', 'Thành', 'Thịnh', 'Toàn', 'Trí', 'Trung', 'Tuấn', 'Tùng', 'Việt', 'Vinh', 'Vũ',
  ].map((s) => s.normalize('NFC')),
  F: [
    'An', 'Anh', 'Bích', 'Châu', 'Chi', 'Diệp', 'Dung', 'Duyên', 'Giang', 'Hà', 'Hạnh', 'Hằng', 'Hiền',
    'Hoa', 'Hồng', 'Huyền', 'Hương', 'Lan', 'Liên', 'Linh', 'Loan', 'Mai', 'My', 'Nga', 'Ngân', 'Ngọc',
    'Nhung', 'Nhi', 'Oanh', 'Phương', 'Quyên', 'Quỳnh', 'Thảo', 'Thanh', 'Thu', 'Thủy', 'Thư', 'Trang',
    'Trâm', 'Uyên', 'Vân', 'Vy', 'Xuân', 'Yến',
  ].map((s) => s.normalize('NFC')),
};

/**
 * Given names that clerks confuse: a mismatch planted from these looks like a real data-entry
 * error ("Nguyễn Văn An" registered as "Nguyễn Văn Anh"). Each pair differs after `nameMatchKey`.
 */
export const NEAR_GIVEN_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  [
    ['An', 'Anh'], ['Anh', 'An'], ['Huy', 'Hùng'], ['Hùng', 'Huy'], ['Linh', 'Lan'], ['Lan', 'Linh'],
    ['Trang', 'Trâm'], ['Trâm', 'Trang'], ['Hà', 'Hải'], ['Hải', 'Hà'], ['Nhung', 'Nhi'], ['Nhi', 'Nhung'],
    ['Thành', 'Thắng'], ['Thắng', 'Thành'], ['Tâm', 'Tài'], ['Tài', 'Tâm'],
    ['Minh', 'Minh Anh'], ['Duy', 'Dũng'], ['Dũng', 'Duy'], ['Thu', 'Thảo'], ['Quân', 'Quang'], ['Quang', 'Quân'],
  ].map(([a, b]) => [(a as string).normalize('NFC'), (b as string).normalize('NFC')]),
);

const familyTable = new WeightedTable(FAMILY_NAME_WEIGHTS);
const middleTables: Readonly<Record<Sex, WeightedTable<string>>> = {
  M: new WeightedTable(MIDDLE_NAME_WEIGHTS.M),
  F: new WeightedTable(MIDDLE_NAME_WEIGHTS.F),
};

/** The parts of a name; `full` joins them with single spaces. */
export interface NameParts {
  readonly family: string;
  readonly middle: readonly string[];
  readonly given: string;
}

export function fullName(parts: NameParts): string {
  return [parts.family, ...parts.middle, parts.given].join(' ');
}

/** Something that yields floats in [0, 1): a `Prng`. */
interface UniformSource {
  float(): number;
}

/**
 * A random name for a person of the given sex. `family` overrides the family name (a child takes
 * the father's). Consumes a fixed number of draws, so callers stay reproducible.
 */
export function randomName(rng: UniformSource, sex: Sex, family?: string): NameParts {
  const drawnFamily = familyTable.at(rng.float());
  const first = middleTables[sex].at(rng.float());
  const hasSecond = rng.float() < 0.25;
  const secondList = SECOND_MIDDLE_NAMES[sex];
  const second = secondList[Math.floor(rng.float() * secondList.length)] as string;
  const givenList = GIVEN_NAMES[sex];
  const given = givenList[Math.floor(rng.float() * givenList.length)] as string;
  const middle = hasSecond && second !== first && second !== given ? [first, second] : [first];
  return { family: family ?? drawnFamily, middle, given };
}
