/**
 * The platform's webhook endpoint of the webhook benchmark, in its own process (started by
 * bench/platform/run.ts):
 *
 *   node --import tsx bench/platform/receiver.ts '<JSON ReceiverSpec>'
 *
 * A node:http server on 127.0.0.1 answering 204 to every POST, as a platform's endpoint that
 * queues the event and answers at once. It counts requests and distinct `webhook-id`s (a
 * receiver's view is exactly once when it drops repeated ids), and checks the signature of every
 * `verifyEvery`-th delivery with the `standardwebhooks` reference library (all of them would
 * take CPU from the hub on a small machine).
 *
 * Prints `{"url"}` once listening, then `{"done": ReceiverStats}` as soon as `expected` distinct
 * ids have arrived; prints its stats on a `stats` line on stdin; stops on SIGTERM.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Webhook } from 'standardwebhooks';

export interface ReceiverSpec {
  expected: number;
  /** The provider's webhook secret (`whsec_...`), to check signatures. */
  secret: string;
  verifyEvery: number;
}

export interface ReceiverStats {
  requests: number;
  unique_ids: number;
  /** Requests whose webhook-id had already arrived (a retry the hub could not know had landed). */
  duplicates: number;
  signatures_checked: number;
  signatures_bad: number;
  /** Wall-clock ms since the epoch of the first request and of the one that made `expected` ids. */
  first_at: number | null;
  complete_at: number | null;
  /** CPU seconds of this receiver. */
  cpu_seconds: number;
}

const now = () => performance.timeOrigin + performance.now();

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as ReceiverSpec;
  const wh = new Webhook(spec.secret);
  const seen = new Set<string>();
  let requests = 0;
  let duplicates = 0;
  let checked = 0;
  let bad = 0;
  let firstAt: number | null = null;
  let completeAt: number | null = null;
  const stats = (): ReceiverStats => {
    const cpu = process.cpuUsage();
    return {
      requests, unique_ids: seen.size, duplicates, signatures_checked: checked, signatures_bad: bad,
      first_at: firstAt, complete_at: completeAt, cpu_seconds: (cpu.user + cpu.system) / 1e6,
    };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      firstAt ??= now();
      requests++;
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') {
        if (seen.has(id)) duplicates++;
        else seen.add(id);
      }
      if (requests % spec.verifyEvery === 0) {
        checked++;
        try {
          wh.verify(Buffer.concat(chunks).toString('utf8'), {
            'webhook-id': String(req.headers['webhook-id'] ?? ''),
            'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
            'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
          });
        } catch {
          bad++;
        }
      }
      res.writeHead(204).end();
      if (completeAt === null && seen.size >= spec.expected) {
        completeAt = now();
        process.stdout.write(JSON.stringify({ done: stats() }) + '\n');
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}/hooks` }) + '\n');
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'stats') process.stdout.write(JSON.stringify({ stats: stats() }) + '\n');
  });
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  server.closeAllConnections();
  server.close();
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`receiver: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
