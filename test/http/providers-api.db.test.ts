/**
 * Providers (issue 3 "Providers"): creation over the admin API and the CLI, credentials shown once
 * and stored hashed or sealed, key rotation with overlap, webhook URL checks, settings and the
 * provider's own view; and the SMS gateway over HTTP in production mode.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { N, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { main } from '../../src/cli.ts';
import { forbiddenAddressReason } from '../../src/kernel/http/outbound-http.ts';

let hub: TestHub;
let admin: Record<string, string>;

beforeAll(async () => {
  hub = await startTestHub({ demo: false, listen: false });
  admin = { authorization: `Bearer ${hub.adminToken}` };
});
afterAll(async () => hub.stop());

function create(payload: Record<string, unknown>) {
  return hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: admin, payload });
}

describe('creating providers', () => {
  it('answers the API key and webhook secret once, and stores only a hash and a sealed secret', async () => {
    const r = await create({ name: 'Phở Net', kind: 'platform', legal_profile: 'statutory', limits: { accounts_per_person: 3 } });
    expect(r.statusCode, r.body).toBe(201);
    const body = r.json();
    expect(body.api_key).toMatch(/^idbk_[A-Za-z0-9_-]{43}$/);
    expect(body.webhook_secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(body.provider).toMatchObject({ name: 'Phở Net', kind: 'platform', legal_profile: 'statutory', webhook_url: null, status: 'active',
      limits: { verifications_per_minute: 600, sms_per_day: 100000, accounts_per_person: 3 } });
    const keys = await hub.hub.pool.query('SELECT key_hash, hint FROM provider_api_keys WHERE provider_id = $1', [body.provider.id]);
    expect(keys.rows).toHaveLength(1);
    expect(keys.rows[0].key_hash.equals(createHash('sha256').update(body.api_key).digest())).toBe(true);
    expect(keys.rows[0].hint).toBe(`idbk_…${body.api_key.slice(-4)}`);
    const secret = await hub.hub.pool.query('SELECT sealed FROM webhook_secrets WHERE provider_id = $1', [body.provider.id]);
    expect(secret.rows[0].sealed.includes(Buffer.from(body.webhook_secret.slice(6), 'base64'))).toBe(false);
    expect(secret.rows[0].sealed.toString('latin1')).not.toContain(body.webhook_secret);
    // The provider reads its own profile and secret, never another's.
    const me = await hub.app.inject({ url: '/v1/provider', headers: { authorization: `Bearer ${body.api_key}` } });
    expect(me.json().provider.id).toBe(body.provider.id);
    expect(me.body).not.toContain(body.api_key);
    const s = await hub.app.inject({ url: '/v1/provider/webhook-secret', headers: { authorization: `Bearer ${body.api_key}` } });
    expect(s.json()).toEqual({ secrets: [body.webhook_secret] });
  });

  it('refuses a taken name, a bad name, a statutory carrier and bad limits', async () => {
    await create({ name: 'Taken', kind: 'platform' });
    const cases: [Record<string, unknown>, number, string][] = [
      [{ name: 'Taken', kind: 'platform' }, 409, 'PROVIDER_NAME_TAKEN'],
      [{ name: 'Code 123456 Net', kind: 'platform' }, 422, 'PROVIDER_INVALID'],
      // Full-width digits fold into ASCII ones: a run of 6 in any script could read as a code.
      [{ name: 'Ｓｈｏｐ １２３４５６７', kind: 'platform' }, 422, 'PROVIDER_INVALID'],
      [{ name: '<script>', kind: 'platform' }, 422, 'PROVIDER_INVALID'],
      [{ name: 'Carrier X', kind: 'carrier', legal_profile: 'statutory' }, 422, 'PROVIDER_INVALID'],
      [{ name: 'Limits', kind: 'platform', limits: { sms_per_day: 0 } }, 400, 'REQUEST_INVALID'],
      [{ name: 'Kindless', kind: 'bank' }, 400, 'REQUEST_INVALID'],
    ];
    for (const [payload, status, code] of cases) {
      const r = await create(payload);
      expect(r.statusCode, JSON.stringify(payload)).toBe(status);
      expect(r.json().code).toBe(code);
    }
  });

  it('refuses webhook URLs that resolve to private, loopback or link-local addresses, or are not https', async () => {
    let i = 0;
    for (const url of ['https://127.0.0.1/hook', 'https://10.1.2.3/hook', 'https://169.254.169.254/latest', 'https://[::1]/x', 'https://localhost/x',
      'http://example.com/hook', 'https://user:pw@example.com/x', 'not a url']) {
      const r = await create({ name: `Hook ${i++}`, kind: 'platform', webhook_url: url });
      expect(r.statusCode, url).toBe(422);
      expect(r.json().code).toBe('WEBHOOK_URL_REFUSED');
    }
    expect(forbiddenAddressReason('::ffff:192.168.1.1', { allowLoopback: true })).toBeDefined();
    expect(forbiddenAddressReason('127.0.0.1', { allowLoopback: true })).toBeUndefined();
    expect(forbiddenAddressReason('93.184.215.14', { allowLoopback: false })).toBeUndefined();
  });

  it('links a carrier provider to its registry carrier, one provider per carrier', async () => {
    const r = await create({ name: 'VinaTest', kind: 'carrier', carrier: 'vinatest' });
    expect(r.json().provider).toMatchObject({ kind: 'carrier', carrier: 'vinatest' });
    const again = await create({ name: 'VinaTest 2', kind: 'carrier', carrier: 'vinatest' });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('CARRIER_ALREADY_LINKED');
  });
});

describe('credentials over time', () => {
  it('rotates the API key with an overlap, and at once with overlap 0', async () => {
    const c = (await create({ name: 'Rotator', kind: 'platform' })).json();
    const old = { authorization: `Bearer ${c.api_key}` };
    const rot = await hub.app.inject({ method: 'POST', url: '/v1/provider/api-keys', headers: old, payload: { overlap_seconds: 3600 } });
    expect(rot.statusCode).toBe(201);
    const fresh = { authorization: `Bearer ${rot.json().api_key}` };
    expect(Date.parse(rot.json().previous_keys_expire_at) - Date.now()).toBeGreaterThan(3500_000);
    expect((await hub.app.inject({ url: '/v1/provider', headers: old })).statusCode).toBe(200);
    expect((await hub.app.inject({ url: '/v1/provider', headers: fresh })).json().api_keys).toHaveLength(2);
    const now = await hub.app.inject({ method: 'POST', url: `/v1/admin/providers/${c.provider.id}/api-keys`, headers: admin, payload: { overlap_seconds: 0 } });
    expect(now.statusCode).toBe(201);
    for (const h of [old, fresh]) expect((await hub.app.inject({ url: '/v1/provider', headers: h })).json().code).toBe('API_KEY_INVALID');
    expect((await hub.app.inject({ url: '/v1/provider', headers: { authorization: `Bearer ${now.json().api_key}` } })).statusCode).toBe(200);
  });

  it('leaves one working API key after rotations without overlap made at the same time (a client repeating a rotation that timed out)', async () => {
    const c = (await create({ name: 'Hasty Rotator', kind: 'platform' })).json();
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all([0, 1, 2].map(() =>
        hub.app.inject({ method: 'POST', url: `/v1/admin/providers/${c.provider.id}/api-keys`, headers: admin, payload: { overlap_seconds: 0 } })));
      expect(answers.map((a) => a.statusCode)).toEqual([201, 201, 201]);
      const working = [];
      for (const a of answers) {
        if ((await hub.app.inject({ url: '/v1/provider', headers: { authorization: `Bearer ${a.json().api_key}` } })).statusCode === 200) working.push(a);
      }
      // Each rotation ends every other key at once: only the last one's key still works.
      expect(working).toHaveLength(1);
    }
  });

  it('rotates the webhook secret keeping the old one during the overlap', async () => {
    const c = (await create({ name: 'Secretive', kind: 'platform' })).json();
    const h = { authorization: `Bearer ${c.api_key}` };
    const rot = await hub.app.inject({ method: 'POST', url: '/v1/provider/webhook-secrets', headers: h, payload: {} });
    expect(rot.statusCode).toBe(201);
    const secrets = (await hub.app.inject({ url: '/v1/provider/webhook-secret', headers: h })).json().secrets;
    expect(secrets).toEqual([rot.json().webhook_secret, c.webhook_secret]);
  });

  it('rotates with the default overlap of 24 hours when no body is sent, and still checks a body that is', async () => {
    const c = (await create({ name: 'Bodiless', kind: 'platform' })).json();
    let key = c.api_key as string;
    const day = 24 * 3600_000;
    // No body and no Content-Type, as `curl -X POST` sends it: the same as {}.
    for (const url of ['/v1/provider/api-keys', '/v1/provider/webhook-secrets', `/v1/admin/providers/${c.provider.id}/api-keys`]) {
      const headers = { authorization: `Bearer ${url.startsWith('/v1/admin') ? hub.adminToken : key}` };
      const bare = await hub.app.inject({ method: 'POST', url, headers });
      expect(bare.statusCode, url).toBe(201);
      const body = bare.json();
      const expiry = Date.parse(body.previous_keys_expire_at ?? body.previous_secrets_expire_at);
      expect(expiry - Date.now(), url).toBeGreaterThan(day - 60_000);
      expect(expiry - Date.now(), url).toBeLessThanOrEqual(day);
      if (body.api_key) key = body.api_key;
      const empty = await hub.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${url.startsWith('/v1/admin') ? hub.adminToken : key}` }, payload: {} });
      expect(empty.statusCode, url).toBe(201);
      if (empty.json().api_key) key = empty.json().api_key;
      const wrong = await hub.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${url.startsWith('/v1/admin') ? hub.adminToken : key}` }, payload: { overlap: 60 } });
      expect(wrong.statusCode, url).toBe(400);
      expect(wrong.json().code, url).toBe('REQUEST_INVALID');
    }
  });

  it('documents the rotation bodies, and the resend body, as optional', async () => {
    const doc = (await hub.app.inject('/openapi.json')).json();
    for (const path of ['/v1/provider/api-keys', '/v1/provider/webhook-secrets', '/v1/admin/providers/{id}/api-keys', '/v1/verifications/{id}/resend']) {
      const body = doc.paths[path].post.requestBody;
      expect(body.required, path).toBe(false);
      expect(JSON.stringify(body), path).not.toContain('x-idbind-optional-body');
    }
    expect(doc.paths['/v1/provider/api-keys'].post.requestBody.content['application/json'].schema.properties).toHaveProperty('overlap_seconds');
    // A body the client must send stays required.
    expect(doc.paths['/v1/verifications/{id}/confirm'].post.requestBody.required).toBe(true);
  });

  it('disables a provider: its calls are refused', async () => {
    const c = (await create({ name: 'Closing', kind: 'platform' })).json();
    const p = await hub.app.inject({ method: 'PATCH', url: `/v1/admin/providers/${c.provider.id}`, headers: admin, payload: { status: 'disabled' } });
    expect(p.json().status).toBe('disabled');
    const r = await hub.app.inject({ url: '/v1/provider', headers: { authorization: `Bearer ${c.api_key}` } });
    expect(r.statusCode).toBe(403);
    expect(r.json().code).toBe('PROVIDER_DISABLED');
    expect((await hub.app.inject({ url: '/v1/admin/providers/not-an-id', headers: admin })).json().code).toBe('PROVIDER_NOT_FOUND');
  });

  it('are permanent: a provider can be disabled but neither deleted, renumbered nor truncated (migration 0023)', async () => {
    const c = (await create({ name: 'Permanent', kind: 'platform' })).json();
    const id = c.provider.id as string;
    for (const sql of [`DELETE FROM providers WHERE id = '${id}'`, `UPDATE providers SET id = gen_random_uuid() WHERE id = '${id}'`, 'TRUNCATE providers CASCADE']) {
      await expect(hub.hub.pool.query(sql), sql).rejects.toMatchObject({ code: '23001' });
    }
    await hub.hub.pool.query(`UPDATE providers SET status = 'disabled' WHERE id = $1`, [id]);
    expect((await hub.hub.pool.query('SELECT status FROM providers WHERE id = $1', [id])).rows).toEqual([{ status: 'disabled' }]);
  });
});

describe('idbind providers (CLI)', () => {
  it('creates a provider and prints {id, api_key, webhook_secret}', async () => {
    let out = '';
    let err = '';
    const ctx = {
      stdout: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream,
      stderr: { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream,
      env: { DATABASE_URL: hub.databaseUrl, IDBIND_MASTER_KEY: hub.masterKey, IDBIND_DATA_DIR: hub.dataDir },
      cwd: process.cwd(),
    };
    const status = await main(['providers', 'create', '--name', 'CLI Net', '--kind', 'platform', '--profile', 'minimal', '--json'], ctx);
    expect(status, err).toBe(0);
    const printed = JSON.parse(out);
    expect(Object.keys(printed).sort()).toEqual(['api_key', 'id', 'webhook_secret']);
    expect(printed.webhook_secret).toMatch(/^whsec_/);
    const me = await hub.app.inject({ url: '/v1/provider', headers: { authorization: `Bearer ${printed.api_key}` } });
    expect(me.json().provider).toMatchObject({ id: printed.id, name: 'CLI Net' });
    out = '';
    expect(await main(['providers', 'create', '--name', 'X', '--kind', 'nope'], ctx)).toBe(2);
  });
});

describe('the SMS gateway', () => {
  let receiver: Server;
  const received: { body: { to: string; text: string }; auth: string | undefined }[] = [];
  let failNext = false;
  let gw: TestHub;

  beforeAll(async () => {
    receiver = createServer((req: IncomingMessage, res) => {
      let data = '';
      req.on('data', (d: Buffer) => (data += d.toString()));
      req.on('end', () => {
        if (failNext) {
          failNext = false;
          res.writeHead(500).end();
          return;
        }
        received.push({ body: JSON.parse(data), auth: req.headers.authorization });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    gw = await startTestHub({ listen: false, env: {
      IDBIND_SMS_URL: `http://127.0.0.1:${port}/send`, IDBIND_SMS_AUTHORIZATION: 'Bearer gateway-secret', IDBIND_OUTBOUND_ALLOW_LOOPBACK: '1',
    } });
    await seedVerificationRegistry(gw.hub.pool, await gw.hub.ring());
  });
  afterAll(async () => {
    await gw.stop();
    await new Promise((r) => receiver.close(r));
  });

  it('posts {to, text} with the configured authorization; a refusing gateway fails the verification with 503', async () => {
    const c = (await gw.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: { authorization: `Bearer ${gw.adminToken}` }, payload: { name: 'Gateway Net', kind: 'platform' } })).json();
    const h = { authorization: `Bearer ${c.api_key}` };
    const s = await gw.app.inject({ method: 'POST', url: '/v1/verifications', headers: { ...h, 'idempotency-key': randomUUID() }, payload: { account_ref: 'g1', phone: N.adult } });
    expect(s.statusCode, s.body).toBe(201);
    expect(received).toHaveLength(1);
    expect(received[0]!.auth).toBe('Bearer gateway-secret');
    expect(received[0]!.body.to).toBe(N.adult);
    expect(received[0]!.body.text).toContain('Gateway Net');
    const code = received[0]!.body.text.match(/\b\d{6}\b/)![0];
    const ok = await gw.app.inject({ method: 'POST', url: `/v1/verifications/${s.json().id}/confirm`, headers: h, payload: { code } });
    expect(ok.statusCode, ok.body).toBe(200);

    failNext = true;
    const f = await gw.app.inject({ method: 'POST', url: '/v1/verifications', headers: { ...h, 'idempotency-key': randomUUID() }, payload: { account_ref: 'g2', phone: N.adult2 } });
    expect(f.statusCode).toBe(503);
    expect(f.json().code).toBe('SMS_GATEWAY_UNAVAILABLE');
    const row = await gw.hub.pool.query(`SELECT status, failure FROM verifications WHERE account_ref = 'g2'`);
    expect(row.rows).toEqual([{ status: 'failed', failure: 'sms_failed' }]);
  });

  it('has no SMS outbox route outside demo mode, and answers 503 without a gateway', async () => {
    expect((await gw.app.inject({ url: `/v1/dev/sms-outbox?to=${N.adult}` })).statusCode).toBe(404);
    const c = (await create({ name: 'No Gateway', kind: 'platform' })).json();
    const r = await hub.app.inject({ method: 'POST', url: '/v1/verifications', headers: { authorization: `Bearer ${c.api_key}`, 'idempotency-key': randomBytes(8).toString('hex') }, payload: { account_ref: 'x', phone: N.adult } });
    expect(r.statusCode).toBe(503);
    expect(r.json().code).toBe('SMS_GATEWAY_UNAVAILABLE');
  });
});
