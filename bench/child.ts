/**
 * One measured step of the benchmark in its own process, started by bench/run.ts, so that its
 * peak RSS is its own:
 *
 *   node --import tsx bench/child.ts import population FILE REJECTS
 *   node --import tsx bench/child.ts import subscriptions FILE REJECTS CARRIER
 *   node --import tsx bench/child.ts reconcile
 *
 * It opens the hub exactly as the CLI does (`idbind import`, `idbind reconcile`: DATABASE_URL,
 * IDBIND_MASTER_KEY, workers = IDBIND_WORKERS or the available cores) and prints one JSON line
 * on stdout: the step's own result, the seconds of the step itself (without the process start)
 * and `process.resourceUsage().maxRSS` (KiB, the whole process with its worker threads).
 */
import { openHub } from '../src/hub.ts';
import { importRegistry, type ImportProgress } from '../src/registry/import/import-service.ts';
import { startReconciliation } from '../src/registry/reconciliation/reconciliation-service.ts';

export interface ImportChildResult {
  accepted: number;
  unchanged: number;
  rejected: number;
  workers: number;
  seconds: number;
  /** User + system CPU seconds of the whole process (main thread and workers). */
  cpu_seconds: number;
  max_rss_kib: number;
}

export interface ReconcileChildResult {
  subscriptions: number;
  categories: Record<string, number>;
  seconds: number;
  max_rss_kib: number;
}

const PROGRESS_EVERY_MS = 15_000;

function cpuSeconds(): number {
  const u = process.resourceUsage();
  return (u.userCPUTime + u.systemCPUTime) / 1e6;
}

async function main(argv: string[]): Promise<void> {
  const [mode, kind, file, rejects, carrier] = argv;
  const hub = await openHub({ mode: 'production', log: (m) => process.stderr.write(`warning: ${m}\n`) });
  try {
    const ring = await hub.ring();
    if (mode === 'import' && (kind === 'population' || kind === 'subscriptions') && file && rejects) {
      let last = Date.now();
      const onProgress = (p: ImportProgress) => {
        if (Date.now() - last < PROGRESS_EVERY_MS) return;
        last = Date.now();
        process.stderr.write(`    ${p.rowsRead} rows (${Math.round((100 * p.bytes) / Math.max(1, p.totalBytes))} %)\n`);
      };
      const start = process.hrtime.bigint();
      const summary = await importRegistry({ pool: hub.pool, ring, kind, carrier, path: file, rejectsPath: rejects, workers: hub.config.workers, onProgress });
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const result: ImportChildResult = {
        accepted: summary.accepted, unchanged: summary.unchanged, rejected: summary.rejected, workers: hub.config.workers,
        seconds, cpu_seconds: cpuSeconds(), max_rss_kib: process.resourceUsage().maxRSS,
      };
      process.stdout.write(JSON.stringify(result) + '\n');
    } else if (mode === 'reconcile' && kind === undefined) {
      const start = process.hrtime.bigint();
      const run = await (await startReconciliation(hub.pool, ring, 'bench')).done;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const result: ReconcileChildResult = {
        subscriptions: Number(run.subscriptions ?? 0), categories: { ...(run.categories ?? {}) }, seconds, max_rss_kib: process.resourceUsage().maxRSS,
      };
      process.stdout.write(JSON.stringify(result) + '\n');
    } else {
      throw new Error(`usage: bench/child.ts import population|subscriptions FILE REJECTS [CARRIER] | reconcile (got: ${argv.join(' ')})`);
    }
  } finally {
    await hub.close();
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench child: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
