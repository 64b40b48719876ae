/**
 * The demo platforms as OpenID clients (issue 4 "The demo data of `npm start` includes a demo
 * platform configured as a client"): Sen Social and Lotus Video get a client_secret_basic client
 * whose redirect URI is the demo relying party's callback, kept with their secrets in the 0600
 * demo-platforms.json; a restart keeps them; a new public URL adds its callback; without the
 * public URL nothing about clients changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { clientForOidc, getOidcClient } from '../oidc/oidc-client-service.ts';
import { demoCallbackUrl, ensureDemoPlatforms, type DemoPlatform } from './demo-platforms.ts';

let db: TestDatabase;
let dataDir: string;
const URL_A = 'http://127.0.0.1:8080';

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'idbind-demo-platforms-'));
});
afterAll(async () => {
  await db.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

const byName = (ps: DemoPlatform[], name: string) => ps.find((p) => p.name === name)!;

describe('demo platforms as OpenID clients', () => {
  let first: DemoPlatform[];

  it('without the public URL, creates the platforms and no client', async () => {
    const ps = await ensureDemoPlatforms(db.pool, db.ring, dataDir);
    expect(ps.map((p) => p.name)).toEqual(['Sen Social', 'Lotus Video', 'Mekong Domains']);
    expect(ps.some((p) => p.oidc_client_id)).toBe(false);
    expect((await db.pool.query('SELECT 1 FROM oidc_clients')).rowCount).toBe(0);
  });

  it('with the public URL, makes Sen Social and Lotus Video clients with the callback as redirect URI, secrets in the 0600 file', async () => {
    first = await ensureDemoPlatforms(db.pool, db.ring, dataDir, URL_A);
    for (const [name, slug, scope] of [['Sen Social', 'sen-social', 'openid offline_access'], ['Lotus Video', 'lotus-video', 'openid profile phone offline_access']] as const) {
      const p = byName(first, name);
      expect(p.oidc_client_id).toBe(p.id);
      expect(p.oidc_client_secret).toMatch(/^idcs_/);
      expect(await getOidcClient(db.pool, p.id, URL_A)).toMatchObject({
        redirect_uris: [`${URL_A}/demo/rp/${slug}/callback`], token_endpoint_auth_method: 'client_secret_basic', require_par: false,
      });
      expect(await clientForOidc(db.pool, db.ring, p.id, URL_A)).toMatchObject({ client_secret: p.oidc_client_secret, scope });
    }
    expect(byName(first, 'Mekong Domains').oidc_client_id).toBeUndefined();
    const file = join(dataDir, 'demo-platforms.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as DemoPlatform[];
    expect(byName(saved, 'Lotus Video').oidc_client_secret).toBe(byName(first, 'Lotus Video').oidc_client_secret);
  });

  it('keeps the same clients and secrets on a restart, also when called without the public URL', async () => {
    const again = await ensureDemoPlatforms(db.pool, db.ring, dataDir, URL_A);
    expect(again).toEqual(first);
    const withoutUrl = await ensureDemoPlatforms(db.pool, db.ring, dataDir);
    expect(withoutUrl).toEqual(first);
  });

  it('adds the callback of a new public URL, keeping the secret; concurrent calls agree', async () => {
    const urlB = 'http://localhost:9090';
    const [a, b] = await Promise.all([ensureDemoPlatforms(db.pool, db.ring, dataDir, urlB), ensureDemoPlatforms(db.pool, db.ring, dataDir, urlB)]);
    expect(byName(a, 'Sen Social').oidc_client_secret).toBe(byName(first, 'Sen Social').oidc_client_secret);
    expect(byName(b, 'Sen Social').oidc_client_secret).toBe(byName(first, 'Sen Social').oidc_client_secret);
    const view = await getOidcClient(db.pool, byName(a, 'Sen Social').id, urlB);
    expect(view.redirect_uris).toEqual([demoCallbackUrl(URL_A, 'sen-social'), demoCallbackUrl(urlB, 'sen-social')]);
  });

  it('runs without the sign-in demo when the public URL cannot be a redirect URI (http on a host that is not loopback)', async () => {
    const other = mkdtempSync(join(tmpdir(), 'idbind-demo-platforms-'));
    try {
      await db.pool.query('DELETE FROM oidc_clients');
      const ps = await ensureDemoPlatforms(db.pool, db.ring, other, 'http://0.0.0.0:8080');
      expect(ps).toHaveLength(3);
      expect(ps.some((p) => p.oidc_client_id)).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
