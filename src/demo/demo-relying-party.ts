/**
 * The demo platforms' side of "Sign in with idbind" (issue 4 "The demo data of `npm start`
 * includes a demo platform configured as a client ... so the whole flow can be tried by a
 * newcomer"). Demo mode only: a relying party written the way a platform would write it, with
 * `openid-client` against the hub's own issuer `${publicUrl}/oidc`.
 *
 * - `GET /demo/rp/:slug/start?account_ref=...[&acr_values=...]` pushes the authorization request
 *   (PAR, RFC 9126) with PKCE S256, state, nonce, the platform's `account_ref` (default a random
 *   `demo-<hex>`) and scope `openid` (`openid profile phone` for the statutory Lotus Video), keeps
 *   the code verifier, state and nonce server-side under a random id held in a short-lived
 *   HttpOnly SameSite=Lax cookie, and sends the browser to the authorization endpoint (303).
 * - `GET /demo/rp/:slug/callback` takes the session once (a second use is refused), checks the
 *   response (`iss`, `state`) and exchanges the code (PKCE verifier, nonce), then shows the ID
 *   token's claims (`data-testid="rp-claims"` holds them as JSON). An error answered by the
 *   provider (such as `access_denied`) is shown (`data-testid="rp-error"`), never thrown.
 *
 * The client secret is read from the database (not demo-platforms.json), so a secret rotated in
 * the platform console keeps the demo working.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type pg from 'pg';
import * as client from 'openid-client';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { isAccountRef } from '../bindings/binding-service.ts';
import { findProviderByName } from '../providers/provider-service.ts';
import { clientSecretOf, issuerOf } from '../oidc/oidc-client-service.ts';
import { DEMO_RELYING_PARTIES, demoCallbackUrl } from './demo-platforms.ts';

export interface DemoRelyingPartyDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  /** The hub's public URL: the issuer is `${publicUrl}/oidc`, the callbacks are below it. */
  publicUrl: string;
  /** The demo's data directory (the platforms' keys file); the secrets are read from the database. */
  dataDir: string;
}

type RelyingParty = (typeof DEMO_RELYING_PARTIES)[number];

interface RpSession {
  slug: string;
  accountRef: string;
  codeVerifier: string;
  state: string;
  nonce: string;
  expiresAt: number;
}

const COOKIE = 'idbind_demo_rp';
/** Long enough to verify by phone or eID and read a consent screen; short enough to be worthless later. */
export const DEMO_RP_SESSION_TTL_MS = 15 * 60_000;
/** A bound on memory: the sessions live in this process only (the demo runs one). */
const MAX_SESSIONS = 10_000;
const LEVELS = ['low', 'substantial', 'high'];
/** The claims shown in the table; the JSON holds every claim of the ID token. */
const SHOWN = ['sub', 'acr', 'verified', 'age_over_16', 'age_over_18', 'minor'] as const;
const STATUTORY_SHOWN = ['name', 'birthdate', 'phone_number'] as const;

class DemoRpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'DemoRpError';
  }
}

function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(rp: RelyingParty | undefined, title: string, body: string): string {
  const name = rp ? `${rp.name} (demo)` : 'idbind demo';
  return `<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<title>${esc(name)} — ${esc(title)}</title></head>`
    + `<body><main style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5">`
    + `<h1>${esc(name)} — ${esc(title)}</h1>${body}`
    + `<p style="color:#555;font-size:.9em">Trang này là phía nền tảng mẫu, chỉ có trong chế độ demo. This page is the demo platform's side, in demo mode only.</p>`
    + `</main></body></html>`;
}

function send(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.status(status)
    .header('cache-control', 'no-store')
    // The callback URL carries the code: never sent on as a Referer.
    .header('referrer-policy', 'no-referrer')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'")
    .type('text/html; charset=utf-8')
    .send(html);
}

function errorPage(reply: FastifyReply, rp: RelyingParty | undefined, status: number, error: string, description?: string): FastifyReply {
  const startAgain = rp ? `<p><a href="/demo/rp/${esc(rp.slug)}/start">Thử lại / Try again</a></p>` : '';
  return send(reply, status, page(rp, 'chưa đăng nhập / not signed in',
    `<p data-testid="rp-error" role="alert"><strong>${esc(error)}</strong>${description ? `: ${esc(description)}` : ''}</p>${startAgain}`));
}

function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export async function demoRelyingPartyRoutes(scope: FastifyInstance, deps: DemoRelyingPartyDeps): Promise<void> {
  const sessions = new Map<string, RpSession>();
  const secure = new URL(deps.publicUrl).protocol === 'https:';
  const issuer = new URL(issuerOf(deps.publicUrl.replace(/\/+$/, '')));

  const cookie = (rp: RelyingParty, value: string, maxAgeSeconds: number) =>
    `${COOKIE}=${value}; Path=/demo/rp/${rp.slug}/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;

  function prune(now: number): void {
    for (const [id, s] of sessions) if (s.expiresAt <= now) sessions.delete(id);
  }

  async function configFor(rp: RelyingParty): Promise<client.Configuration> {
    const provider = await findProviderByName(deps.pool, rp.name);
    if (!provider) throw new DemoRpError(503, `${rp.name} does not exist: start the hub with --demo`);
    const secret = await clientSecretOf(deps.pool, await deps.ring(), provider.id);
    if (!secret) throw new DemoRpError(503, `${rp.name} is not an OpenID client with client_secret_basic`);
    // Plain http only when the hub itself is reached over http (a local demo).
    return client.discovery(issuer, provider.id, secret, client.ClientSecretBasic(secret), secure ? undefined : { execute: [client.allowInsecureRequests] });
  }

  function relyingParty(slug: string): RelyingParty | undefined {
    return DEMO_RELYING_PARTIES.find((d) => d.slug === slug);
  }

  scope.get<{ Params: { slug: string }; Querystring: Record<string, string | string[] | undefined> }>('/demo/rp/:slug/start', { schema: { hide: true } }, async (req, reply) => {
    const rp = relyingParty(req.params.slug);
    if (!rp) return errorPage(reply, undefined, 404, 'unknown demo platform');
    const q = req.query;
    const ref = typeof q.account_ref === 'string' && q.account_ref !== '' ? q.account_ref : q.account_ref === undefined || q.account_ref === '' ? `demo-${randomBytes(8).toString('hex')}` : undefined;
    if (ref === undefined || !isAccountRef(ref)) return errorPage(reply, rp, 400, 'invalid account_ref', '1 to 128 characters of A-Za-z0-9._:-');
    const acr = q.acr_values;
    if (acr !== undefined && (typeof acr !== 'string' || !acr.split(' ').every((a) => LEVELS.includes(a)))) {
      return errorPage(reply, rp, 400, 'invalid acr_values', LEVELS.join(', '));
    }
    const now = Date.now();
    prune(now);
    if (sessions.size >= MAX_SESSIONS) return errorPage(reply, rp, 503, 'too many sign-ins in progress', 'try again in a few minutes');
    try {
      const config = await configFor(rp);
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = await client.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: demoCallbackUrl(deps.publicUrl, rp.slug),
        scope: rp.profile === 'statutory' ? 'openid profile phone' : 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        account_ref: ref,
        ...(typeof acr === 'string' ? { acr_values: acr } : {}),
      });
      const id = randomBytes(32).toString('base64url');
      sessions.set(id, { slug: rp.slug, accountRef: ref, codeVerifier, state, nonce, expiresAt: now + DEMO_RP_SESSION_TTL_MS });
      return reply.header('set-cookie', cookie(rp, id, DEMO_RP_SESSION_TTL_MS / 1000)).header('cache-control', 'no-store').redirect(url.href, 303);
    } catch (e) {
      if (e instanceof DemoRpError) return errorPage(reply, rp, e.status, e.message);
      // The provider refused the pushed request (an OAuth error), or could not be reached.
      const oauth = e as { error?: unknown; error_description?: unknown };
      if (typeof oauth.error === 'string') return errorPage(reply, rp, 502, oauth.error, typeof oauth.error_description === 'string' ? oauth.error_description : undefined);
      req.log.warn({ err: { name: (e as Error).name, message: (e as Error).message } }, 'demo relying party: pushed authorization request failed');
      return errorPage(reply, rp, 502, 'the identity provider could not be reached', (e as Error).message);
    }
  });

  scope.get<{ Params: { slug: string } }>('/demo/rp/:slug/callback', { schema: { hide: true } }, async (req, reply) => {
    const rp = relyingParty(req.params.slug);
    if (!rp) return errorPage(reply, undefined, 404, 'unknown demo platform');
    const id = cookieOf(req.headers.cookie, COOKIE);
    const session = id ? sessions.get(id) : undefined;
    // One use: whatever happens next, this sign-in attempt is over.
    if (id) sessions.delete(id);
    reply.header('set-cookie', cookie(rp, '', 0));
    if (!session || session.slug !== rp.slug || session.expiresAt <= Date.now()) {
      return errorPage(reply, rp, 400, 'no sign-in in progress', 'the sign-in expired, was already completed, or started in another browser: start again');
    }
    const search = new URL(req.url, 'http://callback.invalid').search;
    const current = new URL(`${demoCallbackUrl(deps.publicUrl, rp.slug)}${search}`);
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      const config = await configFor(rp);
      tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: session.codeVerifier, expectedState: session.state, expectedNonce: session.nonce, idTokenExpected: true,
      });
    } catch (e) {
      if (e instanceof DemoRpError) return errorPage(reply, rp, e.status, e.message);
      // The provider answered an error to the platform (the person declined, an unmet level...):
      // shown as the outcome it is (its iss and state were checked first).
      if (e instanceof client.AuthorizationResponseError) return errorPage(reply, rp, 200, e.error, e.error_description);
      // The token endpoint refused the code (expired, replayed, wrong verifier).
      if (e instanceof client.ResponseBodyError) return errorPage(reply, rp, 502, e.error, e.error_description);
      // A response that fails the checks (state, iss, nonce, signature): refused.
      // (openid-client names the failed check in the cause.)
      const err = e as Error & { cause?: unknown };
      return errorPage(reply, rp, 400, 'response refused', err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message);
    }
    const claims = (tokens.claims() ?? {}) as Record<string, unknown>;
    const shown = [...SHOWN, ...(rp.profile === 'statutory' ? STATUTORY_SHOWN : [])].filter((k) => k in claims);
    const rows = shown.map((k) => `<tr><th scope="row" style="text-align:left;padding-right:1rem"><code>${esc(k)}</code></th><td><code>${esc(JSON.stringify(claims[k]))}</code></td></tr>`).join('');
    return send(reply, 200, page(rp, 'đã đăng nhập / signed in',
      `<p>Tài khoản trên nền tảng / The platform's account: <code data-testid="rp-account-ref">${esc(session.accountRef)}</code></p>`
      + `<table data-testid="rp-claims-table">${rows}</table>`
      + `<h2 style="font-size:1em">ID token claims</h2><pre data-testid="rp-claims" style="white-space:pre-wrap;background:#f4f4f4;padding:.5rem">${esc(JSON.stringify(claims, null, 2))}</pre>`
      + `<p><a href="/demo/rp/${esc(rp.slug)}/start">Đăng nhập lại / Sign in again</a></p>`));
  });
}
