/**
 * The demo's registry files (DATA_DIR/demo-registry/: the generated population and carrier files,
 * the carriers' fixes, the first run's action lists) are readable by their owner only, whatever
 * the umask: a plaintext registry, if a synthetic one, kept like the files the hub writes for
 * real data. A data directory seeded by an earlier version with 0644 files is tightened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { demoRegistryDir, demoRegistryNeedsSeeding, keepDemoRegistryPrivate, seedDemoRegistry } from './demo-seed.ts';
import { DEFAULT_AS_OF, generateRegistry } from '../registry/generator/generate-registry.ts';
import { importRegistry } from '../registry/import/import-service.ts';

let db: TestDatabase;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'idbind-demo-seed-'));
});
afterAll(async () => {
  await db.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every entry under `dir`, with its permission bits. */
function modes(dir: string): { path: string; kind: 'dir' | 'file' | 'link'; mode: number }[] {
  const out: { path: string; kind: 'dir' | 'file' | 'link'; mode: number }[] = [];
  const walk = (path: string): void => {
    const st = lstatSync(path);
    const kind = st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'file';
    out.push({ path, kind, mode: st.mode & 0o777 });
    if (kind === 'dir') for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return out;
}

describe('the demo registry directory', () => {
  it('holds the seeded files, each 0600, in 0700 directories, even with a permissive umask', async () => {
    const umask = process.umask(0o022);
    try {
      await seedDemoRegistry({ pool: db.pool, ring: db.ring, dataDir, workers: 1, people: 400, subscriptions: 480 });
    } finally {
      process.umask(umask);
    }
    const entries = modes(demoRegistryDir(dataDir));
    const files = entries.filter((e) => e.kind === 'file').map((e) => e.path.slice(demoRegistryDir(dataDir).length + 1));
    // What the demo imported, its carriers' fixes and the first run's action lists.
    expect(files).toEqual(expect.arrayContaining(['population.csv', 'viettel.csv', 'action-lists/viettel.csv']));
    expect(files.some((f) => f.endsWith('-fixes.ndjson'))).toBe(true);
    for (const e of entries) expect(e.mode.toString(8), e.path).toBe(e.kind === 'dir' ? '700' : '600');
  });

  it('tightens a directory left with 0644 files, and leaves a symbolic link and its target alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idbind-demo-old-'));
    try {
      const registry = demoRegistryDir(dir);
      mkdirSync(join(registry, 'action-lists'), { recursive: true });
      chmodSync(registry, 0o755);
      writeFileSync(join(registry, 'population.csv'), 'personal_id\n', { mode: 0o644 });
      writeFileSync(join(registry, 'action-lists', 'viettel.csv'), 'msisdn\n', { mode: 0o644 });
      const outside = join(dir, 'outside.txt');
      writeFileSync(outside, 'not ours\n', { mode: 0o644 });
      chmodSync(outside, 0o644);
      symlinkSync(outside, join(registry, 'link.csv'));
      keepDemoRegistryPrivate(dir);
      for (const e of modes(registry)) if (e.kind !== 'link') expect(e.mode.toString(8), e.path).toBe(e.kind === 'dir' ? '700' : '600');
      expect((lstatSync(outside).mode & 0o777).toString(8)).toBe('644');
      // No demo directory at all (a production data directory): nothing to do, no error.
      expect(() => keepDemoRegistryPrivate(join(dir, 'nowhere'))).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('whether a demo start seeds the registry', () => {
  it("seeds an empty registry and one its own stopped seeding left, never a registry imported otherwise (the platform bench's)", async () => {
    const other = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'idbind-demo-needs-'));
    try {
      expect(await demoRegistryNeedsSeeding(other.pool, dir)).toBe(true);
      // A registry imported with `idbind import` (the platform bench serves --demo on one), never reconciled.
      const files = join(dir, 'imported');
      const { report } = await generateRegistry({ people: 50, subscriptions: 60, seed: 7, asOf: DEFAULT_AS_OF, outDir: files, format: 'csv', terminatedRate: 0, rates: { NO_HOLDER: 0, HOLDER_NOT_FOUND: 0, HOLDER_DATA_MISMATCH: 0, HOLDER_DECEASED: 0, ONLINE_BEYOND_LIMIT: 0 } });
      await importRegistry({ pool: other.pool, ring: other.ring, kind: 'population', path: report.files.population, rejectsPath: join(dir, 'rejects.csv'), workers: 1 });
      expect(await demoRegistryNeedsSeeding(other.pool, dir)).toBe(false);
      // The same, with the demo's generated files beside it: a demo seeding stopped before its first reconciliation.
      mkdirSync(demoRegistryDir(dir), { recursive: true });
      writeFileSync(join(demoRegistryDir(dir), 'population.csv'), 'personal_id\n');
      expect(await demoRegistryNeedsSeeding(other.pool, dir)).toBe(true);
    } finally {
      await other.drop();
      rmSync(dir, { recursive: true, force: true });
    }
    // The first test's demo, seeded to the end.
    expect(await demoRegistryNeedsSeeding(db.pool, dataDir)).toBe(false);
  }, 120_000);
});
