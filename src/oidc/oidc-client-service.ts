/**
 * The OpenID clients of the provider (issue 4 "the provider's clients being idbind's registered
 * platforms"): one per platform, its `client_id` being the provider's id. The secret (for
 * `client_secret_basic`) is 256 random bits, shown once, sealed at rest (oidc-provider compares
 * it in constant time, so it needs it back). `private_key_jwt` clients register public keys.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { associatedData, openBytes, sealBytes } from '../kernel/crypto/envelope.ts';
import { dataKeyFor, type KeyRing } from '../kernel/crypto/key-ring.ts';
import type { Provider } from '../providers/provider-service.ts';
import { OidcError } from './oidc-errors.ts';

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'private_key_jwt';

export interface OidcClientSettings {
  redirect_uris: string[];
  require_par: boolean;
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  jwks: { keys: Record<string, unknown>[] } | null;
  refresh_tokens: boolean;
}

export interface OidcClientView extends OidcClientSettings {
  client_id: string;
  issuer: string;
}

interface ClientRow {
  id: string;
  client_id: string;
  sealed: Buffer;
  dek_version: number;
  redirect_uris: string[];
  require_par: boolean;
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  jwks: { keys: Record<string, unknown>[] } | null;
  refresh_tokens: boolean;
}

export const CLIENT_SECRET_PREFIX = 'idcs_';

function newClientSecret(): string {
  return `${CLIENT_SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
}

function sealSecret(ring: KeyRing, id: string, secret: string): Buffer {
  return sealBytes(ring.currentData.key, ring.currentData.version, Buffer.from(secret, 'utf8'), associatedData('oidc_clients', 'sealed', id));
}

/**
 * Redirect URIs: absolute https URLs without a fragment (OAuth 2.0 Security BCP 4.1; RFC 6749
 * 3.1.2), or, for development, http on loopback (RFC 8252 7.3) only when the hub allows loopback
 * (demo and test configuration).
 */
export function checkRedirectUris(uris: unknown, allowLoopback: boolean): string[] {
  if (!Array.isArray(uris) || uris.length === 0 || uris.length > 20) throw new OidcError('OIDC_CLIENT_INVALID', 'redirect_uris: 1 to 20 URLs');
  return uris.map((u) => {
    if (typeof u !== 'string' || u.length > 2000) throw new OidcError('OIDC_CLIENT_INVALID', 'redirect_uris: URLs of at most 2000 characters');
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new OidcError('OIDC_CLIENT_INVALID', `redirect_uris: not a URL: ${JSON.stringify(u.slice(0, 80))}`);
    }
    if (url.hash !== '' || u.includes('#')) throw new OidcError('OIDC_CLIENT_INVALID', 'redirect_uris: no fragment allowed');
    if (url.username || url.password) throw new OidcError('OIDC_CLIENT_INVALID', 'redirect_uris: no credentials allowed');
    const loopback = url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost';
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback && allowLoopback)) {
      throw new OidcError('OIDC_CLIENT_INVALID', 'redirect_uris: https URLs only (http only on loopback in demo and test configuration)');
    }
    return u;
  });
}

function checkJwks(jwks: unknown): { keys: Record<string, unknown>[] } | null {
  if (jwks === null || jwks === undefined) return null;
  const keys = (jwks as { keys?: unknown }).keys;
  if (typeof jwks !== 'object' || !Array.isArray(keys) || keys.length === 0 || keys.length > 10) throw new OidcError('OIDC_CLIENT_INVALID', 'jwks: {"keys": [1 to 10 public JWKs]}');
  for (const k of keys as unknown[]) {
    if (typeof k !== 'object' || k === null || typeof (k as { kty?: unknown }).kty !== 'string') throw new OidcError('OIDC_CLIENT_INVALID', 'jwks: every key needs a kty');
    // A private key pasted by mistake must not be stored (RFC 7517 6.3.2 / 6.2.2 private members).
    if (['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((m) => m in (k as object))) throw new OidcError('OIDC_CLIENT_INVALID', 'jwks: public keys only (a private key was given)');
  }
  return { keys: keys as Record<string, unknown>[] };
}

export function checkSettings(input: Partial<OidcClientSettings>, allowLoopback: boolean, current?: OidcClientSettings): OidcClientSettings {
  const method = input.token_endpoint_auth_method ?? current?.token_endpoint_auth_method ?? 'client_secret_basic';
  if (method !== 'client_secret_basic' && method !== 'private_key_jwt') throw new OidcError('OIDC_CLIENT_INVALID', 'token_endpoint_auth_method: client_secret_basic or private_key_jwt');
  const jwks = input.jwks === undefined ? (current?.jwks ?? null) : checkJwks(input.jwks);
  if (method === 'private_key_jwt' && !jwks) throw new OidcError('OIDC_CLIENT_INVALID', 'private_key_jwt needs jwks (the public keys the platform signs with)');
  return {
    redirect_uris: checkRedirectUris(input.redirect_uris ?? current?.redirect_uris, allowLoopback),
    require_par: input.require_par ?? current?.require_par ?? false,
    token_endpoint_auth_method: method,
    jwks,
    refresh_tokens: input.refresh_tokens ?? current?.refresh_tokens ?? false,
  };
}

function settingsOf(r: ClientRow): OidcClientSettings {
  return { redirect_uris: r.redirect_uris, require_par: r.require_par, token_endpoint_auth_method: r.token_endpoint_auth_method, jwks: r.jwks, refresh_tokens: r.refresh_tokens };
}

async function findRow(db: pg.Pool | pg.PoolClient, providerId: string): Promise<ClientRow | undefined> {
  const r = await db.query<ClientRow>('SELECT * FROM oidc_clients WHERE id = $1', [providerId]);
  return r.rows[0];
}

export function issuerOf(publicUrl: string): string {
  return `${publicUrl}/oidc`;
}

/** Creates the provider's client; a provider that has one gets OIDC_CLIENT_INVALID. Returns the secret once. */
export async function createOidcClient(
  db: pg.Pool | pg.PoolClient, ring: KeyRing, provider: Provider, input: Partial<OidcClientSettings>, opts: { allowLoopback: boolean; publicUrl: string },
): Promise<OidcClientView & { client_secret: string }> {
  if (provider.kind !== 'platform' && provider.kind !== 'registrar') throw new OidcError('OIDC_CLIENT_INVALID', 'only platforms and registrars are OpenID clients');
  const s = checkSettings(input, opts.allowLoopback);
  const secret = newClientSecret();
  const r = await db.query(
    `INSERT INTO oidc_clients (id, client_id, sealed, dek_version, redirect_uris, require_par, token_endpoint_auth_method, jwks, refresh_tokens)
     VALUES ($1, $9, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
    [provider.id, sealSecret(ring, provider.id, secret), ring.currentData.version, s.redirect_uris, s.require_par, s.token_endpoint_auth_method, s.jwks ? JSON.stringify(s.jwks) : null, s.refresh_tokens, provider.id],
  );
  if (r.rowCount === 0) throw new OidcError('OIDC_CLIENT_INVALID', 'this provider already has an OpenID client: change its settings or rotate its secret');
  return { client_id: provider.id, issuer: issuerOf(opts.publicUrl), ...s, client_secret: secret };
}

export async function getOidcClient(pool: pg.Pool, providerId: string, publicUrl: string): Promise<OidcClientView> {
  const row = await findRow(pool, providerId);
  if (!row) throw new OidcError('OIDC_CLIENT_NOT_FOUND');
  return { client_id: row.client_id, issuer: issuerOf(publicUrl), ...settingsOf(row) };
}

export async function updateOidcClient(
  pool: pg.Pool, provider: Provider, input: Partial<OidcClientSettings>, opts: { allowLoopback: boolean; publicUrl: string },
): Promise<OidcClientView> {
  const row = await findRow(pool, provider.id);
  if (!row) throw new OidcError('OIDC_CLIENT_NOT_FOUND');
  const s = checkSettings(input, opts.allowLoopback, settingsOf(row));
  await pool.query(
    `UPDATE oidc_clients SET redirect_uris = $2, require_par = $3, token_endpoint_auth_method = $4, jwks = $5, refresh_tokens = $6, updated_at = now() WHERE id = $1`,
    [provider.id, s.redirect_uris, s.require_par, s.token_endpoint_auth_method, s.jwks ? JSON.stringify(s.jwks) : null, s.refresh_tokens],
  );
  return { client_id: row.client_id, issuer: issuerOf(opts.publicUrl), ...s };
}

/** A new client secret, at once (the old one stops working: a leaked secret must stop at once). */
export async function rotateClientSecret(pool: pg.Pool, ring: KeyRing, providerId: string): Promise<{ client_secret: string }> {
  const secret = newClientSecret();
  const r = await pool.query(`UPDATE oidc_clients SET sealed = $2, dek_version = $3, updated_at = now() WHERE id = $1`, [providerId, sealSecret(ring, providerId, secret), ring.currentData.version]);
  if (r.rowCount === 0) throw new OidcError('OIDC_CLIENT_NOT_FOUND');
  return { client_secret: secret };
}

/**
 * The client secret of a `client_secret_basic` client, opened from its seal (undefined for a
 * provider without a client, or whose client authenticates with private_key_jwt). For the hub's
 * own demo relying party only: platforms get their secret once, at creation or rotation.
 */
export async function clientSecretOf(pool: pg.Pool, ring: KeyRing, providerId: string): Promise<string | undefined> {
  const row = await findRow(pool, providerId);
  if (!row || row.token_endpoint_auth_method !== 'client_secret_basic') return undefined;
  return openBytes(dataKeyFor(ring, row.dek_version), row.sealed, associatedData('oidc_clients', 'sealed', row.id)).toString('utf8');
}

/** Client metadata for oidc-provider (OpenID Connect Dynamic Client Registration 1.0 section 2 names). */
export async function clientForOidc(pool: pg.Pool, ring: KeyRing, clientId: string, publicUrl: string): Promise<Record<string, unknown> | undefined> {
  if (!/^[0-9a-f-]{36}$/.test(clientId)) return undefined;
  const r = await pool.query<ClientRow & { name: string; legal_profile: string; status: string }>(
    `SELECT c.*, p.name, p.legal_profile, p.status FROM oidc_clients c JOIN providers p ON p.id = c.id WHERE c.client_id = $1`,
    [clientId],
  );
  const row = r.rows[0];
  // A disabled provider's client is unknown: it cannot start or finish a flow (fail closed).
  if (!row || row.status !== 'active') return undefined;
  const basic = row.token_endpoint_auth_method === 'client_secret_basic';
  return {
    client_id: row.client_id,
    client_name: row.name,
    ...(basic ? { client_secret: openBytes(dataKeyFor(ring, row.dek_version), row.sealed, associatedData('oidc_clients', 'sealed', row.id)).toString('utf8') } : {}),
    redirect_uris: row.redirect_uris,
    response_types: ['code'],
    grant_types: row.refresh_tokens ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
    token_endpoint_auth_method: row.token_endpoint_auth_method,
    ...(row.jwks ? { jwks: row.jwks } : {}),
    // OIDC Core 8.1: the sector is the platform, not a redirect host. The URI names the platform
    // and is never fetched (sectorIdentifierUriValidate is off); pairwiseIdentifier reads the
    // stored pseudonym of (person, platform).
    subject_type: 'pairwise',
    // (oidc-provider accepts only an https URI here; it names the sector and is never fetched.)
    sector_identifier_uri: `https://${new URL(publicUrl).host}/oidc/sectors/${row.id}`,
    require_pushed_authorization_requests: row.require_par,
    // What a platform may ask for: the statutory claims only under the statutory legal profile.
    scope: row.legal_profile === 'statutory' ? 'openid profile phone offline_access' : 'openid offline_access',
    'idbind:legal_profile': row.legal_profile,
  };
}
