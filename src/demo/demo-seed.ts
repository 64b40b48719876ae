/**
 * Demo data (issue 2: "on first start generates a synthetic demo registry"). Only in demo mode,
 * only into an empty registry, or one a seeding stopped half-way (demoRegistryNeedsSeeding): a
 * synthetic population and carrier files from the project's own generator, imported through the
 * same pipeline as real files, then two reconciliation runs with the carriers fixing part of their
 * junk in between, so the dashboard shows a trend.
 *
 * The generated files stay in DATA_DIR/demo-registry/ (the files the demo imported, the carriers'
 * fixes and the first run's action lists; the hub does not read them again). They are synthetic,
 * but they are a plaintext registry of the shape real data has, so they are kept like the files
 * the hub writes for real data: the directory 0700, every file 0600 (kernel/private-file.ts).
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { generateRegistry, DEFAULT_AS_OF } from '../registry/generator/generate-registry.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { applySubscriptionEvents } from '../registry/subscription-events.ts';
import { startReconciliation, writeActionLists } from '../registry/reconciliation/reconciliation-service.ts';
import { writePrivateFileSync } from '../kernel/private-file.ts';

/** Where the demo keeps its generated registry files. */
export function demoRegistryDir(dataDir: string): string {
  return join(dataDir, 'demo-registry');
}

/**
 * Makes the demo's registry directory and everything in it owner-only: directories 0700, files
 * 0600. Run after the generator has written its files (it writes them with the default mode,
 * inside the directory already made 0700) and at every demo start, for a data directory seeded
 * by an earlier version with 0644 files. Symbolic links are left alone (chmod would follow them).
 */
export function keepDemoRegistryPrivate(dataDir: string): void {
  const tighten = (path: string): void => {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st === undefined || st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      chmodSync(path, 0o700);
      for (const name of readdirSync(path)) tighten(join(path, name));
    } else if (st.isFile()) {
      chmodSync(path, 0o600);
    }
  };
  tighten(demoRegistryDir(dataDir));
}

export interface DemoSeedOptions {
  pool: pg.Pool;
  ring: KeyRing;
  dataDir: string;
  workers: number;
  people?: number;
  subscriptions?: number;
  log?: (line: string) => void;
}

/**
 * Whether a demo start has the registry to seed: empty, or holding what a seeding stopped half-way
 * left: the demo's generated files in the data directory and no reconciliation run completed yet
 * (the seeding's imports and fixes are idempotent, so it runs again over it). A Ctrl-C during the
 * first start's seeding used to leave a demo that every later start took as seeded: part of the
 * population and no subscription, no number to verify. A registry imported otherwise and never
 * reconciled (the platform bench serves --demo on one, bench/platform/run.ts) is not the demo's.
 */
export async function demoRegistryNeedsSeeding(pool: pg.Pool, dataDir: string): Promise<boolean> {
  const r = await pool.query<{ empty: boolean; reconciled: boolean }>(
    `SELECT NOT EXISTS (SELECT 1 FROM persons) AND NOT EXISTS (SELECT 1 FROM subscriptions) AS empty,
            EXISTS (SELECT 1 FROM reconciliation_runs WHERE status = 'completed') AS reconciled`,
  );
  const { empty, reconciled } = r.rows[0]!;
  return empty || (!reconciled && existsSync(join(demoRegistryDir(dataDir), 'population.csv')));
}

export async function seedDemoRegistry(options: DemoSeedOptions): Promise<{ runs: string[] }> {
  const log = options.log ?? (() => undefined);
  const dir = demoRegistryDir(options.dataDir);
  // 0700 before the generator writes into it: its files are reachable by the owner only from the start.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const people = options.people ?? 20_000;
  const subscriptions = options.subscriptions ?? 24_000;
  log(`demo: generating a synthetic registry of ${people} people and ${subscriptions} subscriptions`);
  const rate = 0.02;
  const { report } = await generateRegistry({
    people, subscriptions, seed: 2026, asOf: DEFAULT_AS_OF, outDir: dir, format: 'csv', terminatedRate: 0.02,
    rates: { NO_HOLDER: rate, HOLDER_NOT_FOUND: rate, HOLDER_DATA_MISMATCH: rate, HOLDER_DECEASED: rate, ONLINE_BEYOND_LIMIT: rate },
  });
  keepDemoRegistryPrivate(options.dataDir);
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
    writePrivateFileSync(deltaPath, fixed.map((l, i) => JSON.stringify({ event_id: `demo-fix-${i}`, type: 'terminated', msisdn: l.split(',')[0], at: '2026-01-02T09:00:00+07:00' })).join('\n') + '\n');
    await applySubscriptionEvents({ pool: options.pool, ring: options.ring, carrier, path: deltaPath, rejectsPath: join(rejects, `demo-${carrier}-fixes.rejects.csv`), actor: 'demo' });
  }
  log('demo: second reconciliation');
  const second = await (await startReconciliation(options.pool, options.ring, 'demo')).done;
  keepDemoRegistryPrivate(options.dataDir); // the action lists' directory too
  return { runs: [first.run_id, second.run_id] };
}
