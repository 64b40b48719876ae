/**
 * `idbind serve` says once at start when the operator's IDBIND_SMS_TEMPLATE can take more than one
 * SMS part (verification/sms/sms-text.ts: budgets count codes, each part is billed), and says
 * nothing for the default text. The real binary in a child process on a fresh database.
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
const masterKey = randomBytes(32).toString('base64'); // one for both starts: the first one's keys stay readable

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false }); // serve migrates
  dir = mkdtempSync(join(tmpdir(), 'idbind-serve-'));
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `idbind serve --port 0`, waits until it runs, stops it with SIGTERM, and returns its stderr. */
function servedStderr(extraEnv: NodeJS.ProcessEnv): Promise<string> {
  return stderrOfServedStart({
    DATABASE_URL: db.url, IDBIND_DATA_DIR: join(dir, 'data'), IDBIND_WORKERS: '1',
    IDBIND_MASTER_KEY: masterKey, IDBIND_ADMIN_TOKEN: randomBytes(32).toString('base64url'), ...extraEnv,
  });
}

describe('idbind serve and IDBIND_SMS_TEMPLATE', () => {
  it('warns once for a UCS-2 template, with lengths only', async () => {
    const stderr = await servedStderr({ IDBIND_SMS_TEMPLATE: '{code} là mã xác minh {platform} của bạn. Không chia sẻ mã này.' });
    const warnings = stderr.split('\n').filter((l) => l.includes('IDBIND_SMS_TEMPLATE'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: IDBIND_SMS_TEMPLATE has characters outside the GSM-7 alphabet, so every code is sent as UCS-2/);
    expect(warnings[0]).not.toContain('mã');
  }, 60_000);

  it('says nothing about the default text', async () => {
    expect(await servedStderr({})).not.toContain('IDBIND_SMS_TEMPLATE');
  }, 60_000);
});
