/**
 * Errors of the hub as one class. The hub answers failures as RFC 9457 problem documents with a
 * stable upper-snake-case `code` (its catalogue is docs/errors.md in the idbind repository);
 * branch on `code`, never on `title` or `detail`, which are for people and may change.
 *
 * @see RFC 9457 section 3.1 (members) and 3.2 (extension members).
 */

/**
 * The codes the hub answers the provider API with, plus the SDK's own (`NETWORK_ERROR`,
 * `TIMEOUT`, `UNEXPECTED_RESPONSE`, status 0 or the HTTP status). Any other string may come from
 * a newer hub, hence the open end of the union.
 */
export type IdbindErrorCode =
  | 'REQUEST_INVALID'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INTERNAL'
  | 'API_KEY_INVALID'
  | 'API_KEY_RETIRING'
  | 'PROVIDER_DISABLED'
  | 'PROVIDER_KIND_FORBIDDEN'
  | 'WEBHOOK_URL_REFUSED'
  | 'IDEMPOTENCY_KEY_REQUIRED'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_IN_USE'
  | 'PHONE_INVALID'
  | 'CODE_MALFORMED'
  | 'GUARDIAN_REQUIRED'
  | 'VERIFICATION_NOT_FOUND'
  | 'TOO_MANY_ATTEMPTS'
  | 'VERIFICATION_COMPLETED'
  | 'CODE_EXPIRED'
  | 'CODE_INVALID'
  | 'NUMBER_NOT_ELIGIBLE'
  | 'RATE_LIMITED'
  | 'SMS_BUDGET_EXHAUSTED'
  | 'RESEND_TOO_SOON'
  | 'RESEND_LIMIT_REACHED'
  | 'SMS_GATEWAY_UNAVAILABLE'
  | 'ACCOUNT_NOT_FOUND'
  | 'ACCOUNT_LIMIT_REACHED'
  | 'BULK_TOO_LARGE'
  | 'WEBHOOK_URL_NOT_SET'
  | 'WEBHOOK_DELIVERY_NOT_FOUND'
  | 'WEBHOOK_TEST_RATE_LIMITED'
  | 'WEBHOOK_ENDPOINT_DISABLED'
  | 'WEBHOOK_REPLAY_INVALID'
  | 'WEBHOOK_REPLAY_TOO_LARGE'
  | 'WEBHOOK_CURSOR_INVALID'
  | 'OIDC_CLIENT_INVALID'
  | 'OIDC_CLIENT_NOT_FOUND'
  | 'IMPORT_FORMAT_INVALID'
  | 'IMPORT_ALREADY_RUNNING'
  | 'CARRIER_JOB_NOT_FOUND'
  | 'ACTION_LIST_NOT_AVAILABLE'
  | 'NETWORK_ERROR'
  | 'TIMEOUT'
  | 'UNEXPECTED_RESPONSE'
  | (string & {});

/** An RFC 9457 problem document with the hub's `code`. */
export interface ProblemDocument {
  type?: string;
  title?: string;
  status?: number;
  code?: string;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

const STANDARD_MEMBERS = new Set(['type', 'title', 'status', 'code', 'detail', 'instance']);

export interface IdbindErrorInit {
  code: IdbindErrorCode;
  status: number;
  title: string;
  detail?: string;
  type?: string;
  instance?: string;
  extensions?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * A failed call. `status` is the HTTP status, or 0 when no answer came (`NETWORK_ERROR`,
 * `TIMEOUT`). Extension members of the problem are in `extensions`, and the ones the hub uses
 * are also typed properties: `attempts_remaining` (CODE_INVALID), `retry_after` in seconds
 * (RATE_LIMITED, SMS_BUDGET_EXHAUSTED, RESEND_TOO_SOON, TOO_MANY_ATTEMPTS per number) and
 * `limit` (which rate limit, for RATE_LIMITED).
 */
export class IdbindError extends Error {
  readonly code: IdbindErrorCode;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly type: string | undefined;
  readonly instance: string | undefined;
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly attempts_remaining: number | undefined;
  readonly retry_after: number | undefined;
  readonly limit: string | undefined;

  constructor(init: IdbindErrorInit) {
    super(init.detail ? `${init.code}: ${init.title} (${init.detail})` : `${init.code}: ${init.title}`, { cause: init.cause });
    this.name = 'IdbindError';
    this.code = init.code;
    this.status = init.status;
    this.title = init.title;
    this.detail = init.detail;
    this.type = init.type;
    this.instance = init.instance;
    this.extensions = Object.freeze({ ...(init.extensions ?? {}) });
    const number = (key: string) => (typeof this.extensions[key] === 'number' ? (this.extensions[key] as number) : undefined);
    this.attempts_remaining = number('attempts_remaining');
    this.retry_after = number('retry_after');
    this.limit = typeof this.extensions.limit === 'string' ? this.extensions.limit : undefined;
  }

  /** Builds the error from a problem document (or any JSON error body) answered with `status`. */
  static fromProblem(status: number, body: unknown): IdbindError {
    const problem: ProblemDocument = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as ProblemDocument) : {};
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const extensions: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(problem)) if (!STANDARD_MEMBERS.has(key)) extensions[key] = value;
    return new IdbindError({
      code: text(problem.code) ?? 'UNEXPECTED_RESPONSE',
      status,
      title: text(problem.title) ?? `HTTP ${status}`,
      detail: text(problem.detail),
      type: text(problem.type),
      instance: text(problem.instance),
      extensions,
    });
  }

  /** The problem document this error stands for (as the hub sent it, for logs). */
  toJSON(): ProblemDocument {
    return {
      ...this.extensions,
      ...(this.type !== undefined ? { type: this.type } : {}),
      title: this.title,
      status: this.status,
      code: this.code,
      ...(this.detail !== undefined ? { detail: this.detail } : {}),
      ...(this.instance !== undefined ? { instance: this.instance } : {}),
    };
  }
}

/** True when `error` is an {@link IdbindError}, optionally with one of `codes`. */
export function isIdbindError(error: unknown, ...codes: IdbindErrorCode[]): error is IdbindError {
  return error instanceof IdbindError && (codes.length === 0 || codes.includes(error.code));
}
