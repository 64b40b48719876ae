/**
 * Commands on one data directory at once (README, quick start: "Other idbind commands on the same
 * data directory ... use the same server"), the real binary on its embedded PostgreSQL: each
 * command starts the server, shares it or waits for another command to finish stopping it, and
 * none fails for it. A command that started while another one's server was stopping failed with
 * EMBEDDED_SERVER_FAILED ("postmaster.pid names process N, which does not answer on port P"), and
 * two commands that found no server both started one ("lock file postmaster.pid already exists").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomMasterKey } from '../support/database.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
let dir: string;
const master = randomMasterKey().key;
const { PATH, HOME } = process.env;
const env = () => ({ PATH, HOME, IDBIND_DATA_DIR: join(dir, 'data'), IDBIND_MASTER_KEY: master.toString('base64') });

function postmasterPid(): number | undefined {
  const file = join(dir, 'data', 'pg', 'postmaster.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'idbind-embedded-concurrency-'));
  chmodSync(dir, 0o755);
  const r = spawnSync(process.execPath, [BIN, 'migrate'], { env: env(), encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`idbind migrate failed: ${r.stdout}${r.stderr}`);
});
afterAll(() => {
  // A server a failed run left behind (none when the test passes).
  const pid = postmasterPid();
  if (pid) {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

function keysStatus(): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'keys', 'status', '--json'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('idbind commands run at once on one data directory', () => {
  it('all succeed, whether they start the embedded server, share it or arrive while it stops, and leave the directory usable', async () => {
    // Rounds of commands started together: they find no server (and race to start it), find it
    // serving another, or find it stopping as the first of them finishes.
    for (let round = 0; round < 4; round++) {
      const runs = await Promise.all(Array.from({ length: 4 }, () => keysStatus()));
      for (const r of runs) {
        expect(r.stderr, r.stdout).toBe('');
        expect(r.status).toBe(0);
        expect(JSON.parse(r.stdout)).toHaveProperty('master_keys');
      }
    }
    // The directory serves the next command, which starts the server or takes over one left
    // running (an owner leaves it to the commands still connected as it stops, and they do not
    // stop it: README, quick start) and, alone on it, stops it.
    const next = await keysStatus();
    expect(next.status, next.stderr).toBe(0);
    expect(postmasterPid()).toBeUndefined();
    expect(existsSync(join(dir, 'data', 'pg.lock'))).toBe(false);
  }, 180_000);
});
