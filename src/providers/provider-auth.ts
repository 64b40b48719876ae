/**
 * Authentication of provider calls (issue 3: "Every provider call is authenticated"):
 * `Authorization: Bearer <api_key>`. The provider found is attached to the request; every
 * service call takes it from there, so a provider only ever reaches its own accounts,
 * verifications and events.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { authenticateApiKey, type Provider } from './provider-service.ts';
import { ProviderError } from './provider-errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    provider: Provider | null;
  }
}

export function decorateProviderRequest(app: FastifyInstance): void {
  if (!app.hasRequestDecorator('provider')) app.decorateRequest('provider', null);
}

/**
 * `Authorization: Bearer <key>`. The scheme is a case-insensitive token followed by one or more
 * spaces (RFC 9110 section 11.1 and 11.4; RFC 6750 section 2.1): `bearer idbk_...`, as several
 * HTTP clients send it, is the same header.
 */
const BEARER = /^bearer +([\x21-\x7e]+)$/i;

export function providerGuard(pool: pg.Pool, kinds?: readonly Provider['kind'][]) {
  return async (request: FastifyRequest, reply?: FastifyReply): Promise<void> => {
    let provider: Provider;
    try {
      const m = BEARER.exec(request.headers.authorization ?? '');
      if (!m) throw new ProviderError('API_KEY_INVALID');
      provider = await authenticateApiKey(pool, m[1]!);
    } catch (e) {
      // A 401 names the scheme that would be taken (RFC 9110 section 15.5.2: it MUST carry a
      // challenge; RFC 6750 section 3).
      if (e instanceof ProviderError && e.status === 401) reply?.header('WWW-Authenticate', 'Bearer');
      throw e;
    }
    if (kinds && !kinds.includes(provider.kind)) throw new ProviderError('PROVIDER_KIND_FORBIDDEN', `for ${kinds.join(' or ')} providers`);
    request.provider = provider;
  };
}

/** The authenticated provider of a request that passed providerGuard. */
export function providerOf(request: FastifyRequest): Provider {
  if (!request.provider) throw new ProviderError('API_KEY_INVALID');
  return request.provider;
}

/**
 * For the routes that manage a provider's credentials and webhook (rotate the API key or the
 * webhook secret, read the secret, move the URL): only the current key, never one in its
 * rotation overlap. The overlap is for a deployment still rolling; whoever holds a key being
 * rotated away (often because it leaked) must not mint a key of its own, end the new one with
 * overlap 0, or take the webhooks (API_KEY_RETIRING).
 */
export async function currentKeyGuard(request: FastifyRequest): Promise<void> {
  if (providerOf(request).keyRetiring) throw new ProviderError('API_KEY_RETIRING');
}
