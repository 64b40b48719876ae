/**
 * Arguments of `npm run bench` (bench/run.ts): which registry sizes and which PostgreSQL servers
 * to measure. Kept apart from run.ts so that the parsing is tested without starting anything.
 */
import { parseArgs } from 'node:util';

/** Subscriptions per person in the issue 2 benchmark sizes (1 M people: 1.2 M subscriptions). */
export const SUBSCRIPTIONS_PER_PERSON = 1.2;

export type PgKind = 'embedded' | 'system';
export const PG_KINDS: readonly PgKind[] = ['embedded', 'system'];

export interface BenchSize {
  /** As given on the command line, lower case: `1m`, `100k`, `250000`. */
  readonly label: string;
  readonly people: number;
  readonly subscriptions: number;
}

export interface BenchArgs {
  readonly sizes: readonly BenchSize[];
  readonly pg: readonly PgKind[];
  readonly quick: boolean;
  /** Where the JSON result goes (relative to the working directory). */
  readonly out: string;
  readonly help: boolean;
}

export const DEFAULT_SIZES = '1m,4m';
export const QUICK_SIZES = '100k';
export const DEFAULT_OUT = '.tmp/bench-result.json';

export const BENCH_HELP = `Usage: npm run bench -- [--sizes LIST] [--pg LIST] [--quick] [--out FILE]

Generates synthetic registries under /tmp, then for each PostgreSQL and each size: the baseline
(plain COPY of the same CSV rows, unencrypted, same indexes), the idbind import (population, then
every carrier file; one child process per file), and a reconciliation. Prints a table and writes
the figures as JSON. Generated files and database clusters are deleted at the end.

Options:
  --sizes LIST   people per registry, comma-separated, with k or m (default ${DEFAULT_SIZES});
                 each size gets ${SUBSCRIPTIONS_PER_PERSON} subscriptions per person
  --pg LIST      embedded (the embedded PostgreSQL 18), system (/usr/lib/postgresql/15, started
                 in a temporary directory); default embedded,system
  --quick        a smoke run: --sizes ${QUICK_SIZES} unless --sizes is given
  --out FILE     the JSON result (default ${DEFAULT_OUT})
  -h, --help     this help`;

export class BenchArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchArgsError';
  }
}

/** `1m` → 1,000,000 people and 1,200,000 subscriptions; `100k`, `250000` likewise. */
export function parseSize(raw: string): BenchSize {
  const label = raw.trim().toLowerCase();
  const m = /^(\d+(?:\.\d+)?)([km]?)$/.exec(label);
  if (!m) throw new BenchArgsError(`a size is a number of people with an optional k or m, such as 1m or 100k; got '${raw}'`);
  const people = Math.round(Number(m[1]) * (m[2] === 'm' ? 1_000_000 : m[2] === 'k' ? 1_000 : 1));
  if (!Number.isSafeInteger(people) || people < 1_000) throw new BenchArgsError(`a size needs at least 1000 people; got '${raw}'`);
  if (people > 60_000_000) throw new BenchArgsError(`the generator stops at 60 million people; got '${raw}'`);
  return { label, people, subscriptions: Math.round(people * SUBSCRIPTIONS_PER_PERSON) };
}

function list(raw: string, what: string): string[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new BenchArgsError(`--${what} needs at least one value`);
  const dup = items.find((s, i) => items.indexOf(s) !== i);
  if (dup !== undefined) throw new BenchArgsError(`--${what} names '${dup}' twice`);
  return items;
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      options: {
        sizes: { type: 'string' },
        pg: { type: 'string' },
        quick: { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new BenchArgsError((e as Error).message);
  }
  const quick = values.quick ?? false;
  const sizes = list(values.sizes ?? (quick ? QUICK_SIZES : DEFAULT_SIZES), 'sizes').map(parseSize);
  // Ratios compare the smallest size with the largest: keep them in increasing order.
  sizes.sort((a, b) => a.people - b.people);
  const same = sizes.find((s, i) => i > 0 && s.people === sizes[i - 1]!.people);
  if (same) throw new BenchArgsError(`--sizes names ${same.people} people twice`);
  const pg = list(values.pg ?? PG_KINDS.join(','), 'pg').map((p) => {
    if (!(PG_KINDS as readonly string[]).includes(p)) throw new BenchArgsError(`--pg takes embedded and/or system; got '${p}'`);
    return p as PgKind;
  });
  if (values.out === '') throw new BenchArgsError('--out needs a file name');
  return { sizes, pg, quick, out: values.out ?? DEFAULT_OUT, help: values.help ?? false };
}
