/**
 * Authentication of the regulator's admin API: `Authorization: Bearer <IDBIND_ADMIN_TOKEN>`,
 * compared in constant time (issue 2; staff passkeys replace it in issue 5). Fails closed: with
 * no token configured, every admin request is refused.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './http-errors.ts';

export function adminGuard(token: string | undefined) {
  const expected = token ? createHash('sha256').update(token).digest() : undefined;
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization ?? '';
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(header);
    if (!expected || !m) throw new HttpError('ADMIN_TOKEN_INVALID');
    const given = createHash('sha256').update(m[1]!).digest();
    if (!timingSafeEqual(given, expected)) throw new HttpError('ADMIN_TOKEN_INVALID');
  };
}

/**
 * `/metrics` (config.ts `metricsToken`): open in demo mode; otherwise only to the metrics token or
 * the admin token, compared in constant time. Fails closed: with neither configured, refused.
 */
export function metricsGuard(mode: 'demo' | 'production', metricsToken: string | undefined, adminToken: string | undefined) {
  const expected = [metricsToken, adminToken].filter((t): t is string => t !== undefined).map((t) => createHash('sha256').update(t).digest());
  return async (request: FastifyRequest): Promise<void> => {
    if (mode === 'demo') return;
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(request.headers.authorization ?? '');
    if (!m) throw new HttpError('METRICS_TOKEN_INVALID');
    const given = createHash('sha256').update(m[1]!).digest();
    // Every configured token is compared, so the time taken does not tell which one matched.
    let ok = false;
    for (const e of expected) ok = timingSafeEqual(given, e) || ok;
    if (!ok) throw new HttpError('METRICS_TOKEN_INVALID');
  };
}
