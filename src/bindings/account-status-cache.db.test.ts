/**
 * The account status cache on a real database (issue 3 benchmarks; migration 0014): a cached
 * read answers what the database answers; every committed change (an unbinding through the
 * service, another hub's or the registry's UPDATE on another connection, a binding) reaches the
 * cache through NOTIFY; a statement over 1,000 accounts flushes with one notification; a rolled
 * back change announces nothing; while the listener is down every read goes to the database; and
 * a read that queried before a commit whose notification arrived before its answer stores nothing.
 * Waits are bounded polls, never fixed sleeps; the max age is long, so only notifications can
 * make these pass.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import client from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { findPersonIdByPersonalId } from '../registry/registry-lookup.ts';
import { composePersonalId } from '../registry/personal-id.ts';
import { inTransaction } from '../kernel/db/pool.ts';
import * as repo from './binding-repository.ts';
import { ACCOUNT_STATUS_CHANNEL, AccountStatusCache, FLUSH_ALL_PAYLOAD, type AccountStatusCacheOptions } from './account-status-cache.ts';
import { bindAccountInTransaction, getAccountStatus, getAccountStatuses, statusView, unbindAccount } from './binding-service.ts';

let db: TestDatabase;
let platform: Provider;
let other: pg.Client; // another hub process, or the registry's revocation job
const caches: AccountStatusCache[] = [];

/** A cache on its own LISTEN connection, named so that a test can find (and kill) its backend. */
function newCache(options: Partial<AccountStatusCacheOptions> = {}) {
  const name = `idbind-cache-test-${randomBytes(4).toString('hex')}`;
  const registry = new client.Registry();
  const reads = new client.Counter({ name: 'reads', help: 'reads', labelNames: ['result'] as const, registers: [registry] });
  const invalidations = new client.Counter({ name: 'invalidations', help: 'invalidations', labelNames: ['kind'] as const, registers: [registry] });
  const cache = new AccountStatusCache({
    maxEntries: 1000, maxAgeMs: 10 * 60_000, // long: only notifications may refresh an entry here
    newClient: () => new pg.Client({ connectionString: db.url, application_name: name }),
    metrics: { reads, invalidations },
    ...options,
  });
  caches.push(cache);
  const count = async (c: client.Counter<string>, label: string) => (await c.get()).values.find((v) => Object.values(v.labels).includes(label))?.value ?? 0;
  return {
    cache, name,
    hits: () => count(reads, 'hit'), misses: () => count(reads, 'miss'), bypasses: () => count(reads, 'bypass'),
    keyInvalidations: () => count(invalidations, 'key'), flushes: () => count(invalidations, 'flush'),
  };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let serial = 0;
async function insertAccounts(refs: readonly string[], status = 'verified'): Promise<void> {
  await db.pool.query(
    `INSERT INTO accounts (id, provider_id, account_ref, method, level, status, status_reason, verified_at, status_since, pseudonym)
     SELECT gen_random_uuid(), $1, r, 'phone', 'low', $2, 'verified', now(), now(), 'ps-' || r FROM unnest($3::text[]) r`,
    [platform.id, status, refs],
  );
}
const ref = (prefix: string) => `${prefix}-${++serial}`;
const read = (cache: AccountStatusCache, accountRef: string) => getAccountStatus(db.pool, platform, accountRef, cache);
const fresh = (accountRef: string) => getAccountStatus(db.pool, platform, accountRef);

beforeAll(async () => {
  db = await createTestDatabase();
  platform = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Cache Platform', kind: 'platform' })).provider;
  other = new pg.Client({ connectionString: db.url });
  await other.connect();
});
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await other.end();
  await db.drop();
});

describe('account status cache', () => {
  it('answers what the database answers, from memory on the second read, unknown accounts included', async () => {
    const t = newCache();
    t.cache.start();
    expect(await t.cache.waitUntilListening(30_000)).toBe(true);
    const a = ref('same');
    await insertAccounts([a]);
    await t.cache.sync(); // the insert's own notification applied before anything is cached
    const first = await read(t.cache, a);
    expect(first).toEqual(await fresh(a));
    expect(first).toMatchObject({ account_ref: a, status: 'verified', level: 'low', pseudonym: `ps-${a}`, minor: false });
    expect(await read(t.cache, a)).toEqual(first);
    expect(await read(t.cache, 'nobody-1')).toEqual({ account_ref: 'nobody-1', status: 'unverified', level: null, pseudonym: null, since: null, minor: false });
    expect(await read(t.cache, 'nobody-1')).toEqual(await fresh('nobody-1'));
    expect([await t.misses(), await t.hits()]).toEqual([2, 2]);
    // Bulk: hits from memory, misses in one query, in the order asked with repeats.
    const b = ref('bulk');
    await insertAccounts([b]);
    await t.cache.sync();
    const many = await getAccountStatuses(db.pool, platform, [b, a, 'nobody-1', b, 'nobody-2'], t.cache);
    expect(many).toEqual(await getAccountStatuses(db.pool, platform, [b, a, 'nobody-1', b, 'nobody-2']));
    expect(many.map((s) => s.status)).toEqual(['verified', 'verified', 'unverified', 'verified', 'unverified']);
    expect([await t.misses(), await t.hits()]).toEqual([4, 4]);
  });

  it('hears a committed change from any connection: an unbinding through the service, another hub revoking, a new binding of an unknown account', async () => {
    const t = newCache();
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const [a, b, c] = [ref('unbind'), ref('revoke'), ref('late')];
    await insertAccounts([a, b]);
    await t.cache.sync();
    for (const r of [a, b, c]) await read(t.cache, r);
    expect((await read(t.cache, c)).status).toBe('unverified');
    expect(await t.hits()).toBe(1);

    await unbindAccount(db.pool, platform, a); // no explicit invalidation: the trigger's notification
    await until('the unbinding is heard', async () => (await read(t.cache, a)).status === 'unverified');
    await other.query(`UPDATE accounts SET status = 'revoked', status_reason = 'terminated', status_since = now() WHERE provider_id = $1 AND account_ref = $2`, [platform.id, b]);
    await until('the revocation is heard', async () => (await read(t.cache, b)).status === 'revoked');
    await other.query(
      `INSERT INTO accounts (id, provider_id, account_ref, method, level, status, status_reason, verified_at, pseudonym) VALUES (gen_random_uuid(), $1, $2, 'eid', 'high', 'verified', 'verified', now(), 'p')`,
      [platform.id, c],
    );
    await until('the binding of a cached unknown account is heard', async () => (await read(t.cache, c)).status === 'verified');
    expect(await read(t.cache, c)).toEqual(await fresh(c));
    // And each is cached again afterwards (the cache was not simply bypassed).
    const hits = await t.hits();
    await read(t.cache, b);
    expect(await t.hits()).toBe(hits + 1);
  });

  it('hears a re-binding through the binding service (INSERT ... ON CONFLICT DO UPDATE) and answers the new pseudonym', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idbind-cache-'));
    try {
      const personalId = composePersonalId('001', 1990, 'M', 4242);
      writeFileSync(join(dir, 'population.csv'), `personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids\n${personalId},Nguyễn Văn An,1990-03-04,M,alive,,\n`);
      await importRegistry({ pool: db.pool, ring: db.ring, kind: 'population', path: join(dir, 'population.csv'), rejectsPath: join(dir, 'rejects.csv'), workers: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const personId = (await findPersonIdByPersonalId(db.pool, db.ring, composePersonalId('001', 1990, 'M', 4242)))!;
    const t = newCache();
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const a = ref('rebind');
    await insertAccounts([a]);
    await unbindAccount(db.pool, platform, a);
    await until('unbound', async () => (await read(t.cache, a)).status === 'unverified');
    const bound = await inTransaction(db.pool, (cl) => bindAccountInTransaction(cl, platform, { accountRef: a, personId, subscriptionId: null, method: 'eid', level: 'substantial', viaVerification: 'test' }));
    await until('the re-binding is heard', async () => (await read(t.cache, a)).status === 'verified');
    expect(await read(t.cache, a)).toMatchObject({ status: 'verified', level: 'substantial', pseudonym: bound.pseudonym });
  });

  it('invalidates at once for this process: by key, and by sync() after a commit it cannot name', async () => {
    const t = newCache();
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const [a, b] = [ref('mine'), ref('sync')];
    await insertAccounts([a, b]);
    await t.cache.sync();
    await read(t.cache, a);
    await read(t.cache, b);
    await unbindAccount(db.pool, platform, a);
    t.cache.invalidate(platform.id, a);
    expect((await read(t.cache, a)).status).toBe('unverified'); // no wait at all
    await db.pool.query(`UPDATE accounts SET status = 'needs_reverification' WHERE provider_id = $1 AND account_ref = $2`, [platform.id, b]);
    t.cache.sync();
    expect((await read(t.cache, b)).status).toBe('needs_reverification'); // no wait at all: bypassed until the barrier returns
    await until('the barrier returned and the entry is cached again', async () => {
      const before = await t.hits();
      await read(t.cache, b);
      return (await t.hits()) > before;
    });
    expect((await read(t.cache, b)).status).toBe('needs_reverification');
  });

  it('runs one query at a time on the listener: concurrent barriers share the next one and all end', async () => {
    const t = newCache();
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const a = ref('barriers');
    await insertAccounts([a]);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      await Promise.all(Array.from({ length: 50 }, () => t.cache.sync()));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.includes('already executing a query'))).toEqual([]);
    await read(t.cache, a);
    const hits = await t.hits();
    expect(await read(t.cache, a)).toEqual(await fresh(a));
    expect(await t.hits()).toBe(hits + 1); // no barrier left: cached and served again
  });

  it('calls onChange for each change committed on any connection (the server kicks its webhooks there), never for a rollback', async () => {
    let changes = 0;
    const t = newCache({ onChange: () => { changes++; } });
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const [a, b] = [ref('kick'), ref('kick')];
    await insertAccounts([a, b]);
    await until('the insert is heard', () => changes === 1);
    await other.query('BEGIN');
    await other.query(`UPDATE accounts SET status = 'revoked' WHERE provider_id = $1 AND account_ref = $2`, [platform.id, a]);
    await other.query('ROLLBACK');
    await other.query(`UPDATE accounts SET status = 'revoked' WHERE provider_id = $1 AND account_ref = $2`, [platform.id, b]);
    await until('the committed update is heard', () => changes >= 2);
    await t.cache.sync(); // a barrier on the listener: anything still in flight has arrived
    expect(changes).toBe(2);
  });

  it('announces nothing for a rolled-back change', async () => {
    const t = newCache();
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const [a, marker] = [ref('rollback'), ref('marker')];
    await insertAccounts([a, marker]);
    await t.cache.sync();
    await read(t.cache, a);
    await read(t.cache, marker);
    await other.query('BEGIN');
    await other.query(`UPDATE accounts SET status = 'revoked' WHERE provider_id = $1 AND account_ref = $2`, [platform.id, a]);
    await other.query('ROLLBACK');
    // Notifications arrive in commit order: once the marker's is heard, the rollback's would have been.
    await other.query(`UPDATE accounts SET status = 'revoked' WHERE provider_id = $1 AND account_ref = $2`, [platform.id, marker]);
    await until('the marker is heard', async () => (await read(t.cache, marker)).status === 'revoked');
    const hits = await t.hits();
    expect((await read(t.cache, a)).status).toBe('verified');
    expect(await t.hits()).toBe(hits + 1);
  });

  it('flushes everything with one notification for a statement over 1,000 accounts, and packs smaller ones under 8,000 bytes', async () => {
    const heard: string[] = [];
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    listener.on('notification', (m) => heard.push(m.payload ?? ''));
    await listener.query(`LISTEN ${ACCOUNT_STATUS_CHANNEL}`);
    try {
      const t = newCache();
      t.cache.start();
      await t.cache.waitUntilListening(30_000);
      const big = Array.from({ length: 1001 }, (_, i) => `bulk-${i}-${'x'.repeat(100)}`);
      await insertAccounts(big);
      await until('the insert is heard', () => heard.length === 1);
      await t.cache.sync();
      expect(heard).toEqual([FLUSH_ALL_PAYLOAD]);
      for (const r of big.slice(0, 50)) await read(t.cache, r);
      expect(t.cache.size).toBe(50);
      heard.length = 0;
      const flushes = await t.flushes();
      await other.query(`UPDATE accounts SET status = 'revoked', status_since = now() WHERE provider_id = $1 AND account_ref LIKE 'bulk-%'`, [platform.id]);
      await until('the bulk revocation flushes the cache', async () => (await t.flushes()) > flushes);
      expect(t.cache.size).toBe(0);
      expect((await read(t.cache, big[7]!)).status).toBe('revoked');
      await until('the listener heard it', () => heard.length >= 1);
      expect(heard).toEqual([FLUSH_ALL_PAYLOAD]);

      // 1,000 rows (the threshold) are named, packed in payloads PostgreSQL accepts.
      heard.length = 0;
      await other.query(`UPDATE accounts SET status = 'verified' WHERE provider_id = $1 AND account_ref = ANY($2::text[])`, [platform.id, big.slice(0, 1000)]);
      await until('every key is heard', () => heard.join(' ').split(' ').length >= 1000);
      expect(heard.length).toBeGreaterThan(1);
      for (const p of heard) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(8000);
      expect(new Set(heard.join(' ').split(' '))).toEqual(new Set(big.slice(0, 1000).map((r) => `${platform.id}:${r}`)));
    } finally {
      await listener.end();
    }
  });

  it('bypasses the cache while the listener is down (reads fresh data, stores nothing), and empties it on reconnect', async () => {
    const t = newCache({ reconnectMinMs: 60_000 }); // stays down for this test
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const a = ref('down');
    await insertAccounts([a]);
    await t.cache.sync();
    await read(t.cache, a);
    expect(t.cache.size).toBe(1);
    const killed = await db.pool.query<{ ok: boolean }>('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [t.name]);
    expect(killed.rows.map((r) => r.ok)).toEqual([true]);
    await until('the listener is lost', () => !t.cache.isListening);
    expect(t.cache.size).toBe(0);
    await other.query(`UPDATE accounts SET status = 'revoked' WHERE provider_id = $1 AND account_ref = $2`, [platform.id, a]);
    const bypasses = await t.bypasses();
    expect((await read(t.cache, a)).status).toBe('revoked');
    expect((await read(t.cache, a)).status).toBe('revoked');
    expect(await t.bypasses()).toBe(bypasses + 2);
    expect(t.cache.size).toBe(0);

    // Reconnecting (quickly this time): listening again, empty, then caching again.
    const r = newCache({ reconnectMinMs: 20 });
    r.cache.start();
    await r.cache.waitUntilListening(30_000);
    await read(r.cache, a);
    expect(r.cache.size).toBe(1);
    const pid = async () => (await db.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [r.name])).rows.map((x) => x.pid);
    const [old] = await pid();
    await db.pool.query('SELECT pg_terminate_backend($1)', [old]);
    await until('a new listener backend', async () => r.cache.isListening && (await pid()).some((p) => p !== old));
    expect(r.cache.size).toBe(0);
    await read(r.cache, a);
    const hits = await r.hits();
    expect((await read(r.cache, a)).status).toBe('revoked');
    expect(await r.hits()).toBe(hits + 1);
  });

  it('is bypassed entirely with size 0 (no listener opened)', async () => {
    const t = newCache({ maxEntries: 0 });
    t.cache.start();
    expect(await t.cache.waitUntilListening(200)).toBe(false);
    expect((await db.pool.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [t.name])).rowCount).toBe(0);
    await read(t.cache, 'nobody-0');
    expect(await t.bypasses()).toBe(1);
    expect(t.cache.size).toBe(0);
  });

  it('never stores a row read before a commit whose notification arrived before the answer', async () => {
    const t = newCache();
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const [a, b] = [ref('race'), ref('race-bulk')];
    await insertAccounts([a, b]);
    await t.cache.sync(); // so that the next invalidation counted is the revocation's
    const revoke = async (r: string) => {
      const before = await t.keyInvalidations();
      await other.query(`UPDATE accounts SET status = 'revoked', status_since = now() WHERE provider_id = $1 AND account_ref = $2`, [platform.id, r]);
      await until('the commit is heard while the read is in flight', async () => (await t.keyInvalidations()) > before);
    };
    // A slow read: it queries, then (before answering) the account is revoked and that is heard.
    const stale = await t.cache.getOne(platform.id, a, async () => {
      const view = statusView(a, await repo.accountStatus(db.pool, platform.id, a));
      await revoke(a);
      return view;
    });
    expect(stale.status).toBe('verified'); // true when it was read; served this once
    expect((await read(t.cache, a)).status).toBe('revoked');
    expect(await read(t.cache, a)).toEqual(await fresh(a));

    const staleMany = await t.cache.getMany(platform.id, [b, 'nobody-race'], async (refs) => {
      const rows = await repo.accountStatuses(db.pool, platform.id, refs);
      await revoke(b);
      return new Map(refs.map((r) => [r, statusView(r, rows.find((x) => x.account_ref === r))]));
    });
    expect(staleMany.get(b)!.status).toBe('verified');
    expect((await read(t.cache, b)).status).toBe('revoked');
    // The other ref of that batch was not invalidated: stored, a hit now.
    const hits = await t.hits();
    await read(t.cache, 'nobody-race');
    expect(await t.hits()).toBe(hits + 1);
  });

  it('never stores a read that straddles a flush or a lost listener', async () => {
    const t = newCache({ reconnectMinMs: 20 });
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const a = ref('straddle');
    await insertAccounts([a]);
    await t.cache.sync();
    await t.cache.getOne(platform.id, a, async () => {
      const view = statusView(a, await repo.accountStatus(db.pool, platform.id, a));
      const flushes = await t.flushes();
      await other.query(`NOTIFY ${ACCOUNT_STATUS_CHANNEL}, '*'`);
      await until('the flush is heard', async () => (await t.flushes()) > flushes);
      return view;
    });
    expect(t.cache.size).toBe(0);
    await t.cache.getOne(platform.id, a, async () => {
      const view = statusView(a, await repo.accountStatus(db.pool, platform.id, a));
      await db.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [t.name]);
      await until('lost', () => !t.cache.isListening);
      await t.cache.waitUntilListening(30_000); // reconnected before the answer: still a previous epoch
      return view;
    });
    expect(t.cache.size).toBe(0);
  });
});

describe('account status cache: maximum age (rule 3)', () => {
  /**
   * The second line of defence should a notification ever be missed: the listener is told
   * nothing here (a change to the row itself would notify), so only the age can end the entry.
   */
  async function missedChange(t: ReturnType<typeof newCache>): Promise<{ a: string; stale: () => Promise<boolean> }> {
    const a = ref('aged');
    await insertAccounts([a]);
    await t.cache.sync();
    let status: 'verified' | 'revoked' = 'verified';
    const load = async () => ({ ...(await fresh(a)), status });
    await t.cache.getOne(platform.id, a, load); // stored
    status = 'revoked'; // what the database would now answer, unannounced
    return { a, stale: async () => (await t.cache.getOne(platform.id, a, load)).status === 'verified' };
  }

  it('serves an entry no longer than the maximum age', async () => {
    // An age that the entry's load (a query, counted in its age) cannot use up on a loaded machine.
    const t = newCache({ maxAgeMs: 2_000 });
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const { stale } = await missedChange(t);
    expect(await stale()).toBe(true); // within the age: a hit
    await new Promise((r) => setTimeout(r, 2_100));
    expect(await stale()).toBe(false);
  });

  it('serves an entry no longer than the maximum age when the wall clock steps back (NTP, a resumed VM)', async () => {
    const t = newCache({ maxAgeMs: 300 });
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const { stale } = await missedChange(t);
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() - 3_600_000); // an hour back
      await new Promise((r) => setTimeout(r, 400));
      expect(await stale()).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('account status cache: compact entries', () => {
  it('keeps at most its size, evicting the least recently used, and answers each entry as stored', async () => {
    const t = newCache({ maxEntries: 2 });
    t.cache.start();
    await t.cache.waitUntilListening(30_000);
    const [a, b, c] = [ref('lru'), ref('lru'), ref('lru')];
    await insertAccounts([a, b]);
    await insertAccounts([c], 'needs_reverification');
    await t.cache.sync();
    for (const r of [a, b, a, c]) await read(t.cache, r); // b is the least recently used when c comes
    expect(t.cache.size).toBe(2);
    const hits = await t.hits();
    expect(await read(t.cache, a)).toEqual(await fresh(a));
    expect(await read(t.cache, c)).toEqual(await fresh(c));
    expect(await t.hits()).toBe(hits + 2);
    expect(await read(t.cache, b)).toEqual(await fresh(b));
    expect(await t.hits()).toBe(hits + 2);
    // A view handed out is the caller's: changing it changes nothing cached.
    const view = await read(t.cache, c);
    view.status = 'revoked';
    expect((await read(t.cache, c)).status).toBe('needs_reverification');
  });
});

describe('account status cache: warm start (prefill)', () => {
  /** The pool, seen by a prefill: each query counted, and `after(n, rows)` run once the nth query answered, before its rows are handed over. */
  function prefillDb(after?: (n: number, rows: { provider_id: string; account_ref: string }[]) => Promise<void>) {
    const calls = { n: 0 };
    const db2 = {
      query: async (config: pg.QueryConfig) => {
        const n = ++calls.n;
        const r = await db.pool.query(config);
        await after?.(n, r.rows as { provider_id: string; account_ref: string }[]);
        return r;
      },
    } as unknown as Pick<pg.Pool, 'query'>;
    return { db: db2, calls };
  }
  const prefillEnded = (c: AccountStatusCache) => until('the prefill ended', () => !c.isPrefilling && c.lastPrefill !== undefined, 30_000);

  it('fills from the database once listening, newest ids first, in batches, up to its size; prefilled entries are hits', async () => {
    const refs = Array.from({ length: 30 }, () => ref('warm'));
    await insertAccounts(refs.slice(0, 20));
    await insertAccounts(refs.slice(20), 'revoked');
    await unbindAccount(db.pool, platform, refs[0]!); // an unbound row answers `unverified` with its since
    const total = Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM accounts')).rows[0]!.n);

    const all = prefillDb();
    const t = newCache({ maxEntries: total + 100, prefill: { db: all.db, batchSize: 7 } });
    t.cache.start();
    await prefillEnded(t.cache);
    expect(t.cache.lastPrefill).toMatchObject({ outcome: 'full', stored: total, read: total });
    expect(t.cache.size).toBe(total);
    expect(all.calls.n).toBe(Math.ceil((total + 1) / 7));
    for (const r of refs) expect(await read(t.cache, r)).toEqual(await fresh(r));
    expect([await t.hits(), await t.misses()]).toEqual([refs.length, 0]);

    // Bounded by its size: the newest ids only, and never evicting.
    const small = prefillDb();
    const s = newCache({ maxEntries: 5, prefill: { db: small.db, batchSize: 3 } });
    s.cache.start();
    await prefillEnded(s.cache);
    expect(s.cache.lastPrefill).toMatchObject({ outcome: 'full', stored: 5 });
    expect(s.cache.size).toBe(5);
    expect(small.calls.n).toBe(2); // 3 rows, then the 2 left
    const newest = (await db.pool.query<{ account_ref: string }>('SELECT account_ref FROM accounts WHERE provider_id = $1 ORDER BY id DESC LIMIT 5', [platform.id])).rows;
    const hits = await s.hits();
    for (const r of newest) await read(s.cache, r.account_ref);
    expect(await s.hits()).toBe(hits + newest.length);
  });

  it('never stores a row whose key was invalidated while its batch was read, and keeps the rest of the batch', async () => {
    const victim = ref('warm-race');
    await insertAccounts([victim]);
    const raced = prefillDb(async (n, rows) => {
      if (n !== 1) return;
      expect(rows.some((r) => r.account_ref === victim)).toBe(true);
      const before = await t.keyInvalidations();
      await other.query(`UPDATE accounts SET status = 'revoked', status_since = now() WHERE provider_id = $1 AND account_ref = $2`, [platform.id, victim]);
      await until('the revocation is heard while the batch is in flight', async () => (await t.keyInvalidations()) > before);
    });
    const t = newCache({ maxEntries: 100_000, prefill: { db: raced.db, batchSize: 100_000 } });
    t.cache.start();
    await prefillEnded(t.cache);
    expect(t.cache.lastPrefill).toMatchObject({ outcome: 'full' });
    expect(t.cache.lastPrefill!.stored).toBe(t.cache.lastPrefill!.read - 1);
    const misses = await t.misses();
    expect((await read(t.cache, victim)).status).toBe('revoked'); // read afresh, not the batch's 'verified'
    expect(await t.misses()).toBe(misses + 1);
  });

  it('stops when the listener is lost or everything is flushed during a batch, storing nothing of it', async () => {
    const lost = prefillDb(async (n) => {
      if (n !== 2) return;
      await db.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [t.name]);
      await until('lost', () => !t.cache.isListening);
    });
    const t = newCache({ maxEntries: 100_000, reconnectMinMs: 60_000, prefill: { db: lost.db, batchSize: 5 } });
    t.cache.start();
    await prefillEnded(t.cache);
    expect(t.cache.lastPrefill).toMatchObject({ outcome: 'stopped', stored: 5, read: 10 });
    expect(t.cache.size).toBe(0);
    expect(lost.calls.n).toBe(2);

    const flushed = prefillDb(async (n) => {
      if (n !== 2) return;
      const flushes = await f.flushes();
      await other.query(`NOTIFY ${ACCOUNT_STATUS_CHANNEL}, '*'`);
      await until('the flush is heard', async () => (await f.flushes()) > flushes);
    });
    const f = newCache({ maxEntries: 100_000, prefill: { db: flushed.db, batchSize: 5 } });
    f.cache.start();
    await prefillEnded(f.cache);
    expect(f.cache.lastPrefill).toMatchObject({ outcome: 'stopped', stored: 5, read: 10 });
    expect(f.cache.size).toBe(0);
    expect(flushed.calls.n).toBe(2);
    expect(f.cache.isListening).toBe(true); // still serving: it fills from misses now
  });
});
