/**
 * The memory of one account status cache entry (docs/status-cache.md "Configuration"):
 *
 *   node --expose-gc --import tsx bench/platform/status-cache-memory.ts [ENTRIES] [MODULE]
 *
 * Fills an AccountStatusCache (src/bindings/account-status-cache.ts, or MODULE, e.g. an older
 * copy) with ENTRIES (default 200,000) entries shaped as the issue 3 benchmark's accounts (one
 * provider, refs `acct-i`, 22-character pseudonyms, a `since`), through `getOne` as misses do,
 * and prints the growth of the V8 heap plus off-heap buffers (typed arrays) per entry, after full
 * garbage collections. No database: the listener is a stand-in that "connects" at once.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import type { AccountStatusCache as Cache } from '../../src/bindings/account-status-cache.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const entries = Number(process.argv[2] ?? 200_000);
const modulePath = resolve(process.argv[3] ?? 'src/bindings/account-status-cache.ts');
const { AccountStatusCache } = (await import(pathToFileURL(modulePath).href)) as { AccountStatusCache: typeof Cache };

/** A LISTEN connection that is up at once and never hears anything. */
const fakeClient = () => ({
  on: () => undefined, connect: async () => undefined, query: async () => ({ rows: [] }), end: async () => undefined,
}) as unknown as pg.Client;

function used(): number {
  for (let i = 0; i < 4; i++) gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

const cache = new AccountStatusCache({ maxEntries: entries, maxAgeMs: 3_600_000, newClient: fakeClient });
cache.start();
if (!(await cache.waitUntilListening(1_000))) throw new Error('the stand-in listener did not come up');
const providerId = randomUUID();
const since = new Date().toISOString();
const before = used();
// The refs and views made as a request and a query make them (fresh strings each), so that what
// remains after the collection is what the cache keeps of them.
for (let i = 1; i <= entries; i++) {
  const ref = `acct-${i}`;
  await cache.getOne(providerId, ref, async () => ({
    account_ref: ref, status: i % 50 === 0 ? 'revoked' : 'verified', level: 'low',
    pseudonym: randomBytes(16).toString('base64url'), since: since.slice(0, 23) + 'Z', minor: false,
  }));
}
const after = used();
if (cache.size !== entries) throw new Error(`${cache.size} entries held, expected ${entries}`);
process.stdout.write(JSON.stringify({ module: modulePath, entries, bytes_per_entry: Math.round((after - before) / entries) }) + '\n');
await cache.close();
