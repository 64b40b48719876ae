/**
 * Demo platforms (issue 3 "SDK and console": "The demo data of `npm start` gains three demo
 * platforms with printed API keys"). Demo mode only. Their keys are kept in the data directory
 * (mode 0600) so that a restarted demo prints the same ones; a production hub has neither the
 * file nor the platforms.
 *
 * Given the hub's public URL, Sen Social (minimal) and Lotus Video (statutory) are OpenID clients
 * too (issue 4 "The demo data of `npm start` includes a demo platform configured as a client"):
 * client_secret_basic, PAR not required, redirect URI `${publicUrl}/demo/rp/<slug>/callback` (the
 * demo relying party, src/demo/demo-relying-party.ts). Their client secrets are kept in the same
 * file.
 *
 * Also picks a few numbers of the synthetic registry that can verify an account (active, holder
 * alive, adult, not junk, no recent SIM change), so the walkthrough has something to type.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writePrivateFileSync } from '../kernel/private-file.ts';
import { join } from 'node:path';
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { associatedData, openRecord } from '../kernel/crypto/envelope.ts';
import { dataKeyFor } from '../kernel/crypto/key-ring.ts';
import { authenticateApiKey, createProvider, findProviderByName, rotateApiKey, webhookSecrets } from '../providers/provider-service.ts';
import { personFromSealedFields, vietnamToday } from '../registry/registry-rows.ts';
import { ageOn } from '../registry/dates.ts';
import { LATEST_COMPLETED_RUN_SQL } from '../registry/reconciliation/reconciliation-repository.ts';
import type { Provider } from '../providers/provider-service.ts';
import { checkRedirectUris, clientSecretOf, createOidcClient, getOidcClient, updateOidcClient, type OidcClientView } from '../oidc/oidc-client-service.ts';
import { OidcError } from '../oidc/oidc-errors.ts';
import { openSubscriptionNumber } from '../registry/row-crypto.ts';

export interface DemoPlatform {
  id: string;
  name: string;
  profile: 'minimal' | 'statutory';
  kind: 'platform' | 'registrar';
  api_key: string;
  webhook_secret: string;
  /** The platform's OpenID client (Sen Social and Lotus Video, once configured with the public URL). */
  oidc_client_id?: string;
  oidc_client_secret?: string;
}

const DEMO_PLATFORMS = [
  { name: 'Sen Social', kind: 'platform', profile: 'minimal', slug: 'sen-social', oidc: true },
  { name: 'Lotus Video', kind: 'platform', profile: 'statutory', slug: 'lotus-video', oidc: true },
  { name: 'Mekong Domains', kind: 'registrar', profile: 'minimal', slug: 'mekong-domains', oidc: false },
] as const;

/** The demo platforms' names: a database that holds one was seeded by a demo (serve-command.ts refuses it in production). */
export const DEMO_PLATFORM_NAMES: readonly string[] = DEMO_PLATFORMS.map((d) => d.name);

/** The demo platforms that sign people in through the demo relying party, by URL slug. */
export const DEMO_RELYING_PARTIES: readonly { name: string; slug: string; profile: 'minimal' | 'statutory' }[] =
  DEMO_PLATFORMS.filter((d) => d.oidc).map((d) => ({ name: d.name, slug: d.slug, profile: d.profile }));

/** The redirect URI of a demo platform's OpenID client: the demo relying party's callback. */
export function demoCallbackUrl(publicUrl: string, slug: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/demo/rp/${slug}/callback`;
}

async function findClient(pool: pg.Pool, providerId: string, publicUrl: string): Promise<OidcClientView | undefined> {
  try {
    return await getOidcClient(pool, providerId, publicUrl);
  } catch (e) {
    if (e instanceof OidcError && e.code === 'OIDC_CLIENT_NOT_FOUND') return undefined;
    throw e;
  }
}

/**
 * Makes the demo platform an OpenID client whose redirect URIs include the demo relying party's
 * callback, authenticating with client_secret_basic; settings changed from the console are kept
 * otherwise. Returns undefined when the public URL cannot be a redirect URI (http on a host that
 * is not loopback): the demo then runs without the sign-in demo rather than not at all.
 */
async function ensureDemoClient(pool: pg.Pool, ring: KeyRing, provider: Provider, slug: string, publicUrl: string): Promise<{ id: string; secret: string } | undefined> {
  const redirect = demoCallbackUrl(publicUrl, slug);
  try {
    checkRedirectUris([redirect], true);
  } catch {
    return undefined;
  }
  const opts = { allowLoopback: true, publicUrl };
  let view = await findClient(pool, provider.id, publicUrl);
  if (!view) {
    try {
      const c = await createOidcClient(pool, ring, provider, { redirect_uris: [redirect], token_endpoint_auth_method: 'client_secret_basic', require_par: false }, opts);
      return { id: c.client_id, secret: c.client_secret };
    } catch (e) {
      // Created meanwhile by a concurrent call (the demo session endpoint): use that one.
      view = await findClient(pool, provider.id, publicUrl);
      if (!view) throw e;
    }
  }
  if (!view.redirect_uris.includes(redirect) || view.token_endpoint_auth_method !== 'client_secret_basic') {
    // A new public URL (another port) adds its callback; at most 20 redirect URIs are kept.
    const uris = view.redirect_uris.includes(redirect) ? view.redirect_uris : [...view.redirect_uris.slice(-19), redirect];
    view = await updateOidcClient(pool, provider, { redirect_uris: uris, token_endpoint_auth_method: 'client_secret_basic' }, opts);
  }
  const secret = await clientSecretOf(pool, ring, provider.id);
  return secret ? { id: view.client_id, secret } : undefined;
}

async function keyStillWorks(pool: pg.Pool, key: string): Promise<boolean> {
  try {
    await authenticateApiKey(pool, key);
    return true;
  } catch {
    return false;
  }
}

/**
 * The demo platforms with their keys (created on first call). With `publicUrl`, Sen Social and
 * Lotus Video are made OpenID clients of the hub (see above); without it, an existing client's id
 * and secret are reported and nothing about clients is changed.
 */
export async function ensureDemoPlatforms(pool: pg.Pool, ring: KeyRing, dataDir: string, publicUrl?: string): Promise<DemoPlatform[]> {
  const file = join(dataDir, 'demo-platforms.json');
  const saved: DemoPlatform[] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoPlatform[]) : [];
  const out: DemoPlatform[] = [];
  for (const d of DEMO_PLATFORMS) {
    const existing = await findProviderByName(pool, d.name);
    const known = saved.find((s) => s.name === d.name);
    let entry: DemoPlatform;
    let provider: Provider;
    if (existing && known && known.id === existing.id && (await keyStillWorks(pool, known.api_key))) {
      entry = { id: known.id, name: known.name, kind: known.kind, profile: known.profile, api_key: known.api_key, webhook_secret: known.webhook_secret };
      provider = existing;
    } else if (existing) {
      // The key file was lost, or the key was rotated from the console: issue a new key (the old
      // ones stop at once) and read the secret.
      const { apiKey } = await rotateApiKey(pool, existing.id, 0);
      entry = { id: existing.id, name: d.name, kind: d.kind, profile: d.profile, api_key: apiKey, webhook_secret: (await webhookSecrets(pool, ring, existing.id))[0] ?? '' };
      provider = existing;
    } else {
      const c = await createProvider(pool, ring, { allowLoopback: true }, { name: d.name, kind: d.kind, legalProfile: d.profile });
      entry = { id: c.provider.id, name: d.name, kind: d.kind, profile: d.profile, api_key: c.apiKey, webhook_secret: c.webhookSecret };
      provider = c.provider;
    }
    if (d.oidc) {
      let client: { id: string; secret: string } | undefined;
      if (publicUrl !== undefined) client = await ensureDemoClient(pool, ring, provider, d.slug, publicUrl);
      else {
        const secret = await clientSecretOf(pool, ring, provider.id);
        if (secret) client = { id: provider.id, secret };
      }
      if (client) Object.assign(entry, { oidc_client_id: client.id, oidc_client_secret: client.secret });
    }
    out.push(entry);
  }
  mkdirSync(dataDir, { recursive: true });
  // Rewritten on every start: a new 0600 file renamed over the old one (src/kernel/private-file.ts).
  writePrivateFileSync(file, JSON.stringify(out, null, 2) + '\n');
  return out;
}

/** How many numbers a demo start prints, and the demo's session answers, as able to verify. */
export const DEMO_NUMBERS_OFFERED = 3;

/** A live number of the demo registry that can verify an account now, with its holder. */
export interface DemoHolding {
  number: string;
  personId: string;
  subscriptionId: string;
}

/**
 * Up to `n` numbers that can verify an account right now (demo mode only), one per person, all of
 * persons without any account: an adult holder, alive, of an active subscription matching the
 * population registry, with no SIM or device change in 72 hours and no junk-SIM flag.
 */
async function demoEligibleHoldings(pool: pg.Pool, ring: KeyRing, n: number): Promise<DemoHolding[]> {
  const r = await pool.query<{ id: string; sealed: Buffer; dek_version: number; person_id: string; p_sealed: Buffer; p_dek: number }>(
    `SELECT s.id, s.sealed, s.dek_version, p.id AS person_id, p.sealed AS p_sealed, p.dek_version AS p_dek
     FROM subscriptions s JOIN persons p ON p.pid_bidx = s.holder_bidx
     WHERE s.status = 'active' AND p.status = 'alive' AND s.holder_match_bidx IS NOT DISTINCT FROM p.match_bidx
       AND (s.sim_changed_at IS NULL OR s.sim_changed_at < now() - interval '72 hours')
       AND (s.device_changed_at IS NULL OR s.device_changed_at < now() - interval '72 hours')
       AND NOT EXISTS (SELECT 1 FROM reconciliation_results rr WHERE rr.subscription_id = s.id
                       AND rr.run_id = (${LATEST_COMPLETED_RUN_SQL}))
       AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.person_id = p.id)
     ORDER BY s.id LIMIT $1`,
    [n * 4],
  );
  const today = vietnamToday();
  const out: DemoHolding[] = [];
  for (const row of r.rows) {
    if (out.some((h) => h.personId === row.person_id)) continue;
    const person = personFromSealedFields(openRecord(dataKeyFor(ring, row.p_dek), row.p_sealed, associatedData('persons', 'sealed', row.person_id)), 'alive');
    if (ageOn(person.birthDate, today) < 18) continue;
    out.push({ number: openSubscriptionNumber(ring, row), personId: row.person_id, subscriptionId: row.id });
    if (out.length >= n) break;
  }
  return out;
}

/** Up to `n` synthetic numbers that can verify an account right now (demo mode only), of `n` different persons. */
export async function demoEligibleNumbers(pool: pg.Pool, ring: KeyRing, n: number): Promise<string[]> {
  return (await demoEligibleHoldings(pool, ring, n)).map((h) => h.number);
}

/**
 * The holding the demo's completed disclosure binds and notifies (src/disclosure/demo-disclosure.ts):
 * one after the numbers offered, of a person who holds none of them. The disclosure is seeded in
 * the background once the start has printed its numbers; the first number offered, used before,
 * then had the disclosure's SMS notice arrive after the code a walkthrough asked for (the newest
 * message is the code, issue 3), and verifying it bound the disclosed person. An offered number
 * bound meanwhile only moves later holdings forward, never an offered one past the offered count.
 */
export async function demoDisclosureHolding(pool: pg.Pool, ring: KeyRing): Promise<DemoHolding | undefined> {
  const holdings = await demoEligibleHoldings(pool, ring, DEMO_NUMBERS_OFFERED + 1);
  return holdings[DEMO_NUMBERS_OFFERED];
}
