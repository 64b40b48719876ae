/**
 * Dates and times of the registry formats. A calendar date is `YYYY-MM-DD`; a time is ISO 8601,
 * and one without an offset is Vietnam time (UTC+07:00, no daylight saving), per issue 2.
 *
 * The accepted forms are defined by two regular expressions (DATE_DEFINITION and
 * DATE_TIME_DEFINITION). The import reads one or three times per subscription and two dates per
 * person, millions of rows per file, and matching those expressions and building `Date` objects
 * cost about 1.7 µs per time, a tenth of a worker's non-cryptographic work (issue 2 benchmark,
 * docs/benchmarks.md). So the parsers below scan the characters themselves; dates.test.ts checks
 * that they accept exactly what the definitions accept, with the same result.
 */

/** `YYYY-MM-DD`. */
export const DATE_DEFINITION = /^(\d{4})-(\d{2})-(\d{2})$/;
/**
 * A date, optionally a time (seconds and a fraction optional), optionally an offset: `Z`, or
 * hours and minutes (`+07:00`, `+0700`), or hours alone (`+07`, ISO 8601's `±hh`: PostgreSQL
 * exports a timestamptz as `2024-01-05 08:00:00+07`, and was rejected as DATE_INVALID).
 */
export const DATE_TIME_DEFINITION = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

const VIETNAM_OFFSET_MINUTES = 7 * 60;
const DASH = 0x2d;
const COLON = 0x3a;

/** The value of `count` ASCII digits at `at`, or -1 when any of them is not a digit (or missing). */
function digitsAt(s: string, at: number, count: number): number {
  if (at + count > s.length) return -1;
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A real date of the proleptic Gregorian calendar, in the years the registries accept (1900-2399). */
function isRegistryDate(y: number, m: number, d: number): boolean {
  if (y < 1900 || y > 2399 || m < 1 || m > 12 || d < 1) return false;
  return d <= (m === 2 && isLeapYear(y) ? 29 : DAYS_IN_MONTH[m - 1]!);
}

/** The `YYYY-MM-DD` at the start of `s` as [y, m, d], or undefined (checks the shape, not the calendar). */
function dateFields(s: string): [number, number, number] | undefined {
  if (s.charCodeAt(4) !== DASH || s.charCodeAt(7) !== DASH) return undefined;
  const y = digitsAt(s, 0, 4);
  const m = digitsAt(s, 5, 2);
  const d = digitsAt(s, 8, 2);
  return y < 0 || m < 0 || d < 0 ? undefined : [y, m, d];
}

/** Returns the date unchanged when it is a real calendar date between 1900-01-01 and 2399-12-31. */
export function parseCalendarDate(value: string): string | undefined {
  if (value.length !== 10) return undefined;
  const f = dateFields(value);
  return f && isRegistryDate(f[0], f[1], f[2]) ? value : undefined;
}

/** Parses an ISO 8601 time; returns its instant in UTC as `YYYY-MM-DDTHH:MM:SS.sssZ`. */
export function parseInstant(value: string): string | undefined {
  const epoch = parseInstantMs(value);
  return epoch === undefined ? undefined : isoInstant(epoch);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/**
 * The proleptic Gregorian date of a day number (days since 1970-01-01), without Date objects (a
 * hot path of the import and of the generator). H. Hinnant, "chrono-Compatible Low-Level Date
 * Algorithms", civil_from_days.
 */
export function civilFromDays(days: number): [year: number, month: number, day: number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

/**
 * `new Date(ms).toISOString()` for the years 1900-2399, without a Date object (which cost more
 * than the parse itself); dates.test.ts compares the two.
 */
export function isoInstant(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const mi = Math.floor(rest / 60_000);
  rest -= mi * 60_000;
  const sec = Math.floor(rest / 1000);
  const milli = rest - sec * 1000;
  const [y, m, d] = civilFromDays(days);
  const msText = milli < 10 ? `00${milli}` : milli < 100 ? `0${milli}` : `${milli}`;
  return `${y}-${pad2(m)}-${pad2(d)}T${pad2(h)}:${pad2(mi)}:${pad2(sec)}.${msText}Z`;
}

/** The instant of an ISO 8601 time in milliseconds since 1970 (UTC), or undefined. */
export function parseInstantMs(s: string): number | undefined {
  const f = dateFields(s);
  if (!f) return undefined;
  const [y, mo, d] = f;
  let at = 10;
  let h = 0;
  let mi = 0;
  let sec = 0;
  let ms = 0;
  const sep = s.charCodeAt(at);
  if (sep === 0x54 /* T */ || sep === 0x20 /* space */) {
    h = digitsAt(s, at + 1, 2);
    mi = digitsAt(s, at + 4, 2);
    if (h < 0 || s.charCodeAt(at + 3) !== COLON || mi < 0) return undefined;
    at += 6;
    if (s.charCodeAt(at) === COLON) {
      sec = digitsAt(s, at + 1, 2);
      if (sec < 0) return undefined;
      at += 3;
      if (s.charCodeAt(at) === 0x2e /* . */) {
        const from = at + 1;
        let to = from;
        while (to < s.length && to - from < 10 && digitsAt(s, to, 1) >= 0) to++;
        const count = to - from;
        if (count < 1 || count > 9) return undefined;
        // Milliseconds: the first three digits of the fraction, padded (finer digits are dropped).
        ms = digitsAt(s, from, Math.min(3, count)) * (count >= 3 ? 1 : count === 2 ? 10 : 100);
        at = to;
      }
    }
  }
  let offsetMinutes = VIETNAM_OFFSET_MINUTES;
  if (at < s.length) {
    const c = s.charCodeAt(at);
    if (c === 0x5a /* Z */ && at + 1 === s.length) offsetMinutes = 0;
    else if (c === 0x2b /* + */ || c === DASH) {
      const oh = digitsAt(s, at + 1, 2);
      if (oh < 0) return undefined;
      let om = 0;
      if (at + 3 !== s.length) {
        // Minutes, after an optional colon; without them the offset ends after its hours.
        const colon = s.charCodeAt(at + 3) === COLON ? 1 : 0;
        om = digitsAt(s, at + 3 + colon, 2);
        if (om < 0 || at + 5 + colon !== s.length) return undefined;
      }
      if (oh > 14 || om > 59) return undefined;
      offsetMinutes = (c === DASH ? -1 : 1) * (oh * 60 + om);
    } else return undefined;
  }
  if (!isRegistryDate(y, mo, d) || h > 23 || mi > 59 || sec > 59) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms) - offsetMinutes * 60_000;
}

/** Whole years between a birth date and a reference date (both `YYYY-MM-DD`). */
export function ageOn(birthDate: string, on: string): number {
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  const [y, m, d] = on.split('-').map(Number) as [number, number, number];
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}
