/**
 * Starts one real PostgreSQL for the whole test run: the embedded server (PostgreSQL 18, as
 * `npm start` uses) in a temporary directory, or the server named by DATABASE_URL (CI's second
 * run: the system PostgreSQL 15). Each test file then creates its own database on it
 * (test/support/database.ts), so files never see each other's rows.
 */
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/kernel/db/embedded-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

let server: EmbeddedServer | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (process.env.DATABASE_URL) {
    project.provide('databaseUrl', process.env.DATABASE_URL);
    return;
  }
  dir = mkdtempSync(join(tmpdir(), 'idbind-test-pg-'));
  chmodSync(dir, 0o755);
  server = await startEmbeddedServer({ dataDir: dir });
  project.provide('databaseUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
