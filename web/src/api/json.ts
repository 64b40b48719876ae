/**
 * One JSON request to the hub, failures read as the SDK's {@link IdbindError}: the hub's RFC 9457
 * problem document (stable `code`, `attempts_remaining`, `retry_after`), or `NETWORK_ERROR` with
 * status 0 when no answer came. For the calls the SDK does not make: the hosted verification
 * pages (cookie, no key) and the console's OpenID client settings.
 */
import { IdbindError } from './sdk.ts';

export interface JsonRequest {
  method?: 'GET' | 'POST' | 'PUT';
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

export async function requestJson<T>(path: string, { method = 'GET', body, headers = {} }: JsonRequest = {}): Promise<T> {
  const init: RequestInit = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (cause) {
    throw new IdbindError({ code: 'NETWORK_ERROR', status: 0, title: 'The hub could not be reached', detail: `${method} ${path}`, cause });
  }
  const type = response.headers.get('content-type') ?? '';
  const json: unknown = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    const error = IdbindError.fromProblem(response.status, json);
    // RFC 9110 10.2.3: a Retry-After header without the extension member still says when.
    const header = Number(response.headers.get('retry-after'));
    if (error.retry_after === undefined && Number.isFinite(header) && header > 0) {
      throw new IdbindError({ ...error, extensions: { ...error.extensions, retry_after: header } });
    }
    throw error;
  }
  if (json === null || typeof json !== 'object') {
    throw new IdbindError({ code: 'UNEXPECTED_RESPONSE', status: response.status, title: 'The answer is not JSON' });
  }
  return json as T;
}
