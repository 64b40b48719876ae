/**
 * The regulator's admin API for the registries (issue 2): registry statistics, reconciliation
 * runs, their results per carrier and category, and the carriers' action lists. Thin: schemas and
 * handlers; the rules live in the services.
 */
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import { csvResponse, withLocation } from '../kernel/http/responses.ts';
import { registryStats } from './registry-stats.ts';
import { checkActionList, getRun, listRuns, openActionList, pruneReconciliationResults, startReconciliation } from './reconciliation/reconciliation-service.ts';
import { CATEGORIES } from './reconciliation/categories.ts';
import { RECONCILIATION_STEPS, type ReconciliationStep } from './reconciliation/reconciliation-repository.ts';

export interface RegistryRouteDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  adminGuard: (request: import('fastify').FastifyRequest) => Promise<void>;
  /** Background work the server waits for on shutdown. */
  track: (work: Promise<unknown>) => void;
  /** `IDBIND_RECONCILIATION_KEEP_RUNS`: retention applied after each run started here, if set. */
  keepRuns?: number | undefined;
}

const Counts = Type.Object(Object.fromEntries(CATEGORIES.map((c) => [c, Type.Integer({ minimum: 0 })])) as Record<(typeof CATEGORIES)[number], ReturnType<typeof Type.Integer>>);
const Comparison = Type.Object(Object.fromEntries(CATEGORIES.map((c) => [c, Type.Object({ new: Type.Integer(), resolved: Type.Integer() })])));

export const RunSchema = Type.Object({
  run_id: Type.String({ format: 'uuid' }),
  status: Type.Union([Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed')]),
  started_at: Type.String({ format: 'date-time' }),
  finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  subscriptions: Type.Union([Type.Integer(), Type.Null()]),
  categories: Type.Union([Counts, Type.Null()]),
  by_carrier: Type.Union([Type.Record(Type.String(), Counts), Type.Null()]),
  compared_to_previous: Type.Union([Comparison, Type.Null()]),
  previous_run_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  step: Type.Union([
    Type.Object({
      code: Type.Unsafe<ReconciliationStep>(Type.String({ enum: [...RECONCILIATION_STEPS] })),
      number: Type.Integer({ minimum: 1 }),
      of: Type.Integer({ minimum: 1 }),
    }),
    Type.Null(),
  ], { description: 'The step a running run is in ("step number of of"), or the step a failed run stopped in; null once completed.' }),
  results_pruned_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: "When retention deleted the run's per-subscription results (its counts stay; its action lists answer 410), or null.",
  }),
}, { $id: 'ReconciliationRun' });

const StatsSchema = Type.Object({
  people: Type.Object({ total: Type.Integer(), alive: Type.Integer(), deceased: Type.Integer() }),
  subscriptions: Type.Object({ total: Type.Integer(), live: Type.Integer(), terminated: Type.Integer() }),
  carriers: Type.Array(Type.Object({ slug: Type.String(), subscriptions: Type.Integer(), live: Type.Integer() })),
});

const security = [{ adminToken: [] }];
const errors = { 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA, 409: PROBLEM_SCHEMA };

export async function registryRoutes(app: FastifyInstance, deps: RegistryRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addHook('onRequest', deps.adminGuard);

  r.get('/v1/admin/registry/stats', {
    schema: { tags: ['registry'], summary: 'Registry sizes: people, subscriptions, per carrier', security, response: { 200: StatsSchema, 401: PROBLEM_SCHEMA } },
  }, async () => registryStats(deps.pool));

  r.post('/v1/admin/reconciliations', {
    schema: {
      tags: ['reconciliation'], summary: 'Start a junk-SIM reconciliation run (answers at once; poll the run)', security,
      response: { 202: withLocation(Type.Object({ run_id: Type.String(), status: Type.Literal('running') }), 'Started; Location is the run, to poll'), ...errors },
    },
  }, async (_req, reply) => {
    const handle = await startReconciliation(deps.pool, await deps.ring(), 'admin-api');
    deps.track(handle.done);
    const keepRuns = deps.keepRuns;
    if (keepRuns !== undefined) {
      // Retention once the run has completed and released its lock. A failure leaves the rows for
      // the next run's retention (or `idbind reconcile prune`); the run itself has completed.
      deps.track(handle.done.then(
        () => pruneReconciliationResults(deps.pool, { keepRuns }),
        () => undefined,
      ).catch((e: unknown) => app.log.warn({ err: { name: (e as Error).name } }, 'reconciliation retention did not run; the next run retries')));
    }
    reply.header('Location', `/v1/admin/reconciliations/${handle.runId}`);
    return reply.status(202).send({ run_id: handle.runId, status: 'running' as const });
  });

  r.get('/v1/admin/reconciliations', {
    schema: {
      tags: ['reconciliation'], summary: 'Reconciliation runs, newest first', security,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) }),
      response: { 200: Type.Object({ runs: Type.Array(RunSchema) }), 401: PROBLEM_SCHEMA },
    },
  }, async (req) => ({ runs: await listRuns(deps.pool, req.query.limit ?? 50) }));

  r.get('/v1/admin/reconciliations/:run_id', {
    schema: {
      tags: ['reconciliation'], summary: 'One run: counts per category and carrier, change against the previous run', security,
      params: Type.Object({ run_id: Type.String({ maxLength: 64 }) }),
      response: { 200: RunSchema, ...errors },
    },
  }, async (req) => getRun(deps.pool, req.params.run_id));

  r.get('/v1/admin/reconciliations/:run_id/action-lists/:carrier', {
    schema: {
      tags: ['reconciliation'], summary: "A carrier's action list of a completed run (CSV: msisdn,category)", security,
      params: Type.Object({ run_id: Type.String({ maxLength: 64 }), carrier: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$' }) }),
      response: { 200: csvResponse('The action list: msisdn,category'), ...errors, 410: PROBLEM_SCHEMA },
    },
  }, async (req, reply) => {
    const attachment = `attachment; filename="${req.params.carrier}-${req.params.run_id}.csv"`;
    // HEAD (Fastify answers it with this GET's handler) runs the checks and opens no number, so
    // it records no access.
    if (req.method === 'HEAD') {
      await checkActionList(deps.pool, req.params.run_id, req.params.carrier);
      // An empty stream, as the GET's: no Content-Length claiming the list is empty.
      return reply.header('Content-Disposition', attachment).type('text/csv; charset=utf-8').send(Readable.from([]) as unknown as string);
    }
    // The checks run before the first byte, so an error is still a problem document (without the
    // attachment header); then the list streams in constant memory.
    const pieces = await openActionList(deps.pool, await deps.ring(), req.params.run_id, req.params.carrier, 'admin-api');
    reply.header('Content-Disposition', attachment);
    // A stream bypasses response serialization; the schema only documents the body.
    return reply.type('text/csv; charset=utf-8').send(Readable.from(pieces) as unknown as string);
  });
}
