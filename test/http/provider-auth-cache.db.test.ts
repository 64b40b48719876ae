/**
 * The cache of authenticated API keys across processes (audit of issue 3, finding 5; migration
 * 0026): a running hub refuses a key rotated with overlap 0, or a provider disabled, by another
 * process (the CLI's own pool, here another pool with no cache, which is what `idbind providers
 * rotate-key` opens) as soon as the change's notification arrives, not up to 5 s later; and while
 * the hub's listener is down its cache is not trusted. Waits are bounded polls, never sleeps.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { apiKeyHashBase64 } from '../../src/providers/provider-credentials.ts';
import { authCacheOf, rotateApiKey, updateProvider } from '../../src/providers/provider-service.ts';
import { createPool } from '../../src/kernel/db/pool.ts';

let hub: TestHub;
let cli: pg.Pool; // another process's pool, as the CLI opens it: no auth cache, no listener
let admin: Record<string, string>;

beforeAll(async () => {
  hub = await startTestHub({ listen: false });
  admin = { authorization: `Bearer ${hub.adminToken}` };
  // As the CLI opens it (createPool): among other things an idle client's error, such as the
  // server ending it while the test's database is dropped, is the pool's to ignore, not uncaught.
  cli = createPool(hub.databaseUrl, 2);
});
afterAll(async () => {
  await cli.end();
  await hub.stop();
});

async function createPlatform(name: string): Promise<{ id: string; key: string }> {
  const r = await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: admin, payload: { name, kind: 'platform' } });
  expect(r.statusCode, r.body).toBe(201);
  return { id: r.json().provider.id, key: r.json().api_key };
}

const call = (key: string) => hub.app.inject({ url: '/v1/provider', headers: { authorization: `Bearer ${key}` } });

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function cache() {
  const c = authCacheOf(hub.hub.pool);
  if (!c) throw new Error('the server attached no auth cache to its pool');
  return c;
}

describe('the API key cache of a running hub', () => {
  it('refuses a key rotated with overlap 0 through another pool as soon as its notification arrives', async () => {
    const p = await createPlatform('Rotated Elsewhere');
    await until('listening', () => cache().isListening);
    expect((await call(p.key)).statusCode).toBe(200);
    expect(cache().peek(apiKeyHashBase64(p.key))).toMatchObject({ id: p.id }); // served from memory from here on
    const heard = cache().notifications;

    const { apiKey } = await rotateApiKey(cli, p.id, 0);
    // The notification is sent at the commit; on this machine it arrives within a millisecond or
    // two. Waiting for it (not for any cache lifetime: entries live 5 s) keeps the test exact.
    await until('the rotation heard', () => cache().notifications > heard);
    const old = await call(p.key);
    expect(old.statusCode).toBe(401);
    expect(old.json().code).toBe('API_KEY_INVALID');
    expect((await call(apiKey)).statusCode).toBe(200);
  });

  it('refuses every key of a provider disabled through another pool, and accepts them once enabled again', async () => {
    const p = await createPlatform('Disabled Elsewhere');
    expect((await call(p.key)).statusCode).toBe(200);
    expect(cache().peek(apiKeyHashBase64(p.key))).toBeDefined();
    let heard = cache().notifications;
    await updateProvider(cli, { allowLoopback: false }, p.id, { status: 'disabled' });
    await until('the change heard', () => cache().notifications > heard);
    expect((await call(p.key)).json().code).toBe('PROVIDER_DISABLED');
    heard = cache().notifications;
    await updateProvider(cli, { allowLoopback: false }, p.id, { status: 'active' });
    await until('the change heard', () => cache().notifications > heard);
    expect((await call(p.key)).statusCode).toBe(200);
  });

  it('keeps a key rotated with an overlap until the overlap ends, and not a moment longer from memory', async () => {
    const p = await createPlatform('Overlapped');
    expect((await call(p.key)).statusCode).toBe(200);
    const t0 = Date.now();
    await rotateApiKey(cli, p.id, 2);
    const rotated = Date.now(); // the key expires 2 s after a moment between t0 and this one
    expect((await call(p.key)).statusCode).toBe(200); // refilled after the rotation's notification, until the key's expiry
    // The end of an overlap is no change in the database, so no notification: the entry ends with the key.
    let status = 200;
    while (status === 200 && Date.now() - t0 < 15_000) {
      status = (await call(p.key)).statusCode;
      if (status === 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(401);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_800);
    // The cache's own 5 s lifetime, from a refill after the rotation returned, would have taken
    // 5 s or more from then; the key's end is 2 s from then at most (and the calls' own time,
    // seconds on a loaded machine).
    expect(Date.now() - rotated).toBeLessThan(4_500);
  });

  it('ends a key\'s overlap on time even when the wall clock steps back (a monotonic clock)', async () => {
    const p = await createPlatform('Clock Stepped');
    await until('listening', () => cache().isListening);
    const heard = cache().notifications;
    // An overlap of 3 s: the notification and the call below fit in it on a loaded machine.
    await rotateApiKey(cli, p.id, 3);
    await until('the rotation heard', () => cache().notifications > heard);
    expect((await call(p.key)).statusCode).toBe(200);
    expect(cache().peek(apiKeyHashBase64(p.key))).toBeDefined(); // cached until the key's expiry, 3 s away
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() - 3_600_000); // NTP or a resumed VM: an hour back
      await new Promise((r) => setTimeout(r, 3_500));
      const after = await call(p.key);
      expect(after.statusCode).toBe(401);
      expect(after.json().code).toBe('API_KEY_INVALID');
    } finally {
      vi.useRealTimers();
    }
  });

  it('trusts nothing cached while its listener is down: a rotation nobody heard is refused at once', async () => {
    const p = await createPlatform('Unheard');
    await until('listening', () => cache().isListening);
    expect((await call(p.key)).statusCode).toBe(200);
    expect(cache().peek(apiKeyHashBase64(p.key))).toBeDefined();

    // The listener's connection dies (a restart of the database, a network cut): from the moment
    // the hub notices, every call authenticates at the database, and nothing is stored.
    const killed = await cli.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, [`idbind-auth-${process.pid}`],
    );
    expect(killed.rows[0]!.n).toBe(1);
    await until('the listener lost', () => !cache().isListening);
    expect(cache().size).toBe(0);
    expect((await call(p.key)).statusCode).toBe(200); // from the database, not stored
    expect(cache().peek(apiKeyHashBase64(p.key))).toBeUndefined();

    // A rotation while nobody listens (the notification is lost to this hub) is refused anyway:
    // whether the listener is still down or has reconnected (which empties the cache).
    await rotateApiKey(cli, p.id, 0);
    expect((await call(p.key)).statusCode).toBe(401);
    await until('listening again', () => cache().isListening, 30_000);
    expect((await call(p.key)).statusCode).toBe(401);
  });
});
