/**
 * The web app's HTTP client for the hub. An admin request carries `Authorization: Bearer` when
 * the page holds a token (demo mode); otherwise the browser sends the regulator staff's
 * `idbind_official` session cookie by itself (same origin). A 401 calls `onUnauthorized` (the auth
 * layer then asks to sign in again). Failures
 * become an {@link ApiError} that keeps the RFC 9457 problem's `title`, `detail` and `code`, so the
 * page can show them as they are.
 */
import type { DemoSession, Meta, OutboxMessage, Problem, RegistryStats, Run, RunList, StartedRun } from './types.ts';

/** A failed request: `status` 0 means the hub could not be reached at all. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;

  constructor(status: number, problem: Problem | null, message?: string) {
    super(message ?? problem?.title ?? `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a problem+json (or any JSON error with a title) body; null when there is none. */
async function readProblem(response: Response): Promise<Problem | null> {
  const type = response.headers.get('content-type') ?? '';
  if (!type.includes('json')) return null;
  try {
    const body: unknown = await response.json();
    if (!isRecord(body)) return null;
    const text = (key: string): string | undefined => {
      const v = body[key];
      return typeof v === 'string' ? v : undefined;
    };
    const problem: Problem = { type: text('type'), title: text('title'), detail: text('detail'), code: text('code') };
    if (typeof body.status === 'number') problem.status = body.status;
    // Fastify's default error shape says `error`/`message` instead of title/detail.
    problem.title ??= text('error');
    problem.detail ??= text('message');
    return problem;
  } catch {
    return null;
  }
}

async function send(path: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, { ...init, cache: 'no-store' });
  } catch (cause) {
    throw new ApiError(0, null, cause instanceof Error ? cause.message : String(cause));
  }
  if (!response.ok) throw new ApiError(response.status, await readProblem(response));
  return response;
}

async function getJson<T>(path: string, headers: HeadersInit = {}): Promise<T> {
  const response = await send(path, { headers: { accept: 'application/json', ...headers } });
  return (await response.json()) as T;
}

/** The unauthenticated calls: the mode, and in demo mode the demo session and the SMS outbox. */
export const publicApi = {
  meta: (): Promise<Meta> => getJson<Meta>('/v1/meta'),
  demoSession: (): Promise<DemoSession> => getJson<DemoSession>('/v1/demo/session'),
  /** Messages "sent" to `to` (any accepted form of the number), newest last. Demo mode only. */
  smsOutbox: (to: string): Promise<OutboxMessage[]> => getJson<OutboxMessage[]>(`/v1/dev/sms-outbox?to=${encodeURIComponent(to)}`),
};

/** A downloaded file: its bytes and the name the hub suggested (Content-Disposition). */
export interface Download {
  blob: Blob;
  filename: string | null;
}

export interface AdminApi {
  stats(): Promise<RegistryStats>;
  runs(limit?: number): Promise<RunList>;
  run(runId: string): Promise<Run>;
  startRun(): Promise<StartedRun>;
  actionList(runId: string, carrier: string): Promise<Download>;
}

/** Takes the file name out of a Content-Disposition header (RFC 6266, plain or RFC 8187 form). */
export function filenameFromDisposition(header: string | null): string | null {
  if (!header) return null;
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (extended?.[1]) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/.exec(header);
  const name = plain?.[2] ?? plain?.[1];
  return name ? name.trim() : null;
}

/**
 * The admin API with `token`, or with the staff session cookie when `token` is null.
 * `onUnauthorized` runs on every 401 before the error is thrown, so a refused credential is
 * forgotten wherever the request came from.
 */
export function adminApi(token: string | null, onUnauthorized: (error: ApiError) => void): AdminApi {
  const auth: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  const guard = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) onUnauthorized(error);
      throw error;
    }
  };
  return {
    stats: () => guard(() => getJson<RegistryStats>('/v1/admin/registry/stats', auth)),
    runs: (limit = 50) => guard(() => getJson<RunList>(`/v1/admin/reconciliations?limit=${limit}`, auth)),
    run: (runId) => guard(() => getJson<Run>(`/v1/admin/reconciliations/${encodeURIComponent(runId)}`, auth)),
    startRun: () =>
      guard(async () => {
        const response = await send('/v1/admin/reconciliations', {
          method: 'POST',
          headers: { accept: 'application/json', ...auth },
        });
        return (await response.json()) as StartedRun;
      }),
    actionList: (runId, carrier) =>
      guard(async () => {
        const path = `/v1/admin/reconciliations/${encodeURIComponent(runId)}/action-lists/${encodeURIComponent(carrier)}`;
        const response = await send(path, { headers: { accept: 'text/csv', ...auth } });
        return {
          blob: await response.blob(),
          filename: filenameFromDisposition(response.headers.get('content-disposition')),
        };
      }),
  };
}
