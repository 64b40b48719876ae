/**
 * Mounts an oidc-provider instance (a Koa application) under a path prefix of the Fastify server.
 *
 * oidc-provider parses its own request bodies and writes its own responses, so requests under the
 * prefix are handed over in `onRequest`, before Fastify reads the body or routes the request. The
 * provider computes its URLs from the issuer's path plus the stripped request URL, and from
 * `req.originalUrl` (see oidc-provider lib/helpers/oidc_context.js `urlFor`), which is set here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

type KoaCallback = (req: IncomingMessage, res: ServerResponse) => unknown;

/** True when `url` is `prefix` itself, or below it (`/oidc`, `/oidc/…`, `/oidc?…`). */
export function isUnderPrefix(url: string, prefix: string): boolean {
  return url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`);
}

/**
 * `callback()` is asked for on every request, so a provider rebuilt after a signing-key rotation
 * takes over without a restart.
 */
export function mountOidcProvider(app: FastifyInstance, prefix: string, callback: () => Promise<KoaCallback>): void {
  app.addHook('onRequest', async (request, reply) => {
    const url = request.raw.url ?? '/';
    if (!isUnderPrefix(url, prefix)) return;
    const handler = await callback();
    reply.hijack();
    const raw = request.raw as IncomingMessage & { originalUrl?: string };
    raw.originalUrl = url;
    const rest = url.slice(prefix.length);
    raw.url = rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
    await handler(raw, reply.raw);
  });
}
