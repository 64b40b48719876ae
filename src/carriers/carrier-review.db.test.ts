/**
 * Adversarial review of the carriers' API (issue 3 "Carriers use the API too: upload a registry
 * file or a delta file (the same formats and rules as the CLI, processed as a job with progress),
 * and download their latest action list"; DESIGN.md invariants 5 and 6).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { openHub, type Hub } from '../hub.ts';
import { errorHandler, notFoundHandler } from '../kernel/http/problem.ts';
import { decorateProviderRequest } from '../providers/provider-auth.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { applySubscriptionEvents } from '../registry/subscription-events.ts';
import { composePersonalId } from '../registry/personal-id.ts';
import { carrierRoutes, type CarrierRouteDeps } from './carrier-routes.ts';
import { uploadsDir } from './carrier-jobs.ts';
import { openSealedUpload, uploadSealer } from './upload-encryption.ts';
import { addKeyVersion, completeKeyWork, retireUnusedKeys } from '../keys/key-rotation-service.ts';

let db: TestDatabase;
let hub: Hub;
let dataDir: string;
let app: FastifyInstance;
const pending = new Set<Promise<unknown>>();
const track = (p: Promise<unknown>) => {
  const q = p.finally(() => pending.delete(q));
  pending.add(q);
};

interface Carrier { provider: Provider; auth: Record<string, string> }

const H = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status';
const people = Array.from({ length: 3 }, (_, i) => ({ pid: composePersonalId('048', 1970 + i, 'M', 400 + i), name: `Lê Văn ${['An', 'Bình', 'Chi'][i]}`, birth: `${1970 + i}-07-07` }));
const row = (msisdn: string, i: number | null) =>
  i === null ? `${msisdn},,,,store,2021-01-01,active` : `${msisdn},${people[i]!.pid},${people[i]!.name},${people[i]!.birth},store,2021-01-01,active`;

async function buildApp(extra: Partial<CarrierRouteDeps> = {}): Promise<FastifyInstance> {
  const a = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } } });
  a.setErrorHandler(errorHandler);
  a.setNotFoundHandler(notFoundHandler);
  decorateProviderRequest(a);
  await a.register(async (scope) => carrierRoutes(scope, { pool: hub.pool, ring: () => hub.ring(), config: hub.config, track, uploadLimitBytes: 2 * 1024 * 1024, ...extra }));
  await a.ready();
  return a;
}

let n = 0;
async function carrier(): Promise<Carrier> {
  const slug = `rv-${++n}`;
  const c = await createProvider(hub.pool, await hub.ring(), { allowLoopback: true }, { name: `Carrier ${slug}`, kind: 'carrier', carrier: slug });
  return { provider: c.provider, auth: { authorization: `Bearer ${c.apiKey}` } };
}

const upload = (c: Carrier, path: string, body: string | Buffer | Readable, headers: Record<string, string>, via = app) =>
  via.inject({ method: 'POST', url: path, headers: { ...c.auth, ...headers }, payload: body });

async function settled(c: Carrier, id: string, via = app) {
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    // Until no tracked work is left: work may start more (the recovery starts each job it resumes).
    while (pending.size > 0) await Promise.all([...pending]);
    const job = (await via.inject({ url: `/v1/carrier/jobs/${id}`, headers: c.auth })).json();
    if (job.status === 'completed' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the job did not finish');
}

const openJobs = async (c: Carrier) =>
  (await hub.pool.query(`SELECT count(*)::int AS n FROM carrier_jobs WHERE provider_id = $1 AND status IN ('queued', 'running')`, [c.provider.id])).rows[0].n as number;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dataDir = mkdtempSync(join(tmpdir(), 'idbind-carriers-review-'));
  hub = await openHub({
    mode: 'production',
    env: { DATABASE_URL: db.url, IDBIND_DATA_DIR: dataDir, IDBIND_MASTER_KEY: randomBytes(32).toString('base64'), IDBIND_WORKERS: '1' },
  });
  const pop = join(dataDir, 'population.csv');
  writeFileSync(pop, ['personal_id,full_name,birth_date,sex,status', ...people.map((p) => `${p.pid},${p.name},${p.birth},M,alive`)].join('\n') + '\n');
  await importRegistry({ pool: hub.pool, ring: await hub.ring(), kind: 'population', path: pop, rejectsPath: pop + '.rejects', workers: 1 });
  app = await buildApp();
});
afterAll(async () => {
  await app?.close();
  await Promise.all([...pending]);
  await hub?.close();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('uploads in an encoding the hub does not read', () => {
  it('refuses a compressed body (Content-Encoding) before reading it, as 415, keeping nothing', async () => {
    const c = await carrier();
    const csv = [H, row('0961000001', 0)].join('\n') + '\n';
    const r = await upload(c, '/v1/carrier/registry', gzipSync(csv), { 'content-type': 'text/csv', 'content-encoding': 'gzip' });
    expect(r.statusCode).toBe(415);
    expect(r.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect((await hub.pool.query('SELECT count(*)::int AS n FROM carrier_jobs WHERE provider_id = $1', [c.provider.id])).rows[0].n).toBe(0);
  });

  it('says a CSV or NDJSON body that is not UTF-8 is not UTF-8, as the CLI does, not that its header is missing', async () => {
    const c = await carrier();
    const csv = [H, row('0961000001', 0)].join('\n') + '\n';
    const ndjson = JSON.stringify({ event_id: 'e1', type: 'unblocked', msisdn: '0961000001', at: '2025-01-01T00:00:00Z' }) + '\n';
    const cases: [string, string, Buffer][] = [
      ['/v1/carrier/registry', 'text/csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csv, 'utf16le')])],
      ['/v1/carrier/registry', 'text/csv', Buffer.from(csv, 'utf16le')],
      ['/v1/carrier/registry', 'text/csv', Buffer.from(H.replace('full', 'fùll') + '\n', 'latin1')],
      ['/v1/carrier/registry', 'text/csv', gzipSync(csv)],
      ['/v1/carrier/deltas', 'application/x-ndjson', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(ndjson, 'utf16le')])],
      ['/v1/carrier/deltas', 'application/x-ndjson', gzipSync(ndjson)],
    ];
    for (const [path, type, body] of cases) {
      const r = await upload(c, path, body, { 'content-type': type });
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ code: 'IMPORT_FORMAT_INVALID', detail: expect.stringContaining('UTF-8') });
    }
    expect(await openJobs(c)).toBe(0);
  });
});

describe('files at the edges', () => {
  it('takes a header-only CSV as a job that changes nothing', async () => {
    const c = await carrier();
    const r = await upload(c, '/v1/carrier/registry', H + '\r\n', { 'content-type': 'text/csv' });
    expect(r.statusCode).toBe(202);
    expect(await settled(c, r.json().job_id)).toMatchObject({ status: 'completed', summary: { accepted: 0, unchanged: 0, rejected: 0 } });
  });

  it('answers a delta file sent twice with unchanged the second time', async () => {
    const c = await carrier();
    const csv = [H, row('0962000001', 0), row('0962000002', 1)].join('\n') + '\n';
    await settled(c, (await upload(c, '/v1/carrier/registry', csv, { 'content-type': 'text/csv' })).json().job_id);
    const deltas = [
      { event_id: 'tw-1', type: 'blocked_outgoing', msisdn: '0962000001', at: '2025-02-01T08:00:00+07:00' },
      { event_id: 'tw-2', type: 'sim_changed', msisdn: '0962000002', at: '2025-02-01T08:00:00+07:00' },
    ].map((e) => JSON.stringify(e)).join('\n') + '\n';
    const first = await settled(c, (await upload(c, '/v1/carrier/deltas', deltas, { 'content-type': 'application/x-ndjson' })).json().job_id);
    expect(first).toMatchObject({ status: 'completed', summary: { accepted: 2, unchanged: 0, rejected: 0 } });
    const second = await settled(c, (await upload(c, '/v1/carrier/deltas', deltas, { 'content-type': 'application/x-ndjson' })).json().job_id);
    expect(second).toMatchObject({ status: 'completed', summary: { accepted: 0, unchanged: 2, rejected: 0 } });
  });

  it('gives the summary and rejects the CLI gives for the same file', async () => {
    const viaCli = await carrier();
    const viaApi = await carrier();
    const csv = [H, row('0963000001', 0), row('0963000001', 1), row('0241234567', 2), 'x,y', row('0963000005', null), `0963000006,${people[0]!.pid},${people[0]!.name},1999-13-01,store,2021-01-01,active`].join('\n') + '\n';
    const file = join(dataDir, 'same.csv');
    writeFileSync(file, csv);
    const cli = await importRegistry({ pool: hub.pool, ring: await hub.ring(), kind: 'subscriptions', carrier: viaCli.provider.carrier!, path: file, rejectsPath: file + '.rejects', workers: 1 });
    const job = await settled(viaApi, (await upload(viaApi, '/v1/carrier/registry', csv, { 'content-type': 'text/csv' })).json().job_id);
    expect(job.summary).toEqual({ accepted: cli.accepted, unchanged: cli.unchanged, rejected: cli.rejected });
    const rejects = (await app.inject({ url: job.rejects, headers: viaApi.auth })).body;
    const { readFileSync } = await import('node:fs');
    expect(rejects).toBe(readFileSync(file + '.rejects', 'utf8'));
    const ndjsonFile = join(dataDir, 'same.ndjson');
    const events = [
      { event_id: 'c-1', type: 'terminated', msisdn: '0963000001', at: '2025-02-01T08:00:00+07:00' },
      { event_id: 'c-1', type: 'terminated', msisdn: '0963000001', at: '2025-02-01T08:00:00+07:00' },
      { event_id: 'c-2', type: 'unblocked', msisdn: '0969999999', at: '2025-02-01T08:00:00+07:00' },
    ].map((e) => JSON.stringify(e)).join('\n') + '\n';
    writeFileSync(ndjsonFile, events);
    const cliEvents = await applySubscriptionEvents({ pool: hub.pool, ring: await hub.ring(), carrier: viaCli.provider.carrier!, path: ndjsonFile, rejectsPath: ndjsonFile + '.rejects' });
    const eventsJob = await settled(viaApi, (await upload(viaApi, '/v1/carrier/deltas', events, { 'content-type': 'application/x-ndjson' })).json().job_id);
    expect(eventsJob.summary).toEqual({ accepted: cliEvents.accepted, unchanged: cliEvents.unchanged, rejected: cliEvents.rejected });
    expect((await app.inject({ url: eventsJob.rejects, headers: viaApi.auth })).body).toBe(readFileSync(ndjsonFile + '.rejects', 'utf8'));
  });
});

describe('uploads cut off or left hanging', () => {
  it('keeps nothing of an upload whose client disconnects mid-body, and takes the next one', async () => {
    const c = await carrier();
    const live = await buildApp();
    try {
      const address = await live.listen({ port: 0, host: '127.0.0.1' });
      const { port } = new URL(address);
      const body = H + '\n' + `${row('0964000001', 0)}\n`.repeat(2000);
      const socket = connect(Number(port), '127.0.0.1');
      await new Promise<void>((res) => socket.once('connect', () => res()));
      socket.write(`POST /v1/carrier/registry HTTP/1.1\r\nHost: x\r\nAuthorization: ${c.auth.authorization}\r\nContent-Type: text/csv\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
      socket.write(body.slice(0, body.length / 2));
      // The job exists while the body arrives.
      for (const end = Date.now() + 60_000; (await openJobs(c)) === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
      expect(await openJobs(c)).toBe(1);
      socket.destroy();
      for (const end = Date.now() + 60_000; (await openJobs(c)) > 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
      expect(await openJobs(c)).toBe(0);
      expect((await hub.pool.query('SELECT count(*)::int AS n FROM carrier_jobs WHERE provider_id = $1', [c.provider.id])).rows[0].n).toBe(0);
      expect(readdirSync(uploadsDir(dataDir))).toEqual([]);
      const again = await upload(c, '/v1/carrier/registry', body, { 'content-type': 'text/csv' }, live);
      expect(again.statusCode).toBe(202);
      expect(await settled(c, again.json().job_id, live)).toMatchObject({ status: 'completed', summary: { accepted: 1, rejected: 1999 } });
    } finally {
      await live.close();
    }
  });

  it('does not let an upload that stops sending hold the carrier\'s one job forever', async () => {
    const c = await carrier();
    const quick = await buildApp({ uploadIdleTimeoutMs: 300 });
    try {
      const stalled = new PassThrough();
      stalled.write(H + '\n' + row('0965000001', 0) + '\n');
      const first = upload(c, '/v1/carrier/registry', stalled, { 'content-type': 'text/csv' }, quick);
      // Its answer, while the body is still open, comes once the idle timeout has failed the upload
      // and released the carrier's job (not after a fixed wait, which a loaded machine can outlast).
      const r = await first;
      expect(r.json()).toMatchObject({ status: 400, code: 'REQUEST_INVALID', detail: expect.stringContaining('stopped') });
      const second = await upload(c, '/v1/carrier/registry', [H, row('0965000002', 1)].join('\n') + '\n', { 'content-type': 'text/csv' }, quick);
      expect(second.statusCode).toBe(202);
      stalled.end();
      expect(await settled(c, second.json().job_id, quick)).toMatchObject({ status: 'completed' });
    } finally {
      await quick.close();
    }
  });
});

describe('a job whose file is still arriving', () => {
  it('says so: uploaded_at is null until the whole file is stored, then the time it was', async () => {
    // A carrier polling its jobs during a long upload saw `queued` with bytes_total 0, the same as
    // an empty file waiting for its turn.
    const c = await carrier();
    const body = new PassThrough();
    body.write(H + '\n' + row('0965000011', 0) + '\n');
    const answer = upload(c, '/v1/carrier/registry', body, { 'content-type': 'text/csv' });
    let arriving: { job_id: string; status: string; uploaded_at: string | null } | undefined;
    for (const end = Date.now() + 30_000; !arriving && Date.now() < end;) {
      arriving = (await app.inject({ url: '/v1/carrier/jobs?limit=1', headers: c.auth })).json().jobs[0];
      if (!arriving) await new Promise((r) => setTimeout(r, 50));
    }
    expect(arriving).toMatchObject({ status: 'queued', uploaded_at: null });
    body.end(row('0965000012', 1) + '\n');
    const r = await answer;
    expect(r.statusCode, r.body).toBe(202);
    const done = await settled(c, r.json().job_id);
    expect(done).toMatchObject({ status: 'completed', uploaded_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/) });
    expect(Date.parse(done.uploaded_at)).toBeLessThanOrEqual(Date.parse(done.started_at));
  });
});

describe('one carrier, one job; two carriers, two jobs', () => {
  it('takes exactly one of two uploads sent at once for one carrier, and both for two carriers', async () => {
    const [a, b] = [await carrier(), await carrier()];
    const csv = (i: number) => [H, row(`096600000${i}`, 0)].join('\n') + '\n';
    const same = await Promise.all([1, 2].map((i) => upload(a, '/v1/carrier/registry', Readable.from([csv(i)]), { 'content-type': 'text/csv' })));
    expect(same.map((r) => r.statusCode).sort()).toEqual([202, 409]);
    const refused = same.find((r) => r.statusCode === 409)!.json();
    expect(refused).toMatchObject({ code: 'IMPORT_ALREADY_RUNNING' });
    const both = await Promise.all([a, b].map(async (c, i) => {
      await Promise.all([...pending]);
      return upload(c, '/v1/carrier/registry', csv(3 + i), { 'content-type': 'text/csv' });
    }));
    expect(both.map((r) => r.statusCode)).toEqual([202, 202]);
    for (const [i, c] of [a, b].entries()) expect(await settled(c, both[i]!.json().job_id)).toMatchObject({ status: 'completed' });
  });
});

describe('a hub that dies at the end of a job', () => {
  it('reports the summary of the import the job committed, not a second pass that finds every row unchanged', async () => {
    const c = await carrier();
    const csv = [H, row('0967000001', 0), row('0967000002', 1), row('0241234567', 2)].join('\n') + '\n';
    const jobId = randomUUID();
    const dir = uploadsDir(dataDir);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${jobId}.csv`);
    const ring = await hub.ring();
    const sealer = uploadSealer(ring, jobId);
    writeFileSync(file, Buffer.concat([sealer.header, sealer.update(Buffer.from(csv)), sealer.final()]), { mode: 0o600 });
    const sha256 = createHash('sha256').update(csv).digest('hex');
    // The job's import ran to its end (committed, its access recorded); the hub died before the job was marked completed.
    const done = await importRegistry({
      pool: hub.pool, ring, kind: 'subscriptions', carrier: c.provider.carrier!, path: file, open: () => openSealedUpload(file, ring, jobId), sha256,
      rejectsPath: file + '.r', workers: 1, actor: `provider:${c.provider.id}`,
    });
    expect(done).toMatchObject({ accepted: 2, unchanged: 0, rejected: 1 });
    rmSync(file + '.r', { force: true });
    await hub.pool.query(
      `INSERT INTO carrier_jobs (id, provider_id, kind, format, status, bytes_total, upload_name, source_sha256, uploaded_at, started_at, import_run_id)
       VALUES ($1, $2, 'subscriptions', 'csv', 'running', $3, $4, $5, now(), now(), $6)`,
      [jobId, c.provider.id, Buffer.byteLength(csv), `${jobId}.csv`, sha256, done.run_id],
    );
    const restarted = await buildApp();
    try {
      const job = await settled(c, jobId, restarted);
      expect(job).toMatchObject({ status: 'completed', summary: { accepted: 2, unchanged: 0, rejected: 1 } });
      expect((await hub.pool.query('SELECT import_run_id FROM carrier_jobs WHERE id = $1', [jobId])).rows[0].import_run_id).toBe(done.run_id);
      expect((await app.inject({ url: job.rejects, headers: c.auth })).body).toBe('line,field,code\n4,msisdn,NOT_VIETNAMESE_MOBILE\n');
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await restarted.close();
    }
  });

  it('deletes at the next start an upload left behind by a job that ended', async () => {
    const c = await carrier();
    const r = await upload(c, '/v1/carrier/registry', [H, row('0968000001', 0)].join('\n') + '\n', { 'content-type': 'text/csv' });
    const job = await settled(c, r.json().job_id);
    expect(job.status).toBe('completed');
    // The hub died between the job's end and the deletion of its file.
    const dir = uploadsDir(dataDir);
    const left = join(dir, `${job.job_id}.csv`);
    writeFileSync(left, randomBytes(64), { mode: 0o600 });
    const restarted = await buildApp();
    try {
      for (const end = Date.now() + 60_000; readdirSync(dir).length > 0 && Date.now() < end;) await new Promise((res) => setTimeout(res, 20));
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await restarted.close();
    }
  });
});

describe('a UTF-8 byte-order mark', () => {
  it('is taken at the start of an NDJSON file as at the start of a CSV one', async () => {
    const [a, b] = [await carrier(), await carrier()];
    const csv = '\uFEFF' + [H, row('0969000001', 0)].join('\n') + '\n';
    expect(await settled(a, (await upload(a, '/v1/carrier/registry', csv, { 'content-type': 'text/csv' })).json().job_id))
      .toMatchObject({ status: 'completed', summary: { accepted: 1, rejected: 0 } });
    const line = { msisdn: '0969000002', holder_personal_id: people[0]!.pid, holder_full_name: people[0]!.name, holder_birth_date: people[0]!.birth, channel: 'store', registered_at: '2021-01-01', status: 'active' };
    const ndjson = '\uFEFF' + JSON.stringify(line) + '\n';
    expect(await settled(b, (await upload(b, '/v1/carrier/registry', ndjson, { 'content-type': 'application/x-ndjson' })).json().job_id))
      .toMatchObject({ status: 'completed', summary: { accepted: 1, rejected: 0 } });
  });
});

describe('a key rotation while a job waits', () => {
  it('keeps the data key an open job\'s upload is sealed under, so the job still runs after the old key\'s retirement', async () => {
    const c = await carrier();
    const csv = [H, row('0960100001', 0), row('0960100002', 1)].join('\n') + '\n';
    // A job whose file arrived, sealed under the current data key; the hub then stopped.
    const jobId = randomUUID();
    const dir = uploadsDir(dataDir);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${jobId}.csv`);
    const before = await hub.ring({ fresh: true });
    const sealer = uploadSealer(before, jobId);
    writeFileSync(file, Buffer.concat([sealer.header, sealer.update(Buffer.from(csv)), sealer.final()]), { mode: 0o600 });
    await hub.pool.query(
      `INSERT INTO carrier_jobs (id, provider_id, kind, format, status, bytes_total, upload_name, source_sha256, uploaded_at)
       VALUES ($1, $2, 'subscriptions', 'csv', 'queued', $3, $4, $5, now())`,
      [jobId, c.provider.id, Buffer.byteLength(csv), `${jobId}.csv`, createHash('sha256').update(csv).digest('hex')],
    );
    // Meanwhile the operator rotates the data key (`idbind keys rotate --data`), which re-encrypts and retires what nothing uses.
    await addKeyVersion(hub.pool, hub.config.masterKeys[0]!, 'data');
    const result = await completeKeyWork(hub.pool, await hub.ring({ fresh: true }), 'test', undefined, { retireGraceMs: 0 });
    expect(result.retired).not.toContainEqual({ purpose: 'data', version: before.currentData.version });
    const restarted = await buildApp();
    try {
      expect(await settled(c, jobId, restarted)).toMatchObject({ status: 'completed', summary: { accepted: 2, unchanged: 0, rejected: 0 } });
    } finally {
      await restarted.close();
    }
    // Once the job has ended, the old key goes.
    expect((await retireUnusedKeys(hub.pool, { graceMs: 0 })).map((k) => k.version)).toContain(before.currentData.version);
  });
});
