/**
 * `idbind serve` says once at start when the current blind-index key version folds names by an
 * older rule than this code's latest (docs/keys.md "Name rules"): a database upgraded from it keeps
 * that rule until `idbind keys rotate --blind-index`, and meanwhile holders whose names differ only
 * by what the newer rule folds (Ð, full-width letters, ʼ, invisible characters) are reported as HOLDER_DATA_MISMATCH.
 * Without the start's warning an operator learnt it only from `idbind keys status`. The real binary
 * in a child process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { stderrOfServedStart } from '../support/serve.ts';

let db: TestDatabase;
let dir: string;
const masterKey = randomBytes(32).toString('base64'); // one for every start: the first one's keys stay readable

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false }); // serve migrates and makes the first keys
  dir = mkdtempSync(join(tmpdir(), 'idbind-serve-rule-'));
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `idbind serve --port 0`, waits until it runs, stops it with SIGTERM, and returns its stderr. */
function servedStderr(): Promise<string> {
  return stderrOfServedStart({
    DATABASE_URL: db.url, IDBIND_DATA_DIR: join(dir, 'data'), IDBIND_WORKERS: '1',
    IDBIND_MASTER_KEY: masterKey, IDBIND_ADMIN_TOKEN: randomBytes(32).toString('base64url'),
  });
}

const ruleLines = (stderr: string) => stderr.split('\n').filter((l) => l.includes('names are matched by rule'));

describe('idbind serve and the name rule of the current blind-index key', () => {
  it('says nothing on a database whose keys it made (the latest rule)', async () => {
    expect(ruleLines(await servedStderr())).toEqual([]);
    const rule = await db.pool.query<{ name_rule: number }>(`SELECT name_rule FROM key_versions WHERE purpose = 'blind_index' AND state = 'current'`);
    expect(rule.rows).toEqual([{ name_rule: 3 }]);
  }, 60_000);

  it.each([
    { rule: 1, adds: "Ð, full-width letters, ʼ as ' and invisible characters ignored" },
    { rule: 2, adds: "ʼ as ' and invisible characters ignored" },
  ])('warns once on a database still on rule $rule, naming the rotation that applies the latest', async ({ rule, adds }) => {
    await db.pool.query(`UPDATE key_versions SET name_rule = $1 WHERE purpose = 'blind_index'`, [rule]);
    expect(ruleLines(await servedStderr())).toEqual([
      `warning: names are matched by rule ${rule}; \`idbind keys rotate --blind-index\` applies rule 3 (${adds}; docs/keys.md "Name rules")`,
    ]);
  }, 60_000);
});
