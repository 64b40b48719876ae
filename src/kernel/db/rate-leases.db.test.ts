/**
 * Token leases (rate-leases.ts): the limit is never exceeded across processes sharing the
 * database, a small limit stays exact, a window's tokens never outlive it, and a full window is
 * refused in memory until it ends. Two pools stand for two hub processes.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { createPool } from './pool.ts';
import { RateLeases } from './rate-leases.ts';
import type { Limit } from './rate-counters.ts';
import type pg from 'pg';

let db: TestDatabase;
let otherPool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  otherPool = createPool(db.url, 8);
});
afterAll(async () => {
  await otherPool.end();
  await db.drop();
});

function limit(max: number, windowSeconds = 3600): Limit {
  return { bucket: `test:${randomUUID()}`, windowSeconds, max, label: 'test' };
}

async function dbCount(bucket: string): Promise<number> {
  const r = await db.pool.query<{ n: number }>('SELECT coalesce(sum(count), 0)::int AS n FROM rate_counters WHERE bucket = $1', [bucket]);
  return r.rows[0]!.n;
}

/** `n` hits at once, spread over both processes, in waves (as requests arrive). */
async function hammer(processes: RateLeases[], l: Limit, n: number, waves = 5): Promise<number> {
  let granted = 0;
  for (let w = 0; w < waves; w++) {
    const results = await Promise.all(Array.from({ length: n / waves }, (_, i) => processes[i % processes.length]!.take(l)));
    granted += results.filter((r) => r === undefined).length;
  }
  return granted;
}

describe('rate leases', () => {
  it('never exceed the limit across two processes sharing the database', async () => {
    const processes = [new RateLeases(db.pool), new RateLeases(otherPool)];
    const l = limit(1000);
    const granted = await hammer(processes, l, 3000, 10);
    const held = processes.reduce((s, p) => s + p.held(l.bucket), 0);
    expect(await dbCount(l.bucket)).toBeLessThanOrEqual(1000);
    expect(granted).toBeLessThanOrEqual(1000);
    // Every counted hit was either handed out or is still held (under-used, never lost or doubled).
    expect(granted + held).toBe(await dbCount(l.bucket));
    // Blocks: far fewer statements than hits while the budget is large.
    expect(processes[0]!.statements + processes[1]!.statements).toBeLessThan(granted / 2);
  });

  it('keep a small limit exact: 5 hits of 40, one statement per hit', async () => {
    const processes = [new RateLeases(db.pool), new RateLeases(otherPool)];
    const l = limit(5, 60);
    await awayFromMinuteEnd();
    const granted = await hammer(processes, l, 40, 4);
    expect(granted).toBe(5);
    expect(await dbCount(l.bucket)).toBe(5);
    expect(processes[0]!.held(l.bucket) + processes[1]!.held(l.bucket)).toBe(0);
  });

  it('refuse a full window in memory until it ends, with the time left', async () => {
    const p = new RateLeases(db.pool);
    const l = limit(3, 3600);
    for (let i = 0; i < 3; i++) expect(await p.take(l)).toBeUndefined();
    const first = await p.take(l);
    expect(first).toMatchObject({ label: 'test', max: 3 });
    expect(first!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(first!.retryAfterSeconds).toBeLessThanOrEqual(3600);
    const statements = p.statements;
    // Hammering a closed limit keeps it closed and costs no statement.
    for (let i = 0; i < 50; i++) expect(await p.take(l)).toBeDefined();
    expect(p.statements).toBe(statements);
    expect(await dbCount(l.bucket)).toBe(3);
    // Another process finds it full too (one statement, then in memory).
    const q = new RateLeases(otherPool);
    expect(await q.take(l)).toBeDefined();
    expect(await q.take(l)).toBeDefined();
    expect(q.statements).toBe(1);
  });

  it('take every bucket of a request even when an earlier one refuses (counted as the exact counter counts)', async () => {
    const p = new RateLeases(db.pool);
    const closed = limit(0);
    const open = limit(100);
    const refused = await p.takeAll([closed, open]);
    expect(refused?.label).toBe('test');
    const held = p.held(open.bucket);
    expect(await dbCount(open.bucket)).toBe(held + 1);
  });

  it('start afresh in a new window and never carry tokens over', async () => {
    const p = new RateLeases(db.pool);
    const l = limit(4, 1);
    // Align to the start of a second, so the hits fall in one window.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 50));
    const first = await Promise.all(Array.from({ length: 6 }, () => p.take(l)));
    expect(first.filter((r) => r === undefined).length).toBeLessThanOrEqual(4);
    const r = await db.pool.query<{ count: number }>('SELECT count FROM rate_counters WHERE bucket = $1', [l.bucket]);
    expect(r.rows.every((x) => x.count <= 4)).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    expect(p.held(l.bucket)).toBe(0);
    const second = await Promise.all(Array.from({ length: 4 }, () => p.take(l)));
    expect(second.filter((x) => x === undefined).length).toBeGreaterThanOrEqual(1);
    const windows = await db.pool.query<{ count: number }>('SELECT count FROM rate_counters WHERE bucket = $1 ORDER BY window_start', [l.bucket]);
    expect(windows.rows.length).toBeGreaterThanOrEqual(2);
    expect(windows.rows.every((x) => x.count <= 4)).toBe(true);
  });
});

/** Waits out the last 10 s of a minute, so that hits meant for one window of a minute fall in one (a loaded machine may take seconds over them). */
async function awayFromMinuteEnd(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 10_000) await new Promise((r) => setTimeout(r, left + 100));
}
