/**
 * The provider API client. One instance per API key; it holds no other state, so one instance
 * can serve a whole process.
 *
 * Retries: a call is repeated after a network error, a timeout or a 5xx only where repeating it
 * cannot do something twice. Reads are repeated as they are. Starting a verification is
 * repeated with the same Idempotency-Key, so the hub answers the repeat with the first answer and
 * sends one SMS. Confirming a code is never repeated (a second try would spend an attempt, or
 * find the code used); after a lost answer it reads the verification instead and returns its
 * result when the first try did bind. Rotations, resends, test events, replays and OpenID
 * client changes are never repeated (a repeated replay could send the event once more; a
 * repeated client creation would answer without its secret).
 */
import { IdbindError, type IdbindErrorCode } from './errors.js';
import { isBulkLineError, ndjsonBody, readNdjson } from './ndjson.js';
import type {
  ActionListDownload, CarrierJob, CarrierJobAccepted, CarrierUploadBody, CarrierUploadFormat,
  AccountStatus, BindResult, BulkStatusLine, EventPage, ListDeliveriesOptions, ListEventsOptions, OidcClient, OidcClientSettings, Provider, ProviderInfo,
  RotatedApiKey, RotatedOidcClientSecret,
  ResendCodeOptions, RotatedWebhookSecret, RotationOptions, StartedVerification, StartVerificationInput, TestEventSent, Verification, VerificationStats,
  WebhookDeliveryDetail, WebhookDeliveryPage, ReplayedWebhookDelivery, WebhookReplayResult, WebhookReplaySelection,
} from './types.js';

/** The most account refs the hub takes in one JSON bulk request; more go as NDJSON. */
export const BULK_JSON_MAX = 10_000;

/** A `fetch` the client can use: the global one, or any with the same signature (tests, proxies). */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

export interface RetryOptions {
  /** Further tries after the first (default 2). 0 turns retries off. Every number here must be finite (a TypeError otherwise). */
  retries?: number | undefined;
  /** Wait before the first retry, doubled each time, with jitter (default 250 ms). */
  minDelayMs?: number | undefined;
  /** Longest wait between tries (default 5,000 ms). A `retry_after` longer than this is not waited for. */
  maxDelayMs?: number | undefined;
}

export interface IdbindClientOptions {
  /** The hub's URL, e.g. `https://idbind.example` (a path prefix is kept). */
  baseUrl: string;
  /** The provider's API key (`idbk_...`), sent as `Authorization: Bearer`. */
  apiKey: string;
  /** Replaces the global fetch (default `globalThis.fetch`). */
  fetch?: FetchFunction | undefined;
  /** Per try: how long to wait for the whole answer (default 30,000 ms). Streams: for the headers. */
  timeoutMs?: number | undefined;
  retry?: RetryOptions | undefined;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface Call {
  method: Method;
  path: string;
  query?: Record<string, string | number | undefined>;
  /** Sent as JSON. */
  json?: unknown;
  headers?: Record<string, string>;
}

/** Failures a repeat may cure: no answer, or the hub's own trouble. */
function transient(error: unknown): boolean {
  return error instanceof IdbindError && (error.status === 0 || error.status >= 500);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function randomUuid(): string {
  // WebCrypto's randomUUID: Node >= 19 and every current browser (secure contexts).
  return globalThis.crypto.randomUUID();
}

/**
 * A numeric option, checked: a NaN (`Number(process.env.UNSET)`) or infinite one would retry
 * forever (`i >= NaN` is never true) or not wait between tries, calling the hub in a tight loop.
 */
function finite(name: string, value: number, min = 0): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new TypeError(`${name}: a finite number${min === 0 ? ', at least 0' : ''}`);
  return value;
}

export class IdbindClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #fetch: FetchFunction;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #minDelayMs: number;
  readonly #maxDelayMs: number;

  constructor(options: IdbindClientOptions) {
    const url = new URL(options.baseUrl); // throws on a malformed URL, here rather than at the first call
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('baseUrl: an http(s) URL');
    if (!options.apiKey) throw new TypeError('apiKey is required');
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    // Bound: a browser's fetch throws "Illegal invocation" when called as a method of another object.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#timeoutMs = finite('timeoutMs', options.timeoutMs ?? 30_000);
    this.#retries = Math.max(0, finite('retry.retries', options.retry?.retries ?? 2, -Infinity));
    this.#minDelayMs = finite('retry.minDelayMs', options.retry?.minDelayMs ?? 250);
    this.#maxDelayMs = finite('retry.maxDelayMs', options.retry?.maxDelayMs ?? 5_000);
  }

  // ---- Verification -----------------------------------------------------------------------

  /**
   * `POST /v1/verifications`: checks the number and sends a 6-digit code by SMS. Every
   * eligibility failure is `NUMBER_NOT_ELIGIBLE`, whatever the reason; a malformed number is
   * `PHONE_INVALID`; limits are `RATE_LIMITED` or `SMS_BUDGET_EXHAUSTED` with `retry_after`.
   * Repeated after a network error or a 5xx with the same Idempotency-Key (see the module comment).
   */
  async startVerification(input: StartVerificationInput): Promise<StartedVerification> {
    const key = input.idempotencyKey ?? randomUuid();
    return this.#withRetry(
      () => this.#json<StartedVerification>({
        method: 'POST', path: '/v1/verifications', headers: { 'idempotency-key': key },
        json: { account_ref: input.accountRef, phone: input.phone, ...(input.clientIp !== undefined ? { client_ip: input.clientIp } : {}) },
      }),
      // The first try may still be running on the hub when its answer was lost: wait for it.
      (e) => transient(e) || e.code === 'IDEMPOTENCY_KEY_IN_USE',
    );
  }

  /** `GET /v1/verifications/{id}`: a verification and, once verified, its result (to recover a lost answer). */
  async getVerification(id: string): Promise<Verification> {
    // The id is checked once, before the first try: a refusal is not a transient failure to retry.
    const path = `/v1/verifications/${idSegment(id, 'VERIFICATION_NOT_FOUND')}`;
    return this.#withRetry(() => this.#json<Verification>({ method: 'GET', path }), transient);
  }

  /**
   * `POST /v1/verifications/{id}/resend`: a new code, at most 3 per verification, 30 s apart
   * (`RESEND_TOO_SOON` with `retry_after`, `RESEND_LIMIT_REACHED`). Wrong-code attempts are not reset.
   */
  async resendCode(id: string, options: ResendCodeOptions = {}): Promise<StartedVerification> {
    return this.#json<StartedVerification>({
      method: 'POST', path: `/v1/verifications/${idSegment(id, 'VERIFICATION_NOT_FOUND')}/resend`,
      ...(options.clientIp !== undefined ? { json: { client_ip: options.clientIp } } : {}),
    });
  }

  /**
   * `POST /v1/verifications/{id}/confirm`: binds the account. A wrong code is `CODE_INVALID` with
   * `attempts_remaining`; the 5th wrong one ends the verification (`TOO_MANY_ATTEMPTS`); a person
   * under 16 is `GUARDIAN_REQUIRED` and is not bound.
   */
  async confirmCode(id: string, code: string): Promise<BindResult> {
    const path = `/v1/verifications/${idSegment(id, 'VERIFICATION_NOT_FOUND')}/confirm`;
    try {
      return await this.#json<BindResult>({ method: 'POST', path, json: { code } });
    } catch (error) {
      if (!transient(error)) throw error;
      // The answer was lost, not necessarily the confirmation: the verification tells which.
      let state: Verification;
      try {
        state = await this.getVerification(id);
      } catch {
        throw error;
      }
      if (state.status === 'verified' && state.result) return state.result;
      throw error;
    }
  }

  // ---- Accounts ---------------------------------------------------------------------------

  /** `GET /v1/accounts/{ref}`: status, level, pseudonym and since when. Unknown accounts are `unverified`. */
  async getAccount(accountRef: string): Promise<AccountStatus> {
    refuseDotSegment(accountRef);
    return this.#withRetry(() => this.#json<AccountStatus>({ method: 'GET', path: `/v1/accounts/${encodeURIComponent(accountRef)}` }), transient);
  }

  /**
   * Statuses of many accounts, in the order asked. Up to {@link BULK_JSON_MAX} refs go as one
   * JSON request; more go through {@link streamAccounts} and are collected here, so prefer
   * `streamAccounts` itself for very large sets (it runs in constant memory). A ref the hub
   * cannot read fails the call with `REQUEST_INVALID`.
   */
  async getAccounts(accountRefs: readonly string[]): Promise<AccountStatus[]> {
    if (accountRefs.length === 0) return [];
    if (accountRefs.length <= BULK_JSON_MAX) {
      const out = await this.#withRetry(
        () => this.#json<{ accounts: AccountStatus[] }>({ method: 'POST', path: '/v1/accounts/status', json: { account_refs: accountRefs } }),
        transient,
      );
      return out.accounts;
    }
    const statuses: AccountStatus[] = [];
    for await (const line of this.streamAccounts(accountRefs)) {
      if (isBulkLineError(line)) {
        throw new IdbindError({ code: line.code, status: 400, title: 'An account ref was refused', detail: `line ${line.line}: ${line.detail}` });
      }
      statuses.push(line);
    }
    return statuses;
  }

  /**
   * Statuses of any number of accounts as an NDJSON stream, in constant memory on both sides:
   * the refs are sent as `application/x-ndjson` while they are read from `accountRefs` (an array,
   * a generator, an async generator over a file...), and each status is yielded as its line
   * arrives, in the order asked. A ref the hub cannot read yields a {@link BulkLineError} in its
   * place (test with `isBulkLineError`). Not retried: the refs may not be readable twice.
   * Stopping the loop early closes the connection.
   */
  async *streamAccounts(accountRefs: Iterable<string> | AsyncIterable<string>): AsyncGenerator<BulkStatusLine, void, undefined> {
    const controller = new AbortController();
    let response: Response;
    try {
      response = await this.#stream(
        { method: 'POST', path: '/v1/accounts/status', headers: { 'content-type': 'application/x-ndjson', accept: 'application/x-ndjson' } },
        ndjsonBody(accountRefs, (ref) => JSON.stringify({ account_ref: ref })),
        controller,
      );
    } catch (error) {
      controller.abort(); // refused (a 401, a 413...): stop sending the refs
      throw error;
    }
    let finished = false;
    try {
      yield* readNdjson<BulkStatusLine>(response);
      finished = true;
    } finally {
      // Left early: stop the upload too, so the rest of the refs are not read and sent for nothing.
      if (!finished) controller.abort();
    }
  }

  /**
   * `DELETE /v1/accounts/{ref}`: unbinds an account the platform closed (emits `account.unbound`).
   * The hub answers an account already unbound as done, so this is repeated after a lost answer;
   * an account it never knew is `ACCOUNT_NOT_FOUND`.
   */
  async unbindAccount(accountRef: string): Promise<void> {
    refuseDotSegment(accountRef);
    await this.#withRetry(() => this.#json<null>({ method: 'DELETE', path: `/v1/accounts/${encodeURIComponent(accountRef)}` }), transient);
  }

  // ---- The provider's own settings --------------------------------------------------------

  /** `GET /v1/provider`: the provider's profile, limits and live API keys (hints only). */
  getProvider(): Promise<ProviderInfo> {
    return this.#withRetry(() => this.#json<ProviderInfo>({ method: 'GET', path: '/v1/provider' }), transient);
  }

  /**
   * `PUT /v1/provider/webhook`: sets the webhook URL, or clears it with null. The hub refuses a
   * URL that resolves to a private, loopback or link-local address (`WEBHOOK_URL_REFUSED`).
   */
  setWebhookUrl(url: string | null): Promise<Provider> {
    return this.#withRetry(() => this.#json<Provider>({ method: 'PUT', path: '/v1/provider/webhook', json: { url } }), transient);
  }

  /** `GET /v1/provider/webhook-secret`: the live signing secrets, newest first (`whsec_...`). */
  async getWebhookSecrets(): Promise<string[]> {
    const out = await this.#withRetry(() => this.#json<{ secrets: string[] }>({ method: 'GET', path: '/v1/provider/webhook-secret' }), transient);
    return out.secrets;
  }

  /**
   * `POST /v1/provider/api-keys`: a new API key, returned this once. The old keys keep working
   * for `overlapSeconds` (hub default one day), time to deploy the new one. This client keeps
   * using its key: make a new client with the new one.
   */
  rotateApiKey(options: RotationOptions = {}): Promise<RotatedApiKey> {
    return this.#json<RotatedApiKey>({ method: 'POST', path: '/v1/provider/api-keys', json: overlapBody(options) });
  }

  /** `POST /v1/provider/webhook-secrets`: a new secret; deliveries are signed with old and new during the overlap. */
  rotateWebhookSecret(options: RotationOptions = {}): Promise<RotatedWebhookSecret> {
    return this.#json<RotatedWebhookSecret>({ method: 'POST', path: '/v1/provider/webhook-secrets', json: overlapBody(options) });
  }

  /** `GET /v1/provider/verification-stats`: started, confirmed and failed by reason, per day (Vietnam time). */
  verificationStats(options: { days?: number | undefined } = {}): Promise<VerificationStats> {
    return this.#withRetry(
      () => this.#json<VerificationStats>({ method: 'GET', path: '/v1/provider/verification-stats', query: { days: options.days } }),
      transient,
    );
  }

  // ---- OpenID client ----------------------------------------------------------------------

  /** `GET /v1/provider/oidc-client`: the platform's OpenID client, without its secret (`OIDC_CLIENT_NOT_FOUND` before the first {@link setOidcClient}). */
  getOidcClient(): Promise<OidcClient> {
    return this.#withRetry(() => this.#json<OidcClient>({ method: 'GET', path: '/v1/provider/oidc-client' }), transient);
  }

  /**
   * `PUT /v1/provider/oidc-client`: changes the settings given; the first call creates the client
   * and its answer carries `client_secret`, this once. A refused setting is `OIDC_CLIENT_INVALID`
   * with a `detail` naming it. Never repeated: a repeat of a creation whose answer was lost would
   * answer without the secret (rotate it then).
   */
  setOidcClient(settings: OidcClientSettings): Promise<OidcClient> {
    const body: Record<string, unknown> = {};
    if (settings.redirectUris !== undefined) body.redirect_uris = settings.redirectUris;
    if (settings.requirePar !== undefined) body.require_par = settings.requirePar;
    if (settings.tokenEndpointAuthMethod !== undefined) body.token_endpoint_auth_method = settings.tokenEndpointAuthMethod;
    if (settings.jwks !== undefined) body.jwks = settings.jwks;
    if (settings.refreshTokens !== undefined) body.refresh_tokens = settings.refreshTokens;
    return this.#json<OidcClient>({ method: 'PUT', path: '/v1/provider/oidc-client', json: body });
  }

  /** `POST /v1/provider/oidc-client/secret`: a new client secret, answered this once; the old one stops at once. Never repeated. */
  rotateOidcClientSecret(): Promise<RotatedOidcClientSecret> {
    return this.#json<RotatedOidcClientSecret>({ method: 'POST', path: '/v1/provider/oidc-client/secret' });
  }

  // ---- Webhooks ---------------------------------------------------------------------------

  /** `POST /v1/webhooks/test`: a `webhook.test` event to your webhook URL (`WEBHOOK_URL_NOT_SET` without one). */
  sendTestEvent(): Promise<TestEventSent> {
    return this.#json<TestEventSent>({ method: 'POST', path: '/v1/webhooks/test' });
  }

  /** `GET /v1/webhooks/deliveries`: the delivery log, newest first; `status: 'dead'` is the dead-letter list. */
  listWebhookDeliveries(options: ListDeliveriesOptions = {}): Promise<WebhookDeliveryPage> {
    return this.#withRetry(
      () => this.#json<WebhookDeliveryPage>({ method: 'GET', path: '/v1/webhooks/deliveries', query: { status: options.status, limit: options.limit, cursor: options.cursor } }),
      transient,
    );
  }

  /**
   * `GET /v1/webhooks/deliveries/{event_id}`: one delivery, the event it carries and its attempt
   * log (each try's status code or error, and duration). `WEBHOOK_DELIVERY_NOT_FOUND` (404) for an
   * id that is not one of your deliveries (another provider's event is "not found" too).
   */
  async getWebhookDelivery(eventId: string): Promise<WebhookDeliveryDetail> {
    const path = `/v1/webhooks/deliveries/${idSegment(eventId, 'WEBHOOK_DELIVERY_NOT_FOUND')}`;
    return this.#withRetry(() => this.#json<WebhookDeliveryDetail>({ method: 'GET', path }), transient);
  }

  /**
   * `GET /v1/events`: your events after a cursor, oldest first, whether or not you have a webhook
   * URL (polling, or catching up after an outage). Pass the page's `next_cursor` as `after` next
   * time; an empty page means there is nothing newer yet. A malformed cursor is
   * `WEBHOOK_CURSOR_INVALID`. As with webhooks, deduplicate on the event `id` and drop an account
   * event whose `sequence` is not above the last one you applied.
   */
  listEvents(options: ListEventsOptions = {}): Promise<EventPage> {
    return this.#withRetry(
      () => this.#json<EventPage>({ method: 'GET', path: '/v1/events', query: { after: options.after, limit: options.limit } }),
      transient,
    );
  }

  /**
   * `POST /v1/webhooks/deliveries/{event_id}/replay`: sends one event again, whatever its state
   * (dead, delivered or pending), at once and with a fresh retry schedule. The `webhook-id` stays
   * the event id, so a receiver that already has it drops the repeat. `WEBHOOK_DELIVERY_NOT_FOUND`
   * for an event that is not yours; `WEBHOOK_URL_NOT_SET` or `WEBHOOK_ENDPOINT_DISABLED` (the
   * endpoint answered 410 Gone: set the URL again first) when there is nowhere to send it.
   * Never repeated.
   */
  async replayWebhookDelivery(eventId: string): Promise<ReplayedWebhookDelivery> {
    return this.#json<ReplayedWebhookDelivery>({ method: 'POST', path: `/v1/webhooks/deliveries/${idSegment(eventId, 'WEBHOOK_DELIVERY_NOT_FOUND')}/replay` });
  }

  /**
   * `POST /v1/webhooks/replay`: re-queues every dead delivery (`{status: 'dead'}`), or the
   * deliveries of every event that occurred in `[since, until)` (delivered or not, `until`
   * optional), or the dead ones in that range; answers how many were re-queued. All or nothing:
   * more than 10,000 is `WEBHOOK_REPLAY_TOO_LARGE` and re-queues none (narrow the range). A
   * selection without `since` or `status` is `WEBHOOK_REPLAY_INVALID`. Never repeated.
   */
  replayWebhookDeliveries(selection: WebhookReplaySelection): Promise<WebhookReplayResult> {
    const time = (t: Date | string | undefined) => (t instanceof Date ? t.toISOString() : t);
    const body = { since: time(selection.since), until: time(selection.until), status: selection.status };
    return this.#json<WebhookReplayResult>({ method: 'POST', path: '/v1/webhooks/replay', json: body });
  }

  // ---- Carriers ---------------------------------------------------------------------------

  /**
   * `POST /v1/carrier/registry`: the carrier's full subscriber registry (CSV or NDJSON), processed
   * as a job; poll it with {@link getCarrierJob}. Refused at once: `IMPORT_FORMAT_INVALID` (a
   * wrong CSV header), `IMPORT_ALREADY_RUNNING` (one job per carrier), `UNSUPPORTED_MEDIA_TYPE`,
   * `PAYLOAD_TOO_LARGE`. The client's timeout is not applied to the upload itself (files run to
   * 2 GiB); pass `timeoutMs` to bound it. Never repeated (a stream cannot be read twice; upload
   * the file again, and its import resumes after the last committed batch).
   */
  uploadRegistry(body: CarrierUploadBody, options: { format: CarrierUploadFormat; timeoutMs?: number | undefined }): Promise<CarrierJobAccepted> {
    return this.#upload('/v1/carrier/registry', body, options.format, options.timeoutMs);
  }

  /** `POST /v1/carrier/deltas`: a delta file of subscription events (NDJSON), processed as a job; as {@link uploadRegistry}. */
  uploadDeltas(body: CarrierUploadBody, options: { timeoutMs?: number | undefined } = {}): Promise<CarrierJobAccepted> {
    return this.#upload('/v1/carrier/deltas', body, 'ndjson', options.timeoutMs);
  }

  /** `GET /v1/carrier/jobs`: the carrier's jobs, newest first (1 to 500, hub default 50). */
  listCarrierJobs(options: { limit?: number | undefined } = {}): Promise<{ jobs: CarrierJob[] }> {
    return this.#withRetry(() => this.#json<{ jobs: CarrierJob[] }>({ method: 'GET', path: '/v1/carrier/jobs', query: { limit: options.limit } }), transient);
  }

  /** `GET /v1/carrier/jobs/{id}`: status, progress (`bytes_done` of `bytes_total`), summary, error; `CARRIER_JOB_NOT_FOUND` (404). */
  async getCarrierJob(jobId: string): Promise<CarrierJob> {
    const path = `/v1/carrier/jobs/${idSegment(jobId, 'CARRIER_JOB_NOT_FOUND')}`;
    return this.#withRetry(() => this.#json<CarrierJob>({ method: 'GET', path }), transient);
  }

  /** `GET /v1/carrier/jobs/{id}/rejects`: the rejected rows as a CSV stream (`line,field,code`; never a value). */
  async getCarrierJobRejects(jobId: string): Promise<ReadableStream<Uint8Array>> {
    const path = `/v1/carrier/jobs/${idSegment(jobId, 'CARRIER_JOB_NOT_FOUND')}/rejects`;
    const response = await this.#withRetry(() => this.#download(path), transient);
    return bodyOf(response);
  }

  /**
   * `GET /v1/carrier/action-list`: the carrier's action list of the latest completed
   * reconciliation run, as a CSV stream (`msisdn,category`), with its run id.
   * `ACTION_LIST_NOT_AVAILABLE` (404) before any run has completed.
   */
  async downloadActionList(): Promise<ActionListDownload> {
    const response = await this.#withRetry(() => this.#download('/v1/carrier/action-list'), transient);
    return { runId: response.headers.get('reconciliation-run-id') ?? '', csv: bodyOf(response) };
  }

  // ---- Plumbing ---------------------------------------------------------------------------

  /** One upload try: the body as it is, its Content-Type from the format, a timer only when asked. */
  #upload(path: string, body: CarrierUploadBody, format: CarrierUploadFormat, timeoutMs: number | undefined): Promise<CarrierJobAccepted> {
    const contentType = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
    const call: Call = { method: 'POST', path, headers: { 'content-type': contentType } };
    return this.#send(call, body as BodyInit, async (response) => (await readJson(response)) as CarrierJobAccepted, true, new AbortController(), timeoutMs ?? 0);
  }

  /** One GET whose body the caller streams (a CSV): the timeout covers the headers only. */
  #download(path: string): Promise<Response> {
    return this.#send({ method: 'GET', path, headers: { accept: 'text/csv, application/problem+json' } }, undefined, async (response) => response, false);
  }


  /** Runs `attempt`, repeating it while `retryable` says so, with capped exponential backoff. */
  async #withRetry<T>(attempt: () => Promise<T>, retryable: (error: IdbindError) => boolean): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof IdbindError) || i >= this.#retries || !retryable(error)) throw error;
        const backoff = Math.min(this.#maxDelayMs, this.#minDelayMs * 2 ** i);
        // Full jitter, so that many clients failing together do not come back together.
        let wait = Math.random() * backoff;
        if (error.retry_after !== undefined) {
          if (error.retry_after * 1000 > this.#maxDelayMs) throw error;
          wait = Math.max(wait, error.retry_after * 1000);
        }
        await sleep(wait);
      }
    }
  }

  /** One try that answers JSON (or nothing, for 204); the timeout covers reading the body too. */
  #json<T>(call: Call): Promise<T> {
    return this.#send(call, call.json === undefined ? undefined : JSON.stringify(call.json), async (response) => {
      if (response.status === 204) return null as T;
      return (await readJson(response)) as T;
    });
  }

  /** One try whose body the caller streams: the timeout covers the headers only. */
  #stream(call: Call, body: BodyInit, controller: AbortController): Promise<Response> {
    return this.#send(call, body, async (response) => response, false, controller);
  }

  /**
   * One request, its answer handed to `read` while the timer runs (unless `timeBody` is false);
   * `controller` aborts it (the timer uses it too).
   * A failure becomes an IdbindError: the hub's problem document, or NETWORK_ERROR / TIMEOUT
   * (status 0).
   */
  async #send<T>(
    call: Call, body: BodyInit | undefined, read: (response: Response) => Promise<T>, timeBody = true, controller = new AbortController(),
    timeoutMs = this.#timeoutMs,
  ): Promise<T> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const search = query.toString();
    const url = `${this.baseUrl}${call.path}${search ? `?${search}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${this.#apiKey}`, ...call.headers };
    if (typeof body === 'string') headers['content-type'] ??= 'application/json';
    const where = `${call.method} ${call.path}`;
    let timedOut = false;
    // 0: no timer (an upload of a large file runs as long as it takes, unless the caller bounds it).
    const timer = timeoutMs > 0 ? setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs) : undefined;
    const failed = (cause: unknown, title = 'The hub could not be reached') => timedOut
      ? new IdbindError({ code: 'TIMEOUT', status: 0, title: `No answer within ${timeoutMs} ms`, detail: where, cause })
      : new IdbindError({ code: 'NETWORK_ERROR', status: 0, title, detail: where, cause });
    const init: RequestInit & { duplex?: 'half' } = { method: call.method, headers, body, signal: controller.signal };
    // A streamed request body needs half duplex (Fetch standard, "duplex"); Node refuses it otherwise.
    if (body instanceof ReadableStream) init.duplex = 'half';
    try {
      let response: Response;
      try {
        response = await this.#fetch(url, init);
      } catch (cause) {
        throw failed(cause);
      }
      if (!response.ok) {
        const type = response.headers.get('content-type') ?? '';
        const problem: unknown = type.includes('json') ? await response.json().catch(() => null) : null;
        if (timedOut) throw failed(null);
        const error = IdbindError.fromProblem(response.status, problem);
        // RFC 9110 10.2.3: a Retry-After header without the extension member still says when.
        const header = Number(response.headers.get('retry-after'));
        if (error.retry_after === undefined && Number.isFinite(header) && header > 0) {
          throw new IdbindError({ ...error, extensions: { ...error.extensions, retry_after: header } });
        }
        throw error;
      }
      if (!timeBody) {
        clearTimeout(timer);
        return await read(response);
      }
      try {
        return await read(response);
      } catch (cause) {
        if (timedOut) throw failed(cause);
        // Not the hub's answer but its loss: the connection was cut while the body was read (a
        // read is then repeated, as after any network error).
        if (!(cause instanceof IdbindError)) throw failed(cause, CUT_TITLE);
        throw cause;
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * `.` and `..` are not account refs (the hub refuses them): every URL parser removes them from a
 * path, `%2E` too (RFC 3986 5.2.4), so `GET /v1/accounts/..` would ask for `GET /v1/`. Refused
 * here in words rather than sent as another request.
 */
function refuseDotSegment(accountRef: string): void {
  if (accountRef === '.' || accountRef === '..') {
    throw new IdbindError({
      code: 'REQUEST_INVALID', status: 0, title: 'Not an account ref',
      detail: `"${accountRef}" is a URL dot segment, which no URL can carry; account refs are 1 to 128 characters of A-Za-z0-9._:- other than "." and ".."`,
    });
  }
}

/**
 * An id (a verification's, an event's, a job's) as one path segment. `.` and `..` are no id the
 * hub gives, and no URL can carry them (refuseDotSegment): `/v1/webhooks/deliveries/../replay`
 * would ask for `/v1/webhooks/replay`, the bulk replay. Such an id is refused here, unsent, with
 * the code the hub answers for an id it does not know, so that a caller branching on it is right.
 */
function idSegment(id: string, notFound: IdbindErrorCode): string {
  if (id === '.' || id === '..') {
    throw new IdbindError({ code: notFound, status: 0, title: 'Not an id the hub gives', detail: `"${id}" is a URL dot segment, which no URL can carry; nothing was sent` });
  }
  return encodeURIComponent(id);
}

/** The title of a NETWORK_ERROR whose answer began but was cut before its end. */
const CUT_TITLE = 'The connection was cut before the whole answer arrived';

/**
 * The body as JSON. A body read whole that is not JSON is UNEXPECTED_RESPONSE; a body whose
 * reading failed (the connection cut mid-way) throws that failure as it is, for the caller to
 * answer NETWORK_ERROR (#send), which is transient, so that a read is repeated.
 */
async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new IdbindError({ code: 'UNEXPECTED_RESPONSE', status: response.status, title: 'The answer is not JSON', cause });
  }
}

function bodyOf(response: Response): ReadableStream<Uint8Array> {
  if (!response.body) throw new IdbindError({ code: 'UNEXPECTED_RESPONSE', status: response.status, title: 'The answer has no body' });
  return response.body;
}

function overlapBody(options: RotationOptions): Record<string, number> {
  return options.overlapSeconds === undefined ? {} : { overlap_seconds: options.overlapSeconds };
}
