/**
 * Account status for providers (issue 3 "Status"): one account, many accounts (JSON up to
 * 10,000 refs; beyond that NDJSON in and NDJSON out, streamed in constant memory), and unbinding
 * a closed account. A status read decrypts nothing and records nothing (DESIGN.md invariant 4).
 */
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { errorHandler, PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import { HttpError } from '../kernel/http/http-errors.ts';
import { providerGuard, providerOf } from '../providers/provider-auth.ts';
import type { Provider } from '../providers/provider-service.ts';
import { ACCOUNT_REF_PATTERN, getAccountStatus, getAccountStatuses, isAccountRef, unbindAccount } from './binding-service.ts';
import { BindingError } from './binding-errors.ts';
import type { AccountStatusCache } from './account-status-cache.ts';

export interface BindingRouteDeps {
  pool: pg.Pool;
  onBindingChange?: () => void;
  /** The status cache (account-status-cache.ts); without it every status read queries the database. */
  statusCache?: AccountStatusCache;
}

export const BULK_JSON_MAX = 10_000;

// Bulk status bodies, by media type (issue 3 "Status": up to 10,000 refs as JSON; beyond that NDJSON in and out).
const BulkJsonBody = Type.Object({
  account_refs: Type.Array(Type.String({ pattern: ACCOUNT_REF_PATTERN }), { minItems: 1, maxItems: BULK_JSON_MAX, description: 'More than 10,000 answers 413 BULK_TOO_LARGE: send NDJSON instead' }),
}, { additionalProperties: false });
const BulkNdjsonLine = Type.Object({ account_ref: Type.String({ pattern: ACCOUNT_REF_PATTERN }) }, {
  description: 'One JSON object per line, any number of lines (application/x-ndjson)',
});
const NDJSON_BATCH = 1_000;
const security = [{ apiKey: [] }];

export const AccountStatusSchema = Type.Object({
  account_ref: Type.String(),
  status: Type.Union([Type.Literal('verified'), Type.Literal('needs_reverification'), Type.Literal('revoked'), Type.Literal('unverified')]),
  level: Type.Union([Type.Literal('low'), Type.Literal('substantial'), Type.Literal('high'), Type.Null()]),
  pseudonym: Type.Union([Type.String(), Type.Null()]),
  since: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the account entered this status: verified, when (last) verified; needs_reverification or revoked, when changed; unverified, when unbound, or null if never bound. The same value as in the webhook event of that change.',
  }),
  minor: Type.Boolean({ description: "A minor's account, bound with a guardian's consent (Decree 147/2024 Art. 27): true until the person turns 16, when `account.minor_ended` is sent. False when unverified." }),
}, { $id: 'AccountStatus' });

const BulkJsonAnswer = Type.Object({ accounts: Type.Array(AccountStatusSchema) });
const BulkNdjsonAnswerLine = Type.Union([
  AccountStatusSchema,
  Type.Object({ line: Type.Integer({ minimum: 1 }), code: Type.String(), detail: Type.String() }, { description: 'In place of a bad input line' }),
], { description: 'One JSON object per input line, in order (application/x-ndjson)' });

const RefParams = Type.Object({ account_ref: Type.String({ pattern: ACCOUNT_REF_PATTERN }) });

/** The longest NDJSON line taken; a longer one is answered with an error line, never buffered. */
export const NDJSON_MAX_LINE = 4096;

/**
 * Lines of a byte stream, each at most `max` bytes (longer ones come out as `undefined`, their
 * bytes dropped as they arrive), so memory stays bounded whatever the client sends.
 */
async function* boundedLines(body: AsyncIterable<Buffer | string>, max: number): AsyncGenerator<string | undefined> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  for await (const piece of body) {
    let chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10)) {
      const head = chunk.subarray(0, nl);
      if (!tooLong && size + head.length <= max) parts.push(head);
      yield tooLong || size + head.length > max ? undefined : Buffer.concat(parts).toString('utf8');
      parts = [];
      size = 0;
      tooLong = false;
      chunk = chunk.subarray(nl + 1);
    }
    if (tooLong) continue;
    size += chunk.length;
    if (size > max) {
      tooLong = true;
      parts = [];
    } else if (chunk.length > 0) parts.push(Buffer.from(chunk));
  }
  if (tooLong) yield undefined;
  else if (size > 0) yield Buffer.concat(parts).toString('utf8');
}

/** NDJSON lines `{"account_ref": "..."}` in, one status line per input line out, in order. */
async function* ndjsonStatuses(pool: pg.Pool, provider: Provider, body: NodeJS.ReadableStream, cache: AccountStatusCache | undefined): AsyncGenerator<string> {
  let batch: { line: number; ref?: string }[] = [];
  let lineNo = 0;
  async function* flush(): AsyncGenerator<string> {
    const refs = batch.filter((b) => b.ref !== undefined).map((b) => b.ref!);
    const statuses = refs.length > 0 ? await getAccountStatuses(pool, provider, refs, cache) : [];
    let i = 0;
    let out = '';
    for (const b of batch) {
      out += b.ref === undefined ? JSON.stringify({ line: b.line, code: 'REQUEST_INVALID', detail: 'a JSON object with a valid account_ref' }) + '\n' : JSON.stringify(statuses[i++]) + '\n';
    }
    batch = [];
    yield out;
  }
  for await (const raw of boundedLines(body as AsyncIterable<Buffer>, NDJSON_MAX_LINE)) {
    lineNo++;
    const text = raw?.trim();
    if (text === '') continue;
    let ref: string | undefined;
    try {
      const v = text === undefined ? undefined : (JSON.parse(text) as unknown);
      const candidate = typeof v === 'string' ? v : (v as { account_ref?: unknown } | null | undefined)?.account_ref;
      if (typeof candidate === 'string' && isAccountRef(candidate)) ref = candidate;
    } catch {
      ref = undefined;
    }
    batch.push({ line: lineNo, ref });
    if (batch.length >= NDJSON_BATCH) yield* flush();
  }
  if (batch.length > 0) yield* flush();
}

export async function bindingRoutes(app: FastifyInstance, deps: BindingRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addHook('onRequest', providerGuard(deps.pool, ['platform', 'registrar']));
  // NDJSON bodies are streamed, never buffered (any number of lines, each at most NDJSON_MAX_LINE).
  r.addContentTypeParser('application/x-ndjson', (_req, payload, done) => done(null, payload));

  r.get('/v1/accounts/:account_ref', {
    schema: {
      tags: ['accounts'], summary: "An account's status, level, pseudonym, since when, and whether it is a minor's (unknown accounts are `unverified`)", security, params: RefParams,
      // 403: a carrier or registrar key (PROVIDER_KIND_FORBIDDEN), a disabled provider (PROVIDER_DISABLED).
      response: { 200: AccountStatusSchema, 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA },
    },
  }, async (req) => getAccountStatus(deps.pool, providerOf(req), req.params.account_ref, deps.statusCache));

  r.post('/v1/accounts/status', {
    bodyLimit: 2 * 1024 * 1024,
    schema: {
      tags: ['accounts'],
      summary: 'Statuses of many accounts: JSON up to 10,000 refs, or NDJSON in and out for more',
      description: 'JSON: `{"account_refs": [...]}` answers `{"accounts": [...]}` in the order asked. NDJSON (`Content-Type: application/x-ndjson`, one `{"account_ref": "..."}` per line, any number) answers a stream of one status line per input line, in order; a bad line answers `{"line", "code", "detail"}` in its place.',
      security,
      body: Type.Union([
        BulkJsonBody,
        Type.Unsafe<NodeJS.ReadableStream>({ type: 'string', description: 'application/x-ndjson stream' }),
      ]),
      response: { 200: Type.Union([BulkJsonAnswer, Type.String({ description: 'application/x-ndjson' })]), 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA, 413: PROBLEM_SCHEMA, 415: PROBLEM_SCHEMA },
    },
    // JSON or NDJSON, as sent, and nothing else (invariant 5: bad input gets a precise error):
    // the hub decodes no content coding, so a compressed body would be read as text, every
    // NDJSON line answered REQUEST_INVALID; and text/plain has a parser hub-wide, not a use here.
    preParsing: async (req, _reply, payload) => {
      const encoding = req.headers['content-encoding']?.trim().toLowerCase();
      const type = req.headers['content-type']?.split(';')[0]!.trim().toLowerCase();
      if ((encoding && encoding !== 'identity') || (type !== undefined && type !== 'application/json' && type !== 'application/x-ndjson')) {
        throw new HttpError('UNSUPPORTED_MEDIA_TYPE', 'application/json or application/x-ndjson, without a content coding');
      }
      return payload;
    },
    // The NDJSON stream cannot be JSON-validated: the handler checks JSON bodies itself.
    validatorCompiler: () => () => true,
    // A JSON body over the byte limit holds more refs than JSON takes (10,000 of the longest fit
    // in it): the same answer as too many refs, which says to send NDJSON.
    errorHandler: (error, req, reply) => errorHandler(
      (error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? new BindingError('BULK_TOO_LARGE', `at most ${BULK_JSON_MAX} refs as JSON`) : error, req, reply),
    // The OpenAPI document names each media type with its own schema (the validating schema above
    // can only say "JSON or a string").
    config: {
      swaggerTransform: ({ schema, url }) => ({
        schema: {
          ...schema,
          body: { content: { 'application/json': { schema: BulkJsonBody }, 'application/x-ndjson': { schema: BulkNdjsonLine } } },
          response: {
            ...(schema.response as object),
            200: { description: 'The statuses, in the order asked', content: { 'application/json': { schema: BulkJsonAnswer }, 'application/x-ndjson': { schema: BulkNdjsonAnswerLine } } },
          },
        },
        url,
      }),
    },
  }, async (req, reply) => {
    const provider = providerOf(req);
    const body = req.body as unknown;
    if (body && typeof (body as NodeJS.ReadableStream).pipe === 'function') {
      const stream = Readable.from(ndjsonStatuses(deps.pool, provider, body as NodeJS.ReadableStream, deps.statusCache));
      return reply.type('application/x-ndjson').send(stream as unknown as string);
    }
    const refs = (body as { account_refs?: unknown } | null)?.account_refs;
    if (!Array.isArray(refs) || refs.length === 0) {
      throw new HttpError('REQUEST_INVALID', `body.account_refs: an array of 1 or more account refs (${ACCOUNT_REF_PATTERN})`);
    }
    // Which one, as schema validation says it elsewhere (body.<member>.<index>): among 10,000 refs
    // the platform could not find it otherwise. Never the value: it may be personal data.
    const bad = refs.findIndex((x) => typeof x !== 'string' || !isAccountRef(x));
    if (bad !== -1) throw new HttpError('REQUEST_INVALID', `body.account_refs.${bad}: not an account ref (${ACCOUNT_REF_PATTERN})`);
    // As BulkJsonBody documents (additionalProperties: false): a misspelt or unknown member is
    // refused, not ignored (invariant 5).
    const others = Object.keys(body as object).filter((k) => k !== 'account_refs');
    if (others.length > 0) throw new HttpError('REQUEST_INVALID', 'body: must NOT have additional properties');
    if (refs.length > BULK_JSON_MAX) throw new BindingError('BULK_TOO_LARGE', `${refs.length} refs; at most ${BULK_JSON_MAX} as JSON`);
    return { accounts: await getAccountStatuses(deps.pool, provider, refs as string[], deps.statusCache) };
  });

  r.delete('/v1/accounts/:account_ref', {
    schema: {
      tags: ['accounts'], summary: 'Unbind an account (the platform closed it); emits account.unbound', security, params: RefParams,
      response: { 204: Type.Null(), 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA },
    },
  }, async (req, reply) => {
    const provider = providerOf(req);
    await unbindAccount(deps.pool, provider, req.params.account_ref);
    // Committed: forget it here at once; other hubs hear it from the database (migration 0014).
    deps.statusCache?.invalidate(provider.id, req.params.account_ref);
    deps.onBindingChange?.();
    return reply.status(204).send(null);
  });
}
