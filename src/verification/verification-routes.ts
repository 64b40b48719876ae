/**
 * The verification API for providers (issue 3 "Verification API"): start, read, resend and
 * confirm phone verifications. Thin: schemas and handlers; the rules are in
 * verification-service.ts. `POST /v1/verifications` requires an Idempotency-Key.
 */
import { Type } from 'typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { absentBodyIsEmpty, optionalBodyInDocument } from '../kernel/http/optional-body.ts';
import { PROBLEM_RETRY_SCHEMA, PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import { withLocation } from '../kernel/http/responses.ts';
import { idempotencyKeyOf, runIdempotent } from '../kernel/http/idempotency.ts';
import { providerGuard, providerOf } from '../providers/provider-auth.ts';
import { ACCOUNT_REF_PATTERN } from '../bindings/binding-service.ts';
import { confirmCode, getVerification, parsePhone, resendCode, startVerification, type StartedVerification, type VerificationDeps } from './verification-service.ts';
import { adminVerificationStats, providerVerificationStats } from './verification-stats.ts';
import { readOutbox } from './sms/sms-outbox.ts';
import type { VerificationStatsBuffer } from './verification-stats-buffer.ts';

const security = [{ apiKey: [] }];
const Started = Type.Object({
  id: Type.String({ format: 'uuid' }),
  status: Type.Literal('code_sent'),
  expires_at: Type.String({ format: 'date-time' }),
}, { $id: 'VerificationStarted' });

export const BindResultSchema = Type.Object({
  account_ref: Type.String(),
  status: Type.Literal('verified'),
  level: Type.Union([Type.Literal('low'), Type.Literal('substantial'), Type.Literal('high')]),
  pseudonym: Type.String({ description: 'Stable for this person on this provider; unrelated on any other' }),
  verified_at: Type.String({ format: 'date-time' }),
}, { $id: 'BindResult' });

const VerificationSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  account_ref: Type.String(),
  status: Type.Union([Type.Literal('code_sent'), Type.Literal('verified'), Type.Literal('failed'), Type.Literal('expired'), Type.Literal('guardian_required')]),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  attempts_remaining: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  completed_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  result: Type.Optional(BindResultSchema),
}, { $id: 'Verification' });

const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/**
 * The end user's address, as the platform's server saw it (issue 3 "Abuse": a limit per client
 * IP). A platform's API calls come from its own servers, so without it the per-IP limit counts
 * the platform's server address, under that platform's own limit. Used only to count, as a keyed
 * hash in the bucket's name; never stored or logged in clear.
 */
const ClientIp = Type.Union([Type.String({ format: 'ipv4' }), Type.String({ format: 'ipv6' })], {
  description: "The end user's IP address as your server saw it: the per-IP rate limit then applies to them. Never stored in clear.",
});
const ResendBody = Type.Object({ client_ip: Type.Optional(ClientIp) }, { additionalProperties: false, description: 'Optional' });

// 403: a provider disabled, or not a platform or registrar. 413 and 415: a body over the server's
// bodyLimit or not JSON (errorHandler). 429 and 503 say when to come back (Retry-After).
const readErrors = { 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA };
const errors = {
  ...readErrors, 409: PROBLEM_SCHEMA, 410: PROBLEM_SCHEMA, 413: PROBLEM_SCHEMA, 415: PROBLEM_SCHEMA, 422: PROBLEM_SCHEMA, 429: PROBLEM_RETRY_SCHEMA, 503: PROBLEM_RETRY_SCHEMA,
};

export async function verificationRoutes(app: FastifyInstance, deps: VerificationDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addHook('onRequest', providerGuard(deps.pool, ['platform', 'registrar']));

  r.post('/v1/verifications', {
    schema: {
      tags: ['verification'],
      summary: 'Start a phone verification: checks the number and sends a 6-digit code by SMS',
      description: 'Every eligibility failure answers NUMBER_NOT_ELIGIBLE, whatever the reason (DESIGN.md invariant 1). Requires an Idempotency-Key header: a retry with the same key and body gets the same answer.',
      security,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ description: '1 to 255 visible ASCII characters, unique per request' })) }),
      body: Type.Object({
        account_ref: Type.String({ pattern: ACCOUNT_REF_PATTERN, description: "The platform's opaque id of the account" }),
        phone: Type.String({ minLength: 1, maxLength: 32, description: 'A Vietnamese mobile number' }),
        client_ip: Type.Optional(ClientIp),
      }, { additionalProperties: false }),
      response: { 201: withLocation(Started, 'The code is sent; Location is the verification (GET it to recover a lost reply)'), ...errors },
    },
    // The header is checked by the handler (IDEMPOTENCY_KEY_REQUIRED, a code of its own, rather
    // than a schema error), so the schema cannot mark it required; the OpenAPI document does, so
    // that generated clients send it.
    config: {
      swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, headers: { ...(schema.headers as object), required: ['idempotency-key'] } }, url }),
    },
  }, async (req, reply) => {
    const provider = providerOf(req);
    const key = idempotencyKeyOf(req.headers['idempotency-key']);
    const answer = await runIdempotent<StartedVerification>(
      deps.pool, { providerId: provider.id, key, route: 'POST /v1/verifications', body: req.body, keys: (await deps.ring()).blindIndex },
      async () => ({ status: 201, body: await startVerification(deps, provider, { accountRef: req.body.account_ref, phone: req.body.phone, clientIp: req.body.client_ip ?? req.ip }) }),
    );
    if (answer.replayed) reply.header('Idempotent-Replayed', 'true');
    reply.header('Location', `/v1/verifications/${answer.body.id}`);
    return reply.status(201).send(answer.body);
  });

  r.get('/v1/verifications/:id', {
    schema: { tags: ['verification'], summary: 'A verification, with its result once verified (to recover a lost reply)', security, params: IdParams, response: { 200: VerificationSchema, ...readErrors } },
  }, async (req) => getVerification(deps, providerOf(req), req.params.id));

  r.post('/v1/verifications/:id/resend', {
    schema: {
      tags: ['verification'], summary: 'Send a new code (at most 3 codes, 30 s apart, within the same budgets; attempts are not reset)', security, params: IdParams,
      body: ResendBody, response: { 200: Started, ...errors },
    },
    // The body is optional (a resend needs nothing but the id): no body is {} (optional-body.ts).
    preValidation: absentBodyIsEmpty,
    config: { swaggerTransform: optionalBodyInDocument(ResendBody) },
  }, async (req) => resendCode(deps, providerOf(req), req.params.id, { clientIp: req.body.client_ip ?? req.ip }));

  r.post('/v1/verifications/:id/confirm', {
    schema: {
      tags: ['verification'],
      summary: 'Confirm the code: binds the account and answers its pseudonym and level',
      description: '5 wrong codes end the verification (TOO_MANY_ATTEMPTS); a person under 16 gets GUARDIAN_REQUIRED after a right code and is not bound.',
      security, params: IdParams,
      body: Type.Object({ code: Type.String({ maxLength: 16 }) }, { additionalProperties: false }),
      response: { 200: BindResultSchema, ...errors },
    },
  }, async (req) => confirmCode(deps, providerOf(req), req.params.id, req.body.code));
}

const DayStatsSchema = Type.Object({
  day: Type.String({ format: 'date' }),
  started: Type.Integer(),
  confirmed: Type.Integer(),
  failed: Type.Record(Type.String(), Type.Integer()),
});

/** The provider console's statistics (own counts; eligibility reasons summed). */
export async function verificationStatsRoutes(app: FastifyInstance, deps: { pool: VerificationDeps['pool']; stats?: VerificationStatsBuffer }): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addHook('onRequest', providerGuard(deps.pool));
  r.get('/v1/provider/verification-stats', {
    schema: {
      tags: ['provider console'], summary: 'Verifications started, confirmed and failed by reason, per day (Vietnam time)', security,
      querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 30 })) }),
      response: { 200: Type.Object({ days: Type.Array(DayStatsSchema) }), 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA },
    },
  }, async (req) => {
    await deps.stats?.flush();
    return { days: await providerVerificationStats(deps.pool, providerOf(req), req.query.days ?? 30) };
  });
}

/** The regulator's view: precise internal reasons, and SMS-pumping suspects. */
export async function verificationAdminRoutes(app: FastifyInstance, deps: { pool: VerificationDeps['pool']; stats?: VerificationStatsBuffer; adminGuard: (req: FastifyRequest) => Promise<void> }): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addHook('onRequest', deps.adminGuard);
  r.get('/v1/admin/verification-stats', {
    schema: {
      tags: ['verification'], summary: 'All providers: outcomes with internal reasons per day, and prefixes suspected of SMS pumping', security: [{ adminToken: [] }],
      querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 30 })) }),
      response: {
        200: Type.Object({
          days: Type.Array(DayStatsSchema),
          sms_pumping_suspects: Type.Array(Type.Object({ prefix: Type.String(), sent: Type.Integer(), confirmed: Type.Integer() })),
        }),
        400: PROBLEM_SCHEMA,
        401: PROBLEM_SCHEMA,
      },
    },
  }, async (req) => {
    await deps.stats?.flush();
    return adminVerificationStats(deps.pool, req.query.days ?? 30);
  });
}

/** Demo mode only (never registered otherwise): the local SMS outbox, so the flow can be tried without a carrier. */
export async function devSmsOutboxRoutes(app: FastifyInstance, deps: { pool: VerificationDeps['pool']; ring: VerificationDeps['ring'] }): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get('/v1/dev/sms-outbox', {
    schema: {
      tags: ['demo'], summary: 'Demo mode only: messages "sent" to a number, newest last',
      querystring: Type.Object({ to: Type.String({ minLength: 1, maxLength: 32 }) }),
      response: { 200: Type.Array(Type.Object({ to: Type.String(), text: Type.String(), sent_at: Type.String({ format: 'date-time' }) })), 400: PROBLEM_SCHEMA },
    },
  }, async (req) => readOutbox(deps.pool, await deps.ring(), parsePhone(req.query.to)));
}
