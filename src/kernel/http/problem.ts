/**
 * RFC 9457 problem details for every error the HTTP API answers (DESIGN.md "HTTP"). The `type` is
 * a stable URI under the hub's documentation, `code` the stable catalogue code. Unexpected errors
 * answer INTERNAL with no detail: an exception's message could carry data it should not.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { HTTP_ERRORS } from './http-errors.ts';
import { ReplayedRefusal } from './idempotency.ts';

export const PROBLEM_TYPE_BASE = 'https://idbind.example/docs/errors#';

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export function problemOf(code: string, status: number, title: string, detail?: string, extensions: Record<string, unknown> = {}): ProblemDocument {
  return { type: PROBLEM_TYPE_BASE + code.toLowerCase(), title, status, code, ...(detail ? { detail } : {}), ...extensions };
}

export function sendProblem(reply: FastifyReply, problem: ProblemDocument): FastifyReply {
  return reply.status(problem.status).type('application/problem+json').send(problem);
}

export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof AppError) {
    // A refusal stored under an Idempotency-Key, answered again (idempotency.ts ReplayedRefusal).
    if (error instanceof ReplayedRefusal) reply.header('Idempotent-Replayed', 'true');
    // RFC 9110 10.2.3: rate limits and budgets say when to come back.
    const retry = error.extensions.retry_after;
    if (typeof retry === 'number' && (error.status === 429 || error.status === 503)) reply.header('Retry-After', String(retry));
    return sendProblem(reply, problemOf(error.code, error.status, error.title, error.detail, { ...error.extensions }));
  }
  const fe = error as FastifyError;
  if (fe.validation) {
    // Which field failed and why, never the value sent.
    const first = fe.validation[0];
    const where = first?.instancePath ? `${fe.validationContext ?? 'body'}${first.instancePath.replace(/\//g, '.')}` : (fe.validationContext ?? 'request');
    return sendProblem(reply, problemOf('REQUEST_INVALID', 400, HTTP_ERRORS.REQUEST_INVALID.title, `${where}: ${choiceMessage(fe.validation, first?.instancePath) ?? first?.message ?? 'invalid'}`));
  }
  if (fe.statusCode === 413) return sendProblem(reply, problemOf('PAYLOAD_TOO_LARGE', 413, HTTP_ERRORS.PAYLOAD_TOO_LARGE.title));
  if (fe.statusCode === 415) return sendProblem(reply, problemOf('UNSUPPORTED_MEDIA_TYPE', 415, HTTP_ERRORS.UNSUPPORTED_MEDIA_TYPE.title));
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return sendProblem(reply, problemOf('REQUEST_INVALID', 400, HTTP_ERRORS.REQUEST_INVALID.title, unreadableRequestDetail(fe.code)));
  }
  request.log.error({ err: { name: error.name, code: fe.code } }, 'unhandled error');
  return sendProblem(reply, problemOf('INTERNAL', 500, HTTP_ERRORS.INTERNAL.title));
}

type ValidationIssue = NonNullable<FastifyError['validation']>[number];

/**
 * A member that takes one of several forms (a union: TypeBox's anyOf) fails every branch, and its
 * first branch's complaint ("must be equal to constant") named neither the choices nor the other
 * forms. When every branch at that member is a constant or a format, say them all: they come from
 * the schema, never from the value sent.
 */
function choiceMessage(issues: readonly ValidationIssue[], path: string | undefined): string | undefined {
  const here = issues.filter((i) => i.instancePath === path);
  if (!here.some((i) => i.keyword === 'anyOf')) return undefined;
  const branches = here.filter((i) => i.keyword !== 'anyOf');
  if (branches.length > 0 && branches.every((i) => i.keyword === 'const')) {
    return `must be one of ${branches.map((i) => `'${String((i.params as { allowedValue?: unknown }).allowedValue)}'`).join(', ')}`;
  }
  if (branches.length > 0 && branches.every((i) => i.keyword === 'format')) {
    return `must match format ${branches.map((i) => `"${String((i.params as { format?: unknown }).format)}"`).join(' or ')}`;
  }
  return undefined;
}

/**
 * What the web framework's refusal of a request it could not read means, in words: its own error
 * names (FST_ERR_CTP_...) told a platform's developer nothing. Never the body itself, which may
 * hold personal data (invariant 2).
 */
const UNREADABLE_REQUEST: Readonly<Record<string, string>> = {
  // The framework's JSON parser gives one error for both (secure-json-parse's prototype poisoning
  // guard, onProtoPoisoning 'error').
  FST_ERR_CTP_INVALID_JSON_BODY: 'body: not valid JSON (RFC 8259) although Content-Type says JSON, or a member named __proto__ or constructor, which is refused',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'body: empty, although Content-Type says JSON (send {} or no Content-Type)',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
  FST_ERR_CTP_INVALID_TYPE: 'Content-Type: not a media type',
  FST_ERR_CTP_EMPTY_TYPE: 'Content-Type: empty',
};

function unreadableRequestDetail(code: string | undefined): string {
  return (code && UNREADABLE_REQUEST[code]) ?? 'the request could not be read';
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // Not the path asked for: a client may have put a personal value in it (a number in place of an
  // account ref), and a problem document must not repeat one (DESIGN.md invariant 2).
  return sendProblem(reply, problemOf('NOT_FOUND', 404, HTTP_ERRORS.NOT_FOUND.title, `no ${request.method} route at this path`));
}

/** Schema of a problem document's body. */
const PROBLEM_BODY = {
  type: 'object',
  properties: {
    type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, code: { type: 'string' }, detail: { type: 'string' },
  },
  required: ['type', 'title', 'status', 'code'],
  // RFC 9457 3.2 extension members (attempts_remaining, limit, retry_after, ...) pass through.
  additionalProperties: true,
} as const;

/**
 * An error response, for a route's `schema.response`: keyed by media type, so that the OpenAPI
 * document says application/problem+json (RFC 9457 section 3), the type `sendProblem` answers
 * with, and Fastify serializes a problem with this schema (it picks the schema of the reply's
 * media type). Documented as application/json, a generated client did not take the errors for
 * the documented problem type.
 */
export const PROBLEM_SCHEMA = {
  description: 'RFC 9457 problem details; `code` is from the catalogue in docs/errors.md',
  content: { 'application/problem+json': { schema: PROBLEM_BODY } },
} as const;

/**
 * The same for 429 and 503, which say when to come back: errorHandler sends Retry-After
 * (RFC 9110 section 10.2.3, delay-seconds) from the error's `retry_after`.
 */
export const PROBLEM_RETRY_SCHEMA = {
  ...PROBLEM_SCHEMA,
  headers: { 'Retry-After': { type: 'integer', minimum: 1, description: 'Seconds to wait before trying again (also `retry_after` in the body)' } },
} as const;
