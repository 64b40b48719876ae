/**
 * `idbind serve --port 0` ("0 picks a free one", the help says): the banner prints the port the
 * hub got, and what it offers there must work. Without IDBIND_PUBLIC_URL the public URL is
 * http://HOST:PORT, the OpenID issuer, the demo platforms' redirect URIs and the portal's; built
 * from the 0 before the listen, it named a port nothing listens on, so the banner's "Sign in with
 * idbind" links answered 502 (their pushed authorization request went to http://127.0.0.1:0).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { serveDuring } from '../support/serve.ts';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'idbind-port-zero-'));
}, 60_000);
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('idbind serve --demo --port 0', () => {
  it('serves the OpenID issuer and the "Sign in with idbind" links at the port the banner prints', async () => {
    const env = { DATABASE_URL: db.url, IDBIND_DATA_DIR: dir, IDBIND_WORKERS: '1', IDBIND_LOG_LEVEL: 'warn' };
    const out = await serveDuring(env, ['--demo'], async ({ url, stdout }) => {
      expect(url).not.toMatch(/:0$/);
      const discovery = (await (await fetch(`${url}/oidc/.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(discovery.issuer).toBe(`${url}/oidc`);
      const links = /"Sign in with idbind" as a demo platform: (.+)\n/.exec(stdout)![1]!.split(' , ');
      expect(links).toHaveLength(2);
      for (const link of links) {
        expect(link.startsWith(`${url}/demo/rp/`)).toBe(true);
        const start = await fetch(link, { redirect: 'manual' });
        // The platform's pushed request reached the hub: the browser is sent to its sign-in page.
        expect(start.status, await start.clone().text()).toBe(303);
        expect(start.headers.get('location')!.startsWith(`${url}/oidc/`)).toBe(true);
      }
    });
    expect(out.status, out.stderr).toBe(0);
  }, 180_000);
});
