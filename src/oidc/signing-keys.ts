/**
 * ID token signing keys of the OpenID Provider (issue 4 "JWKS with signing key rotation, the
 * private keys encrypted at rest like every secret"). The private JWK is sealed with the current
 * data key (AAD `oidc_signing_keys.sealed#id`, re-encrypted by data-key rotation like every
 * sealed table, src/registry/reindex.ts). `current` signs; `previous` keys stay published in the
 * JWKS so that tokens signed before a rotation still verify, until the next rotation retires them.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { associatedData, openBytes, sealBytes } from '../kernel/crypto/envelope.ts';
import { dataKeyFor, type KeyRing } from '../kernel/crypto/key-ring.ts';

/** RS256 is what OpenID Connect Core 15.1 requires every provider to support. */
export const SIGNING_ALG = 'RS256';

export interface SigningKeyInfo {
  kid: string;
  alg: string;
  state: 'current' | 'previous' | 'retired';
  created_at: string;
}

/** A private JWK as oidc-provider's `jwks` option takes it. */
export type PrivateJwk = Record<string, unknown> & { kid: string; alg: string; use: 'sig' };

function newSigningKey(ring: KeyRing): { id: string; kid: string; publicJwk: Record<string, unknown>; sealed: Buffer } {
  const id = randomUUID();
  const kid = `${new Date().toISOString().slice(0, 10)}-${id.slice(0, 8)}`;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: SIGNING_ALG, use: 'sig' };
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: SIGNING_ALG, use: 'sig' };
  const sealed = sealBytes(ring.currentData.key, ring.currentData.version, Buffer.from(JSON.stringify(privateJwk), 'utf8'), associatedData('oidc_signing_keys', 'sealed', id));
  return { id, kid, publicJwk, sealed };
}

async function insertKey(db: pg.Pool | pg.PoolClient, ring: KeyRing, state: 'current'): Promise<string> {
  const k = newSigningKey(ring);
  await db.query(
    `INSERT INTO oidc_signing_keys (id, kid, alg, public_jwk, sealed, dek_version, state) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [k.id, k.kid, SIGNING_ALG, JSON.stringify(k.publicJwk), k.sealed, ring.currentData.version, state],
  );
  return k.kid;
}

/** Creates the first signing key when there is none (first start); concurrent starts create one. */
export async function ensureSigningKey(pool: pg.Pool, ring: KeyRing): Promise<void> {
  const r = await pool.query(`SELECT 1 FROM oidc_signing_keys WHERE state = 'current'`);
  if (r.rowCount) return;
  try {
    await insertKey(pool, ring, 'current');
  } catch (e) {
    // Another process created it first (the partial unique index allows one current key).
    if ((e as { code?: string }).code !== '23505') throw e;
  }
}

/**
 * Rotates: a new current key; the old current becomes `previous` (still published); keys that
 * were already `previous` are retired (no longer published). One transaction.
 */
export async function rotateSigningKey(pool: pg.Pool, ring: KeyRing): Promise<{ kid: string; previous: string | null }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`UPDATE oidc_signing_keys SET state = 'retired', retired_at = now() WHERE state = 'previous'`);
    const old = await client.query<{ kid: string }>(`UPDATE oidc_signing_keys SET state = 'previous' WHERE state = 'current' RETURNING kid`);
    const kid = await insertKey(client, ring, 'current');
    await client.query('COMMIT');
    return { kid, previous: old.rows[0]?.kid ?? null };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/** The published keys, current first (oidc-provider signs with the first key of an algorithm). */
export async function loadSigningKeys(pool: pg.Pool, ring: KeyRing): Promise<PrivateJwk[]> {
  const r = await pool.query<{ id: string; sealed: Buffer; dek_version: number }>(
    `SELECT id, sealed, dek_version FROM oidc_signing_keys WHERE state IN ('current', 'previous') ORDER BY state = 'current' DESC, created_at DESC`,
  );
  return r.rows.map((row) => JSON.parse(openBytes(dataKeyFor(ring, row.dek_version), row.sealed, associatedData('oidc_signing_keys', 'sealed', row.id)).toString('utf8')) as PrivateJwk);
}

/** A stamp that changes whenever the published keys change (to rebuild the provider). */
export async function signingKeysStamp(pool: pg.Pool): Promise<string> {
  const r = await pool.query<{ s: string | null }>(`SELECT string_agg(kid || ':' || state, ',' ORDER BY kid) AS s FROM oidc_signing_keys WHERE state <> 'retired'`);
  return r.rows[0]!.s ?? '';
}

export async function listSigningKeys(pool: pg.Pool): Promise<SigningKeyInfo[]> {
  const r = await pool.query<{ kid: string; alg: string; state: SigningKeyInfo['state']; created_at: Date }>(
    `SELECT kid, alg, state, created_at FROM oidc_signing_keys ORDER BY created_at DESC`,
  );
  return r.rows.map((k) => ({ kid: k.kid, alg: k.alg, state: k.state, created_at: k.created_at.toISOString() }));
}
