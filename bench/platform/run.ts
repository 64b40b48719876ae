/**
 * `npm run bench:platform -- [--quick] [options]`: the issue 3 benchmarks in one run (DESIGN.md
 * "Conventions": ratios against baselines measured in the same run; docs/benchmarks.md keeps the
 * latest figures). See PLATFORM_BENCH_HELP (args.ts) and docs/benchmarks.md "Issue 3".
 *
 * 1. A fresh embedded PostgreSQL 18 (bench/pg-servers.ts) and one database; a generated registry
 *    imported into it as `idbind import` does (bench/child.ts), for numbers that can verify.
 * 2. The hub as a real server process: `idbind serve --demo --port 0` on that database, with the
 *    hub's own rate limits raised by environment (BENCH_LIMITS) and the bench platform's through
 *    the admin API (PLATFORM_LIMITS).
 * 3. N bound accounts written with set-based SQL (seed.ts); the baselines' bare Fastify app
 *    (baseline-server.ts) on the same database.
 * 4. The hub restarted on the seeded database, its status cache warm-started (prefill) before
 *    anything is measured; autocannon in its own process (http-load.ts) against the constant route,
 *    the primary-key lookup route and `GET /v1/accounts/{ref}` (uniform and Zipf), with the cache's
 *    hit ratio during each status row; full verifications (verify-load.ts); webhook
 *    deliveries to a receiver process (receiver.ts), by the server's dispatcher or, if the server
 *    does not mount one, by `startWebhookDispatcher` in a hub process of its own (hub-child.ts).
 * 5. Where the CPU went in each measurement (the hub, PostgreSQL, the load generator, the rest of
 *    the machine) and the hub's PostgreSQL connections' states; a table and the JSON result.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  DEFAULT_AS_OF, DEFAULT_JUNK_RATE, DEFAULT_SEED, DEFAULT_TERMINATED_RATE, JUNK_CATEGORIES, generateRegistry, type CategoryCounts,
} from '../../src/registry/generator/generate-registry.ts';
import { CARRIER_SLUGS } from '../../src/registry/generator/carrier-prefixes.ts';
import { generateMasterKeySpec } from '../../src/kernel/crypto/master-keys.ts';
import { startEmbedded, type BenchServer } from '../pg-servers.ts';
import { machineBusySeconds, ownTreeSeconds, processCpuSeconds } from '../proc-cpu.ts';
import type { ImportChildResult } from '../child.ts';
import { PLATFORM_BENCH_HELP, PlatformArgsError, parsePlatformArgs, type PlatformBenchArgs, type StatusPattern } from './args.ts';
import type { LoadResult, LoadSpec, RouteKind } from './http-load.ts';
import type { VerifyResult, VerifySpec } from './verify-load.ts';
import type { ReceiverSpec, ReceiverStats } from './receiver.ts';
import { ROOT, jsonField, runJson, startService, stopAll, tsxArgs, type Service } from './procs.ts';
import { deliveryCounts, prepareWebhookAccounts, revokeWebhookAccounts, seedBindings, type SeedTimes } from './seed.ts';
import { sampleWaits, type WaitTally } from './pg-waits.ts';
import { summariseProfile, type Window, type WindowProfile } from './cpu-profile.ts';
import { enableStatements, resetStatements, statementReport, type StatementReport } from './pg-statements.ts';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const IMPORT_CHILD = here('../child.ts');
const HUB_CHILD = here('./hub-child.ts');
const HTTP_LOAD = here('./http-load.ts');
const VERIFY_LOAD = here('./verify-load.ts');
const RECEIVER = here('./receiver.ts');
const BASELINE = here('./baseline-server.ts');
const IDBIND = join(ROOT, 'bin', 'idbind.js');

/**
 * The hub's own limits (src/kernel/config/config.ts), raised so that the load is measured, not
 * refused: one client IP starts every verification, the numbers share a few dozen prefixes, and
 * the defaults (5 per number per hour, 600 per prefix and 1,200 per IP per minute) are meant to
 * stop abuse, far below a national hub's rate.
 */
export const BENCH_LIMITS: Readonly<Record<string, string>> = {
  IDBIND_LIMIT_NUMBER_PER_HOUR: '1000000000',
  IDBIND_LIMIT_NUMBER_PER_DAY: '1000000000',
  IDBIND_LIMIT_NUMBER_ATTEMPTS_PER_DAY: '1000000000',
  IDBIND_LIMIT_PREFIX_PER_MINUTE: '1000000000',
  IDBIND_LIMIT_IP_PER_MINUTE: '1000000000',
};

/** The hub's status cache in the bench (docs/status-cache.md): every binding fits, warm-started. */
const STATUS_CACHE_ENV = (args: PlatformBenchArgs): Record<string, string> => ({
  IDBIND_STATUS_CACHE_SIZE: String(args.statusCacheSize),
  IDBIND_STATUS_CACHE_MAX_AGE_SECONDS: String(args.statusMaxAge),
  IDBIND_STATUS_CACHE_PREFILL: '1',
});

/** The bench platform's limits (admin API), raised for the same reason (defaults 600/min, 100,000 SMS a day, 5 accounts). */
export const PLATFORM_LIMITS = { verifications_per_minute: 1_000_000_000, sms_per_day: 1_000_000_000, accounts_per_person: 1000 } as const;

/** Connections of the hub's pool (src/hub.ts: `createPool(url, 12)`); the lookup baseline gets as many. */
const HUB_POOL = 12;

/** The monotonic clock in microseconds: the time base of V8's CPU profiles. */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);
/** The time windows of the measurements, for the hub's CPU profile. */
const windows: Window[] = [];

const log = (m: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds of each party during one measurement (Linux /proc; null elsewhere). */
interface CpuSplit {
  wall_s: number;
  hub: number | null;
  postgres: number | null;
  /**
   * The load generator and the bench's own process (its samplers); for webhooks, the receiver
   * and the dispatcher process if any.
   */
  load: number | null;
  baseline_server: number | null;
  /** Everything else on the machine: other people's work. */
  other: number | null;
  /** Cores the machine kept busy on average. */
  machine_busy_cores: number | null;
}

interface Meter {
  stop(): CpuSplit;
}

function cpuMeter(server: BenchServer, pids: { hub?: number; baseline?: number; extra?: number[] }): Meter {
  const read = () => ({
    t: performance.now(),
    busy: machineBusySeconds(),
    own: ownTreeSeconds(),
    pg: server.cpuSeconds(),
    // A process the measurement does not involve counts as zero.
    hub: pids.hub === undefined ? 0 : processCpuSeconds(pids.hub),
    baseline: pids.baseline === undefined ? 0 : processCpuSeconds(pids.baseline),
    extra: (pids.extra ?? []).map((p) => processCpuSeconds(p)),
  });
  const a = read();
  const d = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? null : x - y);
  return {
    stop() {
      const b = read();
      const wall = (b.t - a.t) / 1000;
      const hub = d(b.hub, a.hub);
      const pg = d(b.pg, a.pg);
      const baseline = d(b.baseline, a.baseline);
      // Waited-for children (the load generators) are in our own tree's times once they exit.
      const own = d(b.own, a.own);
      const extras = b.extra.map((x, i) => d(x, a.extra[i]));
      const extra = extras.some((x) => x === null) ? null : extras.reduce<number>((s, x) => s + x!, 0);
      const busy = d(b.busy, a.busy);
      const parts = [hub, pg, baseline, own, extra];
      const other = busy === null || parts.some((p) => p === null) ? null : Math.max(0, busy - parts.reduce<number>((s, p) => s + p!, 0));
      const load = own === null ? null : own + (extra ?? 0);
      return { wall_s: wall, hub, postgres: pg, load, baseline_server: pids.baseline ? baseline : null, other, machine_busy_cores: busy === null ? null : busy / wall };
    },
  };
}

/** The hub's status cache reads during one measurement (its /metrics counters, after minus before). */
interface CacheReads {
  hit: number;
  miss: number;
  bypass: number;
  /** hit / (hit + miss + bypass); null when nothing was read. */
  hit_ratio: number | null;
}

type RouteName = 'constant' | 'row' | 'status' | 'status_zipf';
/** The result key of a status pattern: `status` stays the uniform row of earlier results. */
const statusRoute = (p: StatusPattern): RouteName => (p === 'uniform' ? 'status' : 'status_zipf');

interface PrefillResult {
  /** Entries the bench waited for: the bindings, or the cache size if smaller. */
  target: number;
  /** The hub's cache entries when the wait ended. */
  entries: number;
  /** From the hub's restart (its start included, a second or two) to `entries` ≥ `target`. */
  seconds: number;
  timed_out: boolean;
}

interface RouteResult extends LoadResult {
  cpu: CpuSplit;
  /** The status rows only: the access pattern and the cache's reads during the measured seconds. */
  pattern?: StatusPattern;
  cache?: CacheReads;
  /** CPU microseconds per request of the server (hub or baseline app) and of PostgreSQL. */
  server_cpu_us_per_request: number | null;
  pg_cpu_us_per_request: number | null;
  pg_connections?: WaitTally;
  pg_statements: StatementReport;
}

interface WebhookResult {
  ran: boolean;
  /** Why not, when it did not run. */
  reason?: string;
  /** Who delivered: the server's own dispatcher, or `startWebhookDispatcher` in a process of its own. */
  dispatcher?: 'server' | 'separate process';
  events?: number;
  outbox_statement_s?: number;
  /** From the commit of the events to every delivery recorded as delivered in the database. */
  seconds_to_all_delivered?: number;
  deliveries_per_s?: number;
  /** At the receiver: from the first request to the one that completed the set. */
  receiver_seconds?: number;
  receiver_deliveries_per_s?: number;
  first_delivery_after_s?: number;
  receiver?: ReceiverStats;
  delivery_status?: Record<string, number>;
  cpu?: CpuSplit;
  pg_statements?: StatementReport;
}

// ---- the steps ----

async function runSql(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function adminPost<T>(hubUrl: string, token: string, path: string, body: unknown, method = 'POST'): Promise<T> {
  const res = await fetch(`${hubUrl}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

interface CreatedProvider {
  provider: { id: string };
  api_key: string;
  webhook_secret: string;
}

async function importRegistry(people: number, dir: string, env: NodeJS.ProcessEnv): Promise<{ people: number; subscriptions: number; seconds: number }> {
  const rates = {} as CategoryCounts;
  for (const c of JUNK_CATEGORIES) rates[c] = DEFAULT_JUNK_RATE;
  const subscriptions = Math.round(people * 1.2);
  const { report, rowsByCarrier } = await generateRegistry({
    people, subscriptions, rates, terminatedRate: DEFAULT_TERMINATED_RATE, seed: DEFAULT_SEED, asOf: DEFAULT_AS_OF, outDir: dir, format: 'csv',
  });
  const t0 = performance.now();
  const files: { args: string[]; rows: number }[] = [{ args: ['import', 'population', report.files.population, join(dir, 'population.rejects.csv')], rows: people }];
  for (const slug of CARRIER_SLUGS) {
    if (rowsByCarrier[slug] > 0) files.push({ args: ['import', 'subscriptions', report.files[slug], join(dir, `${slug}.rejects.csv`), slug], rows: rowsByCarrier[slug] });
  }
  for (const f of files) {
    const r = await runJson<ImportChildResult>('import', IMPORT_CHILD, f.args, env);
    if (r.accepted !== f.rows) throw new Error(`import ${f.args[1]} accepted ${r.accepted} of ${f.rows} rows`);
  }
  return { people, subscriptions, seconds: (performance.now() - t0) / 1000 };
}

/** The hub's status cache read counters (/metrics; the admin token is accepted outside demo mode too). */
async function cacheCounters(hubUrl: string, adminToken: string): Promise<{ hit: number; miss: number; bypass: number; entries: number }> {
  const res = await fetch(`${hubUrl}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status} ${text.slice(0, 200)}`);
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const read = (result: string) => value(new RegExp(`^idbind_account_status_cache_reads_total\\{result="${result}"\\} (\\S+)$`, 'm'));
  return { hit: read('hit'), miss: read('miss'), bypass: read('bypass'), entries: value(/^idbind_account_status_cache_entries (\S+)$/m) };
}

/** Waits until the hub's status cache holds `target` entries (its warm start), or `timeoutS` passed. */
async function waitForPrefill(hubUrl: string, adminToken: string, target: number, timeoutS: number, t0: number): Promise<PrefillResult> {
  let entries = 0;
  let lastLog = t0;
  for (;;) {
    entries = (await cacheCounters(hubUrl, adminToken)).entries;
    const seconds = (performance.now() - t0) / 1000;
    if (entries >= target) return { target, entries, seconds, timed_out: false };
    if (seconds >= timeoutS) return { target, entries, seconds, timed_out: true };
    if (performance.now() - lastLog > 5_000) {
      log(`status cache warm start: ${int(entries)} of ${int(target)} entries after ${seconds.toFixed(0)} s`);
      lastLog = performance.now();
    }
    await sleep(100);
  }
}

async function measureRoute(
  server: BenchServer, url: string, spec: LoadSpec, pids: { hub?: number; baseline?: number }, serverPid: number | undefined, waitsOf?: string,
  cacheOf?: { hubUrl: string; adminToken: string },
): Promise<RouteResult> {
  // The warm-up (JIT, caches, connections) is a run of its own, so that neither the CPU meter
  // nor the statement statistics count it.
  if (spec.warmup > 0) await runJson<LoadResult>(`warm-up ${spec.kind}`, HTTP_LOAD, [JSON.stringify({ ...spec, duration: spec.warmup, warmup: 0 })], process.env);
  await resetStatements(url);
  const sampler = waitsOf ? sampleWaits(url, waitsOf) : undefined;
  const meter = cpuMeter(server, pids);
  const cacheBefore = cacheOf ? await cacheCounters(cacheOf.hubUrl, cacheOf.adminToken) : undefined;
  const start = monoUs();
  const r = await runJson<LoadResult>(`load ${spec.kind}`, HTTP_LOAD, [JSON.stringify({ ...spec, warmup: 0 })], process.env);
  // Only the hub's measurement matters to the hub's profile.
  if (spec.kind === 'status') windows.push({ name: spec.pattern === 'zipf' ? 'status-zipf' : 'status', start_us: start, end_us: monoUs() });
  const cpu = meter.stop();
  let cache: CacheReads | undefined;
  if (cacheOf && cacheBefore) {
    const after = await cacheCounters(cacheOf.hubUrl, cacheOf.adminToken);
    const d = { hit: after.hit - cacheBefore.hit, miss: after.miss - cacheBefore.miss, bypass: after.bypass - cacheBefore.bypass };
    const reads = d.hit + d.miss + d.bypass;
    cache = { ...d, hit_ratio: reads > 0 ? d.hit / reads : null };
  }
  const tally = await sampler?.stop();
  const perReq = (x: number | null) => (x === null || r.requests === 0 ? null : (x * 1e6) / r.requests);
  const serverCpu = serverPid === pids.hub ? cpu.hub : cpu.baseline_server;
  return {
    ...r, ...(spec.kind === 'status' ? { pattern: spec.pattern ?? 'uniform' } : {}), ...(cache ? { cache } : {}),
    cpu, server_cpu_us_per_request: perReq(serverCpu), pg_cpu_us_per_request: perReq(cpu.postgres),
    ...(tally ? { pg_connections: tally } : {}), pg_statements: await statementReport(url, r.requests),
  };
}

async function measureWebhooks(
  server: BenchServer, args: PlatformBenchArgs, url: string, hubUrl: string, adminToken: string, hub: Service, env: NodeJS.ProcessEnv,
): Promise<WebhookResult> {
  if (args.webhooks === 0) return { ran: false, reason: '--webhooks 0' };
  // The server delivers webhooks itself once it mounts the dispatcher with the webhook routes.
  const openapi = (await (await fetch(`${hubUrl}/openapi.json`)).json()) as { paths?: Record<string, unknown> };
  const serverDispatches = Object.keys(openapi.paths ?? {}).some((p) => p.startsWith('/v1/webhooks'));
  const receiverSpec: Omit<ReceiverSpec, 'secret'> = { expected: args.webhooks, verifyEvery: 50 };
  // The secret is known only once the provider exists, and its URL needs the receiver: create the
  // provider without a URL, start the receiver with the secret, then set the URL.
  const created = await adminPost<CreatedProvider>(hubUrl, adminToken, '/v1/admin/providers', { name: 'Bench Webhooks', kind: 'platform', limits: PLATFORM_LIMITS });
  const providerId = created.provider.id;
  const { service: receiver, ready: receiverUrl } = await startService('receiver', process.execPath,
    tsxArgs(RECEIVER, JSON.stringify({ ...receiverSpec, secret: created.webhook_secret } satisfies ReceiverSpec)), process.env, jsonField<string>('url'));
  let dispatcher: Service | undefined;
  try {
    await adminPost(hubUrl, adminToken, `/v1/admin/providers/${providerId}`, { webhook_url: receiverUrl }, 'PATCH');
    log(`webhooks: ${args.webhooks} accounts of a provider whose webhook is ${receiverUrl}`);
    await prepareWebhookAccounts(url, providerId, args.webhooks);
    if (!serverDispatches) {
      log('webhooks: the server mounts no dispatcher yet; running startWebhookDispatcher in a hub process of its own');
      ({ service: dispatcher } = await startService('dispatcher', process.execPath, tsxArgs(HUB_CHILD, 'dispatch'), env, jsonField<boolean>('ready')));
    }
    const done = receiver.waitFor(jsonField<ReceiverStats>('done'), 900_000, `${args.webhooks} distinct webhook ids`);
    const burst = await revokeWebhookAccounts(url, providerId);
    // Metered from the commit on: the delivery, not the writing of the events (a claim or two
    // may slip in before the reset).
    await resetStatements(url);
    const meter = cpuMeter(server, { hub: hub.pid, extra: [receiver.pid, ...(dispatcher ? [dispatcher.pid] : [])] });
    const start = monoUs();
    log(`webhooks: ${burst.events} events and deliveries committed in ${burst.statement_s.toFixed(1)} s; delivering`);
    if (burst.events !== args.webhooks) throw new Error(`the outbox wrote ${burst.events} deliveries, expected ${args.webhooks}`);
    const got = await done;
    let status = await deliveryCounts(url, providerId);
    while ((status.delivered ?? 0) < args.webhooks && (status.dead ?? 0) === 0 && performance.timeOrigin + performance.now() - burst.committed_at < 900_000) {
      await sleep(100);
      status = await deliveryCounts(url, providerId);
    }
    const allAt = performance.timeOrigin + performance.now();
    windows.push({ name: 'webhooks', start_us: start, end_us: monoUs() });
    const cpu = meter.stop();
    // A last look at the receiver: any duplicates that arrived after the set was complete.
    receiver.send('stats');
    const stats = await receiver.waitFor(jsonField<ReceiverStats>('stats'), 10_000, 'stats');
    const seconds = (allAt - burst.committed_at) / 1000;
    const receiverSeconds = got.complete_at !== null && got.first_at !== null ? (got.complete_at - got.first_at) / 1000 : 0;
    return {
      ran: true, dispatcher: serverDispatches ? 'server' : 'separate process', events: burst.events, outbox_statement_s: burst.statement_s,
      seconds_to_all_delivered: seconds, deliveries_per_s: (status.delivered ?? 0) / seconds,
      receiver_seconds: receiverSeconds, receiver_deliveries_per_s: receiverSeconds > 0 ? stats.unique_ids / receiverSeconds : 0,
      first_delivery_after_s: got.first_at === null ? 0 : (got.first_at - burst.committed_at) / 1000,
      receiver: stats, delivery_status: status, cpu, pg_statements: await statementReport(url, burst.events),
    };
  } finally {
    await dispatcher?.stop();
    await receiver.stop();
  }
}

// ---- output ----

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-');
const us = (n: number | null) => (n === null ? '-' : n.toFixed(0));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

interface Output {
  routes: Partial<Record<RouteName, RouteResult>> & Record<'constant' | 'row', RouteResult>;
  verifications: VerifyResult & {
    cpu: CpuSplit; pg_connections: WaitTally; pg_statements: StatementReport;
    hub_cpu_ms_per_verification: number | null; pg_cpu_ms_per_verification: number | null;
  };
  webhooks: WebhookResult;
  /** The hub's status cache in this run, and its warm start (null when not waited for: size 0). */
  status_cache: { size: number; max_age_s: number; prefill: PrefillResult | null };
}

function render(o: Output, args: PlatformBenchArgs): string {
  const c = o.routes.constant;
  const row = o.routes.row;
  const statusRows = args.statusPatterns.map((p) => [`GET /v1/accounts/{ref} (${int(args.bindings)}, ${p})`, o.routes[statusRoute(p)]!] as const);
  const routes = table(
    ['route', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', '/ lookup', '/ constant', 'cache hits', 'server µs/req', 'pg µs/req', 'load CPU s', 'other CPU s'],
    ([['bare Fastify: constant', c], ['bare Fastify: pg PK lookup', row], ...statusRows] as const).map(([name, r]) => [
      name, int(r.requests_per_s), ms(r.latency_ms.p50), ms(r.latency_ms.p99), ms(r.latency_ms.max), int(r.non2xx + r.errors),
      ratio(r.requests_per_s, row.requests_per_s), ratio(r.requests_per_s, c.requests_per_s),
      r.cache?.hit_ratio == null ? '-' : `${(r.cache.hit_ratio * 100).toFixed(1)} %`,
      us(r.server_cpu_us_per_request), us(r.pg_cpu_us_per_request), r.cpu.load?.toFixed(1) ?? '-', r.cpu.other?.toFixed(1) ?? '-',
    ]),
  );
  const p = o.status_cache.prefill;
  const cacheLine = `Status cache: IDBIND_STATUS_CACHE_SIZE=${int(o.status_cache.size)}, max age ${o.status_cache.max_age_s} s; warm start `
    + (p ? `${int(p.entries)} entries in ${p.seconds.toFixed(1)} s${p.timed_out ? ` (TIMED OUT before ${int(p.target)})` : ''}` : 'not waited for (size 0)') + '.';
  const v = o.verifications;
  const l = v.latency_ms;
  const verify = table(
    ['full verifications', 'per s', 'completed', 'failed', 'p50 ms', 'p99 ms', 'start p50/p99', 'outbox p50/p99', 'confirm p50/p99', 'hub ms CPU', 'pg ms CPU'],
    [[
      `${args.verifyConcurrency} at once, ${v.seconds.toFixed(1)} s`, int(v.verifications_per_s), int(v.completed),
      int(Object.values(v.failures).reduce((a, b) => a + b, 0)), ms(l.total.p50), ms(l.total.p99),
      `${ms(l.start.p50)}/${ms(l.start.p99)}`, `${ms(l.outbox.p50)}/${ms(l.outbox.p99)}`, `${ms(l.confirm.p50)}/${ms(l.confirm.p99)}`,
      v.hub_cpu_ms_per_verification?.toFixed(2) ?? '-', v.pg_cpu_ms_per_verification?.toFixed(2) ?? '-',
    ]],
  );
  const w = o.webhooks;
  const hooks = w.ran
    ? table(
      ['webhook deliveries', 'per s', 'delivered', 'seconds', 'receiver per s', 'unique ids', 'duplicates', 'bad signatures', 'dispatcher'],
      [[
        `${int(w.events!)} events`, int(w.deliveries_per_s!), int(w.delivery_status?.delivered ?? 0), w.seconds_to_all_delivered!.toFixed(1),
        int(w.receiver_deliveries_per_s!), int(w.receiver!.unique_ids), int(w.receiver!.duplicates),
        `${w.receiver!.signatures_bad}/${w.receiver!.signatures_checked}`, w.dispatcher!,
      ]],
    )
    : `webhook deliveries: not run (${w.reason})`;
  const stmts = (name: string, r: StatementReport | undefined) => (r === undefined ? [] : [[
    name, r.calls_per_request.toFixed(2), r.exec_ms_per_request.toFixed(3),
    r.top.slice(0, 3).map((x) => `${(x.share * 100).toFixed(0)}% ${x.query.slice(0, 60)}`).join(' | '),
  ]]);
  const pg = table(['PostgreSQL statements', 'per request', 'exec ms/request', 'costliest (share of execution time)'], [
    ...stmts('lookup baseline', o.routes.row.pg_statements),
    ...args.statusPatterns.flatMap((pat) => stmts(`status route, ${pat}`, o.routes[statusRoute(pat)]?.pg_statements)),
    ...stmts('full verification', v.pg_statements), ...stmts('webhook delivery', w.pg_statements),
  ]);
  const experiment = args.pgSettings.length > 0 ? `EXPERIMENT: ${args.pgSettings.map(([n, v]) => `${n}=${v}`).join(', ')} on the bench database\n\n` : '';
  return `${experiment}${routes}\n\n${cacheLine}\nTargets: status ≥ 0.80 of the lookup baseline with p99 ≤ 10 ms.\n\n${verify}\n\nTarget: ≥ 1,000 verifications/s.\n\n${hooks}\n\nTarget: ≥ 5,000 deliveries/s.\n\n${pg}\n`;
}

function renderProfile(profiles: readonly WindowProfile[]): string {
  return profiles.map((p) => table(
    [`hub CPU in ${p.name} (${(p.busy_ms / 1000).toFixed(1)} s sampled)`, 'share', 'CPU s'],
    p.by_place.map((x) => [x.what, `${(x.share * 100).toFixed(1)} %`, (x.ms / 1000).toFixed(2)]),
  )).join('\n\n');
}

function sourceState(): { commit: string; dirty: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations', 'bin', 'bench', 'package.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().split('\n').filter((x) => x.trim() !== '').map((x) => x.slice(3));
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: [] };
  }
}

// ---- main ----

const cleanups: (() => Promise<void> | void)[] = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    await stopAll();
    while (cleanups.length > 0) {
      try {
        await cleanups.pop()!();
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
    void cleanUp().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  let args: PlatformBenchArgs;
  try {
    args = parsePlatformArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof PlatformArgsError) {
      process.stderr.write(`bench:platform: ${e.message}\n\n${PLATFORM_BENCH_HELP}\n`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    process.stdout.write(PLATFORM_BENCH_HELP + '\n');
    return 0;
  }
  const started = new Date();
  const source = sourceState();
  const loadBefore = loadavg();
  log(`measuring ${source.commit}${source.dirty.length > 0 ? ` WITH UNCOMMITTED CHANGES to ${source.dirty.join(', ')}` : ''}; load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
  const workDir = mkdtempSync('/tmp/idbind-bench-platform-');
  chmodSync(workDir, 0o755);
  cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));

  log('starting the embedded PostgreSQL');
  // pg_stat_statements shows which statements take PostgreSQL's share (a few per cent of overhead).
  const server = await startEmbedded({ preloadLibraries: ['pg_stat_statements'] });
  cleanups.push(() => server.stop());
  const db = 'idbind_platform';
  await server.admin(`CREATE DATABASE ${db}`);
  const url = server.urlFor(db);
  await enableStatements(url);
  for (const [name, value] of args.pgSettings) {
    // An experiment's setting, for every connection to the bench database from now on.
    await server.admin(`ALTER DATABASE ${db} SET ${name} = '${value}'`);
    log(`experiment: ${name} = ${value} for the bench database`);
  }
  const adminToken = randomBytes(32).toString('base64url');
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATABASE_URL: url, IDBIND_MASTER_KEY: generateMasterKeySpec(), IDBIND_ADMIN_TOKEN: adminToken,
    IDBIND_DATA_DIR: join(workDir, 'data'), IDBIND_OUTBOUND_ALLOW_LOOPBACK: '1',
    // Fastify's per-request info lines would be the hub's largest cost; the baselines log nothing either.
    IDBIND_LOG_LEVEL: 'warn',
    ...BENCH_LIMITS,
  };
  delete env.IDBIND_MASTER_KEYS;
  delete env.IDBIND_MASTER_KEY_FILE;
  // `serve --demo` writes its demo platforms' keys there, and creates the directory only when it
  // generates a key or token itself (not when they are given, as here).
  mkdirSync(env.IDBIND_DATA_DIR!, { recursive: true });

  log(`importing a generated registry of ${int(args.registry)} people (the numbers that verify)`);
  const registry = await importRegistry(args.registry, join(workDir, 'registry'), env);
  log(`registry imported in ${registry.seconds.toFixed(1)} s`);
  // The registry's planner statistics, as autovacuum would have them a minute after an import:
  // without them the eligibility lookup's generic plan scans every subscription. Only the tables
  // the import filled: analysing the empty outbox tables now would plan the webhook claims for an
  // empty queue (docs/benchmarks.md "Issue 3").
  await runSql(url, 'ANALYZE persons, subscriptions');
  // This scratch database is a demo's, registry included: recorded before its first `serve`, which
  // would otherwise take a database holding a registry and no demo platform for a production one
  // and refuse --demo (migration 0031, src/demo/deployment-mode.ts).
  await runSql(url, `INSERT INTO deployment_mode (mode) VALUES ('demo') ON CONFLICT DO NOTHING`);

  log('starting the hub: idbind serve --demo --port 0');
  const profileDir = join(workDir, 'profile');
  const hubArgs = args.profileHub ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const startHub = () => startService('hub', process.execPath, [...hubArgs, IDBIND, 'serve', '--demo', '--port', '0'],
    { ...env, ...STATUS_CACHE_ENV(args), IDBIND_PORT: '0' }, (line) => /web app:\s+(http:\/\/\S+?)\/?$/.exec(line)?.[1]);
  let { service: hub, ready: hubUrl } = await startHub();
  log(`hub at ${hubUrl} (pid ${hub.pid})`);
  const platform = await adminPost<CreatedProvider>(hubUrl, adminToken, '/v1/admin/providers', { name: 'Bench Social', kind: 'platform', limits: PLATFORM_LIMITS });
  const authorization = `Bearer ${platform.api_key}`;

  log(`binding ${int(args.bindings)} accounts (set-based SQL)`);
  const t0 = performance.now();
  const seed: SeedTimes = await seedBindings(url, platform.provider.id, args.bindings);
  log(`bound in ${((performance.now() - t0) / 1000).toFixed(1)} s (${JSON.stringify(seed)})`);
  const probe = await fetch(`${hubUrl}/v1/accounts/acct-1`, { headers: { authorization } });
  const probeBody = (await probe.json()) as { status?: string };
  if (probe.status !== 200 || probeBody.status !== 'verified') throw new Error(`GET /v1/accounts/acct-1: HTTP ${probe.status} ${JSON.stringify(probeBody)}`);

  // The seed's statements flushed the hub's status cache (over 1,000 rows each). A hub starting on
  // a database that holds the bindings warm-starts its cache instead: restart it, and measure once
  // the warm start has loaded the bindings (or the cache is full), so that the status rows measure
  // a warm cache and the baselines are not measured beside the warm start's queries.
  log('restarting the hub on the seeded database (its status cache warm-starts)');
  await hub.stop();
  const restartedAt = performance.now();
  ({ service: hub, ready: hubUrl } = await startHub());
  log(`hub at ${hubUrl} (pid ${hub.pid})`);
  const prefillTarget = Math.min(args.bindings, args.statusCacheSize);
  const prefill = prefillTarget > 0 ? await waitForPrefill(hubUrl, adminToken, prefillTarget, args.prefillTimeout, restartedAt) : null;
  if (prefill) {
    log(`status cache warm start: ${int(prefill.entries)} entries in ${prefill.seconds.toFixed(1)} s${prefill.timed_out ? ` — TIMED OUT before ${int(prefill.target)}` : ''}`);
  }

  const { service: baseline, ready: baselineUrl } = await startService('baseline', process.execPath, tsxArgs(BASELINE, url, String(HUB_POOL)), process.env, jsonField<string>('url'));
  await server.admin('CHECKPOINT');

  const common = { connections: args.connections, duration: args.duration, warmup: args.warmup, bindings: args.bindings };
  const pids = { hub: hub.pid, baseline: baseline.pid };
  const routes = {} as Output['routes'];
  const plan: [RouteName, RouteKind, StatusPattern | undefined][] = [
    ['constant', 'constant', undefined], ['row', 'row', undefined], ...args.statusPatterns.map((p) => [statusRoute(p), 'status', p] as [RouteName, RouteKind, StatusPattern]),
  ];
  for (const [name, kind, pattern] of plan) {
    log(`measuring ${name}: ${args.connections} connections, ${args.warmup} s warm-up + ${args.duration} s`);
    const spec: LoadSpec = kind === 'status'
      ? { kind, url: hubUrl, authorization, pattern, ...common }
      : { kind, url: baselineUrl, ...common };
    const waits = kind === 'constant' ? undefined : kind === 'status' ? `idbind-${hub.pid}` : 'bench-baseline';
    const r = await measureRoute(server, url, spec, pids, kind === 'status' ? hub.pid : baseline.pid, waits, kind === 'status' ? { hubUrl, adminToken } : undefined);
    routes[name] = r;
    const hits = r.cache?.hit_ratio == null ? '' : `, cache hits ${(r.cache.hit_ratio * 100).toFixed(1)} %`;
    log(`${name}: ${int(r.requests_per_s)} req/s, p50 ${ms(r.latency_ms.p50)} ms, p99 ${ms(r.latency_ms.p99)} ms, non-2xx ${r.non2xx}, errors ${r.errors}${hits}`);
  }
  await baseline.stop();

  const numbersFile = join(workDir, 'numbers.json');
  const eligible = await runJson<{ count: number; seconds: number }>('eligible', HUB_CHILD, ['eligible', String(args.registry), numbersFile], env);
  log(`${int(eligible.count)} numbers can verify (listed in ${eligible.seconds.toFixed(1)} s)`);

  log(`full verifications: ${args.verifyConcurrency} at once, ${args.warmup} s warm-up + ${args.verifySeconds} s`);
  const verifySpec: VerifySpec = { url: hubUrl, authorization, numbersFile, concurrency: args.verifyConcurrency, seconds: args.warmup, warmup: 0 };
  // The warm-up is a run of its own (not metered); the measured run takes the numbers after it.
  const warm = args.warmup > 0 ? await runJson<VerifyResult>('verify warm-up', VERIFY_LOAD, [JSON.stringify(verifySpec)], process.env) : undefined;
  await resetStatements(url);
  const sampler = sampleWaits(url, `idbind-${hub.pid}`);
  const vMeter = cpuMeter(server, { hub: hub.pid });
  const vStart = monoUs();
  const v = await runJson<VerifyResult>('verify', VERIFY_LOAD, [JSON.stringify({ ...verifySpec, seconds: args.verifySeconds, skip: warm?.numbers_used ?? 0 } satisfies VerifySpec)], process.env);
  windows.push({ name: 'verify', start_us: vStart, end_us: monoUs() });
  const vCpu = vMeter.stop();
  const vWaits = await sampler.stop();
  const vStatements = await statementReport(url, v.completed);
  const perV = (x: number | null) => (x === null || v.completed === 0 ? null : (x * 1000) / v.completed);
  log(`verifications: ${int(v.verifications_per_s)}/s (${v.completed} in ${v.seconds.toFixed(1)} s), failures ${JSON.stringify(v.failures)}${v.numbers_exhausted ? ' — RAN OUT OF NUMBERS' : ''}`);

  const webhooks = await measureWebhooks(server, args, url, hubUrl, adminToken, hub, env);
  if (webhooks.ran) log(`webhooks: ${int(webhooks.deliveries_per_s!)}/s (${webhooks.seconds_to_all_delivered!.toFixed(1)} s for ${webhooks.events}), by the ${webhooks.dispatcher}`);

  await hub.stop();
  const loadAfter = loadavg();
  let hubProfile: WindowProfile[] | undefined;
  const out = resolve(ROOT, args.out);
  mkdirSync(dirname(out), { recursive: true });
  if (args.profileHub) {
    // The hub writes its profile as it exits; the tsx loader thread writes one too (the smaller).
    const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profileDir, f));
    const main = files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
    if (main) {
      hubProfile = summariseProfile(main, windows);
      copyFileSync(main, out.replace(/\.json$/, '') + '-hub.cpuprofile');
    } else {
      log('the hub left no CPU profile');
    }
  }
  const output: Output = {
    routes,
    verifications: {
      ...v, cpu: vCpu, pg_connections: vWaits, pg_statements: vStatements, hub_cpu_ms_per_verification: perV(vCpu.hub), pg_cpu_ms_per_verification: perV(vCpu.postgres),
    },
    webhooks,
    status_cache: { size: args.statusCacheSize, max_age_s: args.statusMaxAge, prefill },
  };
  let text = render(output, args);
  if (hubProfile) text += `\n${renderProfile(hubProfile)}\n`;
  process.stdout.write(`\n${text}`);
  writeFileSync(out, JSON.stringify({
    command: `npm run bench:platform -- ${process.argv.slice(2).join(' ')}`.trim(),
    started_at: started.toISOString(), finished_at: new Date().toISOString(), source: sourceState(),
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', memory_gib: totalmem() / 2 ** 30, node: process.version, kernel: release() },
    load_average: { before: loadBefore, after: loadAfter },
    postgres: { version: server.version, settings: server.settings },
    configuration: { args, hub_env: { ...BENCH_LIMITS, ...STATUS_CACHE_ENV(args), IDBIND_LOG_LEVEL: 'warn', IDBIND_OUTBOUND_ALLOW_LOOPBACK: '1' }, platform_limits: PLATFORM_LIMITS, hub_pool: HUB_POOL, baseline_pool: HUB_POOL },
    registry, seed, eligible_numbers: eligible.count,
    ...output,
    windows, hub_profile: hubProfile ?? null,
    table: text,
  }, null, 2) + '\n');
  log(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}`);
  log(`result written to ${out}`);
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  log(`bench:platform failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  code = 1;
} finally {
  await cleanUp();
}
process.exit(code);
