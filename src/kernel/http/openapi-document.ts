/**
 * What every operation of the OpenAPI document says whatever its route declares, added once the
 * document is built (optional-body.ts markOptionalBodies, the swagger plugin's transformObject).
 *
 * An `operationId` for every operation (OpenAPI 3.1 section 4.8.10: "unique among all operations"): clients generated from `/openapi.json` name their methods after it, and
 * without one each generator invents names of its own, which change between generators and
 * versions. Derived from the method and the path, so it stays as stable as the path itself:
 * `POST /v1/verifications/{id}/confirm` is `postVerificationsByIdConfirm`. A route that sets its
 * own `operationId` in its schema keeps it.
 */

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

function capitalised(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** `post` + `/v1/verifications/{id}/confirm` → `postVerificationsByIdConfirm`. */
export function operationIdOf(method: string, path: string): string {
  const words = path.split('/').filter((s) => s !== '' && s !== 'v1').map((segment) => {
    const param = /^\{(.+)\}$/.exec(segment);
    const parts = (param ? param[1]! : segment).split(/[^A-Za-z0-9]+/).filter(Boolean);
    return (param ? 'By' : '') + parts.map(capitalised).join('');
  });
  return method.toLowerCase() + words.join('');
}

/** Sets the derived `operationId` on every operation without one; refuses a document where two collide. */
export function addOperationIds(openapiObject: { paths?: Record<string, Record<string, unknown>> }): void {
  const seen = new Map<string, string>();
  for (const [path, operations] of Object.entries(openapiObject.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!HTTP_METHODS.has(method) || typeof operation !== 'object' || operation === null) continue;
      const op = operation as { operationId?: string };
      op.operationId ??= operationIdOf(method, path);
      const other = seen.get(op.operationId);
      if (other) throw new Error(`operationId ${op.operationId} of ${method.toUpperCase()} ${path} is also ${other}'s`);
      seen.set(op.operationId, `${method.toUpperCase()} ${path}`);
    }
  }
}

interface Operation {
  requestBody?: unknown;
  security?: Record<string, unknown>[];
  responses?: Record<string, unknown>;
}

/**
 * The problems the hub answers on any route, documented on every operation that can get them: 413
 * and 415 where a body is taken (the hub-wide body limit and parsers), 401 where a credential is
 * asked, 403 where it is a provider's API key (a disabled provider, PROVIDER_DISABLED). A route
 * lists its own problems; these are the ones it would otherwise forget (the OpenAPI review found
 * them answered and undocumented on most routes). Each takes the operation's own documented problem
 * (its 400 or 401) as its shape, so the media type and schema are the route's.
 */
export function addCommonProblems(openapiObject: { paths?: Record<string, Record<string, unknown>> }): void {
  for (const [method, operation] of Object.values(openapiObject.paths ?? {}).flatMap((ops) => Object.entries(ops))) {
    if (!HTTP_METHODS.has(method) || typeof operation !== 'object' || operation === null) continue;
    const op = operation as Operation;
    const responses = op.responses;
    const problem = responses?.['400'] ?? responses?.['401'];
    if (!responses || !problem) continue;
    const add = (status: string) => {
      responses[status] ??= structuredClone(problem);
    };
    if (op.requestBody) {
      add('413');
      add('415');
    }
    const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
    if (schemes.length > 0) add('401');
    if (schemes.includes('apiKey')) add('403');
  }
}
