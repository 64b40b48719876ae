/**
 * `idbind import population FILE`, `idbind import subscriptions --carrier NAME FILE` and
 * `idbind import subscription-events --carrier NAME FILE` (issue 2). Exit status 0 when every
 * row was taken, 3 when some were rejected, 1 on failure; `--json` prints the summary.
 */
import { parseArgs } from 'node:util';
import { mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { openHub } from '../hub.ts';
import { importRegistry, type ImportProgress, type ImportSummary } from '../registry/import/import-service.ts';
import { defaultRejectsPath } from '../registry/import/import-runs.ts';
import { applySubscriptionEvents } from '../registry/subscription-events.ts';
import { createProgressBar, formatCount } from './progress.ts';
import { EXIT_OK, EXIT_PARTIAL, UsageError, type Command } from './command.ts';

const HELP = `Usage:
  idbind import population FILE [options]
  idbind import subscriptions --carrier NAME FILE [options]
  idbind import subscription-events --carrier NAME FILE [options]

Streams a registry file into the hub: CSV with a header row (FILE ends in .csv) or NDJSON with the
same field names (FILE ends in .ndjson; delta files are NDJSON only). Every personal field is sealed
and blind-indexed before it reaches the database. Bad rows never abort the import: each is written
to the rejects file as "line,field,code" (never a value). Importing the same file again changes
nothing; an interrupted import run again with the same file resumes after its last committed batch.

Options:
  --carrier NAME     the carrier's slug (lowercase letters, digits, '-'); created on first use
  --rejects FILE     where to write the rejects, mode 0600, replacing any file there (default:
                     DATA_DIR/rejects/population.<file name>.rejects.csv, or
                     DATA_DIR/rejects/<subscriptions|subscription-events>.<carrier>.<file name>.rejects.csv)
  --correct-deaths   population only: let rows record as alive people stored as deceased (a
                     corrected death). Without it such a row is rejected (DECEASED_IN_REGISTRY):
                     an older file imported again must not bring anyone back. An interrupted
                     run resumes only with the same setting; with the other, the file starts over
  --json             print {"accepted","unchanged","rejected","rejects_file",...} on stdout
  -h, --help         this help

Exit status: 0 every row taken, 3 some rows rejected, 1 failure, 2 usage error.
Formats: docs/formats.md.`;

/** What is at `path`, or undefined when nothing is (a path under a file is nothing, too). */
function statIfAny(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Refuses, before anything is imported, a rejects path the rejects cannot be written to: they are
 * written at the end of the run, so a directory there (or a path under a file) used to be found
 * out only after every row was committed, as an unexpected failure, exit 1. And the input file
 * itself: it would be replaced by the rejects. A device (/dev/stdout) is written as it is.
 */
function checkRejectsPath(rejectsPath: string, inputPath: string): void {
  const existing = statIfAny(rejectsPath);
  if (existing?.isDirectory()) throw new UsageError(`--rejects: ${rejectsPath} is a directory; name the rejects file`);
  const input = statIfAny(inputPath);
  if (existing && input && existing.dev === input.dev && existing.ino === input.ino) {
    throw new UsageError('--rejects names the input file, which the rejects would replace; name another file');
  }
  try {
    mkdirSync(dirname(rejectsPath), { recursive: true });
  } catch {
    throw new UsageError(`--rejects: the directory of ${rejectsPath} cannot be created`);
  }
}

export const importCommand: Command = {
  name: 'import',
  help: HELP,
  async run(args, ctx) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { carrier: { type: 'string' }, rejects: { type: 'string' }, 'correct-deaths': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      ctx.stdout.write(HELP + '\n');
      return EXIT_OK;
    }
    const [what, file, ...rest] = positionals;
    if (!what || !['population', 'subscriptions', 'subscription-events'].includes(what)) {
      throw new UsageError('say what to import: population, subscriptions or subscription-events');
    }
    if (!file || rest.length > 0) throw new UsageError('give exactly one FILE');
    if (what !== 'population' && !values.carrier) throw new UsageError(`import ${what} needs --carrier NAME`);
    if (what === 'population' && values.carrier) throw new UsageError('--carrier goes with subscriptions and subscription-events only');
    if (what !== 'population' && values['correct-deaths']) throw new UsageError('--correct-deaths goes with population only');
    if (values.carrier !== undefined && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(values.carrier)) {
      throw new UsageError('--carrier must be a slug: lowercase letters, digits and -, at most 32 characters');
    }
    const path = resolve(ctx.cwd, file);
    const hub = await openHub({ mode: 'production', env: ctx.env, cwd: ctx.cwd, log: (m) => ctx.stderr.write(`warning: ${m}\n`) });
    const bar = createProgressBar(ctx.stderr, `import ${what}`);
    const onProgress = (p: ImportProgress) =>
      bar.update(p.bytes, p.totalBytes, `${formatCount(p.rowsRead)} rows, ${formatCount(p.rejected)} rejected`);
    let summary: ImportSummary;
    try {
      const ring = await hub.ring();
      const kind = what === 'subscription-events' ? 'subscription_events' : what === 'population' ? 'population' : 'subscriptions';
      const rejectsPath = values.rejects ? resolve(ctx.cwd, values.rejects) : defaultRejectsPath(hub.config.dataDir, { kind, carrier: values.carrier }, path);
      checkRejectsPath(rejectsPath, path);
      summary = what === 'subscription-events'
        ? await applySubscriptionEvents({
          pool: hub.pool, ring, carrier: values.carrier!, path, rejectsPath, onProgress, simChangeWindowHours: hub.config.verification.simChangeWindowHours,
        })
        : await importRegistry({
          pool: hub.pool, ring, kind: what === 'population' ? 'population' : 'subscriptions', carrier: values.carrier, path, rejectsPath,
          workers: hub.config.workers, chunkBytes: hub.config.importChunkBytes, onProgress, correctDeaths: values['correct-deaths'] === true,
          simChangeWindowHours: hub.config.verification.simChangeWindowHours,
        });
    } finally {
      bar.finish();
      await hub.close();
    }
    if (values.json) ctx.stdout.write(JSON.stringify(summary) + '\n');
    else {
      ctx.stdout.write(
        `${formatCount(summary.accepted)} accepted, ${formatCount(summary.unchanged)} unchanged, ${formatCount(summary.rejected)} rejected` +
          (summary.resumed_after_line > 0 ? ` (resumed after line ${summary.resumed_after_line})` : '') +
          (summary.rejected > 0 ? `\nrejects: ${summary.rejects_file}` : '') + '\n',
      );
    }
    return summary.rejected > 0 ? EXIT_PARTIAL : EXIT_OK;
  },
};
