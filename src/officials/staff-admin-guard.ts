/**
 * The admin API's guard with the regulator's staff (issue 5 "Officials and the authority console":
 * "The regulator's own staff sign in the same way, replacing the admin token of the registries
 * page"). It wraps the admin-token guard (src/kernel/http/admin-auth.ts) and keeps its signature
 * `(request) => Promise<void>`, so every admin route takes either:
 *
 * - `Authorization: Bearer <IDBIND_ADMIN_TOKEN>` (automation, the CLI): checked exactly as before;
 *   a request with an Authorization header is judged by it alone;
 * - without one, the `idbind_official` session cookie of an active official of a `regulator`
 *   authority holding `administrator`, with the session checks of officialGuard (8 hours idle,
 *   12 hours at most, refused at once when the official is deactivated). Each admin request through
 *   a staff session leaves an audit record (`admin.request`, the route pattern and method; no
 *   personal data: the pattern, not the URL with its parameters and query).
 *
 * Answers: no credential, or a session that is unknown or ended, 401 (ADMIN_TOKEN_INVALID without
 * a cookie, OFFICIAL_NOT_SIGNED_IN with one); a live session of anyone but regulator staff, 403
 * OFFICIAL_ROLE_REQUIRED. The cookie is SameSite=Strict, so a cross-site request never carries it.
 */
import type { FastifyRequest } from 'fastify';
import type pg from 'pg';
import { adminGuard } from '../kernel/http/admin-auth.ts';
import { cookieValue, isRegulatorStaff, recordOfficialAction, SESSION_COOKIE, sessionOfficial } from './official-auth.ts';
import { OfficialError } from './official-errors.ts';

export function adminOrStaffGuard(token: string | undefined, deps: { pool: pg.Pool }): (request: FastifyRequest) => Promise<void> {
  const byToken = adminGuard(token);
  return async (request: FastifyRequest): Promise<void> => {
    const session = cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (request.headers.authorization !== undefined || !session) return byToken(request);
    const official = await sessionOfficial(deps.pool, session);
    if (!official) throw new OfficialError('OFFICIAL_NOT_SIGNED_IN');
    if (!isRegulatorStaff(official)) {
      throw new OfficialError('OFFICIAL_ROLE_REQUIRED', 'the admin API needs the administrator role of a regulator authority', { role: 'administrator' });
    }
    request.official = official;
    await recordOfficialAction(deps.pool, {
      official, action: 'admin.request', detail: { method: request.method, route: request.routeOptions.url ?? null },
    });
  };
}
