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
import { demoRegistryDir, keepDemoRegistryPrivate, seedDemoRegistry } from './demo-seed.ts';

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
