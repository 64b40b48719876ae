/**
 * @idbind/sdk's carrier methods against the real hub (issue 3 "SDK and console": "its tests run
 * against a real server"; "Carriers use the API too"): a registry uploaded as text and as a
 * stream, a delta file, jobs polled to their end, their rejects, the typed refusals, another
 * carrier's job "not found", and the latest action list with its run id. sdk-client.db.test.ts
 * named these in its header but had no test of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { IdbindClient, IdbindError, type CarrierJob } from '../../packages/sdk/src/index.ts';
import { composePersonalId } from '../../src/registry/personal-id.ts';
import { startReconciliation } from '../../src/registry/reconciliation/reconciliation-service.ts';

let hub: TestHub;
let viettel: IdbindClient;
let mobifone: IdbindClient;

const H = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status';
const pid = composePersonalId('048', 1980, 'M', 777);
const CSV = [H, `0961000001,${pid},Lê Văn An,1980-07-07,store,2021-01-01,active`, '0961000002,,,,store,2021-01-01,active', '0241234567,,,,store,2021-01-01,active'].join('\n') + '\n';

async function carrier(name: string, slug: string): Promise<IdbindClient> {
  const r = await fetch(`${hub.url}/v1/admin/providers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, kind: 'carrier', carrier: slug }),
  });
  expect(r.status, await r.clone().text()).toBe(201);
  return new IdbindClient({ baseUrl: hub.url, apiKey: ((await r.json()) as { api_key: string }).api_key });
}

async function finished(client: IdbindClient, id: string): Promise<CarrierJob> {
  for (let i = 0; i < 400; i++) {
    const job = await client.getCarrierJob(id);
    if (job.status === 'completed' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the job did not finish');
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

async function failure(work: () => Promise<unknown>): Promise<IdbindError> {
  try {
    await work();
  } catch (error) {
    expect(error).toBeInstanceOf(IdbindError);
    return error as IdbindError;
  }
  throw new Error('expected an IdbindError');
}

beforeAll(async () => {
  hub = await startTestHub();
  viettel = await carrier('Viettel', 'viettel');
  mobifone = await carrier('MobiFone', 'mobifone');
});
afterAll(async () => hub?.stop());

describe('carriers through the SDK', () => {
  let first: string;

  it('uploads a registry as text, polls the job to its end and reads its rejects', async () => {
    const accepted = await viettel.uploadRegistry(CSV, { format: 'csv' });
    expect(accepted).toEqual({ job_id: expect.any(String), status: 'queued', location: `/v1/carrier/jobs/${accepted.job_id}` });
    first = accepted.job_id;
    expect(await finished(viettel, first)).toMatchObject({
      kind: 'subscriptions', format: 'csv', status: 'completed', bytes_total: Buffer.byteLength(CSV), bytes_done: Buffer.byteLength(CSV),
      summary: { accepted: 2, unchanged: 0, rejected: 1 }, error: null, uploaded_at: expect.any(String),
    });
    expect(await text(await viettel.getCarrierJobRejects(first))).toBe('line,field,code\n4,msisdn,NOT_VIETNAMESE_MOBILE\n');
  });

  it('uploads the same registry again as a stream: everything unchanged', async () => {
    const bytes = new TextEncoder().encode(CSV);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.subarray(0, 10));
        controller.enqueue(bytes.subarray(10));
        controller.close();
      },
    });
    const accepted = await viettel.uploadRegistry(stream, { format: 'csv' });
    expect(await finished(viettel, accepted.job_id)).toMatchObject({ status: 'completed', summary: { accepted: 0, unchanged: 2, rejected: 1 } });
  });

  it('uploads a delta file', async () => {
    const events = [{ event_id: 's-1', type: 'terminated', msisdn: '0961000002', at: '2025-01-01T08:00:00+07:00' }].map((e) => JSON.stringify(e)).join('\n') + '\n';
    const accepted = await viettel.uploadDeltas(events);
    expect(await finished(viettel, accepted.job_id)).toMatchObject({ kind: 'subscription_events', format: 'ndjson', status: 'completed', summary: { accepted: 1 } });
    const { jobs } = await viettel.listCarrierJobs({ limit: 10 });
    expect(jobs.map((j) => j.job_id)).toContain(first);
    expect(jobs[0]!.job_id).toBe(accepted.job_id);
  });

  it('gives the typed refusals: a wrong file, another carrier\'s job, no action list yet', async () => {
    expect(await failure(() => viettel.uploadRegistry('phone,owner\n0961000001,x\n', { format: 'csv' }))).toMatchObject({ code: 'IMPORT_FORMAT_INVALID', status: 400 });
    expect(await failure(() => viettel.uploadRegistry(CSV, { format: 'ndjson' }))).toMatchObject({ code: 'IMPORT_FORMAT_INVALID', status: 400 });
    expect(await failure(() => mobifone.getCarrierJob(first))).toMatchObject({ code: 'CARRIER_JOB_NOT_FOUND', status: 404 });
    expect(await failure(() => mobifone.getCarrierJobRejects(first))).toMatchObject({ code: 'CARRIER_JOB_NOT_FOUND', status: 404 });
    expect(await failure(() => viettel.downloadActionList())).toMatchObject({ code: 'ACTION_LIST_NOT_AVAILABLE', status: 404 });
  });

  it('downloads the latest action list with its run id', async () => {
    const run = await startReconciliation(hub.hub.pool, await hub.hub.ring(), 'test');
    await run.done;
    const list = await viettel.downloadActionList();
    expect(list.runId).toBe(run.runId);
    // 0961000002 was terminated by the delta: terminated numbers are not classified.
    expect(await text(list.csv)).toBe('msisdn,category\n+84961000001,HOLDER_NOT_FOUND\n');
    const theirs = await mobifone.downloadActionList();
    expect(theirs.runId).toBe(run.runId);
    expect(await text(theirs.csv)).toBe('msisdn,category\n');
  });
});
