/**
 * The synthetic registry generator behind `idbind generate` (issue 2, "idbind generate"; DESIGN.md
 * "Synthetic data only": realistic registries, junk-SIM patterns at configurable rates, no real
 * personal data). It writes `population.csv` and one `<carrier>.csv` per carrier (or `.ndjson`)
 * in the formats of issue 2 "Input formats", and plants each reconciliation category of issue 2
 * "Rules" an exact, known number of times, so that a reconciliation over the imported files must
 * find exactly the planted counts.
 *
 * Constant memory at national scale (4 M people, 4.8 M subscriptions): nothing is held. Person i
 * and subscription k are pure functions of (plan, i) and (plan, k):
 *
 * - A keyed permutation maps each person index to a role slot; the slots are laid out in ranges
 *   (holders of HOLDER_DECEASED rows, of HOLDER_DATA_MISMATCH rows, of ONLINE_BEYOND_LIMIT
 *   groups, of decoy groups, of normal subscriptions, minors, other deceased, other adults). The
 *   inverse permutation takes a subscription from its holder's slot back to the person index, and
 *   the person is recomputed there.
 * - Another permutation maps each subscription index to a slot in ranges of kinds (the five
 *   categories, decoy groups, terminated, normal). An ONLINE_BEYOND_LIMIT case is a group of four
 *   subscriptions of one holder at one carrier; every member recomputes the whole group's shared
 *   facts (times, numbers) from the group's own generator.
 * - Personal IDs are unique without a set: serial = permutation(i mod 10^6), and the block
 *   floor(i / 10^6) draws its province only from provinces whose index is congruent to the block
 *   modulo the number of blocks. IDs of HOLDER_NOT_FOUND rows are those of indices >= N, which the
 *   population file never contains.
 * - Numbers are unique without a set: subscription k at carrier c gets the number at position
 *   permutation_c(k) of c's usable number space (carrier-prefixes.ts); carriers' prefixes are
 *   disjoint.
 *
 * The reconciliation categories (issue 2 "Rules", order authoritative), and how each is planted:
 * 1. NO_HOLDER: empty holder ID (name and birth date sometimes present, sometimes not).
 * 2. HOLDER_NOT_FOUND: a well-formed, consistent ID of a "phantom" person (index >= N).
 * 3. HOLDER_DECEASED: the holder is deceased (registered before the death); some of these rows also
 *    carry mismatching data, which rule order makes irrelevant.
 * 4. HOLDER_DATA_MISMATCH: a different given, middle or family name, or a birth date off by days
 *    or by a year. Normal rows also carry the registry's name in other shapes that must still
 *    match under `nameMatchKey` (upper case without diacritics, doubled spaces, NFD, lower case).
 * 5. ONLINE_BEYOND_LIMIT: one holder, used nowhere else, with three non-terminated subscriptions at
 *    one carrier and a fourth, later one through `online` (one case per group). Every 16th group
 *    gives all four the same instant, written in different ISO 8601 forms, so that only the
 *    tie-break by E.164 number makes the online one the fourth.
 *    Decoy groups, which must count as nothing, go with them: three online and a fourth later one
 *    in a store (A); four online of which one earlier is terminated (B); two online at each of two
 *    carriers (C).
 * Terminated rows are never classified; they carry any adult holder, sometimes none or a phantom.
 * Normal rows: an alive adult from the normal pool, matching data, and each normal holder has at
 * most two normal subscriptions, so none reaches a fourth at one carrier. Minors hold nothing.
 */
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { join, resolve } from 'node:path';
import { civilFromDays, parseCalendarDate } from '../dates.ts';
import { CURRENT_NAME_RULE, nameMatchKey } from '../name-match.ts';
import { PROVINCE_CODES, composePersonalId, type Sex } from '../personal-id.ts';
import { CARRIERS, CARRIER_SLUGS, carrierNumberSpace, carrierSubPrefixes, type CarrierSlug } from './carrier-prefixes.ts';
import { Permutation, WeightedTable, prngFor, type Prng } from './prng.ts';
import { FAMILY_NAME_WEIGHTS, GIVEN_NAMES, NEAR_GIVEN_NAMES, fullName, randomName, type NameParts } from './vietnamese-names.ts';

/**
 * Names as the hub compares them, under the latest rule (name-match.ts). The generator's names are
 * folded alike by every rule (plain Vietnamese letters and spaces), so what it plants as matching
 * or mismatching holds under any blind-index version.
 */
const matchKey = (name: string): string => nameMatchKey(name, CURRENT_NAME_RULE);

/** The reconciliation categories, in the order of the `--json` report. */
export const JUNK_CATEGORIES = [
  'NO_HOLDER',
  'HOLDER_NOT_FOUND',
  'HOLDER_DATA_MISMATCH',
  'HOLDER_DECEASED',
  'ONLINE_BEYOND_LIMIT',
] as const;
export type JunkCategory = (typeof JUNK_CATEGORIES)[number];
export type CategoryCounts = Record<JunkCategory, number>;

export type OutputFormat = 'csv' | 'ndjson';

export const POPULATION_COLUMNS = [
  'personal_id', 'full_name', 'birth_date', 'sex', 'status', 'died_on', 'guardian_personal_ids',
] as const;
export const SUBSCRIPTION_COLUMNS = [
  'msisdn', 'holder_personal_id', 'holder_full_name', 'holder_birth_date', 'channel', 'registered_at',
  'status', 'sim_changed_at', 'device_changed_at',
] as const;

export const DEFAULT_SEED = 1;
export const DEFAULT_AS_OF = '2026-01-01';
export const DEFAULT_JUNK_RATE = 0.02;
export const DEFAULT_TERMINATED_RATE = 0.02;
/** Share of minors (under 16 on the as-of date) aimed at, when people are left for them. */
export const MINOR_SHARE = 0.08;
/** Share of deceased people beyond the holders of HOLDER_DECEASED rows. */
export const OTHER_DECEASED_SHARE = 0.01;
/** Normal subscriptions per normal holder aimed at (each holds 1 or 2). */
const SUBSCRIPTIONS_PER_NORMAL_HOLDER = 1.3;
/** One tie group (four equal registration instants) every this many ONLINE_BEYOND_LIMIT groups. */
export const TIE_GROUP_EVERY = 16;

const SERIALS_PER_BLOCK = 1_000_000;
const PROVINCE_LIST = Object.keys(PROVINCE_CODES).sort();
/** Personal IDs stay unique while each block has at least one province of its own. */
const MAX_BLOCKS = PROVINCE_LIST.length;
const MAX_PEOPLE = 60_000_000;

export interface GenerateOptions {
  readonly people: number;
  readonly subscriptions: number;
  /** Fraction of subscriptions per category; count = round(rate * subscriptions). */
  readonly rates: Readonly<CategoryCounts>;
  readonly terminatedRate: number;
  readonly seed: number;
  /** `YYYY-MM-DD`: the day the registry describes (ages, "minor", latest registration). */
  readonly asOf: string;
  readonly outDir: string;
  readonly format: OutputFormat;
  readonly onProgress?: (progress: GenerateProgress) => void;
}

export interface GenerateProgress {
  readonly phase: 'population' | 'subscriptions';
  readonly done: number;
  readonly total: number;
}

/** The `--json` report of `idbind generate` (issue 2). */
export interface GenerateReport {
  seed: number;
  people: number;
  subscriptions: number;
  files: Record<'population' | CarrierSlug, string>;
  planted: CategoryCounts;
  by_carrier: Record<CarrierSlug, CategoryCounts>;
  terminated: number;
  minors: number;
  deceased_people: number;
}

export interface GenerateResult {
  readonly report: GenerateReport;
  /** Rows written per carrier file. */
  readonly rowsByCarrier: Readonly<Record<CarrierSlug, number>>;
}

/** Arguments that cannot give a registry (the CLI turns this into a usage error, exit 2). */
export class GenerateArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GenerateArgumentError';
  }
}

// ---------------------------------------------------------------------------------------------
// Calendar helpers: days since 1970-01-01 (UTC) for dates, and "local seconds" (Vietnam wall-clock
// time counted as if it were UTC) for times. Vietnam has had no daylight saving since 1975.

const DAY_MS = 86_400_000;
const DAY_S = 86_400;
const VIETNAM_OFFSET_S = 7 * 3600;

function dayOf(y: number, m: number, d: number): number {
  return Date.UTC(y, m - 1, d) / DAY_MS;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

/** `YYYY-MM-DD` of a day number (days since 1970-01-01). */
export function isoDate(day: number): string {
  const [y, m, d] = civilFromDays(day);
  return `${y}-${TWO_DIGITS[m]}-${TWO_DIGITS[d]}`;
}

/** The same calendar day `years` later (negative: earlier); 29 February falls back to the 28th. */
export function shiftYears(day: number, years: number): number {
  const [y, m, d] = civilFromDays(day);
  const year = y + years;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const lastDay = m === 2 ? (leap ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
  return dayOf(y + years, m, Math.min(d, lastDay));
}

export type TimeShape = 'offset' | 'local' | 'utc';

/** ISO 8601 for a local-seconds time: `+07:00` (most), no offset (Vietnam time), or UTC `Z`. */
export function isoTime(localSeconds: number, shape: TimeShape): string {
  const seconds = shape === 'utc' ? localSeconds - VIETNAM_OFFSET_S : localSeconds;
  const day = Math.floor(seconds / DAY_S);
  let rest = seconds - day * DAY_S;
  const hh = Math.floor(rest / 3600);
  rest -= hh * 3600;
  const mm = Math.floor(rest / 60);
  const text = `${isoDate(day)}T${TWO_DIGITS[hh]}:${TWO_DIGITS[mm]}:${TWO_DIGITS[rest - mm * 60]}`;
  return shape === 'offset' ? `${text}+07:00` : shape === 'utc' ? `${text}Z` : text;
}

function timeShape(rng: Prng): TimeShape {
  const u = rng.float();
  return u < 0.85 ? 'offset' : u < 0.96 ? 'local' : 'utc';
}

// ---------------------------------------------------------------------------------------------
// The plan: counts, slot ranges and permutations, all derived from the options.

/** Generator streams: each kind of entity draws from its own, so adding draws to one never shifts another. */
const STREAM = {
  personRole: 1,
  person: 2,
  guardian: 3,
  serial: 4,
  subscriptionKind: 5,
  subscription: 6,
  group: 7,
  decoy: 8,
  normalHolder: 9,
  number: 100,
} as const;

export type PersonRole =
  | 'DECEASED_HOLDER'
  | 'MISMATCH_HOLDER'
  | 'GROUP_HOLDER'
  | 'DECOY_HOLDER'
  | 'NORMAL_HOLDER'
  | 'MINOR'
  | 'OTHER_DECEASED'
  | 'OTHER_ADULT'
  | 'PHANTOM';

export type SubscriptionKind =
  | 'NO_HOLDER'
  | 'HOLDER_NOT_FOUND'
  | 'HOLDER_DECEASED'
  | 'HOLDER_DATA_MISMATCH'
  | 'GROUP'
  | 'DECOY'
  | 'TERMINATED'
  | 'NORMAL';

export interface Range<K> {
  readonly kind: K;
  readonly start: number;
  readonly size: number;
}

function layout<K>(sizes: readonly (readonly [K, number])[]): Range<K>[] {
  let start = 0;
  return sizes.map(([kind, size]) => {
    const range = { kind, start, size };
    start += size;
    return range;
  });
}

function rangeOf<K>(ranges: readonly Range<K>[], kind: K): Range<K> {
  const found = ranges.find((r) => r.kind === kind);
  if (!found) throw new Error(`no range ${String(kind)}`);
  return found;
}

function locate<K>(ranges: readonly Range<K>[], slot: number): { kind: K; offset: number } {
  for (const r of ranges) if (slot < r.start + r.size) return { kind: r.kind, offset: slot - r.start };
  throw new Error(`slot ${slot} outside the layout`);
}

type DecoyType = 'A' | 'B' | 'C';

export interface RegistryPlan {
  readonly seed: number;
  readonly asOf: string;
  readonly people: number;
  readonly subscriptions: number;
  readonly counts: {
    readonly planted: Readonly<CategoryCounts>;
    readonly terminated: number;
    readonly decoyGroups: number;
    readonly normalSubscriptions: number;
    readonly normalHolders: number;
    readonly minors: number;
    readonly deceasedPeople: number;
  };
  /** internal */
  readonly personRanges: readonly Range<PersonRole>[];
  readonly subscriptionRanges: readonly Range<SubscriptionKind>[];
  readonly personPerm: Permutation;
  readonly subscriptionPerm: Permutation;
  readonly normalHolderPerm: Permutation;
  readonly serialPerm: Permutation;
  readonly numberPerms: Readonly<Record<CarrierSlug, Permutation>>;
  readonly subPrefixes: Readonly<Record<CarrierSlug, readonly string[]>>;
  readonly blockProvinces: readonly WeightedTable<string>[];
  readonly decoyB: number;
  readonly days: {
    readonly asOf: number;
    readonly adultLatest: number;
    readonly adultEarliest: number;
    readonly adultUsual: number;
    readonly deceasedLatestBirth: number;
    readonly minorEarliest: number;
    readonly registrationEarliest: number;
    readonly deathEarliest: number;
  };
}

/**
 * Approximate populations of the 63 provinces (2019 census, millions), so that Hà Nội and
 * Hồ Chí Minh City issue more numbers than Bắc Kạn.
 */
const PROVINCE_WEIGHT: Readonly<Record<string, number>> = {
  '001': 8.05, '002': 0.85, '004': 0.53, '006': 0.31, '008': 0.78, '010': 0.73, '011': 0.6, '012': 0.46,
  '014': 1.25, '015': 0.82, '017': 0.85, '019': 1.29, '020': 0.78, '022': 1.32, '024': 1.8, '025': 1.46,
  '026': 1.15, '027': 1.37, '030': 1.89, '031': 2.03, '033': 1.25, '034': 1.86, '035': 0.85, '036': 1.78,
  '037': 0.98, '038': 3.64, '040': 3.33, '042': 1.29, '044': 0.9, '045': 0.63, '046': 1.13, '048': 1.13,
  '049': 1.5, '051': 1.23, '052': 1.49, '054': 0.87, '056': 1.23, '058': 0.59, '060': 1.23, '062': 0.54,
  '064': 1.51, '066': 1.87, '067': 0.62, '068': 1.3, '070': 0.99, '072': 1.17, '074': 2.43, '075': 3.1,
  '077': 1.15, '079': 8.99, '080': 1.69, '082': 1.76, '083': 1.29, '084': 1.01, '086': 1.02, '087': 1.6,
  '089': 1.91, '091': 1.72, '092': 1.24, '093': 0.73, '094': 1.2, '095': 0.91, '096': 1.19,
};

function checkRate(name: string, rate: number): void {
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) throw new GenerateArgumentError(`${name} must be between 0 and 1`);
}

/** Validates the options and derives everything the generator needs; throws GenerateArgumentError. */
export function planRegistry(options: Omit<GenerateOptions, 'outDir' | 'format' | 'onProgress'>): RegistryPlan {
  const { people: n, subscriptions: m, seed } = options;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PEOPLE) throw new GenerateArgumentError(`people must be an integer from 1 to ${MAX_PEOPLE}`);
  const numberSpace = Math.min(...CARRIER_SLUGS.map(carrierNumberSpace));
  if (!Number.isSafeInteger(m) || m < 0 || m > numberSpace) {
    throw new GenerateArgumentError(`subscriptions must be an integer from 0 to ${numberSpace} (the smallest carrier's number space)`);
  }
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new GenerateArgumentError('seed must be an integer from 0 to 4294967295');
  for (const category of JUNK_CATEGORIES) checkRate(`the ${category} rate`, options.rates[category]);
  checkRate('the terminated rate', options.terminatedRate);
  if (parseCalendarDate(options.asOf) === undefined || options.asOf < '2012-01-01' || options.asOf > '2299-12-31') {
    throw new GenerateArgumentError('as-of must be a calendar date YYYY-MM-DD from 2012-01-01 to 2299-12-31');
  }

  const planted = {} as CategoryCounts;
  for (const category of JUNK_CATEGORIES) planted[category] = Math.round(options.rates[category] * m);
  const terminated = Math.round(options.terminatedRate * m);
  const junkRows =
    planted.NO_HOLDER + planted.HOLDER_NOT_FOUND + planted.HOLDER_DECEASED + planted.HOLDER_DATA_MISMATCH + 4 * planted.ONLINE_BEYOND_LIMIT;
  if (junkRows + terminated > m) {
    throw new GenerateArgumentError(
      `the rates need ${junkRows + terminated} subscriptions (each ONLINE_BEYOND_LIMIT case is a group of 4, plus ${terminated} terminated), ` +
        `more than the ${m} requested: lower the rates or raise --subscriptions`,
    );
  }
  const spare = m - junkRows - terminated;
  const decoyGroups = Math.min(Math.ceil(planted.ONLINE_BEYOND_LIMIT / 3), Math.floor(spare / 4));
  // Decoy groups of type B each hold one of the terminated rows.
  let decoyB = 0;
  for (let g = 0; g < decoyGroups; g++) if (g % 3 === 1 && decoyB < terminated) decoyB++;
  const terminatedPlain = terminated - decoyB;
  const normalSubscriptions = spare - 4 * decoyGroups + decoyB;

  const reserved = planted.HOLDER_DECEASED + planted.HOLDER_DATA_MISMATCH + planted.ONLINE_BEYOND_LIMIT + decoyGroups;
  const minHolders = Math.ceil(normalSubscriptions / 2);
  if (reserved + minHolders > n) {
    throw new GenerateArgumentError(
      `not enough people for the requested subscriptions and junk: ${m} subscriptions at these rates need at least ` +
        `${reserved + minHolders} people (each normal holder holds at most 2; each deceased, mismatch and online-limit case has its own), got ${n}`,
    );
  }
  const phantoms = planted.HOLDER_NOT_FOUND + terminatedPlain;
  const blocks = Math.ceil((n + phantoms) / SERIALS_PER_BLOCK);
  if (blocks > MAX_BLOCKS) throw new GenerateArgumentError(`too many people for unique personal IDs (at most ${MAX_BLOCKS} million)`);

  const minorTarget = Math.round(MINOR_SHARE * n);
  const deceasedTarget = Math.round(OTHER_DECEASED_SHARE * n);
  const desiredHolders = Math.min(normalSubscriptions, Math.max(minHolders, Math.round(normalSubscriptions / SUBSCRIPTIONS_PER_NORMAL_HOLDER)));
  const normalHolders = Math.max(minHolders, Math.min(desiredHolders, n - reserved - minorTarget - deceasedTarget));
  const rest = n - reserved - normalHolders;
  let minors = Math.min(minorTarget, rest);
  const otherDeceased = Math.min(deceasedTarget, rest - minors);
  let otherAdults = rest - minors - otherDeceased;
  const aliveAdults = planted.HOLDER_DATA_MISMATCH + planted.ONLINE_BEYOND_LIMIT + decoyGroups + normalHolders + otherAdults;
  if (aliveAdults === 0) {
    // A minor needs a living adult guardian in the same file.
    otherAdults += minors;
    minors = 0;
  }

  const personRanges = layout<PersonRole>([
    ['DECEASED_HOLDER', planted.HOLDER_DECEASED],
    ['MISMATCH_HOLDER', planted.HOLDER_DATA_MISMATCH],
    ['GROUP_HOLDER', planted.ONLINE_BEYOND_LIMIT],
    ['DECOY_HOLDER', decoyGroups],
    ['NORMAL_HOLDER', normalHolders],
    ['MINOR', minors],
    ['OTHER_DECEASED', otherDeceased],
    ['OTHER_ADULT', otherAdults],
  ]);
  const subscriptionRanges = layout<SubscriptionKind>([
    ['NO_HOLDER', planted.NO_HOLDER],
    ['HOLDER_NOT_FOUND', planted.HOLDER_NOT_FOUND],
    ['HOLDER_DECEASED', planted.HOLDER_DECEASED],
    ['HOLDER_DATA_MISMATCH', planted.HOLDER_DATA_MISMATCH],
    ['GROUP', 4 * planted.ONLINE_BEYOND_LIMIT],
    ['DECOY', 4 * decoyGroups],
    ['TERMINATED', terminatedPlain],
    ['NORMAL', normalSubscriptions],
  ]);

  const blockProvinces: WeightedTable<string>[] = [];
  for (let b = 0; b < blocks; b++) {
    blockProvinces.push(
      new WeightedTable(PROVINCE_LIST.filter((_, p) => p % blocks === b).map((code) => [code, PROVINCE_WEIGHT[code] ?? 1] as const)),
    );
  }
  const subPrefixes = carrierSubPrefixes();
  const numberPerms = {} as Record<CarrierSlug, Permutation>;
  CARRIER_SLUGS.forEach((slug, c) => {
    numberPerms[slug] = new Permutation(carrierNumberSpace(slug), seed, STREAM.number + c);
  });

  const [ay, am, ad] = options.asOf.split('-').map(Number) as [number, number, number];
  const asOfDay = dayOf(ay, am, ad);
  const adultLatest = shiftYears(asOfDay, -18);
  const adultEarliest = dayOf(1940, 1, 1);
  return {
    seed,
    asOf: options.asOf,
    people: n,
    subscriptions: m,
    counts: {
      planted,
      terminated,
      decoyGroups,
      normalSubscriptions,
      normalHolders,
      minors,
      deceasedPeople: planted.HOLDER_DECEASED + otherDeceased,
    },
    personRanges,
    subscriptionRanges,
    personPerm: new Permutation(n, seed, STREAM.personRole),
    subscriptionPerm: new Permutation(m, seed, STREAM.subscriptionKind),
    normalHolderPerm: new Permutation(normalSubscriptions, seed, STREAM.normalHolder),
    serialPerm: new Permutation(SERIALS_PER_BLOCK, seed, STREAM.serial),
    numberPerms,
    subPrefixes,
    blockProvinces,
    decoyB,
    days: {
      asOf: asOfDay,
      adultLatest,
      adultEarliest,
      adultUsual: Math.max(adultEarliest, shiftYears(adultLatest, -40)),
      deceasedLatestBirth: shiftYears(asOfDay, -30),
      minorEarliest: shiftYears(asOfDay, -16) + 1,
      registrationEarliest: dayOf(2010, 1, 1),
      deathEarliest: dayOf(2011, 1, 1),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// People.

export interface Person {
  readonly index: number;
  readonly role: PersonRole;
  readonly personalId: string;
  readonly name: NameParts;
  readonly fullName: string;
  readonly sex: Sex;
  readonly birthDay: number;
  readonly birthDate: string;
  /** Day of death, or undefined when alive. */
  readonly diedDay: number | undefined;
  /** Guardians' indices (minors only). */
  readonly guardians: readonly number[];
}

function roleOf(plan: RegistryPlan, index: number): PersonRole {
  if (index >= plan.people) return 'PHANTOM';
  return locate(plan.personRanges, plan.personPerm.forward(index)).kind;
}

/** The person index holding a role slot. */
function personAtSlot(plan: RegistryPlan, kind: PersonRole, offset: number): number {
  const range = rangeOf(plan.personRanges, kind);
  if (offset < 0 || offset >= range.size) throw new Error(`${kind} slot ${offset} outside [0, ${range.size})`);
  return plan.personPerm.inverse(range.start + offset);
}

/** Everything about a person but the guardians (and a minor's family name, taken from the father). */
function basePerson(plan: RegistryPlan, index: number): Person {
  const role = roleOf(plan, index);
  const rng = prngFor(plan.seed, STREAM.person, index);
  const sex: Sex = rng.chance(0.5) ? 'F' : 'M';
  const { days } = plan;
  let birthDay: number;
  let diedDay: number | undefined;
  if (role === 'MINOR') {
    birthDay = rng.int(days.minorEarliest, days.asOf - 1);
  } else if (role === 'DECEASED_HOLDER' || role === 'OTHER_DECEASED') {
    birthDay = rng.int(days.adultEarliest, days.deceasedLatestBirth);
    diedDay = rng.int(Math.max(shiftYears(birthDay, 20), days.deathEarliest), days.asOf - 1);
  } else {
    // Most adults between 18 and 58, the rest back to 1940.
    birthDay = rng.chance(0.65) ? rng.int(days.adultUsual, days.adultLatest) : rng.int(days.adultEarliest, days.adultLatest);
  }
  const name = randomName(rng, sex);
  const block = Math.floor(index / SERIALS_PER_BLOCK);
  const provinces = plan.blockProvinces[block];
  if (!provinces) throw new Error(`person ${index} beyond the planned blocks`);
  const province = rng.weighted(provinces);
  const birthYear = civilFromDays(birthDay)[0];
  const personalId = composePersonalId(province, birthYear, sex, plan.serialPerm.forward(index % SERIALS_PER_BLOCK));
  return {
    index,
    role,
    personalId,
    name,
    fullName: fullName(name),
    sex,
    birthDay,
    birthDate: isoDate(birthDay),
    diedDay,
    guardians: [],
  };
}

const ALIVE_ADULT_ROLES: readonly PersonRole[] = ['MISMATCH_HOLDER', 'GROUP_HOLDER', 'DECOY_HOLDER', 'NORMAL_HOLDER', 'OTHER_ADULT'];
const GUARDIAN_ATTEMPTS = 48;

/** A random alive adult of the population (any role among ALIVE_ADULT_ROLES). */
function randomAliveAdult(plan: RegistryPlan, rng: Prng): number {
  const ranges = plan.personRanges.filter((r) => ALIVE_ADULT_ROLES.includes(r.kind));
  const total = ranges.reduce((sum, r) => sum + r.size, 0);
  let pick = rng.int(0, total - 1);
  for (const r of ranges) {
    if (pick < r.size) return plan.personPerm.inverse(r.start + pick);
    pick -= r.size;
  }
  throw new Error('no alive adult');
}

/**
 * Person i, complete. Minors get a father (whose family name they take) and usually a mother: alive
 * adults of the same file, 18 to 45 years older when one can be found in a few draws, otherwise
 * any alive adult (small populations).
 */
export function personAt(plan: RegistryPlan, index: number): Person {
  const base = basePerson(plan, index);
  if (base.role !== 'MINOR') return base;
  const rng = prngFor(plan.seed, STREAM.guardian, index);
  const childYear = civilFromDays(base.birthDay)[0];
  const find = (sex: Sex, exclude: number): number | undefined => {
    for (let attempt = 0; attempt < GUARDIAN_ATTEMPTS; attempt++) {
      const candidate = randomAliveAdult(plan, rng);
      if (candidate === exclude) continue;
      const adult = basePerson(plan, candidate);
      const gap = childYear - civilFromDays(adult.birthDay)[0];
      if (adult.sex === sex && gap >= 18 && gap <= 45) return candidate;
    }
    return undefined;
  };
  const father = find('M', -1) ?? randomAliveAdult(plan, rng);
  const guardians = [father];
  if (rng.chance(0.75)) {
    const mother = find('F', father);
    if (mother !== undefined) guardians.push(mother);
  }
  const name = { ...base.name, family: basePerson(plan, father).name.family };
  return { ...base, name, fullName: fullName(name), guardians };
}

/** The population row of person i (issue 2 "Input formats", Population). */
export function populationRow(plan: RegistryPlan, index: number): Record<(typeof POPULATION_COLUMNS)[number], string> {
  const person = personAt(plan, index);
  return {
    personal_id: person.personalId,
    full_name: person.fullName,
    birth_date: person.birthDate,
    sex: person.sex,
    status: person.diedDay === undefined ? 'alive' : 'deceased',
    died_on: person.diedDay === undefined ? '' : isoDate(person.diedDay),
    guardian_personal_ids: person.guardians.map((g) => basePerson(plan, g).personalId).join(';'),
  };
}

// ---------------------------------------------------------------------------------------------
// Subscriptions.

type Channel = 'store' | 'online' | 'video' | 'vneid';
type SubscriptionStatus = 'active' | 'blocked_outgoing' | 'blocked_both' | 'terminated';

export interface Subscription {
  readonly carrier: CarrierSlug;
  /** E.164, for ordering and uniqueness; the row writes `msisdn` in one of three shapes. */
  readonly e164: string;
  readonly row: Record<(typeof SUBSCRIPTION_COLUMNS)[number], string>;
  /** The category the reconciliation must give it; undefined for normal and terminated rows. */
  readonly category: JunkCategory | undefined;
}

const carrierTable = new WeightedTable(CARRIERS.map((c) => [c.slug, c.share] as const));
const familyNames = FAMILY_NAME_WEIGHTS.map(([name]) => name);

function numberOf(plan: RegistryPlan, carrier: CarrierSlug, k: number): string {
  const position = plan.numberPerms[carrier].forward(k);
  const sub = plan.subPrefixes[carrier][Math.floor(position / 1_000_000)] as string;
  return `${sub}${String(position % 1_000_000).padStart(6, '0')}`;
}

function msisdnShape(rng: Prng, national: string): string {
  const u = rng.float();
  return u < 0.6 ? `0${national}` : u < 0.8 ? `84${national}` : `+84${national}`;
}

function channelFor(rng: Prng, localSeconds: number): Channel {
  const year = civilFromDays(Math.floor(localSeconds / DAY_S))[0];
  const u = rng.float();
  if (year < 2020) return u < 0.75 ? 'store' : u < 0.95 ? 'online' : 'video';
  if (year < 2023) return u < 0.55 ? 'store' : u < 0.85 ? 'online' : 'video';
  return u < 0.4 ? 'store' : u < 0.65 ? 'online' : u < 0.75 ? 'video' : 'vneid';
}

function liveStatus(rng: Prng, junk: boolean): SubscriptionStatus {
  const u = rng.float();
  if (junk) return u < 0.7 ? 'active' : u < 0.9 ? 'blocked_outgoing' : 'blocked_both';
  return u < 0.97 ? 'active' : u < 0.99 ? 'blocked_outgoing' : 'blocked_both';
}

/** The window in which a person can have registered a number: from 16 (and 2010) until as-of or death. */
function registrationWindow(plan: RegistryPlan, person: Person | undefined): [number, number] {
  const earliest = Math.max(plan.days.registrationEarliest, person ? shiftYears(person.birthDay, 16) : 0);
  const latest = person?.diedDay ?? plan.days.asOf;
  return [earliest * DAY_S, latest * DAY_S - 1];
}

/**
 * The registry's name as a carrier's clerk might have typed it, which must still match under
 * `nameMatchKey`: mostly as is, else upper case without diacritics, upper case, doubled spaces,
 * lower case, or decomposed (NFD).
 */
function presentedName(rng: Prng, name: string): string {
  const u = rng.float();
  if (u < 0.78) return name;
  if (u < 0.88) return matchKey(name).toUpperCase();
  if (u < 0.91) return name.toUpperCase();
  if (u < 0.95) return name.replace(/ /g, '  ');
  if (u < 0.98) return name.toLowerCase();
  return name.normalize('NFD');
}

function otherGivenName(rng: Prng, person: Person): string {
  const key = matchKey(person.name.given);
  const near = NEAR_GIVEN_NAMES[person.name.given];
  if (near && matchKey(near) !== key && rng.chance(0.6)) return near;
  for (;;) {
    const candidate = rng.pick(GIVEN_NAMES[person.sex]);
    if (matchKey(candidate) !== key) return candidate;
  }
}

/**
 * Holder data that differs from the registry under the reconciliation's comparison: another given,
 * middle or family name, or a birth date off by 1-27 days or by one year.
 */
function mismatchedHolder(rng: Prng, person: Person): { name: string; birthDate: string } {
  const u = rng.float();
  let name = person.fullName;
  let birthDay = person.birthDay;
  if (u < 0.35) {
    name = fullName({ ...person.name, given: otherGivenName(rng, person) });
  } else if (u < 0.45) {
    // A middle name dropped or added ("Nguyễn Thị Minh Anh" registered as "Nguyễn Thị Anh").
    const [first] = person.name.middle as [string];
    const extra = rng.pick(['Minh', 'Ngọc', 'Thanh', 'Hoàng'].filter((m) => m !== first && m !== person.name.given));
    name = fullName({ ...person.name, middle: person.name.middle.length > 1 ? [first] : [first, extra] });
  } else if (u < 0.52) {
    const key = matchKey(person.name.family);
    let family = person.name.family;
    while (matchKey(family) === key) family = rng.pick(familyNames);
    name = fullName({ ...person.name, family });
  } else if (u < 0.8) {
    const days = rng.int(1, 27);
    birthDay += rng.chance(0.5) ? days : -days;
  } else {
    birthDay = shiftYears(birthDay, rng.chance(0.5) ? 1 : -1);
  }
  if (matchKey(name) === matchKey(person.fullName) && birthDay === person.birthDay) {
    // Cannot happen by construction; fail loudly rather than plant a row that would match.
    throw new Error('planted mismatch matches');
  }
  return { name: presentedName(rng, name), birthDate: isoDate(birthDay) };
}

interface GroupMember {
  readonly k: number;
  readonly carrier: CarrierSlug;
  readonly localSeconds: number;
  readonly shape: TimeShape;
  readonly channel: Channel;
  readonly terminated: boolean;
  readonly category: JunkCategory | undefined;
}

/** Draws `count` sorted times in [lo, hi - margin] and one strictly later time in (max, hi]. */
function earlierAndLater(rng: Prng, lo: number, hi: number): number[] {
  const earlier = [rng.int(lo, hi - DAY_S), rng.int(lo, hi - DAY_S), rng.int(lo, hi - DAY_S)].sort((a, b) => a - b);
  const last = rng.int((earlier[2] as number) + 1, hi);
  return [...earlier, last];
}

function otherCarrier(rng: Prng, not: CarrierSlug): CarrierSlug {
  for (;;) {
    const c = rng.weighted(carrierTable);
    if (c !== not) return c;
  }
}

/**
 * The four members of an ONLINE_BEYOND_LIMIT group (`decoy` false) or of a decoy group, computed
 * whole from the group's generator so that each member sees the same shared facts.
 */
function groupMembers(plan: RegistryPlan, decoy: boolean, g: number, holder: Person): GroupMember[] {
  const rng = prngFor(plan.seed, decoy ? STREAM.decoy : STREAM.group, g);
  const range = rangeOf(plan.subscriptionRanges, decoy ? 'DECOY' : 'GROUP');
  const ks = [0, 1, 2, 3].map((j) => plan.subscriptionPerm.inverse(range.start + 4 * g + j));
  const [lo, hi] = registrationWindow(plan, holder);
  const carrier = rng.weighted(carrierTable);
  const nonOnline = (): Channel => rng.pick(['store', 'video', 'vneid'] as const);
  const anyChannel = (): Channel => rng.pick(['store', 'online', 'video', 'vneid'] as const);

  if (!decoy) {
    if (g % TIE_GROUP_EVERY === 0) {
      // Four registrations at one instant: the tie-break by E.164 number decides which is fourth.
      const t = rng.int(lo, hi);
      const shapes: TimeShape[] = ['offset', 'local', 'utc', 'offset'];
      const numbers = ks.map((k) => numberOf(plan, carrier, k));
      const last = numbers.indexOf([...numbers].sort().at(-1) as string);
      return ks.map((k, j) => {
        const online = j === last;
        const channel = online ? 'online' : anyChannel();
        return { k, carrier, localSeconds: t, shape: shapes[j] as TimeShape, channel, terminated: false, category: online ? 'ONLINE_BEYOND_LIMIT' : undefined };
      });
    }
    const times = earlierAndLater(rng, lo, hi);
    return ks.map((k, j) => ({
      k,
      carrier,
      localSeconds: times[j] as number,
      shape: timeShape(rng),
      channel: j === 3 ? 'online' : anyChannel(),
      terminated: false,
      category: j === 3 ? 'ONLINE_BEYOND_LIMIT' : undefined,
    }));
  }

  const type: DecoyType = g % 3 === 2 ? 'C' : g % 3 === 1 && (g - 1) / 3 < plan.decoyB ? 'B' : 'A';
  if (type === 'C') {
    const second = otherCarrier(rng, carrier);
    return ks.map((k, j) => ({
      k,
      carrier: j < 2 ? carrier : second,
      localSeconds: rng.int(lo, hi),
      shape: timeShape(rng),
      channel: 'online',
      terminated: false,
      category: undefined,
    }));
  }
  const times = earlierAndLater(rng, lo, hi);
  const terminatedMember = type === 'B' ? rng.int(0, 2) : -1;
  return ks.map((k, j) => ({
    k,
    carrier,
    localSeconds: times[j] as number,
    shape: timeShape(rng),
    channel: type === 'A' && j === 3 ? nonOnline() : 'online',
    terminated: j === terminatedMember,
    category: undefined,
  }));
}

function changeTimes(rng: Prng, registered: number, latest: number): { sim: string; device: string } {
  const sim = rng.chance(0.12) ? isoTime(rng.int(registered, latest), 'offset') : '';
  const device = rng.chance(0.25) ? isoTime(rng.int(registered, latest), 'offset') : '';
  return { sim, device };
}

/** Subscription k, complete: its carrier, number, holder data, times and intended category. */
export function subscriptionAt(plan: RegistryPlan, k: number): Subscription {
  const { kind, offset } = locate(plan.subscriptionRanges, plan.subscriptionPerm.forward(k));
  const rng = prngFor(plan.seed, STREAM.subscription, k);

  let carrier: CarrierSlug = rng.weighted(carrierTable);
  let holder: Person | undefined;
  let holderId = '';
  let holderName = '';
  let holderBirth = '';
  let localSeconds: number | undefined;
  let shape = timeShape(rng);
  let channel: Channel | undefined;
  let status: SubscriptionStatus | undefined;
  let category: JunkCategory | undefined;

  const matching = (person: Person): void => {
    holder = person;
    holderId = person.personalId;
    holderName = presentedName(rng, person.fullName);
    holderBirth = person.birthDate;
  };
  const mismatching = (person: Person): void => {
    holder = person;
    holderId = person.personalId;
    ({ name: holderName, birthDate: holderBirth } = mismatchedHolder(rng, person));
  };

  switch (kind) {
    case 'NO_HOLDER': {
      category = 'NO_HOLDER';
      const u = rng.float();
      if (u >= 0.5) {
        // A name (and sometimes a birth date) without an ID: still no holder.
        holderName = fullName(randomName(rng, rng.chance(0.5) ? 'F' : 'M'));
        if (u >= 0.7) holderBirth = isoDate(rng.int(plan.days.adultEarliest, plan.days.adultLatest));
      }
      break;
    }
    case 'HOLDER_NOT_FOUND':
      category = 'HOLDER_NOT_FOUND';
      matching(basePerson(plan, plan.people + offset));
      break;
    case 'HOLDER_DECEASED': {
      category = 'HOLDER_DECEASED';
      const person = basePerson(plan, personAtSlot(plan, 'DECEASED_HOLDER', offset));
      if (rng.chance(0.25)) mismatching(person);
      else matching(person);
      break;
    }
    case 'HOLDER_DATA_MISMATCH':
      category = 'HOLDER_DATA_MISMATCH';
      mismatching(basePerson(plan, personAtSlot(plan, 'MISMATCH_HOLDER', offset)));
      break;
    case 'GROUP':
    case 'DECOY': {
      const decoy = kind === 'DECOY';
      const g = Math.floor(offset / 4);
      const person = basePerson(plan, personAtSlot(plan, decoy ? 'DECOY_HOLDER' : 'GROUP_HOLDER', g));
      const member = groupMembers(plan, decoy, g, person)[offset % 4] as GroupMember;
      if (member.k !== k) throw new Error('group member out of place');
      matching(person);
      carrier = member.carrier;
      shape = member.shape;
      channel = member.channel;
      category = member.category;
      localSeconds = member.localSeconds;
      status = member.terminated ? 'terminated' : liveStatus(rng, category !== undefined);
      break;
    }
    case 'TERMINATED': {
      const u = rng.float();
      if (u < 0.1) {
        // No holder at all.
      } else if (u < 0.15) {
        matching(basePerson(plan, plan.people + rangeOf(plan.subscriptionRanges, 'HOLDER_NOT_FOUND').size + offset));
      } else {
        const pool = plan.personRanges.filter((r) => r.kind === 'NORMAL_HOLDER' || r.kind === 'OTHER_DECEASED' || r.kind === 'OTHER_ADULT');
        const total = pool.reduce((sum, r) => sum + r.size, 0);
        let pick = total > 0 ? rng.int(0, total - 1) : -1;
        let index = plan.people + rangeOf(plan.subscriptionRanges, 'HOLDER_NOT_FOUND').size + offset;
        for (const r of pool) {
          if (pick >= 0 && pick < r.size) {
            index = plan.personPerm.inverse(r.start + pick);
            break;
          }
          pick -= r.size;
        }
        const person = basePerson(plan, index);
        if (rng.chance(0.2)) mismatching(person);
        else matching(person);
      }
      status = 'terminated';
      break;
    }
    case 'NORMAL': {
      const range = rangeOf(plan.personRanges, 'NORMAL_HOLDER');
      const slot = plan.normalHolderPerm.forward(offset) % range.size;
      matching(basePerson(plan, plan.personPerm.inverse(range.start + slot)));
      break;
    }
  }

  const [lo, hi] = registrationWindow(plan, holder);
  localSeconds ??= rng.int(lo, hi);
  channel ??= channelFor(rng, localSeconds);
  status ??= liveStatus(rng, category !== undefined);
  const national = numberOf(plan, carrier, k);
  const changes = changeTimes(rng, localSeconds, plan.days.asOf * DAY_S - 1);
  return {
    carrier,
    e164: `+84${national}`,
    category,
    row: {
      msisdn: msisdnShape(rng, national),
      holder_personal_id: holderId,
      holder_full_name: holderName,
      holder_birth_date: holderBirth,
      channel,
      registered_at: isoTime(localSeconds, shape),
      status,
      sim_changed_at: changes.sim,
      device_changed_at: changes.device,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Writing.

/** RFC 4180: a field is quoted when it holds a comma, a double quote, CR or LF; quotes are doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function formatRow(format: OutputFormat, columns: readonly string[], row: Readonly<Record<string, string>>): string {
  if (format === 'csv') return `${columns.map((c) => csvField(row[c] ?? '')).join(',')}\n`;
  // NDJSON: the same field names, in the same order; an absent value is null.
  const object: Record<string, string | null> = {};
  for (const c of columns) object[c] = row[c] ? (row[c] as string) : null;
  return `${JSON.stringify(object)}\n`;
}

/** A buffered file written through a temporary name (mode 0600) and renamed into place once complete. */
class RowFile {
  private readonly stream: WriteStream;
  private readonly partial: string;
  private chunks: string[] = [];
  private buffered = 0;
  private error: Error | undefined;

  constructor(readonly path: string) {
    this.partial = `${path}.partial`;
    // Owner-only from its first byte (0600, created afresh: `mode` applies only to a new file, so
    // a partial left by an interrupted run is removed first): synthetic, but a plaintext registry
    // of the shape real data has, as the demo keeps its copy (src/demo/demo-seed.ts). The rename
    // keeps the mode, so the file it replaces, whatever its mode, is replaced whole.
    rmSync(this.partial, { force: true });
    this.stream = createWriteStream(this.partial, { encoding: 'utf8', mode: 0o600, flags: 'wx' });
    this.stream.on('error', (e) => {
      this.error ??= e;
    });
  }

  /** Buffers a line; true when the buffer should be flushed. */
  push(line: string): boolean {
    this.chunks.push(line);
    this.buffered += line.length;
    return this.buffered >= 1 << 16;
  }

  async flush(): Promise<void> {
    if (this.error) throw this.error;
    if (this.chunks.length === 0) return;
    const chunk = this.chunks.join('');
    this.chunks = [];
    this.buffered = 0;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async commit(): Promise<void> {
    await this.flush();
    this.stream.end();
    await finished(this.stream);
    if (this.error) throw this.error;
    renameSync(this.partial, this.path);
  }

  discard(): void {
    this.stream.destroy();
    rmSync(this.partial, { force: true });
  }
}

function zeroCounts(): CategoryCounts {
  return { NO_HOLDER: 0, HOLDER_NOT_FOUND: 0, HOLDER_DATA_MISMATCH: 0, HOLDER_DECEASED: 0, ONLINE_BEYOND_LIMIT: 0 };
}

const PROGRESS_EVERY = 1 << 15;

/**
 * Generates the registry into `outDir` (created if needed): `population.<ext>` and one
 * `<carrier>.<ext>` per carrier, each written to `<name>.partial` and renamed when complete.
 * Memory stays constant whatever the sizes. The report's counts are counted from the rows written
 * and checked against the plan.
 */
export async function generateRegistry(options: GenerateOptions): Promise<GenerateResult> {
  const plan = planRegistry(options);
  const outDir = resolve(options.outDir);
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new GenerateArgumentError(`${outDir} exists and is not a directory`);
  mkdirSync(outDir, { recursive: true, mode: 0o700 }); // an existing directory keeps its mode
  const ext = options.format;
  const paths = { population: join(outDir, `population.${ext}`) } as Record<'population' | CarrierSlug, string>;
  for (const slug of CARRIER_SLUGS) paths[slug] = join(outDir, `${slug}.${ext}`);

  const population = new RowFile(paths.population);
  const carriers = {} as Record<CarrierSlug, RowFile>;
  for (const slug of CARRIER_SLUGS) carriers[slug] = new RowFile(paths[slug]);
  const all = [population, ...Object.values(carriers)];
  const progress = options.onProgress;

  let minors = 0;
  let deceased = 0;
  let terminated = 0;
  const planted = zeroCounts();
  const byCarrier = {} as Record<CarrierSlug, CategoryCounts>;
  const rowsByCarrier = {} as Record<CarrierSlug, number>;
  for (const slug of CARRIER_SLUGS) {
    byCarrier[slug] = zeroCounts();
    rowsByCarrier[slug] = 0;
  }

  try {
    if (options.format === 'csv') {
      population.push(`${POPULATION_COLUMNS.join(',')}\n`);
      for (const slug of CARRIER_SLUGS) carriers[slug].push(`${SUBSCRIPTION_COLUMNS.join(',')}\n`);
    }
    for (let i = 0; i < plan.people; i++) {
      const row = populationRow(plan, i);
      if (row.guardian_personal_ids !== '') minors++;
      if (row.status === 'deceased') deceased++;
      if (population.push(formatRow(options.format, POPULATION_COLUMNS, row))) await population.flush();
      if (progress && (i + 1) % PROGRESS_EVERY === 0) progress({ phase: 'population', done: i + 1, total: plan.people });
    }
    progress?.({ phase: 'population', done: plan.people, total: plan.people });

    for (let k = 0; k < plan.subscriptions; k++) {
      const sub = subscriptionAt(plan, k);
      rowsByCarrier[sub.carrier]++;
      if (sub.row.status === 'terminated') terminated++;
      else if (sub.category) {
        planted[sub.category]++;
        byCarrier[sub.carrier][sub.category]++;
      }
      const file = carriers[sub.carrier];
      if (file.push(formatRow(options.format, SUBSCRIPTION_COLUMNS, sub.row))) await file.flush();
      if (progress && (k + 1) % PROGRESS_EVERY === 0) progress({ phase: 'subscriptions', done: k + 1, total: plan.subscriptions });
    }
    progress?.({ phase: 'subscriptions', done: plan.subscriptions, total: plan.subscriptions });

    for (const category of JUNK_CATEGORIES) {
      if (planted[category] !== plan.counts.planted[category]) throw new Error(`generator bug: planted ${planted[category]} ${category}, planned ${plan.counts.planted[category]}`);
    }
    if (terminated !== plan.counts.terminated || minors !== plan.counts.minors || deceased !== plan.counts.deceasedPeople) {
      throw new Error('generator bug: written counts differ from the plan');
    }
    for (const file of all) await file.commit();
  } catch (error) {
    for (const file of all) file.discard();
    throw error;
  }

  return {
    report: {
      seed: plan.seed,
      people: plan.people,
      subscriptions: plan.subscriptions,
      files: paths,
      planted,
      by_carrier: byCarrier,
      terminated,
      minors,
      deceased_people: deceased,
    },
    rowsByCarrier,
  };
}
