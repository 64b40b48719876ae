import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, randomMasterKey, type TestDatabase } from '../../test/support/database.ts';
import { loadKeyRing } from '../kernel/crypto/key-ring.ts';
import { associatedData, openRecord } from '../kernel/crypto/envelope.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { findLiveSubscriptionsByMsisdn, findPersonIdByPersonalId } from '../registry/registry-lookup.ts';
import { composePersonalId } from '../registry/personal-id.ts';
import { addKeyVersion, completeKeyWork, keyStatus, retireUnusedKeys, rotateMasterKey } from './key-rotation-service.ts';

let db: TestDatabase;
let dir: string;
const pid = composePersonalId('031', 1975, 'F', 77);

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-keys-'));
  writeFileSync(join(dir, 'p.csv'), `personal_id,full_name,birth_date,sex,status\n${pid},Bùi Thị Mai,1975-06-01,F,alive\n`);
  writeFileSync(join(dir, 's.csv'), `msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status\n0981234567,${pid},Bùi Thị Mai,1975-06-01,store,2022-01-01,active\n`);
  await importRegistry({ pool: db.pool, ring: db.ring, kind: 'population', path: join(dir, 'p.csv'), rejectsPath: join(dir, 'r1'), workers: 1 });
  await importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier: 'viettel', path: join(dir, 's.csv'), rejectsPath: join(dir, 'r2'), workers: 1 });
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function personName(ring: Awaited<ReturnType<typeof loadKeyRing>>): Promise<string> {
  const r = await db.pool.query('SELECT id, sealed, dek_version FROM persons');
  const row = r.rows[0];
  return openRecord(ring.data.get(row.dek_version)!, row.sealed, associatedData('persons', 'sealed', row.id))[1]!;
}

describe('key rotation', () => {
  it('rotates the master key: re-wraps every key, after which the old master key is not needed', async () => {
    const newMaster = randomMasterKey();
    await expect(rotateMasterKey(db.pool, [db.master])).rejects.toMatchObject({ code: 'MASTER_KEY_NOT_NEW' });
    expect(await rotateMasterKey(db.pool, [newMaster, db.master])).toEqual({ rewrapped: 2, master_key_id: newMaster.id });
    const ring = await loadKeyRing(db.pool, [newMaster]);
    expect(await personName(ring)).toBe('Bùi Thị Mai');
    await expect(loadKeyRing(db.pool, [db.master])).rejects.toThrow(/not configured/);
    db.master = newMaster;
    db.ring = ring;
  });

  it('rotates the data key: re-encrypts every record, then retires (destroys) the old key', async () => {
    const before = await db.pool.query('SELECT sealed FROM persons');
    const v = await addKeyVersion(db.pool, db.master, 'data');
    expect(v).toBe(2);
    const ring = await loadKeyRing(db.pool, [db.master]);
    const status = await keyStatus(db.pool, [db.master]);
    expect(status.pending.reencrypt_rows).toBe(2);
    const result = await completeKeyWork(db.pool, ring, 'test', undefined, { retireGraceMs: 0 });
    expect(result).toMatchObject({ reencrypted: 2, reindexed: 0, retired: [{ purpose: 'data', version: 1 }] });
    const after = await db.pool.query('SELECT sealed, dek_version FROM persons');
    expect(after.rows[0].dek_version).toBe(2);
    expect(after.rows[0].sealed.equals(before.rows[0].sealed)).toBe(false);
    const ring2 = await loadKeyRing(db.pool, [db.master]);
    expect(await personName(ring2)).toBe('Bùi Thị Mai');
    const keys = await db.pool.query(`SELECT state, wrapped FROM key_versions WHERE purpose = 'data' AND version = 1`);
    expect(keys.rows[0]).toEqual({ state: 'retired', wrapped: null });
    const access = await db.pool.query(`SELECT count(*)::int AS n FROM access_records WHERE purpose = 'key_rotation'`);
    expect(access.rows[0].n).toBe(1);
    db.ring = ring2;
  });

  it('rotates the blind-index key: lookups find rows under both versions until the re-index completes', async () => {
    await addKeyVersion(db.pool, db.master, 'blind_index');
    const ring = await loadKeyRing(db.pool, [db.master]);
    expect(ring.currentBlindIndex.version).toBe(2);
    expect(ring.blindIndex.map((k) => k.version)).toEqual([2, 1]);
    // Not yet re-indexed: rows still carry version 1, found by trying both.
    expect(await findPersonIdByPersonalId(db.pool, ring, pid)).toBeDefined();
    expect(await findLiveSubscriptionsByMsisdn(db.pool, ring, '+84981234567')).toHaveLength(1);
    // The old version cannot be retired while rows use it.
    expect(await retireUnusedKeys(db.pool, { graceMs: 0 })).toEqual([]);
    const result = await completeKeyWork(db.pool, ring, 'test', undefined, { retireGraceMs: 0 });
    expect(result).toMatchObject({ reindexed: 2, retired: [{ purpose: 'blind_index', version: 1 }] });
    const ring2 = await loadKeyRing(db.pool, [db.master]);
    expect(ring2.blindIndex.map((k) => k.version)).toEqual([2]);
    expect(await findPersonIdByPersonalId(db.pool, ring2, pid)).toBeDefined();
    expect(await findLiveSubscriptionsByMsisdn(db.pool, ring2, '+84981234567')).toHaveLength(1);
    expect(await findPersonIdByPersonalId(db.pool, ring2, composePersonalId('031', 1975, 'F', 78))).toBeUndefined();
  });

  it('refuses to switch versions while a batch job holds the key-version lock', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock_shared(72027, 0)');
      await expect(addKeyVersion(db.pool, db.master, 'data')).rejects.toMatchObject({ code: 'KEY_ROTATION_BLOCKED' });
    } finally {
      await client.query('SELECT pg_advisory_unlock_all()');
      client.release();
    }
  });
});
