import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, randomMasterKey, type TestDatabase } from '../../../test/support/database.ts';
import { loadKeyRing } from './key-ring.ts';
import { associatedData, openRecord, sealRecord, DecryptionError } from './envelope.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

describe('key ring', () => {
  it('creates version 1 of each key on first load and reloads the same keys', async () => {
    const again = await loadKeyRing(db.pool, [db.master]);
    expect(again.currentData.version).toBe(1);
    expect(again.currentData.key.equals(db.ring.currentData.key)).toBe(true);
    expect(again.currentBlindIndex.key.equals(db.ring.currentBlindIndex.key)).toBe(true);
    const rows = await db.pool.query('SELECT purpose, version, state FROM key_versions ORDER BY purpose');
    expect(rows.rows).toEqual([
      { purpose: 'blind_index', version: 1, state: 'current' },
      { purpose: 'data', version: 1, state: 'current' },
    ]);
  });

  it('fails closed with a message naming the missing master key', async () => {
    await expect(loadKeyRing(db.pool, [randomMasterKey()])).rejects.toThrow(/wrapped by master key mk-[0-9a-f]{12}, which is not configured/);
  });

  it('seals records bound to table, column and row', () => {
    const { key, version } = db.ring.currentData;
    const ad = associatedData('persons', 'sealed', 'row-1');
    const sealed = sealRecord(key, version, ['001099000001', 'Nguyễn Văn An'], ad);
    expect(sealed.includes(Buffer.from('Nguyễn'))).toBe(false);
    expect(openRecord(key, sealed, ad)).toEqual(['001099000001', 'Nguyễn Văn An']);
    expect(() => openRecord(key, sealed, associatedData('persons', 'sealed', 'row-2'))).toThrow(DecryptionError);
  });
});
