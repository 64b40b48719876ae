/**
 * `npm run bench -- [--sizes 1m,4m] [--pg embedded,system] [--quick] [--out FILE]`: the issue 2
 * benchmarks in one command (DESIGN.md "Conventions": ratios against a baseline measured in the
 * same run; docs/benchmarks.md keeps the latest figures).
 *
 * 1. Generates each size's registry (`population.csv` and one file per carrier) under /tmp.
 * 2. For each PostgreSQL (embedded 18, system 15 in a temporary cluster) and each size, in fresh
 *    databases: the baseline (bench/baseline.ts: plain COPY of the same rows, same indexes), then
 *    the idbind import of the population file and of every carrier file, each in its own child
 *    process (bench/child.ts, the CLI's code path) whose peak RSS is read, then a reconciliation
 *    (also a child), checked against the categories the generator planted.
 * 3. Prints the tables and writes the JSON result; deletes the files and clusters it made.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  DEFAULT_AS_OF, DEFAULT_JUNK_RATE, DEFAULT_SEED, DEFAULT_TERMINATED_RATE, JUNK_CATEGORIES, generateRegistry,
  type CategoryCounts,
} from '../src/registry/generator/generate-registry.ts';
import { CARRIER_SLUGS } from '../src/registry/generator/carrier-prefixes.ts';
import { generateMasterKeySpec } from '../src/kernel/crypto/master-keys.ts';
import { BENCH_HELP, BenchArgsError, parseBenchArgs, type BenchSize, type PgKind } from './bench-args.ts';
import { baselineCopy, createBaselineSchema } from './baseline.ts';
import { startServer, type BenchServer } from './pg-servers.ts';
import { machineBusySeconds, ownTreeSeconds } from './proc-cpu.ts';
import type { ImportChildResult, ReconcileChildResult } from './child.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

interface SourceFile {
  /** `population` or the carrier's slug. */
  name: string;
  kind: 'population' | 'subscriptions';
  carrier?: string;
  path: string;
  rows: number;
}

interface Generated {
  size: BenchSize;
  seconds: number;
  files: SourceFile[];
  planted: CategoryCounts;
}

interface FileResult {
  file: string;
  rows: number;
  /**
   * pg_cpu_seconds: CPU of the PostgreSQL server's processes during the step; other_cpu_seconds:
   * CPU the rest of the machine used meanwhile (not the bench, not its PostgreSQL), a measure of
   * how much other work skewed the step. Linux only (null elsewhere).
   */
  import: ImportChildResult & { rows_per_s: number; process_seconds: number } & StepCpu;
  baseline: { seconds: number; rows: number; rows_per_s: number; node_cpu_seconds: number } & StepCpu;
  ratio: number;
}

interface StepCpu {
  pg_cpu_seconds: number | null;
  other_cpu_seconds: number | null;
}

interface SizeResult {
  pg: PgKind;
  pg_version: string;
  size: string;
  people: number;
  subscriptions: number;
  files: FileResult[];
  import: { rows: number; seconds: number; rows_per_s: number; population_rows_per_s: number; subscriptions_rows_per_s: number; peak_rss_kib: number };
  baseline: { rows: number; seconds: number; rows_per_s: number };
  ratio: number;
  database_mib: { import: number; baseline: number };
  reconciliation: ReconcileChildResult & { matches_planted: boolean } & StepCpu;
  /** CPU seconds other work on the machine used during this size's steps, in all. */
  other_cpu_seconds: number | null;
}

interface PgSummary {
  pg: PgKind;
  pg_version: string;
  settings: Record<string, string>;
  smallest: string;
  largest: string;
  /** Peak import RSS of the largest size over the smallest (target ≤ 1.15). */
  rss_ratio: number | null;
  /** Reconciliation seconds of the largest size over the smallest, and the subscriptions ratio. */
  reconciliation_growth: number | null;
  subscriptions_growth: number | null;
}

const log = (m: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sumOrNull = (xs: (number | null)[]) => (xs.some((x) => x === null) ? null : xs.reduce<number>((a, b) => a + b!, 0));
const rate = (rows: number, seconds: number) => (seconds > 0 ? rows / seconds : 0);
/** Where a step's CPU went: the server's processes, and everything that is neither them nor us. */
function cpuMeter(server: BenchServer): () => StepCpu {
  const busy = machineBusySeconds();
  const own = ownTreeSeconds();
  const pgCpu = server.cpuSeconds();
  return () => {
    const p = delta(server.cpuSeconds(), pgCpu);
    const b = delta(machineBusySeconds(), busy);
    const o = delta(ownTreeSeconds(), own);
    return { pg_cpu_seconds: p, other_cpu_seconds: p === null || b === null || o === null ? null : Math.max(0, b - o - p) };
  };
}

/** A closed connection's backend takes a moment to exit and be counted in its parent's times. */
const settle = () => new Promise((r) => setTimeout(r, 300));
const delta = (after: number | undefined, before: number | undefined) => (after === undefined || before === undefined ? null : after - before);

let currentChild: ChildProcess | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

let cleaning: Promise<void> | undefined;

/** Runs the cleanups once, last registered first; a signal and the main flow share the one run. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const c = cleanups.pop()!;
      try {
        await c();
      } catch (e) {
        log(`cleanup: ${(e as Error).message}`);
      }
    }
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    currentChild?.kill('SIGTERM');
    void cleanUp().finally(() => process.exit(130));
  });
}

/** Runs bench/child.ts and returns its JSON line and its wall time. */
async function runChild<T>(args: string[], env: NodeJS.ProcessEnv): Promise<{ result: T; wall: number }> {
  const start = process.hrtime.bigint();
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  currentChild = child;
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((res, rej) => {
    child.on('error', rej);
    child.on('close', (c) => res(c));
  });
  currentChild = undefined;
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  if (code !== 0) throw new Error(`bench child ${args.join(' ')} exited with status ${code}`);
  const line = out.trim().split('\n').pop() ?? '';
  return { result: JSON.parse(line) as T, wall };
}

/** The commit measured, and whether the product code differs from it (a lead editing meanwhile). */
function sourceState(): { commit: string; dirty: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations', 'bin', 'package.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().split('\n').filter((l) => l.trim() !== '').map((l) => l.slice(3));
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: [] };
  }
}

async function generate(size: BenchSize, dir: string): Promise<Generated> {
  const rates = {} as CategoryCounts;
  for (const c of JUNK_CATEGORIES) rates[c] = DEFAULT_JUNK_RATE;
  const start = process.hrtime.bigint();
  const { report, rowsByCarrier } = await generateRegistry({
    people: size.people, subscriptions: size.subscriptions, rates, terminatedRate: DEFAULT_TERMINATED_RATE,
    seed: DEFAULT_SEED, asOf: DEFAULT_AS_OF, outDir: dir, format: 'csv',
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const files: SourceFile[] = [{ name: 'population', kind: 'population', path: report.files.population, rows: size.people }];
  for (const slug of CARRIER_SLUGS) {
    const rows = rowsByCarrier[slug];
    if (rows > 0) files.push({ name: slug, kind: 'subscriptions', carrier: slug, path: report.files[slug], rows });
  }
  return { size, seconds, files, planted: report.planted };
}

async function databaseMib(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n');
    return Number(r.rows[0]!.n) / 2 ** 20;
  } finally {
    await client.end();
  }
}

async function measureSize(server: BenchServer, gen: Generated, workDir: string, masterKey: string): Promise<SizeResult> {
  const tag = gen.size.label.replace(/[^a-z0-9]/g, '_');
  const importDb = `bench_import_${tag}`;
  const baseDb = `bench_base_${tag}`;
  const label = `${server.kind} ${gen.size.label}`;
  for (const db of [importDb, baseDb]) {
    await server.admin(`DROP DATABASE IF EXISTS ${db}`);
    await server.admin(`CREATE DATABASE ${db}`);
  }
  try {
    // Baseline: plain COPY of every file, one Node process.
    await createBaselineSchema(server.urlFor(baseDb));
    const baseline = new Map<string, { seconds: number; rows: number; node_cpu_seconds: number } & StepCpu>();
    for (const [i, f] of gen.files.entries()) {
      await server.admin('CHECKPOINT');
      log(`${label}: baseline COPY ${f.name} (${f.rows} rows)`);
      const meter = cpuMeter(server);
      const nodeBefore = process.cpuUsage();
      const r = await baselineCopy(server.urlFor(baseDb), { kind: f.kind, carrierId: i, path: f.path });
      const nodeCpu = process.cpuUsage(nodeBefore);
      await settle();
      if (r.rows !== f.rows) throw new Error(`baseline COPY of ${f.name} loaded ${r.rows} rows, expected ${f.rows}`);
      baseline.set(f.name, { ...r, node_cpu_seconds: (nodeCpu.user + nodeCpu.system) / 1e6, ...meter() });
      log(`${label}: baseline ${f.name}: ${Math.round(rate(r.rows, r.seconds))} rows/s`);
    }

    // The import, as the CLI runs it: one process per file, a fresh database, workers = cores.
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: server.urlFor(importDb), IDBIND_MASTER_KEY: masterKey, IDBIND_DATA_DIR: join(workDir, 'data') };
    delete env.IDBIND_MASTER_KEYS;
    delete env.IDBIND_MASTER_KEY_FILE;
    const files: FileResult[] = [];
    for (const f of gen.files) {
      await server.admin('CHECKPOINT');
      log(`${label}: import ${f.name} (${f.rows} rows)`);
      const rejects = join(workDir, 'rejects', `${server.kind}-${tag}-${f.name}.csv`);
      const args = f.kind === 'population' ? ['import', 'population', f.path, rejects] : ['import', 'subscriptions', f.path, rejects, f.carrier!];
      const meter = cpuMeter(server);
      const { result, wall } = await runChild<ImportChildResult>(args, env);
      await settle();
      const cpu = meter();
      if (result.accepted !== f.rows || result.rejected !== 0) {
        throw new Error(`import of ${f.name}: ${result.accepted} accepted and ${result.rejected} rejected of ${f.rows} rows`);
      }
      const b = baseline.get(f.name)!;
      const importRate = rate(f.rows, result.seconds);
      const baseRate = rate(b.rows, b.seconds);
      files.push({
        file: f.name, rows: f.rows,
        import: { ...result, rows_per_s: importRate, process_seconds: wall, ...cpu },
        baseline: { ...b, rows_per_s: baseRate },
        ratio: importRate / baseRate,
      });
      log(`${label}: import ${f.name}: ${Math.round(importRate)} rows/s (baseline ${Math.round(baseRate)}), peak RSS ${(result.max_rss_kib / 1024).toFixed(0)} MiB`);
    }

    await server.admin('CHECKPOINT');
    log(`${label}: reconciliation`);
    const recMeter = cpuMeter(server);
    const { result: rec } = await runChild<ReconcileChildResult>(['reconcile'], env);
    await settle();
    const recCpu = recMeter();
    const matches = JUNK_CATEGORIES.every((c) => (rec.categories[c] ?? 0) === gen.planted[c]);
    log(`${label}: reconciliation ${rec.seconds.toFixed(1)} s over ${rec.subscriptions} subscriptions${matches ? '' : ' — CATEGORIES DIFFER FROM THE PLANTED COUNTS'}`);

    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const pop = files.filter((f) => f.file === 'population');
    const subs = files.filter((f) => f.file !== 'population');
    const rows = sum(files.map((f) => f.rows));
    const seconds = sum(files.map((f) => f.import.seconds));
    const baseSeconds = sum(files.map((f) => f.baseline.seconds));
    const importRate = rate(rows, seconds);
    const baseRate = rate(rows, baseSeconds);
    return {
      pg: server.kind, pg_version: server.version, size: gen.size.label, people: gen.size.people, subscriptions: gen.size.subscriptions,
      files,
      import: {
        rows, seconds, rows_per_s: importRate,
        population_rows_per_s: rate(sum(pop.map((f) => f.rows)), sum(pop.map((f) => f.import.seconds))),
        subscriptions_rows_per_s: rate(sum(subs.map((f) => f.rows)), sum(subs.map((f) => f.import.seconds))),
        peak_rss_kib: Math.max(...files.map((f) => f.import.max_rss_kib)),
      },
      baseline: { rows, seconds: baseSeconds, rows_per_s: baseRate },
      ratio: importRate / baseRate,
      database_mib: { import: await databaseMib(server.urlFor(importDb)), baseline: await databaseMib(server.urlFor(baseDb)) },
      reconciliation: { ...rec, matches_planted: matches, ...recCpu },
      other_cpu_seconds: sumOrNull([...files.flatMap((f) => [f.import.other_cpu_seconds, f.baseline.other_cpu_seconds]), recCpu.other_cpu_seconds]),
    };
  } finally {
    for (const db of [importDb, baseDb]) await server.admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
  }
}

// ---- output ----

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function render(results: SizeResult[], summaries: PgSummary[]): string {
  const main = table(
    ['PostgreSQL', 'size', 'rows', 'import rows/s', 'population', 'subscriptions', 'baseline rows/s', 'ratio', 'peak RSS', 'reconcile s', 'other CPU s'],
    results.map((r) => [
      `${r.pg} ${r.pg_version}`, `${r.size} (${int(r.people)} + ${int(r.subscriptions)})`, int(r.import.rows), int(r.import.rows_per_s),
      int(r.import.population_rows_per_s), int(r.import.subscriptions_rows_per_s), int(r.baseline.rows_per_s), r.ratio.toFixed(2),
      mib(r.import.peak_rss_kib), r.reconciliation.seconds.toFixed(1), r.other_cpu_seconds?.toFixed(1) ?? '-',
    ]),
  );
  const perFile = table(
    ['PostgreSQL', 'size / file', 'rows', 'import s', 'import rows/s', 'baseline s', 'baseline rows/s', 'ratio', 'peak RSS', 'import CPU s node/pg', 'baseline CPU s node/pg'],
    results.flatMap((r) => r.files.map((f) => [
      `${r.pg} ${r.pg_version}`, `${r.size} ${f.file}`, int(f.rows), f.import.seconds.toFixed(1), int(f.import.rows_per_s),
      f.baseline.seconds.toFixed(1), int(f.baseline.rows_per_s), f.ratio.toFixed(2), mib(f.import.max_rss_kib),
      `${f.import.cpu_seconds.toFixed(1)}/${f.import.pg_cpu_seconds?.toFixed(1) ?? '-'}`,
      `${f.baseline.node_cpu_seconds.toFixed(1)}/${f.baseline.pg_cpu_seconds?.toFixed(1) ?? '-'}`,
    ])),
  );
  const growth = table(
    ['PostgreSQL', 'sizes', 'peak RSS ratio', 'reconcile growth', 'subscriptions growth'],
    summaries.map((s) => [
      `${s.pg} ${s.pg_version}`, `${s.largest} / ${s.smallest}`, s.rss_ratio?.toFixed(2) ?? '-',
      s.reconciliation_growth?.toFixed(2) ?? '-', s.subscriptions_growth?.toFixed(2) ?? '-',
    ]),
  );
  return `${main}\n\nPer file:\n${perFile}\n\nLargest size against smallest:\n${growth}\n`;
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof BenchArgsError) {
      process.stderr.write(`bench: ${e.message}\n\n${BENCH_HELP}\n`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    process.stdout.write(BENCH_HELP + '\n');
    return 0;
  }
  const started = new Date();
  const source = sourceState();
  log(`measuring ${source.commit}${source.dirty.length > 0 ? ` WITH UNCOMMITTED CHANGES to ${source.dirty.join(', ')}` : ''}`);
  const workDir = mkdtempSync('/tmp/idbind-bench-');
  chmodSync(workDir, 0o755);
  cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
  const masterKey = generateMasterKeySpec();
  const load = loadavg()[0]!;
  if (load > availableParallelism() / 2) log(`warning: load average ${load.toFixed(2)} on ${availableParallelism()} cores: other work will skew the figures`);

  const generated: Generated[] = [];
  for (const size of args.sizes) {
    log(`generating ${size.label}: ${size.people} people, ${size.subscriptions} subscriptions`);
    const g = await generate(size, join(workDir, `files-${size.label}`));
    log(`generated ${size.label} in ${g.seconds.toFixed(1)} s`);
    generated.push(g);
  }

  const results: SizeResult[] = [];
  const summaries: PgSummary[] = [];
  for (const kind of args.pg) {
    log(`starting the ${kind} PostgreSQL`);
    const server = await startServer(kind);
    const stopServer = () => server.stop();
    cleanups.push(stopServer);
    log(`${kind}: PostgreSQL ${server.version}`);
    const mine: SizeResult[] = [];
    for (const g of generated) {
      const r = await measureSize(server, g, workDir, masterKey);
      mine.push(r);
      results.push(r);
    }
    cleanups.splice(cleanups.indexOf(stopServer), 1);
    await server.stop();
    const small = mine[0]!;
    const large = mine[mine.length - 1]!;
    const two = mine.length > 1;
    summaries.push({
      pg: kind, pg_version: server.version, settings: { ...server.settings }, smallest: small.size, largest: large.size,
      rss_ratio: two ? large.import.peak_rss_kib / small.import.peak_rss_kib : null,
      reconciliation_growth: two ? large.reconciliation.seconds / small.reconciliation.seconds : null,
      subscriptions_growth: two ? large.reconciliation.subscriptions / small.reconciliation.subscriptions : null,
    });
  }

  const text = render(results, summaries);
  process.stdout.write(`\n${text}`);
  const mismatched = results.filter((r) => !r.reconciliation.matches_planted);
  if (mismatched.length > 0) process.stdout.write(`\nWARNING: reconciliation categories differ from the planted counts: ${mismatched.map((r) => `${r.pg} ${r.size}`).join(', ')}\n`);

  const out = resolve(ROOT, args.out);
  mkdirSync(dirname(out), { recursive: true });
  const cpu = cpus()[0];
  writeFileSync(out, JSON.stringify({
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    started_at: started.toISOString(),
    finished_at: new Date().toISOString(),
    source: sourceState(),
    machine: {
      cores: availableParallelism(), cpu: cpu?.model ?? 'unknown', memory_gib: totalmem() / 2 ** 30, node: process.version, kernel: release(),
    },
    generated: generated.map((g) => ({ size: g.size.label, people: g.size.people, subscriptions: g.size.subscriptions, seconds: g.seconds, files: g.files.map((f) => ({ name: f.name, rows: f.rows })) })),
    servers: summaries,
    results,
    table: text,
  }, null, 2) + '\n');
  log(`result written to ${out}`);
  return mismatched.length > 0 ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  log(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  code = 1;
} finally {
  await cleanUp();
}
process.exit(code);
