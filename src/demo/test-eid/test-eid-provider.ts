/**
 * A local test national eID (demo and tests only; never loaded by a production hub): an
 * oidc-provider instance configured like an upstream national eID such as VNeID, with synthetic
 * test persons, so that the broker (src/oidc/eid/) is tested against a real OpenID Provider, over
 * real HTTP, instead of a mock of the exchange (issue 4).
 *
 * Like a national eID it: requires PKCE (S256) of every client; authenticates a person at a
 * chosen assurance level (`acr`, one of `acrValues`); releases the personal ID number claim with
 * scope `openid`, in the ID token and at UserInfo; signs ID tokens with its own key (RS256); and
 * answers `access_denied` when the person cancels. Its pages (test-eid-pages.ts) replace
 * oidc-provider's devInteractions. State is in memory and keys are generated at creation: a
 * restart forgets everything, which is right for a throw-away provider.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Provider, { type AdapterFactory, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { EIDAS_LOA } from '../../kernel/config/config.ts';
import { memoryAdapterFactory } from './memory-adapter.ts';
import { escapeHtml, loginPage, messagePage, type PageLevel } from './test-eid-pages.ts';

export interface TestEidPerson {
  /** The 12-digit personal ID number released as the claim; '' releases no claim (to test that case). */
  personalId: string;
  /** What the login page shows, so a tester knows who is who. */
  label: string;
}

export interface TestEidClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface TestEidOptions {
  /** The issuer identifier; requests reach the handler with URLs relative to its path (as mountOidcProvider gives them). */
  issuer: string;
  persons: readonly TestEidPerson[];
  clients: readonly TestEidClient[];
  /** The `acr` values a person may authenticate at, lowest first, optionally with a label for the page. */
  acrValues: ReadonlyArray<string | PageLevel>;
  /** The claim carrying the personal ID number (default `personal_id`). */
  personalIdClaim?: string;
  /** Keys and storage to keep across a rebuild of the provider (default: new ones). */
  state?: TestEidState;
}

/** What a rebuilt provider keeps, so relying parties see the same signing key and logins in progress survive. */
export interface TestEidState {
  readonly signingJwk: JWK;
  readonly cookieKey: string;
  readonly adapter: AdapterFactory;
}

/** A fresh RS256 signing key, cookie key and in-memory store. */
export async function newTestEidState(): Promise<TestEidState> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return {
    signingJwk: { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' },
    cookieKey: randomBytes(32).toString('base64url'),
    adapter: memoryAdapterFactory(),
  };
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface TestEidProvider {
  readonly issuer: string;
  readonly provider: Provider;
  /** Serves the provider and its interaction pages. */
  readonly handler: RequestHandler;
}

const EIDAS_LABELS: Record<string, string> = {
  [EIDAS_LOA.low]: 'Thấp / Low (eIDAS low)',
  [EIDAS_LOA.substantial]: 'Đáng kể / Substantial (eIDAS substantial)',
  [EIDAS_LOA.high]: 'Cao / High (eIDAS high)',
};

/** The test eID's account id of the i-th person: stable for a person list, and not derived from the personal ID number. */
export function testEidAccountId(index: number): string {
  return `test-person-${index + 1}`;
}

const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]{1,64})\/?(?:\?.*)?$/;
const FORM_LIMIT = 8 * 1024;

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') return reject(new Error('expected a form'));
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > FORM_LIMIT) {
        req.destroy();
        reject(new Error('form too large'));
      }
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  // No `form-action`: browsers apply it to the redirects after a submission too, and the sign-in
  // ends in a redirect to the relying party's origin.
  res.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
  res.end(html);
}

export async function createTestEidProvider(options: TestEidOptions): Promise<TestEidProvider> {
  const claim = options.personalIdClaim ?? 'personal_id';
  const basePath = new URL(options.issuer).pathname.replace(/\/+$/, '');
  const levels: PageLevel[] = options.acrValues.map((a) => (typeof a === 'string' ? { value: a, label: EIDAS_LABELS[a] ?? a } : a));
  const acrSet = new Set(levels.map((l) => l.value));
  const accounts = new Map(options.persons.map((p, i) => [testEidAccountId(i), p]));

  const state = options.state ?? await newTestEidState();

  const configuration: Configuration = {
    adapter: state.adapter,
    clients: options.clients.map((c) => ({
      ...c, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [state.signingJwk] },
    cookies: { keys: [state.cookieKey] },
    acrValues: [...acrSet],
    scopes: ['openid'],
    claims: { openid: ['sub', claim] },
    // Identity claims in the ID token of the code flow too (as national eIDs commonly do).
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      userinfo: { enabled: true },
    },
    ttl: { AccessToken: 300, AuthorizationCode: 60, IdToken: 300, Interaction: 600, Session: 600, Grant: 600 },
    clientBasedCORS: () => false,
    interactions: { url: (_ctx: KoaContextWithOIDC, interaction) => `${basePath}/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const person = accounts.get(sub);
      if (!person) return undefined;
      return {
        accountId: sub,
        claims: async () => (person.personalId === '' ? { sub } : { sub, [claim]: person.personalId }),
      };
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = messagePage('Lỗi / Error', [out.error, out.error_description].filter(Boolean).join(': '));
    },
  };
  const provider = new Provider(options.issuer, configuration);
  // Behind the hub's TLS-terminating proxy the issuer is https while the socket is not.
  provider.proxy = new URL(options.issuer).protocol === 'https:';
  const callback = provider.callback();

  async function interaction(req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return sendHtml(res, 400, messagePage('Lỗi / Error', 'This sign-in page belongs to another sign-in: start again.'));
    const clientId = String(details.params.client_id ?? '');
    if (req.method === 'GET' && details.prompt.name === 'consent') {
      // The person consents by signing in (a national eID's relying parties are pre-registered):
      // grant what was asked, as devInteractions' consent step would.
      const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: details.session?.accountId, clientId });
      if (!grant) throw new Error('grant not found');
      const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    if (req.method === 'GET') {
      const asked = String(details.params.acr_values ?? '').split(' ').find((a) => acrSet.has(a));
      return sendHtml(res, 200, loginPage({
        action: `${basePath}/interaction/${uid}`,
        clientId,
        persons: options.persons.map((p, i) => ({ accountId: testEidAccountId(i), label: p.label })),
        levels,
        preferredLevel: asked,
      }));
    }
    if (req.method !== 'POST') return sendHtml(res, 405, messagePage('Lỗi / Error', 'Method not allowed.'));
    const form = await readForm(req);
    if (form.get('action') === 'cancel') {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
    }
    const accountId = form.get('person') ?? '';
    const acr = form.get('acr') ?? '';
    if (details.prompt.name !== 'login' || !accounts.has(accountId) || !acrSet.has(acr)) {
      return sendHtml(res, 400, messagePage('Lỗi / Error', 'Choose a test person and an assurance level.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId, acr, remember: false } }, { mergeWithLastSubmission: false });
  }

  const handler: RequestHandler = async (req, res) => {
    const match = INTERACTION.exec(req.url ?? '/');
    if (!match) {
      await callback(req, res);
      return;
    }
    try {
      await interaction(req, res, match[1]!);
    } catch (e) {
      if (res.headersSent) return;
      const name = (e as Error).name;
      sendHtml(res, name === 'SessionNotFound' ? 400 : 500, messagePage('Lỗi / Error', name === 'SessionNotFound'
        ? 'This sign-in has expired or was opened in another browser: start again from the service.'
        : `The test eID failed (${escapeHtml(name)}).`));
    }
  };
  return { issuer: options.issuer, provider, handler };
}

export interface TestEidServer {
  readonly issuer: string;
  readonly provider: Provider;
  close(): Promise<void>;
}

/** The test eID on a free loopback port, its issuer `http://127.0.0.1:<port>` (tests). */
export async function startTestEidServer(options: Omit<TestEidOptions, 'issuer'>): Promise<TestEidServer> {
  // The issuer names the port, so the provider is made once the server listens.
  const current: { handler?: RequestHandler } = {};
  const server = http.createServer((req, res) => {
    const handler = current.handler;
    if (!handler) {
      res.statusCode = 503;
      res.end();
      return;
    }
    handler(req, res).catch(() => {
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const eid = await createTestEidProvider({ ...options, issuer });
  current.handler = eid.handler;
  return {
    issuer,
    provider: eid.provider,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
