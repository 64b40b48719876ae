/**
 * The webhook dispatcher's test bed, shared by its test files: one database per file, receivers
 * and dispatchers stopped after each test (and the deliveries a test left pending dead-lettered,
 * so they never reach the next test's dispatcher), platforms with unique names, and events
 * written through the product's outbox SQL. The dispatcher's scheduling clock is the test's: it
 * only moves forward (leases of earlier tests stay past) and is moved instead of waited for.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createProvider } from '../../src/providers/provider-service.ts';
import { outboxCtes } from '../../src/events/outbox.ts';
import { startWebhookDispatcher, type WebhookDispatcher, type WebhookDispatcherOptions } from '../../src/events/webhook-dispatcher.ts';
import { startReceiver, type Receiver } from './webhooks-receiver.ts';

// Letters only: a provider name may not hold a run of six digits (it goes into SMS texts).
export const platformName = () => `p-${randomBytes(8).toString('hex').replace(/\d/g, (d) => 'ghijklmnop'[Number(d)]!)}`;

/** Polls until `cond` holds or `ms` have passed (the assertion after it says which). */
export async function waitUntil(cond: () => boolean, ms: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, everyMs));
}

export interface WebhookTestbed {
  /** The file's database (set once its beforeAll has run). */
  readonly db: TestDatabase;
  /** The scheduling clock, in ms, and as the dispatcher's `now`. */
  clock(): number;
  now(): Date;
  advance(ms: number): void;
  /** Moves the clock to `ms` if it is behind (never back). */
  advanceTo(ms: number): void;
  receiver(): Promise<Receiver>;
  dispatcher(options?: Partial<WebhookDispatcherOptions>): WebhookDispatcher;
  platform(webhookUrl: string): ReturnType<typeof createProvider>;
  /** n bound accounts of the provider, then unbound by one statement through the outbox SQL: n events and n pending deliveries. */
  emit(providerId: string, n: number): Promise<string[]>;
}

/** Registers the file's hooks and answers its helpers; call once, at the top of a test file. */
export function webhookTestbed(): WebhookTestbed {
  let db: TestDatabase | undefined;
  const receivers: Receiver[] = [];
  const dispatchers: WebhookDispatcher[] = [];
  // New deliveries are due at the database's now(), so `emit` keeps the clock ahead of real time.
  let clock = Date.now() + 1000;
  let refCounter = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    await db!.pool.query(`UPDATE webhook_deliveries SET status = 'dead' WHERE status = 'pending'`);
  });
  afterAll(async () => db?.drop());

  const tb: WebhookTestbed = {
    get db() {
      return db!;
    },
    clock: () => clock,
    now: () => new Date(clock),
    advance(ms) {
      clock += ms;
    },
    advanceTo(ms) {
      clock = Math.max(clock, ms);
    },
    async receiver() {
      const r = await startReceiver();
      receivers.push(r);
      return r;
    },
    dispatcher(options = {}) {
      const d = startWebhookDispatcher({ pool: db!.pool, ring: async () => db!.ring, outbound: { allowLoopback: true }, intervalMs: 0, now: tb.now, ...options });
      dispatchers.push(d);
      return d;
    },
    platform(webhookUrl) {
      return createProvider(db!.pool, db!.ring, { allowLoopback: true }, { name: platformName(), kind: 'platform', webhookUrl });
    },
    async emit(providerId, n) {
      const refs = Array.from({ length: n }, () => `acct-${++refCounter}`);
      await db!.pool.query(
        `INSERT INTO accounts (id, provider_id, account_ref, method, level, status, status_reason, verified_at)
         SELECT gen_random_uuid(), $1, r, 'phone', 'low', 'verified', 'verified', now() FROM unnest($2::text[]) r`,
        [providerId, refs],
      );
      const r = await db!.pool.query<{ id: string }>(
        `WITH changed AS (
           UPDATE accounts a SET status = 'unbound', status_reason = 'account_closed', sequence = a.sequence + 1, status_since = now()
           WHERE a.provider_id = $1 AND a.account_ref = ANY($2::text[]) RETURNING a.*
         ),${outboxCtes('$3')}
         SELECT id FROM ev`,
        [providerId, refs, 'account.unbound'],
      );
      tb.advanceTo(Date.now() + 1000);
      return r.rows.map((x) => x.id);
    },
  };
  return tb;
}
