/**
 * The citizen portal as an OpenID client of the hub's own provider (issue 5: "The person signs in
 * through the hosted verification of the OpenID issue"). The portal is a provider of kind
 * `portal` (migration 0012): one per hub, never listed among platforms, without API keys, and
 * never bound to an account: the hosted flow, seeing a `portal` flow, only identifies the person
 * (hosted-flow-service.ts) and releases `sub` and `verified` (oidc-claims.ts).
 *
 * Its client authenticates with client_secret_basic (a 256-bit secret sealed like every client
 * secret, AAD oidc_clients.sealed#id); only this process reads it back. PAR is required for it.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { associatedData, openBytes, sealBytes } from '../kernel/crypto/envelope.ts';
import { dataKeyFor, type KeyRing } from '../kernel/crypto/key-ring.ts';
import { uuidv7 } from '../kernel/ids.ts';
import { CitizenError } from './citizen-errors.ts';

/** The portal's provider name (shown nowhere to platforms; in the person's own access history as "idbind"). */
export const PORTAL_NAME = 'idbind citizen portal';
/** The login accountId of a portal sign-in is `<person id>.portal`: no account is bound. */
export const PORTAL_ACCOUNT = 'portal';

export interface PortalClient {
  providerId: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export function portalRedirectUri(publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/citizen/callback`;
}

/** The portal's provider id, or undefined before ensurePortalClient ran. */
export async function portalProviderId(db: pg.Pool | pg.PoolClient): Promise<string | undefined> {
  const r = await db.query<{ id: string }>(`SELECT id FROM providers WHERE kind = 'portal'`);
  return r.rows[0]?.id;
}

/** True when `providerId` is the portal (the hosted flow's and the claims' portal mode). */
export async function isPortalProvider(db: pg.Pool | pg.PoolClient, providerId: string): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>(`SELECT kind = 'portal' AS ok FROM providers WHERE id = $1`, [providerId]);
  return r.rows[0]?.ok === true;
}

/**
 * Creates the portal's provider and OpenID client if missing (idempotent, safe to run from two
 * processes at once: the unique index on the one portal decides), and makes the client's
 * redirect URI `${publicUrl}/citizen/callback` (a new public URL replaces it). Returns what the
 * portal's relying party needs.
 */
export async function ensurePortalClient(pool: pg.Pool, ring: KeyRing, publicUrl: string): Promise<PortalClient> {
  const redirectUri = portalRedirectUri(publicUrl);
  const url = new URL(redirectUri);
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new CitizenError('CITIZEN_PORTAL_UNAVAILABLE', 'the public URL must be https (or http on loopback) to be the portal\'s redirect URI');
  }
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const id = uuidv7();
    await client.query(
      `INSERT INTO providers (id, name, kind, legal_profile, accounts_per_person) VALUES ($1, $2, 'portal', 'minimal', 1)
       ON CONFLICT DO NOTHING`,
      [id, PORTAL_NAME],
    );
    const providerId = (await portalProviderId(client))!;
    const secret = `idcs_${randomBytes(32).toString('base64url')}`;
    await client.query(
      `INSERT INTO oidc_clients (id, client_id, sealed, dek_version, redirect_uris, require_par, token_endpoint_auth_method)
       VALUES ($1, $5, $2, $3, $4, true, 'client_secret_basic')
       ON CONFLICT (id) DO UPDATE SET redirect_uris = EXCLUDED.redirect_uris, require_par = true, updated_at = now()
         WHERE oidc_clients.redirect_uris IS DISTINCT FROM EXCLUDED.redirect_uris`,
      [providerId, sealBytes(ring.currentData.key, ring.currentData.version, Buffer.from(secret, 'utf8'), associatedData('oidc_clients', 'sealed', providerId)),
        ring.currentData.version, [redirectUri], providerId],
    );
    const row = (await client.query<{ sealed: Buffer; dek_version: number }>('SELECT sealed, dek_version FROM oidc_clients WHERE id = $1', [providerId])).rows[0]!;
    await client.query('COMMIT');
    const clientSecret = openBytes(dataKeyFor(ring, row.dek_version), row.sealed, associatedData('oidc_clients', 'sealed', providerId)).toString('utf8');
    return { providerId, clientId: providerId, clientSecret, redirectUri };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
