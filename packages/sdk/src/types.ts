/**
 * Types of the hub's provider API, as it sends them: response objects keep the wire names
 * (snake_case), so that what you log matches what the hub documents in /openapi.json. Request
 * inputs are the SDK's own camelCase objects.
 *
 * What a platform can learn is deliberately small (the hub's invariant 1: minimal disclosure):
 * verified or not, a level, a pseudonym, since when. Nothing here carries a name, a birth date,
 * an ID number or a reason for a status change.
 */

/** Assurance level of a binding: `low` for a phone; higher ones come from eID or chip methods. */
export type AssuranceLevel = 'low' | 'substantial' | 'high';

/** Status of an account as a platform sees it. */
export type AccountStatusValue = 'verified' | 'needs_reverification' | 'revoked' | 'unverified';

/** State of one verification attempt. */
export type VerificationStatus = 'code_sent' | 'verified' | 'failed' | 'expired' | 'guardian_required';

/** Input of {@link IdbindClient.startVerification}. */
export interface StartVerificationInput {
  /** The platform's opaque id of the account: 1 to 128 characters of `A-Za-z0-9._:-`. */
  accountRef: string;
  /** A Vietnamese mobile number, as `0912345678`, `84912345678` or `+84912345678`. */
  phone: string;
  /**
   * Makes the call safe to repeat: the hub answers a repeat with the same key and body with the
   * first answer and sends no second SMS. Generated (a random UUID) when absent; pass your own to
   * make retries across process restarts safe too.
   */
  idempotencyKey?: string | undefined;
  /**
   * The person's IP address as your server saw it (IPv4 or IPv6). The hub's per-IP limit then
   * applies to each person rather than to your server's address. Only counted, as a keyed hash;
   * never stored.
   */
  clientIp?: string | undefined;
}

/** Options of {@link IdbindClient.resendCode}. */
export interface ResendCodeOptions {
  /** As {@link StartVerificationInput.clientIp}. */
  clientIp?: string | undefined;
}

/** `POST /v1/verifications` and `POST /v1/verifications/{id}/resend`: a code is on its way. */
export interface StartedVerification {
  id: string;
  status: 'code_sent';
  /** When the code stops working (5 minutes after it was sent). */
  expires_at: string;
}

/** `POST /v1/verifications/{id}/confirm`: the account is bound. */
export interface BindResult {
  account_ref: string;
  status: 'verified';
  level: AssuranceLevel;
  /** Stable for this person on your platform, unrelated to the pseudonym on any other platform. */
  pseudonym: string;
  verified_at: string;
}

/** `GET /v1/verifications/{id}`: a verification, with its result once verified. */
export interface Verification {
  id: string;
  account_ref: string;
  status: VerificationStatus;
  expires_at: string | null;
  attempts_remaining: number;
  created_at: string;
  completed_at: string | null;
  /** Present once `status` is `verified`: the same object the confirm call answered. */
  result?: BindResult;
}

/** `GET /v1/accounts/{ref}` and one entry of the bulk status. Unknown accounts are `unverified`. */
export interface AccountStatus {
  account_ref: string;
  status: AccountStatusValue;
  level: AssuranceLevel | null;
  pseudonym: string | null;
  /**
   * When the account entered this status: `verified`, when it was (last) verified;
   * `needs_reverification` and `revoked`, when the hub changed it; `unverified`, when it was
   * unbound, or null for an account never bound. `account.minor_ended` leaves it unchanged.
   */
  since: string | null;
  /** A minor's account, bound with a guardian's consent: true until the person turns 16 (`account.minor_ended`). */
  minor: boolean;
}

/** A line of the NDJSON bulk status that the hub could not read, answered in that line's place. */
export interface BulkLineError {
  /** The 1-based line number of the request. */
  line: number;
  code: string;
  detail: string;
}

/** One line of {@link IdbindClient.streamAccounts}. */
export type BulkStatusLine = AccountStatus | BulkLineError;

export type ProviderKind = 'platform' | 'carrier' | 'registrar';

/**
 * A provider's legal profile: `statutory` platforms must retain name and birth date (Decree
 * 147/2024 Art. 23/27) and get them only through the hosted flow, with the person's consent.
 */
export type LegalProfile = 'minimal' | 'statutory';

export interface ProviderLimits {
  verifications_per_minute: number;
  sms_per_day: number;
  accounts_per_person: number;
}

export interface Provider {
  id: string;
  name: string;
  kind: ProviderKind;
  carrier: string | null;
  legal_profile: LegalProfile;
  webhook_url: string | null;
  /** When the endpoint answered 410 Gone and was disabled; set the URL again to enable it. */
  webhook_disabled_at: string | null;
  limits: ProviderLimits;
  status: 'active' | 'disabled';
  created_at: string;
}

/** A live API key as the hub shows it after creation: never the key, only a hint. */
export interface ApiKeyInfo {
  id: string;
  /** The prefix and the last characters, e.g. `idbk_…x4Qz`. */
  hint: string;
  created_at: string;
  /** When an overlapping old key stops working; null for the current key. */
  expires_at: string | null;
}

/** `GET /v1/provider`. */
export interface ProviderInfo {
  provider: Provider;
  api_keys: ApiKeyInfo[];
}

/** `POST /v1/provider/api-keys`: the new key, shown this once. */
export interface RotatedApiKey {
  api_key: string;
  previous_keys_expire_at: string | null;
}

/** `POST /v1/provider/webhook-secrets`: the new `whsec_...` secret. */
export interface RotatedWebhookSecret {
  webhook_secret: string;
  previous_secrets_expire_at: string | null;
}

/** Options of a credential rotation. */
export interface RotationOptions {
  /** How long the previous credential keeps working, in seconds (hub default 86,400; 0 ends it now). */
  overlapSeconds?: number | undefined;
}

/** How the platform's backend authenticates at the token endpoint. */
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'private_key_jwt';

/** A JSON Web Key Set of the platform's public keys (`private_key_jwt`); private members are refused. */
export interface PublicJwks {
  keys: Array<Record<string, unknown>>;
}

/**
 * `GET`/`PUT /v1/provider/oidc-client`: the platform's OpenID Connect client ("Sign in with
 * idbind", hosted verification). Discovery is at `${issuer}/.well-known/openid-configuration`.
 */
export interface OidcClient {
  client_id: string;
  issuer: string;
  redirect_uris: string[];
  require_par: boolean;
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  jwks: PublicJwks | null;
  refresh_tokens: boolean;
  /** Only in the answer of the PUT that created the client: shown this once, store it now. */
  client_secret?: string;
}

/**
 * Input of {@link IdbindClient.setOidcClient}: only the settings given change. The first call
 * creates the client and needs `redirectUris`.
 */
export interface OidcClientSettings {
  /** 1 to 20 absolute https URLs, without fragment or credentials. */
  redirectUris?: string[] | undefined;
  /** Pushed authorization requests (RFC 9126) only. */
  requirePar?: boolean | undefined;
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod | undefined;
  /** Needed for `private_key_jwt`; null removes them. */
  jwks?: PublicJwks | null | undefined;
  refreshTokens?: boolean | undefined;
}

/** `POST /v1/provider/oidc-client/secret`: the new client secret, shown this once; the old one stopped. */
export interface RotatedOidcClientSecret {
  client_secret: string;
}

/** One day (Vietnam time) of `GET /v1/provider/verification-stats`. */
export interface VerificationStatsDay {
  /** `YYYY-MM-DD`. */
  day: string;
  started: number;
  confirmed: number;
  /**
   * Failures by reason, such as `not_eligible`, `wrong_code`, `expired`, `sms_failed` or
   * `rate_limited:<limit>`. Eligibility reasons are summed into one: a platform does not learn
   * why a number was not eligible.
   */
  failed: Record<string, number>;
}

export interface VerificationStats {
  days: VerificationStatsDay[];
}

/** `POST /v1/webhooks/test`. */
export interface TestEventSent {
  event_id: string;
  type: string;
  occurred_at: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

/** One entry of the webhook delivery log. */
export interface WebhookDelivery {
  /** Also the `webhook-id` header of every attempt. */
  event_id: string;
  type: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: string | null;
  created_at: string;
}

export interface WebhookDeliveryPage {
  deliveries: WebhookDelivery[];
  /** Pass as `cursor` for the next (older) page; null at the end. */
  next_cursor: string | null;
}

export interface ListDeliveriesOptions {
  status?: DeliveryStatus | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

/** One try of a delivery, in {@link WebhookDeliveryDetail.attempt_log}. */
export interface WebhookDeliveryAttempt {
  /** 1 for the first try; replays continue the count. */
  attempt: number;
  /** The receiver's HTTP status; null when no answer came (refused, timed out, address refused). */
  status_code: number | null;
  /** Why the try failed, for people; null when the receiver answered. */
  error: string | null;
  duration_ms: number;
  at: string;
}

/** `GET /v1/webhooks/deliveries/{event_id}`: one delivery, the event it carries and every try, oldest first. */
export interface WebhookDeliveryDetail extends WebhookDelivery {
  /** The event exactly as it is delivered (the signed body). */
  event: WebhookEvent;
  attempt_log: WebhookDeliveryAttempt[];
}

/** `GET /v1/events`: a page of your events, oldest first. */
export interface EventPage {
  events: WebhookEvent[];
  /**
   * Always present: the position after this page (the same cursor when the page is empty). Keep
   * it and pass it as `after` next time; an empty page means you are up to date for now.
   */
  next_cursor: string;
}

export interface ListEventsOptions {
  /** The `next_cursor` of the previous page; absent for the first event you have. */
  after?: string | undefined;
  /** 1 to 1,000 events per page (hub default 100). */
  limit?: number | undefined;
}

/** `POST /v1/webhooks/deliveries/{event_id}/replay`: the delivery is due again at once. */
export interface ReplayedWebhookDelivery {
  event_id: string;
  status: 'pending';
}

/**
 * What `POST /v1/webhooks/replay` re-queues: the dead deliveries (`status: 'dead'`), the
 * deliveries of the events that occurred in `[since, until)`, or the dead ones in that range.
 * `since` is needed unless `status` is given; `until` needs `since`.
 */
export interface WebhookReplaySelection {
  status?: 'dead' | undefined;
  /** RFC 3339 date-time, or a Date. */
  since?: Date | string | undefined;
  /** RFC 3339 date-time, or a Date; after `since`. */
  until?: Date | string | undefined;
}

/** `POST /v1/webhooks/replay`. */
export interface WebhookReplayResult {
  /** How many deliveries were re-queued (0 when none matched). */
  requeued: number;
}

/** The event types a webhook carries about an account. */
export type AccountEventType = 'account.verified' | 'account.needs_reverification' | 'account.revoked' | 'account.unbound' | 'account.minor_ended';

/**
 * A change of one of your accounts. `sequence` increases per account: drop an event whose
 * sequence is not above the last one you applied for that account (deliveries can arrive out of
 * order after retries). `status`, `level`, `pseudonym`, `since` and `minor` are the account's
 * {@link AccountStatus} after the change, exactly what `getAccount` answers then: after
 * `account.unbound`, `unverified` with `level` and `pseudonym` null.
 */
export interface AccountEvent {
  /** The event id, also the `webhook-id` header: deduplicate on it. */
  id: string;
  type: AccountEventType;
  account_ref: string;
  status: AccountStatusValue;
  /** Null when `unverified`. */
  level: AssuranceLevel | null;
  /** Null when `unverified`. */
  pseudonym: string | null;
  /** When the account entered `status` (see {@link AccountStatus.since}); null only from a hub older than this SDK, which did not send it. */
  since: string | null;
  /** A minor's account; false after `account.minor_ended` (the person turned 16 and may take it over). */
  minor: boolean;
  sequence: number;
  occurred_at: string;
}

/** The event of "send test event": no account data. */
export interface TestEvent {
  id: string;
  type: 'webhook.test';
  occurred_at: string;
}

export type WebhookEvent = AccountEvent | TestEvent;

/** How an upload is written: `csv` (registry only) or `ndjson` (docs/formats.md of the hub). */
export type CarrierUploadFormat = 'csv' | 'ndjson';

/** A file to upload: text, bytes, a Blob, or a stream (sent as it is read, in constant memory). */
export type CarrierUploadBody = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

/** `POST /v1/carrier/registry` and `/v1/carrier/deltas`: the file is stored and queued; poll `location`. */
export interface CarrierJobAccepted {
  job_id: string;
  status: 'queued';
  location: string;
}

/** A carrier's upload job (`GET /v1/carrier/jobs/{id}`). */
export interface CarrierJob {
  job_id: string;
  /** `subscriptions`: a full registry; `subscription_events`: a delta file. */
  kind: 'subscriptions' | 'subscription_events';
  format: CarrierUploadFormat;
  status: 'queued' | 'running' | 'completed' | 'failed';
  bytes_total: number;
  bytes_done: number;
  /** Rows so far while running, the totals once completed. */
  summary: { accepted: number; unchanged: number; rejected: number } | null;
  /** Why a failed job failed (a code of the hub's docs/errors.md). */
  error: { code: string; title: string } | null;
  created_at: string;
  /** When the file had arrived whole; null while it is still arriving (`bytes_total` is then 0). */
  uploaded_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  location: string;
  /** URL path of the rejects CSV (`line,field,code`, never a value). */
  rejects: string;
}

/** `GET /v1/carrier/action-list`: the latest completed run's list, as a CSV stream (`msisdn,category`). */
export interface ActionListDownload {
  /** The reconciliation run it comes from (`Reconciliation-Run-Id`). */
  runId: string;
  csv: ReadableStream<Uint8Array>;
}
