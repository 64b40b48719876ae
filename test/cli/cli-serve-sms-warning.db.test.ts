/**
 * `idbind serve` says once at start when the operator's IDBIND_SMS_TEMPLATE can take more than one
 * SMS part (verification/sms/sms-text.ts: budgets count codes, each part is billed), and says
 * nothing for the default text. The real binary in a child process on a fresh database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
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
async function serveOnce(extraEnv: NodeJS.ProcessEnv): Promise<string> {
  const { PATH, HOME } = process.env;
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
    env: {
      PATH, HOME, DATABASE_URL: db.url, IDBIND_DATA_DIR: join(dir, 'data'), IDBIND_WORKERS: '1',
      IDBIND_MASTER_KEY: masterKey, IDBIND_ADMIN_TOKEN: randomBytes(32).toString('base64url'), ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    for (let i = 0; i < 600 && !stdout.includes('Press Ctrl-C to stop.'); i++) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(stdout, stderr).toContain('is running');
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  return stderr;
}

describe('idbind serve and IDBIND_SMS_TEMPLATE', () => {
  it('warns once for a UCS-2 template, with lengths only', async () => {
    const stderr = await serveOnce({ IDBIND_SMS_TEMPLATE: '{code} là mã xác minh {platform} của bạn. Không chia sẻ mã này.' });
    const warnings = stderr.split('\n').filter((l) => l.includes('IDBIND_SMS_TEMPLATE'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warning: IDBIND_SMS_TEMPLATE has characters outside the GSM-7 alphabet, so every code is sent as UCS-2/);
    expect(warnings[0]).not.toContain('mã');
  }, 60_000);

  it('says nothing about the default text', async () => {
    expect(await serveOnce({})).not.toContain('IDBIND_SMS_TEMPLATE');
  }, 60_000);
});
