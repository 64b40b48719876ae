/** `idbind reconcile [--json] [--out DIR]` (issue 2): one junk-SIM reconciliation run. */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { openHub } from '../hub.ts';
import { startReconciliation, writeActionLists, type RunStep } from '../registry/reconciliation/reconciliation-service.ts';
import { CATEGORIES } from '../registry/reconciliation/categories.ts';
import { formatCount } from './progress.ts';
import { EXIT_OK, UsageError, type Command } from './command.ts';

/** What each step does, for the progress lines on a terminal. */
const STEP_TEXT: Record<RunStep['code'], string> = {
  reindexing: 'bringing blind indexes up to date',
  classifying: 'classifying every live subscription (holders with more than three at a carrier, one online, ranked by registration time)',
  settling_ties: 'settling registration-time ties at the online limit',
  comparing: 'comparing with the previous run',
};

const HELP = `Usage: idbind reconcile [--json] [--out DIR]

Classifies every non-terminated subscription into at most one junk-SIM category, the first that
applies: NO_HOLDER, HOLDER_NOT_FOUND, HOLDER_DECEASED, HOLDER_DATA_MISMATCH, ONLINE_BEYOND_LIMIT,
and compares the result with the previous completed run. On a terminal, each of its four steps is
shown on stderr as it starts, with the time the run has taken so far.

Options:
  --json        print {"run_id","subscriptions","categories","by_carrier","compared_to_previous"}
  --out DIR     write one action list per carrier, DIR/<carrier>.csv ("msisdn,category"; mode 0600)
  -h, --help    this help`;

export const reconcileCommand: Command = {
  name: 'reconcile',
  summary: 'run a junk-SIM reconciliation and write the carriers\' action lists',
  help: HELP,
  async run(args, ctx) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      ctx.stdout.write(HELP + '\n');
      return EXIT_OK;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
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
      if (values.out) files = await writeActionLists(hub.pool, ring, run.run_id, resolve(ctx.cwd, values.out), 'cli');
      if (values.json) {
        ctx.stdout.write(JSON.stringify({
          run_id: run.run_id, subscriptions: run.subscriptions, categories: run.categories, by_carrier: run.by_carrier,
          compared_to_previous: run.compared_to_previous, ...(files ? { action_lists: files } : {}),
        }) + '\n');
      } else {
        ctx.stdout.write(`run ${run.run_id}: ${formatCount(run.subscriptions ?? 0)} subscriptions examined\n`);
        for (const c of CATEGORIES) {
          const cmp = run.compared_to_previous?.[c];
          ctx.stdout.write(`  ${c.padEnd(22)} ${formatCount(run.categories?.[c] ?? 0).padStart(12)}   (+${cmp?.new ?? 0} new, ${cmp?.resolved ?? 0} resolved)\n`);
        }
        if (files) for (const [carrier, path] of Object.entries(files)) ctx.stdout.write(`  action list ${carrier}: ${path}\n`);
      }
      return EXIT_OK;
    } finally {
      await hub.close();
    }
  },
};
