/**
 * Arguments of `npm run bench:platform` (bench/platform/run.ts), the issue 3 benchmarks. Kept
 * apart from run.ts so that the parsing is tested without starting anything.
 */
import { parseArgs } from 'node:util';

export interface PlatformBenchArgs {
  /** Accounts bound before the status measurement (issue 3: 1 M). */
  readonly bindings: number;
  /** People in the imported registry (1.2 subscriptions each): the numbers that can verify. */
  readonly registry: number;
  /** Seconds each HTTP route is measured, after `warmup` seconds that are not counted. */
  readonly duration: number;
  readonly warmup: number;
  /** autocannon connections for the status route and both baselines (issue 3: 50). */
  readonly connections: number;
  /** Seconds of full verifications, and how many run at once. */
  readonly verifySeconds: number;
  readonly verifyConcurrency: number;
  /** Webhook events delivered to the local receiver (0: skip the measurement). */
  readonly webhooks: number;
  readonly quick: boolean;
  /**
   * PostgreSQL settings for the bench database (`--pg-setting synchronous_commit=off`), for
   * experiments that show what a setting costs; the recorded figures use none.
   */
  readonly pgSettings: readonly (readonly [string, string])[];
  /** Run the hub under `node --cpu-prof` and say where its CPU went in each measurement. */
  readonly profileHub: boolean;
  /** The status route's access patterns measured, each a row: uniform over the accounts, Zipf (s = 1), or both. */
  readonly statusPatterns: readonly StatusPattern[];
  /** The hub's status cache size (`IDBIND_STATUS_CACHE_SIZE`): by default the bindings and a margin, so that all fit. */
  readonly statusCacheSize: number;
  /** The hub's status cache maximum age in seconds (`IDBIND_STATUS_CACHE_MAX_AGE_SECONDS`). */
  readonly statusMaxAge: number;
  /** How long the bench waits for the cache's warm start before measuring anyway, in seconds. */
  readonly prefillTimeout: number;
  /** Where the JSON result goes (relative to the working directory). */
  readonly out: string;
  readonly help: boolean;
}

export type StatusPattern = 'uniform' | 'zipf';
export const STATUS_PATTERNS: readonly StatusPattern[] = ['uniform', 'zipf'];
/** Entries the hub's status cache holds beyond the bindings: the demo platforms' and the verifications' accounts. */
export const STATUS_CACHE_MARGIN = 10_000;
/**
 * The status cache's maximum age in the bench: longer than the time from the warm start to the end
 * of the status rows (the baselines are measured in between), so that the rows measure the cache,
 * not its expiry (docs/status-cache.md "Size and maximum age go together").
 */
export const STATUS_MAX_AGE = 600;

export const FULL = { bindings: 1_000_000, registry: 100_000, duration: 20, warmup: 3, verifySeconds: 30, webhooks: 100_000 } as const;
export const QUICK = { bindings: 100_000, registry: 20_000, duration: 5, warmup: 2, verifySeconds: 5, webhooks: 10_000 } as const;
export const DEFAULT_OUT = '.tmp/bench-platform.json';

export const PLATFORM_BENCH_HELP = `Usage: npm run bench:platform -- [--quick] [options]

The issue 3 benchmarks in one run, on a fresh embedded PostgreSQL: a bare Fastify route returning a
constant and one doing a prepared primary-key lookup (the baselines), GET /v1/accounts/{ref} over
the bound accounts, full verifications per second through the demo SMS outbox, and webhook
deliveries per second to a local receiver. The hub runs as \`idbind serve --demo\`; the load
generators, the baselines and the receiver each run in their own process. Prints a table and
writes the figures as JSON.

The status rows: the hub is restarted once the bindings are seeded (as a hub starting on a database
that holds them), with a status cache large enough for all of them (IDBIND_STATUS_CACHE_PREFILL=1,
see --status-cache-size and --status-max-age); the bench waits until its warm start has loaded the
bindings (the hub's idbind_account_status_cache_entries) and reports how long that took. Each
status row shows the cache hit ratio of its measured seconds (the hub's
idbind_account_status_cache_reads_total before and after).

Options:
  --quick              a smoke run: ${QUICK.bindings} bindings, a ${QUICK.registry}-person registry,
                       ${QUICK.duration} s per route, ${QUICK.verifySeconds} s of verifications, ${QUICK.webhooks} webhooks
  --bindings N         accounts bound before the status measurement (default ${FULL.bindings}; k and m allowed)
  --registry N         people in the imported registry (default ${FULL.registry})
  --duration S         seconds per HTTP route measured (default ${FULL.duration}), after --warmup S (default ${FULL.warmup})
  --connections N      autocannon connections (default 50)
  --verify-seconds S   seconds of full verifications (default ${FULL.verifySeconds})
  --verify-concurrency N  verifications in flight at once (default 64)
  --webhooks N         webhook events to deliver (default ${FULL.webhooks}; 0 skips)
  --status-pattern P   which accounts GET /v1/accounts/{ref} asks for: uniform (each of the bindings
                       alike), zipf (Zipf s = 1 over the bindings: platforms re-reading their active
                       users; the top 1 % of accounts take about two thirds of the reads) or both
                       (default: both, one row each)
  --status-cache-size N  the hub's IDBIND_STATUS_CACHE_SIZE (default: the bindings + ${STATUS_CACHE_MARGIN}, so all fit)
  --status-max-age S   the hub's IDBIND_STATUS_CACHE_MAX_AGE_SECONDS (default ${STATUS_MAX_AGE}: longer than
                       from the warm start to the last status row)
  --prefill-timeout S  the longest wait for the cache's warm start before measuring (default 600)
  --pg-setting N=V     an experiment: PostgreSQL setting N = V for the bench database (repeatable;
                       e.g. synchronous_commit=off); the recorded figures use none
  --profile-hub        run the hub under node --cpu-prof (a few per cent slower) and report where its
                       CPU went in each measurement; the profile is kept beside the JSON result
  --out FILE           the JSON result (default ${DEFAULT_OUT})
  -h, --help           this help`;

export class PlatformArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlatformArgsError';
  }
}

/** `1m` → 1,000,000; `100k` → 100,000; `2500` → 2,500. */
export function parseCount(raw: string, what: string, min: number): number {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(raw.trim());
  if (!m) throw new PlatformArgsError(`--${what} takes a whole number with an optional k or m; got '${raw}'`);
  const unit = m[2]!.toLowerCase();
  const n = Math.round(Number(m[1]) * (unit === 'm' ? 1_000_000 : unit === 'k' ? 1_000 : 1));
  if (!Number.isSafeInteger(n) || n < min) throw new PlatformArgsError(`--${what} must be at least ${min}; got '${raw}'`);
  return n;
}

export function parsePlatformArgs(argv: readonly string[]): PlatformBenchArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      options: {
        quick: { type: 'boolean' },
        bindings: { type: 'string' },
        registry: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        connections: { type: 'string' },
        'verify-seconds': { type: 'string' },
        'verify-concurrency': { type: 'string' },
        webhooks: { type: 'string' },
        'pg-setting': { type: 'string', multiple: true },
        'profile-hub': { type: 'boolean' },
        'status-pattern': { type: 'string' },
        'status-cache-size': { type: 'string' },
        'status-max-age': { type: 'string' },
        'prefill-timeout': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new PlatformArgsError((e as Error).message);
  }
  const quick = values.quick ?? false;
  const d = quick ? QUICK : FULL;
  const count = (raw: string | undefined, what: string, fallback: number, min: number) => (raw === undefined ? fallback : parseCount(raw, what, min));
  if (values.out === '') throw new PlatformArgsError('--out needs a file name');
  const pgSettings = (values['pg-setting'] ?? []).map((raw) => {
    // Names and values go into ALTER DATABASE ... SET: only plain identifiers and simple values.
    const m = /^([a-z_][a-z0-9_.]*)=([A-Za-z0-9_.-]+)$/.exec(raw);
    if (!m) throw new PlatformArgsError(`--pg-setting takes NAME=VALUE with a plain name and value; got '${raw}'`);
    return [m[1]!, m[2]!] as const;
  });
  const pattern = values['status-pattern'] ?? 'both';
  if (pattern !== 'both' && !STATUS_PATTERNS.includes(pattern as StatusPattern)) {
    throw new PlatformArgsError(`--status-pattern takes uniform, zipf or both; got '${pattern}'`);
  }
  const bindings = count(values.bindings, 'bindings', d.bindings, 1_000);
  const statusMaxAge = count(values['status-max-age'], 'status-max-age', STATUS_MAX_AGE, 1);
  if (statusMaxAge > 3600) throw new PlatformArgsError(`--status-max-age is at most 3600 (the hub's limit); got ${statusMaxAge}`);
  return {
    bindings,
    // The generator needs at least 1,000 people; the verifications need numbers to spare.
    registry: count(values.registry, 'registry', d.registry, 1_000),
    duration: count(values.duration, 'duration', d.duration, 1),
    warmup: count(values.warmup, 'warmup', d.warmup, 0),
    connections: count(values.connections, 'connections', 50, 1),
    verifySeconds: count(values['verify-seconds'], 'verify-seconds', d.verifySeconds, 1),
    verifyConcurrency: count(values['verify-concurrency'], 'verify-concurrency', 64, 1),
    webhooks: count(values.webhooks, 'webhooks', d.webhooks, 0),
    quick,
    pgSettings,
    profileHub: values['profile-hub'] ?? false,
    statusPatterns: pattern === 'both' ? STATUS_PATTERNS : [pattern as StatusPattern],
    statusCacheSize: count(values['status-cache-size'], 'status-cache-size', bindings + STATUS_CACHE_MARGIN, 0),
    statusMaxAge,
    prefillTimeout: count(values['prefill-timeout'], 'prefill-timeout', 600, 0),
    out: values.out ?? DEFAULT_OUT,
    help: values.help ?? false,
  };
}
