/**
 * `GET /verify/eid/callback`: where the national eID sends the browser back (the redirect URI
 * registered at the upstream: `${publicUrl}/verify/eid/callback`). Completes the login through
 * the broker, tells the hosted flow (onVerified / onFailed), and sends the browser back to the
 * flow's page with `303`. When the answer cannot be tied to a flow of this browser (no or wrong
 * cookie, unknown state), it answers a small error itself: an HTML page to a browser,
 * problem+json otherwise. Hidden from the OpenAPI document: browsers call it, not platforms.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AssuranceLevel } from '../../kernel/config/config.ts';
import { AppError } from '../../kernel/errors.ts';
import { problemOf, sendProblem } from '../../kernel/http/problem.ts';
import { EID_CALLBACK_PATH, EID_COOKIE_NAME, type EidBroker, type EidCookie, type EidRole } from './eid-broker.ts';
import { EidError } from './eid-errors.ts';

export interface EidCallbackDeps {
  broker: EidBroker;
  /** The person was authenticated: record it in the flow (binding, guardian step, consent). An AppError thrown here is handed to onFailed. */
  onVerified(result: { flowUid: string; role: EidRole; personId: string; level: AssuranceLevel }): Promise<void>;
  /** The eID step of this flow failed with this code (docs/errors.md): show it on the flow's page. */
  onFailed(flowUid: string, code: string): Promise<void>;
}

/** The `Set-Cookie` value for the cookie of `broker.begin` (HttpOnly; SameSite=Lax, so the upstream's top-level redirect back carries it). */
export function eidCookieHeader(cookie: EidCookie, options: { secure: boolean }): string {
  return `${cookie.name}=${cookie.value}; Path=${cookie.path}; Max-Age=${cookie.maxAgeSeconds}; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`;
}

function clearCookieHeader(secure: boolean): string {
  return `${EID_COOKIE_NAME}=; Path=${EID_CALLBACK_PATH}; Max-Age=0; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function sendError(request: FastifyRequest, reply: FastifyReply, e: AppError): FastifyReply {
  const accept = request.headers.accept ?? '';
  if (!accept.includes('text/html')) return sendProblem(reply, problemOf(e.code, e.status, e.title, e.detail));
  return reply.status(e.status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(`<!DOCTYPE html>
<html lang="vi">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(e.title)}</title>
<style>:root{color-scheme:light dark;font-family:system-ui,sans-serif;line-height:1.45}main{max-width:36rem;margin:2rem auto;padding:0 1rem}</style></head>
<body><main>
<h1>Không thể xác minh bằng eID / <span lang="en">The eID sign-in could not be used</span></h1>
<p lang="en">${escapeHtml(e.title)}.${e.detail ? ` ${escapeHtml(e.detail)}.` : ''}</p>
<p>Hãy quay lại nền tảng và bắt đầu lại. / <span lang="en">Go back to the platform and start the verification again.</span></p>
<p><small>${escapeHtml(e.code)}</small></p>
</main></body></html>`);
}

export async function eidCallbackRoutes(scope: FastifyInstance, deps: EidCallbackDeps): Promise<void> {
  scope.get(EID_CALLBACK_PATH, { schema: { hide: true } }, async (request, reply) => {
    const secure = request.protocol === 'https';
    reply.header('cache-control', 'no-store');
    // The cookie is for one login: gone whatever the outcome.
    reply.header('set-cookie', clearCookieHeader(secure));
    const back = (flowUid: string) => reply.redirect(`/verify/${encodeURIComponent(flowUid)}`, 303);
    let flowUid: string | undefined;
    try {
      const result = await deps.broker.complete({ callbackUrl: request.url, cookieValue: readCookie(request.headers.cookie, EID_COOKIE_NAME) });
      flowUid = result.flowUid;
      await deps.onVerified(result);
      return back(flowUid);
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      const failedFlow = (e instanceof EidError ? e.flowUid : undefined) ?? flowUid;
      if (failedFlow === undefined) return sendError(request, reply, e);
      if (e instanceof EidError) request.log.info({ eid: { code: e.code, reason: e.reason } }, 'eID login failed');
      try {
        await deps.onFailed(failedFlow, e.code);
      } catch (f) {
        if (f instanceof AppError) return sendError(request, reply, f);
        throw f;
      }
      return back(failedFlow);
    }
  });
}
