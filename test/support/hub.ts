/**
 * A running hub for HTTP and browser tests: the real server on a free loopback port, on its own
 * fresh database of the run's PostgreSQL, with a random master key and admin token.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createTestDatabase } from './database.ts';
import { openHub, type Hub } from '../../src/hub.ts';
import { buildServer } from '../../src/server.ts';
import { seedDemoRegistry } from '../../src/demo/demo-seed.ts';

export interface TestHub {
  url: string;
  adminToken: string;
  /** The hub's configuration, for CLI calls against the same database. */
  databaseUrl: string;
  masterKey: string;
  dataDir: string;
  hub: Hub;
  app: FastifyInstance;
  stop(): Promise<void>;
  /** Imports a small generated registry and runs two reconciliations (as the demo does). */
  seedAndReconcile(): Promise<void>;
}

export interface TestHubOptions {
  demo?: boolean;
  listen?: boolean;
  /** Extra environment for the hub's configuration (e.g. IDBIND_OUTBOUND_ALLOW_LOOPBACK, IDBIND_SMS_URL). */
  env?: Record<string, string>;
  /**
   * Listen on a free port chosen first, with IDBIND_PUBLIC_URL set to it: the OpenID Provider's
   * issuer (`${publicUrl}/oidc`) then matches the URL clients reach, as discovery requires.
   */
  publicPort?: boolean;
  /**
   * More environment computed from the hub's public URL (with `publicPort`), for services that
   * must know it before the hub starts (a test eID registering the hub's callback URL).
   */
  envFor?: (publicUrl: string) => Promise<Record<string, string>>;
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export async function startTestHub(options: TestHubOptions = {}): Promise<TestHub> {
  const db = await createTestDatabase({ migrate: false });
  const dataDir = mkdtempSync(join(tmpdir(), 'idbind-hub-'));
  const adminToken = randomBytes(32).toString('base64url');
  const masterKey = randomBytes(32).toString('base64');
  const port = options.publicPort ? await freePort() : 0;
  const hub = await openHub({
    mode: options.demo ? 'demo' : 'production',
    env: {
      DATABASE_URL: db.url,
      IDBIND_DATA_DIR: dataDir,
      IDBIND_MASTER_KEY: masterKey,
      IDBIND_ADMIN_TOKEN: adminToken,
      IDBIND_PORT: '0',
      IDBIND_WORKERS: '2',
      ...(port ? { IDBIND_PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
      ...options.env,
      ...(port && options.envFor ? await options.envFor(`http://127.0.0.1:${port}`) : {}),
    },
    requireAdminToken: true,
  });
  const app = await buildServer(hub, { logger: false, keyWorkIntervalMs: 0, maintenanceIntervalMs: 0 });
  let url = '';
  if (options.listen !== false) url = await app.listen({ host: '127.0.0.1', port });
  return {
    url,
    adminToken,
    databaseUrl: db.url,
    masterKey,
    dataDir,
    hub,
    app,
    async stop() {
      await app.close();
      await hub.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    async seedAndReconcile() {
      await seedDemoRegistry({ pool: hub.pool, ring: await hub.ring(), dataDir, workers: 2, people: 2000, subscriptions: 2400 });
    },
  };
}

/** A platform created through the admin API, with its API key as a bearer header. */
export interface TestPlatform {
  id: string;
  key: string;
  auth: Record<string, string>;
}

/** Creates a platform through the admin API (`POST /v1/admin/providers`); `extra` adds members to its body. */
export async function createTestPlatform(hub: TestHub, name: string, extra: Record<string, unknown> = {}): Promise<TestPlatform> {
  const r = await hub.app.inject({
    method: 'POST', url: '/v1/admin/providers', headers: { authorization: `Bearer ${hub.adminToken}` }, payload: { name, kind: 'platform', ...extra },
  });
  if (r.statusCode !== 201) throw new Error(`creating platform ${name}: ${r.statusCode} ${r.body}`);
  const body = r.json();
  return { id: body.provider.id, key: body.api_key, auth: { authorization: `Bearer ${body.api_key}` } };
}

/**
 * Follows an events cursor (`GET /v1/events`, through `page`) until `want` events came back (or
 * `want` holds of the events so far) or 20 s passed: a poll serves an event only once every older
 * transaction has ended, so events of other test files' transactions may come a moment late, and so
 * may a platform's own earlier events: a test that starts from no cursor on a platform that already
 * has events waits for the event it is about, not for a count.
 */
export async function followEvents<E>(
  page: (after?: string) => Promise<{ events: E[]; next_cursor: string }>,
  want: number | ((events: E[]) => boolean),
  after?: string,
): Promise<{ events: E[]; cursor: string }> {
  const out: E[] = [];
  let cursor = after;
  // Up to 60 s: on a loaded machine another file's long transaction (an import) can hold the feed back that long.
  const deadline = Date.now() + 60_000;
  const done = typeof want === 'number' ? () => out.length >= want : () => want(out);
  while (!done() && Date.now() < deadline) {
    const answer = await page(cursor);
    out.push(...answer.events);
    cursor = answer.next_cursor;
    if (answer.events.length === 0) await new Promise((r) => setTimeout(r, 50));
  }
  return { events: out, cursor: cursor! };
}
