/**
 * The OpenID Provider's storage (issue 4; work in progress): sealed signing keys and their
 * rotation, platforms' OpenID clients (settings checked, secret sealed and rotated, pairwise
 * metadata whose sector is the platform), and single use of authorization codes under concurrency.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { createProvider, getProvider, updateProvider } from '../providers/provider-service.ts';
import type { Provider } from '../providers/provider-service.ts';
import { ensureSigningKey, listSigningKeys, loadSigningKeys, rotateSigningKey } from './signing-keys.ts';
import { clientForOidc, createOidcClient, rotateClientSecret, updateOidcClient } from './oidc-client-service.ts';
import { postgresAdapterFactory } from './oidc-adapter.ts';
import { OidcError } from './oidc-errors.ts';
import { createOidcProvider, oidcProviderHolder } from './oidc-provider.ts';
import { addKeyVersion, completeKeyWork } from '../keys/key-rotation-service.ts';
import { loadKeyRing, type KeyRing } from '../kernel/crypto/key-ring.ts';

let db: TestDatabase;
let platform: Provider;
const opts = { allowLoopback: false, publicUrl: 'https://hub.example' };

beforeAll(async () => {
  db = await createTestDatabase();
  platform = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'OIDC Platform', kind: 'platform' })).provider;
});
afterAll(async () => db.drop());

describe('signing keys', () => {
  it('creates one current key, seals the private key, and rotates keeping the previous one published', async () => {
    await Promise.all([ensureSigningKey(db.pool, db.ring), ensureSigningKey(db.pool, db.ring)]);
    const first = await listSigningKeys(db.pool);
    expect(first.filter((k) => k.state === 'current')).toHaveLength(1);
    const raw = await db.pool.query<{ sealed: Buffer }>('SELECT sealed FROM oidc_signing_keys');
    const [jwk] = await loadSigningKeys(db.pool, db.ring);
    expect(jwk!.d).toBeTypeOf('string');
    expect(raw.rows[0]!.sealed.includes(Buffer.from(String(jwk!.d)))).toBe(false);

    const r1 = await rotateSigningKey(db.pool, db.ring);
    expect(r1.previous).toBe(first[0]!.kid);
    expect((await loadSigningKeys(db.pool, db.ring)).map((k) => k.kid)).toEqual([r1.kid, first[0]!.kid]);
    const r2 = await rotateSigningKey(db.pool, db.ring);
    expect((await loadSigningKeys(db.pool, db.ring)).map((k) => k.kid)).toEqual([r2.kid, r1.kid]);
    expect((await listSigningKeys(db.pool)).find((k) => k.kid === first[0]!.kid)!.state).toBe('retired');
  });
});

describe('OpenID clients', () => {
  it('refuses bad redirect URIs and private keys in jwks, and changes nothing', async () => {
    for (const bad of [[], ['http://platform.example/cb'], ['https://platform.example/cb#x'], ['https://u:p@platform.example/cb'], ['not a url']]) {
      await expect(createOidcClient(db.pool, db.ring, platform, { redirect_uris: bad }, opts)).rejects.toMatchObject({ code: 'OIDC_CLIENT_INVALID' });
    }
    await expect(createOidcClient(db.pool, db.ring, platform, {
      redirect_uris: ['https://platform.example/cb'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', d: 'secret' }] },
    }, opts)).rejects.toBeInstanceOf(OidcError);
    expect((await db.pool.query('SELECT 1 FROM oidc_clients')).rowCount).toBe(0);
  });

  it('creates a pairwise client whose sector is the platform, seals its secret, rotates it, and hides a disabled platform', async () => {
    const created = await createOidcClient(db.pool, db.ring, platform, { redirect_uris: ['https://a.example/cb', 'https://b.example/cb'], require_par: true }, opts);
    expect(created.client_id).toBe(platform.id);
    expect(created.issuer).toBe('https://hub.example/oidc');
    expect(created.client_secret).toMatch(/^idcs_[A-Za-z0-9_-]{43}$/);
    const stored = await db.pool.query<{ sealed: Buffer }>('SELECT sealed FROM oidc_clients WHERE id = $1', [platform.id]);
    expect(stored.rows[0]!.sealed.includes(Buffer.from(created.client_secret))).toBe(false);
    await expect(createOidcClient(db.pool, db.ring, platform, { redirect_uris: ['https://a.example/cb'] }, opts)).rejects.toMatchObject({ code: 'OIDC_CLIENT_INVALID' });

    const meta = await clientForOidc(db.pool, db.ring, platform.id, opts.publicUrl);
    expect(meta).toMatchObject({
      client_secret: created.client_secret, subject_type: 'pairwise', sector_identifier_uri: `https://hub.example/oidc/sectors/${platform.id}`,
      require_pushed_authorization_requests: true, grant_types: ['authorization_code'], scope: 'openid offline_access',
    });

    const rotated = await rotateClientSecret(db.pool, db.ring, platform.id);
    expect(rotated.client_secret).not.toBe(created.client_secret);
    expect((await clientForOidc(db.pool, db.ring, platform.id, opts.publicUrl))!.client_secret).toBe(rotated.client_secret);

    const updated = await updateOidcClient(db.pool, platform, { refresh_tokens: true }, opts);
    expect(updated.redirect_uris).toEqual(['https://a.example/cb', 'https://b.example/cb']);
    expect((await clientForOidc(db.pool, db.ring, platform.id, opts.publicUrl))!.grant_types).toEqual(['authorization_code', 'refresh_token']);

    await updateProvider(db.pool, { allowLoopback: true }, platform.id, { status: 'disabled' });
    expect(await clientForOidc(db.pool, db.ring, platform.id, opts.publicUrl)).toBeUndefined();
    expect((await getProvider(db.pool, platform.id)).status).toBe('disabled');
  });
});

describe('storage adapter', () => {
  it('lets exactly one of many concurrent uses consume an authorization code, and revokes the grant on replay', async () => {
    const Adapter = postgresAdapterFactory(db.pool, async () => undefined);
    const codes = new Adapter('AuthorizationCode');
    const tokens = new Adapter('AccessToken');
    await codes.upsert('code-1', { grantId: 'grant-1', uid: 'uid-1' }, 60);
    await tokens.upsert('at-1', { grantId: 'grant-1' }, 60);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => codes.consume('code-1')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.error === 'invalid_grant')).toBe(true);
    expect(await tokens.find('at-1')).toBeUndefined();
    expect(await codes.findByUid('uid-1')).toBeUndefined();
  });

  it('does not return expired artefacts', async () => {
    const Adapter = postgresAdapterFactory(db.pool, async () => undefined);
    const sessions = new Adapter('Session');
    await sessions.upsert('s-1', { uid: 'su-1', accountId: 'x' }, 60);
    expect(await sessions.find('s-1')).toMatchObject({ accountId: 'x' });
    await db.pool.query(`UPDATE oidc_payloads SET expires_at = now() - interval '1 second' WHERE id = 's-1'`);
    expect(await sessions.find('s-1')).toBeUndefined();
  });
});

describe('cookie keys', () => {
  it('follow a blind-index rotation in a running process, so that processes started before and after it read each other\'s cookies', async () => {
    let ring: KeyRing = db.ring;
    const deps = { pool: db.pool, ring: async () => ring, publicUrl: opts.publicUrl };
    const running = oidcProviderHolder(deps, 0);
    const provider = await running();
    const before = [...(provider.keys as string[])];
    await addKeyVersion(db.pool, db.master, 'blind_index');
    ring = await loadKeyRing(db.pool, [db.master]);
    // A process started now signs with the new key and still verifies the old one's cookies.
    const started = (await createOidcProvider(deps)).keys as string[];
    expect(started).toHaveLength(2);
    expect(started[1]).toBe(before[0]);
    // The process started before the rotation follows, without a restart.
    expect(await running()).toBe(provider);
    expect(provider.keys).toEqual(started);
    // Once the old key is retired, nothing signs or verifies with it.
    await completeKeyWork(db.pool, ring, 'test', undefined, { retireGraceMs: 0 });
    ring = await loadKeyRing(db.pool, [db.master]);
    expect((await running()).keys).toEqual([started[0]]);
  });
});
