/**
 * The OpenID parts of the CLI (issue 4), run as the real `idbind` binary against a fresh database:
 * `providers create --redirect-uri` also creates the OpenID client and prints its secret once;
 * bad redirect URIs and carriers are refused and change nothing; `oidc signing-keys` lists and
 * `oidc rotate-signing-key` rotates the ID token signing keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { openHub, type Hub } from '../../src/hub.ts';
import { clientForOidc, getOidcClient } from '../../src/oidc/oidc-client-service.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
const PUBLIC_URL = 'https://hub.example';
let db: TestDatabase;
let dir: string;
let env: NodeJS.ProcessEnv;
let hub: Hub;

function idbind(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'idbind-cli-oidc-'));
  const { PATH, HOME } = process.env;
  env = { PATH, HOME, DATABASE_URL: db.url, IDBIND_MASTER_KEY: randomBytes(32).toString('base64'), IDBIND_DATA_DIR: join(dir, 'data'), IDBIND_PUBLIC_URL: PUBLIC_URL };
  hub = await openHub({ mode: 'production', env });
}, 60_000);
afterAll(async () => {
  await hub?.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function providerCount(): Promise<number> {
  return (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM providers')).rows[0]!.n;
}

describe('idbind providers create --redirect-uri', () => {
  it('creates the OpenID client and prints client_id and client_secret once; the secret is the one the provider authenticates with', async () => {
    const r = idbind(['providers', 'create', '--name', 'Sign-in Platform', '--kind', 'platform', '--profile', 'statutory',
      '--redirect-uri', 'https://platform.example/cb', '--redirect-uri', 'https://platform.example/cb2', '--require-par', '--json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    expect(out).toMatchObject({ client_id: out.id, issuer: `${PUBLIC_URL}/oidc` });
    expect(out.client_secret).toMatch(/^idcs_[A-Za-z0-9_-]{43}$/);
    expect(out.api_key).toBeTruthy();
    const view = await getOidcClient(hub.pool, out.id!, PUBLIC_URL);
    expect(view).toMatchObject({ redirect_uris: ['https://platform.example/cb', 'https://platform.example/cb2'], require_par: true, token_endpoint_auth_method: 'client_secret_basic', refresh_tokens: false });
    // What oidc-provider compares the client_secret_basic credentials with.
    const metadata = await clientForOidc(hub.pool, await hub.ring(), out.client_id!, PUBLIC_URL);
    expect(metadata).toMatchObject({ client_id: out.client_id, client_secret: out.client_secret, require_pushed_authorization_requests: true, token_endpoint_auth_method: 'client_secret_basic' });
    // Sealed at rest: the secret is not in the row in clear.
    const row = await db.pool.query<{ t: string }>('SELECT c::text AS t FROM oidc_clients c WHERE id = $1', [out.id]);
    expect(row.rows[0]!.t).not.toContain(out.client_secret);
  });

  it('prints the client id and secret in the human output, PAR not required by default', async () => {
    const r = idbind(['providers', 'create', '--name', 'Human Platform', '--kind', 'platform', '--redirect-uri', 'https://human.example/cb']);
    expect(r.status).toBe(0);
    const id = /created: ([0-9a-f-]{36})/.exec(r.stdout)![1]!;
    expect(r.stdout).toContain(`OpenID client id:            ${id}`);
    const secret = /client secret \(shown once\):\s+(idcs_\S+)/.exec(r.stdout)![1];
    expect((await clientForOidc(hub.pool, await hub.ring(), id, PUBLIC_URL))?.client_secret).toBe(secret);
    expect((await getOidcClient(hub.pool, id, PUBLIC_URL)).require_par).toBe(false);
  });

  it('creates no client without --redirect-uri', async () => {
    const r = idbind(['providers', 'create', '--name', 'API-only Platform', '--kind', 'platform', '--json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    expect(out).not.toHaveProperty('client_id');
    expect(out).not.toHaveProperty('client_secret');
    await expect(getOidcClient(hub.pool, out.id!, PUBLIC_URL)).rejects.toMatchObject({ code: 'OIDC_CLIENT_NOT_FOUND' });
  });

  it('refuses http redirect URIs outside demo and test configuration, carriers, and --require-par alone, creating nothing', async () => {
    const before = await providerCount();
    const http = idbind(['providers', 'create', '--name', 'Loopback Platform', '--kind', 'platform', '--redirect-uri', 'http://127.0.0.1:3000/cb', '--json']);
    expect(http.status).toBe(1);
    expect(http.stderr).toContain('OIDC_CLIENT_INVALID');
    expect(http.stderr).toContain('https');
    const fragment = idbind(['providers', 'create', '--name', 'Fragment Platform', '--kind', 'platform', '--redirect-uri', 'https://p.example/cb#x']);
    expect(fragment.status).toBe(1);
    expect(fragment.stderr).toContain('no fragment');
    const carrier = idbind(['providers', 'create', '--name', 'Carrier X', '--kind', 'carrier', '--carrier', 'viettel', '--redirect-uri', 'https://c.example/cb']);
    expect(carrier.status).toBe(2);
    expect(carrier.stderr).toContain('not carriers');
    const par = idbind(['providers', 'create', '--name', 'PAR Platform', '--kind', 'platform', '--require-par']);
    expect(par.status).toBe(2);
    expect(par.stderr).toContain('--require-par goes with --redirect-uri');
    expect(await providerCount()).toBe(before);
  });

  it('allows loopback http redirect URIs in test configuration (IDBIND_OUTBOUND_ALLOW_LOOPBACK=1)', async () => {
    const r = idbind(['providers', 'create', '--name', 'Dev Platform', '--kind', 'platform', '--redirect-uri', 'http://127.0.0.1:3000/cb', '--json'], { IDBIND_OUTBOUND_ALLOW_LOOPBACK: '1' });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    expect((await getOidcClient(hub.pool, out.id!, PUBLIC_URL)).redirect_uris).toEqual(['http://127.0.0.1:3000/cb']);
  });
});

describe('idbind oidc', () => {
  it('lists the signing keys and rotates them: new current, old previous, older retired', async () => {
    const first = idbind(['oidc', 'rotate-signing-key', '--json']);
    expect(first.status).toBe(0);
    const a = JSON.parse(first.stdout) as { kid: string; previous: string | null };
    expect(a.previous).toBeNull();
    const second = idbind(['oidc', 'rotate-signing-key']);
    expect(second.status).toBe(0);
    const b = /new signing key (\S+) is current; (\S+) stays published as previous/.exec(second.stdout)!;
    expect(b[2]).toBe(a.kid);
    const third = JSON.parse(idbind(['oidc', 'rotate-signing-key', '--json']).stdout) as { kid: string; previous: string };
    expect(third.previous).toBe(b[1]);

    const list = idbind(['oidc', 'signing-keys', '--json']);
    expect(list.status).toBe(0);
    const keys = (JSON.parse(list.stdout) as { keys: { kid: string; alg: string; state: string; created_at: string }[] }).keys;
    expect(keys.map((k) => [k.kid, k.state])).toEqual([[third.kid, 'current'], [b[1], 'previous'], [a.kid, 'retired']]);
    expect(keys.every((k) => k.alg === 'RS256' && !Number.isNaN(Date.parse(k.created_at)))).toBe(true);
    const human = idbind(['oidc', 'signing-keys']);
    expect(human.stdout.trim().split('\n')).toHaveLength(3);
    expect(human.stdout).toMatch(new RegExp(`^${third.kid}  RS256  current `, 'm'));
    // The private keys are sealed: no private JWK member in clear.
    const rows = await db.pool.query<{ t: string }>('SELECT k::text AS t FROM oidc_signing_keys k');
    for (const r of rows.rows) expect(r.t).not.toMatch(/"d":/);
  });

  it('answers --help and refuses unknown subcommands with exit 2', () => {
    for (const c of [['oidc'], ['providers']]) {
      const r = idbind([...c, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage:/m);
    }
    expect(idbind(['oidc', '--help']).stdout).toContain('rotate-signing-key');
    expect(idbind(['providers', '--help']).stdout).toContain('--redirect-uri');
    expect(idbind(['oidc', 'frobnicate']).status).toBe(2);
    expect(idbind(['oidc']).status).toBe(2);
    expect(idbind(['--help']).stdout).toMatch(/^ {2}oidc /m);
  });
});
