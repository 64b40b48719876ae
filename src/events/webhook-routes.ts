/**
 * The provider's webhook API (issue 3 "Webhooks"): the delivery log, replays, a test event and
 * event polling. Thin: the rules live in webhook-service.ts. Every route is provider-authenticated
 * and reaches only the calling provider's rows (a delivery of another provider is "not found").
 */
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { PROBLEM_RETRY_SCHEMA, PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import { providerGuard, providerOf } from '../providers/provider-auth.ts';
import type { WebhookDispatcher } from './webhook-dispatcher.ts';
import { eventsAfter, getDelivery, listDeliveries, replayDeliveries, replayDelivery, sendTestEvent, MAX_REPLAY } from './webhook-service.ts';

export interface WebhookRouteDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  /** Kicked after a replay or a test event, so they leave at once. */
  dispatcher: Pick<WebhookDispatcher, 'kick'>;
}

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Status = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead')]);

/** An event as delivered: account events carry the account fields; `webhook.test` only id, type and occurred_at. */
export const EventSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  type: Type.String({ description: 'account.verified, account.needs_reverification, account.revoked, account.unbound, account.minor_ended or webhook.test' }),
  account_ref: Type.Optional(Type.String()),
  status: Type.Optional(Type.String({ description: 'verified, needs_reverification, revoked or unverified' })),
  level: Type.Optional(nullable(Type.String({ description: 'null when unverified' }))),
  pseudonym: Type.Optional(nullable(Type.String({ description: 'null when unverified' }))),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'When the account entered this status: the since of GET /v1/accounts/{ref} after this change' })),
  minor: Type.Optional(Type.Boolean({ description: "A minor's account (Decree 147/2024 Art. 27); false after account.minor_ended" })),
  sequence: Type.Optional(Type.Integer({ description: 'Increases per account: drop an event whose sequence is not above the last one you applied' })),
  occurred_at: Type.String({ format: 'date-time' }),
}, { additionalProperties: true, $id: 'WebhookEvent' });

const DeliverySchema = Type.Object({
  event_id: Type.String({ format: 'uuid', description: 'Also the webhook-id header of every attempt' }),
  type: Type.String(),
  status: Status,
  attempts: Type.Integer(),
  next_attempt_at: nullable(Type.String({ format: 'date-time' })),
  last_attempt_at: nullable(Type.String({ format: 'date-time' })),
  last_status_code: nullable(Type.Integer()),
  last_error: nullable(Type.String()),
  delivered_at: nullable(Type.String({ format: 'date-time' })),
  created_at: Type.String({ format: 'date-time' }),
});

const AttemptSchema = Type.Object({
  attempt: Type.Integer(),
  status_code: nullable(Type.Integer()),
  error: nullable(Type.String()),
  duration_ms: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
});

const EventIdParams = Type.Object({ event_id: Type.String({ maxLength: 64 }) });
const security = [{ apiKey: [] }];
const tags = ['webhooks'];
// Every route: 401 without a valid key, 403 for a disabled provider (PROVIDER_DISABLED).

export async function webhookRoutes(app: FastifyInstance, deps: WebhookRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addHook('onRequest', providerGuard(deps.pool));

  r.get('/v1/webhooks/deliveries', {
    schema: {
      tags, security, summary: 'The delivery log: your deliveries, newest first; `status=dead` is the dead-letter list',
      querystring: Type.Object({
        status: Type.Optional(Status),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
        cursor: Type.Optional(Type.String({ maxLength: 400, description: 'next_cursor of the previous page' })),
      }),
      response: { 200: Type.Object({ deliveries: Type.Array(DeliverySchema), next_cursor: nullable(Type.String()) }), 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA },
    },
  }, async (req) => listDeliveries(deps.pool, providerOf(req).id, req.query));

  r.get('/v1/webhooks/deliveries/:event_id', {
    schema: {
      tags, security, summary: 'One delivery, its event and every attempt (status code, error, duration)', params: EventIdParams,
      response: {
        200: Type.Object({ ...DeliverySchema.properties, event: EventSchema, attempt_log: Type.Array(AttemptSchema) }),
        // 400: an event_id longer than EventIdParams allows (REQUEST_INVALID).
        400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA,
      },
    },
  }, async (req) => getDelivery(deps.pool, providerOf(req).id, req.params.event_id));

  r.post('/v1/webhooks/deliveries/:event_id/replay', {
    schema: {
      tags, security, summary: 'Re-queue one delivery (a dead one too) with a fresh retry schedule; the webhook-id stays the same', params: EventIdParams,
      response: { 202: Type.Object({ event_id: Type.String(), status: Type.Literal('pending') }), 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA, 409: PROBLEM_SCHEMA },
    },
  }, async (req, reply) => {
    const out = await replayDelivery(deps.pool, providerOf(req).id, req.params.event_id);
    deps.dispatcher.kick();
    return reply.status(202).send(out);
  });

  r.post('/v1/webhooks/replay', {
    schema: {
      tags, security,
      summary: `Re-queue the deliveries of the events in [since, until), or every dead one (status "dead"), or both; at most ${MAX_REPLAY} per call`,
      body: Type.Object({
        since: Type.Optional(Type.String({ format: 'date-time' })),
        until: Type.Optional(Type.String({ format: 'date-time' })),
        status: Type.Optional(Type.Literal('dead')),
      }, { additionalProperties: false }),
      response: { 202: Type.Object({ requeued: Type.Integer() }), 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA, 409: PROBLEM_SCHEMA, 422: PROBLEM_SCHEMA },
    },
  }, async (req, reply) => {
    const out = await replayDeliveries(deps.pool, providerOf(req).id, req.body);
    if (out.requeued > 0) deps.dispatcher.kick();
    return reply.status(202).send(out);
  });

  r.post('/v1/webhooks/test', {
    schema: {
      tags, security, summary: 'Send a webhook.test event (no account data) to your webhook URL, through the same delivery path as account events',
      response: { 202: Type.Object({ event_id: Type.String(), type: Type.String(), occurred_at: Type.String() }), 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA, 409: PROBLEM_SCHEMA, 429: PROBLEM_RETRY_SCHEMA },
    },
  }, async (req, reply) => {
    const out = await sendTestEvent(deps.pool, providerOf(req).id);
    deps.dispatcher.kick();
    return reply.status(202).send(out);
  });

  r.get('/v1/events', {
    schema: {
      tags, security,
      summary: 'Your events after a cursor, oldest first (polling, or recovery after an outage); keep next_cursor and pass it as `after`',
      querystring: Type.Object({
        after: Type.Optional(Type.String({ maxLength: 400 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
      }),
      response: { 200: Type.Object({ events: Type.Array(EventSchema), next_cursor: Type.String() }), 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA },
    },
  }, async (req) => eventsAfter(deps.pool, providerOf(req).id, req.query));
}
