/**
 * An `operationId` for every operation of the OpenAPI document (OpenAPI 3.1 section 4.8.10: "unique
 * among all operations"): clients generated from `/openapi.json` name their methods after it, and
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
