/**
 * Carriers use the API too (issue 3): a carrier uploads its subscriber registry or a delta file,
 * which is processed as a job by the same code as the CLI (importRegistry,
 * applySubscriptionEvents: the same formats, rules, reject codes and lifecycle of bindings), with
 * progress, a summary and the rejects (line, field, code: never a value, DESIGN.md invariant 2).
 *
 * A job's life: the body streams to `<data dir>/uploads/<job id>.<csv|ndjson>` (mode 0600),
 * hashed as it arrives (`queued`); it is then imported (`running`, bytes_done from the import's
 * progress) and ends `completed` with its summary or `failed` with a catalogue code, and its file
 * is deleted. Nothing is lost across a restart (DESIGN.md invariant 6): a job whose file arrived is
 * resumed at start, and the import itself resumes after its last committed batch (runs are found
 * by the file's hash); a job whose upload was cut off, or whose file is gone, is marked failed
 * with CARRIER_JOB_INTERRUPTED, visibly. One job per carrier is open at a time
 * (carrier_jobs_one_active); a CLI import of the same carrier holds the registry's import lock,
 * and the job then fails with IMPORT_ALREADY_RUNNING.
 *
 * The hub process that receives or runs a job holds the job's advisory lock (holdJob) on a
 * connection of its own until the job ends, so that the recovery of another hub process sharing
 * the database (a rolling deploy, a second process with its own data directory) leaves it alone:
 * only a job whose holder is gone is resumed or failed. Recovery assumes the uploads of a stopped
 * hub are in the data directory of the process that recovers them.
 */
import { createHash } from 'node:crypto';
import { chmodSync, createWriteStream, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { holdAdvisoryLock, type AdvisoryLockHold } from '../kernel/db/advisory-lock.ts';
import type { Config } from '../kernel/config/config.ts';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { AppError } from '../kernel/errors.ts';
import { HTTP_ERRORS, HttpError } from '../kernel/http/http-errors.ts';
import { uuidv7 } from '../kernel/ids.ts';
import type { Provider } from '../providers/provider-service.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { openSealedUpload, uploadSealer, type UploadSealer } from './upload-encryption.ts';
import { applySubscriptionEvents } from '../registry/subscription-events.ts';
import type { ImportProgress, ImportSummary } from '../registry/import/import-runs.ts';
import { checkHeader, checkHeaderEncoding, notUtf8Text } from '../registry/import/chunk-reader.ts';
import { parseCsvFields } from '../registry/import/record-parser.ts';
import { SUBSCRIPTION_FIELDS, SUBSCRIPTION_REQUIRED } from '../registry/registry-rows.ts';
import { REGISTRY_ERRORS, RegistryError } from '../registry/registry-errors.ts';
import { CARRIER_ERRORS, CarrierError } from './carrier-errors.ts';
import * as repo from './carrier-repository.ts';

export type { JobKind, UploadFormat } from './carrier-repository.ts';

/** Largest upload taken (2 GiB): a national carrier's full registry as CSV is well below it. */
export const DEFAULT_UPLOAD_LIMIT_BYTES = 2 * 1024 ** 3;
/**
 * How long an upload may send nothing before it is given up (5 minutes). The server has no
 * request timeout (a 2 GiB file takes long on a slow link), and an upload holds its carrier's one
 * open job from its first byte: a client gone without a FIN or RST (a NAT or load balancer that
 * dropped the flow) would otherwise refuse every later upload of the carrier, 409, until a restart.
 */
export const DEFAULT_UPLOAD_IDLE_TIMEOUT_MS = 5 * 60_000;
/** The start of an upload kept to check its format before the job is accepted. */
const HEAD_BYTES = 64 * 1024;

export interface CarrierJobDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  /** `verification`: its SIM-change window, which the bindings' lifecycle applies to a delta's SIM changes (the hub's; 72 h without it). */
  config: Pick<Config, 'dataDir' | 'workers'> & { verification?: Pick<Config['verification'], 'simChangeWindowHours'> };
  /** Background work the server waits for on shutdown. */
  track: (work: Promise<unknown>) => void;
  /** Largest upload accepted, in bytes (default DEFAULT_UPLOAD_LIMIT_BYTES). */
  uploadLimitBytes?: number;
  /** Longest silence of an upload's client, in ms (default DEFAULT_UPLOAD_IDLE_TIMEOUT_MS; tests lower it). */
  uploadIdleTimeoutMs?: number;
  /** Told of a job's unexpected failure (its error name and code only: never a message). */
  onJobError?: (jobId: string, error: { name: string; code: string }) => void;
}

export function uploadsDir(dataDir: string): string {
  return join(dataDir, 'uploads');
}

// ---- ownership ----

/** The advisory lock (first key) a hub process holds on each job it receives or runs; the second key is the job id's hashtext. */
export const LOCK_CARRIER_JOB = 72_029;

/** A job's advisory lock held on a connection of its own (not the pool's: an upload may take minutes). */
export type JobHold = AdvisoryLockHold;

/**
 * Takes the job's lock: waits for it with `wait` (a job just created, whose key only a hash
 * collision could hold), else answers undefined when another session holds it (a live hub
 * process is receiving or running the job).
 */
export function holdJob(pool: pg.Pool, jobId: string, wait = false): Promise<JobHold | undefined> {
  return holdAdvisoryLock(pool, LOCK_CARRIER_JOB, jobId, { wait, applicationName: 'idbind-carrier-job' });
}

// ---- views ----

export interface JobView {
  job_id: string;
  kind: repo.JobKind;
  format: repo.UploadFormat;
  status: repo.JobStatus;
  bytes_total: number;
  bytes_done: number;
  /** Counts so far while running; the run's totals once completed. */
  summary: repo.JobSummary | null;
  error: { code: string; title: string } | null;
  created_at: string;
  /** When its file had arrived whole and was stored; null while it is still arriving. */
  uploaded_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  location: string;
  rejects: string;
}

const TITLES: Readonly<Record<string, { title: string }>> = { ...HTTP_ERRORS, ...REGISTRY_ERRORS, ...CARRIER_ERRORS };

export function jobView(j: repo.JobRow): JobView {
  const location = `/v1/carrier/jobs/${j.id}`;
  return {
    job_id: j.id, kind: j.kind, format: j.format, status: j.status,
    bytes_total: Number(j.bytes_total), bytes_done: Number(j.bytes_done), summary: j.summary,
    error: j.error ? { code: j.error, title: TITLES[j.error]?.title ?? HTTP_ERRORS.INTERNAL.title } : null,
    created_at: j.created_at.toISOString(), uploaded_at: j.uploaded_at?.toISOString() ?? null, started_at: j.started_at?.toISOString() ?? null, finished_at: j.finished_at?.toISOString() ?? null,
    location, rejects: `${location}/rejects`,
  };
}

function carrierOf(provider: Provider): { id: number; slug: string } {
  // providerGuard(pool, ['carrier']) lets only carriers in, and a carrier provider always has its
  // carrier (migrations/0002: CHECK ((kind = 'carrier') = (carrier_id IS NOT NULL))).
  if (provider.kind !== 'carrier' || provider.carrierId === null || provider.carrier === null) throw new HttpError('NOT_FOUND');
  return { id: provider.carrierId, slug: provider.carrier };
}

// ---- uploads ----

export interface ReceivedUpload {
  bytes: number;
  sha256: string;
  /** The first HEAD_BYTES bytes, for the format check. */
  head: Buffer;
}

/**
 * Streams a request body to `path` (created, mode 0600), in constant memory, hashing it on the
 * way. Past `limitBytes` it stops reading and fails with PAYLOAD_TOO_LARGE; after `idleMs` without
 * a byte from the client (not counting the waits for the disk) it fails with REQUEST_INVALID; the
 * body is left to the server to discard (the route closes the connection), never buffered. The
 * caller deletes the file on failure: the promise settles once the file is closed.
 */
export function receiveUpload(body: Readable, path: string, limitBytes: number, sealer: UploadSealer, idleMs = DEFAULT_UPLOAD_IDLE_TIMEOUT_MS): Promise<ReceivedUpload> {
  return new Promise<ReceivedUpload>((resolve, reject) => {
    const hash = createHash('sha256');
    const head: Buffer[] = [];
    let headBytes = 0;
    let bytes = 0;
    let settled = false;
    let ended = false;
    let idle: NodeJS.Timeout | undefined;
    const waitForClient = () => {
      clearTimeout(idle);
      idle = setTimeout(() => fail(new HttpError('REQUEST_INVALID', `the upload stopped: no bytes for ${Math.round(idleMs / 1000)} s; upload the file again`)), idleMs);
    };
    const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    // Sealed on the way to disk (upload-encryption.ts): the plaintext never touches the file.
    out.write(sealer.header);
    const fail = (e: Error) => {
      clearTimeout(idle);
      if (settled) return;
      settled = true;
      body.off('data', onData);
      body.resume();
      // Answered once the file is closed: the stream opens it asynchronously, so a file deleted by
      // the caller on the rejection could otherwise be created after the deletion and left behind
      // (found by the test suite: its directory not empty, an upload refused at once).
      out.destroy();
      if (out.closed) reject(e);
      else out.once('close', () => reject(e));
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limitBytes) return fail(new HttpError('PAYLOAD_TOO_LARGE', `an upload is at most ${limitBytes} bytes`));
      hash.update(chunk);
      if (headBytes < HEAD_BYTES) {
        const part = chunk.subarray(0, HEAD_BYTES - headBytes);
        head.push(part);
        headBytes += part.length;
      }
      if (!out.write(sealer.update(chunk))) {
        // Waiting for the disk is not the client's silence.
        clearTimeout(idle);
        body.pause();
        out.once('drain', () => {
          if (settled) return;
          waitForClient();
          body.resume();
        });
      } else waitForClient();
    };
    waitForClient();
    body.on('data', onData);
    body.once('end', () => {
      ended = true;
      clearTimeout(idle);
      if (!settled) out.end(sealer.final());
    });
    // A client that goes away mid-body: the stream closes without ending.
    body.once('close', () => {
      if (!ended) fail(new HttpError('REQUEST_INVALID', 'the upload was cut off before its end'));
    });
    body.once('error', fail);
    out.once('error', fail);
    out.once('finish', () => {
      if (settled) return;
      settled = true;
      chmodSync(path, 0o600);
      resolve({ bytes, sha256: hash.digest('hex'), head: Buffer.concat(head) });
    });
  });
}

/**
 * The format chosen by the Content-Type must be the body's (issue 3: "the same formats and rules
 * as the CLI"): NDJSON starts with an object; CSV does not, and its header names the columns of
 * docs/formats.md. Checked before the job is accepted, so a wrong file gets a 400 at once
 * instead of a failed job. Messages name positions and formats, never a value.
 */
export function checkUploadStart(head: Buffer, complete: boolean, format: repo.UploadFormat): void {
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const first = text.trimStart()[0];
  if (first === undefined) throw new RegistryError('IMPORT_FORMAT_INVALID', 'the body is empty');
  if (format === 'ndjson') {
    // A compressed or UTF-16 body was told it is not NDJSON, and to send CSV. A bad byte in a
    // value is not checked here: it rejects that line only, as in the CLI.
    const why = notUtf8Text(head, false);
    if (why) throw new RegistryError('IMPORT_FORMAT_INVALID', `the body is not UTF-8 text (${why}): registry files are UTF-8`);
    if (first !== '{') throw new RegistryError('IMPORT_FORMAT_INVALID', 'the body is not NDJSON (one JSON object per line); send CSV as text/csv');
    return;
  }
  // The CLI's check of the header row's bytes first (chunk-reader.ts): a UTF-16, 8-bit or
  // compressed file was told it had unknown columns, "is the header row missing?".
  const nlByte = head.indexOf(0x0a);
  checkHeaderEncoding(nlByte === -1 ? head : head.subarray(0, nlByte + 1));
  if (first === '{' || first === '[') throw new RegistryError('IMPORT_FORMAT_INVALID', 'the body is JSON, not CSV; send NDJSON as application/x-ndjson');
  const nl = text.indexOf('\n');
  if (nl === -1 && !complete) throw new RegistryError('IMPORT_FORMAT_INVALID', `the header row is longer than ${HEAD_BYTES} bytes`);
  const columns = parseCsvFields((nl === -1 ? text : text.slice(0, nl)).replace(/\r$/, ''));
  if (!columns) throw new RegistryError('IMPORT_FORMAT_INVALID', 'the header row is not well-formed CSV');
  checkHeader(columns.map((c) => c.trim()), SUBSCRIPTION_FIELDS, SUBSCRIPTION_REQUIRED);
}

function isUniqueViolation(e: unknown, constraint: string): boolean {
  const pe = e as { code?: string; constraint?: string };
  return pe.code === '23505' && pe.constraint === constraint;
}

function alreadyRunning(openJobId: string | undefined): AppError {
  return new AppError('IMPORT_ALREADY_RUNNING', REGISTRY_ERRORS.IMPORT_ALREADY_RUNNING, 'a job of this carrier is queued or running; poll it, then upload again', { job_id: openJobId ?? null });
}

/**
 * `POST /v1/carrier/registry` and `/v1/carrier/deltas`: takes the body as a new job of the
 * provider's carrier and starts it; answers once the body is stored and checked. Refuses a second
 * job while one is open (IMPORT_ALREADY_RUNNING, with the open job's id) before reading the body.
 */
export async function acceptUpload(
  deps: CarrierJobDeps, provider: Provider, upload: { kind: repo.JobKind; format: repo.UploadFormat; body: Readable; declaredBytes?: number },
): Promise<JobView> {
  carrierOf(provider);
  const limit = deps.uploadLimitBytes ?? DEFAULT_UPLOAD_LIMIT_BYTES;
  if (upload.declaredBytes !== undefined && upload.declaredBytes > limit) throw new HttpError('PAYLOAD_TOO_LARGE', `an upload is at most ${limit} bytes`);
  // A job already open refuses the upload from the pool, before a connection of its own is opened
  // for the job's lock: a burst of uploads while one runs costs no connection each. The unique
  // index below still decides between uploads racing past this check.
  const alreadyOpen = await repo.activeJobId(deps.pool, provider.id);
  if (alreadyOpen) throw alreadyRunning(alreadyOpen);
  const id = uuidv7();
  const uploadName = `${id}.${upload.format}`;
  // Held from before the job exists until it ends (runJob): another hub's recovery never takes it.
  const hold = await holdJob(deps.pool, id, true);
  try {
    await repo.insertJob(deps.pool, { id, providerId: provider.id, kind: upload.kind, format: upload.format, uploadName });
  } catch (e) {
    await hold?.release();
    if (!isUniqueViolation(e, repo.ONE_ACTIVE_CONSTRAINT)) throw e;
    throw alreadyRunning(await repo.activeJobId(deps.pool, provider.id));
  }
  const dir = uploadsDir(deps.config.dataDir);
  const path = join(dir, uploadName);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const received = await receiveUpload(upload.body, path, limit, uploadSealer(await deps.ring(), id), deps.uploadIdleTimeoutMs);
    checkUploadStart(received.head, received.bytes <= HEAD_BYTES, upload.format);
    await repo.markUploaded(deps.pool, id, received.bytes, received.sha256);
  } catch (e) {
    await rm(path, { force: true });
    await repo.deleteUnuploadedJob(deps.pool, id);
    await hold?.release();
    throw e;
  }
  startJob(deps, id, hold);
  return jobView((await repo.findJob(deps.pool, provider.id, id))!);
}

// ---- running ----

/** Writes the import's progress to the job at most every `intervalMs`, in order. */
function progressWriter(pool: pg.Pool, jobId: string, intervalMs = 500) {
  let last = 0;
  let pending: ImportProgress | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  const write = () => {
    const p = pending!;
    pending = undefined;
    chain = chain.then(() => repo.recordProgress(pool, jobId, p.bytes, { accepted: p.accepted, unchanged: p.unchanged, rejected: p.rejected })).catch(() => undefined);
  };
  return {
    update(p: ImportProgress) {
      pending = p;
      const now = Date.now();
      if (now - last < intervalMs) return;
      last = now;
      write();
    },
    async flush() {
      if (pending) write();
      await chain;
    },
  };
}

function errorCode(e: unknown): string {
  return e instanceof AppError ? e.code : 'INTERNAL';
}

/**
 * Runs one job to its end: imports the uploaded file (resuming its import run when an earlier
 * attempt was interrupted), records the outcome, and deletes the file and its rejects file (the
 * rejects stay in the database, served by GET /v1/carrier/jobs/{id}/rejects).
 */
export async function runJob(deps: CarrierJobDeps, jobId: string, hold?: JobHold): Promise<void> {
  try {
    await runClaimedJob(deps, jobId);
  } finally {
    await hold?.release();
  }
}

async function runClaimedJob(deps: CarrierJobDeps, jobId: string): Promise<void> {
  const job = await repo.claimJob(deps.pool, jobId);
  if (!job) return;
  const path = join(uploadsDir(deps.config.dataDir), job.upload_name ?? '');
  const rejectsPath = join(deps.config.dataDir, 'rejects', `carrier-job-${job.id}.rejects.csv`);
  const progress = progressWriter(deps.pool, job.id);
  try {
    // A hub that died after the job's import completed and before the job did: the import's own
    // totals are the job's. Importing the file again would start a new run that finds every row
    // unchanged, and the job would report accepted 0 for a file that changed the registry.
    const done = job.import_run_id ? await repo.completedRunSummary(deps.pool, job.import_run_id) : undefined;
    if (done) {
      await repo.completeJob(deps.pool, job.id, job.import_run_id!, done);
      return;
    }
    const ring = await deps.ring();
    const common = {
      pool: deps.pool, ring, carrier: job.carrier_slug, path, rejectsPath, sha256: job.source_sha256 ?? undefined,
      open: () => openSealedUpload(path, ring, job.id),
      actor: `provider:${job.provider_id}`, onProgress: (p: ImportProgress) => progress.update(p),
      onRunStarted: (run: { runId: string }) => repo.setImportRun(deps.pool, job.id, run.runId),
    };
    const summary: ImportSummary = job.kind === 'subscriptions'
      ? await importRegistry({ ...common, kind: 'subscriptions', workers: deps.config.workers, simChangeWindowHours: deps.config.verification?.simChangeWindowHours })
      : await applySubscriptionEvents({ ...common, simChangeWindowHours: deps.config.verification?.simChangeWindowHours });
    await progress.flush();
    await repo.completeJob(deps.pool, job.id, summary.run_id, { accepted: summary.accepted, unchanged: summary.unchanged, rejected: summary.rejected });
  } catch (e) {
    await progress.flush();
    const code = errorCode(e);
    if (code === 'INTERNAL') deps.onJobError?.(job.id, { name: (e as Error).name, code: (e as { code?: string }).code ?? '' });
    await repo.failJob(deps.pool, job.id, code);
  } finally {
    await rm(path, { force: true });
    await rm(rejectsPath, { force: true });
  }
}

export function startJob(deps: CarrierJobDeps, jobId: string, hold?: JobHold): void {
  const work = runJob(deps, jobId, hold).catch((e: unknown) => deps.onJobError?.(jobId, { name: (e as Error).name, code: '' }));
  deps.track(work);
}

/**
 * At start: every job left open whose hub process is gone (nobody holds its lock, holdJob) is
 * resumed, or failed visibly when it cannot be (its upload was cut off, or its file is gone). A
 * job another live hub process holds is left to it. A job resumed while a CLI import holds its
 * carrier's registry fails with IMPORT_ALREADY_RUNNING, as an upload then does: it never stays
 * open, which would refuse the carrier's every upload. Returns the jobs resumed and failed.
 */
export async function recoverCarrierJobs(deps: CarrierJobDeps): Promise<{ resumed: string[]; failed: string[] }> {
  const resumed: string[] = [];
  const failed: string[] = [];
  for (const job of await repo.unfinishedJobs(deps.pool)) {
    const hold = await holdJob(deps.pool, job.id);
    if (!hold) continue;
    const path = job.upload_name ? join(uploadsDir(deps.config.dataDir), job.upload_name) : '';
    if (!job.uploaded_at || !path || !existsSync(path)) {
      try {
        if (path) await rm(path, { force: true });
        await repo.failJob(deps.pool, job.id, 'CARRIER_JOB_INTERRUPTED');
      } finally {
        await hold.release();
      }
      failed.push(job.id);
      continue;
    }
    startJob(deps, job.id, hold);
    resumed.push(job.id);
  }
  await removeEndedUploads(deps);
  return { resumed, failed };
}

/**
 * Deletes the uploads whose job has ended or never was: a hub that died between a job's end and
 * the deletion of its file left it (a whole registry, sealed, kept for nothing; docs/carriers.md
 * "The uploaded file is deleted when its job ends"). The file of an open job, this process's or
 * another's sharing the directory, is left: a job's row is written before its file, so a file
 * listed here whose job is not open is never one being received.
 */
async function removeEndedUploads(deps: CarrierJobDeps): Promise<void> {
  const dir = uploadsDir(deps.config.dataDir);
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => /^[0-9a-f-]{36}\.(csv|ndjson)$/.test(n)) : [];
  if (names.length === 0) return;
  const open = await repo.openUploadNames(deps.pool, names);
  for (const name of names) if (!open.has(name)) await rm(join(dir, name), { force: true });
}

// ---- reading ----

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** One of the provider's own jobs; another carrier's job is "not found", never "forbidden". */
export async function getJob(pool: pg.Pool, provider: Provider, id: string): Promise<JobView> {
  return jobView(await ownJob(pool, provider, id));
}

async function ownJob(pool: pg.Pool, provider: Provider, id: string): Promise<repo.JobRow> {
  const job = ID.test(id) ? await repo.findJob(pool, provider.id, id) : undefined;
  if (!job) throw new CarrierError('CARRIER_JOB_NOT_FOUND');
  return job;
}

export async function listJobs(pool: pg.Pool, provider: Provider, limit = 50): Promise<JobView[]> {
  return (await repo.listJobs(pool, provider.id, Math.min(Math.max(limit, 1), 500))).map(jobView);
}

/**
 * A job's rejects as CSV text in pieces (`line,field,code`, line order), in constant memory; the
 * job is checked before the first piece. While the job runs, the rejects of its committed batches.
 */
export async function openJobRejects(pool: pg.Pool, provider: Provider, id: string): Promise<AsyncGenerator<string>> {
  const job = await ownJob(pool, provider, id);
  const runId = job.import_run_id;
  return (async function* () {
    yield 'line,field,code\n';
    if (!runId) return;
    let after = 0;
    for (;;) {
      const rows = await repo.rejectsPage(pool, runId, after, 10_000);
      if (rows.length === 0) return;
      yield rows.map((r) => `${r.line},${r.field},${r.code}\n`).join('');
      after = Number(rows[rows.length - 1]!.line);
    }
  })();
}
