/**
 * The HTTP API in-process (Fastify inject) on a real database: operations endpoints, RFC 9457
 * errors, admin authentication, and the reconciliation workflow of the regulator's dashboard.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
const METRICS_TOKEN = 'scraper-token-scraper-token-scraper-token';
let auth: Record<string, string>;
beforeAll(async () => {
  hub = await startTestHub({ demo: false, listen: false, env: { IDBIND_METRICS_TOKEN: METRICS_TOKEN } });
  auth = { authorization: `Bearer ${hub.adminToken}` };
  await hub.seedAndReconcile();
});
afterAll(async () => hub.stop());

describe('operations endpoints', () => {
  it('answers liveness, readiness and Prometheus metrics', async () => {
    expect((await hub.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await hub.app.inject('/readyz')).json()).toEqual({ status: 'ready' });
    const m = await hub.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(m.statusCode).toBe(200);
    expect(m.headers['content-type']).toContain('text/plain');
    expect(m.body).toContain('idbind_http_request_duration_seconds');
    expect(m.body).toContain('idbind_process_cpu_user_seconds_total');
    // Each request is observed under its route pattern and status, counted once per request.
    const healthz = () => /idbind_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} (\d+)/.exec(m.body)?.[1];
    expect(Number(healthz())).toBeGreaterThanOrEqual(1);
    const before = Number(healthz());
    await hub.app.inject('/healthz');
    await hub.app.inject('/healthz');
    const again = await hub.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(Number(/idbind_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} (\d+)/.exec(again.body)?.[1])).toBe(before + 2);
  });

  it('serves /metrics outside demo mode only to the metrics token or the admin token', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${METRICS_TOKEN}`, `Bearer ${METRICS_TOKEN}x`]) {
      const res = await hub.app.inject({ url: '/metrics', headers: authorization ? { authorization } : {} });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'METRICS_TOKEN_INVALID' });
      expect(res.body).not.toContain('idbind_');
    }
    expect((await hub.app.inject({ url: '/metrics', headers: auth })).statusCode).toBe(200);
  });

  it('serves an OpenAPI 3.1 document generated from the route schemas, and a readable reference', async () => {
    const doc = (await hub.app.inject('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/v1/admin/registry/stats', '/v1/admin/reconciliations', '/v1/admin/reconciliations/{run_id}', '/v1/admin/reconciliations/{run_id}/action-lists/{carrier}',
    ]));
    expect(doc.paths['/v1/admin/reconciliations'].post.responses['202']).toBeDefined();
    const page = await hub.app.inject('/docs/api');
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('/v1/admin/reconciliations/{run_id}/action-lists/{carrier}');
  });

  it('has no demo endpoint in production mode', async () => {
    const r = await hub.app.inject('/v1/demo/session');
    expect(r.statusCode).toBe(404);
    expect((await hub.app.inject('/v1/meta')).json()).toMatchObject({ mode: 'production' });
  });
});

describe('errors are RFC 9457 problem documents with catalogue codes', () => {
  it('refuses the admin API without a token, with a wrong one and with a malformed header', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: hub.adminToken }]) {
      const r = await hub.app.inject({ url: '/v1/admin/registry/stats', headers });
      expect(r.statusCode).toBe(401);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.json()).toMatchObject({ status: 401, code: 'ADMIN_TOKEN_INVALID', title: expect.any(String), type: expect.stringContaining('admin_token_invalid') });
    }
  });

  it('names the invalid parameter, never echoing its value', async () => {
    const r = await hub.app.inject({ url: '/v1/admin/reconciliations?limit=100000', headers: auth });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'REQUEST_INVALID', detail: expect.stringContaining('limit') });
    expect(r.body).not.toContain('100000');
  });

  it('answers unknown routes and runs with NOT_FOUND / RECONCILIATION_NOT_FOUND', async () => {
    expect((await hub.app.inject({ url: '/v1/nothing', headers: auth })).json()).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const r = await hub.app.inject({ url: '/v1/admin/reconciliations/not-a-uuid', headers: auth });
    expect(r.json()).toMatchObject({ status: 404, code: 'RECONCILIATION_NOT_FOUND' });
  });
});

describe('registry statistics and reconciliation over the admin API', () => {
  it('reports registry sizes that match the database', async () => {
    const stats = (await hub.app.inject({ url: '/v1/admin/registry/stats', headers: auth })).json();
    const db = await hub.hub.pool.query(`SELECT (SELECT count(*) FROM persons)::int AS people, (SELECT count(*) FROM subscriptions WHERE status <> 'terminated')::int AS live`);
    expect(stats.people.total).toBe(db.rows[0].people);
    expect(stats.people.total).toBe(2000);
    expect(stats.subscriptions.live).toBe(db.rows[0].live);
    expect(stats.carriers.map((c: { slug: string }) => c.slug)).toEqual(['mobifone', 'vietnamobile', 'viettel', 'vinaphone']);
  });

  it('starts a run (202 + Location), refuses a concurrent one (409), and serves its results and action lists', async () => {
    // Hold the run in its classification (which reads the subscriptions) to see its step.
    const blocker = await hub.hub.pool.connect();
    let run_id: string;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE');
      const start = await hub.app.inject({ method: 'POST', url: '/v1/admin/reconciliations', headers: auth });
      expect(start.statusCode).toBe(202);
      run_id = start.json().run_id;
      expect(start.headers.location).toBe(`/v1/admin/reconciliations/${run_id}`);
      let held = (await hub.app.inject({ url: `/v1/admin/reconciliations/${run_id}`, headers: auth })).json();
      for (const end = Date.now() + 60_000; held.step?.code !== 'classifying' && Date.now() < end;) {
        await new Promise((r) => setTimeout(r, 50));
        held = (await hub.app.inject({ url: `/v1/admin/reconciliations/${run_id}`, headers: auth })).json();
      }
      expect(held).toMatchObject({ status: 'running', step: { code: 'classifying', number: 2, of: 4 }, categories: null });
    } finally {
      await blocker.query('COMMIT');
      blocker.release();
    }
    let run = (await hub.app.inject({ url: `/v1/admin/reconciliations/${run_id}`, headers: auth })).json();
    for (const end = Date.now() + 60_000; run.status === 'running' && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 100));
      run = (await hub.app.inject({ url: `/v1/admin/reconciliations/${run_id}`, headers: auth })).json();
    }
    expect(run.status).toBe('completed');
    expect(run.step).toBeNull();
    const list = (await hub.app.inject({ url: '/v1/admin/reconciliations', headers: auth })).json();
    expect(list.runs).toHaveLength(3);
    expect(list.runs[0].run_id).toBe(run_id);
    expect(run.previous_run_id).toBe(list.runs[1].run_id);
    // Nothing changed since the previous run: nothing new, nothing resolved.
    for (const c of Object.values(run.compared_to_previous) as { new: number; resolved: number }[]) expect(c).toEqual({ new: 0, resolved: 0 });

    const csv = await hub.app.inject({ url: `/v1/admin/reconciliations/${run_id}/action-lists/viettel`, headers: auth });
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.headers['content-disposition']).toContain('attachment');
    const lines = csv.body.trim().split('\n');
    expect(lines[0]).toBe('msisdn,category');
    const viettelTotal = Object.values(run.by_carrier.viettel as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(lines).toHaveLength(viettelTotal + 1);
    for (const l of lines.slice(1)) expect(l).toMatch(/^\+84\d{9},(NO_HOLDER|HOLDER_NOT_FOUND|HOLDER_DECEASED|HOLDER_DATA_MISMATCH|ONLINE_BEYOND_LIMIT)$/);

    const unknown = await hub.app.inject({ url: `/v1/admin/reconciliations/${run_id}/action-lists/nocarrier`, headers: auth });
    expect(unknown.json()).toMatchObject({ status: 404, code: 'CARRIER_NOT_FOUND' });
    // A refusal is a problem document to read, not a file to save.
    expect(unknown.headers['content-disposition']).toBeUndefined();

    // HEAD runs the download's checks and answers its headers, opening no number: no access
    // recorded for it (the GET above was recorded once).
    const exports = async () => (await hub.hub.pool.query(`SELECT count(*)::int AS n FROM access_records WHERE purpose = 'action_list_export' AND run_id = $1`, [run_id])).rows[0].n;
    const recorded = await exports();
    expect(recorded).toBe(1);
    const head = await hub.app.inject({ method: 'HEAD', url: `/v1/admin/reconciliations/${run_id}/action-lists/viettel`, headers: auth });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-disposition']).toBe(`attachment; filename="viettel-${run_id}.csv"`);
    // Not a length of 0: the list is not empty (the GET streams it without a length).
    expect(head.headers['content-length']).toBeUndefined();
    expect(head.body).toBe('');
    const headUnknown = await hub.app.inject({ method: 'HEAD', url: `/v1/admin/reconciliations/${run_id}/action-lists/nocarrier`, headers: auth });
    expect(headUnknown.statusCode).toBe(404);
    expect(headUnknown.headers['content-disposition']).toBeUndefined();
    expect(await exports()).toBe(recorded);
  });

  it('answers 409 RECONCILIATION_ALREADY_RUNNING while a run holds the lock', async () => {
    const client = await hub.hub.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(72028, 0)');
      const r = await hub.app.inject({ method: 'POST', url: '/v1/admin/reconciliations', headers: auth });
      expect(r.statusCode).toBe(409);
      expect(r.json()).toMatchObject({ code: 'RECONCILIATION_ALREADY_RUNNING' });
    } finally {
      await client.query('SELECT pg_advisory_unlock_all()');
      client.release();
    }
  });
});

describe('reconciliation retention (IDBIND_RECONCILIATION_KEEP_RUNS)', () => {
  let kept: TestHub;
  let keptAuth: Record<string, string>;
  beforeAll(async () => {
    kept = await startTestHub({ demo: false, listen: false, env: { IDBIND_RECONCILIATION_KEEP_RUNS: '1' } });
    keptAuth = { authorization: `Bearer ${kept.adminToken}` };
    await kept.seedAndReconcile();
  });
  afterAll(async () => kept.stop());

  const getRun = async (id: string) => (await kept.app.inject({ url: `/v1/admin/reconciliations/${id}`, headers: keptAuth })).json();

  it('prunes the older runs\' results after a run started through the API: their counts stay, their action lists answer 410', async () => {
    const [first] = (await kept.app.inject({ url: '/v1/admin/reconciliations', headers: keptAuth })).json().runs;
    expect(first).toMatchObject({ status: 'completed', results_pruned_at: null });
    const { run_id } = (await kept.app.inject({ method: 'POST', url: '/v1/admin/reconciliations', headers: keptAuth })).json();
    let old = await getRun(first.run_id);
    for (const end = Date.now() + 60_000; old.results_pruned_at === null && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 100));
      old = await getRun(first.run_id);
    }
    expect(old.results_pruned_at).toEqual(expect.any(String));
    expect(old.categories).toEqual(first.categories);
    const latest = await getRun(run_id);
    expect(latest).toMatchObject({ status: 'completed', results_pruned_at: null, previous_run_id: first.run_id });
    const rows = await kept.hub.pool.query<{ run_id: string }>('SELECT DISTINCT run_id FROM reconciliation_results');
    expect(rows.rows).toEqual([{ run_id }]);

    const gone = await kept.app.inject({ url: `/v1/admin/reconciliations/${first.run_id}/action-lists/viettel`, headers: keptAuth });
    expect(gone.statusCode).toBe(410);
    expect(gone.headers['content-type']).toContain('application/problem+json');
    expect(gone.json()).toMatchObject({ status: 410, code: 'RECONCILIATION_RESULTS_PRUNED' });
    const list = await kept.app.inject({ url: `/v1/admin/reconciliations/${run_id}/action-lists/viettel`, headers: keptAuth });
    expect(list.statusCode).toBe(200);
    expect(list.body.split('\n')[0]).toBe('msisdn,category');
  });
});
