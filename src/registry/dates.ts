/**
 * Dates and times of the registry formats. A calendar date is `YYYY-MM-DD`; a time is ISO 8601,
 * and one without an offset is Vietnam time (UTC+07:00, no daylight saving), per issue 2.
 */
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

function validYmd(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

/** Returns the date unchanged when it is a real calendar date between 1900-01-01 and 2399-12-31. */
export function parseCalendarDate(value: string): string | undefined {
  const m = DATE.exec(value);
  if (!m) return undefined;
  const y = Number(m[1]);
  if (y < 1900 || y > 2399 || !validYmd(y, Number(m[2]), Number(m[3]))) return undefined;
  return value;
}

/** Parses an ISO 8601 time; returns its instant in UTC as `YYYY-MM-DDTHH:MM:SS.sssZ`. */
export function parseInstant(value: string): string | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1900 || y > 2399 || !validYmd(y, mo, d)) return undefined;
  const h = Number(m[4] ?? 0);
  const mi = Number(m[5] ?? 0);
  const s = Number(m[6] ?? 0);
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let offsetMinutes = 7 * 60;
  const tz = m[8];
  if (tz === 'Z') offsetMinutes = 0;
  else if (tz) {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4));
    if (oh > 14 || om > 59) return undefined;
    offsetMinutes = sign * (oh * 60 + om);
  }
  const epoch = Date.UTC(y, mo - 1, d, h, mi, s, ms) - offsetMinutes * 60_000;
  return new Date(epoch).toISOString();
}

/** Whole years between a birth date and a reference date (both `YYYY-MM-DD`). */
export function ageOn(birthDate: string, on: string): number {
  const [by, bm, bd] = birthDate.split('-').map(Number) as [number, number, number];
  const [y, m, d] = on.split('-').map(Number) as [number, number, number];
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}
