/**
 * Mutation review of issue 3's providers: `idbind providers create` passes its legal profile and
 * limits through, a carrier provider without --carrier is linked to the carrier named by its name
 * in lower case, limits default to 600 a minute, 100,000 SMS a day and 5 accounts per person, and
 * a rotation never lengthens the overlap of a key or secret already retiring.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { main } from '../../src/cli.ts';

let hub: TestHub;
let admin: Record<string, string>;

beforeAll(async () => {
  hub = await startTestHub({ demo: false, listen: false });
  admin = { authorization: `Bearer ${hub.adminToken}` };
});
afterAll(async () => hub.stop());

async function cli(args: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await main(args, {
    stdout: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream,
    stderr: { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream,
    env: { DATABASE_URL: hub.databaseUrl, IDBIND_MASTER_KEY: hub.masterKey, IDBIND_DATA_DIR: hub.dataDir },
    cwd: process.cwd(),
  });
  return { status, out, err };
}

async function me(apiKey: string) {
  const r = await hub.app.inject({ url: '/v1/provider', headers: { authorization: `Bearer ${apiKey}` } });
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as { provider: Record<string, unknown>; api_keys: { hint: string; expires_at: string | null }[] };
}

describe('idbind providers create', () => {
  it('creates a statutory platform with the limits given', async () => {
    const r = await cli(['providers', 'create', '--name', 'CLI Statutory Net', '--kind', 'platform', '--profile', 'statutory',
      '--verifications-per-minute', '11', '--sms-per-day', '9', '--accounts-per-person', '7', '--json']);
    expect(r.status, r.err).toBe(0);
    const created = JSON.parse(r.out) as { id: string; api_key: string };
    expect((await me(created.api_key)).provider).toMatchObject({
      id: created.id, legal_profile: 'statutory', limits: { verifications_per_minute: 11, sms_per_day: 9, accounts_per_person: 7 },
    });
  });

  it('links a carrier provider without --carrier to the carrier of its name in lower case', async () => {
    const r = await cli(['providers', 'create', '--name', 'Mobi Test', '--kind', 'carrier', '--json']);
    expect(r.status, r.err).toBe(0);
    const created = JSON.parse(r.out) as { api_key: string };
    expect((await me(created.api_key)).provider).toMatchObject({ kind: 'carrier', carrier: 'mobi-test', legal_profile: 'minimal' });
  });
});

describe('a carrier named for a platform', () => {
  it('is refused with PROVIDER_INVALID, and nothing is created', async () => {
    const r = await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: admin, payload: { name: 'Carrier Platform Net', kind: 'platform', carrier: 'viettel' } });
    expect(r.statusCode, r.body).toBe(422);
    expect(r.json().code).toBe('PROVIDER_INVALID');
    expect((await hub.hub.pool.query(`SELECT 1 FROM providers WHERE name = 'Carrier Platform Net'`)).rows).toEqual([]);
  });
});

describe('a provider created without limits', () => {
  it('gets 600 verifications a minute, 100,000 SMS a day and 5 accounts per person', async () => {
    const r = await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: admin, payload: { name: 'Default Limits Net', kind: 'platform' } });
    expect(r.statusCode, r.body).toBe(201);
    expect(r.json().provider).toMatchObject({ legal_profile: 'minimal', limits: { verifications_per_minute: 600, sms_per_day: 100000, accounts_per_person: 5 } });
  });
});

describe('a rotation during an overlap', () => {
  it("does not lengthen the life of an API key already retiring", async () => {
    const c = (await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: admin, payload: { name: 'Overlap Key Net', kind: 'platform' } })).json();
    const first = await hub.app.inject({ method: 'POST', url: `/v1/admin/providers/${c.provider.id}/api-keys`, headers: admin, payload: { overlap_seconds: 600 } });
    expect(first.statusCode).toBe(201);
    const second = await hub.app.inject({ method: 'POST', url: `/v1/admin/providers/${c.provider.id}/api-keys`, headers: admin, payload: { overlap_seconds: 86_400 } });
    expect(second.statusCode).toBe(201);
    const keys = (await me(second.json().api_key as string)).api_keys;
    const original = keys.find((k) => k.hint === `idbk_…${(c.api_key as string).slice(-4)}`)!;
    expect(Date.parse(original.expires_at!) - Date.now()).toBeLessThanOrEqual(600_000);
  });

  it('does not lengthen the life of a webhook secret already retiring', async () => {
    const c = (await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: admin, payload: { name: 'Overlap Secret Net', kind: 'platform' } })).json();
    const h = { authorization: `Bearer ${c.api_key}` };
    expect((await hub.app.inject({ method: 'POST', url: '/v1/provider/webhook-secrets', headers: h, payload: { overlap_seconds: 600 } })).statusCode).toBe(201);
    expect((await hub.app.inject({ method: 'POST', url: '/v1/provider/webhook-secrets', headers: h, payload: { overlap_seconds: 86_400 } })).statusCode).toBe(201);
    const r = await hub.hub.pool.query<{ left: number }>(
      `SELECT extract(epoch FROM expires_at - now())::float8 AS left FROM webhook_secrets WHERE provider_id = $1 AND expires_at IS NOT NULL ORDER BY created_at`, [c.provider.id]);
    // The first secret keeps its 10 minutes; the second gets the new day.
    expect(r.rows).toHaveLength(2);
    expect(r.rows[0]!.left).toBeLessThanOrEqual(600);
    expect(r.rows[1]!.left).toBeGreaterThan(86_000);
  });
});
