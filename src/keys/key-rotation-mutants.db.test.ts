/**
 * Key rotation after a retirement (DESIGN.md invariant 2; issue 2 `idbind keys`), a case the other
 * key tests leave open, found by a hand-made mutation review: a master-key rotation re-wraps the
 * keys that are not retired, whatever was retired before, and `keys status` stops counting a
 * destroyed key as wrapped by the old master key, so it says the old one can go.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, randomMasterKey, type TestDatabase } from '../../test/support/database.ts';
import { loadKeyRing } from '../kernel/crypto/key-ring.ts';
import { associatedData, openRecord } from '../kernel/crypto/envelope.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { composePersonalId } from '../registry/personal-id.ts';
import { findPersonIdByPersonalId } from '../registry/registry-lookup.ts';
import { addKeyVersion, completeKeyWork, keyStatus, rotateMasterKey } from './key-rotation-service.ts';

let db: TestDatabase;
let dir: string;
const pid = composePersonalId('056', 1988, 'M', 5);

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-keys-mut-'));
  writeFileSync(join(dir, 'p.csv'), `personal_id,full_name,birth_date,sex,status\n${pid},Tạ Văn Khoa,1988-09-09,M,alive\n`);
  expect(await importRegistry({ pool: db.pool, ring: db.ring, kind: 'population', path: join(dir, 'p.csv'), rejectsPath: join(dir, 'r1'), workers: 1 }))
    .toMatchObject({ accepted: 1, rejected: 0 });
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a master-key rotation after a data key was retired', () => {
  it('re-wraps the live keys only, and keys status no longer lists the old master key', async () => {
    expect(await addKeyVersion(db.pool, db.master, 'data')).toBe(2);
    const ring = await loadKeyRing(db.pool, [db.master]);
    expect(await completeKeyWork(db.pool, ring, 'test', undefined, { retireGraceMs: 0 })).toMatchObject({ retired: [{ purpose: 'data', version: 1 }] });

    const newMaster = randomMasterKey();
    // Live: data v2 and blind-index v1; data v1 is destroyed and has nothing to re-wrap.
    expect(await rotateMasterKey(db.pool, [newMaster, db.master])).toEqual({ rewrapped: 2, master_key_id: newMaster.id });

    const status = await keyStatus(db.pool, [newMaster]);
    expect(status.master_keys).toEqual([{ id: newMaster.id, configured: true, current: true, wraps: 2 }]);
    expect(status.data_keys.map((k) => [k.version, k.state, k.master_key_id])).toEqual([[1, 'retired', db.master.id], [2, 'current', newMaster.id]]);

    // The old master key is no longer needed: the ring loads without it and opens the person.
    const ringNew = await loadKeyRing(db.pool, [newMaster]);
    const row = (await db.pool.query('SELECT id, sealed, dek_version FROM persons')).rows[0];
    expect(row.dek_version).toBe(2);
    expect(openRecord(ringNew.data.get(2)!, row.sealed, associatedData('persons', 'sealed', row.id))[1]).toBe('Tạ Văn Khoa');
    expect(await findPersonIdByPersonalId(db.pool, ringNew, pid)).toBe(row.id);
  });
});
