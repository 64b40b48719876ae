/**
 * Coherence of two status caches (two hub processes) on one database under concurrent reads and
 * writes (docs/status-cache.md "Consistency guarantee"; DESIGN.md invariant 7): after a writer's
 * commit, once a cache has answered a query on its LISTEN connection (by which time PostgreSQL
 * has delivered the commit's notification), no read through it may answer the old status,
 * whatever reads were racing with the write, whoever wrote (another connection, a bulk statement
 * over 1,000 accounts, this process's own unbinding).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { AccountStatusCache } from './account-status-cache.ts';
import { getAccountStatus, getAccountStatuses, unbindAccount } from './binding-service.ts';

let db: TestDatabase;
let platform: Provider;
let writer: pg.Client;
const caches: AccountStatusCache[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  platform = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Coherence Platform', kind: 'platform' })).provider;
  writer = new pg.Client({ connectionString: db.url });
  await writer.connect();
});
afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()));
  await writer?.end();
  await db?.drop();
});

function newCache(prefill: boolean, name: string): AccountStatusCache {
  const cache = new AccountStatusCache({
    reconnectMinMs: 10, reconnectMaxMs: 50,
    maxEntries: 5_000, maxAgeMs: 10 * 60_000, // long: only notifications may refresh an entry
    newClient: () => new pg.Client({ connectionString: db.url, application_name: name }),
    ...(prefill ? { prefill: { db: db.pool, batchSize: 300 } } : {}),
  });
  caches.push(cache);
  return cache;
}

describe('two status caches on one database', () => {
  it('never answer a status older than the last commit once their listener has answered, under racing reads', async () => {
    const N = 1_500;
    const refs = Array.from({ length: N }, (_, i) => `co-${i}`);
    await db.pool.query(
      `INSERT INTO accounts (id, provider_id, account_ref, method, level, status, status_reason, verified_at, status_since, pseudonym)
       SELECT gen_random_uuid(), $1, r, 'phone', 'low', 'verified', 'verified', now(), now(), 'ps-' || r FROM unnest($2::text[]) r`,
      [platform.id, refs],
    );
    const [a, b] = [newCache(true, 'idbind-coherence-a'), newCache(false, 'idbind-coherence-b')];
    a.start();
    b.start();
    expect(await a.waitUntilListening(30_000)).toBe(true);
    expect(await b.waitUntilListening(30_000)).toBe(true);
    let stop = false;
    const hot = refs.slice(0, 40);
    // Readers on both caches, racing with every write (misses in flight when commits land).
    const reader = async (cache: AccountStatusCache, bulk: boolean) => {
      while (!stop) {
        await new Promise((r) => setImmediate(r)); // a hit answers in microtasks: let I/O run
        if (bulk) await getAccountStatuses(db.pool, platform, [...hot].sort(() => Math.random() - 0.5).slice(0, 10), cache);
        else await getAccountStatus(db.pool, platform, hot[Math.floor(Math.random() * hot.length)]!, cache);
      }
    };
    const readers = [reader(a, false), reader(a, true), reader(b, false), reader(b, true), reader(a, false), reader(b, false)];
    const statuses = ['verified', 'revoked', 'needs_reverification', 'unbound'];
    const failures: string[] = [];
    try {
      for (let step = 0; step < 600; step++) {
        const r = hot[Math.floor(Math.random() * hot.length)]!;
        const kind = step % 50 === 49 ? 'bulk' : step % 7 === 3 ? 'unbind-a' : 'update';
        // Now and then a listener is lost (and reconnects, prefilling again): fail closed meanwhile.
        if (step % 60 === 30) await writer.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [step % 120 === 30 ? 'idbind-coherence-a' : 'idbind-coherence-b']);
        if (kind === 'bulk') {
          // Over 1,000 accounts in one statement: one '*' notification.
          await writer.query(`UPDATE accounts SET status = $2, status_since = now(), sequence = sequence + 1 WHERE provider_id = $1`, [platform.id, statuses[step % 3]]);
        } else if (kind === 'unbind-a') {
          await unbindAccount(db.pool, platform, r);
          a.invalidate(platform.id, r);
        } else {
          await writer.query(`UPDATE accounts SET status = $3, status_since = now(), sequence = sequence + 1 WHERE provider_id = $1 AND account_ref = $2`,
            [platform.id, r, statuses[Math.floor(Math.random() * 3)]]);
        }
        await Promise.all([a.sync(), b.sync()]);
        const check = kind === 'bulk' ? hot : [r];
        const want = await getAccountStatuses(db.pool, platform, check);
        for (const [name, cache] of [['a', a], ['b', b]] as const) {
          const got = await getAccountStatuses(db.pool, platform, check, cache);
          for (let i = 0; i < check.length; i++) {
            if (JSON.stringify(got[i]) !== JSON.stringify(want[i])) failures.push(`step ${step} ${kind} cache ${name}: ${JSON.stringify(got[i])} != ${JSON.stringify(want[i])}`);
          }
          const one = await getAccountStatus(db.pool, platform, r, cache);
          if (JSON.stringify(one) !== JSON.stringify(want[check.indexOf(r)])) failures.push(`step ${step} ${kind} cache ${name} (one): ${one.status}`);
        }
      }
    } finally {
      stop = true;
      await Promise.all(readers);
    }
    expect(failures.slice(0, 5)).toEqual([]);
  });
});
