/**
 * Junk-SIM reconciliation (issue 2; Directive 57-CT/TW): classifies every non-terminated
 * subscription against the population registry without decrypting it — the join is on keyed
 * blind indexes, the data comparison on keyed match indexes — and compares the result with the
 * previous completed run. Only registration-time ties at the online limit need the sealed number,
 * and the action lists carry the number for the carrier to act on; both record one access entry
 * for the run (DESIGN.md invariant 4).
 */
import { mkdirSync } from 'node:fs';
import { writePrivateFile } from '../../kernel/private-file.ts';
import { once } from 'node:events';
import { join } from 'node:path';
import type pg from 'pg';
import { uuidv7 } from '../../kernel/ids.ts';
import type { KeyRing } from '../../kernel/crypto/key-ring.ts';
import { recordBatchAccess } from '../../access/access-records.ts';
import { tryLockBlindIndexShared, findCarrier, unwatchClientConnection, watchClientConnection } from '../import/import-repository.ts';
import { completePendingReindex } from '../reindex.ts';
import { RegistryError } from '../registry-errors.ts';
import { ONLINE_REGISTRATION_LIMIT } from './categories.ts';
import * as repo from './reconciliation-repository.ts';
import { openSubscriptionNumber } from '../row-crypto.ts';

export type { RunSummary, RunStep } from './reconciliation-repository.ts';

function msisdnOf(ring: KeyRing, id: string, sealed: Buffer, dekVersion: number): string {
  return openSubscriptionNumber(ring, { id, sealed, dek_version: dekVersion });
}

/** Settles registration-time ties at the online limit by number (issue 2: "ties broken by number"). */
async function fixOnlineTies(client: pg.PoolClient, ring: KeyRing, runId: string): Promise<number> {
  const rows = await repo.tiedHolderRows(client, runId);
  if (rows.length === 0) return 0;
  const groups = new Map<string, (repo.TiedRow & { msisdn: string })[]>();
  for (const r of rows) {
    const k = `${r.carrier_id}:${r.holder_bidx.toString('hex')}`;
    const withNumber = { ...r, msisdn: msisdnOf(ring, r.id, r.sealed, r.dek_version) };
    const g = groups.get(k);
    if (g) g.push(withNumber);
    else groups.set(k, [withNumber]);
  }
  const add: string[] = [];
  const remove: string[] = [];
  const carrierOf = new Map<string, number>();
  for (const g of groups.values()) {
    g.sort((a, b) => a.registered_at.getTime() - b.registered_at.getTime() || (a.msisdn < b.msisdn ? -1 : a.msisdn > b.msisdn ? 1 : 0));
    g.forEach((r, i) => {
      carrierOf.set(r.id, r.carrier_id);
      if (r.category !== null && r.category !== 'ONLINE_BEYOND_LIMIT') return; // an earlier category wins
      const beyond = r.channel === 'online' && i + 1 > ONLINE_REGISTRATION_LIMIT;
      if (beyond && r.category === null) add.push(r.id);
      if (!beyond && r.category === 'ONLINE_BEYOND_LIMIT') remove.push(r.id);
    });
  }
  await repo.setOnlineBeyondLimit(client, runId, carrierOf, add, remove);
  return rows.length;
}

export interface ReconciliationHandle {
  runId: string;
  /** Settles with the completed run's summary, or rejects when the run failed. */
  done: Promise<repo.RunSummary>;
}

export interface ReconciliationOptions {
  /**
   * Called as the run enters each step, after the step is recorded on the run; the run waits for
   * a returned promise. A throw fails the run (it keeps that step).
   */
  onStep?: (step: repo.RunStep) => void | Promise<void>;
}

/**
 * Starts a run and returns once it is recorded as running; the work continues in `done`.
 * Refuses (RECONCILIATION_ALREADY_RUNNING) while another run holds the lock.
 */
export async function startReconciliation(pool: pg.Pool, ring: KeyRing, actor: string, options: ReconciliationOptions = {}): Promise<ReconciliationHandle> {
  const client = await pool.connect();
  let runId: string;
  try {
    // A run killed while it classifies (minutes at national scale) lets its lock go within a
    // second, not when the statement ends (import-repository.ts watchClientConnection).
    await watchClientConnection(client);
    if (!(await repo.tryLockReconciliation(client))) throw new RegistryError('RECONCILIATION_ALREADY_RUNNING', 'a reconciliation is already running');
    if (!(await tryLockBlindIndexShared(client))) throw new RegistryError('KEY_ROTATION_RUNNING', 'a key rotation is switching versions; try again shortly');
    await repo.failOrphanedRuns(client);
    runId = uuidv7();
    await repo.createRun(client, runId);
  } catch (e) {
    await client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    await unwatchClientConnection(client);
    client.release();
    throw e;
  }
  const id = runId;
  const step = async (code: repo.ReconciliationStep) => {
    // Best effort: a failed write of the progress must not fail a run of minutes.
    await repo.setStep(pool, id, code).catch(() => undefined);
    await options.onStep?.(repo.runStep(code));
  };
  const done = (async () => {
    try {
      await step('reindexing');
      await completePendingReindex(pool, ring);
      await client.query('BEGIN');
      const started = await client.query<{ started_at: Date }>('SELECT started_at FROM reconciliation_runs WHERE id = $1', [id]);
      await step('classifying');
      const subscriptions = await repo.classify(client, id);
      await step('settling_ties');
      const tied = await fixOnlineTies(client, ring, id);
      await step('comparing');
      const summary = await repo.summarise(client, id, started.rows[0]!.started_at);
      await repo.completeRun(client, id, subscriptions, summary);
      await recordBatchAccess(client, { purpose: 'reconciliation', actor, runId: id, detail: { sealed_numbers_opened: tied } });
      await client.query('COMMIT');
      return (await repo.readRun(pool, id))!;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      await repo.failRun(pool, id, (e as Error).name).catch(() => undefined);
      throw e;
    } finally {
      await client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      await unwatchClientConnection(client);
      client.release();
    }
  })();
  done.catch(() => undefined);
  return { runId: id, done };
}

/** One run whose results retention deleted (or would delete, in a dry run). */
export interface PrunedRun {
  run_id: string;
  /** Result rows of the run: deleted, or to be deleted in a dry run. */
  results: number;
}

export interface PruneOptions {
  /** How many of the most recent completed runs keep their results; at least 1. */
  keepRuns: number;
  /** List what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Called after each run's results are deleted (progress for long work: millions of rows a run). */
  onRun?: (run: PrunedRun, done: number, of: number) => void;
}

/**
 * Retention of reconciliation results (migration 0025): deletes the per-subscription results of
 * every run but the `keepRuns` most recent completed ones, one run per transaction, oldest first.
 * Runs and their summaries stay, so the trend and the comparisons are unchanged; the pruned
 * runs' action lists answer RECONCILIATION_RESULTS_PRUNED. Holds the reconciliation lock, so it
 * never deletes under a run that is comparing with its predecessor (RECONCILIATION_ALREADY_RUNNING
 * while one runs).
 */
export async function pruneReconciliationResults(pool: pg.Pool, options: PruneOptions): Promise<PrunedRun[]> {
  if (!Number.isInteger(options.keepRuns) || options.keepRuns < 1) throw new RangeError('keepRuns must be a whole number of at least 1');
  const client = await pool.connect();
  try {
    if (!(await repo.tryLockReconciliation(client))) throw new RegistryError('RECONCILIATION_ALREADY_RUNNING', 'a reconciliation is running; prune when it has finished');
    const runs = (await repo.runsToPrune(client, options.keepRuns)).map((r) => ({ run_id: r.id, results: r.results }));
    if (options.dryRun) return runs;
    const pruned: PrunedRun[] = [];
    for (const run of runs) {
      await client.query('BEGIN');
      try {
        const results = await repo.pruneRunResults(client, run.run_id);
        await client.query('COMMIT');
        pruned.push({ run_id: run.run_id, results });
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
      options.onRun?.(pruned[pruned.length - 1]!, pruned.length, runs.length);
    }
    return pruned;
  } finally {
    await client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    client.release();
  }
}

export async function getRun(pool: pg.Pool, runId: string): Promise<repo.RunSummary> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(runId)) throw new RegistryError('RECONCILIATION_NOT_FOUND');
  const run = await repo.readRun(pool, runId);
  if (!run) throw new RegistryError('RECONCILIATION_NOT_FOUND');
  return run;
}

export async function listRuns(pool: pg.Pool, limit = 50): Promise<repo.RunSummary[]> {
  return repo.listRuns(pool, Math.min(Math.max(limit, 1), 500));
}

/**
 * The checks of an action list's download without opening it (the carrier's id when it can be
 * downloaded): what a HEAD request answers. It records no access, since no number is read
 * (DESIGN.md invariant 4 records the accesses to a person's data, not requests that read none).
 */
export async function checkActionList(pool: pg.Pool, runId: string, carrier: string): Promise<number> {
  const run = await getRun(pool, runId);
  if (run.status !== 'completed') throw new RegistryError('RECONCILIATION_NOT_COMPLETED');
  if (run.results_pruned_at !== null) throw new RegistryError('RECONCILIATION_RESULTS_PRUNED');
  const carrierId = await findCarrier(pool, carrier);
  if (carrierId === undefined) throw new RegistryError('CARRIER_NOT_FOUND');
  return carrierId;
}

/**
 * One carrier's action list of a completed run (`msisdn,category`: nothing else personal), as CSV
 * text in pieces, in constant memory. The checks (run completed, carrier known) happen before the
 * first piece, so a caller can still answer an error. The export is recorded as one access entry
 * before any number is opened, so a download cut short is recorded too.
 */
export async function openActionList(pool: pg.Pool, ring: KeyRing, runId: string, carrier: string, actor: string): Promise<AsyncGenerator<string>> {
  const carrierId = await checkActionList(pool, runId, carrier);
  const listed = await pool.query<{ n: string }>('SELECT count(*) AS n FROM reconciliation_results WHERE run_id = $1 AND carrier_id = $2', [runId, carrierId]);
  await recordBatchAccess(pool, { purpose: 'action_list_export', actor, runId, detail: { carrier, rows: Number(listed.rows[0]!.n) } });
  return (async function* () {
    yield 'msisdn,category\n';
    for await (const rows of repo.actionRows(pool, runId, carrierId)) {
      let chunk = '';
      for (const r of rows) chunk += `${msisdnOf(ring, r.id, r.sealed, r.dek_version)},${r.category}\n`;
      yield chunk;
    }
    // Retention deletes a run's results in one transaction, so a page read after it finds none
    // and the list would end early, silently. The mark is committed with the deletion: seen here,
    // the list is cut short, and the reader is told so instead of getting a partial file.
    if ((await repo.readRun(pool, runId))?.results_pruned_at) {
      throw new RegistryError('RECONCILIATION_RESULTS_PRUNED', "retention deleted this run's results during the download; the list is incomplete");
    }
  })();
}

/** Writes one carrier's action list to `out`. */
export async function writeActionList(pool: pg.Pool, ring: KeyRing, runId: string, carrier: string, out: NodeJS.WritableStream, actor: string): Promise<void> {
  for await (const piece of await openActionList(pool, ring, runId, carrier, actor)) {
    if (!out.write(piece)) await once(out, 'drain');
  }
}

/**
 * Writes every carrier's action list of a run into `dir` as `<carrier>.csv` (mode 0600). Each list
 * (phone numbers) goes to a new 0600 file renamed over the target once complete
 * (src/kernel/private-file.ts): no moment where an existing file's wider mode exposes it, never a
 * partial list under the final name, and a link planted in its place is replaced, not followed.
 */
export async function writeActionLists(pool: pg.Pool, ring: KeyRing, runId: string, dir: string, actor: string): Promise<Record<string, string>> {
  mkdirSync(dir, { recursive: true });
  const carriers = await pool.query<{ slug: string }>('SELECT slug FROM carriers ORDER BY slug');
  const files: Record<string, string> = {};
  for (const { slug } of carriers.rows) {
    const path = join(dir, `${slug}.csv`);
    await writePrivateFile(path, (out) => writeActionList(pool, ring, runId, slug, out, actor), { replaceLinks: true });
    files[slug] = path;
  }
  return files;
}
