/**
 * The authority console's API for disclosure requests (issue 5), for signed-in officials
 * (src/officials: passkey sessions); the rules live in disclosure-service.ts. Every answer is
 * about one request: there is no search and no bulk endpoint.
 */
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PROBLEM_RETRY_SCHEMA, PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import { officialGuard, requireRole } from '../officials/official-auth.ts';
import {
  approveRequest, extendSeal, getRequest, listRequests, rejectRequest, requestView, reviewRequest, submitRequest, viewRelease, type DisclosureDeps,
} from './disclosure-service.ts';

const Id = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Status = Type.Union([Type.Literal('submitted'), Type.Literal('approved'), Type.Literal('rejected'), Type.Literal('released'), Type.Literal('expired')]);
const Authority = Type.Object({ id: Type.String(), name: Type.String() });
const RequestSchema = Type.Object({
  id: Type.String(),
  status: Status,
  provider: Type.Object({ id: Type.String(), name: Type.String() }),
  account_ref: Type.String(), pseudonym: Type.String(), legal_basis: Type.String(), case_reference: Type.String(), reasons: Type.String(),
  asks: Type.Array(Type.String()), emergency: Type.Boolean(), seal_until: Type.Union([Type.String(), Type.Null()]), sealed: Type.Boolean(),
  requester: Type.Object({ official_id: Type.String(), authority: Authority }),
  approver: Type.Union([Type.Object({ official_id: Type.Union([Type.String(), Type.Null()]), authority: Authority }), Type.Null()]),
  rejection_reasons: Type.Union([Type.String(), Type.Null()]), decided_at: Type.Union([Type.String(), Type.Null()]),
  released_at: Type.Union([Type.String(), Type.Null()]), release_visible_until: Type.Union([Type.String(), Type.Null()]),
  review: Type.Union([Type.Object({
    due_at: Type.Union([Type.String(), Type.Null()]), reviewed_at: Type.Union([Type.String(), Type.Null()]),
    outcome: Type.Union([Type.String(), Type.Null()]), overdue: Type.Boolean(),
  }), Type.Null()]),
  expires_at: Type.String(), created_at: Type.String(),
});
const errors = { 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA, 409: PROBLEM_SCHEMA, 410: PROBLEM_SCHEMA, 429: PROBLEM_RETRY_SCHEMA, 503: PROBLEM_RETRY_SCHEMA };
const tags = ['authority console'];
const security = [{ officialSession: [] }];

export async function disclosureRoutes(app: FastifyInstance, deps: DisclosureDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('preHandler', officialGuard({ pool: deps.pool }));
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  r.post('/v1/authority/requests', {
    schema: {
      tags, security, summary: 'File a disclosure request for one account (requester)',
      body: Type.Object({
        provider_id: Type.String({ format: 'uuid' }),
        account_ref: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' })),
        pseudonym: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        legal_basis: Type.String({ minLength: 3, maxLength: 500 }),
        case_reference: Type.String({ minLength: 1, maxLength: 200 }),
        reasons: Type.String({ minLength: 20, maxLength: 5000 }),
        asks: Type.Array(Type.Union([Type.Literal('identity'), Type.Literal('history')]), { minItems: 1, maxItems: 2 }),
        seal_until: Type.Optional(Type.String({ format: 'date' })),
        emergency: Type.Optional(Type.Boolean()),
      }, { additionalProperties: false }),
      response: { 201: RequestSchema, ...errors },
    },
  }, async (request, reply) => {
    const official = requireRole(request, 'requester');
    const b = request.body;
    const row = await submitRequest(deps, official, {
      providerId: b.provider_id, accountRef: b.account_ref, pseudonym: b.pseudonym, legalBasis: b.legal_basis, caseReference: b.case_reference,
      reasons: b.reasons, asks: b.asks, sealUntil: b.seal_until, emergency: b.emergency,
    });
    return reply.status(201).send(requestView(row));
  });

  r.get('/v1/authority/requests', {
    schema: {
      tags, security, summary: 'Requests this official works with (their authority\'s; awaiting an approver of another authority; all for auditors)',
      querystring: Type.Object({ status: Type.Optional(Status) }),
      response: { 200: Type.Object({ requests: Type.Array(RequestSchema) }), ...errors },
    },
  }, async (request) => {
    const rows = await listRequests(deps, request.official!, { status: request.query.status });
    return { requests: rows.map(requestView) };
  });

  r.get('/v1/authority/providers', {
    schema: {
      tags, security, summary: 'Platforms and registrars a request can name (id and name only)',
      response: { 200: Type.Object({ providers: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), kind: Type.String() })) }), ...errors },
    },
  }, async () => {
    const rows = await deps.pool.query<{ id: string; name: string; kind: string }>(
      `SELECT id, name, kind FROM providers WHERE kind IN ('platform', 'registrar') AND status = 'active' ORDER BY name`,
    );
    return { providers: rows.rows };
  });

  r.get('/v1/authority/requests/:id', { schema: { tags, security, summary: 'One request', params: Id, response: { 200: RequestSchema, ...errors } } },
    async (request) => requestView(await getRequest(deps, request.official!, request.params.id)));

  r.post('/v1/authority/requests/:id/approve', {
    schema: { tags, security, summary: 'Approve (an approver of another authority); released once a signed checkpoint covers the approval', params: Id, response: { 200: RequestSchema, ...errors } },
  }, async (request) => requestView(await approveRequest(deps, requireRole(request, 'approver'), request.params.id)));

  r.post('/v1/authority/requests/:id/reject', {
    schema: {
      tags, security, summary: 'Reject, with reasons (an approver of another authority)', params: Id,
      body: Type.Object({ reasons: Type.String({ minLength: 10, maxLength: 5000 }) }), response: { 200: RequestSchema, ...errors },
    },
  }, async (request) => requestView(await rejectRequest(deps, requireRole(request, 'approver'), request.params.id, request.body.reasons)));

  r.post('/v1/authority/requests/:id/review', {
    schema: {
      tags, security, summary: 'Retrospective review of an emergency release (a second approver of another authority)', params: Id,
      body: Type.Object({ outcome: Type.Union([Type.Literal('upheld'), Type.Literal('not_upheld')]), reasons: Type.String({ minLength: 10, maxLength: 5000 }) }),
      response: { 200: RequestSchema, ...errors },
    },
  }, async (request) => requestView(await reviewRequest(deps, requireRole(request, 'approver'), request.params.id, request.body.outcome, request.body.reasons)));

  r.post('/v1/authority/requests/:id/seal', {
    schema: {
      tags, security, summary: 'A court sets or extends the seal (a new logged stage)', params: Id,
      body: Type.Object({ until: Type.String({ format: 'date' }), reasons: Type.String({ minLength: 10, maxLength: 5000 }) }),
      response: { 200: RequestSchema, ...errors },
    },
  }, async (request) => requestView(await extendSeal(deps, requireRole(request, 'approver'), request.params.id, request.body.until, request.body.reasons)));

  r.get('/v1/authority/requests/:id/release', {
    schema: {
      tags, security, summary: 'The released data and its proof bundles (the requesting authority; each view is in the person\'s history)', params: Id,
      response: {
        200: Type.Object({
          request: RequestSchema,
          identity: Type.Optional(Type.Object({ full_name: Type.String(), personal_id: Type.String(), birth_date: Type.String() })),
          account: Type.Optional(Type.Object({ method: Type.Union([Type.String(), Type.Null()]), level: Type.Union([Type.String(), Type.Null()]), verified_at: Type.Union([Type.String(), Type.Null()]) })),
          history: Type.Optional(Type.Array(Type.Object({ status: Type.String(), reason: Type.String(), at: Type.String() }))),
          proofs: Type.Object({ approved: Type.String(), released: Type.String() }),
        }),
        ...errors,
      },
    },
  }, async (request) => viewRelease(deps, requireRole(request, 'requester'), request.params.id));
}
