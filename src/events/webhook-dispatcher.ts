/**
 * Webhook delivery (DESIGN.md invariant 6 "Nothing is lost" and "Webhooks"; issue 3 "Webhooks").
 *
 * The outbox (outbox.ts) writes an event and a pending delivery in the transaction of the
 * change. This dispatcher, run by every hub process, claims due deliveries in batches
 * (`FOR UPDATE SKIP LOCKED`, so processes share the work), POSTs them with bounded concurrency
 * over keep-alive connections, and records every attempt and the deliveries' new state in one
 * statement per batch.
 *
 * Delivery is at least once; the receiver's view is exactly once because `webhook-id` is the
 * event id on every attempt and every replay (Standard Webhooks 1.0.0 "Webhook metadata": the id
 * is the receiver's idempotency key). `webhook-timestamp` is the attempt's wall-clock time, fresh
 * on each attempt; the body is the stored payload, the same bytes every time.
 *
 * - Success is a 2xx answer; anything else is a failure: another status (a 3xx too: redirects are
 *   never followed), a timeout, a connection error, or a destination refused because it resolves
 *   to a private, loopback or link-local address (Standard Webhooks 1.0.0 "Delivery success and
 *   failure"; DESIGN.md "Conventions").
 * - A failure is retried on a schedule with jitter (default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
 *   10 h: eight attempts over at least 24 h 49 min even with the jitter drawn low), after the
 *   example schedule of Standard Webhooks 1.0.0 "Deliverability and reliability"; after the last,
 *   the delivery is dead (the dead-letter list), until the provider replays it.
 * - A 429, 502, 503 or 504 with a Retry-After header waits as long as it asks when that is longer
 *   than the schedule's next delay (capped at the schedule's longest step), as Standard Webhooks
 *   1.0.0 "Delivery success and failure" recommends; the schedule is never shortened.
 * - Fair across providers: at most `perProviderConcurrency` requests in flight to one provider,
 *   and claims that serve providers oldest due delivery first, each up to its share, so one
 *   provider's backlog or hanging endpoint never delays another's events; an eighth of the
 *   slots is kept for providers with nothing in flight, so that two hanging endpoints, each with
 *   its share of half the slots, do not hold them all.
 * - A 410 Gone means the receiver wants no more (Standard Webhooks 1.0.0 "Delivery success and
 *   failure"): the delivery is dead-lettered at once and the provider's endpoint disabled; while
 *   it is disabled, every delivery to it is dead-lettered at once, without a request, kept for a
 *   replay once the provider sets its webhook URL again. A 410 from a URL the provider has
 *   replaced since the claim disables nothing and is retried, at the provider's URL then.
 * - A provider without a webhook URL (removed after the event was written) or disabled at attempt
 *   time: the attempt fails without a request, is logged as such, and follows the same schedule,
 *   so the delivery ends dead-lettered and visible rather than pending for ever; a replay after
 *   the URL is set again delivers it.
 * - Crash safety: a claim moves next_attempt_at to the end of a lease longer than the batch can
 *   take; if the process dies, the delivery is due again when the lease ends. A result is applied
 *   only by the claim that still owns the delivery (its attempt number), so a late answer of a
 *   superseded claim never overrides a newer one.
 */
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { forbiddenAddressReason, OutboundUrlError, postOutbound, type OutboundPolicy, type OutboundResponse } from '../kernel/http/outbound-http.ts';
import { invalidateAuthCache, webhookSecrets } from '../providers/provider-service.ts';
import { disableWebhookEndpoint } from '../providers/provider-repository.ts';
import { webhookHeaders, webhookSecretKey } from './webhook-signing.ts';
import { claimDueDeliveries, recordAttempts, webhookUrlIs, type AttemptResult, type ClaimedDelivery } from './webhook-repository.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Delays before the 2nd, 3rd, ... attempt; after the last attempt fails, the delivery is dead. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = Object.freeze([5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]);
/** Each delay is multiplied by a factor drawn uniformly from [1 - JITTER, 1 + JITTER]. */
export const DEFAULT_JITTER = 0.1;

/** The minimal logger the dispatcher needs (pino's and Fastify's fit). Never given personal data. */
export interface DispatcherLog {
  warn(obj: object, msg: string): void;
}

export interface WebhookDispatcherOptions {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  outbound: OutboundPolicy;
  /** How often to look for due deliveries without a kick, in ms (default 1000; 0: only on kick and drain). */
  intervalMs?: number;
  log?: DispatcherLog;
  /**
   * Requests in flight at once per process (default 128; the server takes
   * IDBIND_WEBHOOK_CONCURRENCY). 64 left a single platform's burst waiting on round trips: at 32
   * in flight to it, 4,970 deliveries/s on the issue 3 bench with 1.4 of 2 cores busy; at 64,
   * 6,643/s (docs/benchmarks.md).
   */
  concurrency?: number;
  /**
   * Requests in flight at once per process to one provider (default: half of `concurrency`), so
   * that a slow or hanging endpoint takes at most this many of the slots and every other
   * provider's deliveries keep flowing.
   */
  perProviderConcurrency?: number;
  /** Deliveries claimed per statement (default 256). */
  batchSize?: number;
  /** Per-attempt timeout in ms (default 15 s: Standard Webhooks "Request timeouts" suggests 15 to 30 s). */
  timeoutMs?: number;
  /** How long a claim holds a delivery (default: long enough for a whole batch to time out). */
  leaseMs?: number;
  retryDelaysMs?: readonly number[];
  jitter?: number;
  /** The scheduling clock (tests move it forward instead of waiting). Headers always carry wall-clock time. */
  now?: () => Date;
  random?: () => number;
}

export interface DispatcherStats {
  attempts: number;
  delivered: number;
  failed: number;
  dead: number;
}

export interface WebhookDispatcher {
  /** Look for due deliveries now (after a binding change), without waiting for the interval. */
  kick(): void;
  /**
   * A kick within `KICK_SOON_MS`, one for any number of calls meanwhile: for changes another
   * process made (heard through the status cache's notifications), so that a cluster's every
   * binding does not become a claim in every process.
   */
  kickSoon(): void;
  /** Delivers everything due by the scheduling clock, then resolves (tests, benchmarks, the CLI). */
  drain(): Promise<DispatcherStats>;
  /** Stops claiming, lets claimed deliveries finish and be recorded, then resolves. */
  stop(): Promise<void>;
  /** Counters since start. */
  stats(): DispatcherStats;
}

export type RetryDecision = { outcome: 'retry'; delayMs: number } | { outcome: 'dead' };

/**
 * What follows a failed attempt: `attemptInSchedule` counts the attempts since the delivery was
 * created or last replayed (1 for the first). The schedule allows delays.length + 1 attempts.
 */
export function retryAfterFailure(attemptInSchedule: number, delays: readonly number[], jitter: number, random: () => number): RetryDecision {
  const base = delays[attemptInSchedule - 1];
  if (base === undefined) return { outcome: 'dead' };
  return { outcome: 'retry', delayMs: Math.round(base * (1 + jitter * (2 * random() - 1))) };
}

/**
 * A short description of a failed request for the delivery log: the status or the class of
 * error, never the response body (it could echo anything) nor the payload.
 */
export function describeFailure(e: unknown, timeoutMs: number): string {
  const err = e as { code?: unknown; name?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : undefined;
  if (code === 'EOUTBOUNDFORBIDDEN') return `destination refused: ${String(err.message)}`.slice(0, 200);
  if (e instanceof OutboundUrlError) return `timeout: no answer within ${timeoutMs} ms`;
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ECONNRESET': return 'connection reset';
    case 'ETIMEDOUT': return 'connection timed out';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'host unreachable';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'the host name does not resolve';
    case undefined: return `network error (${typeof err.name === 'string' ? err.name : 'unknown'})`;
    default:
      if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) return `TLS error (${code})`.slice(0, 200);
      return `network error (${code})`.slice(0, 200);
  }
}

/** Answers asking the sender to slow down (Standard Webhooks 1.0.0 "Delivery success and failure"). */
const THROTTLE_STATUSES = new Set([429, 502, 503, 504]);

/**
 * The delay a Retry-After header asks for, in ms, when the status is one that asks to slow down
 * (RFC 9110 10.2.3: delay-seconds or an HTTP-date). Capped at `maxMs`: a receiver may push its
 * own next attempt later, but not out of the retry schedule's span. Undefined when absent,
 * unparsable or not applicable.
 */
export function retryAfterDelayMs(status: number, header: string | undefined, nowMs: number, maxMs: number): number | undefined {
  if (!header || !THROTTLE_STATUSES.has(status)) return undefined;
  const trimmed = header.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    // An IMF-fixdate names its day and month: anything else (a negative number, say) is not one.
    const at = /^[A-Za-z]{3}, /.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(Math.max(0, ms), maxMs);
}

export function describeStatus(status: number): string {
  if (status === 410) return 'HTTP 410 Gone: the endpoint is disabled until the webhook URL is set again';
  return status >= 300 && status < 400 ? `HTTP ${status}: redirects are not followed` : `HTTP ${status}`;
}

/** How long kickSoon() gathers calls before its one kick, in ms. */
export const KICK_SOON_MS = 50;

export function startWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const { pool, outbound } = options;
  const intervalMs = options.intervalMs ?? 1000;
  const concurrency = options.concurrency ?? 128;
  const batchSize = options.batchSize ?? 256;
  const perProvider = Math.max(1, Math.min(concurrency, options.perProviderConcurrency ?? Math.ceil(concurrency / 2)));
  // Slots kept for providers with no request in flight (an eighth, at least one): the others
  // share the rest. With the share at half the slots, two hanging endpoints took every slot and
  // each other provider's events waited for their timeouts; now it takes reserve + 2 of them.
  const reserved = Math.max(1, Math.floor(concurrency / 8));
  const shared = Math.max(1, concurrency - reserved);
  const timeoutMs = options.timeoutMs ?? 15_000;
  // A claimed delivery may wait for every earlier one of its batch and of the batch before it
  // (claimed ahead) to time out, then time out itself.
  const leaseMs = options.leaseMs ?? (2 * Math.ceil(batchSize / concurrency) + 1) * timeoutMs + 30_000;
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  // The longest delay a receiver's Retry-After may ask for: the schedule's longest step.
  const maxAskedDelayMs = Math.max(0, ...delays);
  const jitter = options.jitter ?? DEFAULT_JITTER;
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  const log = options.log;
  const counters: DispatcherStats = { attempts: 0, delivered: 0, failed: 0, dead: 0 };

  /**
   * The live secrets of each provider of a batch, opened once per batch (newest first), so a
   * rotation is signed with from the next batch on. Undefined for a provider whose secrets
   * could not be opened (a missing data key): its deliveries fail and are retried.
   */
  async function keysOf(batch: readonly ClaimedDelivery[]): Promise<Map<string, Buffer[] | undefined>> {
    const ring = await options.ring();
    const ids = [...new Set(batch.map((d) => d.provider_id))];
    const out = new Map<string, Buffer[] | undefined>();
    await Promise.all(ids.map(async (id) => {
      try {
        out.set(id, (await webhookSecrets(pool, ring, id)).map(webhookSecretKey));
      } catch (e) {
        log?.warn({ provider_id: id, err: { name: (e as Error).name } }, 'webhook secrets could not be opened');
        out.set(id, undefined);
      }
    }));
    return out;
  }

  async function attempt(d: ClaimedDelivery, keys: Map<string, Buffer[] | undefined>): Promise<AttemptResult> {
    const at = now();
    const started = performance.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    let ok = false;
    let askedDelayMs: number | undefined;
    let gone = false;
    try {
      const k = keys.get(d.provider_id);
      if (d.provider_status !== 'active') error = 'the provider is disabled';
      else if (!d.webhook_url) error = 'no webhook URL is set';
      else if (d.webhook_disabled_at) {
        error = 'the webhook endpoint is disabled: it answered 410 Gone; set the webhook URL again to enable it';
        gone = true;
      }
      else if (!k) error = 'the webhook secret could not be opened';
      else if (k.length === 0) error = 'no live webhook secret';
      else {
        const url = new URL(d.webhook_url);
        // node:net connects to an IP literal without calling the guarded lookup, so the
        // address rule is checked here for literals (names are checked at connection time).
        const host = url.hostname.replace(/^\[|\]$/g, '');
        const literalReason = isIP(host) ? forbiddenAddressReason(host, outbound) : undefined;
        if (literalReason) error = `destination refused: the host is ${literalReason}`;
        else {
          const headers = webhookHeaders(k, d.event_id, Math.floor(Date.now() / 1000), d.body);
          const res: OutboundResponse = await postOutbound(url, d.body, headers, outbound, timeoutMs);
          statusCode = res.status;
          ok = res.status >= 200 && res.status < 300;
          let moved = false;
          if (res.status === 410) {
            // Only the URL that answered is disabled; a failure to record it is retried by the next 410.
            // This process's cached providers are dropped, so the platform's own view
            // (GET /v1/provider, the console) shows the endpoint disabled at once. When the
            // provider has set another URL since the claim, the 410 spoke for the replaced URL
            // only: the delivery is retried (at the provider's URL then), not dead-lettered.
            const url = d.webhook_url;
            gone = await disableWebhookEndpoint(pool, d.provider_id, url)
              .then(async (disabled) => {
                if (disabled) invalidateAuthCache(pool);
                return disabled || await webhookUrlIs(pool, d.provider_id, url);
              })
              .catch((e: unknown) => {
                log?.warn({ provider_id: d.provider_id, err: { name: (e as Error).name } }, 'the webhook endpoint could not be disabled after 410 Gone');
                return true;
              });
            moved = !gone;
          }
          if (!ok) {
            error = moved ? 'HTTP 410 Gone from a webhook URL replaced since: retried at the current one' : describeStatus(res.status);
            askedDelayMs = retryAfterDelayMs(res.status, res.retryAfter, Date.now(), maxAskedDelayMs);
          }
        }
      }
    } catch (e) {
      error = e instanceof TypeError && (e as { code?: string }).code === 'ERR_INVALID_URL' ? 'the webhook URL is invalid' : describeFailure(e, timeoutMs);
    }
    const durationMs = Math.max(0, Math.round(performance.now() - started));
    counters.attempts++;
    if (ok) {
      counters.delivered++;
      return { eventId: d.event_id, providerId: d.provider_id, attempt: d.attempts, statusCode, error: null, durationMs, at, outcome: 'delivered', nextAttemptAt: null };
    }
    counters.failed++;
    let next: RetryDecision = gone ? { outcome: 'dead' } : retryAfterFailure(d.attempts - d.schedule_start, delays, jitter, random);
    // A Retry-After only ever lengthens the wait (the schedule's span of at least 24 h stays).
    if (next.outcome === 'retry' && askedDelayMs !== undefined && askedDelayMs > next.delayMs) next = { outcome: 'retry', delayMs: askedDelayMs };
    if (next.outcome === 'dead') counters.dead++;
    return {
      eventId: d.event_id, providerId: d.provider_id, attempt: d.attempts, statusCode, error, durationMs, at,
      outcome: next.outcome, nextAttemptAt: next.outcome === 'retry' ? new Date(now().getTime() + next.delayMs) : null,
    };
  }

  /**
   * One pass: claims and delivers until nothing is due, with at most `concurrency` requests in
   * flight, and at most `perProviderConcurrency` of them to one provider: the claim leaves out a
   * provider whose share is taken and brings at most a share of each other, so a backlog or a
   * hanging endpoint of one provider never holds back the others (webhook-repository.ts
   * claimDueDeliveries). Results are written in batches, at once when a batch's worth is ready,
   * else within 100 ms.
   */
  async function pass(shouldStop: () => boolean): Promise<void> {
    // A kick while this pass waits for requests in flight (deliveries of another provider were
    // committed meanwhile), or the poll interval passing: claim again. Waiting for the requests
    // instead let a hanging endpoint's timeout (15 s) hold up every other provider's events.
    let kickedHere = false;
    const onKick = () => {
      kickedHere = true;
      const w = released;
      released = undefined;
      w?.();
    };
    let results: AttemptResult[] = [];
    let chain: Promise<void> = Promise.resolve();
    let flushTimer: NodeJS.Timeout | undefined;
    const flush = (): Promise<void> => {
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = undefined;
      if (results.length === 0) return chain;
      const batch = results;
      results = [];
      // A failed write leaves the deliveries claimed: they are attempted again when the lease
      // ends (receivers dedupe by webhook-id), so nothing is lost; only these log rows are.
      chain = chain.then(() => recordAttempts(pool, batch)).catch((e: unknown) => {
        log?.warn({ count: batch.length, err: { name: (e as Error).name, code: (e as { code?: string }).code } }, 'webhook attempts could not be recorded; the deliveries will be retried after their lease');
      });
      return chain;
    };
    const push = (r: AttemptResult) => {
      results.push(r);
      if (results.length >= batchSize) void flush();
      else flushTimer ??= setTimeout(() => void flush(), 100);
    };

    type Keys = Map<string, Buffer[] | undefined>;
    let active = 0;
    let queuedTotal = 0;
    /** Requests in flight per provider. */
    const inFlight = new Map<string, number>();
    /** Claimed deliveries waiting for their provider's share (at most about a share and a half each). */
    const queued = new Map<string, { d: ClaimedDelivery; keys: Keys }[]>();
    // Only this pass's loop waits, so one waiter is enough.
    let released: (() => void) | undefined;
    const waitRelease = () => new Promise<void>((resolve) => { released = resolve; });
    const waiting = (provider: string) => queued.get(provider)?.length ?? 0;
    // A provider gets more claimed while fewer than half a share of its deliveries wait: its
    // requests in flight never run dry waiting for a claim's round trip (a single platform's
    // burst, the benchmark's case), and a provider whose requests hang holds at most a share in
    // flight and about a share and a half waiting, well within the lease.
    const refillBelow = Math.ceil(perProvider / 2);

    const pump = (): void => {
      for (const [provider, q] of queued) {
        if (active >= concurrency) return;
        // A provider's first request in flight may take any free slot; its further ones only
        // the slots outside the reserve, so that endpoints hanging until the timeout, each with
        // its share, never hold every slot: a provider with nothing in flight still starts one.
        while (q.length > 0 && active < concurrency && (inFlight.get(provider) ?? 0) < perProvider && ((inFlight.get(provider) ?? 0) === 0 || active < shared)) {
          const { d, keys } = q.shift()!;
          queuedTotal--;
          active++;
          inFlight.set(provider, (inFlight.get(provider) ?? 0) + 1);
          void attempt(d, keys).then(push).finally(() => {
            active--;
            const left = inFlight.get(provider)! - 1;
            if (left === 0) inFlight.delete(provider);
            else inFlight.set(provider, left);
            pump();
            const wake = released;
            released = undefined;
            wake?.();
          });
        }
        if (q.length === 0) queued.delete(provider);
      }
    };

    type Claim = { ok: true; batch: ClaimedDelivery[]; keys: Keys; skipped: string[]; reserveOnly: boolean } | { ok: false; error: unknown };
    // Settled into a value, so that a failure surfaces where it is awaited and never as an
    // unhandled rejection. The secrets are opened once per claimed batch.
    const claim = (): Promise<Claim> => {
      // The shared slots all taken (endpoints hanging until the timeout, say): only the reserve
      // is free, for providers with nothing in flight or waiting, one delivery each, no more
      // than the free slots, so that everything claimed starts at once (none waits out its
      // lease) and busy providers are not refilled meanwhile.
      const reserveOnly = active >= shared;
      const skip = reserveOnly ? [...new Set([...inFlight.keys(), ...queued.keys()])] : [...queued.keys()].filter((p) => waiting(p) >= refillBelow);
      return claimDueDeliveries(pool, now(), reserveOnly ? concurrency - active : batchSize, leaseMs, reserveOnly ? 1 : perProvider, skip)
        .then(async (batch): Promise<Claim> => ({ ok: true, batch, keys: batch.length > 0 ? await keysOf(batch) : new Map(), skipped: skip, reserveOnly }))
        .catch((error: unknown): Claim => ({ ok: false, error }));
    };
    passKicks.add(onKick);
    try {
      while (!shouldStop()) {
        // Claim again only when there is room: a free request slot and no more than a batch
        // waiting, so claimed deliveries never wait long enough for their lease to run out.
        while (active >= concurrency || queuedTotal >= batchSize) await waitRelease();
        if (active >= shared && !kickedHere) {
          // Only the reserve is free: it is claimed for on a kick or the poll (a change, a
          // retry come due), else when shared slots are free again; not after every claim or
          // request ending (a claim per delivery when two busy providers fill the shared slots).
          const poll = intervalMs > 0 ? setTimeout(onKick, intervalMs) : undefined;
          try {
            while (active >= shared && !kickedHere && !shouldStop()) await waitRelease();
          } finally {
            clearTimeout(poll);
          }
          continue;
        }
        // A kick from here on may be for a change this claim does not see: it claims again.
        kickedHere = false;
        const c = await claim();
        if (!c.ok) throw c.error;
        for (const d of c.batch) {
          const q = queued.get(d.provider_id);
          if (q) q.push({ d, keys: c.keys });
          else queued.set(d.provider_id, [{ d, keys: c.keys }]);
          queuedTotal++;
        }
        pump();
        if (c.batch.length === 0) {
          // Nothing due outside the providers left out of the claim (enough of theirs waiting):
          // done once the requests in flight have ended, unless there were such providers (they
          // may have more due). Then claim again once one of them is down to less than half a
          // share waiting (not after every request: that would be a claim per delivery), or at
          // once if their requests all ended. A kick since the claim began claims again at once,
          // and so does the poll interval (another process's changes, retries coming due), as
          // it would between passes.
          const poll = intervalMs > 0 && active > 0 ? setTimeout(onKick, intervalMs) : undefined;
          try {
            if (c.reserveOnly) {
              // Waits at the top of the loop (for a kick, the poll, or free shared slots).
              continue;
            } else if (c.skipped.length === 0) {
              while (active > 0 && !kickedHere && !shouldStop()) await waitRelease();
              if (!kickedHere) break;
            } else {
              while (active > 0 && !c.skipped.some((p) => waiting(p) < refillBelow) && !kickedHere && !shouldStop()) await waitRelease();
            }
          } finally {
            clearTimeout(poll);
          }
        }
      }
    } finally {
      passKicks.delete(onKick);
      // Claimed deliveries are attempted even when the pass stops or a claim failed (else they
      // would wait for their lease to end).
      for (;;) {
        pump();
        if (active === 0) break;
        await waitRelease();
      }
      await flush();
    }
  }

  let stopped = false;
  let kicked = false;
  /** The kick listeners of the passes running (each wakes its pass while it waits for requests). */
  const passKicks = new Set<() => void>();
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const passes = new Set<Promise<void>>();
  const run = (shouldStop: () => boolean): Promise<void> => {
    const p = pass(shouldStop).finally(() => passes.delete(p));
    passes.add(p);
    return p;
  };

  const loop = (async () => {
    while (!stopped) {
      kicked = false;
      try {
        await run(() => stopped);
      } catch (e) {
        log?.warn({ err: { name: (e as Error).name, code: (e as { code?: string }).code } }, 'webhook dispatch pass failed; will retry');
      }
      if (stopped) break;
      if (kicked) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (intervalMs > 0) timer = setTimeout(resolve, intervalMs);
      });
      wake = undefined;
      if (timer) clearTimeout(timer);
      timer = undefined;
    }
  })();

  let soon: NodeJS.Timeout | undefined;
  const kick = () => {
    kicked = true;
    wake?.();
    for (const k of passKicks) k();
  };
  return {
    kick,
    kickSoon() {
      if (stopped || soon) return;
      soon = setTimeout(() => {
        soon = undefined;
        kick();
      }, KICK_SOON_MS);
      soon.unref();
    },
    async drain() {
      const before = { ...counters };
      // Passes until one finds nothing due (a pass stops early when a batch came back short),
      // after any pass already running (the loop's) has recorded its results.
      for (;;) {
        await Promise.all([...passes]);
        const attemptsBefore = counters.attempts;
        await run(() => stopped);
        if (stopped || (counters.attempts === attemptsBefore && passes.size === 0)) break;
      }
      return { attempts: counters.attempts - before.attempts, delivered: counters.delivered - before.delivered, failed: counters.failed - before.failed, dead: counters.dead - before.dead };
    },
    async stop() {
      stopped = true;
      clearTimeout(soon);
      wake?.();
      for (const k of passKicks) k();
      await loop;
      await Promise.all([...passes]);
    },
    stats: () => ({ ...counters }),
  };
}
