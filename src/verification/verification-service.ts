/**
 * Phone verification (issue 3 "Verification API"; DESIGN.md "Verification methods": phone =
 * level `low`). A verification is a small state machine:
 *
 *   code_sent --confirm(right code)--> verified | guardian_required (under 16) | failed (no longer eligible)
 *   code_sent --5 wrong codes--> failed (too_many_attempts)      code_sent --5 minutes--> expired
 *
 * Before the person has proved control of the number, a platform learns only "not eligible",
 * never why (DESIGN.md invariant 1); the reasons go to internal statistics. Codes are stored only
 * as HMACs, attempts are counted before the check, and the code is consumed by one conditional
 * update inside the binding's transaction (ory/kratos persister_code.go), so concurrent confirms
 * of one code bind exactly once.
 */
import { createHmac } from 'node:crypto';
import type pg from 'pg';
import { clientNetwork } from '../kernel/http/client-network.ts';
import type { VerificationConfig } from '../kernel/config/config.ts';
import { associatedData, openBytes, openRecord, sealBytes } from '../kernel/crypto/envelope.ts';
import { dataKeyFor, type KeyRing } from '../kernel/crypto/key-ring.ts';
import { countHits, firstExceeded, refundHits, type HitRow, type Limit, type LimitResult } from '../kernel/db/rate-counters.ts';
import { rateLeases } from '../kernel/db/rate-leases.ts';
import { uuidv7 } from '../kernel/ids.ts';
import type { Metrics } from '../kernel/metrics.ts';
import { ageOn } from '../registry/dates.ts';
import { normaliseVietnameseMobile } from '../registry/phone-number.ts';
import { personFromSealedFields, vietnamToday } from '../registry/registry-rows.ts';
import { bindingAccess, newPseudonym, type BindResult } from '../bindings/binding-service.ts';
import { bindAccount, forgetNewPseudonym } from '../bindings/binding-repository.ts';
import { recordPersonAccess } from '../access/access-records.ts';
import { BindingError } from '../bindings/binding-errors.ts';
import type { Provider } from '../providers/provider-service.ts';
import { eligibilityOf, numberKeys, numberPrefix, type IneligibilityReason } from './phone-eligibility.ts';
import { codeMac, codeMatches, CODE_PATTERN, newCode } from './one-time-code.ts';
import { codeText, SmsSendError, type SmsGateway } from './sms/sms-gateway.ts';
import * as repo from './verification-repository.ts';
import type { VerificationStatsBuffer } from './verification-stats-buffer.ts';
import { VerificationError } from './verification-errors.ts';

export interface VerificationDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  config: VerificationConfig;
  smsTemplate: string;
  /** Undefined outside demo mode without IDBIND_SMS_URL: verifications answer SMS_GATEWAY_UNAVAILABLE. */
  sms: SmsGateway | undefined;
  metrics?: Pick<Metrics, 'verificationOutcomes' | 'smsCodes'>;
  /** Counters written once a second (the server's); without it each count is written at once. */
  stats?: VerificationStatsBuffer;
  /** Called after a binding changed (to wake the webhook dispatcher). */
  onBindingChange?: () => void;
  /** Where a gateway failure's cause is told to the operator (never to the platform; no personal data). */
  warn?: (message: string, fields: Record<string, unknown>) => void;
  /**
   * Test seam: awaited inside the confirmation's transaction, after the eligibility re-check and
   * before the binding, so a concurrency test can run a registry change exactly there.
   */
  beforeBind?: () => Promise<void>;
}

/** A person must be at least this old to bind an account without a guardian (Decree 147/2024 Art. 27). */
export const GUARDIAN_AGE = 16;
/** Codes per verification (the first and two resends), and the wait between them. */
export const MAX_SENDS = 3;
export const RESEND_INTERVAL_SECONDS = 30;

export interface StartedVerification {
  id: string;
  status: 'code_sent';
  expires_at: string;
}

export interface VerificationView {
  id: string;
  account_ref: string;
  status: repo.VerificationStatus;
  expires_at: string | null;
  attempts_remaining: number;
  created_at: string;
  completed_at: string | null;
  /** Present once verified: the same answer as the confirm call, so a lost reply can be recovered. */
  result?: Omit<BindResult, 'account_id'>;
}

// A UUID, in either case: UUIDs are case-insensitive on input (RFC 9562 section 4), and a
// platform may store the id where it comes back in upper case.
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Accepts common separators in the number a person typed (spaces, dots, dashes, parentheses). */
export function parsePhone(input: string): string {
  const e164 = input.length <= 32 ? normaliseVietnameseMobile(input.replace(/[\s().-]/g, '')) : undefined;
  if (!e164) throw new VerificationError('PHONE_INVALID', 'phone: a Vietnamese mobile number, as 0XXXXXXXXX, 84XXXXXXXXX or +84XXXXXXXXX');
  return e164;
}

/** The number of an open verification, sealed (AAD `verifications.sealed#id`) so that a resend needs nothing from the platform. */
function sealNumber(ring: KeyRing, id: string, e164: string): Buffer {
  return sealBytes(ring.currentData.key, ring.currentData.version, Buffer.from(e164, 'utf8'), associatedData('verifications', 'sealed', id));
}

function openNumber(ring: KeyRing, id: string, sealed: Buffer, dekVersion: number): string {
  return openBytes(dataKeyFor(ring, dekVersion), sealed, associatedData('verifications', 'sealed', id)).toString('utf8');
}

function bucketId(ring: KeyRing, label: string, value: string | Buffer): string {
  // Bucket names are keyed hashes: an IP address or a number never appears in clear.
  return createHmac('sha256', ring.currentBlindIndex.key).update(`rate-bucket:${label}\u0000`).update(value).digest('base64url').slice(0, 27);
}

/**
 * The per-client-IP bucket, one per provider and client (an IPv4 address or an IPv6 /64). Per provider, because the address is
 * either the one a platform vouches for (`client_ip`) or its own server's: one platform's traffic
 * (or a platform naming someone else's address) must never use up another platform's limit. The
 * per-number and per-prefix limits are the ones shared by every provider.
 */
function ipBucket(ring: KeyRing, provider: Provider, clientIp: string): string {
  // One client, one bucket: IPv4 however written, IPv6 by its /64 (client-network.ts).
  return `verify:ip:${bucketId(ring, 'ip', `${provider.id}|${clientNetwork(clientIp)}`)}`;
}

/** The number prefix's limit, shared by every provider against SMS pumping. */
function prefixLimit(c: VerificationConfig, prefix: string): Limit {
  return { bucket: `verify:prefix:${prefix}`, windowSeconds: 60, max: c.prefixPerMinute, label: 'number_prefix' };
}

/**
 * Takes the buckets that are the provider's alone, before any shared one: its limit per minute,
 * then its share of the number's prefix. A provider refused by either spends nothing that other
 * providers depend on (the prefix, the number, the client IP, the SMS budget), so hammering or a
 * busy range cannot exhaust them for the others. Answers the refusal, if any.
 */
async function takeOwnLimits(deps: VerificationDeps, provider: Provider, prefix: string | null): Promise<LimitResult | undefined> {
  const leases = rateLeases(deps.pool);
  const own = await leases.take({ bucket: `verify:provider:${provider.id}`, windowSeconds: 60, max: provider.limits.verificationsPerMinute, label: 'provider' });
  // A share that is the whole limit is the shared bucket's to answer (IDBIND_LIMIT_PREFIX_SHARE_PERCENT=100).
  if (own || prefix === null || deps.config.prefixPerProviderPerMinute >= deps.config.prefixPerMinute) return own;
  return leases.take({
    bucket: `verify:prefix-share:${provider.id}:${prefix}`, windowSeconds: 60, max: deps.config.prefixPerProviderPerMinute, label: 'number_prefix_share',
  });
}

async function outcome(deps: VerificationDeps, provider: Provider, name: string, reason = ''): Promise<void> {
  deps.metrics?.verificationOutcomes.inc({ outcome: name });
  if (deps.stats) deps.stats.countOutcome(provider.id, name, reason);
  else await repo.countOutcome(deps.pool, provider.id, name, reason);
}

async function prefixCount(deps: VerificationDeps, prefix: string, column: 'sent' | 'confirmed'): Promise<void> {
  deps.metrics?.smsCodes.inc({ prefix, event: column });
  if (deps.stats) deps.stats.countPrefix(prefix, column);
  else await repo.countPrefix(deps.pool, prefix, column);
}

function rateLimited(limit: { label: string; retryAfterSeconds: number }): VerificationError {
  return new VerificationError('RATE_LIMITED', `limit: ${limit.label}`, { limit: limit.label, retry_after: limit.retryAfterSeconds });
}

/** Seconds a platform is told to wait after the gateway refused a message. */
export const SMS_RETRY_AFTER_SECONDS = 30;

/**
 * SMS_GATEWAY_UNAVAILABLE errors of a message the gateway may have sent (it took the request and
 * gave no answer): the callers keep every budget it took, as for a message sent.
 */
const mayHaveBeenSent = new WeakSet<Error>();

async function sendCode(deps: VerificationDeps, provider: Provider, e164: string, code: string): Promise<void> {
  if (!deps.sms) throw new VerificationError('SMS_GATEWAY_UNAVAILABLE', 'no SMS gateway is configured (IDBIND_SMS_URL)');
  try {
    await deps.sms.send(e164, codeText(deps.smsTemplate, provider.name, code));
  } catch (e) {
    if (e instanceof SmsSendError && e.maybeSent) {
      // A timeout or a dropped connection after the request went: the gateway may have sent the
      // text. Refunding it would let a slow or failing gateway carry any number of texts to one
      // number past its limits (SMS bombing) and a provider past its daily budget (issue 3
      // "Abuse"), so it counts as sent, for the number's range too.
      deps.warn?.('the SMS gateway did not answer for a code', { provider: provider.id, cause: e.message });
      await prefixCount(deps, numberPrefix(e164), 'sent');
      const err = new VerificationError('SMS_GATEWAY_UNAVAILABLE', 'the SMS gateway did not answer: the SMS may have been sent, and counts against the limits; try again shortly', { retry_after: SMS_RETRY_AFTER_SECONDS });
      mayHaveBeenSent.add(err);
      throw err;
    }
    if (e instanceof SmsSendError) {
      // The cause (the gateway's status, or why it was unreachable) is the operator's to see; the
      // platform learns that nothing was sent and nothing counted (the callers refund the budgets).
      deps.warn?.('the SMS gateway did not take a code', { provider: provider.id, cause: e.message });
      throw new VerificationError('SMS_GATEWAY_UNAVAILABLE', 'the SMS could not be sent and nothing was counted against the number; try again shortly', { retry_after: SMS_RETRY_AFTER_SECONDS });
    }
    throw e;
  }
  await prefixCount(deps, numberPrefix(e164), 'sent');
}

/** Whether an error means the gateway refused the message: it never reached the person. */
function notSent(e: unknown): boolean {
  return e instanceof VerificationError && e.code === 'SMS_GATEWAY_UNAVAILABLE' && !mayHaveBeenSent.has(e);
}

/**
 * Gives back what a code that never left took: the number's hits (exact counters) and the
 * provider's daily SMS budget (a leased hit). Otherwise a gateway outage would spend a number's
 * five starts an hour, retries included, while no SMS reached anyone. The per-minute buckets of
 * the provider, the client IP and the prefix keep the hit: they limit requests, and the request
 * was made. Best effort: the platform's answer is the gateway's failure either way.
 */
async function refundUnsent(deps: VerificationDeps, hits: readonly HitRow[], smsBudget: Limit, window: Date): Promise<void> {
  await Promise.all([refundHits(deps.pool, hits), rateLeases(deps.pool).refund(smsBudget, window)])
    .catch((e: unknown) => deps.warn?.('budgets of an unsent code not refunded', { error: (e as Error).name }));
}

/** `POST /v1/verifications`: checks the number and sends a code. */
export async function startVerification(
  deps: VerificationDeps, provider: Provider,
  input: {
    accountRef: string; phone: string; clientIp: string;
    /**
     * `bind` (default): the person will be bound to the account, so their accounts-per-person
     * limit applies. `identify`: the hosted flow identifies a minor's guardian, who is not bound.
     */
    purpose?: 'bind' | 'identify';
  },
): Promise<StartedVerification> {
  const e164 = parsePhone(input.phone);
  if (!deps.sms) throw new VerificationError('SMS_GATEWAY_UNAVAILABLE', 'no SMS gateway is configured (IDBIND_SMS_URL)');
  const ring = await deps.ring();
  const c = deps.config;
  const prefix = numberPrefix(e164);
  // The buckets every start shares (the provider's, the client IP's, the prefix's, the daily SMS
  // budget) are hot rows: they are leased in blocks, never past their limit across all hub
  // processes (src/kernel/db/rate-leases.ts). The number's own buckets are not hot and stay exact.
  const leases = rateLeases(deps.pool);
  const own = await takeOwnLimits(deps, provider, prefix);
  if (own) {
    await outcome(deps, provider, 'rate_limited', own.label);
    throw rateLimited(own);
  }
  // Then every shared limit, eligible or not: hammering a number or a range is refused before its
  // eligibility can be probed any further. Each is taken whatever the others answer (as every
  // bucket of a request was counted), and the first refused, in this order, is the answer.
  const hot = leases.takeAll([
    { bucket: ipBucket(ring, provider, input.clientIp), windowSeconds: 60, max: c.ipPerMinute, label: 'client_ip' },
    prefixLimit(c, prefix),
  ]);
  const keys = numberKeys(ring, e164);
  const numberKey = keys[0]!.toString('base64url');
  const perNumber: Limit[] = [
    { bucket: `verify:number-h:${numberKey}`, windowSeconds: 3600, max: c.numberPerHour, label: 'number' },
    { bucket: `verify:number-d:${numberKey}`, windowSeconds: 86_400, max: c.numberPerDay, label: 'number' },
  ];
  // One statement: the number's buckets counted, its eligibility and the holder's live accounts.
  const [hotLimited, checked] = await Promise.all([hot, repo.startChecks(deps.pool, {
    numberKeys: keys, buckets: perNumber.map((l) => l.bucket), windows: perNumber.map((l) => l.windowSeconds),
    providerId: provider.id, accountRef: input.accountRef, countAccounts: input.purpose !== 'identify',
  })]);
  const limited = hotLimited ?? firstExceeded(perNumber, checked.hits);
  if (limited) {
    await outcome(deps, provider, 'rate_limited', limited.label);
    throw rateLimited(limited);
  }
  const eligibility = eligibilityOf(checked.candidate, keys[0]!, ring.currentBlindIndex.version, { simChangeWindowHours: c.simChangeWindowHours });
  await outcome(deps, provider, 'started');
  // A spent SMS budget answers before eligibility does: otherwise a provider past its budget could
  // still tell eligible numbers from others without a code ever reaching anyone.
  const smsBudget: Limit = { bucket: `sms:provider:${provider.id}`, windowSeconds: 86_400, max: provider.limits.smsPerDay, label: 'sms_per_day' };
  const budgetRefused = await leases.available(smsBudget);
  if (budgetRefused) {
    await outcome(deps, provider, 'rate_limited', 'sms_per_day');
    // A 429 says when to come back (RFC 9110 section 10.2.3): the lease knows when the day's window
    // ends (midnight in Vietnam, rate-counters.ts windowStartSql), as the refusal by takeCounted below does.
    throw new VerificationError('SMS_BUDGET_EXHAUSTED', undefined, { retry_after: budgetRefused.retryAfterSeconds });
  }
  let reason: IneligibilityReason | undefined = eligibility.eligible ? undefined : eligibility.reason;
  if (eligibility.eligible && input.purpose !== 'identify' && checked.liveAccounts >= provider.limits.accountsPerPerson) {
    reason = 'account_limit';
  }
  if (reason !== undefined || !eligibility.eligible) {
    await outcome(deps, provider, 'not_eligible', reason);
    throw new VerificationError('NUMBER_NOT_ELIGIBLE');
  }
  const budget = await leases.takeCounted(smsBudget);
  if ('refused' in budget) {
    await outcome(deps, provider, 'rate_limited', 'sms_per_day');
    throw new VerificationError('SMS_BUDGET_EXHAUSTED', undefined, { retry_after: budget.refused.retryAfterSeconds });
  }

  const id = uuidv7();
  const code = newCode();
  const version = ring.currentBlindIndex.version;
  // The session is stored before the code leaves, so a code in a person's hands always has a record.
  const expiresAt = await repo.insertVerification(deps.pool, {
    id, providerId: provider.id, accountRef: input.accountRef, msisdnBidx: eligibility.msisdnBidx, bidxVersion: eligibility.bidxVersion,
    numberPrefix: prefix, sealed: sealNumber(ring, id, e164), dekVersion: ring.currentData.version, subscriptionId: eligibility.subscriptionId, personId: eligibility.personId,
    codeHmac: codeMac(ring, version, id, code)!, codeKeyVersion: version, ttlSeconds: c.codeTtlSeconds,
  });
  try {
    await sendCode(deps, provider, e164, code);
  } catch (e) {
    await repo.finishVerification(deps.pool, id, 'failed', 'sms_failed');
    if (notSent(e)) await refundUnsent(deps, checked.hits, smsBudget, budget.window);
    await outcome(deps, provider, 'sms_failed');
    throw e;
  }
  return { id, status: 'code_sent', expires_at: expiresAt.toISOString() };
}

async function loadOwn(deps: VerificationDeps, provider: Provider, id: string): Promise<repo.VerificationRow> {
  const row = ID.test(id) ? await repo.findVerification(deps.pool, provider.id, id.toLowerCase()) : undefined;
  if (!row) throw new VerificationError('VERIFICATION_NOT_FOUND');
  return row;
}

function isExpired(row: repo.VerificationRow): boolean {
  return row.status === 'code_sent' && row.code_expires_at !== null && row.code_expires_at.getTime() <= Date.now();
}

/** `GET /v1/verifications/{id}`. */
export async function getVerification(deps: VerificationDeps, provider: Provider, id: string): Promise<VerificationView> {
  const row = await loadOwn(deps, provider, id);
  const status = isExpired(row) ? 'expired' : row.status;
  const view: VerificationView = {
    id: row.id, account_ref: row.account_ref, status, expires_at: row.code_expires_at?.toISOString() ?? null,
    attempts_remaining: Math.max(0, deps.config.codeAttempts - row.attempts), created_at: row.created_at.toISOString(),
    completed_at: row.completed_at?.toISOString() ?? null,
  };
  if (row.status === 'verified' && row.account_id) {
    const a = await repo.boundAccountOf(deps.pool, row.account_id);
    // Only while the account is still this verification's binding: after a re-binding to someone
    // else, the old verification must not show the new person's pseudonym.
    if (a && a.pseudonym && a.verified_at && a.person_id === row.person_id && a.status !== 'unbound') {
      view.result = { account_ref: a.account_ref, status: 'verified', level: a.level as BindResult['level'], pseudonym: a.pseudonym, verified_at: a.verified_at.toISOString() };
    }
  }
  return view;
}

/** The error for a verification that cannot take a code any more. */
function closedError(row: repo.VerificationRow, maxAttempts: number): VerificationError | BindingError {
  if (row.status === 'verified') return new VerificationError('VERIFICATION_COMPLETED');
  if (row.status === 'guardian_required') return new VerificationError('GUARDIAN_REQUIRED');
  if (row.status === 'expired' || isExpired(row)) return new VerificationError('CODE_EXPIRED');
  // A failure's own answer before the spent attempts: the right code may have been the last
  // attempt allowed, and a repeated confirmation then gets the answer the first one got.
  if (row.status === 'failed' && (row.failure === 'not_eligible_at_confirm' || row.failure === 'not_eligible_at_resend')) return new VerificationError('NUMBER_NOT_ELIGIBLE');
  // The person proved the number before the limit refused the binding (bindAccount), so the
  // precise answer is theirs to see, again for a confirmation repeated after its answer was lost.
  if (row.status === 'failed' && row.failure === 'account_limit') return new BindingError('ACCOUNT_LIMIT_REACHED', 'the person has reached the accounts-per-person limit');
  if ((row.status === 'failed' && row.failure === 'too_many_attempts') || row.attempts >= maxAttempts) return new VerificationError('TOO_MANY_ATTEMPTS');
  return new VerificationError('VERIFICATION_COMPLETED');
}

/** `POST /v1/verifications/{id}/resend`: a new code, within the same budgets; attempts are not reset. */
export async function resendCode(deps: VerificationDeps, provider: Provider, id: string, input: { clientIp: string }): Promise<StartedVerification> {
  const row = await loadOwn(deps, provider, id);
  // An expired code ends the verification, whether or not the maintenance sweep has marked it
  // yet (verification-maintenance.ts): a resend is for a code still in flight.
  if (row.status !== 'code_sent' || row.consumed_at || isExpired(row)) throw closedError(row, deps.config.codeAttempts);
  if (row.attempts >= deps.config.codeAttempts) throw new VerificationError('TOO_MANY_ATTEMPTS');
  if (!deps.sms) throw new VerificationError('SMS_GATEWAY_UNAVAILABLE', 'no SMS gateway is configured (IDBIND_SMS_URL)');
  const ring = await deps.ring();
  if (!row.sealed || row.dek_version === null || !row.msisdn_bidx) throw new VerificationError('VERIFICATION_COMPLETED');
  const e164 = openNumber(ring, row.id, row.sealed, row.dek_version);
  if (row.sends >= MAX_SENDS) throw new VerificationError('RESEND_LIMIT_REACHED');
  const waited = row.last_sent_at ? (Date.now() - row.last_sent_at.getTime()) / 1000 : Infinity;
  if (waited < RESEND_INTERVAL_SECONDS) {
    throw new VerificationError('RESEND_TOO_SOON', undefined, { retry_after: Math.ceil(RESEND_INTERVAL_SECONDS - waited) });
  }
  // A message goes only to a number the person still holds (DESIGN.md): terminated, swapped or
  // ported since the start, no new code; the verification ends as a confirmation would end it.
  if (!row.subscription_id || !row.person_id
    || !(await repo.holderStillEligible(deps.pool, row.subscription_id, row.person_id, deps.config.simChangeWindowHours))) {
    await repo.finishVerification(deps.pool, row.id, 'failed', 'not_eligible_at_resend');
    await outcome(deps, provider, 'failed', 'number_not_eligible');
    throw new VerificationError('NUMBER_NOT_ELIGIBLE');
  }
  const numberKey = row.msisdn_bidx.toString('base64url');
  const c = deps.config;
  // The same buckets as a start's, in the same order: the provider's own first, so that a resend
  // they refuse spends nothing shared; then the shared hot ones leased, the number's exact.
  const leases = rateLeases(deps.pool);
  const own = await takeOwnLimits(deps, provider, row.number_prefix);
  if (own) throw rateLimited(own);
  const perNumber: Limit[] = [
    { bucket: `verify:number-h:${numberKey}`, windowSeconds: 3600, max: c.numberPerHour, label: 'number' },
    { bucket: `verify:number-d:${numberKey}`, windowSeconds: 86_400, max: c.numberPerDay, label: 'number' },
  ];
  const [hot, exact] = await Promise.all([
    leases.takeAll([
      { bucket: ipBucket(ring, provider, input.clientIp), windowSeconds: 60, max: c.ipPerMinute, label: 'client_ip' },
      // Every code sent counts for its number range, resends too: otherwise each start could send
      // three codes into a range for one hit, tripling the SMS-pumping limit.
      ...(row.number_prefix ? [prefixLimit(c, row.number_prefix)] : []),
    ]),
    countHits(deps.pool, perNumber),
  ]);
  const limited = hot ?? exact.limited;
  if (limited) throw rateLimited(limited);
  const smsBudget: Limit = { bucket: `sms:provider:${provider.id}`, windowSeconds: 86_400, max: provider.limits.smsPerDay, label: 'sms_per_day' };
  const budget = await leases.takeCounted(smsBudget);
  if ('refused' in budget) throw new VerificationError('SMS_BUDGET_EXHAUSTED', undefined, { retry_after: budget.refused.retryAfterSeconds });
  const code = newCode();
  const version = ring.currentBlindIndex.version;
  const codeHmac = codeMac(ring, version, row.id, code)!;
  // The new code is claimed before it leaves (one conditional update: of concurrent resends one
  // sends), and the previous code is put back if the gateway refuses the new one, so the code the
  // person already holds keeps working.
  const expiresAt = await repo.replaceCode(deps.pool, row.id, codeHmac, version, c.codeTtlSeconds, MAX_SENDS, RESEND_INTERVAL_SECONDS);
  if (!expiresAt) {
    await refundUnsent(deps, exact.hits, smsBudget, budget.window);
    const now = await loadOwn(deps, provider, id);
    if (now.status !== 'code_sent' || now.consumed_at || isExpired(now)) throw closedError(now, c.codeAttempts);
    throw new VerificationError('RESEND_TOO_SOON', 'another resend came first', { retry_after: RESEND_INTERVAL_SECONDS });
  }
  try {
    await sendCode(deps, provider, e164, code);
  } catch (e) {
    if (notSent(e)) {
      await repo.restoreCode(deps.pool, row, codeHmac);
      await refundUnsent(deps, exact.hits, smsBudget, budget.window);
    }
    await outcome(deps, provider, 'sms_failed');
    throw e;
  }
  await outcome(deps, provider, 'resent');
  return { id: row.id, status: 'code_sent', expires_at: expiresAt.toISOString() };
}

/** The person's birth date, read for the age check (recorded in the person's access history). */
function personAge(ring: KeyRing, personId: string, p: { sealed: Buffer; dek_version: number }): number {
  const person = personFromSealedFields(openRecord(dataKeyFor(ring, p.dek_version), p.sealed, associatedData('persons', 'sealed', personId)), 'alive');
  return ageOn(person.birthDate, vietnamToday());
}

/** The birth date read for the age check, in the person's access history (DESIGN.md invariant 4). */
function recordAgeCheck(client: pg.PoolClient, provider: Provider, v: repo.VerificationRow): Promise<void> {
  return recordPersonAccess(client, {
    personId: v.person_id!, purpose: 'age_check', actor: `provider:${provider.id}`, detail: { provider: provider.name, verification_id: v.id },
  });
}

/**
 * Checks a typed code: the attempt counted before the check (one conditional update), the code
 * compared in constant time. Returns the verification row, still unconsumed, when the code is right.
 */
async function checkTypedCode(deps: VerificationDeps, provider: Provider, id: string, code: string): Promise<repo.VerificationRow> {
  if (!CODE_PATTERN.test(code)) throw new VerificationError('CODE_MALFORMED');
  const max = deps.config.codeAttempts;
  if (!ID.test(id)) throw new VerificationError('VERIFICATION_NOT_FOUND');
  // One statement: the per-number budget of typed codes (it spans verifications and resends)
  // counted while the verification can take a code, then the attempt counted before the check
  // only if that budget holds (one conditional update: many parallel guesses get at most `max`
  // evaluated).
  const attempt = await repo.countAttemptWithinBudget(deps.pool, provider.id, id.toLowerCase(), max, deps.config.numberAttemptsPerDay);
  if (attempt.otp && attempt.otp.count > deps.config.numberAttemptsPerDay) {
    throw new VerificationError('TOO_MANY_ATTEMPTS', 'too many codes typed for this number today', {
      retry_after: Math.max(1, Math.ceil(86_400 - attempt.otp.elapsed)),
    });
  }
  const counted = attempt.row;
  if (!counted) {
    // Closed, consumed, expired, spent, or not this provider's: the precise answer from the row.
    const row = await loadOwn(deps, provider, id);
    if (row.status !== 'code_sent' || row.consumed_at) throw closedError(row, max);
    if (isExpired(row)) {
      // Counted by whoever ends it: here, or the expiry sweep (verification-maintenance.ts).
      if (await repo.finishVerification(deps.pool, row.id, 'expired', 'expired')) await outcome(deps, provider, 'expired');
      throw new VerificationError('CODE_EXPIRED');
    }
    // Open by this clock, not by the database's (its code had just expired there), or the
    // attempts were spent (TOO_MANY_ATTEMPTS).
    if (!attempt.otp && row.attempts < max) throw new VerificationError('CODE_EXPIRED');
    throw closedError(row, max);
  }
  const ring = await deps.ring();

  if (!codeMatches(ring, counted.code_key_version!, counted.id, code, counted.code_hmac!)) {
    if (counted.attempts >= max) {
      await repo.finishVerification(deps.pool, counted.id, 'failed', 'too_many_attempts');
      await outcome(deps, provider, 'failed', 'too_many_attempts');
      throw new VerificationError('TOO_MANY_ATTEMPTS');
    }
    await outcome(deps, provider, 'wrong_code');
    throw new VerificationError('CODE_INVALID', undefined, { attempts_remaining: max - counted.attempts });
  }
  return counted;
}

/**
 * The code consumed and the holder re-checked, in one statement inside the confirmation's
 * transaction (repo.consumeAndRecheck). The code is consumed by one conditional update: a second
 * use of it gets VERIFICATION_COMPLETED. Still eligible: the same living holder, the subscription
 * active, no SIM or device change in the window and no junk flag (the registry may have changed
 * since the code was sent, a SIM swap between sending and confirming included). Both rows stay
 * share-locked until the caller's transaction commits, so an import batch that ends the
 * subscription or records a death either commits first (and this check fails) or waits and then
 * revokes the new binding in its own transaction. Undefined: still eligible no more.
 */
async function consumeAndRecheck(client: pg.PoolClient, deps: VerificationDeps, v: repo.VerificationRow): Promise<{ sealed: Buffer; dek_version: number } | undefined> {
  const r = await repo.consumeAndRecheck(client, v, deps.config.simChangeWindowHours);
  if (!r) {
    await client.query('ROLLBACK');
    throw new VerificationError('VERIFICATION_COMPLETED', 'the code was already used');
  }
  return r.holder ?? undefined;
}

/** Who proved control of the number, for the hosted flow (which binds later, after guardians and consent). */
export interface ConfirmedIdentity {
  verificationId: string;
  personId: string;
  subscriptionId: string;
  /** The number, for a statutory platform's `phone_number` claim (the person just proved it). */
  e164: string;
}

/**
 * The hosted flow's confirmation (issue 4 "Hosted verification pages": the same checks, budgets
 * and errors as the phone API): the code is checked and consumed and the holder re-checked
 * exactly as `confirmCode` does, but nothing is bound here: the flow binds once the guardian (for
 * a minor) and the consent are done. The verification ends `verified` without an account.
 */
export async function confirmCodeIdentity(deps: VerificationDeps, provider: Provider, id: string, code: string): Promise<ConfirmedIdentity> {
  const counted = await checkTypedCode(deps, provider, id, code);
  const ring = await deps.ring();
  const e164 = counted.sealed && counted.dek_version !== null ? openNumber(ring, counted.id, counted.sealed, counted.dek_version) : undefined;
  const client = await deps.pool.connect();
  let eligible = false;
  try {
    await client.query('BEGIN');
    eligible = (await consumeAndRecheck(client, deps, counted)) !== undefined && e164 !== undefined;
    if (eligible) await repo.finishVerification(client, counted.id, 'verified', null);
    else await repo.finishVerification(client, counted.id, 'failed', 'not_eligible_at_confirm');
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
  // The right code was typed (confirmCode says why this counts either way).
  if (counted.number_prefix) await prefixCount(deps, counted.number_prefix, 'confirmed');
  if (!eligible) {
    await outcome(deps, provider, 'failed', 'number_not_eligible');
    throw new VerificationError('NUMBER_NOT_ELIGIBLE');
  }
  await outcome(deps, provider, 'confirmed');
  return { verificationId: counted.id, personId: counted.person_id!, subscriptionId: counted.subscription_id!, e164: e164! };
}

/**
 * `POST /v1/verifications/{id}/confirm`: checks the code and binds the account.
 *
 * Four statements after the attempt is counted (BEGIN, the code consumed with the holder
 * re-checked and the pseudonym locked, the binding that also completes the verification, COMMIT):
 * the binding counts the person's accounts under the pseudonym's lock (bindAccount), so the
 * accounts-per-person limit holds under concurrent confirmations without a savepoint. Not one
 * statement: a statement's snapshot is taken before it waits for the pseudonym's lock, so its
 * count would miss a binding committed while it waited.
 */
export async function confirmCode(deps: VerificationDeps, provider: Provider, id: string, code: string): Promise<Omit<BindResult, 'account_id'>> {
  const counted = await checkTypedCode(deps, provider, id, code);
  const ring = await deps.ring();
  const client = await deps.pool.connect();
  let result: Omit<BindResult, 'account_id'> | undefined;
  let failure: VerificationError | BindingError | undefined;
  try {
    await client.query('BEGIN');
    const r = await repo.consumeRecheckAndLock(client, counted, deps.config.simChangeWindowHours, provider.id, newPseudonym());
    if (!r) {
      await client.query('ROLLBACK');
      throw new VerificationError('VERIFICATION_COMPLETED', 'the code was already used');
    }
    if (!r.holder) {
      await repo.finishVerification(client, counted.id, 'failed', 'not_eligible_at_confirm');
      failure = new VerificationError('NUMBER_NOT_ELIGIBLE');
    } else {
      await deps.beforeBind?.();
      if (personAge(ring, counted.person_id!, r.holder) < GUARDIAN_AGE) {
        // Nothing is bound: a pseudonym the statement above has just created goes again.
        if (r.holder.pseudonymCreated) await forgetNewPseudonym(client, counted.person_id!, provider.id);
        await repo.finishVerification(client, counted.id, 'guardian_required', 'guardian_required');
        await recordAgeCheck(client, provider, counted);
        failure = new VerificationError('GUARDIAN_REQUIRED');
      } else {
        const bound = await bindAccount(client, {
          id: uuidv7(), providerId: provider.id, accountRef: counted.account_ref, personId: counted.person_id!, subscriptionId: counted.subscription_id,
          method: 'phone', level: 'low', pseudonym: r.holder.pseudonym, guardianPersonId: null, accountsPerPerson: provider.limits.accountsPerPerson,
          access: bindingAccess(provider, { accountRef: counted.account_ref, method: 'phone', level: 'low', viaVerification: counted.id }),
          // Refused by the limit: the birth date was read for the age check, and that read is
          // the person's to see (recordAgeCheck's entry, written by the same statement).
          verification: { id: counted.id, ageCheckDetail: { provider: provider.name, verification_id: counted.id } },
        });
        if ('bound' in bound) {
          result = { account_ref: bound.bound.account_ref, status: 'verified', level: bound.bound.level, pseudonym: r.holder.pseudonym, verified_at: bound.bound.verified_at.toISOString() };
        } else if (bound.refused === 'number_contested') {
          // A port-in committed while this confirmation waited for the subscription's lock
          // (bindAccount): the code may have reached the new holder. Nothing bound, so no pseudonym.
          if (r.holder.pseudonymCreated) await forgetNewPseudonym(client, counted.person_id!, provider.id);
          failure = new VerificationError('NUMBER_NOT_ELIGIBLE');
        } else {
          // The person has proved control of the number: the precise answer is theirs to see.
          failure = new BindingError('ACCOUNT_LIMIT_REACHED', `limit ${provider.limits.accountsPerPerson}`);
        }
      }
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
  // The right code was typed: it reached a person, whatever the binding then answered (a minor,
  // the accounts limit, a number no longer eligible). SMS pumping is codes nobody types; a range
  // of minors must not look like it.
  if (counted.number_prefix) await prefixCount(deps, counted.number_prefix, 'confirmed');
  if (failure) {
    await outcome(deps, provider, 'failed', failure.code.toLowerCase());
    throw failure;
  }
  await outcome(deps, provider, 'confirmed');
  deps.onBindingChange?.();
  return result!;
}
