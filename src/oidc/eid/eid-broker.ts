/**
 * The upstream national eID broker (issue 4 "National eID broker"; DESIGN.md "Verification
 * methods and assurance": eID = the level mapped from the upstream `acr`). idbind is a relying
 * party of the national eID (such as VNeID): OpenID Connect authorization code flow with PKCE
 * (S256), state, nonce and `prompt=login`, through openid-client (a certified relying party).
 *
 *   begin(flow)  -> redirect to the upstream + a browser-binding cookie
 *   complete(callback URL, cookie) -> { flowUid, role, personId, level } or EidError
 *
 * What is stored: per login, the SHA-256 of its state and of its cookie (both 256-bit random),
 * the flow, the role and the level required, for 10 minutes, usable once. The PKCE code verifier
 * and the nonce are not stored at all: they are HMACs of the state under the cookie's secret, so
 * only the browser that started a login can finish it, and nothing in the database can redeem an
 * authorization code (and nothing needs re-encryption at a key rotation).
 *
 * Checks, in order, all failing closed (DESIGN.md invariant 5): state known, with its cookie,
 * unused and unexpired (one conditional UPDATE); no upstream error; the code grant with the PKCE
 * verifier; the ID token's signature (JWKS of the issuer), `iss`, `aud`, `azp`, `exp`, `iat` and
 * `nonce` (openid-client, non-repudiation checks on); `acr` mapped to a level (unknown or absent:
 * EID_LEVEL_UNKNOWN) at least the level required (else LEVEL_NOT_REACHED); the personal ID claim
 * well-formed, registered and not deceased (else EID_PERSON_NOT_ELIGIBLE).
 *
 * The personal ID number is only held in memory for the blind-index lookup: never logged,
 * stored or returned (DESIGN.md invariants 1 and 2).
 *
 * @see OpenID Connect Core 1.0 3.1 (authorization code flow), 3.1.3.7 (ID token validation), 15.5.2 (nonce)
 * @see RFC 7636 (PKCE), RFC 9207 (`iss` in the authorization response), RFC 9700 4.7 (CSRF)
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type pg from 'pg';
import * as client from 'openid-client';
import { ASSURANCE_LEVELS, type AssuranceLevel, type EidConfig } from '../../kernel/config/config.ts';
import type { KeyRing } from '../../kernel/crypto/key-ring.ts';
import { findPersonIdByPersonalId } from '../../registry/registry-lookup.ts';
import { isWellFormedPersonalId } from '../../registry/personal-id.ts';
import { EidError } from './eid-errors.ts';
import { consumeLogin, insertLogin, personStatus, traceLogin, type EidRole } from './eid-login-repository.ts';

export { pruneEidLogins, type EidRole } from './eid-login-repository.ts';

/** Where the upstream sends the browser back (registered at the upstream as `${publicUrl}${EID_CALLBACK_PATH}`). */
export const EID_CALLBACK_PATH = '/verify/eid/callback';
/** The browser-binding cookie (login CSRF protection, RFC 9700 4.7.1). */
export const EID_COOKIE_NAME = 'idbind_eid';
/** How long a started login may be completed. */
export const EID_LOGIN_TTL_SECONDS = 600;
/** How long a discovered upstream configuration is used before it is fetched again. */
const DISCOVERY_TTL_MS = 3_600_000;
/** Every request to the upstream ends within this (openid-client's `timeout`, seconds). */
const UPSTREAM_TIMEOUT_SECONDS = 10;

export interface EidCookie {
  name: string;
  value: string;
  path: string;
  maxAgeSeconds: number;
}

export interface EidResult {
  flowUid: string;
  role: EidRole;
  personId: string;
  level: AssuranceLevel;
}

export interface EidBroker {
  /** Starts an upstream login for one hosted flow: PKCE (S256), state, nonce; stored hashed with a 10-minute expiry. */
  begin(input: { flowUid: string; role: EidRole; minLevel: AssuranceLevel }): Promise<{ redirectUrl: string; cookie: EidCookie }>;
  /**
   * The callback: `callbackUrl` is the URL the browser came back on (absolute, or the path and
   * query of the request); `cookieValue` the browser-binding cookie set at begin. Throws EidError;
   * once the state is recognised with its cookie, the error carries `flowUid`.
   */
  complete(input: { callbackUrl: string; cookieValue: string | undefined }): Promise<EidResult>;
}

export interface EidBrokerDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  config: EidConfig;
  /** The absolute callback URL registered at the upstream (`${publicUrl}/verify/eid/callback`). */
  redirectUri: string;
}

const rank = (level: AssuranceLevel): number => ASSURANCE_LEVELS.indexOf(level);
const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
const FLOW_UID = /^[\x21-\x7e]{1,128}$/;
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

/**
 * The PKCE code verifier (RFC 7636 4.1: 43 characters of base64url, 256 bits) and the nonce of a
 * login, derived from the browser's cookie secret and the state.
 */
function loginSecrets(cookieValue: string, state: string): { codeVerifier: string; nonce: string } {
  const derive = (label: string) => createHmac('sha256', cookieValue).update(`idbind-eid:${label}\u0000${state}`).digest('base64url');
  return { codeVerifier: derive('pkce'), nonce: derive('nonce') };
}

/** The `error` of an authorization response, if it is a plain code (RFC 6749 4.1.2.1 grammar). */
function upstreamErrorCode(raw: string): string {
  return /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(raw) ? raw : 'an unreadable error';
}

/** A short, value-free name for an openid-client failure (its `code`, or the error's name). */
function failureName(e: unknown): string {
  if (e instanceof client.ResponseBodyError || e instanceof client.AuthorizationResponseError) return upstreamErrorCode(e.error);
  if (e instanceof client.WWWAuthenticateChallengeError) {
    const error = e.cause[0]?.parameters.error;
    if (typeof error === 'string') return upstreamErrorCode(error);
  }
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? code : (e as Error).name ?? 'Error';
}

/** Rejects a value that is not a level name (callers are typed, but a flow row is data). */
function checkLevel(level: string): AssuranceLevel {
  if (!(ASSURANCE_LEVELS as readonly string[]).includes(level)) throw new TypeError(`unknown assurance level: ${level}`);
  return level as AssuranceLevel;
}

export function createEidBroker(deps: EidBrokerDeps): EidBroker {
  const { config } = deps;
  const redirect = new URL(deps.redirectUri);
  let discovered: { at: number; configuration: Promise<client.Configuration> } | undefined;

  /** The upstream's configuration, discovered once an hour; a failed discovery is retried on the next call. */
  function upstream(): Promise<client.Configuration> {
    if (discovered && Date.now() - discovered.at < DISCOVERY_TTL_MS) return discovered.configuration;
    const execute: Array<(c: client.Configuration) => void> = [client.enableNonRepudiationChecks];
    if (config.allowInsecure) execute.push(client.allowInsecureRequests);
    const configuration = client.discovery(
      new URL(config.issuer), config.clientId, { client_secret: config.clientSecret }, client.ClientSecretBasic(config.clientSecret),
      { execute, timeout: UPSTREAM_TIMEOUT_SECONDS },
    );
    const entry = { at: Date.now(), configuration };
    discovered = entry;
    configuration.catch(() => {
      if (discovered === entry) discovered = undefined;
    });
    return configuration;
  }

  async function upstreamOrUnavailable(flowUid?: string): Promise<client.Configuration> {
    try {
      return await upstream();
    } catch (e) {
      throw new EidError('EID_UNAVAILABLE', 'the national eID could not be reached (discovery)', { flowUid, reason: failureName(e) });
    }
  }

  /** Upstream `acr` values accepted for a level: those mapped to it or higher, highest first (the order of preference). */
  function acceptedAcrs(minLevel: AssuranceLevel): string[] {
    return Object.entries(config.acrMap)
      .filter(([, level]) => rank(level) >= rank(minLevel))
      .sort((a, b) => rank(b[1]) - rank(a[1]))
      .map(([acr]) => acr);
  }

  return {
    async begin(input) {
      if (!FLOW_UID.test(input.flowUid)) throw new TypeError('flowUid: 1 to 128 printable characters');
      if (input.role !== 'subject' && input.role !== 'guardian') throw new TypeError('role: subject or guardian');
      const minLevel = checkLevel(input.minLevel);
      const acrs = acceptedAcrs(minLevel);
      if (acrs.length === 0) {
        throw new EidError('LEVEL_NOT_REACHED', `no upstream acr value is mapped to ${minLevel} or higher (IDBIND_EID_ACR_MAP)`, { flowUid: input.flowUid, reason: 'no_acr_for_level' });
      }
      const configuration = await upstreamOrUnavailable();
      const cookieValue = randomBytes(32).toString('base64url');
      const state = client.randomState();
      const { codeVerifier, nonce } = loginSecrets(cookieValue, state);
      await insertLogin(deps.pool, {
        stateHash: sha256(state), browserHash: sha256(cookieValue), flowUid: input.flowUid, role: input.role, minLevel, ttlSeconds: EID_LOGIN_TTL_SECONDS,
      });
      const url = client.buildAuthorizationUrl(configuration, {
        response_type: 'code',
        redirect_uri: redirect.href,
        scope: config.scope,
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        acr_values: acrs.join(' '),
        // A fresh authentication every time: a guardian after a minor on the same device must
        // not be signed in as the minor by the upstream's session (OIDC Core 3.1.2.1).
        prompt: 'login',
      });
      return {
        redirectUrl: url.href,
        cookie: { name: EID_COOKIE_NAME, value: cookieValue, path: redirect.pathname, maxAgeSeconds: EID_LOGIN_TTL_SECONDS },
      };
    },

    async complete(input) {
      let given: URL;
      try {
        given = new URL(input.callbackUrl, redirect);
      } catch {
        throw new EidError('EID_FAILED', 'the callback URL is not a URL', { reason: 'bad_callback' });
      }
      // Only the query is the browser's: the rest is the registered redirect URI (behind a proxy
      // the request's own host and scheme may differ from it).
      const current = new URL(redirect.href);
      current.search = given.search;
      const state = current.searchParams.get('state');
      if (!state || state.length > 512) throw new EidError('EID_FAILED', 'the answer of the national eID carries no state', { reason: 'no_state' });
      const cookieValue = input.cookieValue;
      if (cookieValue === undefined || !COOKIE_VALUE.test(cookieValue)) {
        throw new EidError('EID_FAILED', 'this login was not started in this browser (no eID cookie)', { reason: 'no_cookie' });
      }
      const stateHash = sha256(state);
      const browserHash = sha256(cookieValue);
      const login = await consumeLogin(deps.pool, stateHash, browserHash);
      if (!login) {
        const trace = await traceLogin(deps.pool, stateHash, browserHash);
        if (!trace || !trace.same_browser) throw new EidError('EID_FAILED', 'this login was not started in this browser, or is unknown', { reason: 'unknown_state' });
        const why = trace.consumed ? 'already used' : 'expired';
        throw new EidError('EID_FAILED', `this eID login was ${why}: start it again`, { flowUid: trace.flow_uid, reason: trace.consumed ? 'replayed' : 'expired' });
      }
      const context = { flowUid: login.flow_uid };
      const minLevel = checkLevel(login.min_level);
      const error = current.searchParams.get('error');
      if (error !== null) {
        const code = upstreamErrorCode(error);
        throw new EidError('EID_FAILED', code === 'access_denied' ? 'the eID login was cancelled' : `the national eID answered ${code}`, { ...context, reason: code });
      }

      const configuration = await upstreamOrUnavailable(login.flow_uid);
      const { codeVerifier, nonce } = loginSecrets(cookieValue, state);
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(configuration, current, {
          pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
        });
      } catch (e) {
        throw new EidError('EID_FAILED', `the answer of the national eID failed its checks (${failureName(e)})`, { ...context, reason: failureName(e) });
      }
      const claims = tokens.claims();
      if (!claims) throw new EidError('EID_FAILED', 'the national eID returned no ID token', { ...context, reason: 'no_id_token' });

      const acr = claims.acr;
      const level = typeof acr === 'string' && Object.hasOwn(config.acrMap, acr) ? config.acrMap[acr] : undefined;
      if (level === undefined) {
        throw new EidError('EID_LEVEL_UNKNOWN', acr === undefined ? 'the ID token has no acr' : 'the acr of the ID token is not in IDBIND_EID_ACR_MAP', { ...context, reason: 'acr_unknown' });
      }
      if (rank(level) < rank(minLevel)) {
        throw new EidError('LEVEL_NOT_REACHED', `the national eID vouched for ${level}; this flow requires ${minLevel}`, { ...context, reason: 'level_too_low' });
      }

      let personalId: unknown = claims[config.personalIdClaim];
      if (personalId === undefined && configuration.serverMetadata().userinfo_endpoint) {
        // Some providers release identity claims at UserInfo only (OIDC Core 5.3); its `sub` must be the ID token's.
        try {
          personalId = (await client.fetchUserInfo(configuration, tokens.access_token, claims.sub))[config.personalIdClaim];
        } catch (e) {
          throw new EidError('EID_FAILED', `the UserInfo answer of the national eID failed its checks (${failureName(e)})`, { ...context, reason: failureName(e) });
        }
      }
      if (typeof personalId !== 'string' || !isWellFormedPersonalId(personalId)) {
        throw new EidError('EID_PERSON_NOT_ELIGIBLE', `the national eID released no well-formed personal ID number (claim ${config.personalIdClaim})`, { ...context, reason: 'claim_missing' });
      }
      const personId = await findPersonIdByPersonalId(deps.pool, await deps.ring(), personalId);
      // One answer for "not registered" and "deceased": the eID holder at this browser learns no
      // registry fact about the number (the reason goes to logs and statistics only).
      const notEligible = (reason: string) => new EidError('EID_PERSON_NOT_ELIGIBLE', 'the eID holder cannot verify an account with idbind', { ...context, reason });
      if (personId === undefined) throw notEligible('not_registered');
      if ((await personStatus(deps.pool, personId)) !== 'alive') throw notEligible('deceased');
      return { flowUid: login.flow_uid, role: login.role, personId, level };
    },
  };
}

/** A broker for a hub without a national eID: every call answers EID_UNAVAILABLE. */
export function unavailableEidBroker(): EidBroker {
  const fail = async (): Promise<never> => {
    throw new EidError('EID_UNAVAILABLE', 'no national eID is configured (IDBIND_EID_ISSUER)', { reason: 'not_configured' });
  };
  return { begin: fail, complete: fail };
}
