/**
 * Log entries and commitments (issue 5 "Transparency log"). Pure code.
 *
 * An entry is the canonical JSON (canonical-json.ts) of {authority, commitment, stage,
 * timestamp}: never personal data, only a commitment to the record. Its leaf hash is
 * SHA-256(0x00 || entry bytes) (RFC 6962 2.1). An entry is at most 65,535 bytes (the uint16
 * length prefix of C2SP tlog-tiles entry bundles).
 *
 * The commitment is SHA-256("idbind-disclosure-v1\n" || salt || canonicalJson(record)) with a
 * random 32-byte salt, so that the record (which names an account and a case) cannot be guessed
 * from the entry, and a re-encryption of the stored record never changes it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import { MAX_ENTRY_SIZE } from './tiles.ts';

export const LOG_STAGES = ['submitted', 'approved', 'rejected', 'released', 'seal_extended', 'unsealed', 'reviewed'] as const;
export type LogStage = (typeof LOG_STAGES)[number];

export interface LogEntry {
  stage: LogStage;
  authority: string;
  /** RFC 3339 */
  timestamp: string;
  /** lowercase hex SHA-256 */
  commitment: string;
}

export const COMMITMENT_DOMAIN = 'idbind-disclosure-v1\n';

export class EntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EntryError';
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Checks an entry's fields; throws EntryError naming the field (never its value). */
export function checkEntry(e: unknown): LogEntry {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new EntryError('an entry is an object');
  const o = e as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(',');
  if (keys !== 'authority,commitment,stage,timestamp') throw new EntryError('an entry has exactly authority, commitment, stage and timestamp');
  if (!LOG_STAGES.includes(o.stage as LogStage)) throw new EntryError('unknown stage');
  if (typeof o.authority !== 'string' || o.authority === '' || o.authority.length > 200) throw new EntryError('invalid authority');
  if (typeof o.timestamp !== 'string' || !RFC3339.test(o.timestamp) || Number.isNaN(Date.parse(o.timestamp))) throw new EntryError('timestamp is not RFC 3339');
  if (typeof o.commitment !== 'string' || !/^[0-9a-f]{64}$/.test(o.commitment)) throw new EntryError('commitment is not lowercase hex SHA-256');
  return { stage: o.stage as LogStage, authority: o.authority, timestamp: o.timestamp, commitment: o.commitment };
}

/** The entry's bytes: canonical JSON, at most 65,535 bytes. */
export function encodeEntry(entry: LogEntry): Buffer {
  const bytes = Buffer.from(canonicalJson(checkEntry(entry)), 'utf8');
  if (bytes.length > MAX_ENTRY_SIZE) throw new EntryError('an entry is longer than 65,535 bytes');
  return bytes;
}

/** Parses entry bytes, refusing any that are not exactly the canonical form. */
export function decodeEntry(bytes: Uint8Array): LogEntry {
  const text = Buffer.from(bytes).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new EntryError('an entry is not JSON');
  }
  const entry = checkEntry(parsed);
  if (canonicalJson(entry) !== text) throw new EntryError('an entry is not in canonical form');
  return entry;
}

/** SHA-256(domain tag || salt || canonicalJson(record)), lowercase hex. */
export function commitment(salt: Uint8Array, record: unknown): string {
  if (salt.length !== 32) throw new EntryError('the salt is 32 bytes');
  return createHash('sha256').update(COMMITMENT_DOMAIN, 'utf8').update(salt).update(canonicalJson(record), 'utf8').digest('hex');
}

/** A fresh commitment to a record: a random 32-byte salt (base64) and the commitment (hex). */
export function commitTo(record: unknown): { salt: string; commitment: string } {
  const salt = randomBytes(32);
  return { salt: salt.toString('base64'), commitment: commitment(salt, record) };
}
