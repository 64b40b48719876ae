/**
 * Hub-side steps of the issue 3 benchmarks that need the key ring, each in its own process
 * (started by bench/platform/run.ts with the hub's DATABASE_URL and IDBIND_MASTER_KEY):
 *
 *   node --import tsx bench/platform/hub-child.ts eligible N OUT_FILE
 *     Up to N numbers of the imported registry that can verify an account now (the demo's own
 *     query, `demoEligibleNumbers`: active, holder alive and adult, no recent SIM or device
 *     change, not junk), written to OUT_FILE as a JSON array. Prints `{"count", "seconds"}`.
 *
 *   node --import tsx bench/platform/hub-child.ts dispatch
 *     The webhook dispatcher (`startWebhookDispatcher`, default options: what a hub process
 *     runs) for a server that does not start one itself. Prints `{"ready": true}`; on SIGTERM
 *     stops it, once claimed deliveries are recorded, and prints its counters.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { openHub } from '../../src/hub.ts';
import { demoEligibleNumbers } from '../../src/demo/demo-platforms.ts';
import { startWebhookDispatcher } from '../../src/events/webhook-dispatcher.ts';

async function main(argv: string[]): Promise<void> {
  const [mode, n, out] = argv;
  const hub = await openHub({ mode: 'production', log: (m) => process.stderr.write(`warning: ${m}\n`) });
  try {
    if (mode === 'eligible' && n && out) {
      const t0 = performance.now();
      const numbers = await demoEligibleNumbers(hub.pool, await hub.ring(), Number(n));
      writeFileSync(out, JSON.stringify(numbers));
      process.stdout.write(JSON.stringify({ count: numbers.length, seconds: (performance.now() - t0) / 1000 }) + '\n');
    } else if (mode === 'dispatch') {
      const dispatcher = startWebhookDispatcher({
        pool: hub.pool, ring: () => hub.ring(), outbound: { allowLoopback: hub.config.outboundAllowLoopback },
        log: { warn: (obj, msg) => process.stderr.write(`dispatcher: ${msg} ${JSON.stringify(obj)}\n`) },
      });
      process.stdout.write(JSON.stringify({ ready: true }) + '\n');
      await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
      await dispatcher.stop();
      process.stdout.write(JSON.stringify({ stats: dispatcher.stats() }) + '\n');
    } else {
      throw new Error(`usage: hub-child.ts eligible N OUT_FILE | dispatch (got: ${argv.join(' ')})`);
    }
  } finally {
    await hub.close();
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`hub child: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
