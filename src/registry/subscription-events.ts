/**
 * Carriers' delta files (issue 2, "Deltas"): NDJSON events applied to the subscriber registry in
 * file order. `event_id` makes a re-sent event a no-op that gets the answer it first got; an event
 * older than the last one applied to the number's latest subscription, live or ended, is recorded
 * but does not override the newer state; a holder change, or a terminated number registered again,
 * is a new subscription of a new holder, the old one kept as history (DESIGN.md invariant 7: a
 * number is not a person).
 *
 * Runs under the same import_runs bookkeeping as file imports: resumable from the last committed
 * batch, rejects written with line, field and code only.
 */
import type pg from 'pg';
import { uuidv7 } from '../kernel/ids.ts';
import { blindIndex } from '../kernel/crypto/blind-index.ts';
import { associatedData, sealRecord } from '../kernel/crypto/envelope.ts';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { normaliseVietnameseMobile } from './phone-number.ts';
import { isWellFormedPersonalId } from './personal-id.ts';
import { canonicalName } from './name-match.ts';
import { isoInstant, parseCalendarDate } from './dates.ts';
import { CHANNELS, hasControlCharacter, latestAcceptedTime, parsePastInstant, type Channel, type SubscriptionRow } from './registry-rows.ts';
import { msisdnIndex, personalIdIndex, sealSubscription, subscriptionIndexes } from './row-crypto.ts';
import type { RejectCode, RowReject } from './reject-codes.ts';
import { inputFileSize, openChunkedSource } from './import/chunk-reader.ts';
import { parseChunk } from './import/record-parser.ts';
import type { SourceItem } from './import/import-protocol.ts';
import * as repo from './import/import-repository.ts';
import { fileSha256 } from './import/import-service.ts';
import { beginImportRun, completeImportRun, connectForRun, failImportRun, releaseImportLocks, type ImportProgress, type ImportSummary } from './import/import-runs.ts';
import { RegistryError } from './registry-errors.ts';
import { applyRegistryStateToBindings, flagBindingsOfContestedSubscriptions } from '../bindings/binding-lifecycle.ts';

export const EVENT_TYPES = [
  'registered', 'holder_changed', 'blocked_outgoing', 'blocked_both', 'unblocked', 'terminated', 'sim_changed', 'device_changed', 'ported_out', 'ported_in',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_FIELDS = ['event_id', 'type', 'msisdn', 'at', 'holder_personal_id', 'holder_full_name', 'holder_birth_date', 'channel'] as const;

/** Types that start a new subscription and so carry the holder's data. */
const STARTS_SUBSCRIPTION: ReadonlySet<EventType> = new Set(['registered', 'holder_changed', 'ported_in']);

export interface SubscriptionEvent {
  eventId: string;
  type: EventType;
  msisdn: string;
  at: string;
  holderPersonalId: string;
  holderFullName: string;
  holderBirthDate: string;
  channel: Channel | '';
}

type Checked = { ok: true; event: SubscriptionEvent } | { ok: false; field: string; code: RejectCode };

/** `notAfterMs`: the latest time accepted (registry-rows.ts latestAcceptedTime, taken at the start of the run). */
export function validateEvent(record: Readonly<Record<string, string | undefined>>, notAfterMs: number): Checked {
  const v = (f: string) => (record[f] ?? '').trim();
  for (const f of ['event_id', 'type', 'msisdn', 'at']) if (v(f) === '') return { ok: false, field: f, code: 'MISSING_FIELD' };
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(v('event_id'))) return { ok: false, field: 'event_id', code: 'MALFORMED_ROW' };
  const type = v('type');
  if (!(EVENT_TYPES as readonly string[]).includes(type)) return { ok: false, field: 'type', code: 'EVENT_TYPE_UNKNOWN' };
  const msisdn = normaliseVietnameseMobile(v('msisdn'));
  if (!msisdn) return { ok: false, field: 'msisdn', code: 'NOT_VIETNAMESE_MOBILE' };
  const at = parsePastInstant(v('at'), notAfterMs);
  if (!at) return { ok: false, field: 'at', code: 'DATE_INVALID' };
  let holderPersonalId = '';
  let holderFullName = '';
  let holderBirthDate = '';
  let channel: Channel | '' = '';
  if (STARTS_SUBSCRIPTION.has(type as EventType)) {
    holderPersonalId = v('holder_personal_id');
    if (holderPersonalId !== '' && !isWellFormedPersonalId(holderPersonalId)) return { ok: false, field: 'holder_personal_id', code: 'PERSONAL_ID_INVALID' };
    holderFullName = canonicalName(v('holder_full_name'));
    if (hasControlCharacter(holderFullName) || holderFullName.length > 200) return { ok: false, field: 'holder_full_name', code: 'NAME_INVALID' };
    const birth = v('holder_birth_date');
    if (birth !== '' && !parseCalendarDate(birth)) return { ok: false, field: 'holder_birth_date', code: 'DATE_INVALID' };
    holderBirthDate = birth;
    const ch = v('channel');
    if (ch === '' && type === 'holder_changed') channel = 'store';
    else if (!(CHANNELS as readonly string[]).includes(ch)) return { ok: false, field: 'channel', code: ch === '' ? 'MISSING_FIELD' : 'CHANNEL_UNKNOWN' };
    else channel = ch as Channel;
  }
  return { ok: true, event: { eventId: v('event_id'), type: type as EventType, msisdn, at, holderPersonalId, holderFullName, holderBirthDate, channel } };
}

function eventSealedFields(e: SubscriptionEvent): string[] {
  return [e.msisdn, e.holderPersonalId, e.holderFullName, e.holderBirthDate, e.channel];
}

interface NumberRow {
  id: string;
  status: string;
  holder_bidx: Buffer | null;
  sim_changed_at: Date | null;
  device_changed_at: Date | null;
  registered_at: Date;
  last_event_at: Date | null;
  ended_at: Date | null;
  ended_reason: 'holder_changed' | 'terminated' | 'ported_out' | null;
}

/**
 * `touched`: the subscription whose bindings the event may move on (DESIGN.md invariant 7): the
 * one a holder change, termination or port-out ended, or the one whose SIM changed.
 */
type Outcome = { kind: 'applied' | 'stale'; subscriptionId: string | null; touched?: string } | { kind: 'rejected'; code: RejectCode; field: string };

/** The time of the last thing applied to a subscription: its registration, last event or end. */
function newestOf(s: NumberRow): number {
  return Math.max(s.registered_at.getTime(), s.last_event_at?.getTime() ?? 0, s.ended_at?.getTime() ?? 0);
}

/**
 * The subscription a stale event belongs to: the one that held the number at `at`, the one
 * registered most recently at or before it and not yet ended then. None when the number had no
 * subscription at that carrier then (before its first registration, or between two). `history`
 * is newest registration first.
 */
function heldAt(history: readonly NumberRow[], at: number): string | null {
  const s = history.find((h) => h.registered_at.getTime() <= at);
  return s && (s.ended_at === null || s.ended_at.getTime() >= at) ? s.id : null;
}

/**
 * The subscription an event starts, live, or already ended (`ended`: a holder change that arrived
 * after the next one, see applyEvent). A port-in is a new SIM at the new carrier, so it counts as
 * a SIM change at its time: a number ported away from its holder (a known way to take over
 * someone's number, as a SIM swap is) does not verify anyone within the SIM-change window (issue 3).
 */
async function insertSubscriptionFromEvent(client: pg.PoolClient, ring: KeyRing, carrierId: number, e: SubscriptionEvent, runId: string,
  ended?: { at: Date; reason: string | null }): Promise<string> {
  const row = eventRow(e, ended ? 'terminated' : 'active');
  const id = uuidv7();
  const ix = subscriptionIndexes(ring.currentBlindIndex, row);
  await client.query(
    `INSERT INTO subscriptions (id, carrier_id, msisdn_bidx, holder_bidx, holder_match_bidx, digest, bidx_version, sealed, dek_version,
       channel, registered_at, status, last_event_at, import_run_id, sim_changed_at, ended_at, ended_reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $13, $11, $12, $14, $15, $16)`,
    [id, carrierId, ix.msisdnBidx, ix.holderBidx, ix.holderMatchBidx, ix.digest, ring.currentBlindIndex.version,
      sealSubscription(ring.currentData, id, row), ring.currentData.version, row.channel, e.at, runId, row.status,
      row.simChangedAt || null, ended?.at ?? null, ended ? (ended.reason ?? 'terminated') : null],
  );
  return id;
}

/**
 * Whether a holder change names the subscription's own holder: the same personal ID (blind index),
 * or none on both, the rule of a full file's row (import-service.ts sameHolder). The subscription
 * was found by the current blind-index key, so its holder index is under that key too.
 */
function namesHolderOf(ring: KeyRing, e: SubscriptionEvent, s: NumberRow): boolean {
  const named = e.holderPersonalId === '' ? null : personalIdIndex(ring.currentBlindIndex.key, e.holderPersonalId);
  return named === null || s.holder_bidx === null ? named === s.holder_bidx : named.equals(s.holder_bidx);
}

function eventRow(e: SubscriptionEvent, status: SubscriptionRow['status']): SubscriptionRow {
  return {
    msisdn: e.msisdn, holderPersonalId: e.holderPersonalId, holderFullName: e.holderFullName, holderBirthDate: e.holderBirthDate,
    channel: e.channel as Channel, registeredAt: e.at, status, simChangedAt: e.type === 'ported_in' ? e.at : '', deviceChangedAt: '',
  };
}

/**
 * A holder change naming the live subscription's own holder: the number did not change hands (a
 * carrier re-registering its subscriber, at a store or through VNeID, or correcting the name or
 * birth date). As a full file's row of the same holder does, it corrects the holder's data and
 * channel in place and keeps the subscription, its registration, state and history, and the
 * bindings made through it; ending it would revoke the person's accounts for a correction (issue 2
 * "Deltas": a change of holder is a new subscription of a new holder; this is none). Reconciliation
 * compares the corrected data with the population registry, and the verification's checks read it.
 */
async function correctHolderInPlace(client: pg.PoolClient, ring: KeyRing, live: NumberRow, e: SubscriptionEvent): Promise<void> {
  const row: SubscriptionRow = {
    ...eventRow(e, live.status as SubscriptionRow['status']), registeredAt: isoInstant(live.registered_at.getTime()),
    simChangedAt: live.sim_changed_at ? isoInstant(live.sim_changed_at.getTime()) : '', deviceChangedAt: live.device_changed_at ? isoInstant(live.device_changed_at.getTime()) : '',
  };
  const ix = subscriptionIndexes(ring.currentBlindIndex, row);
  await client.query(
    `UPDATE subscriptions SET holder_bidx = $2, holder_match_bidx = $3, digest = $4, bidx_version = $5, sealed = $6, dek_version = $7,
       channel = $8, last_event_at = greatest(last_event_at, $9), updated_at = now()
     WHERE id = $1`,
    [live.id, ix.holderBidx, ix.holderMatchBidx, ix.digest, ring.currentBlindIndex.version, sealSubscription(ring.currentData, live.id, row),
      ring.currentData.version, row.channel, e.at],
  );
}

/**
 * Staleness is decided against the number's latest subscription at this carrier, live or ended
 * (issue 2 "Deltas": an event older than the last one applied to that subscription is recorded but
 * does not override). Checking only a live one let an event older than a termination be refused,
 * or, for `registered` and `ported_in`, revive the terminated number with a registration before its
 * end; and once the number had a new holder, the same old event became "stale" against the new
 * holder's subscription on a second import. So: older than the latest subscription's last change,
 * the event is stale, recorded against the subscription that held the number at its time, and
 * changes nothing (no revival, no new holder, no binding moved); otherwise it applies to the live
 * subscription, or starts one when there is none (a terminated number registered again is a new
 * subscription of a new holder).
 */
async function applyEvent(client: pg.PoolClient, ring: KeyRing, carrierId: number, e: SubscriptionEvent, runId: string): Promise<Outcome> {
  const bidx = msisdnIndex(ring.currentBlindIndex.key, e.msisdn);
  // Every subscription ever held of the number at the carrier (a handful): subscriptions of one
  // number follow each other, so the newest registration is the latest one, and at most one is live.
  const r = await client.query<NumberRow>(
    `SELECT id, status, holder_bidx, sim_changed_at, device_changed_at, registered_at, last_event_at, ended_at, ended_reason FROM subscriptions
     WHERE carrier_id = $1 AND msisdn_bidx = $2 ORDER BY registered_at DESC, id DESC FOR UPDATE`,
    [carrierId, bidx],
  );
  const live = r.rows.find((s) => s.status !== 'terminated');
  const latest = live ?? r.rows[0];
  const at = Date.parse(e.at);
  // An ending (termination, port-out, new holder) that arrives late still ends the live
  // subscription if it happened after that subscription's registration, even when a block, a
  // SIM or a device change dated after it was applied first: the number stopped being this
  // holder's at `at` (DESIGN.md invariant 7; fail closed), and leaving it live would keep every
  // binding made through it verified. So does a SIM or device change: it is a fact about the
  // number at `at`, not a state a newer event replaces, and a swap dropped as stale behind a later
  // unblock would leave the number eligible inside the SIM-change window (issue 3) and its
  // bindings verified. It sets the later of the two times. Anything else (a block or unblock, a
  // registration) is stale once older than the latest change; except that a registration after
  // the end of the number's latest subscription starts the next one even if events dated after
  // it were applied to the ended one first (a termination that arrived late): those events were
  // the new subscription's, and move to it.
  const ending = e.type === 'terminated' || e.type === 'ported_out' || e.type === 'holder_changed';
  const change = e.type === 'sim_changed' || e.type === 'device_changed';
  const starting = e.type === 'registered' || e.type === 'ported_in';
  // A block or unblock is replaced only by a later block or unblock: a SIM or device change dated
  // after it says nothing about it, and dropping a block as stale behind one would leave the
  // number active (and eligible once the SIM-change window has passed).
  const blockState = e.type === 'blocked_outgoing' || e.type === 'blocked_both' || e.type === 'unblocked';
  const since = (ending || change) && live ? live.registered_at.getTime()
    : blockState && live ? Math.max(live.registered_at.getTime(), (await repo.lastBlockEventAt(client, live.id)) ?? -Infinity)
      : starting && !live && latest?.ended_at ? latest.ended_at.getTime()
        : latest ? newestOf(latest) : -Infinity;
  if (latest && at < since) {
    // A holder change older than the next one (or than the end) of the subscription it ends,
    // arriving after it: the number had a holder between the two that the history would lose
    // (issue 2: "keep the history, never merge the two"). That holder's subscription is inserted,
    // already ended as the one it interrupts ended, and takes what was reported after its start.
    const held = r.rows.find((h) => h.registered_at.getTime() < at);
    if (e.type === 'holder_changed' && held?.ended_at && held.ended_at.getTime() > at && !namesHolderOf(ring, e, held)) {
      const id = await insertSubscriptionFromEvent(client, ring, carrierId, e, runId, { at: held.ended_at, reason: held.ended_reason });
      await client.query(`UPDATE subscriptions SET ended_at = $2, ended_reason = 'holder_changed', updated_at = now() WHERE id = $1`, [held.id, e.at]);
      await repo.handOverLaterChanges(client, held.id, id, e.at);
      return { kind: 'applied', subscriptionId: id, touched: held.id };
    }
    return { kind: 'stale', subscriptionId: heldAt(r.rows, at) };
  }

  switch (e.type) {
    case 'registered':
    case 'ported_in': {
      if (live) return { kind: 'rejected', code: 'NUMBER_ALREADY_ACTIVE', field: 'msisdn' };
      const id = await insertSubscriptionFromEvent(client, ring, carrierId, e, runId);
      if (latest && newestOf(latest) > at) await repo.handOverLaterChanges(client, latest.id, id, e.at);
      await flagBindingsOfContestedSubscriptions(client, await repo.contestedSubscriptions(client, [id]));
      return { kind: 'applied', subscriptionId: id };
    }
    case 'holder_changed': {
      if (!live) return { kind: 'rejected', code: 'NO_LIVE_SUBSCRIPTION', field: 'msisdn' };
      if (namesHolderOf(ring, e, live)) {
        await correctHolderInPlace(client, ring, live, e);
        return { kind: 'applied', subscriptionId: live.id };
      }
      await repo.endSubscriptions(client, [live.id], 'holder_changed', e.at);
      const id = await insertSubscriptionFromEvent(client, ring, carrierId, e, runId);
      if (newestOf(live) > at) await repo.handOverLaterChanges(client, live.id, id, e.at);
      await flagBindingsOfContestedSubscriptions(client, await repo.contestedSubscriptions(client, [id]));
      return { kind: 'applied', subscriptionId: id, touched: live.id };
    }
    case 'terminated':
    case 'ported_out': {
      if (!live) return { kind: 'rejected', code: 'NO_LIVE_SUBSCRIPTION', field: 'msisdn' };
      await repo.endSubscriptions(client, [live.id], e.type, e.at);
      // A late ending keeps the latest time applied (staleness of what comes after is decided by it).
      await client.query('UPDATE subscriptions SET last_event_at = greatest(last_event_at, $2) WHERE id = $1', [live.id, e.at]);
      return { kind: 'applied', subscriptionId: live.id, touched: live.id };
    }
    default: {
      if (!live) return { kind: 'rejected', code: 'NO_LIVE_SUBSCRIPTION', field: 'msisdn' };
      const set: Record<string, string> = {
        blocked_outgoing: "status = 'blocked_outgoing'",
        blocked_both: "status = 'blocked_both'",
        unblocked: "status = 'active'",
        sim_changed: 'sim_changed_at = greatest(sim_changed_at, $2)',
        device_changed: 'device_changed_at = greatest(device_changed_at, $2)',
      };
      await client.query(`UPDATE subscriptions SET ${set[e.type]}, last_event_at = greatest(last_event_at, $2), updated_at = now() WHERE id = $1`, [live.id, e.at]);
      return { kind: 'applied', subscriptionId: live.id, ...(e.type === 'sim_changed' ? { touched: live.id } : {}) };
    }
  }
}

export interface ApplyEventsOptions {
  pool: pg.Pool;
  ring: KeyRing;
  carrier: string;
  path: string;
  /** Opens the file's bytes (default: read `path`); carriers' sealed uploads decrypt here. */
  open?: () => NodeJS.ReadableStream;
  rejectsPath: string;
  batchSize?: number;
  onProgress?: (p: ImportProgress) => void;
  actor?: string;
  /** As ImportOptions.sha256: the file's SHA-256 when the caller already has it. */
  sha256?: string;
  /** As ImportOptions.onRunStarted. */
  onRunStarted?: (run: { runId: string; resumedAfterLine: number }) => Promise<void> | void;
  /**
   * The configured SIM-change window (IDBIND_SIM_CHANGE_WINDOW_HOURS; default 72): a SIM change
   * reported late flags the bindings verified within it after the change (binding-lifecycle.ts).
   */
  simChangeWindowHours?: number;
}

export async function applySubscriptionEvents(options: ApplyEventsOptions): Promise<ImportSummary> {
  const { pool, ring } = options;
  // The ending in any case, as the registry files' (chunk-reader.ts formatOf): EVENTS.NDJSON is NDJSON.
  if (!options.path.toLowerCase().endsWith('.ndjson')) throw new RegistryError('IMPORT_FORMAT_INVALID', 'delta files are NDJSON: the file name must end in .ndjson');
  const totalBytes = inputFileSize(options.path);
  const sha256 = options.sha256 ?? (await fileSha256(options.path));
  const batchSize = options.batchSize ?? 500;
  // Opening checks the file's start: a file refused whole (not NDJSON) never starts a run, nor
  // abandons the carrier's interrupted one, as in importRegistry.
  const chunked = await openChunkedSource({ path: options.path, open: options.open, fields: EVENT_FIELDS, required: [] });
  const client = await connectForRun(pool, chunked);
  let runId: string | undefined;
  try {
    const carrierId = await repo.findOrCreateCarrier(client, options.carrier);
    const run = await beginImportRun(client, pool, ring, { kind: 'subscription_events', carrierId, carrierSlug: options.carrier, path: options.path, sha256, totalBytes });
    runId = run.runId;
    const { resumedAfter, progress } = run;
    const notAfterMs = latestAcceptedTime();
    await options.onRunStarted?.({ runId, resumedAfterLine: resumedAfter });
    // Deltas are applied one by one in file order, so they are parsed here rather than in workers.
    const decoder = new TextDecoder('utf-8');
    /**
     * The bytes up to the end of the event being applied: at a commit, those of the events it
     * commits (the progress reported), not the reader's read-ahead of up to a chunk.
     */
    let appliedBytes = 0;
    async function* events(): AsyncGenerator<SourceItem> {
      for await (const chunk of chunked.chunks) {
        const chunkStart = chunk.endByte - chunk.bytes.length;
        // Where each of the chunk's lines ends, by its index in the chunk (a record is one line).
        const lineEnds: number[] = [];
        for (let i = chunk.bytes.indexOf(0x0a); i !== -1; i = chunk.bytes.indexOf(0x0a, i + 1)) lineEnds.push(i + 1);
        for (const { item } of parseChunk(decoder.decode(chunk.bytes), chunk.startLine, 'ndjson', [], EVENT_FIELDS)) {
          appliedBytes = chunkStart + (lineEnds[item.line - chunk.startLine] ?? chunk.bytes.length);
          yield item;
        }
        appliedBytes = chunk.endByte;
      }
    }
    const source = events();
    let counters = { accepted: 0, unchanged: 0, rows: 0 };
    let rejects: RowReject[] = [];
    let touched: string[] = [];
    let lastLine = resumedAfter;
    const currentRunId = runId;
    const commit = async () => {
      // The batch's bindings move on with its registry changes, in its transaction (DESIGN.md
      // invariant 7), from the state the batch leaves: a SIM change then a termination revokes.
      if (touched.length > 0) await applyRegistryStateToBindings(client, { subscriptionIds: [...new Set(touched)] }, options.simChangeWindowHours);
      touched = [];
      await repo.insertRejects(client, currentRunId, rejects);
      await repo.advanceRun(client, currentRunId, { checkpointLine: lastLine, rowsRead: counters.rows, accepted: counters.accepted, unchanged: counters.unchanged, rejected: rejects.length });
      await client.query('COMMIT');
      progress.bytes = appliedBytes;
      progress.rowsRead += counters.rows;
      progress.accepted += counters.accepted;
      progress.unchanged += counters.unchanged;
      progress.rejected += rejects.length;
      options.onProgress?.({ ...progress });
      counters = { accepted: 0, unchanged: 0, rows: 0 };
      rejects = [];
    };
    await client.query('BEGIN');
    try {
      for await (const item of source) {
        if (item.line <= resumedAfter) continue;
        counters.rows++;
        lastLine = item.line;
        if (item.malformed) rejects.push({ line: item.line, ...item.malformed });
        else {
          const checked = validateEvent(item.record, notAfterMs);
          if (!checked.ok) rejects.push({ line: item.line, field: checked.field, code: checked.code });
          else {
            const e = checked.event;
            const fields = eventSealedFields(e);
            const digest = blindIndex(ring.currentBlindIndex.key, 'subscription_event.digest', [e.type, e.at, ...fields].join('\u001f'));
            const prior = await client.query<{ digest: Buffer; import_run_id: string | null; outcome: string; reject_code: RejectCode | null }>(
              'SELECT digest, import_run_id, outcome, reject_code FROM subscription_events WHERE carrier_id = $1 AND event_id = $2',
              [carrierId, e.eventId],
            );
            const p = prior.rows[0];
            // An event id repeated within one file is a duplicate whether its first occurrence was
            // applied by this run or found unchanged (then remembered in import_seen).
            const seenKey = Buffer.from(e.eventId, 'utf8');
            const repeated = p !== undefined && (p.import_run_id === currentRunId || (await repo.probeSeen(client, currentRunId, [seenKey])).size > 0);
            if (repeated) rejects.push({ line: item.line, field: 'event_id', code: 'DUPLICATE_KEY' });
            else if (p && p.digest.equals(digest)) {
              // The same event again gets the answer it got (issue 2: applying the same event twice
              // changes nothing): applied or stale, nothing to do; refused by the number's state, the
              // same refusal, not a second evaluation against a state that later events of the same
              // file may have changed (importing the same file twice changes nothing).
              if (p.outcome === 'rejected') rejects.push({ line: item.line, field: 'msisdn', code: p.reject_code ?? 'NO_LIVE_SUBSCRIPTION' });
              else counters.unchanged++;
              await repo.insertSeen(client, currentRunId, [seenKey]);
            }
            else if (p) rejects.push({ line: item.line, field: 'event_id', code: 'EVENT_ID_REUSED' });
            else {
              await client.query('SAVEPOINT ev');
              const outcome = await applyEvent(client, ring, carrierId, e, currentRunId);
              if (outcome.kind === 'rejected') {
                await client.query('ROLLBACK TO SAVEPOINT ev');
                rejects.push({ line: item.line, field: outcome.field, code: outcome.code });
              } else {
                if (outcome.kind === 'applied' && outcome.touched) touched.push(outcome.touched);
                counters.accepted++;
              }
              const id = await client.query<{ id: string }>(
                `INSERT INTO subscription_events (carrier_id, event_id, type, at, msisdn_bidx, bidx_version, digest, sealed, dek_version,
                   subscription_id, outcome, reject_code, import_run_id) VALUES ($1, $2, $3, $4, $5, $6, $7, '\\x', $8, $9, $10, $11, $12) RETURNING id::text AS id`,
                [carrierId, e.eventId, e.type, e.at, msisdnIndex(ring.currentBlindIndex.key, e.msisdn), ring.currentBlindIndex.version, digest,
                  ring.currentData.version, outcome.kind === 'rejected' ? null : outcome.subscriptionId, outcome.kind,
                  outcome.kind === 'rejected' ? outcome.code : null, currentRunId],
              );
              // The associated data names the row, whose id the insert just assigned.
              const rowId = id.rows[0]!.id;
              await client.query('UPDATE subscription_events SET sealed = $2 WHERE id = $1', [
                rowId, sealRecord(ring.currentData.key, ring.currentData.version, fields, associatedData('subscription_events', 'sealed', rowId)),
              ]);
            }
          }
        }
        if (counters.rows >= batchSize) {
          await commit();
          await client.query('BEGIN');
        }
      }
      await commit();
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
    return await completeImportRun(client, run, options.rejectsPath, options.actor ?? 'cli');
  } catch (e) {
    await failImportRun(client, runId, e);
    throw e;
  } finally {
    chunked.close();
    await releaseImportLocks(client);
    client.release();
  }
}
