/**
 * Key rotation, adversarial review 2 (issue 2 "idbind keys"; DESIGN.md invariant 2; docs/keys.md):
 * a background pass whose ring a second rotation made stale, the name rules of blind-index
 * versions across a rotation, and what `keys status` says. Each test builds its own database.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
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
import { createAuthority, createOfficial } from '../officials/official-service.ts';
import { CURRENT_NAME_RULE } from '../registry/name-match.ts';
import { ELIGIBILITY_CANDIDATE_SQL, numberKeys, type EligibilityCandidate } from '../verification/phone-eligibility.ts';
import { addKeyVersion, completeKeyWork, keyStatus } from './key-rotation-service.ts';

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

/** `idbind keys status`, the real binary, on this database. */
function keysStatusText(): string {
  const bin = new URL('../../bin/idbind.js', import.meta.url).pathname;
  const { PATH, HOME } = process.env;
  const r = spawnSync(process.execPath, [bin, 'keys', 'status'], {
    env: { PATH, HOME, DATABASE_URL: db!.url, IDBIND_MASTER_KEY: db!.master.key.toString('base64'), IDBIND_DATA_DIR: join(dir!, 'data') },
    encoding: 'utf8', timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
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

  it('keys status --json says which name rule a rotation would apply, as its text does', async () => {
    await setup();
    await db!.pool.query(`UPDATE key_versions SET name_rule = 1 WHERE purpose = 'blind_index'`);
    const status = await keyStatus(db!.pool, [db!.master]);
    expect(status.blind_index_keys).toEqual([expect.objectContaining({ version: 1, state: 'current', name_rule: 1 })]);
    // Before the fix the JSON held the versions' rules but not the latest one, so a script could
    // not tell that `keys rotate --blind-index` would change how names are matched.
    expect(status).toMatchObject({ latest_name_rule: CURRENT_NAME_RULE });
  });

  it('keys status says what holds a replaced version back when no row uses it: an open invitation, an open carrier job', async () => {
    await setup();
    const authority = await createAuthority(db!.pool, { name: 'Cục Test', kind: 'regulator' });
    await createOfficial(db!.pool, db!.ring, 'https://hub.example', { authorityId: authority.id, name: 'Cán bộ Test', roles: ['requester'] });
    await db!.pool.query(`INSERT INTO providers (id, name, kind, carrier_id) VALUES (gen_random_uuid(), 'Viettel', 'carrier', (SELECT id FROM carriers WHERE slug = 'viettel'))`);
    await db!.pool.query(`INSERT INTO carrier_jobs (id, provider_id, kind, format, status, bytes_total) SELECT gen_random_uuid(), id, 'subscriptions', 'csv', 'queued', 1 FROM providers`);
    await addKeyVersion(db!.pool, db!.master, 'blind_index');
    await addKeyVersion(db!.pool, db!.master, 'data');
    const ring = await loadKeyRing(db!.pool, [db!.master]);
    const result = await completeKeyWork(db!.pool, ring, 'test', undefined, { retireGraceMs: 0 });
    expect(result.retired).toEqual([]);
    const status = await keyStatus(db!.pool, [db!.master]);
    // Both v1 are kept (keyVersionInUse), rightly; before the fix status showed them used by 0
    // rows with nothing pending, and nothing said why they were not retired.
    expect(status.pending).toMatchObject({ reencrypt_rows: 0, reindex_rows: 0, open_codes: 0, open_invitations: 1, open_carrier_jobs: 1 });
    expect(keysStatusText()).toContain('older versions kept for: 1 open official invitation(s), 1 open carrier job(s)');
  });

  it('half-way through a rotation from rule 1 to the latest rule, each holder compares under one rule: a matching holder never looks mismatched', async () => {
    await setup();
    await db!.pool.query('TRUNCATE persons, subscriptions CASCADE');
    await db!.pool.query(`UPDATE key_versions SET name_rule = 1 WHERE purpose = 'blind_index'`);
    const old = await loadKeyRing(db!.pool, [db!.master]);
    const ETH = '\u00d0';
    writeFileSync(join(dir!, 'p.csv'), 'personal_id,full_name,birth_date,sex,status\n'
      + `${pid(1)},Đặng Thị Hoa,1975-06-01,F,alive\n${pid(2)},Đỗ Thị Nam,1975-06-01,F,alive\n${pid(3)},Đinh Thị Lan,1975-06-01,F,alive\n`);
    writeFileSync(join(dir!, 's.csv'), 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status\n'
      + `0981234561,${pid(1)},${ETH}ẶNG THỊ HOA,1975-06-01,store,2022-01-01,active\n`
      + `0981234562,${pid(2)},ĐỖ THỊ NAM,1975-06-01,store,2022-01-01,active\n`
      + `0981234563,${pid(3)},${ETH}inh Thị Lan,1975-06-01,store,2022-01-01,active\n`);
    await importPersons(old);
    await importRegistry({ pool: db!.pool, ring: old, kind: 'subscriptions', carrier: 'viettel', path: join(dir!, 's.csv'), rejectsPath: join(dir!, 'r-s2'), workers: 1 });
    const mismatched = async (ring: KeyRing) => {
      const out: boolean[] = [];
      for (const n of [1, 2, 3]) {
        const r = await db!.pool.query<EligibilityCandidate>(ELIGIBILITY_CANDIDATE_SQL, [numberKeys(ring, `+8498123456${n}`)]);
        expect(r.rows[0]?.person_id, `holder ${n} found`).toBeTruthy();
        out.push(r.rows[0]!.mismatched);
      }
      return out;
    };
    // Rule 1: the two holders written with Ð are mismatched, the plain one is not.
    expect(await mismatched(old)).toEqual([true, false, true]);
    await addKeyVersion(db!.pool, db!.master, 'blind_index');
    const ring = await loadKeyRing(db!.pool, [db!.master]);
    // Interrupted after the first person (with the subscription it holds) moved to v2, the latest rule (Ð folds as Đ from rule 2 on).
    await expect(completePendingReindex(db!.pool, ring, () => { throw new Error('interrupted'); }, { batchSize: 1 })).rejects.toThrow('interrupted');
    const versions = await db!.pool.query<{ v: number; n: number }>(
      'SELECT bidx_version AS v, count(*)::int AS n FROM (SELECT bidx_version FROM persons UNION ALL SELECT bidx_version FROM subscriptions) x GROUP BY 1 ORDER BY 1');
    expect(versions.rows).toEqual([{ v: 1, n: 4 }, { v: 2, n: 2 }]);
    // Each pair compares under its own version's rule: the moved Ð holder matches, the others as before.
    expect(await mismatched(ring)).toEqual([false, false, true]);
    // An import run in the mixed state brings every row to the latest rule first, and finds every row.
    expect(await importRegistry({ pool: db!.pool, ring, kind: 'subscriptions', carrier: 'viettel', path: join(dir!, 's.csv'), rejectsPath: join(dir!, 'r-s3'), workers: 1 }))
      .toMatchObject({ accepted: 0, unchanged: 3 });
    expect(await mismatched(ring)).toEqual([false, false, false]);
  });
});
