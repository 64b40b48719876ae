/**
 * The synthetic registry generator (generate-registry.ts, issue 2 "idbind generate"): valid and
 * unique personal IDs and numbers, guardians of minors, determinism for a seed, and planted junk
 * that an independent, straightforward implementation of the five reconciliation rules of issue 2
 * ("Rules", in their authoritative order) finds exactly, per carrier.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageOn } from '../dates.ts';
import { nameMatchKey } from '../name-match.ts';
import { checkPersonalId } from '../personal-id.ts';
import { normaliseVietnameseMobile } from '../phone-number.ts';
import { CARRIER_SLUGS, type CarrierSlug } from './carrier-prefixes.ts';
import {
  GenerateArgumentError,
  JUNK_CATEGORIES,
  POPULATION_COLUMNS,
  SUBSCRIPTION_COLUMNS,
  TIE_GROUP_EVERY,
  csvField,
  generateRegistry,
  isoDate,
  isoTime,
  planRegistry,
  shiftYears,
  type CategoryCounts,
  type GenerateOptions,
  type GenerateReport,
  type JunkCategory,
} from './generate-registry.ts';

type Row = Record<string, string>;

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'idbind-gen-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function rates(rate: number): CategoryCounts {
  return Object.fromEntries(JUNK_CATEGORIES.map((c) => [c, rate])) as CategoryCounts;
}

function options(overrides: Partial<GenerateOptions> = {}): GenerateOptions {
  return {
    people: 3000,
    subscriptions: 3600,
    rates: rates(0.03),
    terminatedRate: 0.02,
    seed: 1,
    asOf: '2026-01-01',
    outDir: tempDir(),
    format: 'csv',
    ...overrides,
  };
}

function readCsv(path: string, columns: readonly string[]): Row[] {
  const text = readFileSync(path, 'utf8');
  expect(text.split('\n', 1)[0]).toBe(columns.join(','));
  return parse(text, { columns: true, skip_empty_lines: true }) as Row[];
}

interface Registry {
  report: GenerateReport;
  population: Row[];
  subscriptions: (Row & { carrier: CarrierSlug })[];
}

async function generateAndRead(opts: GenerateOptions): Promise<Registry> {
  const { report } = await generateRegistry(opts);
  const population = readCsv(report.files.population, POPULATION_COLUMNS);
  const subscriptions = CARRIER_SLUGS.flatMap((carrier) => readCsv(report.files[carrier], SUBSCRIPTION_COLUMNS).map((r) => ({ ...r, carrier })));
  return { report, population, subscriptions };
}

/** ISO 8601 to epoch milliseconds; a time without offset is Vietnam time (issue 2). */
function instant(text: string): number {
  const withOffset = /(Z|[+-]\d{2}:\d{2})$/.test(text) ? text : `${text}+07:00`;
  const ms = Date.parse(withOffset);
  if (Number.isNaN(ms)) throw new Error(`not an ISO 8601 time: ${text}`);
  return ms;
}

/**
 * The five rules of issue 2, written plainly and in memory, independent of the generator:
 * returns the category of each non-terminated row (undefined: none), keyed by row.
 */
function reconcile(population: Row[], subscriptions: (Row & { carrier: CarrierSlug })[]): Map<Row, JunkCategory | undefined> {
  const people = new Map(population.map((p) => [p.personal_id, p]));
  const result = new Map<Row, JunkCategory | undefined>();
  const live = subscriptions.filter((s) => s.status !== 'terminated');
  for (const s of live) {
    const holder = people.get(s.holder_personal_id!);
    let category: JunkCategory | undefined;
    if (s.holder_personal_id === '') category = 'NO_HOLDER';
    else if (!holder) category = 'HOLDER_NOT_FOUND';
    else if (holder.status === 'deceased') category = 'HOLDER_DECEASED';
    else if (nameMatchKey(s.holder_full_name!, 2) !== nameMatchKey(holder.full_name!, 2) || s.holder_birth_date !== holder.birth_date) {
      category = 'HOLDER_DATA_MISMATCH';
    }
    result.set(s, category);
  }
  const byHolderAndCarrier = new Map<string, (Row & { carrier: CarrierSlug })[]>();
  for (const s of live) {
    if (s.holder_personal_id === '') continue;
    const key = `${s.carrier}/${s.holder_personal_id}`;
    byHolderAndCarrier.set(key, [...(byHolderAndCarrier.get(key) ?? []), s]);
  }
  for (const list of byHolderAndCarrier.values()) {
    list.sort((a, b) => instant(a.registered_at!) - instant(b.registered_at!) || (normaliseVietnameseMobile(a.msisdn!)! < normaliseVietnameseMobile(b.msisdn!)! ? -1 : 1));
    list.forEach((s, position) => {
      if (position >= 3 && s.channel === 'online' && result.get(s) === undefined) result.set(s, 'ONLINE_BEYOND_LIMIT');
    });
  }
  return result;
}

function countByCarrier(categories: Map<Row, JunkCategory | undefined>): Record<CarrierSlug, CategoryCounts> {
  const out = Object.fromEntries(CARRIER_SLUGS.map((c) => [c, rates(0)])) as Record<CarrierSlug, CategoryCounts>;
  for (const [row, category] of categories) if (category) out[(row as Row & { carrier: CarrierSlug }).carrier][category]++;
  return out;
}

describe('personal IDs and population (20,000 people)', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await generateAndRead(options({ people: 20_000, subscriptions: 24_000, rates: rates(0.02) }));
  });

  it('writes only valid personal IDs, consistent with birth year and sex, and unique', () => {
    const ids = new Set<string>();
    for (const p of registry.population) {
      expect(checkPersonalId(p.personal_id!, Number(p.birth_date!.slice(0, 4)), p.sex as 'M' | 'F'), p.personal_id).toBeUndefined();
      ids.add(p.personal_id!);
    }
    expect(ids.size).toBe(20_000);
    // Many provinces, not one.
    expect(new Set(registry.population.map((p) => p.personal_id!.slice(0, 3))).size).toBeGreaterThan(50);
  });

  it('writes NFC names with diacritics, real dates, and died_on only for the deceased, before as-of', () => {
    for (const p of registry.population) {
      expect(p.full_name).toBe(p.full_name!.normalize('NFC'));
      expect(p.full_name).toMatch(/^\p{L}+( \p{L}+){2,3}$/u);
      expect(isoDate(Date.parse(p.birth_date!) / 86_400_000)).toBe(p.birth_date);
      if (p.status === 'deceased') {
        expect(p.died_on! > p.birth_date!).toBe(true);
        expect(p.died_on! < '2026-01-01').toBe(true);
      } else {
        expect(p.status).toBe('alive');
        expect(p.died_on).toBe('');
      }
    }
    expect(registry.population.filter((p) => p.status === 'deceased').length).toBe(registry.report.deceased_people);
  });

  it('gives about 8 % minors, each with 1 or 2 guardians present in the file, adult and alive', () => {
    const byId = new Map(registry.population.map((p) => [p.personal_id, p]));
    const minors = registry.population.filter((p) => ageOn(p.birth_date!, '2026-01-01') < 16);
    expect(minors.length).toBe(registry.report.minors);
    expect(minors.length / 20_000).toBeGreaterThan(0.07);
    expect(minors.length / 20_000).toBeLessThan(0.09);
    let twoGuardians = 0;
    for (const p of registry.population) {
      const guardians = p.guardian_personal_ids === '' ? [] : p.guardian_personal_ids!.split(';');
      if (ageOn(p.birth_date!, '2026-01-01') >= 16) {
        expect(guardians).toEqual([]);
        expect(ageOn(p.birth_date!, '2026-01-01')).toBeGreaterThanOrEqual(18);
        expect(p.birth_date! >= '1940-01-01').toBe(true);
        continue;
      }
      expect(p.status).toBe('alive');
      expect(guardians.length === 1 || guardians.length === 2).toBe(true);
      if (guardians.length === 2) twoGuardians++;
      expect(new Set(guardians).size).toBe(guardians.length);
      for (const id of guardians) {
        const guardian = byId.get(id);
        expect(guardian, id).toBeDefined();
        expect(guardian!.status).toBe('alive');
        expect(ageOn(guardian!.birth_date!, '2026-01-01')).toBeGreaterThanOrEqual(18);
      }
      // The child takes the first guardian's (the father's) family name.
      expect(p.full_name!.split(' ')[0]).toBe(byId.get(guardians[0]!)!.full_name!.split(' ')[0]);
    }
    expect(twoGuardians).toBeGreaterThan(minors.length / 2);
  });

  it('gives every subscription a valid, unique mobile number, written in the three shapes', () => {
    const numbers = new Set<string>();
    const shapes = { zero: 0, bare84: 0, plus84: 0 };
    for (const s of registry.subscriptions) {
      const e164 = normaliseVietnameseMobile(s.msisdn!);
      expect(e164, s.msisdn).toBeDefined();
      numbers.add(e164!);
      if (s.msisdn!.startsWith('+84')) shapes.plus84++;
      else if (s.msisdn!.startsWith('84')) shapes.bare84++;
      else shapes.zero++;
    }
    expect(numbers.size).toBe(24_000);
    expect(shapes.zero).toBeGreaterThan(shapes.plus84);
    expect(shapes.bare84).toBeGreaterThan(1000);
    expect(shapes.plus84).toBeGreaterThan(1000);
  });

  it('writes registration and change times as ISO 8601, mostly +07:00, before as-of, and valid enums', () => {
    const shapes = { offset: 0, local: 0, utc: 0 };
    const asOf = instant('2026-01-01T00:00:00+07:00');
    for (const s of registry.subscriptions) {
      const at = s.registered_at!;
      if (at.endsWith('+07:00')) shapes.offset++;
      else if (at.endsWith('Z')) shapes.utc++;
      else shapes.local++;
      expect(at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\+07:00|Z)?$/);
      expect(instant(at)).toBeLessThan(asOf);
      expect(instant(at)).toBeGreaterThanOrEqual(instant('2010-01-01T00:00:00+07:00'));
      for (const t of [s.sim_changed_at!, s.device_changed_at!]) if (t !== '') expect(instant(t)).toBeGreaterThanOrEqual(instant(at));
      expect(['store', 'online', 'video', 'vneid']).toContain(s.channel);
      expect(['active', 'blocked_outgoing', 'blocked_both', 'terminated']).toContain(s.status);
    }
    expect(shapes.offset / 24_000).toBeGreaterThan(0.7);
    expect(shapes.local).toBeGreaterThan(0);
    expect(shapes.utc).toBeGreaterThan(0);
  });

  it('gives no subscription to a minor, and every found holder was at least 16 when registering', () => {
    const byId = new Map(registry.population.map((p) => [p.personal_id, p]));
    for (const s of registry.subscriptions) {
      const holder = byId.get(s.holder_personal_id!);
      if (!holder) continue;
      expect(ageOn(holder.birth_date!, '2026-01-01')).toBeGreaterThanOrEqual(18);
      const registeredLocalDate = isoTime(Math.floor(instant(s.registered_at!) / 1000) + 7 * 3600, 'local').slice(0, 10);
      expect(ageOn(holder.birth_date!, registeredLocalDate)).toBeGreaterThanOrEqual(16);
      if (holder.status === 'deceased' && s.status !== 'terminated') expect(registeredLocalDate < holder.died_on!).toBe(true);
    }
  });
});

describe('planted junk (3,000 people, 3,600 subscriptions, junk rate 0.03)', () => {
  let registry: Registry;
  let categories: Map<Row, JunkCategory | undefined>;
  beforeAll(async () => {
    registry = await generateAndRead(options());
    categories = reconcile(registry.population, registry.subscriptions);
  });

  it('plants round(rate x M) of each category, as reported', () => {
    for (const c of JUNK_CATEGORIES) expect(registry.report.planted[c]).toBe(Math.round(0.03 * 3600));
    expect(registry.report.terminated).toBe(Math.round(0.02 * 3600));
    expect(registry.subscriptions.filter((s) => s.status === 'terminated').length).toBe(registry.report.terminated);
    expect(registry.subscriptions.length).toBe(3600);
    expect(registry.population.length).toBe(3000);
  });

  it('is found exactly, per carrier and category, by an independent implementation of the rules', () => {
    const found = countByCarrier(categories);
    expect(found).toEqual(registry.report.by_carrier);
    for (const c of JUNK_CATEGORIES) {
      expect(CARRIER_SLUGS.reduce((sum, carrier) => sum + found[carrier][c], 0)).toBe(registry.report.planted[c]);
    }
  });

  it('writes normal rows whose names differ in shape but still match (upper case, no diacritics, spaces, NFD)', () => {
    const byId = new Map(registry.population.map((p) => [p.personal_id, p]));
    const reshaped = [...categories].filter(([s, c]) => c === undefined && byId.has(s.holder_personal_id!) && s.holder_full_name !== byId.get(s.holder_personal_id!)!.full_name);
    expect(reshaped.length).toBeGreaterThan(200);
    const names = reshaped.map(([s]) => s.holder_full_name!);
    expect(names.some((n) => /^[A-Z ]+$/.test(n))).toBe(true);
    expect(names.some((n) => n.includes('  '))).toBe(true);
    expect(names.some((n) => n !== n.normalize('NFC'))).toBe(true);
  });

  it('plants realistic mismatches: another given name, or a birth date off by days or a year', () => {
    const byId = new Map(registry.population.map((p) => [p.personal_id, p]));
    const mismatches = [...categories].filter(([, c]) => c === 'HOLDER_DATA_MISMATCH').map(([s]) => [s, byId.get(s.holder_personal_id!)!] as const);
    const nameOnly = mismatches.filter(([s, p]) => s.holder_birth_date === p.birth_date);
    const dateOnly = mismatches.filter(([s, p]) => nameMatchKey(s.holder_full_name!, 2) === nameMatchKey(p.full_name!, 2));
    expect(nameOnly.length).toBeGreaterThan(10);
    expect(dateOnly.length).toBeGreaterThan(10);
    const yearOff = dateOnly.filter(([s, p]) => s.holder_birth_date!.slice(4) === p.birth_date!.slice(4));
    expect(yearOff.length).toBeGreaterThan(3);
    // Family name and middle names kept, only the given name differs.
    expect(nameOnly.some(([s, p]) => nameMatchKey(s.holder_full_name!, 2).split(' ').slice(0, -1).join(' ') === nameMatchKey(p.full_name!, 2).split(' ').slice(0, -1).join(' '))).toBe(true);
  });

  it('exercises the tie-break: some holders have subscriptions at one carrier registered at the same instant, written differently', () => {
    const groups = new Map<string, Row[]>();
    for (const s of registry.subscriptions) {
      if (s.status === 'terminated' || s.holder_personal_id === '') continue;
      const key = `${s.carrier}/${s.holder_personal_id}/${instant(s.registered_at!)}`;
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    const ties = [...groups.values()].filter((g) => g.length === 4);
    expect(ties.length).toBe(Math.ceil(registry.report.planted.ONLINE_BEYOND_LIMIT / TIE_GROUP_EVERY));
    for (const tie of ties) {
      expect(new Set(tie.map((s) => s.registered_at)).size).toBeGreaterThan(1);
      const flagged = tie.filter((s) => categories.get(s) === 'ONLINE_BEYOND_LIMIT');
      expect(flagged.length).toBe(1);
      const largest = tie.map((s) => normaliseVietnameseMobile(s.msisdn!)!).sort().at(-1);
      expect(normaliseVietnameseMobile(flagged[0]!.msisdn!)).toBe(largest);
    }
  });

  it('plants decoys that must count as nothing: a 4th in a store, a terminated earlier one, two carriers', () => {
    const holders = new Map<string, (Row & { carrier: CarrierSlug })[]>();
    for (const s of registry.subscriptions) {
      if (s.holder_personal_id === '') continue;
      holders.set(s.holder_personal_id!, [...(holders.get(s.holder_personal_id!) ?? []), s]);
    }
    let storeFourth = 0;
    let terminatedEarlier = 0;
    let twoCarriers = 0;
    for (const subs of holders.values()) {
      if (subs.length !== 4 || subs.some((s) => categories.get(s) !== undefined)) continue;
      const carriers = new Set(subs.map((s) => s.carrier));
      const live = subs.filter((s) => s.status !== 'terminated');
      if (carriers.size === 2 && subs.every((s) => s.channel === 'online')) twoCarriers++;
      if (carriers.size === 1 && live.length === 3 && subs.every((s) => s.channel === 'online')) terminatedEarlier++;
      if (carriers.size === 1 && live.length === 4) {
        const last = [...live].sort((a, b) => instant(a.registered_at!) - instant(b.registered_at!)).at(-1)!;
        if (last.channel !== 'online' && live.filter((s) => s.channel === 'online').length === 3) storeFourth++;
      }
    }
    expect(storeFourth).toBeGreaterThan(0);
    expect(terminatedEarlier).toBeGreaterThan(0);
    expect(twoCarriers).toBeGreaterThan(0);
  });

  it('gives each normal holder at most 2 normal subscriptions, and holders of junk their own people', () => {
    const count = new Map<string, number>();
    for (const [s, c] of categories) {
      if (c !== undefined || s.holder_personal_id === '') continue;
      count.set(s.holder_personal_id!, (count.get(s.holder_personal_id!) ?? 0) + 1);
    }
    const overTwo = [...count.values()].filter((n) => n > 2).length;
    // Only the holders of ONLINE_BEYOND_LIMIT groups (3 normal rows each) and of decoy groups hold more.
    const groups = registry.report.planted.ONLINE_BEYOND_LIMIT + Math.ceil(registry.report.planted.ONLINE_BEYOND_LIMIT / 3);
    expect(overTwo).toBe(groups);
  });

  it('reports the same planted counts on every run of the same seed', async () => {
    const again = await generateRegistry(options());
    expect(again.report.by_carrier).toEqual(registry.report.by_carrier);
    expect(again.report.planted).toEqual(registry.report.planted);
  });
});

describe('determinism and formats', () => {
  const files = (report: GenerateReport) => [report.files.population, ...CARRIER_SLUGS.map((c) => report.files[c])].map((p) => readFileSync(p));

  it('writes byte-identical files for the same seed, and different files for another seed', async () => {
    const small = { people: 1500, subscriptions: 1800 };
    const a = await generateRegistry(options(small));
    const b = await generateRegistry(options(small));
    const c = await generateRegistry(options({ ...small, seed: 2 }));
    const fa = files(a.report);
    const fb = files(b.report);
    const fc = files(c.report);
    fa.forEach((buf, i) => expect(buf.equals(fb[i]!)).toBe(true));
    fa.forEach((buf, i) => expect(buf.equals(fc[i]!)).toBe(false));
  });

  it('depends on --as-of: the minors are those under 16 on that day', async () => {
    const { report, population } = await generateAndRead(options({ people: 2000, subscriptions: 2000, asOf: '2030-06-15' }));
    const minors = population.filter((p) => ageOn(p.birth_date!, '2030-06-15') < 16);
    expect(minors.length).toBe(report.minors);
    expect(minors.every((m) => m.birth_date! > '2014-06-15' && m.birth_date! < '2030-06-15')).toBe(true);
    expect(population.every((p) => p.guardian_personal_ids === '' || ageOn(p.birth_date!, '2030-06-15') < 16)).toBe(true);
  });

  it('writes the same rows as NDJSON, with null for absent values', async () => {
    const small = { people: 800, subscriptions: 900 };
    const csv = await generateAndRead(options(small));
    const nd = await generateRegistry(options({ ...small, format: 'ndjson' }));
    expect(nd.report.files.population.endsWith('population.ndjson')).toBe(true);
    const readNd = (path: string) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, string | null>);
    const pop = readNd(nd.report.files.population);
    expect(Object.keys(pop[0]!)).toEqual([...POPULATION_COLUMNS]);
    expect(pop.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ?? ''])))).toEqual(csv.population);
    expect(pop.some((r) => r.died_on === null)).toBe(true);
    const subs = CARRIER_SLUGS.flatMap((c) => readNd(nd.report.files[c]).map((r) => ({ ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ?? ''])), carrier: c })));
    expect(subs).toEqual(csv.subscriptions);
  });

  it('quotes CSV fields only where RFC 4180 needs it', () => {
    expect(csvField('Nguyễn Văn An')).toBe('Nguyễn Văn An');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('')).toBe('');
  });
});

describe('rates', () => {
  it('plants nothing at rates of 0, and writes no terminated rows at a terminated rate of 0', async () => {
    const { report, population, subscriptions } = await generateAndRead(options({ rates: rates(0), terminatedRate: 0 }));
    expect(report.planted).toEqual(rates(0));
    expect(report.terminated).toBe(0);
    for (const c of CARRIER_SLUGS) expect(report.by_carrier[c]).toEqual(rates(0));
    const found = countByCarrier(reconcile(population, subscriptions));
    for (const c of CARRIER_SLUGS) expect(found[c]).toEqual(rates(0));
    expect(subscriptions.some((s) => s.status === 'terminated')).toBe(false);
  });

  it('plants one category alone when only its rate is set', async () => {
    const only = { ...rates(0), HOLDER_DECEASED: 0.05 };
    const { report, population, subscriptions } = await generateAndRead(options({ rates: only }));
    expect(report.planted).toEqual({ ...rates(0), HOLDER_DECEASED: 180 });
    expect(countByCarrier(reconcile(population, subscriptions))).toEqual(report.by_carrier);
  });

  it('uses round(rate x M)', () => {
    const plan = planRegistry({ people: 1000, subscriptions: 1000, rates: { ...rates(0), NO_HOLDER: 0.0125, HOLDER_NOT_FOUND: 0.0124 }, terminatedRate: 0.0015, seed: 1, asOf: '2026-01-01' });
    expect(plan.counts.planted.NO_HOLDER).toBe(13);
    expect(plan.counts.planted.HOLDER_NOT_FOUND).toBe(12);
    expect(plan.counts.terminated).toBe(2);
  });

  it('refuses impossible requests with a GenerateArgumentError', () => {
    const base = { people: 1000, subscriptions: 1200, rates: rates(0.02), terminatedRate: 0.02, seed: 1, asOf: '2026-01-01' };
    expect(() => planRegistry({ ...base, people: 100 })).toThrow(/not enough people/);
    expect(() => planRegistry({ ...base, rates: rates(0.2) })).toThrow(/more than the 1200 requested/);
    expect(() => planRegistry({ ...base, rates: { ...rates(0), NO_HOLDER: 1.5 } })).toThrow(GenerateArgumentError);
    expect(() => planRegistry({ ...base, terminatedRate: -0.1 })).toThrow(GenerateArgumentError);
    expect(() => planRegistry({ ...base, asOf: '2026-02-30' })).toThrow(GenerateArgumentError);
    expect(() => planRegistry({ ...base, asOf: '1999-01-01' })).toThrow(GenerateArgumentError);
    expect(() => planRegistry({ ...base, people: 0 })).toThrow(GenerateArgumentError);
    expect(() => planRegistry({ ...base, people: 1.5 })).toThrow(GenerateArgumentError);
    expect(() => planRegistry({ ...base, seed: 2 ** 32 })).toThrow(GenerateArgumentError);
    expect(() => planRegistry({ ...base, subscriptions: 40_000_000 })).toThrow(/number space/);
  });

  it('still works at the edges: one person and no subscriptions', async () => {
    const { report, population, subscriptions } = await generateAndRead(options({ people: 1, subscriptions: 0 }));
    expect(population.length).toBe(1);
    expect(subscriptions.length).toBe(0);
    expect(report.minors).toBe(0);
  });
});

describe('file modes', () => {
  it('writes every file owner-only (0600), also over an existing 0644 file, whatever the umask', async () => {
    // Synthetic, but a plaintext registry of the shape real data has (valid personal ID numbers,
    // names, real prefixes; a generated ID may be a real person's): the demo already kept its copy
    // 0600 by chmod after the generator (src/demo/demo-seed.ts); files of `idbind generate` were 0644.
    const dir = tempDir();
    const old = join(dir, 'population.csv');
    writeFileSync(old, 'stale\n');
    chmodSync(old, 0o644);
    const fresh = join(dir, 'new-dir');
    const previous = process.umask(0o022);
    try {
      for (const outDir of [dir, fresh]) {
        const { report } = await generateRegistry(options({ people: 200, subscriptions: 200, rates: rates(0.01), outDir }));
        for (const file of Object.values(report.files)) expect((statSync(file).mode & 0o777).toString(8), file).toBe('600');
      }
      expect((statSync(fresh).mode & 0o777).toString(8)).toBe('700');
    } finally {
      process.umask(previous);
    }
  });
});

describe('calendar helpers', () => {
  it('format dates and times like Date does, and shift 29 February to the 28th', () => {
    for (let day = -11_000; day < 120_000; day += 37) expect(isoDate(day)).toBe(new Date(day * 86_400_000).toISOString().slice(0, 10));
    for (let s = -3e8; s < 4e9; s += 999_983) {
      expect(isoTime(s, 'local')).toBe(new Date(s * 1000).toISOString().slice(0, 19));
      expect(isoTime(s, 'offset')).toBe(`${new Date(s * 1000).toISOString().slice(0, 19)}+07:00`);
      expect(instant(isoTime(s, 'utc'))).toBe(instant(isoTime(s, 'offset')));
    }
    expect(isoDate(shiftYears(Date.UTC(2028, 1, 29) / 86_400_000, -18))).toBe('2010-02-28');
    expect(isoDate(shiftYears(Date.UTC(2028, 1, 29) / 86_400_000, -16))).toBe('2012-02-29');
  });
});
