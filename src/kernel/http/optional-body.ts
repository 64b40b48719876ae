/**
 * Routes whose JSON body is optional (a credential rotation with the default overlap, a resend).
 * Fastify validates an absent body against the body schema and refuses it ("body: must be
 * object"), and @fastify/swagger marks every request body required. `absentBodyIsEmpty` makes an
 * absent body mean `{}` before validation, so the schema still checks every body that is sent;
 * `optionalBodyInDocument` and `markOptionalBodies` make the OpenAPI document say the body may
 * be left out.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { SwaggerTransform, SwaggerTransformObject } from '@fastify/swagger';
import { addCommonProblems, addOperationIds } from './openapi-document.ts';

/** The marker a route's OpenAPI body schema carries until `markOptionalBodies` takes it off. */
const OPTIONAL_BODY = 'x-idbind-optional-body';

/** preValidation hook: no body (no Content-Type, nothing sent, or JSON `null`) is the empty object. */
export function absentBodyIsEmpty(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  if (request.body === undefined || request.body === null) request.body = {};
  done();
}

/** A route's `config.swaggerTransform`: its body, as documented, is optional. */
export function optionalBodyInDocument(body: object): SwaggerTransform {
  return ({ schema, url }) => ({ schema: { ...schema, body: { ...body, [OPTIONAL_BODY]: true } }, url });
}

interface OpenApiOperation {
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Record<string, unknown> }> };
}

/**
 * The swagger plugin's `transformObject`: a marked request body is not required, and every
 * operation gets its `operationId` and the problems any route answers (openapi-document.ts).
 */
export const markOptionalBodies: SwaggerTransformObject = (document) => {
  if (!('openapiObject' in document)) return document.swaggerObject;
  const { openapiObject } = document;
  const paths = (openapiObject.paths ?? {}) as Record<string, Record<string, OpenApiOperation>>;
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      const body = operation.requestBody;
      const marked = Object.values(body?.content ?? {}).filter((media) => media.schema?.[OPTIONAL_BODY] === true);
      if (marked.length === 0) continue;
      for (const media of marked) delete media.schema![OPTIONAL_BODY];
      body!.required = false;
    }
  }
  addOperationIds(openapiObject as Parameters<typeof addOperationIds>[0]);
  addCommonProblems(openapiObject as Parameters<typeof addCommonProblems>[0]);
  return openapiObject;
};
