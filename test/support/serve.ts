/**
 * `idbind serve` as an operator runs it: the real binary in a child process, until it prints that
 * it runs (then stopped with SIGTERM) or fails on its own. For the CLI tests of startup refusals
 * and warnings (test/cli/cli-serve-*.db.test.ts).
 */
import { spawn } from 'node:child_process';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;

export interface ServedOnce {
  /** Exit status: 0 after a start and SIGTERM, 1 for a refused start. */
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `idbind serve --port 0 [args]` with only PATH and HOME from this process plus `env`. */
export async function serveOnce(env: NodeJS.ProcessEnv, args: readonly string[] = []): Promise<ServedOnce> {
  return serveDuring(env, args, async () => undefined);
}

/** What a running hub printed: its URL (the banner's "web app" line) and its stdout so far. */
export interface RunningHub {
  url: string;
  stdout: string;
}

/**
 * As {@link serveOnce}, with `during` run against the hub once it runs, before the SIGTERM. A
 * failure of `during` is thrown after the hub has stopped; `during` is not run when the start fails.
 */
export async function serveDuring(env: NodeJS.ProcessEnv, args: readonly string[], during: (hub: RunningHub) => Promise<void>): Promise<ServedOnce> {
  const { PATH, HOME } = process.env;
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--port', '0'], { env: { PATH, HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  // Up to 2 min for the start (a demo's first start generates and imports its registry; a loaded
  // CI machine is several times slower than a desk): the test's own timeout is the tighter limit.
  for (const end = Date.now() + 120_000; !stdout.includes('Press Ctrl-C to stop.') && child.exitCode === null && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
  let failure: unknown;
  const url = /web app:\s+(http:\/\/\S+?)\/?\n/.exec(stdout)?.[1];
  if (child.exitCode === null && url && stdout.includes('Press Ctrl-C to stop.')) {
    try {
      await during({ url, stdout });
    } catch (e) {
      failure = e;
    }
  }
  if (child.exitCode === null) child.kill('SIGTERM');
  const status = await exited;
  if (failure !== undefined) throw failure;
  return { status, stdout, stderr };
}

/**
 * The stderr of `idbind serve --port 0` that started (printed that it runs) and stopped cleanly on
 * SIGTERM; throws with its output otherwise. For the tests of what a start warns about.
 */
export async function stderrOfServedStart(env: NodeJS.ProcessEnv): Promise<string> {
  const out = await serveOnce(env);
  if (!out.stdout.includes('is running') || out.status !== 0) {
    throw new Error(`idbind serve did not run and stop cleanly (exit ${String(out.status)}):\n${out.stdout}\n${out.stderr}`);
  }
  return out.stderr;
}
