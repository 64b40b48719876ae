/**
 * The carriers' API (issue 3 "Carriers use the API too"): upload a subscriber registry or a delta
 * file as a job, follow its progress, read its rejects, and download the latest action list.
 * Every route is for carrier providers (`Authorization: Bearer <api_key>`) and reaches only the
 * provider's own carrier and jobs. Thin: the rules live in carrier-jobs.ts. docs/carriers.md has
 * the walkthrough.
 *
 * Upload bodies are not parsed: a content-type parser of this scope only (the routes of other
 * capabilities keep Fastify's 1 MiB bodyLimit and their own parsers) hands the raw request stream
 * to the job, which writes it to disk in constant memory and enforces its own limit (2 GiB).
 */
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import type { Config } from '../kernel/config/config.ts';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { HttpError } from '../kernel/http/http-errors.ts';
import { PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import { csvResponse, withLocation } from '../kernel/http/responses.ts';
import { providerGuard, providerOf } from '../providers/provider-auth.ts';
import {
  acceptUpload, getJob, listJobs, openJobRejects, recoverCarrierJobs, DEFAULT_UPLOAD_LIMIT_BYTES, type CarrierJobDeps, type JobKind, type UploadFormat,
} from './carrier-jobs.ts';
import { describeLatestActionList, openLatestActionList } from './carrier-action-list.ts';

export interface CarrierRouteDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  config: Pick<Config, 'dataDir' | 'workers'>;
  /** Background work the server waits for on shutdown (the jobs). */
  track: (work: Promise<unknown>) => void;
  /** Largest upload accepted, in bytes (default 2 GiB; tests lower it). */
  uploadLimitBytes?: number;
  /** Longest silence of an upload's client, in ms (default 5 minutes; tests lower it). */
  uploadIdleTimeoutMs?: number;
}

const Summary = Type.Object({ accepted: Type.Integer(), unchanged: Type.Integer(), rejected: Type.Integer() });

export const CarrierJobSchema = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  kind: Type.Union([Type.Literal('subscriptions'), Type.Literal('subscription_events')]),
  format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')]),
  status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed')]),
  bytes_total: Type.Integer({ description: 'Size of the uploaded file' }),
  bytes_done: Type.Integer({ description: 'Bytes of it read by the import so far' }),
  summary: Type.Union([Summary, Type.Null()], { description: 'Rows accepted, unchanged and rejected: so far while running, the totals once completed' }),
  error: Type.Union([Type.Object({ code: Type.String(), title: Type.String() }), Type.Null()], { description: 'Why a failed job failed (a code of docs/errors.md)' }),
  created_at: Type.String({ format: 'date-time' }),
  uploaded_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the file had arrived whole and was stored; null while it is still arriving (bytes_total is then 0)',
  }),
  started_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  location: Type.String(),
  rejects: Type.String({ description: 'URL of the rejects CSV (line,field,code)' }),
}, { $id: 'CarrierJob' });

const Accepted = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  status: Type.Literal('queued'),
  location: Type.String(),
});

const security = [{ apiKey: [] }];
const authErrors = { 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA };
const uploadErrors = { ...authErrors, 400: PROBLEM_SCHEMA, 409: PROBLEM_SCHEMA, 413: PROBLEM_SCHEMA, 415: PROBLEM_SCHEMA };
const JobParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

const FORMATS: Readonly<Record<string, UploadFormat>> = { 'text/csv': 'csv', 'application/x-ndjson': 'ndjson' };

/**
 * The upload's format from its Content-Type, which must be one the route takes (UTF-8 only),
 * without a content coding: the hub decodes none (as the bulk status route), so a gzip body would
 * be stored whole and then refused as a CSV with unknown columns (DESIGN.md invariant 5: refuse
 * with a clear error, here before the body is read).
 */
function formatOf(request: FastifyRequest, accepted: readonly string[]): UploadFormat {
  const [type = '', ...params] = (request.headers['content-type'] ?? '').split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice(8).replace(/"/g, '');
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    throw new HttpError('UNSUPPORTED_MEDIA_TYPE', `send the file uncompressed (no Content-Encoding), as ${accepted.join(' or ')}`);
  }
  if (!accepted.includes(type) || (charset !== undefined && charset !== 'utf-8')) {
    throw new HttpError('UNSUPPORTED_MEDIA_TYPE', `send ${accepted.join(' or ')} (UTF-8)`);
  }
  return FORMATS[type]!;
}

function declaredBytes(request: FastifyRequest): number | undefined {
  const raw = request.headers['content-length'];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

export async function carrierRoutes(app: FastifyInstance, deps: CarrierRouteDeps): Promise<void> {
  // Its own encapsulated scope, whoever mounts it: the pass-through parser must not reach other routes.
  await app.register(async (scope) => {
    const jobs: CarrierJobDeps = {
      ...deps,
      onJobError: (jobId, err) => scope.log.warn({ job_id: jobId, err }, 'carrier job failed'),
    };
    for (const type of ['text/csv', 'application/x-ndjson']) {
      // A parser the parent has for the type (a JSON-lines API elsewhere) is replaced here only.
      if (scope.hasContentTypeParser(type)) scope.removeContentTypeParser(type);
      scope.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
    }
    scope.addHook('onRequest', providerGuard(deps.pool, ['carrier']));
    // Jobs a stopped hub left open are resumed (or failed, visibly) once the server is ready.
    scope.addHook('onReady', async () => {
      deps.track(recoverCarrierJobs(jobs).catch((e: unknown) => scope.log.warn({ err: { name: (e as Error).name } }, 'carrier job recovery failed')));
    });
    const r = scope.withTypeProvider<TypeBoxTypeProvider>();

    const upload = (kind: JobKind, accepted: readonly string[]) => async (request: FastifyRequest, reply: FastifyReply) => {
      const provider = providerOf(request);
      const format = formatOf(request, accepted);
      if (!(request.body instanceof Readable)) throw new HttpError('UNSUPPORTED_MEDIA_TYPE', `send ${accepted.join(' or ')}`);
      try {
        const job = await acceptUpload(jobs, provider, { kind, format, body: request.body, declaredBytes: declaredBytes(request) });
        reply.header('Location', job.location);
        return reply.status(202).send({ job_id: job.job_id, status: 'queued' as const, location: job.location });
      } catch (e) {
        // The rest of a refused body is not read: close the connection after the answer.
        reply.header('Connection', 'close');
        throw e;
      }
    };
    // The body is the raw stream (the parser above); its schema only documents it in OpenAPI.
    const acceptAnyBody = () => () => true;
    // The server's 1 MiB bodyLimit does not bind a pass-through parser; raised here for the
    // record, the upload's own limit is enforced while it streams (carrier-jobs.ts receiveUpload).
    const bodyLimit = deps.uploadLimitBytes ?? DEFAULT_UPLOAD_LIMIT_BYTES;

    r.post('/v1/carrier/registry', {
      onRequest: async (request) => void formatOf(request, ['text/csv', 'application/x-ndjson']),
      validatorCompiler: acceptAnyBody,
      bodyLimit,
      schema: {
        tags: ['carriers'], security,
        summary: "Upload the carrier's full subscriber registry (CSV or NDJSON, docs/formats.md); processed as a job",
        description: 'Content-Type `text/csv` or `application/x-ndjson` (UTF-8), at most 2 GiB. Answers 202 once the file is stored and its header checked; poll the job.',
        consumes: ['text/csv', 'application/x-ndjson'],
        body: Type.String({ format: 'binary' }),
        response: { 202: withLocation(Accepted, 'Stored; Location is the job, to poll'), ...uploadErrors },
      },
    }, upload('subscriptions', ['text/csv', 'application/x-ndjson']));

    r.post('/v1/carrier/deltas', {
      onRequest: async (request) => void formatOf(request, ['application/x-ndjson']),
      validatorCompiler: acceptAnyBody,
      bodyLimit,
      schema: {
        tags: ['carriers'], security,
        summary: "Upload a delta file of the carrier's subscription events (NDJSON, docs/formats.md); processed as a job",
        description: 'Content-Type `application/x-ndjson` (UTF-8), at most 2 GiB. Answers 202 once the file is stored; poll the job.',
        consumes: ['application/x-ndjson'],
        body: Type.String({ format: 'binary' }),
        response: { 202: withLocation(Accepted, 'Stored; Location is the job, to poll'), ...uploadErrors },
      },
    }, upload('subscription_events', ['application/x-ndjson']));

    r.get('/v1/carrier/jobs', {
      schema: {
        tags: ['carriers'], security, summary: "The carrier's jobs, newest first",
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) }),
        response: { 200: Type.Object({ jobs: Type.Array(CarrierJobSchema) }), ...authErrors, 400: PROBLEM_SCHEMA },
      },
    }, async (request) => ({ jobs: await listJobs(deps.pool, providerOf(request), request.query.limit ?? 50) }));

    r.get('/v1/carrier/jobs/:id', {
      schema: {
        tags: ['carriers'], security, summary: 'One job: status, progress (bytes_done of bytes_total), summary, error code',
        params: JobParams, response: { 200: CarrierJobSchema, ...authErrors, 404: PROBLEM_SCHEMA },
      },
    }, async (request) => getJob(deps.pool, providerOf(request), request.params.id));

    r.get('/v1/carrier/jobs/:id/rejects', {
      schema: {
        tags: ['carriers'], security, summary: "A job's rejected rows (CSV: line,field,code; never a value)",
        params: JobParams, response: { 200: csvResponse('The rejected rows: line,field,code'), ...authErrors, 404: PROBLEM_SCHEMA },
      },
    }, async (request, reply) => {
      const pieces = await openJobRejects(deps.pool, providerOf(request), request.params.id);
      reply.header('Content-Disposition', `attachment; filename="job-${request.params.id}.rejects.csv"`);
      // A stream bypasses response serialization; the schema only documents the body.
      return reply.type('text/csv; charset=utf-8').send(Readable.from(pieces) as unknown as string);
    });

    r.get('/v1/carrier/action-list', {
      schema: {
        tags: ['carriers'], security,
        summary: "The carrier's action list of the latest completed reconciliation run (CSV: msisdn,category); the run in Reconciliation-Run-Id",
        response: {
          200: csvResponse('The action list: msisdn,category', { 'Reconciliation-Run-Id': { type: 'string', description: 'The run the list is of' } }),
          ...authErrors, 404: PROBLEM_SCHEMA,
        },
      },
    }, async (request, reply) => {
      // HEAD (Fastify answers it with this GET's handler) runs the checks and opens no number, so
      // it records no access.
      if (request.method === 'HEAD') {
        const head = await describeLatestActionList(deps.pool, providerOf(request));
        reply.header('Reconciliation-Run-Id', head.runId);
        reply.header('Content-Disposition', `attachment; filename="${head.carrier}-${head.runId}.csv"`);
        // An empty stream, as the GET's: no Content-Length claiming the list is empty.
        return reply.type('text/csv; charset=utf-8').send(Readable.from([]) as unknown as string);
      }
      // The checks run before the first byte, so an error is still a problem document.
      const list = await openLatestActionList(deps.pool, await deps.ring(), providerOf(request));
      reply.header('Reconciliation-Run-Id', list.runId);
      reply.header('Content-Disposition', `attachment; filename="${list.carrier}-${list.runId}.csv"`);
      return reply.type('text/csv; charset=utf-8').send(Readable.from(list.pieces) as unknown as string);
    });
  });
}
