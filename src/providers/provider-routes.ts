/**
 * Provider management: the regulator's admin API (create, list, settings, key rotation) and the
 * provider's own settings (its profile, webhook URL, credential rotation). Thin: the rules live in
 * provider-service.ts.
 */
import { Type, type Static } from 'typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import type { OutboundPolicy } from '../kernel/http/outbound-http.ts';
import { PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import { withLocation } from '../kernel/http/responses.ts';
import { absentBodyIsEmpty, optionalBodyInDocument } from '../kernel/http/optional-body.ts';
import { currentKeyGuard, providerGuard, providerOf } from './provider-auth.ts';
import {
  apiKeys, createProvider, getProvider, listProviders, providerView, rotateApiKey, rotateWebhookSecret, updateProvider, webhookSecrets,
} from './provider-service.ts';

export interface ProviderRouteDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  outbound: OutboundPolicy;
  adminGuard: (request: FastifyRequest) => Promise<void>;
}

const Limits = Type.Object({
  verifications_per_minute: Type.Integer({ minimum: 1 }),
  sms_per_day: Type.Integer({ minimum: 1 }),
  accounts_per_person: Type.Integer({ minimum: 1 }),
});
// A member it does not know is refused, not ignored: a misspelt limit (`accountsPerPerson`) would
// otherwise leave the default in force while the regulator believes it set (DESIGN.md invariant 5).
const LimitsInput = Type.Partial(Limits, { additionalProperties: false });

export const ProviderSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  kind: Type.Union([Type.Literal('platform'), Type.Literal('carrier'), Type.Literal('registrar')]),
  carrier: Type.Union([Type.String(), Type.Null()]),
  legal_profile: Type.Union([Type.Literal('minimal'), Type.Literal('statutory')]),
  webhook_url: Type.Union([Type.String(), Type.Null()]),
  webhook_disabled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the endpoint answered 410 Gone and was disabled: deliveries are then dead-lettered at once. Setting webhook_url again (the same URL too) enables it; replay the dead deliveries afterwards.',
  }),
  limits: Limits,
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
  created_at: Type.String({ format: 'date-time' }),
}, { $id: 'Provider' });

const CreateBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 60 }),
  kind: Type.Union([Type.Literal('platform'), Type.Literal('carrier'), Type.Literal('registrar')]),
  carrier: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$' })),
  webhook_url: Type.Optional(Type.String({ maxLength: 2048 })),
  legal_profile: Type.Optional(Type.Union([Type.Literal('minimal'), Type.Literal('statutory')])),
  limits: Type.Optional(LimitsInput),
}, { additionalProperties: false });

const UpdateBody = Type.Object({
  legal_profile: Type.Optional(Type.Union([Type.Literal('minimal'), Type.Literal('statutory')])),
  webhook_url: Type.Optional(Type.Union([Type.String({ maxLength: 2048 }), Type.Null()])),
  limits: Type.Optional(LimitsInput),
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
}, { additionalProperties: false });

const Overlap = Type.Object({
  overlap_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 24 * 3600, description: 'How long the previous credential keeps working (default 86400)' })),
}, { additionalProperties: false, description: 'Optional: no body is {}, the default overlap of 24 hours' });

/**
 * A rotation's body is optional (docs/platforms.md: the overlap defaults to 24 h): no body is
 * `{}`, a body sent is checked by Overlap, and the OpenAPI document says the body may be left out.
 */
const optionalOverlap = { preValidation: absentBodyIsEmpty, config: { swaggerTransform: optionalBodyInDocument(Overlap) } };

const KeyInfo = Type.Object({ id: Type.String(), hint: Type.String(), created_at: Type.String(), expires_at: Type.Union([Type.String(), Type.Null()]) });

function limitsOf(l: Static<typeof LimitsInput> | undefined) {
  return l ? { verificationsPerMinute: l.verifications_per_minute, smsPerDay: l.sms_per_day, accountsPerPerson: l.accounts_per_person } : undefined;
}

const adminSecurity = [{ adminToken: [] }];
const providerSecurity = [{ apiKey: [] }];

export async function providerAdminRoutes(app: FastifyInstance, deps: ProviderRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addHook('onRequest', deps.adminGuard);

  r.post('/v1/admin/providers', {
    schema: {
      tags: ['providers'], summary: 'Create a provider; answers its API key and webhook secret, shown once', security: adminSecurity, body: CreateBody,
      response: {
        201: withLocation(Type.Object({ provider: ProviderSchema, api_key: Type.String(), webhook_secret: Type.String() }), 'Created; Location is the provider'),
        400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 409: PROBLEM_SCHEMA, 422: PROBLEM_SCHEMA,
      },
    },
  }, async (req, reply) => {
    const b = req.body;
    const created = await createProvider(deps.pool, await deps.ring(), deps.outbound, {
      name: b.name, kind: b.kind, carrier: b.carrier, webhookUrl: b.webhook_url, legalProfile: b.legal_profile, limits: limitsOf(b.limits),
    });
    reply.header('Location', `/v1/admin/providers/${created.provider.id}`);
    return reply.status(201).send({ provider: providerView(created.provider), api_key: created.apiKey, webhook_secret: created.webhookSecret });
  });

  r.get('/v1/admin/providers', {
    schema: { tags: ['providers'], summary: 'Every provider', security: adminSecurity, response: { 200: Type.Object({ providers: Type.Array(ProviderSchema) }), 401: PROBLEM_SCHEMA } },
  }, async () => ({ providers: (await listProviders(deps.pool)).map(providerView) }));

  r.get('/v1/admin/providers/:id', {
    schema: {
      tags: ['providers'], summary: 'One provider', security: adminSecurity, params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      response: { 200: ProviderSchema, 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA },
    },
  }, async (req) => providerView(await getProvider(deps.pool, req.params.id)));

  r.patch('/v1/admin/providers/:id', {
    schema: {
      tags: ['providers'], summary: 'Change legal profile, webhook URL, limits or status', security: adminSecurity,
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }), body: UpdateBody,
      response: { 200: ProviderSchema, 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA, 422: PROBLEM_SCHEMA },
    },
  }, async (req) => {
    const b = req.body;
    return providerView(await updateProvider(deps.pool, deps.outbound, req.params.id, {
      legalProfile: b.legal_profile, webhookUrl: b.webhook_url, limits: limitsOf(b.limits), status: b.status,
    }));
  });

  r.post('/v1/admin/providers/:id/api-keys', {
    schema: {
      tags: ['providers'], summary: "Issue a new API key for a provider (e.g. a lost key); the old ones expire after the overlap", security: adminSecurity,
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }), body: Overlap,
      response: { 201: Type.Object({ api_key: Type.String(), previous_keys_expire_at: Type.Union([Type.String(), Type.Null()]) }), 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA },
    },
    ...optionalOverlap,
  }, async (req, reply) => {
    const out = await rotateApiKey(deps.pool, req.params.id, req.body.overlap_seconds);
    return reply.status(201).send({ api_key: out.apiKey, previous_keys_expire_at: out.previousExpireAt?.toISOString() ?? null });
  });
}

export async function providerSelfRoutes(app: FastifyInstance, deps: ProviderRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addHook('onRequest', providerGuard(deps.pool));

  r.get('/v1/provider', {
    schema: {
      tags: ['provider console'], summary: "The calling provider's profile, limits and live API keys (hints only)", security: providerSecurity,
      response: { 200: Type.Object({ provider: ProviderSchema, api_keys: Type.Array(KeyInfo) }), 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA },
    },
  }, async (req) => {
    const p = providerOf(req);
    return { provider: providerView(p), api_keys: await apiKeys(deps.pool, p.id) };
  });

  r.put('/v1/provider/webhook', {
    onRequest: currentKeyGuard,
    schema: {
      tags: ['provider console'], summary: 'Set (or clear, with null) the webhook URL; refused when it resolves to a private address', security: providerSecurity,
      body: Type.Object({ url: Type.Union([Type.String({ maxLength: 2048 }), Type.Null()]) }, { additionalProperties: false }),
      response: { 200: ProviderSchema, 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA, 422: PROBLEM_SCHEMA },
    },
  }, async (req) => providerView(await updateProvider(deps.pool, deps.outbound, providerOf(req).id, { webhookUrl: req.body.url })));

  r.get('/v1/provider/webhook-secret', {
    onRequest: currentKeyGuard,
    schema: {
      tags: ['provider console'], summary: 'The current webhook signing secret (and older ones still in their overlap)', security: providerSecurity,
      response: { 200: Type.Object({ secrets: Type.Array(Type.String()) }), 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA },
    },
  }, async (req) => ({ secrets: await webhookSecrets(deps.pool, await deps.ring(), providerOf(req).id) }));

  r.post('/v1/provider/api-keys', {
    onRequest: currentKeyGuard,
    schema: {
      tags: ['provider console'], summary: 'Rotate the API key: a new key, the old ones kept for the overlap', security: providerSecurity, body: Overlap,
      response: { 201: Type.Object({ api_key: Type.String(), previous_keys_expire_at: Type.Union([Type.String(), Type.Null()]) }), 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA },
    },
    ...optionalOverlap,
  }, async (req, reply) => {
    const out = await rotateApiKey(deps.pool, providerOf(req).id, req.body.overlap_seconds);
    return reply.status(201).send({ api_key: out.apiKey, previous_keys_expire_at: out.previousExpireAt?.toISOString() ?? null });
  });

  r.post('/v1/provider/webhook-secrets', {
    onRequest: currentKeyGuard,
    schema: {
      tags: ['provider console'], summary: 'Rotate the webhook secret: deliveries are signed with both during the overlap', security: providerSecurity, body: Overlap,
      response: { 201: Type.Object({ webhook_secret: Type.String(), previous_secrets_expire_at: Type.Union([Type.String(), Type.Null()]) }), 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA },
    },
    ...optionalOverlap,
  }, async (req, reply) => {
    const out = await rotateWebhookSecret(deps.pool, await deps.ring(), providerOf(req).id, req.body.overlap_seconds);
    return reply.status(201).send({ webhook_secret: out.webhookSecret, previous_secrets_expire_at: out.previousExpireAt?.toISOString() ?? null });
  });
}
