/**
 * The load generator of full verifications, in its own process beside the hub (started by
 * bench/platform/run.ts):
 *
 *   node --import tsx bench/platform/verify-load.ts '<JSON VerifySpec>'
 *
 * `concurrency` loops, over keep-alive connections, each doing a whole verification as a
 * platform and its user would, one number after another from the list (each number used once):
 *
 * 1. `POST /v1/verifications` `{account_ref, phone}` with a fresh Idempotency-Key (a new account
 *    ref every time) → 201 `{id}`;
 * 2. `GET /v1/dev/sms-outbox?to=PHONE` → the code (the user reading the SMS; demo mode only, a
 *    production hub hands the code to a carrier's gateway instead);
 * 3. `POST /v1/verifications/{id}/confirm` `{code}` → 200 `{status: "verified"}`, the binding.
 *
 * The first `warmup` seconds are not counted. Then loops start verifications for `seconds`
 * seconds and finish the ones under way; the rate is completed verifications over the time until
 * the last one finished. Prints one JSON line (VerifyResult).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface VerifySpec {
  url: string;
  authorization: string;
  /** A JSON file holding an array of numbers that can verify. */
  numbersFile: string;
  concurrency: number;
  seconds: number;
  warmup: number;
  /** Numbers at the start of the list to leave alone (used by an earlier run). */
  skip?: number;
}

export interface StepLatency {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface VerifyResult {
  numbers: number;
  numbers_used: number;
  numbers_exhausted: boolean;
  warmup_completed: number;
  seconds: number;
  completed: number;
  verifications_per_s: number;
  /** Failures by step and answer (`start 429 RATE_LIMITED`); none is expected. */
  failures: Record<string, number>;
  /** Milliseconds per step, and of the whole verification. */
  latency_ms: { start: StepLatency; outbox: StepLatency; confirm: StepLatency; total: StepLatency };
  cpu_seconds: number;
}

interface Answer {
  status: number;
  body: string;
}

const CODE = /\b(\d{6})\b/;

function percentiles(xs: number[]): StepLatency {
  if (xs.length === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { count: s.length, mean: s.reduce((a, b) => a + b, 0) / s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1]! };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as VerifySpec;
  const numbers = JSON.parse(readFileSync(spec.numbersFile, 'utf8')) as string[];
  const base = new URL(spec.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });

  const request = (method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = http.request({
        host: base.hostname, port: base.port, method, path, agent,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });

  const auth = { authorization: spec.authorization };
  const run = randomUUID().slice(0, 8);
  let next = spec.skip ?? 0;
  let serial = 0;
  const failures: Record<string, number> = {};
  const fail = (step: string, a: Answer) => {
    let code = '';
    try {
      code = (JSON.parse(a.body) as { code?: string }).code ?? '';
    } catch {
      code = '';
    }
    const key = `${step} ${a.status} ${code}`.trim();
    failures[key] = (failures[key] ?? 0) + 1;
  };

  /** One whole verification; its step latencies, or undefined when a step failed. */
  async function verifyOne(phone: string): Promise<[number, number, number] | undefined> {
    const t0 = performance.now();
    const start = await request('POST', '/v1/verifications', { ...auth, 'idempotency-key': randomUUID() },
      JSON.stringify({ account_ref: `bench-${run}-${++serial}`, phone }));
    const t1 = performance.now();
    if (start.status !== 201) return void fail('start', start);
    const id = (JSON.parse(start.body) as { id: string }).id;
    const outbox = await request('GET', `/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}`, {});
    const t2 = performance.now();
    if (outbox.status !== 200) return void fail('outbox', outbox);
    const messages = JSON.parse(outbox.body) as { text: string }[];
    const code = CODE.exec(messages[messages.length - 1]?.text ?? '')?.[1];
    if (!code) return void fail('outbox', { status: 200, body: '{"code":"NO_CODE"}' });
    const confirm = await request('POST', `/v1/verifications/${id}/confirm`, auth, JSON.stringify({ code }));
    const t3 = performance.now();
    if (confirm.status !== 200 || (JSON.parse(confirm.body) as { status?: string }).status !== 'verified') return void fail('confirm', confirm);
    return [t1 - t0, t2 - t1, t3 - t2];
  }

  const steps: [number[], number[], number[]] = [[], [], []];
  const totals: number[] = [];
  let completed = 0;
  let counting = false;
  let stopAt = 0;
  let lastDone = 0;
  let warmupCompleted = 0;

  async function loop(): Promise<void> {
    while (performance.now() < stopAt && next < numbers.length) {
      const phone = numbers[next++]!;
      const counted = counting;
      let r: [number, number, number] | undefined;
      try {
        r = await verifyOne(phone);
      } catch (e) {
        failures[`network ${(e as { code?: string }).code ?? 'error'}`] = (failures[`network ${(e as { code?: string }).code ?? 'error'}`] ?? 0) + 1;
      }
      if (!r) continue;
      if (!counted) {
        warmupCompleted++;
        continue;
      }
      completed++;
      lastDone = performance.now();
      r.forEach((ms, i) => steps[i]!.push(ms));
      totals.push(r[0] + r[1] + r[2]);
    }
  }
  const loops = () => Promise.all(Array.from({ length: spec.concurrency }, loop));

  if (spec.warmup > 0) {
    stopAt = performance.now() + spec.warmup * 1000;
    await loops();
  }
  for (const k of Object.keys(failures)) delete failures[k];
  counting = true;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  stopAt = t0 + spec.seconds * 1000;
  await loops();
  const used = process.cpuUsage(cpu);
  const seconds = ((completed > 0 ? lastDone : performance.now()) - t0) / 1000;
  agent.destroy();
  const result: VerifyResult = {
    numbers: numbers.length,
    numbers_used: next - (spec.skip ?? 0),
    numbers_exhausted: next >= numbers.length,
    warmup_completed: warmupCompleted,
    seconds,
    completed,
    verifications_per_s: seconds > 0 ? completed / seconds : 0,
    failures,
    latency_ms: { start: percentiles(steps[0]), outbox: percentiles(steps[1]), confirm: percentiles(steps[2]), total: percentiles(totals) },
    cpu_seconds: (used.user + used.system) / 1e6,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`verify load: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
