/**
 * Deltas and full files at the exact boundaries of "older than what is stored" (issue 2 "Deltas";
 * docs/formats.md), on cases the other registry tests leave open, found by a hand-made mutation
 * review: each case here failed on a small change that the rest of the suite let through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { importRegistry } from './import/import-service.ts';
import { applySubscriptionEvents } from './subscription-events.ts';
import { composePersonalId } from './personal-id.ts';
import { msisdnIndex } from './row-crypto.ts';

let db: TestDatabase;
let dir: string;
const H = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at';
const a = composePersonalId('036', 1982, 'F', 21);
const b = composePersonalId('036', 1993, 'M', 22);
const A = `${a},Trịnh Thị Hằng,1982-07-01`;
const newHolder = { holder_personal_id: b, holder_full_name: 'Mạc Văn Tùng', holder_birth_date: '1993-08-02', channel: 'store' };

let files = 0;
function file(ext: 'csv' | 'ndjson', lines: string[]): string {
  const path = join(dir, `f${++files}.${ext}`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}
const importSubs = (lines: string[]) => {
  const path = file('csv', [H, ...lines]);
  return importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier: 'gmobile', path, rejectsPath: path + '.rejects', workers: 1 });
};
const applyEvents = (events: object[]) => {
  const path = file('ndjson', events.map((e) => JSON.stringify(e)));
  return applySubscriptionEvents({ pool: db.pool, ring: db.ring, carrier: 'gmobile', path, rejectsPath: path + '.rejects' });
};
const rejectsOf = (s: { rejects_file: string }) => readFileSync(s.rejects_file, 'utf8').trim().split('\n').slice(1);

async function subscriptionsOf(msisdn: string) {
  const r = await db.pool.query<{ id: string; status: string; ended_reason: string | null; registered_at: Date }>(
    `SELECT id, status, ended_reason, registered_at FROM subscriptions WHERE msisdn_bidx = $1 ORDER BY registered_at, id`,
    [msisdnIndex(db.ring.currentBlindIndex.key, msisdn)],
  );
  return r.rows;
}
async function eventOutcome(eventId: string) {
  const r = await db.pool.query<{ outcome: string; subscription_id: string | null }>(
    'SELECT outcome, subscription_id FROM subscription_events WHERE event_id = $1', [eventId],
  );
  return r.rows[0];
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-subs-mut-'));
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('an event at the same instant as the latest one applied is not older, so it applies', () => {
  it('a number terminated and registered again at the same instant (dates without a time) is a new subscription', async () => {
    expect(await importSubs([`0995000001,${A},store,2024-01-01T08:00:00,active,,`])).toMatchObject({ accepted: 1, rejected: 0 });
    const s = await applyEvents([
      { event_id: 'same-1', type: 'terminated', msisdn: '0995000001', at: '2025-01-01' },
      { event_id: 'same-2', type: 'registered', msisdn: '0995000001', at: '2025-01-01', ...newHolder },
    ]);
    expect(s).toMatchObject({ accepted: 2, unchanged: 0, rejected: 0 });
    expect((await subscriptionsOf('+84995000001')).map((r) => [r.status, r.ended_reason])).toEqual([['terminated', 'terminated'], ['active', null]]);
    expect(await eventOutcome('same-2')).toMatchObject({ outcome: 'applied' });
  });

  it('an unblock at the instant of the block it lifts', async () => {
    expect(await importSubs([`0995000002,${A},store,2024-01-01T08:00:00,active,,`])).toMatchObject({ accepted: 1, rejected: 0 });
    const s = await applyEvents([
      { event_id: 'same-3', type: 'blocked_both', msisdn: '0995000002', at: '2025-02-01T09:00:00+07:00' },
      { event_id: 'same-4', type: 'unblocked', msisdn: '0995000002', at: '2025-02-01T09:00:00+07:00' },
    ]);
    expect(s).toMatchObject({ accepted: 2, rejected: 0 });
    expect((await subscriptionsOf('+84995000002')).map((r) => r.status)).toEqual(['active']);
    expect(await eventOutcome('same-4')).toMatchObject({ outcome: 'applied' });
  });
});

describe('a stale event is recorded against the subscription that held the number at its time', () => {
  it('and against none when the number had no holder then', async () => {
    expect(await importSubs([`0995000003,${A},store,2024-01-01T08:00:00,active,,`])).toMatchObject({ accepted: 1, rejected: 0 });
    expect(await applyEvents([
      { event_id: 'held-1', type: 'terminated', msisdn: '0995000003', at: '2025-01-01T09:00:00+07:00' },
      { event_id: 'held-2', type: 'registered', msisdn: '0995000003', at: '2025-03-01T09:00:00+07:00', ...newHolder },
    ])).toMatchObject({ accepted: 2, rejected: 0 });
    const [first, second] = await subscriptionsOf('+84995000003');
    // Late: a block while the first holder had the number, and one between the two subscriptions.
    expect(await applyEvents([
      { event_id: 'held-3', type: 'blocked_both', msisdn: '0995000003', at: '2024-06-01T09:00:00+07:00' },
      { event_id: 'held-4', type: 'blocked_both', msisdn: '0995000003', at: '2025-02-01T09:00:00+07:00' },
    ])).toMatchObject({ accepted: 2, rejected: 0 });
    expect(await eventOutcome('held-3')).toEqual({ outcome: 'stale', subscription_id: first!.id });
    expect(await eventOutcome('held-4')).toEqual({ outcome: 'stale', subscription_id: null });
    expect((await subscriptionsOf('+84995000003')).map((r) => [r.id, r.status])).toEqual([[first!.id, 'terminated'], [second!.id, 'active']]);
  });
});

describe("a full file's live row for a number whose subscriptions have all ended", () => {
  it('is OLDER_THAN_STORED when registered at the same instant as the latest one; a later one starts the next subscription', async () => {
    expect(await importSubs([`0995000004,${A},store,2024-01-01T08:00:00,terminated,,`])).toMatchObject({ accepted: 1, rejected: 0 });
    // An older file, written while that subscription was live: it must not revive it.
    const old = await importSubs([`0995000004,${A},store,2024-01-01T08:00:00,active,,`]);
    expect(old).toMatchObject({ accepted: 0, unchanged: 0, rejected: 1 });
    expect(rejectsOf(old)).toEqual(['2,registered_at,OLDER_THAN_STORED']);
    expect((await subscriptionsOf('+84995000004')).map((r) => r.status)).toEqual(['terminated']);
    // Registered a second later: a new subscription of the number.
    const next = await importSubs([`0995000004,${A},store,2024-01-01T08:00:01,active,,`]);
    expect(next).toMatchObject({ accepted: 1, rejected: 0 });
    expect((await subscriptionsOf('+84995000004')).map((r) => r.status)).toEqual(['terminated', 'active']);
  });
});
