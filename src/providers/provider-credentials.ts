/**
 * Provider credentials (issue 3 "Providers").
 *
 * - API keys: `idbk_` and 256 random bits in base64url. Shown once; stored as SHA-256: a random
 *   256-bit secret cannot be guessed or enumerated, so a fast hash is enough and lets every request
 *   be checked with one indexed lookup.
 * - Webhook secrets: Standard Webhooks form, `whsec_` and base64 of 32 random bytes; sealed at rest
 *   (the hub needs them to sign), associated data naming the row.
 */
import { createHash, hash, randomBytes } from 'node:crypto';
import { associatedData, openBytes, sealBytes } from '../kernel/crypto/envelope.ts';
import { dataKeyFor, type KeyRing } from '../kernel/crypto/key-ring.ts';

export const API_KEY_PREFIX = 'idbk_';
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

export function newApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function apiKeyHash(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** apiKeyHash in base64, by one call (crypto.hash): the per-request authentication's cache key. */
export function apiKeyHashBase64(key: string): string {
  return hash('sha256', key, 'base64');
}

/** What the console shows of a key: its prefix and last four characters. */
export function apiKeyHint(key: string): string {
  return `${API_KEY_PREFIX}…${key.slice(-4)}`;
}

export function isWellFormedApiKey(key: string): boolean {
  return /^idbk_[A-Za-z0-9_-]{43}$/.test(key);
}

export function newWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString('base64');
}

export function sealWebhookSecret(ring: KeyRing, id: string, secret: string): { sealed: Buffer; dekVersion: number } {
  return {
    sealed: sealBytes(ring.currentData.key, ring.currentData.version, Buffer.from(secret, 'utf8'), associatedData('webhook_secrets', 'sealed', id)),
    dekVersion: ring.currentData.version,
  };
}

export function openWebhookSecret(ring: KeyRing, id: string, sealed: Buffer, dekVersion: number): string {
  return openBytes(dataKeyFor(ring, dekVersion), sealed, associatedData('webhook_secrets', 'sealed', id)).toString('utf8');
}
