/**
 * The bookkeeping every registry import shares (files and deltas): the registry's lock, the
 * key-version lock, resuming an interrupted run of the same file or starting a new one, and the
 * summary with its rejects file at the end (DESIGN.md invariant 6).
 */
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type pg from 'pg';
import { uuidv7 } from '../../kernel/ids.ts';
import type { KeyRing } from '../../kernel/crypto/key-ring.ts';
import { writePrivateFileSync } from '../../kernel/private-file.ts';
import { recordBatchAccess } from '../../access/access-records.ts';
import { RegistryError } from '../registry-errors.ts';
import { completePendingReindex } from '../reindex.ts';
import type { RowReject } from '../reject-codes.ts';
import * as repo from './import-repository.ts';

export interface ImportProgress {
  bytes: number;
  totalBytes: number;
  rowsRead: number;
  accepted: number;
  unchanged: number;
  rejected: number;
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

export interface ImportRun {
  runId: string;
  kind: repo.ImportKind;
  resumedAfter: number;
  progress: ImportProgress;
}

/**
 * The rejects file of an import without `--rejects`: in the data directory, named after the kind
 * of import, the carrier and the input file's name, so that two carriers' `subscriptions.csv`, or
 * a carrier's registry and deltas of the same name, do not overwrite each other's rejects (audit
 * of issue 2, finding 7). A carrier slug holds no dot, so the name reads back unambiguously.
 */
export function defaultRejectsPath(dataDir: string, source: { kind: repo.ImportKind; carrier?: string }, inputPath: string): string {
  const kind = source.kind === 'subscription_events' ? 'subscription-events' : source.kind;
  const carrier = source.kind === 'population' ? '' : `${source.carrier ?? ''}.`;
  return join(dataDir, 'rejects', `${kind}.${carrier}${basename(inputPath)}.rejects.csv`);
}

export function writeRejectsFile(path: string, rejects: readonly RowReject[]): void {
  mkdirSync(dirname(path), { recursive: true });
  // Line numbers, fields and reason codes only: never a value (DESIGN.md invariant 2); readable
  // by its owner only from its first byte, even over an existing file (private-file.ts).
  const body = 'line,field,code\n' + rejects.map((r) => `${r.line},${r.field},${r.code}\n`).join('');
  writePrivateFileSync(path, body);
}

/**
 * Takes the locks and opens the run: resumes the interrupted run of the same file (same SHA-256)
 * and the same options after its last committed line, or starts a new one. An interrupted run
 * with other options (a population import begun without `--correct-deaths`, run again with it) is
 * abandoned and the file read again from its first line: a run applies its whole file in one mode,
 * and its access record says which. Rows still on an older blind-index version are re-indexed
 * first, so every probe by blind index finds them.
 */
export async function beginImportRun(
  client: pg.PoolClient,
  pool: pg.Pool,
  ring: KeyRing,
  source: { kind: repo.ImportKind; carrierId: number | null; carrierSlug?: string; path: string; sha256: string; totalBytes: number; options?: repo.ImportRunOptions },
): Promise<ImportRun> {
  const options = source.options ?? {};
  // Full files and deltas of one carrier never interleave: they share the carrier's lock.
  const lockKind = source.kind === 'subscription_events' ? 'subscriptions' : source.kind;
  // A run killed while its statement runs or waits lets its locks go within a second.
  await repo.watchClientConnection(client);
  if (!(await repo.tryLockRegistry(client, lockKind, source.carrierId))) {
    throw new RegistryError('IMPORT_ALREADY_RUNNING', source.kind === 'population'
      ? 'another import of the population registry is running'
      : `another import of carrier ${source.carrierSlug ?? ''}'s registry is running`);
  }
  if (!(await repo.tryLockBlindIndexShared(client))) {
    throw new RegistryError('KEY_ROTATION_RUNNING', 'a key rotation is switching versions; try again shortly');
  }
  await completePendingReindex(pool, ring);
  const resumable = await repo.findResumableRun(client, source.kind, source.carrierId, source.sha256, options);
  let runId: string;
  let resumedAfter = 0;
  if (resumable) {
    runId = resumable.id;
    resumedAfter = Number(resumable.checkpoint_line);
    await repo.markRunRunning(client, runId);
  } else {
    runId = uuidv7();
    await repo.createRun(client, {
      id: runId, kind: source.kind, carrierId: source.carrierId, sourceName: basename(source.path), sha256: source.sha256, bytes: source.totalBytes, options,
    });
  }
  await repo.abandonOtherRuns(client, source.kind, source.carrierId, runId);
  const start = await repo.readRun(client, runId);
  return {
    runId,
    kind: source.kind,
    resumedAfter,
    progress: {
      bytes: 0, totalBytes: source.totalBytes, rowsRead: Number(start.rows_read), accepted: Number(start.accepted),
      unchanged: Number(start.unchanged), rejected: Number(start.rejected),
    },
  };
}

/**
 * Marks the run completed, writes its rejects file and records the run as one access entry;
 * `detail` adds to the entry what the run was allowed to do (a population import correcting
 * deaths), so the regulator's audit shows it.
 *
 * One transaction, the rejects file written before it commits (DESIGN.md invariant 6): an import
 * killed between marking its run completed and recording it used to end completed without its
 * access record (invariant 4) and, when killed before its rejects file, without that; run again,
 * the file was a new run that found every row unchanged and reported "0 accepted". Killed now
 * anywhere in this step, the run is still open at its last line: run again, it resumes with
 * nothing left to read, writes the rejects file, records the run and reports the whole file.
 */
export async function completeImportRun(client: pg.PoolClient, run: ImportRun, rejectsPath: string, actor: string, detail: Record<string, unknown> = {}): Promise<ImportSummary> {
  await client.query('BEGIN');
  let final: repo.ImportRunRow;
  try {
    await repo.finishRun(client, run.runId);
    final = await repo.readRun(client, run.runId);
    await recordBatchAccess(client, { purpose: run.kind === 'subscription_events' ? 'subscription_events_import' : 'registry_import', actor, runId: run.runId, detail: { accepted: Number(final.accepted), ...detail } });
    writeRejectsFile(rejectsPath, await repo.readRejects(client, run.runId));
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  return {
    run_id: run.runId,
    accepted: Number(final.accepted),
    unchanged: Number(final.unchanged),
    rejected: Number(final.rejected),
    rejects_file: rejectsPath,
    resumed_after_line: run.resumedAfter,
  };
}

/** Records the failure (by code or error name only: never a message that could carry data). */
export async function failImportRun(client: pg.PoolClient, runId: string | undefined, e: unknown): Promise<void> {
  if (runId) await repo.failRun(client, runId, e instanceof RegistryError ? e.code : (e as Error).name).catch(() => undefined);
}

/**
 * The run's connection, for a source already opened (its header checked): a source whose run
 * cannot even connect is closed here, as the run's `finally` closes it afterwards.
 */
export async function connectForRun(pool: pg.Pool, source: { close(): void }): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (e) {
    source.close();
    throw e;
  }
}

export async function releaseImportLocks(client: pg.PoolClient): Promise<void> {
  // Session advisory locks end with the session: release them before the connection is reused.
  await client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
  await repo.unwatchClientConnection(client);
}
