/**
 * The load generator of the HTTP route measurements, in its own process beside the servers
 * (started by bench/platform/run.ts):
 *
 *   node --import tsx bench/platform/http-load.ts '<JSON LoadSpec>'
 *
 * Runs autocannon against one route: first `warmup` seconds that are not counted (JIT, caches,
 * connections), then `duration` seconds measured. Every request picks a random account among
 * the `bindings` bound by the bench (`acct-1` ... `acct-N`): the status route asks for its ref,
 * the lookup baseline for its row id (md5 of the ref as a uuid, as bench/platform/seed.ts
 * stores it), the constant baseline ignores it. The status route picks uniformly by default, or
 * by a Zipf law (`pattern: 'zipf'`, s = 1: the account of rank k is asked for in proportion to
 * 1/k, ranks spread over the refs by a fixed permutation), a platform re-reading its active users.
 * Prints one JSON line (LoadResult).
 */
import { createHash } from 'node:crypto';
import autocannon from 'autocannon';
import { zipfSampler } from './zipf.ts';

export type RouteKind = 'constant' | 'row' | 'status';

export interface LoadSpec {
  kind: RouteKind;
  url: string;
  connections: number;
  duration: number;
  warmup: number;
  bindings: number;
  /** `Authorization` header value (the status route). */
  authorization?: string;
  /** Which accounts the status route asks for (default uniform). */
  pattern?: 'uniform' | 'zipf';
}

export interface LoadResult {
  kind: RouteKind;
  seconds: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  requests_per_s: number;
  /** Latency in milliseconds (autocannon's histogram). */
  latency_ms: { mean: number; p50: number; p90: number; p99: number; p99_9: number; max: number };
  /** CPU seconds of this load generator during the measured part. */
  cpu_seconds: number;
}

/** The row id of account `acct-i`: the uuid form of md5('acct-i'), as the seed SQL computes it. */
export function accountRowId(ref: string): string {
  const h = createHash('md5').update(ref).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function pathFor(spec: LoadSpec): () => string {
  const zipf = spec.pattern === 'zipf' ? zipfSampler(spec.bindings) : undefined;
  const ref = zipf ? () => `acct-${zipf()}` : () => `acct-${1 + Math.floor(Math.random() * spec.bindings)}`;
  switch (spec.kind) {
    case 'constant': return () => '/c';
    case 'row': return () => `/row/${accountRowId(ref())}`;
    case 'status': return () => `/v1/accounts/${ref()}`;
  }
}

async function run(spec: LoadSpec, seconds: number): Promise<autocannon.Result> {
  const path = pathFor(spec);
  return autocannon({
    url: spec.url,
    connections: spec.connections,
    pipelining: 1,
    duration: seconds,
    headers: spec.authorization ? { authorization: spec.authorization } : {},
    // A fresh random path for every request (autocannon calls this before each one).
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: path() }) }],
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  if (spec.warmup > 0) await run(spec, spec.warmup);
  const cpu = process.cpuUsage();
  const r = await run(spec, spec.duration);
  const used = process.cpuUsage(cpu);
  const ok = r['2xx'];
  const result: LoadResult = {
    kind: spec.kind,
    seconds: r.duration,
    requests: r.requests.total,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    requests_per_s: ok / r.duration,
    latency_ms: { mean: r.latency.mean, p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, p99_9: r.latency.p99_9, max: r.latency.max },
    cpu_seconds: (used.user + used.system) / 1e6,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`http load: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
