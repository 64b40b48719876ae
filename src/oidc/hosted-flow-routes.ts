/**
 * The hosted verification pages' JSON API (issue 4 "Hosted verification pages"), under the page's
 * own path `/verify/<uid>/api` so that oidc-provider's interaction cookie (scoped to
 * `/verify/<uid>`) goes with every call: the cookie is the only credential, and it ties the calls
 * to the browser that the platform sent. The contract is web/src/api/verify.ts; failures are RFC
 * 9457 problem documents with the phone API's codes (CODE_INVALID with `attempts_remaining`,
 * RATE_LIMITED with `retry_after`, ...) and the flow's (docs/errors.md). Hidden from the OpenAPI
 * document: browsers call it, not platforms.
 */
import { Type } from 'typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { eidCallbackRoutes, eidCookieHeader } from './eid/eid-routes.ts';
import { findFlow } from './hosted-flow-repository.ts';
import {
  abort, answerConsent, confirmPhone, eidFailed, eidVerified, flowForBrowser, flowState, resendPhone, restartPhone, startEid, startPhone,
  type HostedFlowDeps,
} from './hosted-flow-service.ts';

const Uid = Type.Object({ uid: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });

export async function hostedFlowRoutes(app: FastifyInstance, deps: HostedFlowDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const hide = { hide: true, params: Uid } as const;

  app.addHook('onSend', async (_request, reply) => {
    // A flow's state is one person's: never cached, never framed.
    reply.header('cache-control', 'no-store');
  });

  /** Loads the flow for this browser, runs a step, answers the state after it. */
  async function step(request: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply, run?: (ctx: Awaited<ReturnType<typeof flowForBrowser>>) => Promise<void>) {
    const ctx = await flowForBrowser(deps, request.params.uid, request.raw, reply.raw);
    await run?.(ctx);
    const flow = run ? (await findFlow(deps.pool, request.params.uid))! : ctx.flow;
    return flowState(deps, flow, ctx.platform, ctx.interaction);
  }

  r.get('/verify/:uid/api', { schema: hide }, async (request, reply) => step(request, reply));

  r.post('/verify/:uid/api/phone', { schema: { ...hide, body: Type.Object({ phone: Type.String({ maxLength: 64 }) }) } }, async (request, reply) =>
    step(request, reply, ({ flow, platform }) => startPhone(deps, flow, platform, request.body.phone, request.ip)));

  r.post('/verify/:uid/api/phone/resend', { schema: hide }, async (request, reply) =>
    step(request, reply, ({ flow, platform }) => resendPhone(deps, flow, platform, request.ip)));

  r.post('/verify/:uid/api/phone/confirm', { schema: { ...hide, body: Type.Object({ code: Type.String({ maxLength: 32 }) }) } }, async (request, reply) =>
    step(request, reply, ({ flow, platform }) => confirmPhone(deps, flow, platform, request.body.code)));

  r.post('/verify/:uid/api/phone/restart', { schema: hide }, async (request, reply) =>
    step(request, reply, ({ flow }) => restartPhone(deps, flow)));

  r.post('/verify/:uid/api/eid', { schema: hide }, async (request, reply) => {
    const { flow } = await flowForBrowser(deps, request.params.uid, request.raw, reply.raw);
    const begun = await startEid(deps, flow);
    reply.header('set-cookie', eidCookieHeader(begun.cookie, { secure: request.protocol === 'https' }));
    return { redirect_url: begun.redirectUrl };
  });

  r.post('/verify/:uid/api/consent', { schema: { ...hide, body: Type.Object({ agree: Type.Boolean() }) } }, async (request, reply) => {
    const { flow, platform } = await flowForBrowser(deps, request.params.uid, request.raw, reply.raw);
    return { redirect_url: await answerConsent(deps, flow, platform, request.body.agree) };
  });

  r.post('/verify/:uid/api/abort', { schema: hide }, async (request, reply) => {
    const { flow } = await flowForBrowser(deps, request.params.uid, request.raw, reply.raw);
    return { redirect_url: await abort(deps, flow) };
  });

  // The national eID sends the browser back here; the broker ties the answer to the flow.
  if (deps.eid) {
    const broker = deps.eid;
    await eidCallbackRoutes(app, {
      broker,
      onVerified: (result) => eidVerified(deps, result),
      onFailed: (flowUid, code) => eidFailed(deps, flowUid, code),
    });
  }
}
