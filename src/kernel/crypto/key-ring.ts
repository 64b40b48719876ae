/**
 * The key ring: the unwrapped data keys and blind-index keys of this process (DESIGN.md
 * invariant 2). Keys are stored in `key_versions`, wrapped by a master key from configuration;
 * the ring unwraps every key not yet retired, so a field sealed under an older data key still
 * opens and a lookup can try every blind-index version during a rotation.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { KeyRingError, unwrapKey, wrapKey, type MasterKey } from './master-keys.ts';

/** Declared with unwrapKey, which throws it too. */
export { KeyRingError };

export type KeyPurpose = 'data' | 'blind_index';

export interface VersionedKey {
  readonly version: number;
  readonly key: Buffer;
}

/**
 * The rules by which a name is folded before its match index is computed
 * (src/registry/name-match.ts). A blind-index key version keeps the rule it was created with
 * (`key_versions.name_rule`), so that every match index of one version compares with every other;
 * a new version takes CURRENT_NAME_RULE, and re-indexing under it applies the new rule to every row.
 */
export type NameRule = 1 | 2 | 3;
export const CURRENT_NAME_RULE: NameRule = 3;

export interface BlindIndexKey extends VersionedKey {
  /** The name rule of this version's match indexes. */
  readonly nameRule: NameRule;
}

export interface KeyRing {
  readonly currentData: VersionedKey;
  /** Every data key not retired, by version. */
  readonly data: ReadonlyMap<number, Buffer>;
  readonly currentBlindIndex: BlindIndexKey;
  /** Every blind-index key not retired, current first. */
  readonly blindIndex: readonly BlindIndexKey[];
}


export function wrapLabel(purpose: KeyPurpose, version: number): string {
  return `${purpose}/v${version}`;
}

/** A row of `key_versions` as the ring reads it. */
export interface KeyRow {
  purpose: KeyPurpose;
  version: number;
  wrapped: Buffer | null;
  master_key_id: string | null;
  state: 'current' | 'previous' | 'retired';
  /** Blind-index keys only: the name rule of its match indexes (migration 0030). */
  name_rule: number | null;
}

/** The name rule a new key version of `purpose` records: the latest for a blind-index key. */
export function nameRuleFor(purpose: KeyPurpose): NameRule | null {
  return purpose === 'blind_index' ? CURRENT_NAME_RULE : null;
}

/** Creates version 1 of each key purpose if the database has none (first start). */
export async function ensureInitialKeys(pool: pg.Pool, master: MasterKey): Promise<void> {
  for (const purpose of ['data', 'blind_index'] as const) {
    await pool.query(
      `INSERT INTO key_versions (purpose, version, wrapped, master_key_id, state, name_rule)
       SELECT $1, 1, $2, $3, 'current', $4
       WHERE NOT EXISTS (SELECT 1 FROM key_versions WHERE purpose = $1)
       ON CONFLICT DO NOTHING`,
      [purpose, wrapKey(master, randomBytes(32), wrapLabel(purpose, 1)), master.id, nameRuleFor(purpose)],
    );
  }
}

export async function loadKeyRing(pool: pg.Pool, masterKeys: readonly MasterKey[]): Promise<KeyRing> {
  const current = masterKeys[0];
  if (!current) throw new KeyRingError('no master key configured');
  await ensureInitialKeys(pool, current);
  const rows = await pool.query<KeyRow>(
    "SELECT purpose, version, wrapped, master_key_id, state, name_rule FROM key_versions WHERE state <> 'retired' ORDER BY purpose, version DESC",
  );
  const byId = new Map(masterKeys.map((k) => [k.id, k]));
  const data = new Map<number, Buffer>();
  const blindIndex: BlindIndexKey[] = [];
  let currentData: VersionedKey | undefined;
  let currentBlindIndex: BlindIndexKey | undefined;
  for (const row of rows.rows) {
    const master = byId.get(row.master_key_id ?? '');
    if (!master || !row.wrapped) {
      throw new KeyRingError(
        `${row.purpose} key v${row.version} is wrapped by master key ${row.master_key_id ?? '?'}, which is not configured; add it to IDBIND_MASTER_KEYS (see docs/keys.md)`,
      );
    }
    const key = unwrapKey(master, row.wrapped, wrapLabel(row.purpose, row.version));
    if (row.purpose === 'data') {
      data.set(row.version, key);
      if (row.state === 'current') currentData = { version: row.version, key };
    } else {
      // Fail closed on a rule this code does not know (a key made by a newer hub): folding names by
      // another rule would make every holder of that version look mismatched (DESIGN.md invariant 5).
      if (row.name_rule !== 1 && row.name_rule !== 2 && row.name_rule !== 3) {
        throw new KeyRingError(`blind-index key v${row.version} uses name rule ${String(row.name_rule)}, which this version of idbind does not know; upgrade idbind`);
      }
      const vk: BlindIndexKey = { version: row.version, key, nameRule: row.name_rule };
      if (row.state === 'current') {
        currentBlindIndex = vk;
        blindIndex.unshift(vk);
      } else blindIndex.push(vk);
    }
  }
  if (!currentData || !currentBlindIndex) throw new KeyRingError('the key table has no current key; run idbind keys status');
  return Object.freeze({ currentData, data, currentBlindIndex, blindIndex: Object.freeze(blindIndex) });
}

/** The data key a sealed value names; fails closed when it is unknown or retired. */
export function dataKeyFor(ring: KeyRing, version: number): Buffer {
  const key = ring.data.get(version);
  if (!key) throw new KeyRingError(`data key v${version} is not available (retired or unknown)`);
  return key;
}
