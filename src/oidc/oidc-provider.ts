/**
 * The OpenID Provider (issue 4 "OpenID Provider"; DESIGN.md "OpenID Provider"), built on
 * panva's OpenID-certified `oidc-provider` and mounted at `${publicUrl}/oidc`. Every option that
 * matters is set here, fail-closed, with the reason beside it:
 *
 * - clients are the platforms' OpenID client settings (oidc-client-service.ts), no dynamic registration;
 * - authorization code flow only, PKCE (S256) required for every client (RFC 7636; OAuth 2.0 Security BCP 2.1.1);
 * - pushed authorization requests (RFC 9126) on, and required per client when it says so;
 * - `client_secret_basic` and `private_key_jwt` (OIDC Core 9);
 * - pairwise subjects only (OIDC Core 8.1) read from the stored pseudonym of (person, platform);
 * - `acr` values are idbind's fixed level names; the platform's `account_ref` travels as an
 *   extra authorization parameter, required and validated like the phone API's;
 * - no refresh tokens unless the platform's client is configured for them;
 * - the person verifies in the hosted pages at `/verify/<uid>` each time (no silent SSO across
 *   platforms: every authorization binds one account, and a shared device must not carry one
 *   person's session into another's sign-in).
 */
import type pg from 'pg';
import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { createHmac } from 'node:crypto';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { isAccountRef } from '../bindings/binding-service.ts';
import { clientForOidc, issuerOf } from './oidc-client-service.ts';
import { postgresAdapterFactory } from './oidc-adapter.ts';
import { ensureSigningKey, loadSigningKeys, signingKeysStamp } from './signing-keys.ts';
import { pseudonymOf } from './hosted-flow-repository.ts';
import { findAccountFor } from './oidc-claims.ts';

/** The assurance levels, lowest first (DESIGN.md "Verification methods and assurance"). Fixed in code. */
export const LEVELS = ['low', 'substantial', 'high'] as const;

/** Claims a platform can receive (issue 4 "Claims"); the statutory ones only under that legal profile, with consent. */
export const CLAIMS = {
  openid: ['sub', 'verified', 'age_over_16', 'age_over_18', 'minor'],
  profile: ['name', 'birthdate'],
  phone: ['phone_number'],
} as const;

export interface OidcProviderDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  publicUrl: string;
  /** Finds the account of an accountId for oidc-provider (the claims released); default oidc-claims.ts. */
  findAccount?: Configuration['findAccount'];
}

/** The person part of an accountId (`<person id>.<account id>`: each authorization logs in to the account it bound). */
export function personOfAccountId(accountId: string): string {
  return accountId.split('.')[0]!;
}

/** Cookie signing keys, derived from the blind-index keys (rotated with them; nothing new to store). */
function cookieKeys(ring: KeyRing): string[] {
  return [ring.currentBlindIndex, ...ring.blindIndex.filter((k) => k.version !== ring.currentBlindIndex.version)]
    .map((k) => createHmac('sha256', k.key).update('idbind:oidc-cookies').digest('base64url'));
}

function policy(): interactionPolicy.DefaultPolicy {
  const p = interactionPolicy.base();
  const login = p.get('login')!;
  // Levels are ordered (a higher level satisfies a lower request), which oidc-provider's exact
  // `acr` comparison does not know: the hosted flow decides, and fails an unmet level with
  // unmet_authentication_requirements (OIDC Core 5.5.1.1; issue 4 "Claims").
  login.checks.remove('essential_acrs');
  login.checks.remove('essential_acr');
  login.checks.add(new interactionPolicy.Check('verify_each_time', 'every authorization verifies the person and binds one account', (ctx) =>
    ctx.oidc.result?.login ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT));
  return p;
}

export async function createOidcProvider(deps: OidcProviderDeps): Promise<Provider> {
  const ring = await deps.ring();
  await ensureSigningKey(deps.pool, ring);
  const keys = await loadSigningKeys(deps.pool, ring);
  const configuration: Configuration = {
    adapter: postgresAdapterFactory(deps.pool, async (id) => (await clientForOidc(deps.pool, await deps.ring(), id, deps.publicUrl)) as never),
    jwks: { keys: keys as never },
    cookies: { keys: cookieKeys(ring) },
    acrValues: [...LEVELS],
    // `acr`, `amr` and `auth_time` with the openid scope: oidc-provider masks the ID token by the
    // granted scopes' claims, and the level reached is what a platform asks for.
    claims: { ...Object.fromEntries(Object.entries(CLAIMS).map(([k, v]) => [k, [...v]])), openid: [...CLAIMS.openid, 'acr', 'amr', 'auth_time'] },
    scopes: ['openid', 'profile', 'phone', 'offline_access'],
    subjectTypes: ['pairwise'],
    clientAuthMethods: ['client_secret_basic', 'private_key_jwt'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    // The sector is the platform (oidc-client-service.ts names it); nothing to fetch.
    sectorIdentifierUriValidate: () => false,
    async pairwiseIdentifier(_ctx, accountId, client) {
      const pseudonym = await pseudonymOf(deps.pool, personOfAccountId(accountId), client.clientId);
      // A subject without a binding cannot happen (the hosted flow binds before it finishes);
      // refusing is the fail-closed answer if it ever did.
      if (!pseudonym) throw new errors.InvalidRequest('no binding for this subject');
      return pseudonym;
    },
    extraParams: {
      // The platform's account, bound by the completed flow exactly as the phone API binds it.
      account_ref(_ctx: KoaContextWithOIDC, value: string | undefined) {
        if (value === undefined || !isAccountRef(value)) throw new errors.InvalidRequest('account_ref: the platform\'s account id, 1 to 128 characters of A-Za-z0-9._:-, not . or ..');
      },
    },
    findAccount: deps.findAccount ?? findAccountFor(deps),
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      introspection: { enabled: false },
      revocation: { enabled: true },
    },
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    interactions: { url: (_ctx, interaction) => `/verify/${interaction.uid}`, policy: policy() },
    ttl: {
      AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 1800, Session: 1800, Grant: 3600,
      RefreshToken: 30 * 86_400, PushedAuthorizationRequest: 60,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'text/html; charset=utf-8';
      const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
      ctx.body = `<!doctype html><html lang="vi"><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>idbind</title>`
        + `<main style="font-family:system-ui;max-width:32rem;margin:2rem auto;padding:0 1rem"><h1>Không thể tiếp tục / Cannot continue</h1>`
        + `<p>${esc(out.error)}: ${esc(out.error_description ?? '')}</p><p>Hãy quay lại nền tảng và thử lại. Go back to the platform and try again.</p></main></html>`;
    },
  };
  return new Provider(issuerOf(deps.publicUrl), configuration);
}

/**
 * The provider of this process, rebuilt when the published signing keys change (a rotation by
 * any process is noticed within `recheckMs`). Its cookie keys follow the blind-index keys they
 * derive from within the same time: a process started before a rotation would otherwise sign
 * with a key the processes started after it no longer know once it is retired, and lose their
 * users' interactions half-way (several hub processes behind one address).
 */
export function oidcProviderHolder(deps: OidcProviderDeps, recheckMs = 5_000): () => Promise<Provider> {
  let current: { provider: Provider; stamp: string } | undefined;
  let building: Promise<Provider> | undefined;
  let checkedAt = 0;
  return async () => {
    if (current && Date.now() - checkedAt < recheckMs) return current.provider;
    if (building) return building;
    building = (async () => {
      const stamp = await signingKeysStamp(deps.pool);
      checkedAt = Date.now();
      if (current && current.stamp === stamp) {
        // oidc-provider (Koa) reads `keys` when a request first touches its cookies.
        current.provider.keys = cookieKeys(await deps.ring());
        return current.provider;
      }
      const provider = await createOidcProvider(deps);
      current = { provider, stamp: await signingKeysStamp(deps.pool) };
      return provider;
    })().finally(() => {
      building = undefined;
    });
    return building;
  };
}
