/**
 * Providers: platforms, carriers and registrars (issue 3 "Providers"; DESIGN.md "Core model").
 * Creation hands out the API key and the webhook secret once; rotation issues new ones and keeps
 * the old ones valid for an overlap, so a provider can roll its deployment without downtime.
 */
import type pg from 'pg';
import { uuidv7 } from '../kernel/ids.ts';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { OutboundUrlError, validateOutboundUrl, type OutboundPolicy } from '../kernel/http/outbound-http.ts';
import { findOrCreateCarrier } from '../registry/import/import-repository.ts';
import { apiKeyHash, apiKeyHashBase64, apiKeyHint, isWellFormedApiKey, newApiKey, newWebhookSecret, openWebhookSecret, sealWebhookSecret } from './provider-credentials.ts';
import * as repo from './provider-repository.ts';
import { ProviderError } from './provider-errors.ts';
import type { ProviderAuthCache } from './provider-auth-cache.ts';

export type { ProviderKind, LegalProfile } from './provider-repository.ts';

export interface Provider {
  id: string;
  name: string;
  kind: repo.ProviderKind;
  /** The carrier of the registries a carrier provider speaks for. */
  carrier: string | null;
  carrierId: number | null;
  legalProfile: repo.LegalProfile;
  webhookUrl: string | null;
  /** When the endpoint answered 410 Gone and was disabled; null while enabled. */
  webhookDisabledAt: Date | null;
  limits: { verificationsPerMinute: number; smsPerDay: number; accountsPerPerson: number };
  status: 'active' | 'disabled';
  createdAt: Date;
  /**
   * Set on the provider of an authenticated call when the calling key is in its rotation overlap
   * (it has an expiry: the newest key never has one). Such a key still calls the API, but cannot
   * manage the credentials or the webhook (currentKeyGuard, provider-auth.ts).
   */
  keyRetiring?: boolean;
}

export function providerFromRow(r: repo.ProviderRow): Provider {
  return {
    id: r.id, name: r.name, kind: r.kind, carrier: r.carrier_slug, carrierId: r.carrier_id, legalProfile: r.legal_profile,
    webhookUrl: r.webhook_url, webhookDisabledAt: r.webhook_disabled_at,
    limits: { verificationsPerMinute: r.verifications_per_minute, smsPerDay: r.sms_per_day, accountsPerPerson: r.accounts_per_person },
    status: r.status, createdAt: r.created_at,
  };
}

/** The JSON form of a provider for the APIs (no secret, ever). */
export function providerView(p: Provider) {
  return {
    id: p.id, name: p.name, kind: p.kind, carrier: p.carrier, legal_profile: p.legalProfile, webhook_url: p.webhookUrl,
    webhook_disabled_at: p.webhookDisabledAt ? p.webhookDisabledAt.toISOString() : null,
    limits: { verifications_per_minute: p.limits.verificationsPerMinute, sms_per_day: p.limits.smsPerDay, accounts_per_person: p.limits.accountsPerPerson },
    status: p.status, created_at: p.createdAt.toISOString(),
  };
}

export interface LimitsInput {
  verificationsPerMinute?: number;
  smsPerDay?: number;
  accountsPerPerson?: number;
}

export interface CreateProviderInput {
  name: string;
  kind: repo.ProviderKind;
  /** Carrier providers: the registry carrier's slug (default: the name, lower-cased). */
  carrier?: string;
  webhookUrl?: string;
  legalProfile?: repo.LegalProfile;
  limits?: LimitsInput;
}

export interface CreatedProvider {
  provider: Provider;
  /** Shown once. */
  apiKey: string;
  /** Shown once (the console can show it again to the provider itself). */
  webhookSecret: string;
}

const NAME = /^[\p{L}\p{N}][\p{L}\p{N} .&'+_-]{0,59}$/u;

function checkName(name: string): void {
  // The name goes into the SMS text, where the code must be the only 6-digit number (issue 3).
  // \p{N} takes other digits too (full-width, Arabic-Indic...), which compatibility folding turns
  // into ASCII ones: a run of 6 in any script is refused.
  if (!NAME.test(name) || /\p{Nd}{6}/u.test(name.normalize('NFKD'))) {
    throw new ProviderError('PROVIDER_INVALID', 'name: 1 to 60 letters, digits, spaces or .&\'+_-, starting with a letter or digit, without a run of 6 digits');
  }
}

function checkLimits(l: LimitsInput | undefined): void {
  for (const [k, v] of Object.entries(l ?? {})) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 1_000_000_000)) throw new ProviderError('PROVIDER_INVALID', `limits.${k}: a whole number from 1`);
  }
}

export async function checkWebhookUrl(url: string, policy: OutboundPolicy): Promise<string> {
  try {
    return (await validateOutboundUrl(url, policy)).toString();
  } catch (e) {
    if (e instanceof OutboundUrlError) throw new ProviderError('WEBHOOK_URL_REFUSED', e.message);
    throw e;
  }
}

function isUniqueViolation(e: unknown, constraint?: string): boolean {
  const pe = e as { code?: string; constraint?: string };
  return pe.code === '23505' && (constraint === undefined || pe.constraint === constraint);
}

export async function createProvider(pool: pg.Pool, ring: KeyRing, policy: OutboundPolicy, input: CreateProviderInput): Promise<CreatedProvider> {
  checkName(input.name);
  checkLimits(input.limits);
  if (!['platform', 'carrier', 'registrar'].includes(input.kind)) throw new ProviderError('PROVIDER_INVALID', 'kind: platform, carrier or registrar');
  if (input.kind !== 'carrier' && input.carrier !== undefined) throw new ProviderError('PROVIDER_INVALID', 'carrier: only for kind carrier');
  if (input.legalProfile !== undefined && input.legalProfile !== 'minimal' && input.legalProfile !== 'statutory') {
    throw new ProviderError('PROVIDER_INVALID', 'legal_profile: minimal or statutory');
  }
  if (input.legalProfile === 'statutory' && input.kind !== 'platform') throw new ProviderError('PROVIDER_INVALID', 'legal_profile statutory is for platforms');
  const webhookUrl = input.webhookUrl ? await checkWebhookUrl(input.webhookUrl, policy) : null;
  const carrierSlug = input.kind === 'carrier' ? (input.carrier ?? input.name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '')) : undefined;
  if (carrierSlug !== undefined && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(carrierSlug)) throw new ProviderError('PROVIDER_INVALID', 'carrier: a slug of a-z, 0-9 and -');

  const id = uuidv7();
  const apiKey = newApiKey();
  const webhookSecret = newWebhookSecret();
  const secretId = uuidv7();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const carrierId = carrierSlug !== undefined ? await findOrCreateCarrier(client, carrierSlug) : null;
    await repo.insertProvider(client, {
      id, name: input.name, kind: input.kind, carrierId, legalProfile: input.legalProfile ?? 'minimal', webhookUrl,
      verificationsPerMinute: input.limits?.verificationsPerMinute, smsPerDay: input.limits?.smsPerDay, accountsPerPerson: input.limits?.accountsPerPerson,
    });
    await repo.insertApiKey(client, { id: uuidv7(), providerId: id, hash: apiKeyHash(apiKey), hint: apiKeyHint(apiKey) });
    await repo.insertWebhookSecret(client, { id: secretId, providerId: id, ...sealWebhookSecret(ring, secretId, webhookSecret) });
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (isUniqueViolation(e, 'providers_name_key')) throw new ProviderError('PROVIDER_NAME_TAKEN', 'name');
    if (isUniqueViolation(e, 'providers_one_per_carrier')) throw new ProviderError('CARRIER_ALREADY_LINKED', `carrier ${carrierSlug}`);
    throw e;
  } finally {
    client.release();
  }
  const provider = await getProvider(pool, id);
  return { provider, apiKey, webhookSecret };
}

export async function getProvider(pool: pg.Pool, id: string): Promise<Provider> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new ProviderError('PROVIDER_NOT_FOUND');
  const row = await repo.findProvider(pool, id);
  if (!row) throw new ProviderError('PROVIDER_NOT_FOUND');
  return providerFromRow(row);
}

export async function findProviderByName(pool: pg.Pool, name: string): Promise<Provider | undefined> {
  const row = await repo.findProviderByName(pool, name);
  return row ? providerFromRow(row) : undefined;
}

export async function listProviders(pool: pg.Pool): Promise<Provider[]> {
  return (await repo.listProviders(pool)).map(providerFromRow);
}

export interface UpdateProviderInput {
  legalProfile?: repo.LegalProfile;
  webhookUrl?: string | null;
  limits?: LimitsInput;
  status?: 'active' | 'disabled';
}

export async function updateProvider(pool: pg.Pool, policy: OutboundPolicy, id: string, input: UpdateProviderInput): Promise<Provider> {
  const current = await getProvider(pool, id);
  checkLimits(input.limits);
  if (input.legalProfile === 'statutory' && current.kind !== 'platform') throw new ProviderError('PROVIDER_INVALID', 'legal_profile statutory is for platforms');
  const webhookUrl = input.webhookUrl === undefined ? undefined : input.webhookUrl === null || input.webhookUrl === '' ? null : await checkWebhookUrl(input.webhookUrl, policy);
  await repo.updateProvider(pool, id, { ...input.limits, legalProfile: input.legalProfile, webhookUrl, status: input.status });
  invalidateAuthCache(pool);
  return getProvider(pool, id);
}

/** Default overlap of a rotated credential: 24 hours. */
export const DEFAULT_OVERLAP_SECONDS = 24 * 3600;

export async function rotateApiKey(pool: pg.Pool, providerId: string, overlapSeconds = DEFAULT_OVERLAP_SECONDS): Promise<{ apiKey: string; previousExpireAt: Date | null }> {
  await getProvider(pool, providerId);
  const apiKey = newApiKey();
  const id = uuidv7();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await repo.lockCredentialRotation(client, providerId);
    await repo.insertApiKey(client, { id, providerId, hash: apiKeyHash(apiKey), hint: apiKeyHint(apiKey) });
    const previousExpireAt = await repo.expireOtherApiKeys(client, providerId, id, overlapSeconds);
    await client.query('COMMIT');
    invalidateAuthCache(pool);
    return { apiKey, previousExpireAt };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

export async function rotateWebhookSecret(pool: pg.Pool, ring: KeyRing, providerId: string, overlapSeconds = DEFAULT_OVERLAP_SECONDS): Promise<{ webhookSecret: string; previousExpireAt: Date | null }> {
  await getProvider(pool, providerId);
  const webhookSecret = newWebhookSecret();
  const id = uuidv7();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await repo.lockCredentialRotation(client, providerId);
    await repo.insertWebhookSecret(client, { id, providerId, ...sealWebhookSecret(ring, id, webhookSecret) });
    const previousExpireAt = await repo.expireOtherWebhookSecrets(client, providerId, id, overlapSeconds);
    await client.query('COMMIT');
    return { webhookSecret, previousExpireAt };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/** The provider's live webhook secrets, newest first: deliveries are signed with each (overlap). */
export async function webhookSecrets(pool: pg.Pool, ring: KeyRing, providerId: string): Promise<string[]> {
  return (await repo.liveWebhookSecrets(pool, providerId)).map((s) => openWebhookSecret(ring, s.id, s.sealed, s.dek_version));
}

export async function apiKeys(pool: pg.Pool, providerId: string) {
  return (await repo.listApiKeys(pool, providerId)).map((k) => ({
    id: k.id, hint: k.hint, created_at: k.created_at.toISOString(), expires_at: k.expires_at?.toISOString() ?? null,
  }));
}

// ---- authentication ----

/**
 * The cache of authenticated keys of each pool's hub (provider-auth-cache.ts): every provider
 * call authenticates, and the status route must run at thousands of requests per second. The
 * server attaches one to its pool; kept correct across processes by migration 0026's
 * notifications and bypassed while it cannot hear them. A pool without one (the CLI, a test)
 * asks the database every time.
 */
const authCaches = new WeakMap<pg.Pool, ProviderAuthCache<Provider>>();

export function attachAuthCache(pool: pg.Pool, cache: ProviderAuthCache<Provider>): void {
  authCaches.set(pool, cache);
}

/** The pool's cache of authenticated keys, if its server attached one. */
export function authCacheOf(pool: pg.Pool): ProviderAuthCache<Provider> | undefined {
  return authCaches.get(pool);
}

/**
 * Forgets the pool's cached authentications at once, after a change committed through it (its
 * notification would do the same a millisecond later; every other process hears only that).
 */
export function invalidateAuthCache(pool: pg.Pool): void {
  authCaches.get(pool)?.flush();
}

/** The provider of a bearer API key; fails closed on anything else (API_KEY_INVALID, PROVIDER_DISABLED). */
export async function authenticateApiKey(pool: pg.Pool, key: string): Promise<Provider> {
  if (!isWellFormedApiKey(key)) throw new ProviderError('API_KEY_INVALID');
  // One-shot SHA-256 straight to the cache key: this runs on every provider call.
  const hash = apiKeyHashBase64(key);
  const cache = authCaches.get(pool);
  const hit = cache?.peek(hash);
  if (hit) return checkActive(hit);
  const load = async () => {
    const row = await repo.findProviderByKeyHash(pool, Buffer.from(hash, 'base64'));
    return row ? { providerId: row.id, value: { ...providerFromRow(row), keyRetiring: row.key_expires_at !== null }, validForMs: row.key_valid_ms ?? Infinity } : undefined;
  };
  const provider = cache ? await cache.get(hash, load) : (await load())?.value;
  if (!provider) throw new ProviderError('API_KEY_INVALID');
  return checkActive(provider);
}

function checkActive(provider: Provider): Provider {
  if (provider.status !== 'active') throw new ProviderError('PROVIDER_DISABLED');
  return provider;
}
