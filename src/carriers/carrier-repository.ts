/**
 * SQL of carrier jobs (migrations 0002 and 0004, table carrier_jobs). Every read and write of a
 * provider's jobs names the provider, so a carrier never reaches another carrier's jobs.
 */
import type pg from 'pg';

type Db = pg.Pool | pg.PoolClient;

export type JobKind = 'subscriptions' | 'subscription_events';
export type JobStatus = 'queued' | 'running' | 'completed' | 'failed';
export type UploadFormat = 'csv' | 'ndjson';

export interface JobSummary {
  accepted: number;
  unchanged: number;
  rejected: number;
}

export interface JobRow {
  id: string;
  provider_id: string;
  kind: JobKind;
  format: UploadFormat;
  status: JobStatus;
  bytes_total: string;
  bytes_done: string;
  import_run_id: string | null;
  summary: JobSummary | null;
  error: string | null;
  upload_name: string | null;
  source_sha256: string | null;
  uploaded_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

/** A job with its carrier, as the runner needs it. */
export interface RunnableJob extends JobRow {
  carrier_id: number;
  carrier_slug: string;
}

const COLUMNS = `id, provider_id, kind, format, status, bytes_total, bytes_done, import_run_id, summary, error, upload_name, source_sha256,
  uploaded_at, created_at, started_at, finished_at`;

export const ONE_ACTIVE_CONSTRAINT = 'carrier_jobs_one_active';

/** Opens a job for an upload about to arrive; fails on carrier_jobs_one_active while another is active. */
export async function insertJob(db: Db, j: { id: string; providerId: string; kind: JobKind; format: UploadFormat; uploadName: string }): Promise<void> {
  await db.query(
    `INSERT INTO carrier_jobs (id, provider_id, kind, format, status, bytes_total, upload_name) VALUES ($1, $2, $3, $4, 'queued', 0, $5)`,
    [j.id, j.providerId, j.kind, j.format, j.uploadName],
  );
}

export async function activeJobId(db: Db, providerId: string): Promise<string | undefined> {
  const r = await db.query<{ id: string }>(`SELECT id FROM carrier_jobs WHERE provider_id = $1 AND status IN ('queued', 'running')`, [providerId]);
  return r.rows[0]?.id;
}

/** An upload that never completed is not a job: it leaves no row. */
export async function deleteUnuploadedJob(db: Db, id: string): Promise<void> {
  await db.query('DELETE FROM carrier_jobs WHERE id = $1 AND uploaded_at IS NULL', [id]);
}

export async function markUploaded(db: Db, id: string, bytes: number, sha256: string): Promise<void> {
  await db.query('UPDATE carrier_jobs SET bytes_total = $2, source_sha256 = $3, uploaded_at = now() WHERE id = $1', [id, bytes, sha256]);
}

export async function findJob(db: Db, providerId: string, id: string): Promise<JobRow | undefined> {
  const r = await db.query<JobRow>(`SELECT ${COLUMNS} FROM carrier_jobs WHERE id = $1 AND provider_id = $2`, [id, providerId]);
  return r.rows[0];
}

export async function listJobs(db: Db, providerId: string, limit: number): Promise<JobRow[]> {
  const r = await db.query<JobRow>(`SELECT ${COLUMNS} FROM carrier_jobs WHERE provider_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, [providerId, limit]);
  return r.rows;
}

/** Moves a queued (or, after a restart, running) job to running; undefined when it is not open. */
export async function claimJob(db: Db, id: string): Promise<RunnableJob | undefined> {
  const r = await db.query<RunnableJob>(
    `UPDATE carrier_jobs j SET status = 'running', started_at = coalesce(j.started_at, now())
     FROM providers p JOIN carriers c ON c.id = p.carrier_id
     WHERE j.id = $1 AND p.id = j.provider_id AND j.status IN ('queued', 'running') AND j.uploaded_at IS NOT NULL
     RETURNING ${COLUMNS.split(',').map((c) => `j.${c.trim()}`).join(', ')}, c.id AS carrier_id, c.slug AS carrier_slug`,
    [id],
  );
  return r.rows[0];
}

/** Jobs left queued or running, with their carriers (at start, after a restart). */
export async function unfinishedJobs(db: Db): Promise<RunnableJob[]> {
  const r = await db.query<RunnableJob>(
    `SELECT ${COLUMNS.split(',').map((c) => `j.${c.trim()}`).join(', ')}, c.id AS carrier_id, c.slug AS carrier_slug
     FROM carrier_jobs j JOIN providers p ON p.id = j.provider_id JOIN carriers c ON c.id = p.carrier_id
     WHERE j.status IN ('queued', 'running') ORDER BY j.created_at`,
  );
  return r.rows;
}

/** Of these upload file names, those whose job is still open (queued or running). */
export async function openUploadNames(db: Db, names: string[]): Promise<Set<string>> {
  const r = await db.query<{ upload_name: string }>(
    `SELECT upload_name FROM carrier_jobs WHERE upload_name = ANY($1::text[]) AND status IN ('queued', 'running')`, [names],
  );
  return new Set(r.rows.map((row) => row.upload_name));
}

export async function setImportRun(db: Db, id: string, runId: string): Promise<void> {
  await db.query('UPDATE carrier_jobs SET import_run_id = $2 WHERE id = $1', [id, runId]);
}

/** The totals of an import run that completed; undefined while it is open, failed or abandoned. */
export async function completedRunSummary(db: Db, runId: string): Promise<JobSummary | undefined> {
  const r = await db.query<{ accepted: string; unchanged: string; rejected: string }>(
    `SELECT accepted, unchanged, rejected FROM import_runs WHERE id = $1 AND status = 'completed'`, [runId],
  );
  const row = r.rows[0];
  return row && { accepted: Number(row.accepted), unchanged: Number(row.unchanged), rejected: Number(row.rejected) };
}

export async function recordProgress(db: Db, id: string, bytesDone: number, summary: JobSummary): Promise<void> {
  await db.query(
    `UPDATE carrier_jobs SET bytes_done = LEAST($2::bigint, bytes_total), summary = $3 WHERE id = $1 AND status = 'running'`,
    [id, bytesDone, JSON.stringify(summary)],
  );
}

export async function completeJob(db: Db, id: string, runId: string, summary: JobSummary): Promise<void> {
  await db.query(
    `UPDATE carrier_jobs SET status = 'completed', bytes_done = bytes_total, import_run_id = $2, summary = $3, error = NULL, finished_at = now()
     WHERE id = $1`,
    [id, runId, JSON.stringify(summary)],
  );
}

/** Records the failure by its catalogue code only: never a message, which could carry data. */
export async function failJob(db: Db, id: string, code: string): Promise<void> {
  await db.query(`UPDATE carrier_jobs SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status IN ('queued', 'running')`, [id, code]);
}

/** A page of a run's rejects after `afterLine`, in line order. */
export async function rejectsPage(db: Db, runId: string, afterLine: number, limit: number): Promise<{ line: string; field: string; code: string }[]> {
  const r = await db.query<{ line: string; field: string; code: string }>(
    'SELECT line, field, code FROM import_rejects WHERE run_id = $1 AND line > $2 ORDER BY line LIMIT $3',
    [runId, afterLine, limit],
  );
  return r.rows;
}

/** The latest completed reconciliation run, whose action lists the carriers work from. */
export async function latestCompletedRun(db: Db): Promise<string | undefined> {
  const r = await db.query<{ id: string }>(
    `SELECT id FROM reconciliation_runs WHERE status = 'completed' ORDER BY finished_at DESC NULLS LAST, started_at DESC LIMIT 1`,
  );
  return r.rows[0]?.id;
}
