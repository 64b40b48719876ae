/**
 * The carriers' API in-process on a real database (issue 3 "Carriers use the API too"): uploads
 * processed as jobs by the import code of the CLI, progress and rejects, one job per carrier,
 * carriers isolated from each other, jobs resumed or failed visibly after a restart, and the
 * latest action list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { openHub, type Hub } from '../hub.ts';
import { errorHandler, notFoundHandler } from '../kernel/http/problem.ts';
import { decorateProviderRequest } from '../providers/provider-auth.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { bindAccountInTransaction } from '../bindings/binding-service.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { composePersonalId } from '../registry/personal-id.ts';
import { findLiveSubscriptionsByMsisdn, findPersonIdByPersonalId } from '../registry/registry-lookup.ts';
import { startReconciliation } from '../registry/reconciliation/reconciliation-service.ts';
import { carrierRoutes } from './carrier-routes.ts';
import { receiveUpload, uploadsDir } from './carrier-jobs.ts';
import { openSealedUpload, uploadSealer } from './upload-encryption.ts';

let db: TestDatabase;
let hub: Hub;
let dataDir: string;
let app: FastifyInstance;
const pending = new Set<Promise<unknown>>();
const track = (p: Promise<unknown>) => {
  const q = p.finally(() => pending.delete(q));
  pending.add(q);
};
const LIMIT = 2 * 1024 * 1024; // above Fastify's default bodyLimit (1 MiB), below the product's 2 GiB

interface Carrier { provider: Provider; auth: Record<string, string> }
let viettel: Carrier;
let mobifone: Carrier;
let vinaphone: Carrier;
let platformAuth: Record<string, string>;

const H = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status';
const people = Array.from({ length: 4 }, (_, i) => ({ pid: composePersonalId('048', 1970 + i, 'M', 300 + i), name: `Lê Văn ${['An', 'Bình', 'Chi', 'Dũng'][i]}`, birth: `${1970 + i}-07-07` }));
const row = (msisdn: string, i: number | null, status = 'active') =>
  i === null ? `${msisdn},,,,store,2021-01-01,${status}` : `${msisdn},${people[i]!.pid},${people[i]!.name},${people[i]!.birth},store,2021-01-01,${status}`;
const VIETTEL_CSV = [H, row('0961000001', 0), row('0961000002', 1), row('0241234567', 2), row('0961000004', 3), row('0961000005', null)].join('\n') + '\n';

async function buildApp(): Promise<FastifyInstance> {
  const a = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } } });
  a.setErrorHandler(errorHandler);
  a.setNotFoundHandler(notFoundHandler);
  await a.register(fastifySwagger, {
    openapi: { openapi: '3.1.0', info: { title: 't', version: '0' }, components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } } },
  });
  decorateProviderRequest(a);
  // Another capability's JSON-lines parser at the root (the bulk status API): the carrier scope replaces it for itself only.
  a.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_r, text, done) => done(null, text));
  await a.register(async (scope) => carrierRoutes(scope, { pool: hub.pool, ring: () => hub.ring(), config: hub.config, track, uploadLimitBytes: LIMIT }));
  await a.ready();
  return a;
}

async function carrier(name: string, slug: string): Promise<Carrier> {
  const c = await createProvider(hub.pool, await hub.ring(), { allowLoopback: true }, { name, kind: 'carrier', carrier: slug });
  return { provider: c.provider, auth: { authorization: `Bearer ${c.apiKey}` } };
}

const upload = (c: Carrier, path: '/v1/carrier/registry' | '/v1/carrier/deltas', body: string | Readable, contentType: string, via = app) =>
  via.inject({ method: 'POST', url: path, headers: { ...c.auth, 'content-type': contentType }, payload: body });

async function settled(c: Carrier, id: string, via = app) {
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    // Until no tracked work is left: work may start more (the recovery starts each job it
    // resumes), and a job reads `completed` a moment before its run deletes the upload.
    while (pending.size > 0) await Promise.all([...pending]);
    const job = (await via.inject({ url: `/v1/carrier/jobs/${id}`, headers: c.auth })).json();
    if (job.status === 'completed' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the job did not finish');
}

/** Binds an account of the platform to the person through the number's live subscription, as a phone verification does. */
async function bindThroughNumber(platform: Provider, accountRef: string, msisdn: string, personalId: string): Promise<void> {
  const [sub] = await findLiveSubscriptionsByMsisdn(hub.pool, await hub.ring(), msisdn);
  const personId = (await findPersonIdByPersonalId(hub.pool, await hub.ring(), personalId))!;
  const client = await hub.pool.connect();
  try {
    await client.query('BEGIN');
    await bindAccountInTransaction(client, platform, { accountRef, personId, subscriptionId: sub!.id, method: 'phone', level: 'low', viaVerification: randomUUID() });
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK');
    throw e;
  } finally {
    client.release();
  }
}

const ndjson = (events: Record<string, string>[]) => events.map((e) => JSON.stringify(e)).join('\n') + '\n';

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dataDir = mkdtempSync(join(tmpdir(), 'idbind-carriers-'));
  hub = await openHub({
    mode: 'production',
    // A SIM-change window longer than the default: the delta job judges a late SIM change by the hub's.
    env: { DATABASE_URL: db.url, IDBIND_DATA_DIR: dataDir, IDBIND_MASTER_KEY: randomBytes(32).toString('base64'), IDBIND_WORKERS: '2', IDBIND_SIM_CHANGE_WINDOW_HOURS: '168' },
  });
  const pop = join(dataDir, 'population.csv');
  writeFileSync(pop, ['personal_id,full_name,birth_date,sex,status', ...people.map((p) => `${p.pid},${p.name},${p.birth},M,alive`)].join('\n') + '\n');
  expect(await importRegistry({ pool: hub.pool, ring: await hub.ring(), kind: 'population', path: pop, rejectsPath: pop + '.rejects', workers: 1 })).toMatchObject({ accepted: 4 });
  viettel = await carrier('Viettel', 'viettel');
  mobifone = await carrier('MobiFone', 'mobifone');
  vinaphone = await carrier('VinaPhone', 'vinaphone');
  platformAuth = { authorization: `Bearer ${(await createProvider(hub.pool, await hub.ring(), { allowLoopback: true }, { name: 'Some Platform', kind: 'platform' })).apiKey}` };
  app = await buildApp();
});
afterAll(async () => {
  await app?.close();
  await Promise.all([...pending]);
  await hub?.close();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('uploads run as jobs, through the import code of the CLI', () => {
  let firstJob: string;

  it('takes a registry CSV: 202 with the job, then progress to completion, rejects by line and code, and the file deleted', async () => {
    const r = await upload(viettel, '/v1/carrier/registry', VIETTEL_CSV, 'text/csv; charset=utf-8');
    expect(r.statusCode).toBe(202);
    const body = r.json();
    expect(body).toEqual({ job_id: expect.any(String), status: 'queued', location: `/v1/carrier/jobs/${body.job_id}` });
    expect(r.headers.location).toBe(body.location);
    firstJob = body.job_id;
    const job = await settled(viettel, firstJob);
    expect(job).toMatchObject({
      kind: 'subscriptions', format: 'csv', status: 'completed', error: null,
      bytes_total: Buffer.byteLength(VIETTEL_CSV), bytes_done: Buffer.byteLength(VIETTEL_CSV),
      summary: { accepted: 4, unchanged: 0, rejected: 1 }, rejects: `/v1/carrier/jobs/${firstJob}/rejects`,
    });
    expect(job.started_at).not.toBeNull();
    const rejects = await app.inject({ url: job.rejects, headers: viettel.auth });
    expect(rejects.headers['content-type']).toContain('text/csv');
    expect(rejects.body).toBe('line,field,code\n4,msisdn,NOT_VIETNAMESE_MOBILE\n');
    expect(readdirSync(uploadsDir(dataDir))).toEqual([]);
    const subs = await hub.pool.query(`SELECT count(*)::int AS n FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id WHERE c.slug = 'viettel'`);
    expect(subs.rows[0].n).toBe(4);
    const access = await hub.pool.query(`SELECT actor FROM access_records WHERE purpose = 'registry_import' AND run_id = (SELECT import_run_id FROM carrier_jobs WHERE id = $1)`, [firstJob]);
    expect(access.rows).toEqual([{ actor: `provider:${viettel.provider.id}` }]);
  });

  it('is idempotent: the same file again changes nothing', async () => {
    const r = await upload(viettel, '/v1/carrier/registry', VIETTEL_CSV, 'text/csv');
    expect(await settled(viettel, r.json().job_id)).toMatchObject({ status: 'completed', summary: { accepted: 0, unchanged: 4, rejected: 1 } });
  });

  it('takes a registry as NDJSON too, streamed without a Content-Length', async () => {
    const lines = [{ msisdn: '0901000001', holder_personal_id: people[0]!.pid, holder_full_name: people[0]!.name, holder_birth_date: people[0]!.birth, channel: 'store', registered_at: '2021-01-01', status: 'active' },
      { msisdn: '0901000002', holder_personal_id: '', holder_full_name: '', holder_birth_date: '', channel: 'online', registered_at: '2021-01-01', status: 'active' }];
    const r = await upload(mobifone, '/v1/carrier/registry', Readable.from([ndjson(lines)]), 'application/x-ndjson');
    expect(r.statusCode).toBe(202);
    expect(await settled(mobifone, r.json().job_id)).toMatchObject({ format: 'ndjson', status: 'completed', summary: { accepted: 2, rejected: 0 } });
  });

  // Audit of issue 2, finding 1: uploads share the CLI's reader, where one stray quote used to
  // swallow every later line.
  it('rejects a line with a stray or unclosed quote as that line only, and imports every other row', async () => {
    const itel = await carrier('iTel', 'itel-quotes');
    const csv = [H, row('0871000001', 0), `0871000002,${people[1]!.pid},Lê "Văn Bình,${people[1]!.birth},store,2021-01-01,active`, row('0871000003', 2),
      `0871000004,${people[3]!.pid},"Lê Văn Dũng,${people[3]!.birth},store,2021-01-01,active`, row('0871000005', null), row('0871000006', 0)].join('\n') + '\n';
    const r = await upload(itel, '/v1/carrier/registry', csv, 'text/csv');
    expect(r.statusCode).toBe(202);
    const job = await settled(itel, r.json().job_id);
    expect(job).toMatchObject({ status: 'completed', summary: { accepted: 4, unchanged: 0, rejected: 2 } });
    expect((await app.inject({ url: job.rejects, headers: itel.auth })).body).toBe('line,field,code\n3,*,MALFORMED_ROW\n5,*,MALFORMED_ROW\n');
  });

  // Audit of issue 2, finding 5: deltas share the reader; their holder names were taken with U+FFFD.
  it('rejects a delta whose line is not UTF-8 as ENCODING_INVALID, and applies the others', async () => {
    const itel = await carrier('iTel Latin-1', 'itel-latin1');
    const event = (id: string, msisdn: string, name: Buffer) => Buffer.concat([
      Buffer.from(`{"event_id":"${id}","type":"registered","msisdn":"${msisdn}","at":"2024-01-01T08:00:00+07:00","holder_personal_id":"${people[0]!.pid}","holder_full_name":"`),
      name, Buffer.from(`","holder_birth_date":"${people[0]!.birth}","channel":"store"}\n`),
    ]);
    const body = Buffer.concat([event('l1', '0872000001', Buffer.from(people[0]!.name)), event('l2', '0872000002', Buffer.from('Lê Vån An', 'latin1')), event('l3', '0872000003', Buffer.from(people[0]!.name))]);
    const r = await app.inject({ method: 'POST', url: '/v1/carrier/deltas', headers: { ...itel.auth, 'content-type': 'application/x-ndjson' }, payload: body });
    expect(r.statusCode).toBe(202);
    const job = await settled(itel, r.json().job_id);
    expect(job).toMatchObject({ status: 'completed', summary: { accepted: 2, unchanged: 0, rejected: 1 } });
    expect((await app.inject({ url: job.rejects, headers: itel.auth })).body).toBe('line,field,code\n2,holder_full_name,ENCODING_INVALID\n');
  });

  it('applies a delta file, with the bindings made through its numbers following them', async () => {
    const platform = (await createProvider(hub.pool, await hub.ring(), { allowLoopback: true }, { name: 'Bound Platform', kind: 'platform' })).provider;
    await bindThroughNumber(platform, 'acct-1', '+84961000001', people[0]!.pid);
    const at = new Date(Date.now() + 1000).toISOString();
    const r = await upload(viettel, '/v1/carrier/deltas', ndjson([
      { event_id: 'd-1', type: 'terminated', msisdn: '0961000001', at },
      { event_id: 'd-2', type: 'unblocked', msisdn: '0969999999', at },
    ]), 'application/x-ndjson');
    expect(r.statusCode).toBe(202);
    const job = await settled(viettel, r.json().job_id);
    expect(job).toMatchObject({ kind: 'subscription_events', status: 'completed', summary: { accepted: 1, unchanged: 0, rejected: 1 } });
    expect((await app.inject({ url: job.rejects, headers: viettel.auth })).body).toBe('line,field,code\n2,msisdn,NO_LIVE_SUBSCRIPTION\n');
    const account = await hub.pool.query(`SELECT status, status_reason FROM accounts WHERE provider_id = $1`, [platform.id]);
    expect(account.rows).toEqual([{ status: 'revoked', status_reason: 'terminated' }]);
  });

  it('judges a SIM change reported late by the hub\'s configured SIM-change window (168 h here), not the 72-hour default', async () => {
    const platform = (await createProvider(hub.pool, await hub.ring(), { allowLoopback: true }, { name: 'Window Platform', kind: 'platform' })).provider;
    await bindThroughNumber(platform, 'acct-w', '+84961000004', people[3]!.pid);
    // 100 hours before the binding: outside 72 h, inside the hub's 168 h (the number would have been refused).
    const at = new Date(Date.now() - 100 * 3_600_000).toISOString();
    const r = await upload(viettel, '/v1/carrier/deltas', ndjson([{ event_id: 'w-1', type: 'sim_changed', msisdn: '0961000004', at }]), 'application/x-ndjson');
    expect(await settled(viettel, r.json().job_id)).toMatchObject({ status: 'completed', summary: { accepted: 1 } });
    const account = await hub.pool.query(`SELECT status, status_reason FROM accounts WHERE provider_id = $1`, [platform.id]);
    expect(account.rows).toEqual([{ status: 'needs_reverification', status_reason: 'sim_changed' }]);
  });

  it('judges a SIM change a full file reports late by the same window', async () => {
    const itel = await carrier('iTel Window', 'itel-window');
    const header = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at';
    const line = (simChangedAt: string) => `0873000001,${people[0]!.pid},${people[0]!.name},${people[0]!.birth},store,2021-01-01,active,${simChangedAt}`;
    const first = await upload(itel, '/v1/carrier/registry', `${header}\n${line('')}\n`, 'text/csv');
    expect(await settled(itel, first.json().job_id)).toMatchObject({ status: 'completed', summary: { accepted: 1 } });
    const platform = (await createProvider(hub.pool, await hub.ring(), { allowLoopback: true }, { name: 'Window File Platform', kind: 'platform' })).provider;
    await bindThroughNumber(platform, 'acct-wf', '+84873000001', people[0]!.pid);
    // The file again, now reporting a SIM change 100 hours before the binding: inside the hub's 168 h.
    const at = new Date(Date.now() - 100 * 3_600_000).toISOString();
    const again = await upload(itel, '/v1/carrier/registry', `${header}\n${line(at)}\n`, 'text/csv');
    expect(await settled(itel, again.json().job_id)).toMatchObject({ status: 'completed', summary: { accepted: 1 } });
    const account = await hub.pool.query(`SELECT status, status_reason FROM accounts WHERE provider_id = $1`, [platform.id]);
    expect(account.rows).toEqual([{ status: 'needs_reverification', status_reason: 'sim_changed' }]);
  });

  it('takes an upload larger than the server-wide 1 MiB body limit', async () => {
    const body = H + '\n' + `${row('0241234567', 0)}\n`.repeat(20_000);
    expect(Buffer.byteLength(body)).toBeGreaterThan(1024 * 1024);
    const r = await upload(vinaphone, '/v1/carrier/registry', body, 'text/csv');
    expect(r.statusCode).toBe(202);
    const job = await settled(vinaphone, r.json().job_id);
    expect(job).toMatchObject({ status: 'completed', summary: { accepted: 0, rejected: 20_000 }, bytes_done: Buffer.byteLength(body) });
    const rejects = (await app.inject({ url: job.rejects, headers: vinaphone.auth })).body.trimEnd().split('\n');
    expect(rejects).toHaveLength(20_001); // the header and every reject, paged through in line order
    expect(rejects[20_000]).toBe('20001,msisdn,NOT_VIETNAMESE_MOBILE');
  });

  it('reports progress while the job runs: the committed batches counted, the bytes they came from', async () => {
    const at = (i: number) => new Date(Date.UTC(2025, 5, 1) + i * 1000).toISOString().replace('.000', '');
    // 500 events (the first batch) on one number, then 100 on a number whose row a test transaction holds.
    const events = Array.from({ length: 600 }, (_, i) => ({ event_id: `p${i}`, type: 'device_changed', msisdn: i < 500 ? '0961000002' : '0961000004', at: at(i) }));
    const body = ndjson(events);
    expect(Buffer.byteLength(body)).toBeLessThan(LIMIT);
    const [held] = await findLiveSubscriptionsByMsisdn(hub.pool, await hub.ring(), '+84961000004');
    const holder = await hub.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM subscriptions WHERE id = $1 FOR UPDATE', [held!.id]);
      const r = await upload(viettel, '/v1/carrier/deltas', body, 'application/x-ndjson');
      const id = r.json().job_id;
      let job = (await app.inject({ url: `/v1/carrier/jobs/${id}`, headers: viettel.auth })).json();
      for (const end = Date.now() + 60_000; job.summary?.accepted !== 500 && Date.now() < end;) {
        await new Promise((res) => setTimeout(res, 25));
        job = (await app.inject({ url: `/v1/carrier/jobs/${id}`, headers: viettel.auth })).json();
      }
      expect(job).toMatchObject({ status: 'running', summary: { accepted: 500, unchanged: 0, rejected: 0 }, bytes_total: Buffer.byteLength(body), finished_at: null });
      // The bytes of the 500 events committed, not those read ahead (the whole body is one chunk).
      expect(job.bytes_done).toBe(Buffer.byteLength(body.split('\n').slice(0, 500).join('\n')) + 1);
      await holder.query('COMMIT');
      expect(await settled(viettel, id)).toMatchObject({ status: 'completed', summary: { accepted: 600 }, bytes_done: Buffer.byteLength(body) });
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
  });

  it('lists the carrier\'s own jobs, newest first', async () => {
    const list = (await app.inject({ url: '/v1/carrier/jobs?limit=2', headers: viettel.auth })).json();
    expect(list.jobs).toHaveLength(2);
    expect(list.jobs[0].kind).toBe('subscription_events');
    const all = (await app.inject({ url: '/v1/carrier/jobs', headers: viettel.auth })).json();
    expect(all.jobs.map((j: { job_id: string }) => j.job_id)).toContain(firstJob);
  });
});

describe('refusals', () => {
  it('refuses a content type the route does not take, before reading the body', async () => {
    for (const [path, type] of [['/v1/carrier/deltas', 'text/csv'], ['/v1/carrier/registry', 'application/json'], ['/v1/carrier/registry', 'text/csv; charset=latin1']] as const) {
      const r = await upload(viettel, path, path === '/v1/carrier/registry' && type === 'application/json' ? '{}' : VIETTEL_CSV, type);
      expect(r.statusCode).toBe(415);
      expect(r.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    }
  });

  it('refuses a body whose format is not the one its Content-Type names, or whose header is wrong, keeping nothing', async () => {
    const before = (await hub.pool.query('SELECT count(*)::int AS n FROM carrier_jobs')).rows[0].n;
    const cases: [string, string, string][] = [
      ['text/csv', ndjson([{ msisdn: '0961000001' }]), 'JSON, not CSV'],
      ['application/x-ndjson', VIETTEL_CSV, 'not NDJSON'],
      ['text/csv', 'phone,owner\n0961000001,x\n', 'unknown column'],
      ['text/csv', '', 'empty'],
    ];
    for (const [type, body, detail] of cases) {
      const r = await upload(viettel, '/v1/carrier/registry', body, type);
      expect(r.statusCode, detail).toBe(400);
      expect(r.json()).toMatchObject({ code: 'IMPORT_FORMAT_INVALID', detail: expect.stringContaining(detail) });
      expect(r.body).not.toContain('0961000001');
    }
    expect((await hub.pool.query('SELECT count(*)::int AS n FROM carrier_jobs')).rows[0].n).toBe(before);
    expect(readdirSync(uploadsDir(dataDir))).toEqual([]);
  });

  it('refuses an upload over the limit, whether announced by Content-Length or found while streaming', async () => {
    const big = H + '\n' + `${row('0961000001', 0)}\n`.repeat(Math.ceil(LIMIT / 40));
    expect(big.length).toBeGreaterThan(LIMIT);
    const announced = await upload(viettel, '/v1/carrier/registry', big, 'text/csv');
    expect(announced.statusCode).toBe(413);
    expect(announced.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const streamed = await upload(viettel, '/v1/carrier/registry', Readable.from([big.slice(0, LIMIT / 2), big.slice(LIMIT / 2)]), 'text/csv');
    expect(streamed.statusCode).toBe(413);
    expect(streamed.headers.connection).toBe('close');
    expect(readdirSync(uploadsDir(dataDir))).toEqual([]);
    const open = await hub.pool.query(`SELECT count(*)::int AS n FROM carrier_jobs WHERE status IN ('queued', 'running')`);
    expect(open.rows[0].n).toBe(0);
  });

  it('answers an announced oversize upload at once, before a byte of it arrives, and creates no job', async () => {
    // A client announcing more than the limit is refused from its Content-Length: reading (and
    // sealing to disk) up to the limit first would cost the hub the bytes, and the carrier its
    // one open job, for an upload bound to fail.
    const body = new PassThrough(); // sends nothing
    const jobsBefore = (await hub.pool.query('SELECT count(*)::int AS n FROM carrier_jobs')).rows[0].n;
    const answer = app.inject({
      method: 'POST', url: '/v1/carrier/registry', headers: { ...viettel.auth, 'content-type': 'text/csv', 'content-length': String(LIMIT + 1) }, payload: body,
    });
    // Without the answer the upload would wait for bytes until its idle timeout (5 min): 30 s tells
    // the two apart on a loaded machine.
    const r = await Promise.race([answer, new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), 30_000))]);
    body.end();
    expect(r === 'waiting' ? r : r.statusCode).toBe(413);
    expect((await answer).json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect((await hub.pool.query('SELECT count(*)::int AS n FROM carrier_jobs')).rows[0].n).toBe(jobsBefore);
  });

  it('takes one job per carrier at a time (409 naming the open job); other carriers are not held up', async () => {
    const openId = randomUUID();
    await hub.pool.query(`INSERT INTO carrier_jobs (id, provider_id, kind, status, bytes_total) VALUES ($1, $2, 'subscriptions', 'running', 0)`, [openId, viettel.provider.id]);
    try {
      const r = await upload(viettel, '/v1/carrier/deltas', ndjson([{ event_id: 'x-1', type: 'unblocked', msisdn: '0961000002', at: '2025-01-01T00:00:00Z' }]), 'application/x-ndjson');
      expect(r.statusCode).toBe(409);
      expect(r.json()).toMatchObject({ code: 'IMPORT_ALREADY_RUNNING', job_id: openId });
      const other = await upload(mobifone, '/v1/carrier/deltas', ndjson([{ event_id: 'm-1', type: 'unblocked', msisdn: '0901000001', at: '2025-01-01T00:00:00Z' }]), 'application/x-ndjson');
      expect(other.statusCode).toBe(202);
      expect(await settled(mobifone, other.json().job_id)).toMatchObject({ status: 'completed' });
    } finally {
      await hub.pool.query('DELETE FROM carrier_jobs WHERE id = $1', [openId]);
    }
  });

  it('fails the job with IMPORT_ALREADY_RUNNING while a CLI import of the same carrier holds the lock', async () => {
    const carrierId = viettel.provider.carrierId!;
    const cli = await hub.pool.connect();
    try {
      await cli.query('SELECT pg_advisory_lock(72026, $1)', [2_000_000 + carrierId]);
      const r = await upload(viettel, '/v1/carrier/deltas', ndjson([{ event_id: 'l-1', type: 'unblocked', msisdn: '0961000002', at: '2025-01-01T00:00:00Z' }]), 'application/x-ndjson');
      expect(r.statusCode).toBe(202);
      expect(await settled(viettel, r.json().job_id)).toMatchObject({
        status: 'failed', error: { code: 'IMPORT_ALREADY_RUNNING', title: expect.any(String) }, finished_at: expect.any(String),
      });
      expect(readdirSync(uploadsDir(dataDir))).toEqual([]);
    } finally {
      await cli.query('SELECT pg_advisory_unlock_all()');
      cli.release();
    }
  });

  it('authenticates every route, for carriers only', async () => {
    for (const url of ['/v1/carrier/jobs', '/v1/carrier/action-list']) {
      expect((await app.inject({ url })).json()).toMatchObject({ status: 401, code: 'API_KEY_INVALID' });
      expect((await app.inject({ url, headers: platformAuth })).json()).toMatchObject({ status: 403, code: 'PROVIDER_KIND_FORBIDDEN' });
    }
    const r = await app.inject({ method: 'POST', url: '/v1/carrier/registry', headers: { ...platformAuth, 'content-type': 'text/csv' }, payload: VIETTEL_CSV });
    expect(r.json()).toMatchObject({ status: 403, code: 'PROVIDER_KIND_FORBIDDEN' });
  });

  it('never shows a carrier another carrier\'s jobs', async () => {
    const theirs = (await app.inject({ url: '/v1/carrier/jobs', headers: viettel.auth })).json().jobs as { job_id: string }[];
    const mine = (await app.inject({ url: '/v1/carrier/jobs', headers: mobifone.auth })).json().jobs as { job_id: string }[];
    expect(theirs.length).toBeGreaterThan(0);
    expect(mine.map((j) => j.job_id)).not.toEqual(expect.arrayContaining([theirs[0]!.job_id]));
    for (const j of theirs) {
      for (const url of [`/v1/carrier/jobs/${j.job_id}`, `/v1/carrier/jobs/${j.job_id}/rejects`]) {
        const r = await app.inject({ url, headers: mobifone.auth });
        expect(r.statusCode).toBe(404);
        expect(r.json()).toMatchObject({ code: 'CARRIER_JOB_NOT_FOUND' });
      }
    }
    expect((await app.inject({ url: '/v1/carrier/jobs/not-a-uuid', headers: viettel.auth })).json()).toMatchObject({ code: 'CARRIER_JOB_NOT_FOUND' });
  });

  it('documents the upload routes and their content types in OpenAPI', () => {
    const doc = app.swagger() as { paths: Record<string, { post?: { requestBody?: { content: Record<string, unknown> } } }> };
    expect(Object.keys(doc.paths['/v1/carrier/registry']!.post!.requestBody!.content).sort()).toEqual(['application/x-ndjson', 'text/csv']);
    expect(Object.keys(doc.paths['/v1/carrier/deltas']!.post!.requestBody!.content)).toEqual(['application/x-ndjson']);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/carrier/jobs', '/v1/carrier/jobs/{id}', '/v1/carrier/jobs/{id}/rejects', '/v1/carrier/action-list']));
  });
});

describe('the latest action list', () => {
  it('is 404 until a reconciliation run has completed', async () => {
    const r = await app.inject({ url: '/v1/carrier/action-list', headers: viettel.auth });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'ACTION_LIST_NOT_AVAILABLE' });
  });

  it("serves the carrier's own list of the latest completed run, named in a header, recorded as an access", async () => {
    const first = await startReconciliation(hub.pool, await hub.ring(), 'test');
    await first.done;
    const run = await startReconciliation(hub.pool, await hub.ring(), 'test');
    await run.done;
    const r = await app.inject({ url: '/v1/carrier/action-list', headers: viettel.auth });
    expect(r.statusCode).toBe(200);
    expect(r.headers['reconciliation-run-id']).toBe(run.runId);
    expect(r.headers['content-type']).toContain('text/csv');
    expect(r.body).toBe('msisdn,category\n+84961000005,NO_HOLDER\n');
    const theirs = await app.inject({ url: '/v1/carrier/action-list', headers: mobifone.auth });
    expect(theirs.body).toBe('msisdn,category\n+84901000002,NO_HOLDER\n');
    const access = await hub.pool.query(`SELECT run_id FROM access_records WHERE purpose = 'action_list_export' AND actor = $1`, [`provider:${viettel.provider.id}`]);
    expect(access.rows).toEqual([{ run_id: run.runId }]);

    // HEAD answers the download's headers and opens no number: no access recorded for it.
    const head = await app.inject({ method: 'HEAD', url: '/v1/carrier/action-list', headers: viettel.auth });
    expect(head.statusCode).toBe(200);
    expect(head.headers['reconciliation-run-id']).toBe(run.runId);
    expect(head.headers['content-disposition']).toBe(`attachment; filename="viettel-${run.runId}.csv"`);
    expect(head.headers['content-length']).toBeUndefined();
    expect(head.body).toBe('');
    const after = await hub.pool.query(`SELECT run_id FROM access_records WHERE purpose = 'action_list_export' AND actor = $1`, [`provider:${viettel.provider.id}`]);
    expect(after.rows).toEqual([{ run_id: run.runId }]);
  });
});

describe('a restart loses no job', () => {
  it('resumes a job whose import was interrupted, and fails visibly the ones that cannot be resumed', async () => {
    // An import of viettel's file interrupted after its first committed batch, as a killed hub leaves it.
    const csv = [H, ...Array.from({ length: 6 }, (_, i) => row(`09620000${10 + i}`, i % 4))].join('\n') + '\n';
    const jobId = randomUUID();
    const dir = uploadsDir(dataDir);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${jobId}.csv`);
    const ring = await hub.ring();
    const sealer = uploadSealer(ring, jobId);
    writeFileSync(file, Buffer.concat([sealer.header, sealer.update(Buffer.from(csv)), sealer.final()]), { mode: 0o600 });
    let batches = 0;
    await expect(importRegistry({
      pool: hub.pool, ring, kind: 'subscriptions', carrier: 'viettel', path: file, open: () => openSealedUpload(file, ring, jobId), sha256: createHash('sha256').update(csv).digest('hex'), rejectsPath: file + '.r', workers: 1, chunkBytes: 64,
      onProgress: () => {
        if (++batches === 1) throw new Error('killed');
      },
    })).rejects.toThrow('killed');
    // This file's run: an earlier test's failed run (another file) must not be taken for it.
    const partial = await hub.pool.query(`UPDATE import_runs SET status = 'running' WHERE status = 'failed' AND source_sha256 = $1 RETURNING id, checkpoint_line::int AS line`,
      [createHash('sha256').update(csv).digest('hex')]);
    expect(partial.rows).toHaveLength(1);
    expect(partial.rows[0].line).toBeGreaterThan(1);
    await hub.pool.query(
      `INSERT INTO carrier_jobs (id, provider_id, kind, format, status, bytes_total, upload_name, source_sha256, uploaded_at, started_at, import_run_id)
       VALUES ($1, $2, 'subscriptions', 'csv', 'running', $3, $4, $5, now(), now(), $6)`,
      [jobId, viettel.provider.id, Buffer.byteLength(csv), `${jobId}.csv`, createHash('sha256').update(csv).digest('hex'), partial.rows[0].id],
    );
    // An upload cut off by the stop, and a job whose file is gone.
    const cutId = randomUUID();
    writeFileSync(join(dir, `${cutId}.csv`), H + '\n09610');
    await hub.pool.query(`INSERT INTO carrier_jobs (id, provider_id, kind, format, status, bytes_total, upload_name) VALUES ($1, $2, 'subscriptions', 'csv', 'queued', 0, $3)`,
      [cutId, mobifone.provider.id, `${cutId}.csv`]);
    const goneId = randomUUID();
    await hub.pool.query(`INSERT INTO carrier_jobs (id, provider_id, kind, format, status, bytes_total, upload_name, source_sha256, uploaded_at) VALUES ($1, $2, 'subscription_events', 'ndjson', 'queued', 10, $3, 'x', now())`,
      [goneId, vinaphone.provider.id, `${goneId}.ndjson`]);

    // The hub starts again.
    const restarted = await buildApp();
    try {
      const job = await settled(viettel, jobId, restarted);
      expect(job).toMatchObject({ status: 'completed', summary: { accepted: 6, rejected: 0 }, bytes_done: Buffer.byteLength(csv) });
      const run = await hub.pool.query('SELECT import_run_id FROM carrier_jobs WHERE id = $1', [jobId]);
      expect(run.rows[0].import_run_id).toBe(partial.rows[0].id); // the same run, resumed
      expect(existsSync(file)).toBe(false);
      for (const [c, id] of [[mobifone, cutId], [vinaphone, goneId]] as const) {
        expect(await settled(c, id, restarted)).toMatchObject({ status: 'failed', error: { code: 'CARRIER_JOB_INTERRUPTED' } });
      }
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await restarted.close();
    }
  });
});

describe('receiveUpload', () => {
  it('writes the body to a file readable by the hub only, and hashes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idbind-upload-'));
    try {
      const path = join(dir, 'u.csv');
      const got = await receiveUpload(Readable.from([Buffer.from('a,b\n'), Buffer.from('1,2\n')]), path, 1024, uploadSealer(await hub.ring(), 'job-1'));
      expect(got).toMatchObject({ bytes: 8, sha256: createHash('sha256').update('a,b\n1,2\n').digest('hex') });
      expect(got.head.toString()).toBe('a,b\n1,2\n');
      expect(statSync(path).mode & 0o777).toBe(0o600);
      // Sealed at rest: the file holds no byte run of the body, and opens only for its job.
      expect(readFileSync(path).includes(Buffer.from('1,2'))).toBe(false);
      const plain: Buffer[] = [];
      for await (const c of openSealedUpload(path, await hub.ring(), 'job-1')) plain.push(c as Buffer);
      expect(Buffer.concat(plain).toString()).toBe('a,b\n1,2\n');
      await expect((async () => {
        for await (const c of openSealedUpload(path, await hub.ring(), 'job-2')) void c;
      })()).rejects.toThrow();
      // "At most" the limit: a body of exactly the limit is taken, one byte more is not.
      expect(await receiveUpload(Readable.from([Buffer.alloc(600, 0x61), Buffer.alloc(424, 0x61)]), join(dir, 'exact.csv'), 1024, uploadSealer(await hub.ring(), 'job-4')))
        .toMatchObject({ bytes: 1024 });
      await expect(receiveUpload(Readable.from([Buffer.alloc(600), Buffer.alloc(425)]), join(dir, 'v.csv'), 1024, uploadSealer(await hub.ring(), 'job-3'))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      // Refused once its file is closed: the caller's deletion is final (the stream opens the file
      // asynchronously, and created it after a deletion made on the rejection).
      rmSync(join(dir, 'v.csv'), { force: true });
      await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(join(dir, 'v.csv'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
