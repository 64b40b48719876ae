/**
 * Key rotation, adversarial review 2 (issue 2 "idbind keys"; DESIGN.md invariant 2; docs/keys.md):
 * a background pass whose ring a second rotation made stale, the name rules of blind-index
 * versions across a rotation, and what `keys status` says. Each test builds its own database.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { createPool } from '../kernel/db/pool.ts';
import { loadKeyRing, type KeyRing } from '../kernel/crypto/key-ring.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { composePersonalId } from '../registry/personal-id.ts';
import { completePendingReencryption, completePendingReindex } from '../registry/reindex.ts';
import { addKeyVersion } from './key-rotation-service.ts';

const pid = (n: number) => composePersonalId('031', 1975, 'F', n);
const PERSONS = 'personal_id,full_name,birth_date,sex,status\n'
  + [1, 2, 3].map((n) => `${pid(n)},Bùi Thị Mai,1975-06-01,F,alive\n`).join('');
const SUBS = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status\n'
  + [1, 2, 3].map((n) => `098123456${n},${pid(n)},Bùi Thị Mai,1975-06-01,store,2022-01-01,active\n`).join('');

let db: TestDatabase | undefined;
let dir: string | undefined;
const pools: pg.Pool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.end();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  db = undefined;
  dir = undefined;
});

async function setup(): Promise<TestDatabase> {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-keys-review2-'));
  writeFileSync(join(dir, 'p.csv'), PERSONS);
  writeFileSync(join(dir, 's.csv'), SUBS);
  await importPersons(db.ring);
  await importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier: 'viettel', path: join(dir, 's.csv'), rejectsPath: join(dir, 'r-s'), workers: 1 });
  return db;
}

function importPersons(ring: KeyRing, onRunStarted?: () => Promise<void>) {
  return importRegistry({ pool: db!.pool, ring, kind: 'population', path: join(dir!, 'p.csv'), rejectsPath: join(dir!, `r-${Math.random()}`), workers: 1, onRunStarted });
}

async function personCount(): Promise<number> {
  return (await db!.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM persons')).rows[0]!.n;
}

/**
 * Starts a background-style pass (`run`) on a pool of one connection and pauses it after its first
 * batch: the connection it needs for the next is held until `resume` is called.
 */
async function pausedPass(run: (pool: pg.Pool, onProgress: () => void) => Promise<number>) {
  const pool = createPool(db!.url, 1);
  pools.push(pool);
  let held: Promise<pg.PoolClient> | undefined;
  let paused!: () => void;
  const atPause = new Promise<void>((r) => { paused = r; });
  const done = run(pool, () => {
    if (held) return;
    held = pool.connect();
    paused();
  }).then((n) => ({ n }), (e: unknown) => ({ error: e as Error }));
  await atPause;
  const client = await held!;
  return { done, resume: () => client.release() };
}

describe('key rotation, review 2', () => {
  it('a re-index pass whose ring a second rotation made stale does not move rows back to the older version under a running import', async () => {
    await setup();
    await addKeyVersion(db!.pool, db!.master, 'blind_index');
    const ringV2 = await loadKeyRing(db!.pool, [db!.master]);
    // The server's background pass (completeKeyWork, skipLocked), after its first batch...
    const pass = await pausedPass((pool, onProgress) => completePendingReindex(pool, ringV2, onProgress, { skipLocked: true, batchSize: 1 }));
    // ... meets a second rotation (the pass holds no key-version lock, so it is not refused)...
    await addKeyVersion(db!.pool, db!.master, 'blind_index');
    const ringV3 = await loadKeyRing(db!.pool, [db!.master]);
    // ... and an import, which re-indexes every row to v3 before it starts, then probes by v3.
    await importPersons(ringV3, async () => {
      pass.resume();
      await pass.done;
    });
    // Before the fix: the stale pass moved persons 2 and 3 back to v2 behind the import's start
    // re-index; the import did not find them by their v3 index and inserted them a second time.
    expect(await personCount()).toBe(3);
    const versions = await db!.pool.query<{ v: number }>('SELECT DISTINCT bidx_version AS v FROM persons');
    expect(versions.rows.map((x) => x.v)).toEqual([3]);
    expect(await pass.done).toMatchObject({ error: expect.objectContaining({ message: expect.stringMatching(/key ring is out of date/) }) });
  });

  it('a re-encryption pass whose ring a second rotation made stale does not seal rows back under the older data key', async () => {
    await setup();
    await addKeyVersion(db!.pool, db!.master, 'data');
    const ringV2 = await loadKeyRing(db!.pool, [db!.master]);
    const pass = await pausedPass((pool, onProgress) => completePendingReencryption(pool, ringV2, onProgress));
    await addKeyVersion(db!.pool, db!.master, 'data');
    const ringV3 = await loadKeyRing(db!.pool, [db!.master]);
    expect(await completePendingReencryption(db!.pool, ringV3)).toBeGreaterThan(0);
    pass.resume();
    await pass.done;
    // Before the fix: the tables after the pass's first batch (the subscriptions) were sealed again
    // under v2, which the rotation had replaced (and which a retirement could destroy meanwhile).
    const versions = await db!.pool.query<{ v: number }>('SELECT DISTINCT dek_version AS v FROM persons UNION SELECT DISTINCT dek_version FROM subscriptions');
    expect(versions.rows.map((x) => x.v)).toEqual([3]);
    expect(await pass.done).toMatchObject({ error: expect.objectContaining({ message: expect.stringMatching(/key ring is out of date/) }) });
  });
});
