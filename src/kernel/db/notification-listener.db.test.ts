/**
 * The LISTEN connection kernel on a real PostgreSQL: up only once LISTEN is in force, the
 * channel's notifications delivered, down at once when its backend is killed, back with a new
 * connection (the caches forget everything on each up), and gone for good once closed.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { NotificationListener } from './notification-listener.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
});
afterAll(async () => db.drop());

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('NotificationListener', () => {
  it('is up once LISTEN is in force, hears its channel only, and comes back after its backend is killed', async () => {
    const events: string[] = [];
    const warnings: Record<string, unknown>[] = [];
    const listener = new NotificationListener({
      channel: 'idbind_test_channel',
      newClient: () => new pg.Client({ connectionString: db.url, application_name: 'idbind-test-listener' }),
      onNotification: (payload) => events.push(`note:${payload}`),
      onUp: (client) => events.push(`up:${client === listener.client}`),
      onDown: () => events.push('down'),
      downWarning: 'test listener down',
      warn: (_message, fields) => warnings.push(fields),
      reconnectMinMs: 20,
    });
    expect(listener.client).toBeUndefined();
    listener.start();
    expect(await listener.waitUntilUp(30_000)).toBe(true);
    expect(events).toEqual(['up:true']);

    await db.pool.query(`SELECT pg_notify('idbind_test_channel', 'a b'), pg_notify('idbind_other_channel', 'not this')`);
    await until('the notification', () => events.includes('note:a b'));

    const first = listener.client!;
    await db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'idbind-test-listener'`);
    await until('down and up again', () => events.filter((e) => e.startsWith('up')).length === 2);
    expect(events).toEqual(['up:true', 'note:a b', 'down', 'up:true']);
    expect(listener.client).not.toBe(first);
    // The warning names the error, never a payload.
    expect(warnings[0]).toMatchObject({ err: { code: '57P01' }, retry_ms: 20 });

    await listener.close();
    expect(events.at(-1)).toBe('down');
    expect(listener.isUp).toBe(false);
    await db.pool.query(`SELECT pg_notify('idbind_test_channel', 'after close')`);
    await new Promise((r) => setTimeout(r, 100));
    expect(events).not.toContain('note:after close');
    const left = await db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'idbind-test-listener'`);
    expect(left.rows[0].n).toBe(0);
  });

  it('keeps trying while the database refuses, and is up as soon as it can connect', async () => {
    let attempts = 0;
    const listener = new NotificationListener({
      channel: 'idbind_test_channel',
      // The first two connections go to a database that does not exist.
      newClient: () => {
        attempts++;
        const url = new URL(db.url);
        if (attempts <= 2) url.pathname = '/idbind_no_such_database';
        return new pg.Client({ connectionString: url.toString() });
      },
      onNotification: () => undefined,
      onUp: () => undefined,
      onDown: () => undefined,
      downWarning: 'test listener down',
      reconnectMinMs: 10,
    });
    listener.start();
    expect(await listener.waitUntilUp(30_000)).toBe(true);
    expect(attempts).toBe(3);
    await listener.close();
  });
});
