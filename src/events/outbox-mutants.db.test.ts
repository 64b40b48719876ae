/**
 * The transactional outbox (outbox.ts) and the events feed (`GET /v1/events`, webhook-service.ts
 * eventsAfter), pinned where a hand-made mutation review found the suite silent. One account
 * through its whole life (bound, unbound by the platform, bound again, revoked by a death in the
 * registry): every change writes exactly one event whose payload holds the ten members a platform
 * may learn and never a reason (DESIGN.md invariant 1), a `sequence` that increases by one per
 * change of that account, one delivery row only for a provider with a webhook URL, and one
 * `account_changes` row carrying the reason for the person's own view. The feed pages by `limit`,
 * resumes after its cursor, and refuses a cursor naming another provider's event. Real
 * PostgreSQL; no mock.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { inTransaction } from '../kernel/db/pool.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { composePersonalId } from '../registry/personal-id.ts';
import { findPersonIdByPersonalId } from '../registry/registry-lookup.ts';
import { bindAccountInTransaction, getAccountStatus, unbindAccount } from '../bindings/binding-service.ts';
import { revokeBindingsOfPersons } from '../bindings/binding-lifecycle.ts';
import Fastify from 'fastify';
import { errorHandler, notFoundHandler } from '../kernel/http/problem.ts';
import { decorateProviderRequest } from '../providers/provider-auth.ts';
import { eventsAfter } from './webhook-service.ts';
import { webhookRoutes } from './webhook-routes.ts';

let db: TestDatabase;
let withUrl: Provider;
let withUrlKey: string;
let noUrl: Provider;
let personId: string;
const MEMBERS = ['account_ref', 'id', 'level', 'minor', 'occurred_at', 'pseudonym', 'sequence', 'since', 'status', 'type'];

beforeAll(async () => {
  db = await createTestDatabase();
  const hooked = await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Outbox Hooked', kind: 'platform', webhookUrl: 'http://127.0.0.1:9/hook' });
  withUrl = hooked.provider;
  withUrlKey = hooked.apiKey;
  noUrl = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Outbox Polling', kind: 'platform' })).provider;
  const dir = mkdtempSync(join(tmpdir(), 'idbind-outbox-'));
  try {
    const pid = composePersonalId('001', 1980, 'F', 777);
    writeFileSync(join(dir, 'population.csv'), `personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids\n${pid},Trần Thị Mai,1980-05-06,F,alive,,\n`);
    await importRegistry({ pool: db.pool, ring: db.ring, kind: 'population', path: join(dir, 'population.csv'), rejectsPath: join(dir, 'rejects.csv'), workers: 1 });
    personId = (await findPersonIdByPersonalId(db.pool, db.ring, pid))!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
afterAll(async () => {
  await db.drop();
});

const bind = (p: Provider, accountRef: string) =>
  inTransaction(db.pool, (c) => bindAccountInTransaction(c, p, { accountRef, personId, subscriptionId: null, method: 'eid', level: 'substantial', viaVerification: 'test' }));

interface Payload { id: string; type: string; status: string; level: string | null; pseudonym: string | null; minor: boolean; sequence: number; since: string; account_ref: string }

async function eventsOf(p: Provider, accountRef: string) {
  return (await db.pool.query<{ id: string; type: string; payload: Payload }>(
    `SELECT e.id, e.type, e.payload FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.provider_id = $1 AND a.account_ref = $2 ORDER BY e.occurred_at, (e.payload->>'sequence')::int`,
    [p.id, accountRef],
  )).rows;
}

describe('the outbox through one account\'s life', () => {
  it('writes one event per change: exactly the ten members, no reason, the sequence up by one each time, one account_changes row with the reason', async () => {
    const acc = 'life-1';
    await bind(withUrl, acc);
    expect(await unbindAccount(db.pool, withUrl, acc)).toBeUndefined();
    const rebound = await bind(withUrl, acc);
    await bind(noUrl, 'life-elsewhere');
    expect(await revokeBindingsOfPersons(db.pool, [personId], 'deceased')).toBe(2);

    const events = await eventsOf(withUrl, acc);
    expect(events.map((e) => [e.type, e.payload.type, e.payload.sequence, e.payload.status])).toEqual([
      ['account.verified', 'account.verified', 1, 'verified'],
      ['account.unbound', 'account.unbound', 2, 'unverified'],
      ['account.verified', 'account.verified', 3, 'verified'],
      ['account.revoked', 'account.revoked', 4, 'revoked'],
    ]);
    for (const e of events) {
      expect(Object.keys(e.payload).sort()).toEqual(MEMBERS);
      expect(e.payload.id).toBe(e.id);
      expect(e.payload.account_ref).toBe(acc);
      // Invariant 1: no reason, in any member (a death must not reach the platform).
      expect(JSON.stringify(e.payload)).not.toMatch(/deceased|account_closed|terminated|reason/);
    }
    // The unbound account: as the status read answers it, no level, no pseudonym, not a minor.
    expect(events[1]!.payload).toMatchObject({ level: null, pseudonym: null, minor: false });
    expect(events[2]!.payload).toMatchObject({ level: 'substantial', pseudonym: rebound.pseudonym, minor: false });
    expect(events[3]!.payload).toMatchObject({ level: 'substantial', pseudonym: events[2]!.payload.pseudonym });

    // One delivery per event, only for the provider with a webhook URL.
    const deliveries = await db.pool.query<{ provider_id: string; n: number }>(
      `SELECT d.provider_id, count(*)::int AS n FROM webhook_deliveries d GROUP BY d.provider_id`);
    expect(deliveries.rows).toEqual([{ provider_id: withUrl.id, n: 4 }]);
    expect((await db.pool.query(`SELECT event_id FROM webhook_deliveries ORDER BY event_id`)).rows.map((r) => r.event_id)).toEqual(events.map((e) => e.id).sort());
    expect(await eventsOf(noUrl, 'life-elsewhere')).toHaveLength(2);

    // The person's history: one row per change, with the reason the platform never sees.
    const history = await db.pool.query(
      `SELECT c.status, c.reason, c.sequence::int AS sequence, c.person_id FROM account_changes c JOIN accounts a ON a.id = c.account_id
       WHERE a.provider_id = $1 AND a.account_ref = $2 ORDER BY c.sequence`, [withUrl.id, acc]);
    expect(history.rows).toEqual([
      { status: 'verified', reason: 'verified', sequence: 1, person_id: personId },
      { status: 'unbound', reason: 'account_closed', sequence: 2, person_id: personId },
      { status: 'verified', reason: 'verified', sequence: 3, person_id: personId },
      { status: 'revoked', reason: 'deceased', sequence: 4, person_id: personId },
    ]);
  });
});

describe("a minor's account", () => {
  it('is announced `minor: true` while bound, and `minor: false` once unbound, as the status read answers', async () => {
    const kid = 'minor-1';
    const bound = await inTransaction(db.pool, (c) => bindAccountInTransaction(c, withUrl, {
      accountRef: kid, personId, subscriptionId: null, method: 'eid', level: 'high', viaVerification: 'test', guardianPersonId: personId,
    }));
    expect(bound.status).toBe('verified');
    await unbindAccount(db.pool, withUrl, kid);
    const events = await eventsOf(withUrl, kid);
    expect(events.map((e) => [e.type, e.payload.minor])).toEqual([['account.verified', true], ['account.unbound', false]]);
    const read = await getAccountStatus(db.pool, withUrl, kid);
    expect(read).toMatchObject({ status: 'unverified', minor: false });
    const { id: _id, type: _type, occurred_at: _at, sequence: _seq, ...asRead } = events[1]!.payload as Payload & { occurred_at: string };
    expect(asRead).toEqual(read);
  });
});

/**
 * Waits until the feed serves every event stored for the provider: a page serves an event only
 * once every older transaction of the cluster has ended (pg_snapshot_xmin), and other test files'
 * transactions, in other databases of the same server, hold that horizon back for a moment.
 */
async function allVisible(p: Provider): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE provider_id = $1', [p.id]);
  // Up to 60 s: on a loaded machine another file's long transaction (an import) can last that long.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const served = (await eventsAfter(db.pool, p.id, { limit: 1000 })).events.length;
    if (served >= rows[0]!.n || Date.now() > deadline) return served;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the events feed', () => {
  it('serves at most `limit` events a page, oldest first, resuming after its cursor, and keeps the cursor on an empty page', async () => {
    const refs = ['feed-1', 'feed-2', 'feed-3', 'feed-4', 'feed-5'];
    // A provider of its own: its feed holds this test's events only.
    const feed = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Outbox Feed', kind: 'platform' })).provider;
    const ids: string[] = [];
    for (const r of refs) {
      await db.pool.query(
        `INSERT INTO accounts (id, provider_id, account_ref, method, level, status, status_reason, verified_at, status_since, pseudonym)
         VALUES (gen_random_uuid(), $1, $2, 'phone', 'low', 'verified', 'verified', now(), now(), 'p')`, [feed.id, r]);
      await unbindAccount(db.pool, feed, r); // one event each, each its own transaction
      ids.push((await eventsOf(feed, r))[0]!.id);
    }
    expect(await allVisible(feed)).toBe(5);
    const pages: string[][] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 5; i++) {
      const page = await eventsAfter(db.pool, feed.id, { after: cursor, limit: 2 });
      expect(page.events.length).toBeLessThanOrEqual(2);
      pages.push(page.events.map((e) => e.id));
      if (page.events.length === 0) {
        expect(page.next_cursor).toBe(cursor);
        break;
      }
      cursor = page.next_cursor;
    }
    expect(pages).toEqual([ids.slice(0, 2), ids.slice(2, 4), ids.slice(4), []]);
  }, 150_000);

  it("refuses a cursor naming another provider's event, as a made-up one", async () => {
    await bind(noUrl, 'feed-other');
    await allVisible(withUrl);
    expect(await allVisible(noUrl)).toBeGreaterThan(0);
    const theirs = await eventsAfter(db.pool, noUrl.id, { limit: 1000 });
    await expect(eventsAfter(db.pool, withUrl.id, { after: theirs.next_cursor })).rejects.toMatchObject({ code: 'WEBHOOK_CURSOR_INVALID' });
    const mine = await eventsAfter(db.pool, withUrl.id, { limit: 1 });
    expect((await eventsAfter(db.pool, withUrl.id, { after: mine.next_cursor, limit: 1 })).events).toHaveLength(1);
  }, 150_000);

  it('GET /v1/events takes a limit from 1 to 1,000 and refuses any other with 400, serving nothing', async () => {
    // The same wiring as src/server.ts for these routes: problem documents, the provider decoration.
    const app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } } });
    app.setErrorHandler(errorHandler);
    app.setNotFoundHandler(notFoundHandler);
    decorateProviderRequest(app);
    await app.register(async (scope) => webhookRoutes(scope, { pool: db.pool, ring: async () => db.ring, dispatcher: { kick: () => undefined } }));
    await app.ready();
    try {
      const get = (q: string) => app.inject({ url: `/v1/events?${q}`, headers: { authorization: `Bearer ${withUrlKey}` } });
      for (const bad of ['limit=0', 'limit=1001', 'limit=100000']) expect((await get(bad)).statusCode, bad).toBe(400);
      await allVisible(withUrl);
      const all = await get('limit=1000');
      expect(all.statusCode).toBe(200);
      const served = (all.json() as { events: unknown[] }).events.length;
      expect(served).toBe((await eventsAfter(db.pool, withUrl.id, { limit: 1000 })).events.length);
      expect(served).toBeGreaterThan(1);
      expect((await get('limit=1')).json().events).toHaveLength(1);
    } finally {
      await app.close();
    }
  }, 150_000);
});
