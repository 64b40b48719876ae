/**
 * The account status cache (docs/status-cache.md), pinned where a hand-made mutation review found
 * its tests silent: the bulk read's bypass during this process's own barrier (rule 4), the bulk
 * read storing its misses, the maximum age counted from the start of the query that filled the
 * entry (a miss's and a prefill batch's, rule 3), prefilled entries being the first evicted
 * (rule 5), and a listener connection that dies silently being noticed by its ping (rule 1: fail
 * closed). Real PostgreSQL throughout; the only seam is the listener's own client, whose
 * notifications a test may hold back (as a slow network would) and whose pings it may leave
 * unanswered (as a partition would). Waits are bounded polls.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import client from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { AccountStatusCache, type AccountStatusCacheOptions } from './account-status-cache.ts';
import { getAccountStatus, getAccountStatuses } from './binding-service.ts';

let db: TestDatabase;
let platform: Provider;
const caches: AccountStatusCache[] = [];

/** The listener's client, real, with two switches: hold back its notifications, leave `SELECT 1` unanswered. */
class GatedClient extends pg.Client {
  held: unknown[] | undefined;
  hangPings = false;

  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const m of held) super.emit('notification', m);
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'notification' && this.held) {
      this.held.push(args[0]);
      return true;
    }
    return super.emit(event, ...args);
  }
}

function newCache(options: Partial<AccountStatusCacheOptions> = {}) {
  const name = `idbind-cache-mut-${randomBytes(4).toString('hex')}`;
  const registry = new client.Registry();
  const reads = new client.Counter({ name: 'reads', help: 'reads', labelNames: ['result'] as const, registers: [registry] });
  const invalidations = new client.Counter({ name: 'invalidations', help: 'invalidations', labelNames: ['kind'] as const, registers: [registry] });
  const clients: GatedClient[] = [];
  const cache = new AccountStatusCache({
    maxEntries: 1000, maxAgeMs: 10 * 60_000, // long: only notifications (or the test's own age) end an entry
    newClient: () => {
      const c = new GatedClient({ connectionString: db.url, application_name: name });
      const query = c.query.bind(c) as (...a: unknown[]) => unknown;
      (c as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => (c.hangPings && a[0] === 'SELECT 1' ? new Promise(() => undefined) : query(...a));
      clients.push(c);
      return c;
    },
    metrics: { reads, invalidations },
    ...options,
  });
  caches.push(cache);
  const count = async (c: client.Counter<string>, label: string) => (await c.get()).values.find((v) => Object.values(v.labels).includes(label))?.value ?? 0;
  return {
    cache, name, listener: () => clients[clients.length - 1]!,
    hits: () => count(reads, 'hit'), misses: () => count(reads, 'miss'), bypasses: () => count(reads, 'bypass'),
  };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let serial = 0;
const ref = (prefix: string) => `${prefix}-${++serial}`;
async function insertAccounts(refs: readonly string[], status = 'verified'): Promise<void> {
  await db.pool.query(
    `INSERT INTO accounts (id, provider_id, account_ref, method, level, status, status_reason, verified_at, status_since, pseudonym)
     SELECT gen_random_uuid(), $1, r, 'phone', 'low', $2, 'verified', now(), now(), 'ps-' || r FROM unnest($3::text[]) r`,
    [platform.id, status, refs],
  );
}
const revoke = (r: string) => db.pool.query(`UPDATE accounts SET status = 'revoked', status_reason = 'terminated', status_since = now(), sequence = sequence + 1 WHERE provider_id = $1 AND account_ref = $2`, [platform.id, r]);
const fresh = (accountRef: string) => getAccountStatus(db.pool, platform, accountRef);

beforeAll(async () => {
  db = await createTestDatabase();
  platform = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Cache Mutants Platform', kind: 'platform' })).provider;
});
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await db.drop();
});

describe('account status cache: bulk reads', () => {
  it('stores the misses of a bulk read: read again, they are hits answering what the database answers', async () => {
    const t = newCache();
    t.cache.start();
    expect(await t.cache.waitUntilListening(30_000)).toBe(true);
    const [a, b] = [ref('bulk-store'), ref('bulk-store')];
    await insertAccounts([a, b]);
    await t.cache.sync();
    await getAccountStatuses(db.pool, platform, [a, b, 'bulk-nobody'], t.cache);
    expect(t.cache.size).toBe(3);
    const [hits, misses] = [await t.hits(), await t.misses()];
    const again = await getAccountStatuses(db.pool, platform, [b, 'bulk-nobody', a], t.cache);
    expect(again).toEqual(await getAccountStatuses(db.pool, platform, [b, 'bulk-nobody', a]));
    expect([await t.hits(), await t.misses()]).toEqual([hits + 3, misses]);
  });

  it("bypasses the cache for a bulk read during this process's barrier, however late the commit's notification comes", async () => {
    const t = newCache();
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const [a, b] = [ref('bulk-sync'), ref('one-sync')];
    await insertAccounts([a, b]);
    await t.cache.sync();
    await getAccountStatuses(db.pool, platform, [a, b], t.cache);
    expect(t.cache.size).toBe(2);
    // The notification of the commit below is on its way but not yet applied (a slow network).
    t.listener().hold();
    await revoke(a);
    await revoke(b);
    const barrier = t.cache.sync(); // as the server does right after its own commit
    // Both reads start now, while the barrier is up (with the notification held back, the barrier
    // itself may end before the notification is applied: an artefact of this test, so nothing is read after it).
    const [bulk, one] = await Promise.all([getAccountStatuses(db.pool, platform, [a], t.cache), getAccountStatus(db.pool, platform, b, t.cache)]);
    expect(bulk.map((s) => s.status)).toEqual(['revoked']);
    expect(one.status).toBe('revoked');
    t.listener().release();
    await barrier;
    await t.cache.sync();
    expect(await getAccountStatuses(db.pool, platform, [a, b], t.cache)).toEqual(await getAccountStatuses(db.pool, platform, [a, b]));
  });
});

describe('account status cache: maximum age counted from the start of the query that filled the entry', () => {
  it('a miss whose query took longer than the maximum age is not served again', async () => {
    const t = newCache({ maxAgeMs: 400 });
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const a = ref('slow-miss');
    await insertAccounts([a]);
    await t.cache.sync();
    await t.cache.getOne(platform.id, a, async () => {
      const view = await fresh(a);
      await sleep(600); // the answer is older than the maximum age by the time it is stored
      return view;
    });
    const misses = await t.misses();
    await t.cache.getOne(platform.id, a, () => fresh(a));
    expect(await t.misses()).toBe(misses + 1);
  });

  it('a prefill batch whose query took longer than the maximum age serves none of its rows', async () => {
    const a = ref('slow-prefill');
    await insertAccounts([a]);
    const slowDb = {
      query: async (config: pg.QueryConfig) => {
        const r = await db.pool.query(config);
        await sleep(600);
        return r;
      },
    } as unknown as Pick<pg.Pool, 'query'>;
    const t = newCache({ maxAgeMs: 400, prefill: { db: slowDb } });
    t.cache.start();
    await until('the prefill ended', () => !t.cache.isPrefilling && t.cache.lastPrefill !== undefined, 30_000);
    expect(t.cache.lastPrefill).toMatchObject({ outcome: 'full' });
    expect(t.cache.lastPrefill!.stored).toBeGreaterThan(0);
    const misses = await t.misses();
    expect(await getAccountStatus(db.pool, platform, a, t.cache)).toEqual(await fresh(a));
    expect(await t.misses()).toBe(misses + 1);
  });
});

describe('account status cache: eviction at maxEntries', () => {
  it("evicts prefilled entries before an entry a read stored (a prefill's entries go to the least recently used end)", async () => {
    const [p1, p2, p3] = [ref('prefilled'), ref('prefilled'), ref('prefilled')];
    await insertAccounts([p1, p2, p3]); // rows enough for the prefill to fill the cache
    const [m, n] = [ref('read-first'), ref('read-later')];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gatedDb = {
      query: async (config: pg.QueryConfig) => {
        await gate; // the prefill waits until the read below has stored its entry
        return db.pool.query(config);
      },
    } as unknown as Pick<pg.Pool, 'query'>;
    const t = newCache({ maxEntries: 3, prefill: { db: gatedDb } });
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    await getAccountStatus(db.pool, platform, m, t.cache); // stored by a read: the most recently used
    expect(t.cache.size).toBe(1);
    release();
    await until('the prefill ended', () => !t.cache.isPrefilling && t.cache.lastPrefill !== undefined, 30_000);
    expect(t.cache.lastPrefill).toMatchObject({ outcome: 'full', stored: 2 });
    await getAccountStatus(db.pool, platform, n, t.cache); // a miss in a full cache: one entry goes
    expect(t.cache.size).toBe(3);
    const hits = await t.hits();
    await getAccountStatus(db.pool, platform, m, t.cache);
    expect(await t.hits()).toBe(hits + 1); // the read's entry stayed; a prefilled one was evicted
  });
});

describe('account status cache: a listener connection that dies silently', () => {
  it('is noticed by its ping: the cache stops serving entries that its silent connection can no longer invalidate', async () => {
    // A ping timeout a loaded CI machine's database answers well within (a spurious timeout before
    // the partition would bypass the first read and leave nothing cached to find stale).
    const t = newCache({ pingIntervalMs: 50, pingTimeoutMs: 1_500, reconnectMinMs: 60_000 });
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const a = ref('partition');
    await insertAccounts([a]);
    await t.cache.sync();
    await getAccountStatus(db.pool, platform, a, t.cache);
    expect(t.cache.size).toBe(1);
    // A network partition: nothing arrives any more, pings included; the socket stays open.
    const silent = t.listener();
    silent.hold();
    silent.hangPings = true;
    await revoke(a);
    await until('the stale entry is no longer served', async () => (await getAccountStatus(db.pool, platform, a, t.cache)).status === 'revoked', 30_000);
    expect(t.cache.isListening).toBe(false);
    expect(t.cache.size).toBe(0);
    const bypasses = await t.bypasses();
    expect((await getAccountStatus(db.pool, platform, a, t.cache)).status).toBe('revoked');
    expect(await t.bypasses()).toBe(bypasses + 1);
  });
});
