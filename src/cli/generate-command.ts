/**
 * `idbind generate`: writes a synthetic population and carrier registry with junk subscriptions
 * planted at known rates (issue 2, "idbind generate"; DESIGN.md "Synthetic data only"). Thin: it
 * parses arguments and calls src/registry/generator/generate-registry.ts, which says what is
 * planted and how. Deterministic for a given --seed and --as-of; it never reads the clock for data
 * (only to refuse an --as-of after today, whose files the import would reject).
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { EXIT_OK, UsageError, type Command, type CommandContext } from './command.ts';
import { createProgressBar, formatCount } from './progress.ts';
import { CARRIER_SLUGS } from '../registry/generator/carrier-prefixes.ts';
import { vietnamToday } from '../registry/registry-rows.ts';
import {
  DEFAULT_AS_OF,
  DEFAULT_JUNK_RATE,
  DEFAULT_SEED,
  DEFAULT_TERMINATED_RATE,
  GenerateArgumentError,
  JUNK_CATEGORIES,
  generateRegistry,
  type CategoryCounts,
  type JunkCategory,
  type OutputFormat,
} from '../registry/generator/generate-registry.ts';

/** The per-category rate options, in report order. */
const CATEGORY_OPTIONS: Readonly<Record<JunkCategory, string>> = {
  NO_HOLDER: 'no-holder-rate',
  HOLDER_NOT_FOUND: 'holder-not-found-rate',
  HOLDER_DATA_MISMATCH: 'holder-data-mismatch-rate',
  HOLDER_DECEASED: 'holder-deceased-rate',
  ONLINE_BEYOND_LIMIT: 'online-beyond-limit-rate',
};

const HELP = `Usage: idbind generate --people N --subscriptions M --out DIR [options]

Writes a synthetic population registry and one subscriber registry per carrier, with junk
subscriptions planted at known rates, for imports, reconciliation and benchmarks. The data is
synthetic: valid 12-digit personal ID numbers, Vietnamese names, carriers' real mobile prefixes.

Files (in DIR): population.csv and viettel.csv, vinaphone.csv, mobifone.csv, vietnamobile.csv
(.ndjson with --format ndjson), in the formats 'idbind import' reads.

Options:
  --people N                        people in the population (required)
  --subscriptions M                 subscriptions across all carriers (required)
  --out DIR                         output directory, created if missing (required)
  --junk-rate R                     rate of each junk category, a fraction of M (default ${DEFAULT_JUNK_RATE})
  --no-holder-rate R                NO_HOLDER: no holder ID
  --holder-not-found-rate R         HOLDER_NOT_FOUND: holder ID not in the population
  --holder-data-mismatch-rate R     HOLDER_DATA_MISMATCH: holder name or birth date differ
  --holder-deceased-rate R          HOLDER_DECEASED: holder deceased
  --online-beyond-limit-rate R      ONLINE_BEYOND_LIMIT: 4th or later subscription at a carrier, online
                                    (each case takes 4 subscriptions of one holder)
  --terminated-rate R               terminated subscriptions (default ${DEFAULT_TERMINATED_RATE}; never junk)
  --seed S                          seed, an integer from 0 to 4294967295 (default ${DEFAULT_SEED})
  --as-of YYYY-MM-DD                the date the registry describes, at the latest today (default
                                    ${DEFAULT_AS_OF})
  --format csv|ndjson               file format (default csv)
  --json                            print what was planted as one JSON object
  -h, --help                        this help

A per-category rate overrides --junk-rate. Each category gets round(rate x M) subscriptions;
a reconciliation of the imported files finds exactly these counts.

Example:
  idbind generate --people 1000000 --subscriptions 1200000 --junk-rate 0.03 --out ./registry --json
`;

function integer(name: string, raw: string | undefined, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new UsageError(`--${name} must be a non-negative integer, got '${raw}'`);
  return Number(raw);
}

function rate(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(raw) || !(value >= 0 && value <= 1)) {
    throw new UsageError(`--${name} must be a fraction from 0 to 1, got '${raw}'`);
  }
  return value;
}

function summary(report: {
  people: number;
  subscriptions: number;
  seed: number;
  planted: CategoryCounts;
  terminated: number;
  minors: number;
  deceased_people: number;
}, asOf: string, outDir: string, rows: Readonly<Record<string, number>>): string {
  const lines = [
    `Generated ${formatCount(report.people)} people and ${formatCount(report.subscriptions)} subscriptions in ${outDir} (seed ${report.seed}, as of ${asOf})`,
    `  people: ${formatCount(report.minors)} minors, ${formatCount(report.deceased_people)} deceased`,
    `  subscriptions: ${CARRIER_SLUGS.map((c) => `${c} ${formatCount(rows[c] ?? 0)}`).join(', ')}; ${formatCount(report.terminated)} terminated`,
    `  planted junk: ${JUNK_CATEGORIES.map((c) => `${c} ${formatCount(report.planted[c])}`).join(', ')}`,
  ];
  return `${lines.join('\n')}\n`;
}

export const generateCommand: Command = {
  name: 'generate',
  help: HELP,
  async run(args: string[], ctx: CommandContext): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        strict: true,
        allowPositionals: false,
        options: {
          people: { type: 'string' },
          subscriptions: { type: 'string' },
          out: { type: 'string' },
          'junk-rate': { type: 'string' },
          'no-holder-rate': { type: 'string' },
          'holder-not-found-rate': { type: 'string' },
          'holder-data-mismatch-rate': { type: 'string' },
          'holder-deceased-rate': { type: 'string' },
          'online-beyond-limit-rate': { type: 'string' },
          'terminated-rate': { type: 'string' },
          seed: { type: 'string' },
          'as-of': { type: 'string' },
          format: { type: 'string' },
          json: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
      });
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    const v = parsed.values;
    if (v.help) {
      ctx.stdout.write(HELP);
      return EXIT_OK;
    }

    const people = integer('people', v.people);
    const subscriptions = integer('subscriptions', v.subscriptions);
    if (v.out === undefined || v.out === '') throw new UsageError('--out is required');
    const junkRate = rate('junk-rate', v['junk-rate'], DEFAULT_JUNK_RATE);
    const rates = {} as CategoryCounts;
    for (const category of JUNK_CATEGORIES) {
      const option = CATEGORY_OPTIONS[category];
      rates[category] = rate(option, v[option as keyof typeof v] as string | undefined, junkRate);
    }
    const terminatedRate = rate('terminated-rate', v['terminated-rate'], DEFAULT_TERMINATED_RATE);
    const seed = integer('seed', v.seed, DEFAULT_SEED);
    const asOf = v['as-of'] ?? DEFAULT_AS_OF;
    // Its people are born and its numbers registered up to that day, and the import refuses birth
    // dates after today and registry times more than a day ahead of the clock (docs/formats.md):
    // the files of a later day were rejected by the hundred, and "a reconciliation of the
    // imported files finds exactly these counts" did not hold.
    const today = vietnamToday();
    if (/^\d{4}-\d{2}-\d{2}$/.test(asOf) && asOf > today) {
      throw new UsageError(`--as-of ${asOf} is after today (${today}, Vietnam time): the import refuses birth dates and registry times in the future`);
    }
    const format = v.format ?? 'csv';
    if (format !== 'csv' && format !== 'ndjson') throw new UsageError(`--format must be csv or ndjson, got '${format}'`);
    const outDir = resolve(ctx.cwd, v.out);

    const bar = createProgressBar(ctx.stderr, 'generate');
    let result;
    try {
      result = await generateRegistry({
        people,
        subscriptions,
        rates,
        terminatedRate,
        seed,
        asOf,
        outDir,
        format: format as OutputFormat,
        onProgress: ctx.stderr.isTTY
          ? (p) => bar.update(p.done, p.total, `${p.phase} ${formatCount(p.done)}/${formatCount(p.total)}`)
          : undefined,
      });
    } catch (e) {
      if (e instanceof GenerateArgumentError) throw new UsageError(e.message);
      throw e;
    } finally {
      bar.finish();
    }

    if (v.json) ctx.stdout.write(`${JSON.stringify(result.report)}\n`);
    else ctx.stdout.write(summary(result.report, asOf, outDir, result.rowsByCarrier));
    return EXIT_OK;
  },
};
