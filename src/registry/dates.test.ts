import { describe, expect, it } from 'vitest';
import { DATE_DEFINITION, DATE_TIME_DEFINITION, isoInstant, parseCalendarDate, parseInstant } from './dates.ts';

// The parsers as first written, straight from the definitions: the scanners of dates.ts must
// agree with them on every input.
function validYmd(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}
function calendarDateByDefinition(value: string): string | undefined {
  const m = DATE_DEFINITION.exec(value);
  if (!m) return undefined;
  const y = Number(m[1]);
  return y < 1900 || y > 2399 || !validYmd(y, Number(m[2]), Number(m[3])) ? undefined : value;
}
function instantByDefinition(value: string): string | undefined {
  const m = DATE_TIME_DEFINITION.exec(value);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1900 || y > 2399 || !validYmd(y, mo, d)) return undefined;
  const [h, mi, s] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let offset = 7 * 60;
  const tz = m[8];
  if (tz === 'Z') offset = 0;
  else if (tz) {
    const digits = tz.slice(1).replace(':', '');
    const [oh, om] = [Number(digits.slice(0, 2)), Number(digits.slice(2, 4))];
    if (oh > 14 || om > 59) return undefined;
    offset = (tz[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms) - offset * 60_000).toISOString();
}

/** A small deterministic generator (mulberry32), so a failure names a reproducible input. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Well-formed and nearly well-formed times: every optional part, boundary values, then random edits. */
function corpus(count: number): string[] {
  const next = random(147);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const two = () => String(Math.floor(next() * 100)).padStart(2, '0');
  const years = ['1899', '1900', '1970', '2000', '2024', '2100', '2399', '2400', '0000', '9999'];
  const months = ['00', '01', '02', '09', '12', '13'];
  const days = ['00', '01', '28', '29', '30', '31', '32'];
  const times = ['', 'T08:30', ' 23:59', 'T24:00', 'T00:60', 'T08:30:00', 'T08:30:59', 'T08:30:60', 'T08:30:00.5', 'T08:30:00.12',
    'T08:30:00.123', 'T08:30:00.123456789', 'T08:30:00.1234567890', 'T08:30:00.', 'T08:30.', 'T8:30', 'T', 't08:30'];
  const zones = ['', 'Z', 'z', '+07:00', '+0700', '-05:00', '+14:00', '+15:00', '+07:60', '+07', '+07:0', '+070:0', '-00:00', 'Z ', ' '];
  const edits = '0123456789-:T .Z+z٣'.split('');
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const valid = (n: number) => String(1 + Math.floor(next() * n)).padStart(2, '0');
    const year = next() < 0.5 ? String(1900 + Math.floor(next() * 500)) : pick(years);
    const month = next() < 0.6 ? valid(12) : next() < 0.5 ? pick(months) : two();
    const day = next() < 0.6 ? valid(28) : next() < 0.5 ? pick(days) : two();
    let s = `${year}-${month}-${day}${pick(times)}${pick(zones)}`;
    if (next() < 0.3) {
      const at = Math.floor(next() * (s.length + 1));
      const kind = next();
      s = kind < 0.33 ? s.slice(0, at) + pick(edits) + s.slice(at) : kind < 0.66 ? s.slice(0, at) + s.slice(at + 1) : s.slice(0, at) + pick(edits) + s.slice(at + 1);
    }
    out.push(s);
  }
  return out;
}

describe('date and time parsing', () => {
  it('accepts exactly what the definitions accept, with the same instant', () => {
    const inputs = corpus(60_000);
    let accepted = 0;
    for (const s of inputs) {
      const want = instantByDefinition(s);
      expect(parseInstant(s), JSON.stringify(s)).toBe(want);
      expect(parseCalendarDate(s), JSON.stringify(s)).toBe(calendarDateByDefinition(s));
      if (want !== undefined) accepted++;
    }
    // The corpus must exercise both sides.
    expect(accepted).toBeGreaterThan(3_000);
    expect(accepted).toBeLessThan(55_000);
  });

  it('formats instants as toISOString does, across the registry years', () => {
    const next = random(57);
    const from = Date.UTC(1899, 0, 1);
    const to = Date.UTC(2401, 0, 1);
    for (let i = 0; i < 50_000; i++) {
      const ms = from + Math.floor(next() * (to - from));
      expect(isoInstant(ms)).toBe(new Date(ms).toISOString());
    }
    for (const ms of [from, to, 0, -1, 951_782_400_000, Date.UTC(2000, 1, 29, 23, 59, 59, 999), Date.UTC(2100, 2, 1)]) {
      expect(isoInstant(ms)).toBe(new Date(ms).toISOString());
    }
  });
});
