/**
 * Master keys live outside the database (DESIGN.md invariant 2) and wrap the data keys and the
 * blind-index keys stored in it. They come from configuration only:
 *
 * - `IDBIND_MASTER_KEY`: base64 of 32 random bytes (one key; its id is derived from the key);
 * - `IDBIND_MASTER_KEYS`: `id:base64,id:base64,...` during a rotation, the first being current;
 * - `IDBIND_MASTER_KEY_FILE`: a file holding either form.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

/** The master-key configuration is malformed (CLI code CONFIG_INVALID). */
export class MasterKeyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyConfigError';
  }
}

/**
 * The key ring cannot be loaded: a stored key is wrapped by a master key that is not configured,
 * or by one configured under its id with other bytes (CLI code KEY_RING_UNAVAILABLE, README "The
 * CLI"). Declared here, below key-ring.ts (which re-exports it), because unwrapKey throws it: a
 * well-formed key that does not open a stored key is no configuration error, and was reported
 * as one (CONFIG_INVALID) by every command but `keys status`.
 */
export class KeyRingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyRingError';
  }
}

/** A key id derived from the key itself, so the same key always has the same id. */
export function deriveMasterKeyId(key: Buffer): string {
  return 'mk-' + createHash('sha256').update('idbind master key id\u0000').update(key).digest('hex').slice(0, 12);
}

function decodeKey(b64: string, label: string): Buffer {
  const trimmed = b64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
    throw new MasterKeyConfigError(`${label} is not base64`);
  }
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    throw new MasterKeyConfigError(`${label} must be 32 bytes (got ${key.length})`);
  }
  return key;
}

/**
 * Parses a master-key specification: a single base64 key, or a comma-separated list of
 * `id:base64` entries (the first is current). Never echoes key material in errors.
 */
export function parseMasterKeys(spec: string, source: string): MasterKey[] {
  const entries = spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (entries.length === 0) throw new MasterKeyConfigError(`${source} is empty`);
  const keys: MasterKey[] = [];
  for (const [i, entry] of entries.entries()) {
    // "entry N" only where there is a list: one key (IDBIND_MASTER_KEY) is named by its variable.
    const label = entries.length === 1 ? source : `${source} entry ${i + 1}`;
    const colon = entry.indexOf(':');
    if (colon === -1) {
      const key = decodeKey(entry, label);
      keys.push({ id: deriveMasterKeyId(key), key });
    } else {
      const id = entry.slice(0, colon);
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
        throw new MasterKeyConfigError(`${label} has an invalid id (letters, digits, . _ -)`);
      }
      keys.push({ id, key: decodeKey(entry.slice(colon + 1), label) });
    }
  }
  const ids = new Set(keys.map((k) => k.id));
  if (ids.size !== keys.length) throw new MasterKeyConfigError(`${source} names a key id twice`);
  return keys;
}

export function generateMasterKeySpec(): string {
  return randomBytes(32).toString('base64');
}

/** Wraps a data or blind-index key under a master key (AES-256-GCM, AD names what is wrapped). */
export function wrapKey(master: MasterKey, plainKey: Buffer, label: string): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', master.key, nonce);
  cipher.setAAD(Buffer.from(`idbind/wrap/${master.id}/${label}`));
  const ct = Buffer.concat([cipher.update(plainKey), cipher.final()]);
  return Buffer.concat([nonce, ct, cipher.getAuthTag()]);
}

export function unwrapKey(master: MasterKey, wrapped: Buffer, label: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', master.key, wrapped.subarray(0, 12));
  decipher.setAAD(Buffer.from(`idbind/wrap/${master.id}/${label}`));
  decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
  try {
    return Buffer.concat([decipher.update(wrapped.subarray(12, wrapped.length - 16)), decipher.final()]);
  } catch {
    throw new KeyRingError(`master key ${master.id} cannot unwrap ${label}: the configured key is not the one it was wrapped with`);
  }
}
