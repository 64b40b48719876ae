/**
 * Streaming, resumable, idempotent import of the population registry and of a carrier's
 * subscriber registry (issue 2; DESIGN.md invariants 2, 5, 6).
 *
 * Pipeline: the source reader (main thread) cuts the file into batches; worker threads validate,
 * blind-index and seal the rows; the main thread merges each batch, in file order, in one
 * transaction: probe the existing rows by blind index, classify each row as new, changed,
 * unchanged or a duplicate of an earlier line, COPY the new rows, update the changed ones, and
 * commit the rejects and the run's checkpoint with them. A killed import run again with the same
 * file resumes after the last committed line; a second import of the same file changes nothing.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type pg from 'pg';
import { uuidv7 } from '../../kernel/ids.ts';
import type { KeyRing } from '../../kernel/crypto/key-ring.ts';
import { vietnamToday, POPULATION_FIELDS, POPULATION_REQUIRED, SUBSCRIPTION_FIELDS, SUBSCRIPTION_REQUIRED } from '../registry-rows.ts';
import { personIndexes, sealPerson, sealSubscription, subscriptionIndexes } from '../row-crypto.ts';
import type { RowReject } from '../reject-codes.ts';
import { readSource, formatOf } from './source-reader.ts';
import { ImportWorkerPool } from './worker-pool.ts';
import type { PreparedPerson, PreparedSubscription, RegistryKind, SourceItem, WorkerResult } from './import-protocol.ts';
import * as repo from './import-repository.ts';
import { RegistryError } from '../registry-errors.ts';
import { completePendingReindex } from '../reindex.ts';

export interface ImportProgress {
  bytes: number;
  totalBytes: number;
  rowsRead: number;
  accepted: number;
  unchanged: number;
  rejected: number;
}

export interface ImportOptions {
  pool: pg.Pool;
  ring: KeyRing;
  kind: RegistryKind;
  /** Carrier slug, for subscriptions. */
  carrier?: string;
  path: string;
  rejectsPath: string;
  workers: number;
  batchSize?: number;
  onProgress?: (p: ImportProgress) => void;
}

export interface ImportSummary {
  run_id: string;
  accepted: number;
  unchanged: number;
  rejected: number;
  rejects_file: string;
  /** The last line committed by an earlier, interrupted run of the same file (0: a fresh run). */
  resumed_after_line: number;
}

export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function writeRejectsFile(path: string, rejects: readonly RowReject[]): void {
  mkdirSync(dirname(path), { recursive: true });
  // Line numbers, fields and reason codes only: never a value (DESIGN.md invariant 2).
  const body = 'line,field,code\n' + rejects.map((r) => `${r.line},${r.field},${r.code}\n`).join('');
  writeFileSync(path, body, { mode: 0o600 });
  chmodSync(path, 0o600);
}

function toBuffer(u: Uint8Array | null): Buffer | null {
  return u === null ? null : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Worker results arrive as Uint8Array (structured clone); give them back their Buffer face. */
function revive(result: WorkerResult): WorkerResult {
  for (const p of result.prepared) {
    p.key = toBuffer(p.key)!;
    p.digest = toBuffer(p.digest)!;
    if ('matchBidx' in p) p.matchBidx = toBuffer(p.matchBidx)!;
    else {
      p.holderBidx = toBuffer(p.holderBidx);
      p.holderMatchBidx = toBuffer(p.holderMatchBidx);
    }
  }
  return result;
}

interface BatchOutcome {
  accepted: number;
  unchanged: number;
  rejects: RowReject[];
}

/** Rows repeating a key already seen earlier in the same batch are duplicates (the later one loses). */
function splitBatchDuplicates<T extends { key: Buffer; line: number }>(rows: readonly T[], keyField: string): { unique: T[]; rejects: RowReject[] } {
  const seen = new Set<string>();
  const unique: T[] = [];
  const rejects: RowReject[] = [];
  for (const r of rows) {
    const k = r.key.toString('hex');
    if (seen.has(k)) rejects.push({ line: r.line, field: keyField, code: 'DUPLICATE_KEY' });
    else {
      seen.add(k);
      unique.push(r);
    }
  }
  return { unique, rejects };
}

async function mergePersons(client: pg.PoolClient, ring: KeyRing, runId: string, rows: PreparedPerson[]): Promise<BatchOutcome> {
  const { unique, rejects } = splitBatchDuplicates(rows, 'personal_id');
  const existing = await repo.probePersons(client, unique.map((r) => r.key));
  const seen = await repo.probeSeen(client, runId, [...existing.values()].map((e) => e.pid_bidx));
  let copy = '';
  const updates: repo.PersonUpdate[] = [];
  const unchangedKeys: Buffer[] = [];
  let accepted = 0;
  for (const r of unique) {
    const hex = r.key.toString('hex');
    const e = existing.get(hex);
    if (!e) {
      copy += r.copy;
      accepted++;
    } else if (e.import_run_id === runId || seen.has(hex)) {
      rejects.push({ line: r.line, field: 'personal_id', code: 'DUPLICATE_KEY' });
    } else if (e.digest.equals(r.digest)) {
      unchangedKeys.push(r.key);
    } else {
      // Re-seal under the stored row's id: the associated data names the row.
      const ix = personIndexes(ring.currentBlindIndex.key, r.row);
      updates.push({
        id: e.id, matchBidx: ix.matchBidx, digest: ix.digest, bidxVersion: ring.currentBlindIndex.version,
        sealed: sealPerson(ring.currentData, e.id, r.row), dekVersion: ring.currentData.version, status: r.row.status, line: r.line,
      });
      accepted++;
    }
  }
  await repo.copyInto(client, 'persons', repo.PERSON_COPY_COLUMNS, copy);
  await repo.updatePersons(client, runId, updates);
  await repo.insertSeen(client, runId, unchangedKeys);
  return { accepted, unchanged: unchangedKeys.length, rejects };
}

async function mergeSubscriptions(client: pg.PoolClient, ring: KeyRing, runId: string, carrierId: number, rows: PreparedSubscription[]): Promise<BatchOutcome> {
  const { unique, rejects } = splitBatchDuplicates(rows, 'msisdn');
  const existing = await repo.probeSubscriptions(client, carrierId, unique.map((r) => r.key));
  const seen = await repo.probeSeen(client, runId, [...existing.values()].map((list) => list[0]!.msisdn_bidx));
  let copy = '';
  const updates: repo.SubscriptionUpdate[] = [];
  const ended: string[] = [];
  const unchangedKeys: Buffer[] = [];
  let accepted = 0;
  for (const r of unique) {
    const hex = r.key.toString('hex');
    const history = existing.get(hex) ?? [];
    if (seen.has(hex) || history.some((e) => e.import_run_id === runId)) {
      rejects.push({ line: r.line, field: 'msisdn', code: 'DUPLICATE_KEY' });
      continue;
    }
    const live = history.find((e) => e.status !== 'terminated');
    if (live) {
      if (r.holderBidx && live.holder_bidx && !r.holderBidx.equals(live.holder_bidx)) {
        // A new holder of the number is a new subscription: end the old one, keep it as history.
        ended.push(live.id);
        copy += r.copy;
        accepted++;
      } else if (live.digest.equals(r.digest)) {
        unchangedKeys.push(r.key);
      } else {
        const ix = subscriptionIndexes(ring.currentBlindIndex.key, r.row);
        updates.push({
          id: live.id, holderBidx: ix.holderBidx, holderMatchBidx: ix.holderMatchBidx, digest: ix.digest,
          bidxVersion: ring.currentBlindIndex.version, sealed: sealSubscription(ring.currentData, live.id, r.row),
          dekVersion: ring.currentData.version, channel: r.row.channel, registeredAt: r.row.registeredAt, status: r.row.status,
          simChangedAt: r.row.simChangedAt || null, deviceChangedAt: r.row.deviceChangedAt || null, line: r.line,
        });
        accepted++;
      }
    } else if (history.some((e) => e.digest.equals(r.digest))) {
      unchangedKeys.push(r.key);
    } else {
      copy += r.copy;
      accepted++;
    }
  }
  await repo.endSubscriptions(client, ended, 'holder_changed', null);
  await repo.copyInto(client, 'subscriptions', repo.SUBSCRIPTION_COPY_COLUMNS, copy);
  await repo.updateSubscriptions(client, runId, updates);
  await repo.insertSeen(client, runId, unchangedKeys);
  return { accepted, unchanged: unchangedKeys.length, rejects };
}

export function defaultRejectsPath(dataDir: string, inputPath: string): string {
  return `${dataDir}/rejects/${basename(inputPath)}.rejects.csv`;
}

export async function importRegistry(options: ImportOptions): Promise<ImportSummary> {
  const { pool, ring, kind } = options;
  formatOf(options.path);
  let totalBytes: number;
  try {
    totalBytes = statSync(options.path).size;
  } catch {
    throw new RegistryError('IMPORT_FILE_NOT_FOUND', 'the input file cannot be read');
  }
  const batchSize = options.batchSize ?? 5000;
  const sha256 = await fileSha256(options.path);
  const client = await pool.connect();
  let runId: string | undefined;
  let workers: ImportWorkerPool | undefined;
  try {
    const carrierId = kind === 'subscriptions' ? await repo.findOrCreateCarrier(client, options.carrier ?? '') : null;
    if (!(await repo.tryLockRegistry(client, kind, carrierId))) {
      throw new RegistryError('IMPORT_ALREADY_RUNNING', kind === 'population' ? 'another import of the population registry is running' : `another import of carrier ${options.carrier}'s registry is running`);
    }
    if (!(await repo.tryLockBlindIndexShared(client))) {
      throw new RegistryError('KEY_ROTATION_RUNNING', 'a blind-index key rotation is starting; try again when `idbind keys status` shows it done');
    }
    // Every key in a batch is of the current blind-index version; rows still on an older one are
    // brought up to date first, so the probe by blind index finds them.
    await completePendingReindex(pool, ring);

    const resumable = await repo.findResumableRun(client, kind, carrierId, sha256);
    let resumedAfter = 0;
    if (resumable) {
      runId = resumable.id;
      resumedAfter = Number(resumable.checkpoint_line);
      await repo.markRunRunning(client, runId);
    } else {
      runId = uuidv7();
      await repo.createRun(client, { id: runId, kind, carrierId, sourceName: basename(options.path), sha256, bytes: totalBytes });
    }
    await repo.abandonOtherRuns(client, kind, carrierId, runId);
    const start = await repo.readRun(client, runId);
    const progress: ImportProgress = {
      bytes: 0, totalBytes, rowsRead: Number(start.rows_read), accepted: Number(start.accepted),
      unchanged: Number(start.unchanged), rejected: Number(start.rejected),
    };

    workers = new ImportWorkerPool(options.workers, {
      kind, runId, carrierId: carrierId ?? 0,
      dataKey: ring.currentData.key, dataKeyVersion: ring.currentData.version,
      blindIndexKey: ring.currentBlindIndex.key, blindIndexVersion: ring.currentBlindIndex.version,
    });
    const today = vietnamToday();
    const inFlight: { promise: Promise<WorkerResult>; lastLine: number; size: number }[] = [];
    const maxInFlight = Math.max(2, options.workers * 2);
    let seq = 0;
    const currentRunId = runId;

    const commitNext = async (): Promise<void> => {
      const head = inFlight.shift()!;
      const result = revive(await head.promise);
      await client.query('BEGIN');
      try {
        const outcome = kind === 'population'
          ? await mergePersons(client, ring, currentRunId, result.prepared as PreparedPerson[])
          : await mergeSubscriptions(client, ring, currentRunId, carrierId!, result.prepared as PreparedSubscription[]);
        const rejects = [...result.rejects, ...outcome.rejects];
        await repo.insertRejects(client, currentRunId, rejects);
        await repo.advanceRun(client, currentRunId, {
          checkpointLine: head.lastLine, rowsRead: head.size, accepted: outcome.accepted, unchanged: outcome.unchanged, rejected: rejects.length,
        });
        await client.query('COMMIT');
        progress.rowsRead += head.size;
        progress.accepted += outcome.accepted;
        progress.unchanged += outcome.unchanged;
        progress.rejected += rejects.length;
        options.onProgress?.({ ...progress });
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    };

    let batch: SourceItem[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const items = batch;
      batch = [];
      inFlight.push({ promise: workers!.submit({ seq: seq++, today, items }), lastLine: items[items.length - 1]!.line, size: items.length });
      // Keep the promise from being reported unhandled while it waits its turn.
      inFlight[inFlight.length - 1]!.promise.catch(() => undefined);
      while (inFlight.length >= maxInFlight) await commitNext();
    };

    const source = readSource({
      path: options.path,
      fields: kind === 'population' ? POPULATION_FIELDS : SUBSCRIPTION_FIELDS,
      required: kind === 'population' ? POPULATION_REQUIRED : SUBSCRIPTION_REQUIRED,
      onBytes: (b) => {
        progress.bytes = b;
      },
    });
    for await (const item of source) {
      if (item.line <= resumedAfter) continue;
      batch.push(item);
      if (batch.length >= batchSize) await flush();
    }
    await flush();
    while (inFlight.length > 0) await commitNext();
    progress.bytes = totalBytes;
    options.onProgress?.({ ...progress });

    await repo.finishRun(client, runId);
    const rejects = await repo.readRejects(client, runId);
    writeRejectsFile(options.rejectsPath, rejects);
    const final = await repo.readRun(client, runId);
    return {
      run_id: runId,
      accepted: Number(final.accepted),
      unchanged: Number(final.unchanged),
      rejected: Number(final.rejected),
      rejects_file: options.rejectsPath,
      resumed_after_line: resumedAfter,
    };
  } catch (e) {
    if (runId) await repo.failRun(client, runId, e instanceof RegistryError ? e.code : (e as Error).name).catch(() => undefined);
    throw e;
  } finally {
    await workers?.close();
    // Session advisory locks end with the session: release them before the connection is reused.
    await client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    client.release();
  }
}
