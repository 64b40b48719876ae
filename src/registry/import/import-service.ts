/**
 * Streaming, resumable, idempotent import of the population registry and of a carrier's
 * subscriber registry (issue 2; DESIGN.md invariants 2, 5, 6).
 *
 * Pipeline: the chunk reader (main thread) cuts the file into chunks of whole records; worker
 * threads parse, validate, blind-index and seal the rows (prepare-batch.ts); the main thread merges
 * each chunk, in file order, in one transaction: probe the existing rows by blind index, classify each row as new, changed,
 * unchanged or a duplicate of an earlier line, COPY the new rows, update the changed ones, and
 * commit the rejects and the run's checkpoint with them. (A population chunk that follows one
 * whose keys were all new skips the probe and relies on the unique index; see mergePersons. A
 * carrier's first import probes only some keys; see mergeSubscriptions.) A killed import run again with the same
 * file resumes after the last committed line; a second import of the same file changes nothing.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import type { KeyRing } from '../../kernel/crypto/key-ring.ts';
import { latestAcceptedTime, validatePersonRecord, validateSubscriptionRecord, vietnamToday, POPULATION_FIELDS, POPULATION_REQUIRED, SUBSCRIPTION_FIELDS, SUBSCRIPTION_REQUIRED } from '../registry-rows.ts';
import { personIndexes, sealPerson, sealSubscription, subscriptionIndexes } from '../row-crypto.ts';
import type { RowReject } from '../reject-codes.ts';
import { openChunkedSource, formatOf, inputFileSize } from './chunk-reader.ts';
import { parseRecord, type SourceFormat } from './record-parser.ts';
import { ImportWorkerPool } from './worker-pool.ts';
import { INDEX_BYTES, type RegistryKind, type SourceItem, type WorkerResult } from './import-protocol.ts';
import { KeyFilter } from './key-filter.ts';
import * as repo from './import-repository.ts';
import { applyRegistryStateToBindings, flagBindingsOfContestedSubscriptions, revokeBindingsOfPersons } from '../../bindings/binding-lifecycle.ts';
import { beginImportRun, completeImportRun, connectForRun, failImportRun, releaseImportLocks, type ImportProgress, type ImportSummary } from './import-runs.ts';

export type { ImportProgress, ImportSummary } from './import-runs.ts';

export interface ImportOptions {
  pool: pg.Pool;
  ring: KeyRing;
  kind: RegistryKind;
  /** Carrier slug, for subscriptions. */
  carrier?: string;
  path: string;
  /** Opens the file's bytes (default: read `path`); carriers' sealed uploads decrypt here. */
  open?: () => NodeJS.ReadableStream;
  rejectsPath: string;
  workers: number;
  /** Bytes per chunk handed to a worker (default 512 KiB; tests use small chunks). */
  chunkBytes?: number;
  onProgress?: (p: ImportProgress) => void;
  /** Who runs it, for the run's access record (`cli`, `admin-api`, `demo`, `provider:<id>`). */
  actor?: string;
  /** The file's SHA-256 (hex) when the caller already has it (an upload hashed as it arrived): saves reading the file twice. */
  sha256?: string;
  /** Called once the run is open, new or resumed, before any row is read (carrier jobs record the run). */
  onRunStarted?: (run: { runId: string; resumedAfterLine: number }) => Promise<void> | void;
  /**
   * Population only (`idbind import population --correct-deaths`): a row may record as alive a
   * person stored as deceased. Off by default, fail closed: such a row is far more often an older
   * file imported again than a corrected death, and taken it would make the numbers the person
   * held verify whoever holds them now. A correction is a deliberate act.
   */
  correctDeaths?: boolean;
  /**
   * Subscriptions only: the configured SIM-change window (IDBIND_SIM_CHANGE_WINDOW_HOURS; default
   * 72). A SIM change a full file reports late flags the bindings verified within it after the
   * change (binding-lifecycle.ts), as the eligibility check would have refused them.
   */
  simChangeWindowHours?: number;
}

export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface BatchOutcome {
  accepted: number;
  unchanged: number;
  rejects: RowReject[];
  /** Whether any of the batch's keys was already stored (the probe found it). */
  foundStored: boolean;
}

/**
 * A batch merged without probing some of its keys met a stored one: the unique index of people's
 * personal IDs (mergePersons) or of a carrier's live numbers (mergeSubscriptions) refused it.
 */
/** SQLSTATE of the transaction PostgreSQL aborts to break a deadlock. */
const DEADLOCK_DETECTED = '40P01';
/** How many times a batch aborted by a deadlock is merged again before the run fails (resumable). */
const DEADLOCK_RETRIES = 5;

function isUnprobedKeyConflict(e: unknown): boolean {
  const pe = e as { code?: string; constraint?: string };
  return pe.code === '23505' && (pe.constraint === 'persons_pid_bidx' || pe.constraint === 'subscriptions_live_number');
}

/** A worker's batch seen row by row, without copying its buffers. */
class BatchView {
  constructor(readonly result: WorkerResult, private readonly source: { format: SourceFormat; header: string[]; fields: readonly string[] }) {}
  key(i: number): Buffer {
    return Buffer.from(this.result.keys.buffer, this.result.keys.byteOffset + i * INDEX_BYTES, INDEX_BYTES);
  }
  digest(i: number): Buffer {
    return Buffer.from(this.result.digests.buffer, this.result.digests.byteOffset + i * INDEX_BYTES, INDEX_BYTES);
  }
  holder(i: number): Buffer | null {
    if (!this.result.hasHolder[i]) return null;
    return Buffer.from(this.result.holders.buffer, this.result.holders.byteOffset + i * INDEX_BYTES, INDEX_BYTES);
  }
  isTerminated(i: number): boolean {
    return this.result.terminated[i] === 1;
  }
  line(i: number): number {
    return this.result.lines[i]!;
  }
  copy(i: number): Uint8Array {
    return this.result.copyTuples.subarray(this.result.copyOffsets[i], this.result.copyOffsets[i + 1]);
  }
  /** The record of row i, parsed again from its text (only changed rows need it: they are re-sealed here). */
  record(i: number): SourceItem['record'] {
    return parseRecord(this.result.text.slice(this.result.rawSpans[2 * i], this.result.rawSpans[2 * i + 1]), this.line(i), this.source.format, this.source.header, this.source.fields).record;
  }
}

interface FirstOccurrences {
  /** The indexes of the rows that remain. */
  keep: number[];
  /** Row i's key in hex (for every row kept), computed once per row. */
  hex: string[];
  /** The kept rows' keys, packed for the probe (import-repository.ts packKeys). */
  packed: Buffer;
}

/** Rows repeating a key seen earlier in the same batch are duplicates (the later line loses). */
function firstOccurrences(view: BatchView, keyField: string, rejects: RowReject[]): FirstOccurrences {
  const seen = new Set<string>();
  const keep: number[] = [];
  const hex: string[] = new Array<string>(view.result.count);
  for (let i = 0; i < view.result.count; i++) {
    const k = view.key(i).toString('hex');
    if (seen.has(k)) rejects.push({ line: view.line(i), field: keyField, code: 'DUPLICATE_KEY' });
    else {
      seen.add(k);
      keep.push(i);
      hex[i] = k;
    }
  }
  // Usually every row is kept: then the worker's key buffer is the packed list, without a copy.
  const packed = keep.length === view.result.count
    ? Buffer.from(view.result.keys.buffer, view.result.keys.byteOffset, keep.length * INDEX_BYTES)
    : repo.packKeys(keep.map((i) => view.key(i)));
  return { keep, hex, packed };
}

/** The new rows' COPY tuples: the whole batch's when every row is new (the first import). */
function copyTuplesOf(view: BatchView, fresh: number[]): Uint8Array {
  if (fresh.length === view.result.count) return view.result.copyTuples;
  return Buffer.concat(fresh.map((i) => view.copy(i)));
}

/**
 * `probe: false` inserts every row of the batch without first looking its keys up: for a batch
 * of new people (a first import) the probe was about a quarter of the server's work per person
 * (docs/benchmarks.md). It is safe because persons_pid_bidx is unique: a key stored before, or
 * earlier in the file, makes the COPY fail, and the caller then merges the batch again with its
 * probe (an in-file duplicate is then rejected as such, a stored row compared as always).
 */
async function mergePersons(client: pg.PoolClient, ring: KeyRing, runId: string, view: BatchView, today: string, probe: boolean, correctDeaths: boolean): Promise<BatchOutcome> {
  const rejects: RowReject[] = [];
  const { keep: unique, hex: hexKeys, packed } = firstOccurrences(view, 'personal_id', rejects);
  const existing = probe ? await repo.probePersons(client, packed) : new Map<string, repo.ExistingPerson>();
  const seen = existing.size === 0 ? new Set<string>() : await repo.probeSeen(client, runId, [...existing.values()].map((e) => e.pid_bidx));
  const fresh: number[] = [];
  const updates: repo.PersonUpdate[] = [];
  const unchangedKeys: Buffer[] = [];
  const refusedKeys: Buffer[] = [];
  for (const i of unique) {
    const hex = hexKeys[i]!;
    const e = existing.get(hex);
    if (!e) fresh.push(i);
    else if (e.import_run_id === runId || seen.has(hex)) rejects.push({ line: view.line(i), field: 'personal_id', code: 'DUPLICATE_KEY' });
    else if (e.digest.equals(view.digest(i))) unchangedKeys.push(Buffer.from(view.key(i)));
    else {
      // Re-seal under the stored row's id: the associated data names the row.
      const v = validatePersonRecord(view.record(i), today);
      if (!v.ok) throw new Error('a row valid in the worker is invalid here');
      if (e.status === 'deceased' && v.row.status === 'alive' && !correctDeaths) {
        rejects.push({ line: view.line(i), field: 'status', code: 'DECEASED_IN_REGISTRY' });
        // Seen, as mergeSubscriptions' refused rows: a later row of this person is a DUPLICATE_KEY.
        refusedKeys.push(Buffer.from(view.key(i)));
        continue;
      }
      const ix = personIndexes(ring.currentBlindIndex, v.row);
      updates.push({
        id: e.id, matchBidx: ix.matchBidx, digest: ix.digest, bidxVersion: ring.currentBlindIndex.version,
        sealed: sealPerson(ring.currentData, e.id, v.row), dekVersion: ring.currentData.version, status: v.row.status, line: view.line(i),
      });
    }
  }
  await repo.copyInto(client, 'persons', repo.PERSON_COPY_COLUMNS, copyTuplesOf(view, fresh));
  await repo.updatePersons(client, runId, updates);
  // A death revokes every binding of the person, in this batch's transaction (DESIGN.md
  // invariant 7; issue 3 "Bindings follow the subscription and the person"). Only changed rows
  // can carry a new death: a first import (all rows new) never pays for this.
  const died = updates.filter((u) => u.status === 'deceased').map((u) => u.id);
  if (died.length > 0) await revokeBindingsOfPersons(client, died, 'deceased');
  await repo.insertSeen(client, runId, [...unchangedKeys, ...refusedKeys]);
  return { accepted: fresh.length + updates.length, unchanged: unchangedKeys.length, rejects, foundStored: existing.size > 0 };
}

/**
 * Whether a file's row names the same holder as the stored subscription: the same personal ID
 * (blind index) or none on both. Only the personal ID says who holds the number; a holder whose
 * name or birth date the carrier corrected is the same person, updated in place (reconciliation
 * compares those with the population registry).
 */
function sameHolder(row: Buffer | null, stored: Buffer | null): boolean {
  return row === null || stored === null ? row === stored : row.equals(stored);
}

/**
 * `firstImport` (the carrier had no subscription when the run began): the probe is only for the
 * keys the unique index of live numbers cannot vouch for. Then nothing stored can match a number
 * but this run's own earlier rows, and a repeated number is a DUPLICATE_KEY in four cases: a live
 * row after a live one (the index refuses the COPY, and the caller merges the batch again with
 * `probeAll`), a terminated row after any (terminated rows are always probed), and a live row
 * after a terminated one (the run's terminated numbers are kept in `firstImport.terminated`, a
 * Bloom filter: a key it may hold is probed). In the issue 2 benchmark about 2 % of a carrier's
 * rows are terminated: the probe, about 4 µs of the server's CPU per row (docs/benchmarks.md), is
 * made for those only.
 */
async function mergeSubscriptions(client: pg.PoolClient, ring: KeyRing, runId: string, carrierId: number, view: BatchView, notAfterMs: number,
  firstImport: { terminated: KeyFilter; probeAll: boolean } | undefined, simChangeWindowHours: number | undefined): Promise<BatchOutcome> {
  const rejects: RowReject[] = [];
  const { keep: unique, hex: hexKeys, packed } = firstOccurrences(view, 'msisdn', rejects);
  const probed = !firstImport || firstImport.probeAll
    ? packed
    : repo.packKeys(unique.filter((i) => view.isTerminated(i) || firstImport.terminated.mayHave(view.key(i))).map((i) => view.key(i)));
  const existing = await repo.probeSubscriptions(client, carrierId, probed);
  const seen = existing.size === 0 ? new Set<string>() : await repo.probeSeen(client, runId, [...existing.values()].map((list) => list[0]!.msisdn_bidx));
  const fresh: number[] = [];
  const updates: repo.SubscriptionUpdate[] = [];
  const ended: { id: string; at: string; msisdnBidx: Buffer; laterChanges: boolean }[] = [];
  const unchangedKeys: Buffer[] = [];
  // A row refused here is remembered as seen too, as an unchanged one is: a later row of the same
  // number in this file is then a DUPLICATE_KEY, as the format says, not taken in its place.
  const refusedKeys: Buffer[] = [];
  const refuse = (i: number, field: string, code: RowReject['code']) => {
    rejects.push({ line: view.line(i), field, code });
    refusedKeys.push(Buffer.from(view.key(i)));
  };
  for (const i of unique) {
    const hex = hexKeys[i]!;
    const history = existing.get(hex) ?? [];
    if (seen.has(hex) || history.some((e) => e.import_run_id === runId)) {
      rejects.push({ line: view.line(i), field: 'msisdn', code: 'DUPLICATE_KEY' });
      continue;
    }
    const digest = view.digest(i);
    const holder = view.holder(i);
    const live = history.find((e) => e.status !== 'terminated');
    if (history.some((e) => e.digest.equals(digest))) {
      // Identical to a stored subscription of the number, the live one or an earlier one (an old
      // file imported again): nothing to do, whatever happened to the number since.
      unchangedKeys.push(Buffer.from(view.key(i)));
    } else if (live) {
      if (!sameHolder(holder, live.holder_bidx)) {
        const v = validateSubscriptionRecord(view.record(i), notAfterMs);
        if (!v.ok) throw new Error('a row valid in the worker is invalid here');
        // A holder registered before the live subscription began is not the number's next holder
        // but an earlier one: the row is older than what is stored (an old file imported again,
        // or one written before a delta's holder change). Taken, it would end the current
        // holder's subscription and revoke the bindings made through it.
        if (Date.parse(v.row.registeredAt) < live.registered_at.getTime()) {
          refuse(i, 'registered_at', 'OLDER_THAN_STORED');
          continue;
        }
        // A new holder of the number is a new subscription: end the old one, keep it as history
        // (issue 2: "a holder change ... is a new subscription of a new holder: keep the history,
        // never merge the two"), and revoke the bindings made through it below (DESIGN.md
        // invariant 7). A holder recorded where there was none, or none where there was one, is a
        // change of holder too: updating in place would hand the first holder's row, and the
        // bindings made through it, to whoever the number now belongs to. The old one ended when
        // the new holder's began (clamped to its own life by endSubscriptionsAt), not when this
        // file happened to be imported: the person's view and late delta events read that time.
        // Only if something was reported after the new registration is there anything to hand over.
        const start = Date.parse(v.row.registeredAt);
        const laterChanges = [live.last_event_at, live.sim_changed_at, live.device_changed_at].some((t) => t !== null && t.getTime() > start);
        ended.push({ id: live.id, at: v.row.registeredAt, msisdnBidx: live.msisdn_bidx, laterChanges });
        fresh.push(i);
      } else {
        const v = validateSubscriptionRecord(view.record(i), notAfterMs);
        if (!v.ok) throw new Error('a row valid in the worker is invalid here');
        const row = v.row;
        const ix = subscriptionIndexes(ring.currentBlindIndex, row);
        updates.push({
          id: live.id, holderBidx: ix.holderBidx, holderMatchBidx: ix.holderMatchBidx, digest: ix.digest,
          bidxVersion: ring.currentBlindIndex.version, sealed: sealSubscription(ring.currentData, live.id, row),
          dekVersion: ring.currentData.version, channel: row.channel, registeredAt: row.registeredAt, status: row.status,
          simChangedAt: row.simChangedAt || null, deviceChangedAt: row.deviceChangedAt || null, line: view.line(i),
        });
      }
    } else {
      // Every subscription of the number has ended. A live row starts a new one only if it was
      // registered after the latest one's registration and last event (a delta's termination
      // among them): otherwise it describes that subscription or an earlier one, and taking it
      // would revive a terminated number (as a `registered` delta older than the termination
      // revives nothing). A full file's termination has no time of its own; its registration is
      // what is known.
      //
      // A terminated row is history. The same holder's subscription registered at the same time
      // is one stored already (ended, perhaps by a delta): unchanged. One registered before the
      // latest is an earlier subscription the hub did not have: kept. One registered after the
      // latest's last event or end is a later one, already over: kept. Between the two it
      // contradicts what is stored and, inserted without an end, would become the latest
      // subscription and let an event older than the stored end start a new one: refused.
      const latest = history[0];
      if (latest) {
        const v = validateSubscriptionRecord(view.record(i), notAfterMs);
        if (!v.ok) throw new Error('a row valid in the worker is invalid here');
        const registered = Date.parse(v.row.registeredAt);
        const newest = Math.max(latest.registered_at.getTime(), latest.last_event_at?.getTime() ?? 0);
        if (view.isTerminated(i)) {
          if (history.some((h) => sameHolder(holder, h.holder_bidx) && h.registered_at.getTime() === registered)) {
            unchangedKeys.push(Buffer.from(view.key(i)));
            continue;
          }
          if (registered >= latest.registered_at.getTime() && registered <= newest) {
            refuse(i, 'registered_at', 'OLDER_THAN_STORED');
            continue;
          }
        } else if (registered <= newest) {
          refuse(i, 'registered_at', 'OLDER_THAN_STORED');
          continue;
        }
      }
      fresh.push(i);
    }
  }
  await repo.endSubscriptionsAt(client, ended, 'holder_changed');
  await repo.copyInto(client, 'subscriptions', repo.SUBSCRIPTION_COPY_COLUMNS, copyTuplesOf(view, fresh));
  // What a delta reported against the old holder's subscription after the new holder's began
  // (a SIM swap, a block) is the new holder's (repo.handOverLaterChanges). Rare: a change of holder.
  for (const e of ended) {
    if (!e.laterChanges) continue;
    const next = await repo.liveSubscriptionId(client, carrierId, e.msisdnBidx);
    if (next) await repo.handOverLaterChanges(client, e.id, next, e.at);
  }
  // A new live row for a number another carrier still has live under another holder (a port in
  // whose donor's port-out has not arrived): the bindings made through the other carrier's
  // subscription are re-checked, as for a `ported_in` delta. Not on a carrier's first import:
  // it would cost a probe per carrier and row of millions, at a time when nothing is ported yet.
  if (!firstImport && fresh.length > 0) {
    const keys = fresh.filter((i) => !view.isTerminated(i)).map((i) => Buffer.from(view.key(i)));
    await flagBindingsOfContestedSubscriptions(client, await repo.contestedByImportedRows(client, runId, carrierId, keys));
  }
  // Kept even if this batch is rolled back: a key too many only costs a probe.
  if (firstImport) for (const i of fresh) if (view.isTerminated(i)) firstImport.terminated.add(view.key(i));
  await repo.updateSubscriptions(client, runId, updates);
  // Bindings made through a number follow it, in this batch's transaction (DESIGN.md invariant 7):
  // a new holder or a termination revokes them, a SIM changed after the binding flags them. The
  // rules read the rows as just stored; new rows cannot have bindings, so a first import skips this.
  if (ended.length > 0 || updates.length > 0) {
    await applyRegistryStateToBindings(client, { subscriptionIds: [...ended.map((e) => e.id), ...updates.map((u) => u.id)] }, simChangeWindowHours);
  }
  await repo.insertSeen(client, runId, [...unchangedKeys, ...refusedKeys]);
  return { accepted: fresh.length + updates.length, unchanged: unchangedKeys.length, rejects, foundStored: existing.size > 0 };
}

export async function importRegistry(options: ImportOptions): Promise<ImportSummary> {
  const { pool, ring, kind } = options;
  formatOf(options.path);
  const totalBytes = inputFileSize(options.path);
  const sha256 = options.sha256 ?? (await fileSha256(options.path));
  const fields = kind === 'population' ? POPULATION_FIELDS : SUBSCRIPTION_FIELDS;
  // Opening reads and checks the CSV header: a file refused whole never starts a run.
  const source = await openChunkedSource({
    path: options.path,
    open: options.open,
    fields,
    required: kind === 'population' ? POPULATION_REQUIRED : SUBSCRIPTION_REQUIRED,
    chunkBytes: options.chunkBytes,
  });
  const client = await connectForRun(pool, source);
  let runId: string | undefined;
  let workers: ImportWorkerPool | undefined;
  try {
    const carrierId = kind === 'subscriptions' ? await repo.findOrCreateCarrier(client, options.carrier ?? '') : null;
    const run = await beginImportRun(client, pool, ring, {
      kind, carrierId, carrierSlug: options.carrier, path: options.path, sha256, totalBytes, options: options.correctDeaths ? { correct_deaths: true } : {},
    });
    runId = run.runId;
    const { resumedAfter, progress } = run;
    await options.onRunStarted?.({ runId, resumedAfterLine: resumedAfter });

    workers = new ImportWorkerPool(options.workers, {
      kind, format: source.format, header: source.header, fields, skipThroughLine: resumedAfter, runId, carrierId: carrierId ?? 0,
      dataKey: ring.currentData.key, dataKeyVersion: ring.currentData.version,
      blindIndexKey: ring.currentBlindIndex.key, blindIndexVersion: ring.currentBlindIndex.version, blindIndexNameRule: ring.currentBlindIndex.nameRule,
    });
    const today = vietnamToday();
    const notAfterMs = latestAcceptedTime();
    const inFlight: { promise: Promise<WorkerResult>; endLine: number; endByte: number }[] = [];
    // Enough chunks in flight to keep every worker busy while the database merges one.
    const maxInFlight = Math.max(2, options.workers * 2);
    let seq = 0;
    const currentRunId = runId;
    const shape = { format: source.format, header: source.header, fields };

    // Population batches skip their probe while the previous batch found none of its keys stored
    // (mergePersons). A carrier's first import probes only what the unique index of live numbers
    // cannot see (mergeSubscriptions); any other subscription import probes every key.
    let probeNext = true;
    const terminatedFilter = kind === 'subscriptions' && !(await repo.carrierHasSubscriptions(client, carrierId!)) ? new KeyFilter() : undefined;

    /** Merges one batch in one transaction with its rejects and checkpoint (DESIGN.md invariant 6). */
    const mergeBatch = async (view: BatchView, endLine: number, probeAll: boolean): Promise<BatchOutcome & { rejectsTotal: number }> => {
      await client.query('BEGIN');
      try {
        const outcome = kind === 'population'
          ? await mergePersons(client, ring, currentRunId, view, today, probeAll, options.correctDeaths === true)
          : await mergeSubscriptions(client, ring, currentRunId, carrierId!, view, notAfterMs, terminatedFilter && { terminated: terminatedFilter, probeAll }, options.simChangeWindowHours);
        const rejects = [...view.result.rejects, ...outcome.rejects];
        await repo.insertRejects(client, currentRunId, rejects);
        await repo.advanceRun(client, currentRunId, {
          checkpointLine: endLine, rowsRead: view.result.recordsRead, accepted: outcome.accepted, unchanged: outcome.unchanged, rejected: rejects.length,
        });
        await client.query('COMMIT');
        return { ...outcome, rejectsTotal: rejects.length };
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    };

    const commitNext = async (): Promise<void> => {
      const head = inFlight.shift()!;
      const view = new BatchView(await head.promise, shape);
      let outcome: BatchOutcome & { rejectsTotal: number };
      const probeAll = kind === 'population' ? probeNext : terminatedFilter === undefined;
      // A batch PostgreSQL aborted to break a deadlock is merged again: its transaction was rolled
      // back whole, so it is as if it never ran (DESIGN.md invariant 6: nothing lost, nothing
      // doubled). Two carriers' imports can deadlock on a ported number: each holds its own new
      // rows and locks the other's live row of that number (repo.contestedByImportedRows); the
      // other side goes on, and this one waits a moment before trying again.
      const merge = async (probe: boolean): Promise<BatchOutcome & { rejectsTotal: number }> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await mergeBatch(view, head.endLine, probe);
          } catch (e) {
            if ((e as { code?: string }).code !== DEADLOCK_DETECTED || attempt > DEADLOCK_RETRIES) throw e;
            await delay(attempt * 50 + Math.floor(Math.random() * 100));
          }
        }
      };
      try {
        outcome = await merge(probeAll);
      } catch (e) {
        if (probeAll || !isUnprobedKeyConflict(e)) throw e;
        outcome = await merge(true);
      }
      probeNext = kind !== 'population' || outcome.foundStored;
      // The bytes committed, not those read ahead: the bar reaches 100 % with the last commit.
      progress.bytes = head.endByte;
      progress.rowsRead += view.result.recordsRead;
      progress.accepted += outcome.accepted;
      progress.unchanged += outcome.unchanged;
      progress.rejected += outcome.rejectsTotal;
      options.onProgress?.({ ...progress });
    };

    for await (const chunk of source.chunks) {
      // Chunks wholly committed by an interrupted run of this file are not even sent.
      if (chunk.endLine <= resumedAfter) {
        progress.bytes = chunk.endByte;
        continue;
      }
      const promise = workers.submit({ seq: seq++, today, notAfterMs, startLine: chunk.startLine, bytes: chunk.bytes });
      // Keep the promise from being reported unhandled while it waits its turn.
      promise.catch(() => undefined);
      inFlight.push({ promise, endLine: chunk.endLine, endByte: chunk.endByte });
      while (inFlight.length >= maxInFlight) await commitNext();
    }
    while (inFlight.length > 0) await commitNext();
    progress.bytes = totalBytes;
    options.onProgress?.({ ...progress });

    return await completeImportRun(client, run, options.rejectsPath, options.actor ?? 'cli', options.correctDeaths ? { correct_deaths: true } : {});
  } catch (e) {
    await failImportRun(client, runId, e);
    throw e;
  } finally {
    source.close();
    await workers?.close();
    await releaseImportLocks(client);
    client.release();
  }
}
