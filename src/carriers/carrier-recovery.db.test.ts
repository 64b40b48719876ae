/**
 * Review of issue 3 "Carriers use the API too ... processed as a job with progress" (DESIGN.md
 * invariant 6, nothing is lost): a job is recovered only when no live hub process holds it.
 * - A second hub process (its own data directory, the same database: a rolling deploy or a scale
 *   out) that starts while the first is receiving an upload must not fail that upload's job.
 * - A job left open at a restart while a CLI import held its carrier's lock must not stay open
 *   forever, blocking the carrier's every upload with 409 IMPORT_ALREADY_RUNNING.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { openHub, type Hub } from '../hub.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { composePersonalId } from '../registry/personal-id.ts';
import { acceptUpload, getJob, recoverCarrierJobs, uploadsDir, type CarrierJobDeps } from './carrier-jobs.ts';
import { uploadSealer } from './upload-encryption.ts';

let db: TestDatabase;
let hub: Hub;
let dirA: string;
let dirB: string;
const pending = new Set<Promise<unknown>>();
const track = (p: Promise<unknown>) => {
  const q = p.finally(() => pending.delete(q));
  pending.add(q);
};
let viettel: Provider;
let mobifone: Provider;

const H = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status';
const people = Array.from({ length: 2 }, (_, i) => ({ pid: composePersonalId('048', 1970 + i, 'M', 300 + i), name: `Lê Văn ${['An', 'Bình'][i]}`, birth: `${1970 + i}-07-07` }));
const row = (msisdn: string, i: number) => `${msisdn},${people[i]!.pid},${people[i]!.name},${people[i]!.birth},store,2021-01-01,active`;

const depsOf = (dataDir: string): CarrierJobDeps => ({ pool: hub.pool, ring: () => hub.ring(), config: { ...hub.config, dataDir }, track });

async function settled(p: Provider, id: string) {
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    // Until no tracked work is left: work may start more (the recovery starts each job it resumes).
    while (pending.size > 0) await Promise.all([...pending]);
    const job = await getJob(hub.pool, p, id);
    if (job.status === 'completed' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  return getJob(hub.pool, p, id);
}

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dirA = mkdtempSync(join(tmpdir(), 'idbind-carriers-a-'));
  dirB = mkdtempSync(join(tmpdir(), 'idbind-carriers-b-'));
  hub = await openHub({
    mode: 'production',
    env: { DATABASE_URL: db.url, IDBIND_DATA_DIR: dirA, IDBIND_MASTER_KEY: randomBytes(32).toString('base64'), IDBIND_WORKERS: '1' },
  });
  const pop = join(dirA, 'population.csv');
  writeFileSync(pop, ['personal_id,full_name,birth_date,sex,status', ...people.map((p) => `${p.pid},${p.name},${p.birth},M,alive`)].join('\n') + '\n');
  await importRegistry({ pool: hub.pool, ring: await hub.ring(), kind: 'population', path: pop, rejectsPath: pop + '.rejects', workers: 1 });
  viettel = (await createProvider(hub.pool, await hub.ring(), { allowLoopback: true }, { name: 'Viettel', kind: 'carrier', carrier: 'viettel' })).provider;
  mobifone = (await createProvider(hub.pool, await hub.ring(), { allowLoopback: true }, { name: 'MobiFone', kind: 'carrier', carrier: 'mobifone' })).provider;
});
afterAll(async () => {
  await Promise.all([...pending]);
  await hub?.close();
  await db?.drop();
  rmSync(dirA, { recursive: true, force: true });
  rmSync(dirB, { recursive: true, force: true });
});

describe('carrier job recovery', () => {
  it('leaves alone a job that another live hub process is still receiving', async () => {
    const body = new PassThrough();
    body.write(H + '\n' + row('0961000001', 0) + '\n');
    const accepted = acceptUpload(depsOf(dirA), viettel, { kind: 'subscriptions', format: 'csv', body });
    // Wait until hub A has opened the job.
    let jobId: string | undefined;
    for (const end = Date.now() + 60_000; !jobId && Date.now() < end;) {
      jobId = (await hub.pool.query<{ id: string }>(`SELECT id FROM carrier_jobs WHERE provider_id = $1 AND status = 'queued'`, [viettel.id])).rows[0]?.id;
      if (!jobId) await new Promise((r) => setTimeout(r, 10));
    }
    expect(jobId).toBeDefined();
    // Hub B starts (its own data directory, the same database).
    const recovered = await recoverCarrierJobs(depsOf(dirB));
    expect(recovered.failed).not.toContain(jobId);
    body.end(row('0961000002', 1) + '\n');
    const view = await accepted;
    expect(view.job_id).toBe(jobId);
    expect(['queued', 'running', 'completed']).toContain(view.status);
    expect(await settled(viettel, jobId!)).toMatchObject({ status: 'completed', summary: { accepted: 2, rejected: 0 } });
    expect(readdirSync(uploadsDir(dirA))).toEqual([]);
  });

  it('does not leave a job open forever when a CLI import held the carrier\'s lock at the restart', async () => {
    const csv = [H, row('0901000001', 0)].join('\n') + '\n';
    const jobId = randomUUID();
    const dir = uploadsDir(dirA);
    mkdirSync(dir, { recursive: true });
    const sealer = uploadSealer(await hub.ring(), jobId);
    writeFileSync(join(dir, `${jobId}.csv`), Buffer.concat([sealer.header, sealer.update(Buffer.from(csv)), sealer.final()]), { mode: 0o600 });
    await hub.pool.query(
      `INSERT INTO carrier_jobs (id, provider_id, kind, format, status, bytes_total, upload_name, source_sha256, uploaded_at)
       VALUES ($1, $2, 'subscriptions', 'csv', 'queued', $3, $4, $5, now())`,
      [jobId, mobifone.id, Buffer.byteLength(csv), `${jobId}.csv`, createHash('sha256').update(csv).digest('hex')],
    );
    const cli = await hub.pool.connect();
    try {
      await cli.query('SELECT pg_advisory_lock(72026, $1)', [2_000_000 + mobifone.carrierId!]);
      await recoverCarrierJobs(depsOf(dirA));
    } finally {
      await cli.query('SELECT pg_advisory_unlock_all()');
      cli.release();
    }
    // The CLI import is over: the job must end (run now, or fail visibly so the carrier uploads again).
    const job = await settled(mobifone, jobId);
    expect(['completed', 'failed']).toContain(job.status);
    expect(existsSync(join(dir, `${jobId}.csv`))).toBe(false);
  });
});
