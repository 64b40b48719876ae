/**
 * What the hub's request log says about a request. pino's default request record is Fastify's
 * (method, URL, host, client address), and its URL carries the query string: a phone number
 * (`/v1/dev/sms-outbox?to=+84...`), an OpenID `login_hint` or `code`, whatever a client put
 * there. Logs never carry a personal field (DESIGN.md invariant 2; README "IDBIND_LOG_LEVEL"),
 * and a route cannot say in advance which of its parameters are personal, so no query value is
 * logged on any route: the path, and the parameter names with their values replaced. Nor is a
 * path parameter's value (a platform may send a phone number as an account ref, or in place of a
 * verification id): a request that matched a route with parameters is logged as the route
 * (`/v1/accounts/:account_ref`), one that matched none by its first two segments.
 */
import type { FastifyRequest } from 'fastify';

/** What replaces each query value (and a parameter name that is not a plain identifier). */
export const REDACTED = '[Redacted]';

/**
 * A name is kept only when it reads as a parameter name: a client can put anything before the
 * `=` (`?+84912345678`), and a name that is not an identifier is as much a value as what follows.
 */
const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** The URL as logged: the path as sent, then `?name=[Redacted]&...` for each query parameter. */
export function loggableUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const names = url.slice(at + 1).split('&').filter((p) => p !== '').map((p) => {
    const name = p.split('=', 1)[0]!;
    return PARAMETER_NAME.test(name) ? `${name}=${REDACTED}` : REDACTED;
  });
  return names.length === 0 ? url.slice(0, at) : `${url.slice(0, at)}?${names.join('&')}`;
}

/**
 * The path as logged: the route's pattern when the request matched a route with parameters, the
 * path itself for a route without any, and for no route its first two segments (`/v1/nowhere`),
 * the rest replaced. The query follows, as `loggableUrl` writes it.
 */
export function loggablePath(url: string, route: { url?: string; hasParams: boolean } | undefined): string {
  const at = url.indexOf('?');
  const path = at < 0 ? url : url.slice(0, at);
  const query = at < 0 ? '' : loggableUrl(`/${url.slice(at)}`).slice(1);
  if (route?.url !== undefined) return (route.hasParams ? route.url : path) + query;
  const segments = path.split('/');
  return (segments.length > 3 ? `${segments.slice(0, 3).join('/')}/${REDACTED}` : path) + query;
}

/** Fastify's own request serializer (fastify/lib/logger-pino.js) with the URL made loggable. */
export function requestLogRecord(request: FastifyRequest): Record<string, unknown> {
  const matched = request.routeOptions?.url;
  const params = request.params as Record<string, unknown> | undefined;
  return {
    method: request.method,
    url: loggablePath(request.url, matched === undefined ? undefined : { url: matched, hasParams: params !== undefined && Object.keys(params).length > 0 }),
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
