/**
 * Demo data (issue 2: "on first start generates a synthetic demo registry"). Only in demo mode,
 * only into an empty registry: a synthetic population and carrier files from the project's own
 * generator, imported through the same pipeline as real files, then two reconciliation runs with
 * the carriers fixing part of their junk in between, so the dashboard shows a trend.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { generateRegistry, DEFAULT_AS_OF } from '../registry/generator/generate-registry.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { applySubscriptionEvents } from '../registry/subscription-events.ts';
import { startReconciliation, writeActionLists } from '../registry/reconciliation/reconciliation-service.ts';

export interface DemoSeedOptions {
  pool: pg.Pool;
  ring: KeyRing;
  dataDir: string;
  workers: number;
  people?: number;
  subscriptions?: number;
  log?: (line: string) => void;
}

export async function registryIsEmpty(pool: pg.Pool): Promise<boolean> {
  const r = await pool.query<{ empty: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM persons) AND NOT EXISTS (SELECT 1 FROM subscriptions) AS empty');
  return r.rows[0]!.empty;
}

export async function seedDemoRegistry(options: DemoSeedOptions): Promise<{ runs: string[] }> {
  const log = options.log ?? (() => undefined);
  const dir = join(options.dataDir, 'demo-registry');
  mkdirSync(dir, { recursive: true });
  const people = options.people ?? 20_000;
  const subscriptions = options.subscriptions ?? 24_000;
  log(`demo: generating a synthetic registry of ${people} people and ${subscriptions} subscriptions`);
  const rate = 0.02;
  const { report } = await generateRegistry({
    people, subscriptions, seed: 2026, asOf: DEFAULT_AS_OF, outDir: dir, format: 'csv', terminatedRate: 0.02,
    rates: { NO_HOLDER: rate, HOLDER_NOT_FOUND: rate, HOLDER_DATA_MISMATCH: rate, HOLDER_DECEASED: rate, ONLINE_BEYOND_LIMIT: rate },
  });
  const rejects = join(options.dataDir, 'rejects');
  await importRegistry({ pool: options.pool, ring: options.ring, kind: 'population', path: report.files.population, rejectsPath: join(rejects, 'demo-population.rejects.csv'), workers: options.workers, actor: 'demo' });
  for (const [carrier, path] of Object.entries(report.files)) {
    if (carrier === 'population') continue;
    await importRegistry({ pool: options.pool, ring: options.ring, kind: 'subscriptions', carrier, path, rejectsPath: join(rejects, `demo-${carrier}.rejects.csv`), workers: options.workers, actor: 'demo' });
  }
  log('demo: first reconciliation');
  const first = await (await startReconciliation(options.pool, options.ring, 'demo')).done;
  // The carriers act on their lists: each terminates a third of its numbers with no holder.
  const lists = await writeActionLists(options.pool, options.ring, first.run_id, join(dir, 'action-lists'), 'demo');
  for (const [carrier, path] of Object.entries(lists)) {
    const noHolder = readFileSync(path, 'utf8').split('\n').slice(1).filter((l) => l.endsWith(',NO_HOLDER'));
    const fixed = noHolder.slice(0, Math.ceil(noHolder.length / 3));
    if (fixed.length === 0) continue;
    const deltaPath = join(dir, `${carrier}-fixes.ndjson`);
    writeFileSync(deltaPath, fixed.map((l, i) => JSON.stringify({ event_id: `demo-fix-${i}`, type: 'terminated', msisdn: l.split(',')[0], at: '2026-01-02T09:00:00+07:00' })).join('\n') + '\n', { mode: 0o600 });
    await applySubscriptionEvents({ pool: options.pool, ring: options.ring, carrier, path: deltaPath, rejectsPath: join(rejects, `demo-${carrier}-fixes.rejects.csv`), actor: 'demo' });
  }
  log('demo: second reconciliation');
  const second = await (await startReconciliation(options.pool, options.ring, 'demo')).done;
  return { runs: [first.run_id, second.run_id] };
}
