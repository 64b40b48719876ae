/**
 * `idbind reconcile [--json] [--out DIR] [--keep-runs N]` (issue 2): one junk-SIM reconciliation
 * run; `idbind reconcile prune --keep-runs N`: retention of older runs' results (migration 0025).
 */
import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { openHub } from '../hub.ts';
import { pruneReconciliationResults, startReconciliation, writeActionLists, type PrunedRun, type RunStep } from '../registry/reconciliation/reconciliation-service.ts';
import { CATEGORIES } from '../registry/reconciliation/categories.ts';
import { RegistryError } from '../registry/registry-errors.ts';
import { formatCount } from './progress.ts';
import { EXIT_OK, UsageError, type Command, type CommandContext } from './command.ts';

/** What each step does, for the progress lines on a terminal. */
const STEP_TEXT: Record<RunStep['code'], string> = {
  reindexing: 'bringing blind indexes up to date',
  classifying: 'classifying every live subscription (holders with more than three at a carrier, one online, ranked by registration time)',
  settling_ties: 'settling registration-time ties at the online limit',
  comparing: 'comparing with the previous run',
};

const HELP = `Usage: idbind reconcile [--json] [--out DIR] [--keep-runs N]
       idbind reconcile prune --keep-runs N [--dry-run] [--json]

Classifies every non-terminated subscription into at most one junk-SIM category, the first that
applies: NO_HOLDER, HOLDER_NOT_FOUND, HOLDER_DECEASED, HOLDER_DATA_MISMATCH, ONLINE_BEYOND_LIMIT,
and compares the result with the previous completed run. On a terminal, each of its four steps is
shown on stderr as it starts, with the time the run has taken so far.

Options:
  --json          print {"run_id","subscriptions","categories","by_carrier","compared_to_previous"}
                  (and "action_lists", {"<carrier>": "<file>"}, with --out; "pruned_runs" when
                  retention ran)
  --out DIR       write one action list per carrier, DIR/<carrier>.csv ("msisdn,category"; mode 0600)
  --keep-runs N   after the run, delete the per-subscription results of all but the N most recent
                  completed runs (default: IDBIND_RECONCILIATION_KEEP_RUNS; unset keeps them all);
                  skipped with a warning if another run has started meanwhile
  -h, --help      this help

prune: retention on demand. Deletes the per-subscription results of every run but the N most
recent completed ones (N at least 1: the latest run's results decide phone eligibility and the
next run's comparison), one run at a time, oldest first. The runs and their counts stay, so
trends and comparisons are unchanged; a pruned run's action lists answer
RECONCILIATION_RESULTS_PRUNED. Refused while a reconciliation runs.
  --dry-run       list what would be deleted; delete nothing
  --json          print {"dry_run", "keep_runs", "runs": [{"run_id", "results"}], "results"}`;

function keepRunsOf(raw: string | undefined, required: boolean): number | undefined {
  if (raw === undefined) {
    if (required) throw new UsageError('--keep-runs N is required');
    return undefined;
  }
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 10_000) throw new UsageError('--keep-runs must be a whole number from 1 to 10000');
  return Number(raw);
}

async function prune(args: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { 'keep-runs': { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    ctx.stdout.write(HELP + '\n');
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const keepRuns = keepRunsOf(values['keep-runs'], true)!;
  const hub = await openHub({ mode: 'production', env: ctx.env, cwd: ctx.cwd, log: (m) => ctx.stderr.write(`warning: ${m}\n`) });
  try {
    const onRun = ctx.stderr.isTTY
      ? (run: PrunedRun, done: number, of: number) => ctx.stderr.write(`pruned run ${run.run_id}: ${formatCount(run.results)} results (${done} of ${of})\n`)
      : undefined;
    const runs = await pruneReconciliationResults(hub.pool, { keepRuns, dryRun: values['dry-run'] === true, onRun });
    reportPruned(ctx, runs, keepRuns, values['dry-run'] === true, values.json === true);
    return EXIT_OK;
  } finally {
    await hub.close();
  }
}

function reportPruned(ctx: CommandContext, runs: PrunedRun[], keepRuns: number, dryRun: boolean, json: boolean): void {
  const results = runs.reduce((n, r) => n + r.results, 0);
  if (json) {
    ctx.stdout.write(JSON.stringify({ dry_run: dryRun, keep_runs: keepRuns, runs, results }) + '\n');
    return;
  }
  const verb = dryRun ? 'would delete' : 'deleted';
  ctx.stdout.write(`retention (keeping the ${keepRuns} most recent completed run${keepRuns === 1 ? '' : 's'}): ${verb} the results of ${runs.length} run${runs.length === 1 ? '' : 's'}, ${formatCount(results)} rows\n`);
  for (const r of runs) ctx.stdout.write(`  ${r.run_id}  ${formatCount(r.results).padStart(12)}\n`);
}

export const reconcileCommand: Command = {
  name: 'reconcile',
  help: HELP,
  async run(args, ctx) {
    if (args[0] === 'prune') return prune(args.slice(1), ctx);
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, out: { type: 'string' }, 'keep-runs': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      ctx.stdout.write(HELP + '\n');
      return EXIT_OK;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
    const keepRunsOption = keepRunsOf(values['keep-runs'], false);
    // The action lists are written after the run: a DIR that cannot be one used to fail only then,
    // as an unexpected failure, with the run recorded and no list written.
    const outDir = values.out === undefined ? undefined : resolve(ctx.cwd, values.out);
    if (outDir !== undefined) {
      try {
        mkdirSync(outDir, { recursive: true });
      } catch {
        throw new UsageError(`--out: ${outDir} is not a directory and cannot be made one`);
      }
    }
    const hub = await openHub({ mode: 'production', env: ctx.env, cwd: ctx.cwd, log: (m) => ctx.stderr.write(`warning: ${m}\n`) });
    try {
      const ring = await hub.ring();
      const started = Date.now();
      const onStep = ctx.stderr.isTTY
        ? (step: RunStep) => {
            ctx.stderr.write(`reconciling: step ${step.number} of ${step.of}, ${STEP_TEXT[step.code]} (${Math.round((Date.now() - started) / 1000)} s)\n`);
          }
        : undefined;
      const handle = await startReconciliation(hub.pool, ring, 'cli', { onStep });
      const run = await handle.done;
      let files: Record<string, string> | undefined;
      if (outDir !== undefined) files = await writeActionLists(hub.pool, ring, run.run_id, outDir, 'cli');
      // Retention after the action lists are written, so that a run never prunes what it was
      // asked to write (the new run is the most recent, hence kept either way).
      const keepRuns = keepRunsOption ?? hub.config.reconciliationKeepRuns;
      let pruned: PrunedRun[] | undefined;
      if (keepRuns !== undefined) {
        try {
          pruned = await pruneReconciliationResults(hub.pool, { keepRuns });
        } catch (e) {
          // Another run took the lock once this one had let it go (the admin API's, say). This run
          // and its action lists are done: failing now would lose its summary for a retention that
          // the next run (or `idbind reconcile prune`) does anyway, as the admin API does.
          if (!(e instanceof RegistryError && e.code === 'RECONCILIATION_ALREADY_RUNNING')) throw e;
          ctx.stderr.write(`warning: retention did not run (RECONCILIATION_ALREADY_RUNNING: another reconciliation started); the next run applies it\n`);
        }
      }
      if (values.json) {
        ctx.stdout.write(JSON.stringify({
          run_id: run.run_id, subscriptions: run.subscriptions, categories: run.categories, by_carrier: run.by_carrier,
          compared_to_previous: run.compared_to_previous, ...(files ? { action_lists: files } : {}), ...(pruned ? { pruned_runs: pruned } : {}),
        }) + '\n');
      } else {
        ctx.stdout.write(`run ${run.run_id}: ${formatCount(run.subscriptions ?? 0)} subscriptions examined\n`);
        for (const c of CATEGORIES) {
          const cmp = run.compared_to_previous?.[c];
          ctx.stdout.write(`  ${c.padEnd(22)} ${formatCount(run.categories?.[c] ?? 0).padStart(12)}   (+${cmp?.new ?? 0} new, ${cmp?.resolved ?? 0} resolved)\n`);
        }
        if (files) for (const [carrier, path] of Object.entries(files)) ctx.stdout.write(`  action list ${carrier}: ${path}\n`);
        if (pruned && keepRuns !== undefined) reportPruned(ctx, pruned, keepRuns, false, false);
      }
      return EXIT_OK;
    } finally {
      await hub.close();
    }
  },
};
