/**
 * The citizen portal's HTTP side (issue 5 "The person's own view"): the sign-in, a relying party
 * of the hub's own OpenID Provider written like a platform's (src/demo/demo-relying-party.ts),
 * and the person's API under `/v1/me`.
 *
 * - `GET /citizen/sign-in?level=low|substantial` pushes the authorization request (PAR, RFC 9126)
 *   with PKCE S256, state and nonce (kept server-side, in citizen_sign_ins, under a random id
 *   whose cookie is scoped to the callback), and sends the browser to the hosted verification.
 *   `substantial` sends `acr_values=substantial`, so only the national eID is offered; `low`
 *   offers the phone, with the same checks as verification (the SIM-change window included).
 * - `GET /citizen/callback` takes the sign-in once, exchanges the code, maps the ID token's `sub`
 *   (the person's pseudonym at the portal) back to the person (an internal lookup, never
 *   exposed), and opens a session: cookie `idbind_citizen`, HttpOnly, SameSite=Lax, 30 minutes
 *   idle, 2 hours at most. Then to `/citizen`; a failure to `/citizen?error=<code>`.
 * - `/v1/me/...` need the session; errors are problem documents (docs/errors.md). State-changing
 *   calls are POSTs, which SameSite=Lax keeps from other sites, and whose Origin, when sent, must
 *   be the hub's own.
 */
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import * as oidc from 'openid-client';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { uuidv7 } from '../kernel/ids.ts';
import { errorHandler, PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import { issuerOf } from '../oidc/oidc-client-service.ts';
import { CitizenError } from './citizen-errors.ts';
import * as repo from './citizen-repository.ts';
import {
  exportAll, listAccess, listAccounts, listConsents, listDisclosures, listSubscriptions, meView, recordSelfView, reportSubscription, unbind, withdrawConsent,
  type CitizenDeps, type CitizenSession,
} from './citizen-service.ts';
import { ensurePortalClient, portalProviderId, type PortalClient } from './portal-client.ts';

export interface CitizenRoutesDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  /** The hub's public URL: the issuer is `${publicUrl}/oidc`, the callback `${publicUrl}/citizen/callback`. */
  publicUrl: string;
  /** The person's disclosures with their proof bundles (the disclosure capability); [] when absent. */
  disclosures?: (personId: string) => Promise<unknown[]>;
  /** Ids of the person's disclosure requests still sealed (their access records stay hidden); without it none is shown. */
  sealedDisclosures?: (personId: string) => Promise<Set<string>>;
}

export const SESSION_COOKIE = 'idbind_citizen';
const SIGN_IN_COOKIE = 'idbind_citizen_signin';
const CONFIG_TTL_MS = 5 * 60_000;

function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const Id = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Level = Type.Union([Type.Literal('low'), Type.Literal('substantial'), Type.Literal('high')]);
const Me = Type.Object({
  level: Level,
  method: Type.Union([Type.Literal('phone'), Type.Literal('eid')]),
  expires_at: Type.String({ format: 'date-time' }),
  shows: Type.Object({
    accounts: Type.Boolean(), subscriptions: Type.Boolean(), consents: Type.Boolean(),
    access: Type.Union([Type.Literal('bindings_and_releases'), Type.Literal('full')]), disclosures: Type.Boolean(), export: Type.Boolean(),
  }),
});
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Account = Type.Object({
  id: Type.String(), provider: Type.String(), account_ref: Type.String(), pseudonym: Nullable(Type.String()), level: Nullable(Type.String()),
  method: Nullable(Type.String()), since: Type.String({ format: 'date-time' }), verified_at: Nullable(Type.String({ format: 'date-time' })),
  status: Type.Union([Type.Literal('verified'), Type.Literal('needs_reverification'), Type.Literal('revoked'), Type.Literal('unbound')]),
  reason: Nullable(Type.String()), minor: Type.Boolean(),
});
const Subscription = Type.Object({
  id: Type.String(), carrier: Type.String(), number: Type.String({ description: 'E.164' }), channel: Type.String(),
  registered_at: Type.String({ format: 'date-time' }), status: Type.String(), ended_at: Nullable(Type.String({ format: 'date-time' })),
  reported_at: Nullable(Type.String({ format: 'date-time' })),
});
const Access = Type.Object({
  id: Type.String(), at: Type.String({ format: 'date-time' }), purpose: Type.String(),
  who: Type.Object({ kind: Type.String(), name: Nullable(Type.String()) }),
  what: Type.Record(Type.String(), Type.Unknown()),
});
const Consent = Type.Object({
  id: Type.String(), platform: Type.String(), claims: Type.Array(Type.String()), purpose: Type.String(), legal_basis: Type.String(),
  granted_at: Type.String({ format: 'date-time' }), withdrawn_at: Nullable(Type.String({ format: 'date-time' })),
});
const errors = { 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA };
const tags = ['citizen'];
const cookieNote = 'Needs the citizen session cookie `idbind_citizen` (sign in at /citizen/sign-in).';

export async function citizenRoutes(scope: FastifyInstance, deps: CitizenRoutesDeps): Promise<void> {
  const publicUrl = deps.publicUrl.replace(/\/+$/, '');
  const origin = new URL(publicUrl).origin;
  const secure = new URL(publicUrl).protocol === 'https:';
  const service: CitizenDeps = { pool: deps.pool, ring: deps.ring, disclosures: deps.disclosures, sealedDisclosures: deps.sealedDisclosures };
  const r = scope.withTypeProvider<TypeBoxTypeProvider>();
  scope.setErrorHandler(errorHandler);

  let cached: { config: oidc.Configuration; client: PortalClient; at: number } | undefined;
  async function relyingParty(): Promise<{ config: oidc.Configuration; client: PortalClient }> {
    if (cached && Date.now() - cached.at < CONFIG_TTL_MS) return cached;
    const client = await ensurePortalClient(deps.pool, await deps.ring(), publicUrl);
    const config = await oidc.discovery(new URL(issuerOf(publicUrl)), client.clientId, client.clientSecret, oidc.ClientSecretBasic(client.clientSecret),
      secure ? undefined : { execute: [oidc.allowInsecureRequests] });
    cached = { config, client, at: Date.now() };
    return cached;
  }

  const sessionCookie = (value: string, maxAge: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
  const signInCookie = (value: string, maxAge: number) =>
    `${SIGN_IN_COOKIE}=${value}; Path=/citizen/callback; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;

  scope.addHook('onSend', async (_request, reply) => {
    // One person's data: never cached, never sent on as a Referer.
    reply.header('cache-control', 'no-store');
    reply.header('referrer-policy', 'no-referrer');
  });

  async function session(request: FastifyRequest): Promise<CitizenSession> {
    const token = cookieOf(request.headers.cookie, SESSION_COOKIE);
    const row = token ? await repo.touchSession(deps.pool, repo.tokenHash(token)) : undefined;
    if (!row) throw new CitizenError('CITIZEN_SIGNED_OUT');
    if (request.method !== 'GET' && request.headers.origin !== undefined && request.headers.origin !== origin) {
      throw new CitizenError('CITIZEN_SIGNED_OUT', 'a change to your view must come from this site');
    }
    return { personId: row.person_id, level: row.level, method: row.method, expiresAt: row.expires_at };
  }

  r.get('/citizen/sign-in', {
    schema: { hide: true, querystring: Type.Object({ level: Type.Optional(Type.Union([Type.Literal('low'), Type.Literal('substantial')])), ui_locales: Type.Optional(Type.String({ maxLength: 20 })) }) },
  }, async (request, reply) => {
    const level = request.query.level ?? 'low';
    const { config, client } = await relyingParty();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: client.redirectUri, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
      state, nonce, account_ref: 'portal', ...(level === 'substantial' ? { acr_values: 'substantial' } : {}),
      ...(request.query.ui_locales && /^[A-Za-z -]+$/.test(request.query.ui_locales) ? { ui_locales: request.query.ui_locales } : {}),
    });
    const id = randomBytes(32).toString('base64url');
    await repo.insertSignIn(deps.pool, { idHash: repo.tokenHash(id), codeVerifier, state, nonce, level });
    return reply.header('set-cookie', signInCookie(id, repo.SIGN_IN_TTL_SECONDS)).redirect(url.href, 303);
  });

  r.get('/citizen/callback', { schema: { hide: true } }, async (request, reply) => {
    const id = cookieOf(request.headers.cookie, SIGN_IN_COOKIE);
    reply.header('set-cookie', signInCookie('', 0));
    const fail = (code: string) => reply.redirect(`/citizen?error=${encodeURIComponent(code)}`, 303);
    const signIn = id ? await repo.takeSignIn(deps.pool, repo.tokenHash(id)) : undefined;
    if (!signIn) return fail('CITIZEN_SIGN_IN_FAILED');
    const { config, client } = await relyingParty();
    const current = new URL(`${client.redirectUri}${new URL(request.url, 'http://callback.invalid').search}`);
    let claims: Record<string, unknown>;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: signIn.code_verifier, expectedState: signIn.state, expectedNonce: signIn.nonce, idTokenExpected: true,
      });
      claims = (tokens.claims() ?? {}) as Record<string, unknown>;
    } catch (e) {
      // The person cancelled, or a level was not reached: said on the page. Anything else is a failed sign-in.
      if (e instanceof oidc.AuthorizationResponseError && (e.error === 'access_denied' || e.error === 'unmet_authentication_requirements')) return fail(e.error);
      request.log.warn({ err: { name: (e as Error).name, message: (e as Error).message } }, 'citizen portal: sign-in refused');
      return fail('CITIZEN_SIGN_IN_FAILED');
    }
    const level = claims.acr;
    const method = Array.isArray(claims.amr) && claims.amr.includes('fed') ? 'eid' : 'phone';
    if (level !== 'low' && level !== 'substantial' && level !== 'high') return fail('CITIZEN_SIGN_IN_FAILED');
    if (signIn.level === 'substantial' && level === 'low') return fail('unmet_authentication_requirements');
    const personId = typeof claims.sub === 'string' ? await repo.personOfPortalSubject(deps.pool, client.providerId, claims.sub) : undefined;
    if (!personId) return fail('CITIZEN_SIGN_IN_FAILED');
    const token = randomBytes(32).toString('base64url');
    await repo.insertSession(deps.pool, { id: uuidv7(), tokenHash: repo.tokenHash(token), personId, level, method });
    await recordSelfView(deps.pool, { personId, level, method }, 'sign_in');
    return reply.header('set-cookie', [signInCookie('', 0), sessionCookie(token, repo.SESSION_ABSOLUTE_MINUTES * 60)]).redirect('/citizen', 303);
  });

  r.post('/v1/me/sign-out', { schema: { tags, summary: 'Sign out of the citizen portal (ends the session); answers 204' } }, async (request, reply) => {
    const token = cookieOf(request.headers.cookie, SESSION_COOKIE);
    if (token) await repo.deleteSession(deps.pool, repo.tokenHash(token));
    return reply.header('set-cookie', sessionCookie('', 0)).status(204).send();
  });

  r.get('/v1/me', { schema: { tags, summary: `The signed-in person's level and what it shows. ${cookieNote}`, response: { 200: Me, ...errors } } },
    async (request) => meView(await session(request)));

  r.get('/v1/me/accounts', { schema: { tags, summary: `Every account bound to the person, live or not. ${cookieNote}`, response: { 200: Type.Object({ accounts: Type.Array(Account) }), ...errors } } },
    async (request) => ({ accounts: await listAccounts(service, await session(request)) }));

  r.post('/v1/me/accounts/:id/unbind', {
    schema: { tags, summary: `Unbind one of the person's accounts (the platform gets account.unbound). ${cookieNote}`, params: Id, response: { 200: Account, ...errors } },
  }, async (request) => unbind(service, await session(request), request.params.id));

  r.get('/v1/me/subscriptions', {
    schema: { tags, summary: `Every subscription in the person's name (numbers opened: a self_view access record). ${cookieNote}`, response: { 200: Type.Object({ subscriptions: Type.Array(Subscription) }), ...errors } },
  }, async (request) => ({ subscriptions: await listSubscriptions(service, await session(request)) }));

  r.post('/v1/me/subscriptions/:id/report', {
    schema: {
      tags, summary: `Report a subscription the person does not recognise (the carrier's action list gets it as REPORTED_BY_HOLDER). ${cookieNote}`, params: Id,
      response: { 200: Type.Object({ id: Type.String(), carrier: Type.String(), reported_at: Type.String({ format: 'date-time' }) }), ...errors },
    },
  }, async (request) => reportSubscription(service, await session(request), request.params.id));

  r.get('/v1/me/access', {
    schema: {
      tags, summary: `The person's access history: bindings and releases at level low, everything (disclosures once unsealed) at substantial. ${cookieNote}`,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })) }),
      response: { 200: Type.Object({ complete: Type.Boolean(), records: Type.Array(Access) }), ...errors },
    },
  }, async (request) => listAccess(service, await session(request), request.query.limit));

  r.get('/v1/me/consents', { schema: { tags, summary: `The person's consents to statutory claims. ${cookieNote}`, response: { 200: Type.Object({ consents: Type.Array(Consent) }), ...errors } } },
    async (request) => ({ consents: await listConsents(service, await session(request)) }));

  r.post('/v1/me/consents/:id/withdraw', {
    schema: { tags, summary: `Withdraw a consent (stops later releases; cannot recall earlier ones). ${cookieNote}`, params: Id, response: { 200: Consent, ...errors } },
  }, async (request) => withdrawConsent(service, await session(request), request.params.id));

  r.get('/v1/me/disclosures', {
    schema: { tags, summary: `Disclosures of the person's identity to authorities, once unsealed, with proof bundles (level substantial). ${cookieNote}`, response: { 200: Type.Object({ disclosures: Type.Array(Type.Unknown()) }), ...errors } },
  }, async (request) => ({ disclosures: await listDisclosures(service, await session(request)) }));

  r.get('/v1/me/export', {
    schema: { tags, summary: `All of the person's view as one JSON document (level substantial; a self_view access record). ${cookieNote}`, response: { 200: Type.Record(Type.String(), Type.Unknown()), ...errors } },
  }, async (request, reply: FastifyReply) => {
    const doc = await exportAll(service, await session(request));
    return reply.header('content-disposition', 'attachment; filename="idbind-export.json"').send(doc);
  });
}

/** For tests and the server: the portal's provider id once ensurePortalClient ran. */
export { portalProviderId };
