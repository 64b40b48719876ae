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
  /** Where the JSON result goes (relative to the working directory). */
  readonly out: string;
  readonly help: boolean;
}

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
  return {
    bindings: count(values.bindings, 'bindings', d.bindings, 1_000),
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
    out: values.out ?? DEFAULT_OUT,
    help: values.help ?? false,
  };
}
