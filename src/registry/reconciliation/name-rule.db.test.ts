/**
 * The name rule of a blind-index key version (name-match.ts, migration 0030): a holder written with
 * Ð (U+00D0, the eth that looks exactly like Đ) or with full-width letters is the registry's person
 * under rule 2, and was HOLDER_DATA_MISMATCH under rule 1; one written with ʼ (U+02BC) where the
 * registry has ', or with an invisible zero-width space left in the name, is the registry's person
 * under rule 3, and was HOLDER_DATA_MISMATCH under rules 1 and 2. A database whose keys were made under an older rule keeps folding by it (a person and a
 * subscription compare under one rule) until a blind-index rotation re-indexes every row under a
 * version of the latest rule.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { loadKeyRing, type KeyRing } from '../../kernel/crypto/key-ring.ts';
import { migrate } from '../../kernel/db/migrations.ts';
import { addKeyVersion, completeKeyWork, keyStatus } from '../../keys/key-rotation-service.ts';
import { importRegistry } from '../import/import-service.ts';
import { composePersonalId } from '../personal-id.ts';
import { startReconciliation } from './reconciliation-service.ts';

let db: TestDatabase;
let dir: string;
const id = (n: number) => composePersonalId('001', 1980, 'F', n);
const ETH = '\u00d0'; // Ð, not Đ (U+0110)
const MODIFIER_APOSTROPHE = '\u02bc'; // ʼ, a letter to Unicode, not ' (U+0027)
const ZERO_WIDTH_SPACE = '\u200b'; // invisible; the population file refuses it, a carrier's is taken as written

beforeEach(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-name-rule-'));
  writeFileSync(join(dir, 'people.csv'), [
    'personal_id,full_name,birth_date,sex,status',
    `${id(1)},Đặng Thị Hoa,1980-01-01,F,alive`,
    `${id(2)},Nguyễn Thị Lan,1980-02-02,F,alive`,
    // A registry name itself written with Ð: its own subscription must match it under both rules.
    `${id(3)},${ETH}ỗ Thị Mai,1980-03-03,F,alive`,
    `${id(4)},H'Hen Niê,1980-04-04,F,alive`,
    `${id(5)},Nguyễn Văn Bình,1980-05-05,F,alive`,
  ].join('\n') + '\n');
  const H = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status';
  writeFileSync(join(dir, 'viettel.csv'), [
    H,
    `0961000001,${id(1)},${ETH}ẶNG THỊ HOA,1980-01-01,store,2024-01-01T08:00:00,active`,
    `0961000002,${id(2)},ＮＧＵＹＥＮ ＴＨＩ ＬＡＮ,1980-02-02,store,2024-01-01T08:00:00,active`,
    `0961000003,${id(3)},${ETH}ỗ Thị Mai,1980-03-03,store,2024-01-01T08:00:00,active`,
    // Still a different person's name under rule 2: Ð folds to d, not to anything else.
    `0961000004,${id(1)},${ETH}ặng Thị Hoà Bình,1980-01-01,store,2024-01-01T08:00:00,active`,
    `0961000005,${id(4)},H${MODIFIER_APOSTROPHE}HEN NIÊ,1980-04-04,store,2024-01-01T08:00:00,active`,
    `0961000006,${id(5)},Nguyễn Văn Bình${ZERO_WIDTH_SPACE},1980-05-05,store,2024-01-01T08:00:00,active`,
  ].join('\n') + '\n');
});
afterEach(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function importBoth(ring: KeyRing): Promise<void> {
  await importRegistry({ pool: db.pool, ring, kind: 'population', path: join(dir, 'people.csv'), rejectsPath: join(dir, 'r1'), workers: 1 });
  await importRegistry({ pool: db.pool, ring, kind: 'subscriptions', carrier: 'viettel', path: join(dir, 'viettel.csv'), rejectsPath: join(dir, 'r2'), workers: 1 });
}

/** `idbind keys status`, the real binary, on this database. */
function keysStatus(): string {
  const bin = new URL('../../../bin/idbind.js', import.meta.url).pathname;
  const { PATH, HOME } = process.env;
  const r = spawnSync(process.execPath, [bin, 'keys', 'status'], {
    env: { PATH, HOME, DATABASE_URL: db.url, IDBIND_MASTER_KEY: db.master.key.toString('base64'), IDBIND_DATA_DIR: join(dir, 'data') },
    encoding: 'utf8', timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

async function mismatches(ring: KeyRing): Promise<number> {
  const run = await (await startReconciliation(db.pool, ring, 'test')).done;
  return run.categories!.HOLDER_DATA_MISMATCH;
}

describe('the name rule of a blind-index key version', () => {
  it('a new database folds Ð, full-width letters, ʼ and invisible characters (rule 3): only the different name is a mismatch', async () => {
    expect(db.ring.currentBlindIndex.nameRule).toBe(3);
    await importBoth(db.ring);
    expect(await mismatches(db.ring)).toBe(1);
    const status = await keyStatus(db.pool, [db.master]);
    expect(status.blind_index_keys).toEqual([expect.objectContaining({ version: 1, state: 'current', name_rule: 3 })]);
  });

  it('migration 0030 gives the blind-index keys that exist rule 1, and data keys none', async () => {
    // Undo 0030 on a database whose keys already exist, as a deployment upgrading to it has them.
    await db.pool.query('ALTER TABLE key_versions DROP CONSTRAINT key_versions_name_rule');
    await db.pool.query('ALTER TABLE key_versions DROP COLUMN name_rule');
    await db.pool.query('DELETE FROM schema_migrations WHERE version = 30');
    expect((await migrate(db.pool)).map((m) => m.version)).toEqual([30]);
    const rows = await db.pool.query('SELECT purpose, name_rule FROM key_versions ORDER BY purpose');
    expect(rows.rows).toEqual([{ purpose: 'blind_index', name_rule: 1 }, { purpose: 'data', name_rule: null }]);
    await expect(db.pool.query(`INSERT INTO key_versions (purpose, version, wrapped, master_key_id, state) VALUES ('blind_index', 2, '\\x00', 'x', 'previous')`))
      .rejects.toMatchObject({ constraint: 'key_versions_name_rule' });
  });

  // Rule 1: Ð, full-width letters, ʼ and the zero-width space differ from the registry's letters
  // (the identical Ð name matches). Rule 2: ʼ and the zero-width space do. Either way, one more:
  // the different name.
  it.each([
    { rule: 1, before: 5, adds: 'Ð, full-width letters, ʼ as \' and invisible characters ignored' },
    { rule: 2, before: 3, adds: 'ʼ as \' and invisible characters ignored' },
  ])('a database on rule $rule folds as before, consistently, until a blind-index rotation moves every row to rule 3', async ({ rule, before: mismatchedBefore, adds }) => {
    await db.pool.query(`UPDATE key_versions SET name_rule = $1 WHERE purpose = 'blind_index'`, [rule]);
    const old = await loadKeyRing(db.pool, [db.master]);
    expect(old.currentBlindIndex.nameRule).toBe(rule);
    await importBoth(old);
    expect(await mismatches(old)).toBe(mismatchedBefore);
    const before = keysStatus();
    expect(before).toMatch(new RegExp(`v1 current .*name rule ${rule}`));
    expect(before).toContain(`names are matched by rule ${rule}; \`idbind keys rotate --blind-index\` applies rule 3 (${adds}; docs/keys.md "Name rules")`);

    expect(await addKeyVersion(db.pool, db.master, 'blind_index')).toBe(2);
    const ring = await loadKeyRing(db.pool, [db.master]);
    expect(ring.currentBlindIndex).toMatchObject({ version: 2, nameRule: 3 });
    expect(ring.blindIndex.map((k) => [k.version, k.nameRule])).toEqual([[2, 3], [1, rule]]);
    const status = await keyStatus(db.pool, [db.master]);
    expect(status.blind_index_keys.map((k) => [k.version, k.name_rule])).toEqual([[1, rule], [2, 3]]);
    await completeKeyWork(db.pool, ring, 'test', undefined, { retireGraceMs: 0 });
    expect(await mismatches(ring)).toBe(1);
    const after = keysStatus();
    expect(after).toMatch(/v2 current .*name rule 3/);
    expect(after).not.toContain('names are matched by rule');
  });

  it('a key ring refuses a blind-index version of a rule this code does not know (fail closed)', async () => {
    await db.pool.query('ALTER TABLE key_versions DROP CONSTRAINT key_versions_name_rule');
    await db.pool.query(`UPDATE key_versions SET name_rule = 4 WHERE purpose = 'blind_index'`);
    await expect(loadKeyRing(db.pool, [db.master])).rejects.toThrow(/name rule 4, which this version of idbind does not know/);
  });
});
