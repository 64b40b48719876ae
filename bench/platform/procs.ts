/**
 * Child processes of the platform benchmark: one-shot steps that print a JSON line and exit, and
 * services (the hub, the baselines, the receiver, a dispatcher) that print a line when ready and
 * run until stopped. Every process the bench starts is tracked, so an interrupted run stops them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const live = new Set<ChildProcess>();

/** Stops every process still running (SIGTERM, then SIGKILL after 10 s). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => stopProcess(c)));
}

export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface Service {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the first stdout line from now on that `match` accepts. */
  waitFor<T>(match: (line: string) => T | undefined, timeoutMs: number, what: string): Promise<T>;
  /** Writes one line to the service's stdin. */
  send(line: string): void;
  stop(): Promise<void>;
}

/**
 * Starts `command args` and resolves once a stdout line satisfies `ready` (within `timeoutMs`).
 * stderr goes to ours, prefixed with the service's name.
 */
export async function startService<T>(
  name: string, command: string, args: string[], env: NodeJS.ProcessEnv,
  ready: (line: string) => T | undefined, timeoutMs = 120_000,
): Promise<{ service: Service; ready: T }> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const listeners = new Set<(line: string) => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    for (const l of [...listeners]) l(line);
  });
  createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`  [${name}] ${line}\n`));
  const waitFor = <U>(match: (line: string) => U | undefined, ms: number, what: string): Promise<U> =>
    new Promise<U>((resolve, reject) => {
      const done = () => {
        listeners.delete(onLine);
        child.off('exit', onExit);
        clearTimeout(timer);
      };
      const onLine = (line: string) => {
        const v = match(line);
        if (v !== undefined) {
          done();
          resolve(v);
        }
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`${name} exited (status ${code}) before ${what}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${name}: no ${what} within ${ms / 1000} s`));
      }, ms);
      listeners.add(onLine);
      child.once('exit', onExit);
    });
  const service: Service = {
    child,
    pid: child.pid!,
    waitFor,
    send: (line) => child.stdin!.write(line + '\n'),
    stop: () => stopProcess(child),
  };
  try {
    const value = await waitFor(ready, timeoutMs, 'ready');
    return { service, ready: value };
  } catch (e) {
    await stopProcess(child);
    throw e;
  }
}

/** A JSON line of a service, if the line is one with that key. */
export function jsonField<T>(key: string): (line: string) => T | undefined {
  return (line) => {
    if (!line.startsWith('{')) return undefined;
    try {
      const v = JSON.parse(line) as Record<string, unknown>;
      return key in v ? (v[key] as T) : undefined;
    } catch {
      return undefined;
    }
  };
}

/** Runs `node --import tsx FILE args` to completion and returns its last stdout line as JSON. */
export async function runJson<T>(name: string, file: string, args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  createInterface({ input: child.stderr }).on('line', (line) => process.stderr.write(`  [${name}] ${line}\n`));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  live.delete(child);
  if (code !== 0) throw new Error(`${name} exited with status ${code}`);
  const line = out.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}

export const tsxArgs = (file: string, ...args: string[]) => ['--import', 'tsx', file, ...args];
