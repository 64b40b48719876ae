/**
 * `idbind serve` on its embedded PostgreSQL, stopped as a terminal stops it (issue 2: "Stopping
 * it (Ctrl-C) stops the embedded server cleanly; starting again reuses the data"): Ctrl-C sends
 * SIGINT to every process of the foreground job, so the hub runs here as a job of its own
 * (a process group, as a shell makes one) and the signal goes to the whole group. The real
 * binary in a child process, production mode, its own data directory.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'idbind-serve-stop-'));
chmodSync(root, 0o755); // as root, the embedded server runs as `postgres`, which must enter it
const dataDir = join(root, 'data');
const masterKey = randomBytes(32).toString('base64');
const adminToken = randomBytes(32).toString('base64url');
const postmasterPid = join(dataDir, 'pg', 'postmaster.pid');

afterAll(() => {
  // Whatever a failed test left running.
  if (existsSync(postmasterPid)) {
    try {
      process.kill(Number(readFileSync(postmasterPid, 'utf8').split('\n')[0]), 'SIGINT');
    } catch {
      // already gone
    }
  }
  rmSync(root, { recursive: true, force: true });
});

interface Served {
  child: ChildProcess;
  url: string;
  out: () => string;
  exited: Promise<number | null>;
}

async function serve(): Promise<Served> {
  const { PATH, HOME } = process.env;
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
    env: {
      PATH, HOME, IDBIND_DATA_DIR: dataDir, IDBIND_WORKERS: '1', IDBIND_MASTER_KEY: masterKey, IDBIND_ADMIN_TOKEN: adminToken,
      // A gateway that is never called: the number below is not eligible, which is counted.
      IDBIND_SMS_URL: 'http://127.0.0.1:9/sms', IDBIND_OUTBOUND_ALLOW_LOOPBACK: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // a job of its own, as a shell makes one
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  // The signal that ended it, if one did, is added to the output (a failed assertion shows it).
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => {
    if (signal) out += `\n[exited on ${signal}]`;
    resolve(code);
  }));
  for (let i = 0; i < 1200 && !out.includes('Press Ctrl-C to stop.'); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(out).toContain('Press Ctrl-C to stop.');
  const url = /web app:\s+(\S+?)\/?\n/.exec(out)![1]!;
  return { child, url, out: () => out, exited };
}

/** The postmaster is gone (not merely asked to stop) within `ms`. */
async function postmasterGone(pid: number, ms = 60_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    try {
      process.kill(pid, 0);
    } catch {
      return !existsSync(postmasterPid);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('idbind serve stopped with Ctrl-C', () => {
  it('writes the last statistics, stops the embedded server, and the next start reuses the data', async () => {
    const first = await serve();
    const pid = Number(readFileSync(postmasterPid, 'utf8').split('\n')[0]);
    const created = await fetch(`${first.url}/v1/admin/providers`, {
      method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Shutdown Social', kind: 'platform' }),
    });
    expect(created.status).toBe(201);
    const { api_key: apiKey } = (await created.json()) as { api_key: string };
    const started = await fetch(`${first.url}/v1/verifications`, {
      method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': 'k1' },
      body: JSON.stringify({ account_ref: 'acct-1', phone: '0912345678' }),
    });
    expect(started.status).toBe(422); // not in the registry: counted in memory, written within a second
    process.kill(-first.child.pid!, 'SIGINT');
    expect(await first.exited, first.out()).toBe(0);
    expect(first.out()).toContain('stopped');
    expect(first.out()).not.toContain('the last statistics were not written');
    expect(await postmasterGone(pid)).toBe(true);

    const second = await serve();
    try {
      const stats = await fetch(`${second.url}/v1/admin/verification-stats`, { headers: { authorization: `Bearer ${adminToken}` } });
      const body = (await stats.json()) as { days: { failed: Record<string, number> }[] };
      const failed = body.days.flatMap((d) => Object.values(d.failed)).reduce((a, b) => a + b, 0);
      expect(failed).toBe(1);
    } finally {
      process.kill(-second.child.pid!, 'SIGINT');
      expect(await second.exited).toBe(0);
    }
  }, 120_000);

  it('stops at once on a second Ctrl-C during the shutdown, and still leaves no server behind', async () => {
    const served = await serve();
    const pid = Number(readFileSync(postmasterPid, 'utf8').split('\n')[0]);
    process.kill(-served.child.pid!, 'SIGINT');
    await new Promise((r) => setTimeout(r, 20));
    process.kill(-served.child.pid!, 'SIGINT');
    expect(await served.exited, served.out()).toBe(130);
    expect(served.out()).toContain('stopping at once');
    expect(await postmasterGone(pid), served.out()).toBe(true);
    // The data directory is fit for the next start.
    const again = await serve();
    process.kill(-again.child.pid!, 'SIGINT');
    expect(await again.exited).toBe(0);
  }, 120_000);
});
