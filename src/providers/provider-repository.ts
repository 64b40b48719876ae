/** SQL of providers, their API keys and webhook secrets. */
import type pg from 'pg';

type Db = pg.Pool | pg.PoolClient;

export type ProviderKind = 'platform' | 'carrier' | 'registrar';
export type LegalProfile = 'minimal' | 'statutory';

export interface ProviderRow {
  id: string;
  name: string;
  kind: ProviderKind;
  carrier_id: number | null;
  carrier_slug: string | null;
  legal_profile: LegalProfile;
  webhook_url: string | null;
  /** Set when the endpoint answered 410 Gone (migration 0017); cleared when the URL is set again. */
  webhook_disabled_at: Date | null;
  verifications_per_minute: number;
  sms_per_day: number;
  accounts_per_person: number;
  status: 'active' | 'disabled';
  created_at: Date;
}

const PROVIDER_COLUMNS = `p.id, p.name, p.kind, p.carrier_id, c.slug AS carrier_slug, p.legal_profile, p.webhook_url, p.webhook_disabled_at,
  p.verifications_per_minute, p.sms_per_day, p.accounts_per_person, p.status, p.created_at`;

export async function insertProvider(db: Db, p: {
  id: string; name: string; kind: ProviderKind; carrierId: number | null; legalProfile: LegalProfile; webhookUrl: string | null;
  verificationsPerMinute?: number; smsPerDay?: number; accountsPerPerson?: number;
}): Promise<void> {
  await db.query(
    `INSERT INTO providers (id, name, kind, carrier_id, legal_profile, webhook_url, verifications_per_minute, sms_per_day, accounts_per_person)
     VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, 600), coalesce($8, 100000), coalesce($9, 5))`,
    [p.id, p.name, p.kind, p.carrierId, p.legalProfile, p.webhookUrl, p.verificationsPerMinute ?? null, p.smsPerDay ?? null, p.accountsPerPerson ?? null],
  );
}

export async function findProvider(db: Db, id: string): Promise<ProviderRow | undefined> {
  const r = await db.query<ProviderRow>(
    `SELECT ${PROVIDER_COLUMNS} FROM providers p LEFT JOIN carriers c ON c.id = p.carrier_id WHERE p.id = $1`, [id]);
  return r.rows[0];
}

export async function findProviderByName(db: Db, name: string): Promise<ProviderRow | undefined> {
  const r = await db.query<ProviderRow>(
    `SELECT ${PROVIDER_COLUMNS} FROM providers p LEFT JOIN carriers c ON c.id = p.carrier_id WHERE p.name = $1`, [name]);
  return r.rows[0];
}

export async function listProviders(db: Db): Promise<ProviderRow[]> {
  // The citizen portal (kind `portal`, src/citizen/portal-client.ts) is the hub's own client, not a provider anyone manages.
  const r = await db.query<ProviderRow>(`SELECT ${PROVIDER_COLUMNS} FROM providers p LEFT JOIN carriers c ON c.id = p.carrier_id WHERE p.kind <> 'portal' ORDER BY p.name`);
  return r.rows;
}

/** The provider owning a live API key (not expired), in one indexed lookup. */
/**
 * The provider of a live key, with how long the key stays valid in ms (`key_valid_ms`, null
 * without expiry) by the database's clock, so that a cache need not trust its own clock.
 */
export async function findProviderByKeyHash(db: Db, hash: Buffer): Promise<(ProviderRow & { key_expires_at: Date | null; key_valid_ms: number | null }) | undefined> {
  const r = await db.query<ProviderRow & { key_expires_at: Date | null; key_valid_ms: number | null }>({
    name: 'provider_by_key_hash',
    text: `SELECT ${PROVIDER_COLUMNS}, k.expires_at AS key_expires_at, (extract(epoch FROM k.expires_at - now()) * 1000)::float8 AS key_valid_ms
           FROM provider_api_keys k JOIN providers p ON p.id = k.provider_id LEFT JOIN carriers c ON c.id = p.carrier_id
           WHERE k.key_hash = $1 AND (k.expires_at IS NULL OR k.expires_at > now())`,
    values: [hash],
  });
  return r.rows[0];
}

export async function updateProvider(db: Db, id: string, set: {
  legalProfile?: LegalProfile; webhookUrl?: string | null; verificationsPerMinute?: number; smsPerDay?: number; accountsPerPerson?: number;
  status?: 'active' | 'disabled';
}): Promise<boolean> {
  const r = await db.query(
    `UPDATE providers SET
       legal_profile = coalesce($2, legal_profile),
       webhook_url = CASE WHEN $3::boolean THEN $4 ELSE webhook_url END,
       -- Setting the URL (the same one too) is how an endpoint disabled by a 410 Gone comes back.
       webhook_disabled_at = CASE WHEN $3::boolean THEN NULL ELSE webhook_disabled_at END,
       verifications_per_minute = coalesce($5, verifications_per_minute),
       sms_per_day = coalesce($6, sms_per_day),
       accounts_per_person = coalesce($7, accounts_per_person),
       status = coalesce($8, status),
       updated_at = now()
     WHERE id = $1`,
    [id, set.legalProfile ?? null, set.webhookUrl !== undefined, set.webhookUrl ?? null, set.verificationsPerMinute ?? null,
      set.smsPerDay ?? null, set.accountsPerPerson ?? null, set.status ?? null],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * Disables a provider's webhook endpoint after it answered 410 Gone, only while the URL is still
 * the one that answered (a URL set meanwhile is a new endpoint). Returns whether it did.
 */
export async function disableWebhookEndpoint(db: Db, providerId: string, url: string): Promise<boolean> {
  const r = await db.query(
    'UPDATE providers SET webhook_disabled_at = now(), updated_at = now() WHERE id = $1 AND webhook_url = $2 AND webhook_disabled_at IS NULL',
    [providerId, url],
  );
  return (r.rowCount ?? 0) > 0;
}

export async function insertApiKey(db: Db, k: { id: string; providerId: string; hash: Buffer; hint: string }): Promise<void> {
  await db.query('INSERT INTO provider_api_keys (id, provider_id, key_hash, hint) VALUES ($1, $2, $3, $4)', [k.id, k.providerId, k.hash, k.hint]);
}

/** Gives every other live key of the provider an expiry (the rotation overlap); returns it. */
export async function expireOtherApiKeys(db: Db, providerId: string, keepId: string, overlapSeconds: number): Promise<Date | null> {
  const r = await db.query<{ expires_at: Date }>(
    `UPDATE provider_api_keys SET expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3))
     WHERE provider_id = $1 AND id <> $2 AND (expires_at IS NULL OR expires_at > now()) RETURNING expires_at`,
    [providerId, keepId, overlapSeconds],
  );
  return r.rows.reduce<Date | null>((max, row) => (max === null || row.expires_at > max ? row.expires_at : max), null);
}

export interface ApiKeyInfo {
  id: string;
  hint: string;
  created_at: Date;
  expires_at: Date | null;
}

export async function listApiKeys(db: Db, providerId: string): Promise<ApiKeyInfo[]> {
  const r = await db.query<ApiKeyInfo>(
    `SELECT id, hint, created_at, expires_at FROM provider_api_keys
     WHERE provider_id = $1 AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC`, [providerId]);
  return r.rows;
}

export interface WebhookSecretRow {
  id: string;
  sealed: Buffer;
  dek_version: number;
  created_at: Date;
  expires_at: Date | null;
}

export async function insertWebhookSecret(db: Db, s: { id: string; providerId: string; sealed: Buffer; dekVersion: number }): Promise<void> {
  await db.query('INSERT INTO webhook_secrets (id, provider_id, sealed, dek_version) VALUES ($1, $2, $3, $4)', [s.id, s.providerId, s.sealed, s.dekVersion]);
}

/**
 * Serialises the credential rotations of a provider, API keys and webhook secrets (taken first in
 * the rotation's transaction): without it, rotations at the same time each expired the
 * credentials committed before them but not each other's new one, which stayed live without
 * expiry (an overlap of 0 then left several secrets signing, or several keys working). FOR NO KEY
 * UPDATE: it does not wait for, nor hold up, rows that merely reference the provider (events,
 * deliveries, secrets, keys).
 */
export async function lockCredentialRotation(db: Db, providerId: string): Promise<void> {
  await db.query('SELECT 1 FROM providers WHERE id = $1 FOR NO KEY UPDATE', [providerId]);
}

export async function expireOtherWebhookSecrets(db: Db, providerId: string, keepId: string, overlapSeconds: number): Promise<Date | null> {
  const r = await db.query<{ expires_at: Date }>(
    `UPDATE webhook_secrets SET expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3))
     WHERE provider_id = $1 AND id <> $2 AND (expires_at IS NULL OR expires_at > now()) RETURNING expires_at`,
    [providerId, keepId, overlapSeconds],
  );
  return r.rows.reduce<Date | null>((max, row) => (max === null || row.expires_at > max ? row.expires_at : max), null);
}

/** The live webhook secrets of a provider, newest first. */
export async function liveWebhookSecrets(db: Db, providerId: string): Promise<WebhookSecretRow[]> {
  const r = await db.query<WebhookSecretRow>({
    name: 'live_webhook_secrets',
    text: `SELECT id, sealed, dek_version, created_at, expires_at FROM webhook_secrets
           WHERE provider_id = $1 AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC`,
    values: [providerId],
  });
  return r.rows;
}
