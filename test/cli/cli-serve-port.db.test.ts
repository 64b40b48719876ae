/**
 * `idbind serve` on a port another process holds: one clear line naming the address and the
 * setting to change, exit status 1, no stack trace; and nothing left behind. The real binary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
let db: TestDatabase;
let dir: string;
let holder: Server;
let port: number;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'idbind-serve-port-'));
  holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  port = (holder.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((r) => holder.close(r));
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('idbind serve on a port in use', () => {
  it('stops with one line naming the address and IDBIND_PORT', async () => {
    const { PATH, HOME } = process.env;
    const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port)], {
      env: { PATH, HOME, DATABASE_URL: db.url, IDBIND_DATA_DIR: dir, IDBIND_WORKERS: '1', IDBIND_MASTER_KEY: randomBytes(32).toString('base64'), IDBIND_ADMIN_TOKEN: randomBytes(32).toString('base64url') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(status).toBe(1);
    const lines = stderr.split('\n').filter((l) => l.startsWith('idbind serve:'));
    expect(lines, stderr).toEqual([`idbind serve: cannot listen on 127.0.0.1:${port}: the address is in use (another process holds it; choose another with --port or IDBIND_PORT)`]);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 60_000);
});
