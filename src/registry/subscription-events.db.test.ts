import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
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
const a = composePersonalId('079', 1985, 'F', 11);
const b = composePersonalId('079', 1990, 'M', 12);

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-subs-'));
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, lines: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

const importSubs = (path: string, carrier = 'vinaphone') =>
  importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier, path, rejectsPath: path + '.rejects', workers: 1, chunkBytes: 64 });
const applyEvents = (path: string, carrier = 'vinaphone') =>
  applySubscriptionEvents({ pool: db.pool, ring: db.ring, carrier, path, rejectsPath: path + '.rejects', batchSize: 2 });

async function history(msisdn: string, carrier = 'vinaphone') {
  const r = await db.pool.query(
    `SELECT s.status, s.ended_reason, s.channel FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id
     WHERE c.slug = $1 AND s.msisdn_bidx = $2 ORDER BY s.registered_at`,
    [carrier, msisdnIndex(db.ring.currentBlindIndex.key, msisdn)],
  );
  return r.rows;
}

describe('subscriber registry import', () => {
  it('normalises the three number forms to one E.164 key and rejects what is not a Vietnamese mobile', async () => {
    const path = write('vinaphone.csv', [
      H,
      `0912000001,${a},Võ Thị Hoa,1985-03-01,store,2023-05-01T10:00:00,active,,`,
      `84912000002,${a},Võ Thị Hoa,1985-03-01,online,2023-05-02T10:00:00+07:00,blocked_outgoing,2025-01-01T00:00:00Z,`,
      `+84912000003,,,,video,2023-05-03,active,,`,
      `+84912000001,${b},Hồ Văn Nam,1990-01-01,store,2023-06-01T10:00:00,active,,`, // 5: same number as line 2
      `0241234567,${a},Võ Thị Hoa,1985-03-01,store,2023-05-01T10:00:00,active,,`, // 6: a Hanoi landline
      `+14155550100,${a},Võ Thị Hoa,1985-03-01,store,2023-05-01T10:00:00,active,,`, // 7: not Vietnamese
      `0912000004,${a},Võ Thị Hoa,1985-03-01,kiosk,2023-05-01T10:00:00,active,,`, // 8: unknown channel
      `0912000005,${a},Võ Thị Hoa,1985-03-01,store,2023-05-01T10:00:00,suspended,,`, // 9: unknown status
      `0912000006,${a},Võ Thị Hoa,1985-13-01,store,2023-05-01T10:00:00,active,,`, // 10: bad birth date
      `0912000007,12345,Võ Thị Hoa,1985-03-01,store,2023-05-01T10:00:00,active,,`, // 11: bad holder ID
      `0912000008,${a},Võ Thị Hoa,1985-03-01,store,yesterday,active,,`, // 12: bad time
      `0912000009,${a},Võ Thị Hoa,1985-03-01,store`, // 13: malformed (too few columns)
    ]);
    const s = await importSubs(path);
    expect(s).toMatchObject({ accepted: 3, unchanged: 0, rejected: 9 });
    expect(readFileSync(s.rejects_file, 'utf8').trim().split('\n')).toEqual([
      'line,field,code', '5,msisdn,DUPLICATE_KEY', '6,msisdn,NOT_VIETNAMESE_MOBILE', '7,msisdn,NOT_VIETNAMESE_MOBILE', '8,channel,CHANNEL_UNKNOWN',
      '9,status,STATUS_UNKNOWN', '10,holder_birth_date,DATE_INVALID', '11,holder_personal_id,PERSONAL_ID_INVALID', '12,registered_at,DATE_INVALID',
      '13,*,MALFORMED_ROW',
    ]);
    const again = await importSubs(path);
    expect(again).toMatchObject({ accepted: 0, unchanged: 3, rejected: 9 });
  });

  it('keeps a holder change as a new subscription and the old one as history, never merged', async () => {
    const path = write('vinaphone-2.csv', [H, `0912000001,${b},Hồ Văn Nam,1990-01-01,store,2024-06-01T10:00:00,active,,`]);
    expect(await importSubs(path)).toMatchObject({ accepted: 1, unchanged: 0 });
    expect(await history('+84912000001')).toEqual([
      { status: 'terminated', ended_reason: 'holder_changed', channel: 'store' },
      { status: 'active', ended_reason: null, channel: 'store' },
    ]);
    // The first holder's subscription ended when the new holder's began, not at the import.
    const ends = await db.pool.query(
      `SELECT s.registered_at, s.ended_at FROM subscriptions s WHERE s.msisdn_bidx = $1 ORDER BY s.registered_at`,
      [msisdnIndex(db.ring.currentBlindIndex.key, '+84912000001')],
    );
    expect(ends.rows.map((r) => [r.registered_at.toISOString(), r.ended_at?.toISOString() ?? null]))
      .toEqual([[expect.any(String), '2024-06-01T03:00:00.000Z'], ['2024-06-01T03:00:00.000Z', null]]);
    expect(await importSubs(path)).toMatchObject({ accepted: 0, unchanged: 1 });
  });

  it('keeps numbers absent from a file as they are', async () => {
    const r = await db.pool.query(`SELECT count(*)::int AS n FROM subscriptions WHERE status <> 'terminated'`);
    expect(r.rows[0].n).toBe(3);
  });

  it('ends a full file\'s replaced subscription when the new one began, never in the future; refuses an earlier holder and times beyond a day ahead', async () => {
    const first = write('itel-end-1.csv', [
      H, `0912000101,${a},Võ Thị Hoa,1985-03-01,store,2024-05-01T10:00:00,active,,`, `0912000102,${a},Võ Thị Hoa,1985-03-01,store,2024-05-01T10:00:00,active,,`,
    ]);
    expect(await importSubs(first, 'itel')).toMatchObject({ accepted: 2, rejected: 0 });
    const before = Date.now();
    const second = write('itel-end-2.csv', [
      H, `0912000101,${b},Hồ Văn Nam,1990-01-01,store,2024-01-01T10:00:00,active,,`, // dated before the old one began
      // Dated ahead of the hub's clock, within the day allowed for clocks and time zones.
      `0912000102,${b},Hồ Văn Nam,1990-01-01,store,${new Date(before + 12 * 3_600_000).toISOString()},active,,`,
      `0912000101,${b},Hồ Văn Nam,1990-01-01,store,2099-01-01T10:00:00,active,,`, // beyond it: refused
    ]);
    const s = await importSubs(second, 'itel');
    expect(s).toMatchObject({ accepted: 1, rejected: 2 });
    const endOf = async (msisdn: string) => (await db.pool.query(
      `SELECT ended_at FROM subscriptions WHERE msisdn_bidx = $1 AND ended_reason = 'holder_changed'`,
      [msisdnIndex(db.ring.currentBlindIndex.key, msisdn)],
    )).rows.map((r) => r.ended_at as Date);
    // The holder registered before the live subscription began is an earlier one: refused, nothing ended.
    expect(readFileSync(s.rejects_file, 'utf8').trim().split('\n').slice(1)).toEqual(['2,registered_at,OLDER_THAN_STORED', '4,registered_at,DATE_INVALID']);
    expect(await endOf('+84912000101')).toEqual([]);
    const [future] = await endOf('+84912000102');
    expect(future!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(future!.getTime()).toBeLessThanOrEqual(Date.now());
  });
});

describe('subscription deltas', () => {
  it('applies each event type, ignores a re-sent event and records a stale one without applying it', async () => {
    const events = [
      { event_id: 'v-1', type: 'sim_changed', msisdn: '0912000002', at: '2025-03-01T09:00:00+07:00' },
      { event_id: 'v-2', type: 'blocked_both', msisdn: '0912000002', at: '2025-03-02T09:00:00+07:00' },
      { event_id: 'v-3', type: 'unblocked', msisdn: '0912000002', at: '2025-03-03T09:00:00+07:00' },
      { event_id: 'v-4', type: 'blocked_outgoing', msisdn: '0912000002', at: '2025-03-01T12:00:00+07:00' }, // older: stale
      { event_id: 'v-5', type: 'terminated', msisdn: '0912000003', at: '2025-03-04T09:00:00+07:00' },
      { event_id: 'v-6', type: 'registered', msisdn: '0912000003', at: '2025-03-05T09:00:00+07:00', holder_personal_id: b, holder_full_name: 'Hồ Văn Nam', holder_birth_date: '1990-01-01', channel: 'vneid' },
      { event_id: 'v-7', type: 'registered', msisdn: '0912000003', at: '2025-03-06T09:00:00+07:00', holder_personal_id: a, holder_full_name: 'Võ Thị Hoa', holder_birth_date: '1985-03-01', channel: 'store' }, // already live
      { event_id: 'v-8', type: 'unblocked', msisdn: '0912999999', at: '2025-03-06T09:00:00+07:00' }, // no such live number
      { event_id: 'v-9', type: 'teleported', msisdn: '0912000002', at: '2025-03-06T09:00:00+07:00' },
      { event_id: 'v-1', type: 'sim_changed', msisdn: '0912000002', at: '2025-03-01T09:00:00+07:00' }, // same id twice in the file
      { event_id: 'v-10', type: 'ported_out', msisdn: '0912000001', at: '2025-03-07T09:00:00+07:00' },
      // A typing error in the year: applied, it would make every later event of the number stale.
      { event_id: 'v-11', type: 'sim_changed', msisdn: '0912000002', at: '2099-03-01T09:00:00+07:00' },
    ];
    const path = join(dir, 'delta-1.ndjson');
    writeFileSync(path, events.map((e) => JSON.stringify(e)).join('\n') + '\nnot json\n');
    const s = await applyEvents(path);
    expect(s).toMatchObject({ accepted: 7, unchanged: 0, rejected: 6 });
    expect(readFileSync(s.rejects_file, 'utf8').trim().split('\n').slice(1)).toEqual([
      '7,msisdn,NUMBER_ALREADY_ACTIVE', '8,msisdn,NO_LIVE_SUBSCRIPTION', '9,type,EVENT_TYPE_UNKNOWN', '10,event_id,DUPLICATE_KEY', '12,at,DATE_INVALID', '13,*,MALFORMED_ROW',
    ]);
    const state = await db.pool.query(
      `SELECT status, sim_changed_at FROM subscriptions WHERE msisdn_bidx = $1 AND status <> 'terminated'`,
      [msisdnIndex(db.ring.currentBlindIndex.key, '+84912000002')],
    );
    expect(state.rows[0].status).toBe('active'); // the stale blocked_outgoing did not override "unblocked"
    expect(state.rows[0].sim_changed_at.toISOString()).toBe('2025-03-01T02:00:00.000Z');
    const outcomes = await db.pool.query(`SELECT event_id, outcome FROM subscription_events WHERE event_id IN ('v-4', 'v-3') ORDER BY event_id`);
    expect(outcomes.rows).toEqual([{ event_id: 'v-3', outcome: 'applied' }, { event_id: 'v-4', outcome: 'stale' }]);
    expect(await history('+84912000003')).toEqual([
      { status: 'terminated', ended_reason: 'terminated', channel: 'video' },
      { status: 'active', ended_reason: null, channel: 'vneid' },
    ]);
    expect((await history('+84912000001')).map((h) => h.ended_reason)).toEqual(['holder_changed', 'ported_out']);

    // The same file again: every event already applied, nothing changes.
    const before = await db.pool.query('SELECT id, status, updated_at FROM subscriptions ORDER BY id');
    const again = await applyEvents(path);
    expect(again).toMatchObject({ accepted: 0, unchanged: 7 });
    const after = await db.pool.query('SELECT id, status, updated_at FROM subscriptions ORDER BY id');
    expect(after.rows).toEqual(before.rows);
  });

  it('rejects an event id reused with other content', async () => {
    const path = join(dir, 'delta-2.ndjson');
    writeFileSync(path, JSON.stringify({ event_id: 'v-2', type: 'terminated', msisdn: '0912000002', at: '2025-04-01T09:00:00+07:00' }) + '\n');
    const s = await applyEvents(path);
    expect(s).toMatchObject({ accepted: 0, rejected: 1 });
    expect(readFileSync(s.rejects_file, 'utf8')).toContain('1,event_id,EVENT_ID_REUSED');
  });
});

/**
 * Out-of-order deltas around a termination (issue 2 "Deltas"): staleness is decided against the
 * number's latest subscription at the carrier, live or ended, and a stale event is recorded against
 * the subscription that held the number at its time. Each file imported twice changes nothing.
 */
describe('deltas older than a termination', () => {
  const carrier = 'mobifone';
  const holderOf = (pid: string, name: string, birth: string, channel = 'store') =>
    ({ holder_personal_id: pid, holder_full_name: name, holder_birth_date: birth, channel });
  const A = holderOf(a, 'Võ Thị Hoa', '1985-03-01');
  const B = holderOf(b, 'Hồ Văn Nam', '1990-01-01');
  let fileNo = 0;
  const events = (list: Record<string, string>[]) => {
    const path = join(dir, `late-${fileNo++}.ndjson`);
    writeFileSync(path, list.map((e) => JSON.stringify(e)).join('\n') + '\n');
    return path;
  };
  const apply = (path: string) => applyEvents(path, carrier);
  const rejectsOf = (s: { rejects_file: string }) => readFileSync(s.rejects_file, 'utf8').trim().split('\n').slice(1);
  /** Every row the deltas write, in full: a second import must leave them byte for byte. */
  async function snapshot() {
    const subs = await db.pool.query('SELECT * FROM subscriptions ORDER BY id');
    const evs = await db.pool.query('SELECT * FROM subscription_events ORDER BY id');
    return { subs: subs.rows, evs: evs.rows };
  }
  async function expectIdempotent(path: string, summary: { accepted: number; unchanged: number; rejected: number }) {
    const before = await snapshot();
    const again = await apply(path);
    expect(again).toMatchObject({ accepted: 0, unchanged: summary.accepted + summary.unchanged, rejected: summary.rejected });
    expect(await snapshot()).toEqual(before);
    return again;
  }
  async function numberRows(msisdn: string) {
    const r = await db.pool.query(
      `SELECT s.id, s.status, s.ended_reason, s.registered_at, s.ended_at, s.sim_changed_at, s.device_changed_at FROM subscriptions s
       JOIN carriers c ON c.id = s.carrier_id WHERE c.slug = $1 AND s.msisdn_bidx = $2 ORDER BY s.registered_at`,
      [carrier, msisdnIndex(db.ring.currentBlindIndex.key, msisdn)],
    );
    return r.rows;
  }
  async function outcomes(ids: string[]) {
    const r = await db.pool.query(
      `SELECT e.event_id, e.outcome, e.reject_code, e.subscription_id FROM subscription_events e JOIN carriers c ON c.id = e.carrier_id
       WHERE c.slug = $1 AND e.event_id = ANY($2) ORDER BY e.event_id`,
      [carrier, ids],
    );
    return r.rows;
  }

  it('records each type older than the termination as stale against the ended subscription, revives nothing, and re-imports change nothing', async () => {
    const first = events([
      { event_id: 'm-r1', type: 'registered', msisdn: '0913000001', at: '2024-01-01T10:00:00', ...A },
      { event_id: 'm-t1', type: 'terminated', msisdn: '0913000001', at: '2024-03-01T10:00:00' },
    ]);
    expect(await apply(first)).toMatchObject({ accepted: 2, rejected: 0 });
    const [ended] = await numberRows('+84913000001');
    const late = events([
      { event_id: 'm-b1', type: 'blocked_both', msisdn: '0913000001', at: '2024-02-05T10:00:00' },
      { event_id: 'm-d1', type: 'device_changed', msisdn: '0913000001', at: '2024-02-10T10:00:00' },
      { event_id: 'm-s1', type: 'sim_changed', msisdn: '0913000001', at: '2024-02-15T10:00:00' },
      { event_id: 'm-r0', type: 'registered', msisdn: '0913000001', at: '2024-02-20T10:00:00', ...B },
      { event_id: 'm-p0', type: 'ported_in', msisdn: '0913000001', at: '2024-02-25T10:00:00', ...B },
      { event_id: 'm-t0', type: 'terminated', msisdn: '0913000001', at: '2024-02-28T10:00:00' },
      { event_id: 'm-o0', type: 'ported_out', msisdn: '0913000001', at: '2024-02-28T11:00:00' },
      { event_id: 'm-u0', type: 'unblocked', msisdn: '0913000001', at: '2024-02-28T12:00:00' },
      { event_id: 'm-x0', type: 'sim_changed', msisdn: '0913000001', at: '2023-12-01T10:00:00' }, // before the registration
      { event_id: 'm-s2', type: 'sim_changed', msisdn: '0913000001', at: '2024-03-05T10:00:00' }, // after the end: nothing to apply it to
    ]);
    const s = await apply(late);
    expect(s).toMatchObject({ accepted: 9, unchanged: 0, rejected: 1 });
    expect(rejectsOf(s)).toEqual(['10,msisdn,NO_LIVE_SUBSCRIPTION']);
    // One subscription, still terminated on 03-01 as it was: no revival, no SIM change.
    expect(await numberRows('+84913000001')).toEqual([ended]);
    expect(ended).toMatchObject({ status: 'terminated', ended_reason: 'terminated', sim_changed_at: null, device_changed_at: null });
    expect(ended.ended_at.toISOString()).toBe('2024-03-01T03:00:00.000Z');
    const stale = ['m-b1', 'm-d1', 'm-s1', 'm-r0', 'm-p0', 'm-t0', 'm-o0', 'm-u0'].sort();
    expect(await outcomes(stale)).toEqual(stale.map((id) => ({ event_id: id, outcome: 'stale', reject_code: null, subscription_id: ended.id })));
    // Older than the number's first registration: stale, and held by no subscription.
    expect(await outcomes(['m-x0', 'm-s2'])).toEqual([
      { event_id: 'm-s2', outcome: 'rejected', reject_code: 'NO_LIVE_SUBSCRIPTION', subscription_id: null },
      { event_id: 'm-x0', outcome: 'stale', reject_code: null, subscription_id: null },
    ]);
    await expectIdempotent(late, s);

    // Registered after the termination: a new subscription of a new holder, the old one kept.
    const again = events([{ event_id: 'm-r2', type: 'registered', msisdn: '0913000001', at: '2024-04-01T10:00:00', ...B }]);
    expect(await apply(again)).toMatchObject({ accepted: 1, rejected: 0 });
    const rows = await numberRows('+84913000001');
    expect(rows.map((r) => r.status)).toEqual(['terminated', 'active']);
    // The late file once more, now that the number has a new holder: the same answers, nothing
    // recorded against the new holder's subscription, and the refused event refused again.
    const third = await expectIdempotent(late, s);
    expect(rejectsOf(third)).toEqual(['10,msisdn,NO_LIVE_SUBSCRIPTION']);
    // And an event from the first holder's time arriving only now belongs to the first holder's subscription.
    expect(await apply(events([{ event_id: 'm-d2', type: 'device_changed', msisdn: '0913000001', at: '2024-02-12T10:00:00' }]))).toMatchObject({ accepted: 1 });
    expect(await outcomes(['m-d2'])).toEqual([{ event_id: 'm-d2', outcome: 'stale', reject_code: null, subscription_id: ended.id }]);
    expect((await numberRows('+84913000001'))[1]).toMatchObject({ status: 'active', device_changed_at: null });
  });

  it('keeps the holder a late holder change reveals: inserted between, already ended, with what was reported after it', async () => {
    // A's subscription, terminated on 03-01; a change of holder to B on 02-01 arrives after it.
    const first = events([
      { event_id: 'q-r1', type: 'registered', msisdn: '0913000010', at: '2024-01-01T10:00:00', ...A },
      { event_id: 'q-s1', type: 'sim_changed', msisdn: '0913000010', at: '2024-02-10T10:00:00' }, // B's SIM, as it turns out
      { event_id: 'q-t1', type: 'terminated', msisdn: '0913000010', at: '2024-03-01T10:00:00' },
    ]);
    expect(await apply(first)).toMatchObject({ accepted: 3, rejected: 0 });
    const late = events([{ event_id: 'q-h1', type: 'holder_changed', msisdn: '0913000010', at: '2024-02-01T10:00:00', ...B }]);
    const s = await apply(late);
    expect(s).toMatchObject({ accepted: 1, rejected: 0 });
    const [a1, b1] = await numberRows('+84913000010');
    expect(a1).toMatchObject({ status: 'terminated', ended_reason: 'holder_changed', sim_changed_at: null });
    expect(a1.ended_at.toISOString()).toBe('2024-02-01T03:00:00.000Z');
    expect(b1).toMatchObject({ status: 'terminated', ended_reason: 'terminated' });
    expect([b1.registered_at.toISOString(), b1.ended_at.toISOString(), b1.sim_changed_at.toISOString()])
      .toEqual(['2024-02-01T03:00:00.000Z', '2024-03-01T03:00:00.000Z', '2024-02-10T03:00:00.000Z']);
    expect((await outcomes(['q-s1', 'q-t1', 'q-h1'])).map((o) => [o.event_id, o.outcome, o.subscription_id === b1.id]))
      .toEqual([['q-h1', 'applied', true], ['q-s1', 'applied', true], ['q-t1', 'applied', true]]);
    await expectIdempotent(late, s);

    // Two changes of holder in reverse order: C from 05-01, then B from 04-01 (known after C's).
    const number = '0913000011';
    const C = holderOf(composePersonalId('079', 1995, 'M', 13), 'Đinh Văn Chiến', '1995-01-01');
    expect(await apply(events([
      { event_id: 'q-r2', type: 'registered', msisdn: number, at: '2024-01-01T10:00:00', ...A },
      { event_id: 'q-h3', type: 'holder_changed', msisdn: number, at: '2024-05-01T10:00:00', ...C },
      { event_id: 'q-h2', type: 'holder_changed', msisdn: number, at: '2024-04-01T10:00:00', ...B },
    ]))).toMatchObject({ accepted: 3, rejected: 0 });
    const rows = await numberRows('+84913000011');
    expect(rows.map((r) => [r.registered_at.toISOString().slice(0, 10), r.ended_at?.toISOString().slice(0, 10) ?? null, r.status, r.ended_reason]))
      .toEqual([['2024-01-01', '2024-04-01', 'terminated', 'holder_changed'], ['2024-04-01', '2024-05-01', 'terminated', 'holder_changed'], ['2024-05-01', null, 'active', null]]);
  });

  it("takes a holder change naming the number's own holder as a correction in place, late or not, never as a new subscription", async () => {
    // The number did not change hands (a re-registration of the same person): no subscription
    // ends, live or in the history, and the record of the event is kept as applied or stale.
    const number = '0913000014';
    const s = await apply(events([
      { event_id: 'own-r', type: 'registered', msisdn: number, at: '2024-01-01T10:00:00', ...A },
      { event_id: 'own-h1', type: 'holder_changed', msisdn: number, at: '2024-02-01T10:00:00', ...A, holder_full_name: 'Võ Thị Hòa', channel: 'vneid' },
      { event_id: 'own-h2', type: 'holder_changed', msisdn: number, at: '2024-04-01T10:00:00', ...B },
      { event_id: 'own-h3', type: 'holder_changed', msisdn: number, at: '2024-03-01T10:00:00', ...A }, // late, of the first holder
    ]));
    expect(s).toMatchObject({ accepted: 4, rejected: 0 });
    const rows = await numberRows('+84913000014');
    expect(rows.map((r) => [r.registered_at.toISOString().slice(0, 10), r.ended_at?.toISOString().slice(0, 10) ?? null, r.status, r.ended_reason]))
      .toEqual([['2024-01-01', '2024-04-01', 'terminated', 'holder_changed'], ['2024-04-01', null, 'active', null]]);
    expect((await history('+84913000014', carrier)).map((h) => h.channel)).toEqual(['vneid', 'store']);
  });

  it('counts a port-in as a SIM change at its time (a new SIM at the new carrier), a registration not', async () => {
    const s = await apply(events([
      { event_id: 'pi-1', type: 'ported_in', msisdn: '0913000012', at: '2024-06-01T10:00:00', ...A },
      { event_id: 'pi-2', type: 'registered', msisdn: '0913000013', at: '2024-06-01T10:00:00', ...A },
    ]));
    expect(s).toMatchObject({ accepted: 2, rejected: 0 });
    expect((await numberRows('+84913000012'))[0].sim_changed_at.toISOString()).toBe('2024-06-01T03:00:00.000Z');
    expect((await numberRows('+84913000013'))[0].sim_changed_at).toBeNull();
  });

  it('applies a file whose termination precedes an older event and a re-registration, and the same file again changes nothing', async () => {
    const path = events([
      { event_id: 'n-r1', type: 'registered', msisdn: '0913000002', at: '2024-05-01T10:00:00+07:00', ...A },
      { event_id: 'n-s1', type: 'sim_changed', msisdn: '0913000002', at: '2024-06-01T10:00:00+07:00' },
      { event_id: 'n-t1', type: 'terminated', msisdn: '0913000002', at: '2024-07-01T10:00:00+07:00' },
      { event_id: 'n-d1', type: 'device_changed', msisdn: '0913000002', at: '2024-06-15T10:00:00+07:00' }, // older than the termination
      { event_id: 'n-r2', type: 'registered', msisdn: '0913000002', at: '2024-08-01T10:00:00+07:00', ...B, channel: 'online' },
    ]);
    const s = await apply(path);
    expect(s).toMatchObject({ accepted: 5, unchanged: 0, rejected: 0 });
    const [first, second] = await numberRows('+84913000002');
    expect(first).toMatchObject({ status: 'terminated', ended_reason: 'terminated', device_changed_at: null });
    expect(second).toMatchObject({ status: 'active', device_changed_at: null });
    expect(await outcomes(['n-d1'])).toEqual([{ event_id: 'n-d1', outcome: 'stale', reject_code: null, subscription_id: first.id }]);
    await expectIdempotent(path, s);
  });

  it('ends the live subscription with a late termination or holder change dated after its registration, even past newer minor events', async () => {
    const first = events([
      { event_id: 'x-r1', type: 'registered', msisdn: '0913000007', at: '2024-01-01T10:00:00', ...A },
      { event_id: 'x-d1', type: 'device_changed', msisdn: '0913000007', at: '2024-03-05T10:00:00' },
      { event_id: 'x-r2', type: 'registered', msisdn: '0913000008', at: '2024-01-01T10:00:00', ...A },
      { event_id: 'x-b2', type: 'blocked_outgoing', msisdn: '0913000008', at: '2024-03-05T10:00:00' },
    ]);
    expect(await apply(first)).toMatchObject({ accepted: 4, rejected: 0 });
    const late = events([
      { event_id: 'x-t1', type: 'terminated', msisdn: '0913000007', at: '2024-03-01T10:00:00' },
      { event_id: 'x-h2', type: 'holder_changed', msisdn: '0913000008', at: '2024-03-01T10:00:00', ...B },
    ]);
    const s1 = await apply(late);
    expect(s1).toMatchObject({ accepted: 2, rejected: 0 });
    expect(await outcomes(['x-t1', 'x-h2'])).toEqual([
      expect.objectContaining({ event_id: 'x-h2', outcome: 'applied' }),
      expect.objectContaining({ event_id: 'x-t1', outcome: 'applied' }),
    ]);
    const [terminated] = await numberRows('+84913000007');
    expect(terminated).toMatchObject({ status: 'terminated', ended_reason: 'terminated' });
    expect(terminated.ended_at.toISOString()).toBe('2024-03-01T03:00:00.000Z');
    const changed = await numberRows('+84913000008');
    expect(changed.map((row) => [row.status, row.ended_reason])).toEqual([['terminated', 'holder_changed'], ['blocked_outgoing', null]]);
    // The block dated after the holder change was the new holder's: it moved, with its event.
    expect(await outcomes(['x-b2'])).toEqual([{ event_id: 'x-b2', outcome: 'applied', reject_code: null, subscription_id: changed[1].id }]);
    // After the ending, the minor event it overtook is older than nothing live: a re-import changes nothing.
    await expectIdempotent(late, s1);
    await expectIdempotent(first, { accepted: 4, unchanged: 0, rejected: 0 });
  });

  it('hands what happened after a late holder change to the new holder\'s subscription: a SIM swap, a device change, the last block', async () => {
    const first = events([
      { event_id: 'y-r1', type: 'registered', msisdn: '0913000009', at: '2024-01-01T10:00:00', ...A },
      { event_id: 'y-s0', type: 'sim_changed', msisdn: '0913000009', at: '2024-02-01T10:00:00' }, // the first holder's
      { event_id: 'y-b0', type: 'blocked_both', msisdn: '0913000009', at: '2024-02-02T10:00:00' }, // the first holder's
      { event_id: 'y-u1', type: 'unblocked', msisdn: '0913000009', at: '2024-03-02T10:00:00' },
      { event_id: 'y-b1', type: 'blocked_outgoing', msisdn: '0913000009', at: '2024-03-03T10:00:00' },
      { event_id: 'y-d1', type: 'device_changed', msisdn: '0913000009', at: '2024-03-04T10:00:00' },
      { event_id: 'y-s1', type: 'sim_changed', msisdn: '0913000009', at: '2024-03-05T10:00:00' },
      { event_id: 'y-u2', type: 'unblocked', msisdn: '0913000009', at: '2024-03-06T10:00:00' },
    ]);
    expect(await apply(first)).toMatchObject({ accepted: 8, rejected: 0 });
    const late = events([{ event_id: 'y-h1', type: 'holder_changed', msisdn: '0913000009', at: '2024-03-01T10:00:00', ...B }]);
    const s = await apply(late);
    expect(s).toMatchObject({ accepted: 1, rejected: 0 });
    const [old, current] = await numberRows('+84913000009');
    // The new holder's subscription: the SIM swap four days in (the verification's SIM-change
    // window reads this), the device change, and the last block state (unblocked on 03-06).
    expect(current).toMatchObject({ status: 'active', ended_reason: null });
    expect(current.registered_at.toISOString()).toBe('2024-03-01T03:00:00.000Z');
    expect(current.sim_changed_at.toISOString()).toBe('2024-03-05T03:00:00.000Z');
    expect(current.device_changed_at.toISOString()).toBe('2024-03-04T03:00:00.000Z');
    // The first holder's, as of the change: its own SIM change, no device change, ended then.
    expect(old).toMatchObject({ status: 'terminated', ended_reason: 'holder_changed', device_changed_at: null });
    expect(old.sim_changed_at.toISOString()).toBe('2024-02-01T03:00:00.000Z');
    expect(old.ended_at.toISOString()).toBe('2024-03-01T03:00:00.000Z');
    const rows = await outcomes(['y-s0', 'y-b0', 'y-u1', 'y-b1', 'y-d1', 'y-s1', 'y-u2', 'y-h1']);
    expect(Object.fromEntries(rows.map((r) => [r.event_id, r.subscription_id === old.id ? 'old' : r.subscription_id === current.id ? 'new' : r.subscription_id])))
      .toEqual({ 'y-s0': 'old', 'y-b0': 'old', 'y-u1': 'new', 'y-b1': 'new', 'y-d1': 'new', 'y-s1': 'new', 'y-u2': 'new', 'y-h1': 'new' });
    // An event between the change and the last one moved is stale against the new holder's
    // subscription, and recorded against it; one before the change, against the first holder's.
    const after = events([
      { event_id: 'y-b2', type: 'blocked_both', msisdn: '0913000009', at: '2024-03-04T12:00:00' },
      { event_id: 'y-d0', type: 'device_changed', msisdn: '0913000009', at: '2024-02-20T10:00:00' },
    ]);
    expect(await apply(after)).toMatchObject({ accepted: 2, rejected: 0 });
    expect(await outcomes(['y-b2', 'y-d0'])).toEqual([
      { event_id: 'y-b2', outcome: 'stale', reject_code: null, subscription_id: current.id },
      { event_id: 'y-d0', outcome: 'stale', reject_code: null, subscription_id: old.id },
    ]);
    expect((await numberRows('+84913000009'))[1]).toMatchObject({ status: 'active' });
    await expectIdempotent(late, s);
    await expectIdempotent(first, { accepted: 8, unchanged: 0, rejected: 0 });
  });

  it('refuses an event by the number\'s state once: the same file again gives the same refusal, whatever later lines changed', async () => {
    const path = events([
      { event_id: 'o-s1', type: 'sim_changed', msisdn: '0913000003', at: '2024-09-05T10:00:00' }, // no subscription yet
      { event_id: 'o-r1', type: 'registered', msisdn: '0913000003', at: '2024-09-01T10:00:00', ...A },
      { event_id: 'o-r2', type: 'registered', msisdn: '0913000003', at: '2024-09-20T10:00:00', ...B }, // still live
      { event_id: 'o-t1', type: 'terminated', msisdn: '0913000003', at: '2024-09-10T10:00:00' },
    ]);
    const s = await apply(path);
    expect(s).toMatchObject({ accepted: 2, unchanged: 0, rejected: 2 });
    expect(rejectsOf(s)).toEqual(['1,msisdn,NO_LIVE_SUBSCRIPTION', '3,msisdn,NUMBER_ALREADY_ACTIVE']);
    expect((await numberRows('+84913000003')).map((r) => [r.status, r.sim_changed_at])).toEqual([['terminated', null]]);
    const again = await expectIdempotent(path, s);
    expect(rejectsOf(again)).toEqual(rejectsOf(s));
  });
});

describe('a full file older than the deltas applied since', () => {
  const carrier = 'gmobile';
  const row = (msisdn: string, pid: string, name: string, birth: string, registered: string, sim = '') =>
    `${msisdn},${pid},${name},${birth},store,${registered},active,${sim},`;
  async function numberState(msisdn: string) {
    const r = await db.pool.query(
      `SELECT s.status, s.ended_reason, s.registered_at, s.sim_changed_at FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id
       WHERE c.slug = $1 AND s.msisdn_bidx = $2 ORDER BY s.registered_at`,
      [carrier, msisdnIndex(db.ring.currentBlindIndex.key, msisdn)],
    );
    return r.rows.map((s) => [s.status, s.ended_reason, s.registered_at.toISOString().slice(0, 10), s.sim_changed_at?.toISOString().slice(0, 10) ?? null]);
  }

  it('never undoes a holder change, revives a terminated number, or erases a SIM change', async () => {
    const A = [a, 'Võ Thị Hoa', '1985-03-01'] as const;
    const old = write('gmobile-old.csv', [
      H,
      row('0914000001', ...A, '2024-01-01T10:00:00'),
      row('0914000002', ...A, '2024-01-01T10:00:00'),
      row('0914000003', ...A, '2024-01-01T10:00:00'),
    ]);
    expect(await importSubs(old, carrier)).toMatchObject({ accepted: 3, rejected: 0 });
    const deltas = join(dir, 'gmobile-deltas.ndjson');
    writeFileSync(deltas, [
      { event_id: 'g-h1', type: 'holder_changed', msisdn: '0914000001', at: '2024-06-01T10:00:00', holder_personal_id: b, holder_full_name: 'Hồ Văn Nam', holder_birth_date: '1990-01-01' },
      { event_id: 'g-t2', type: 'terminated', msisdn: '0914000002', at: '2024-06-01T10:00:00' },
      { event_id: 'g-s3', type: 'sim_changed', msisdn: '0914000003', at: '2024-06-01T10:00:00' },
    ].map((e) => JSON.stringify(e)).join('\n') + '\n');
    expect(await applyEvents(deltas, carrier)).toMatchObject({ accepted: 3, rejected: 0 });
    const after = { 1: await numberState('+84914000001'), 2: await numberState('+84914000002'), 3: await numberState('+84914000003') };
    expect(after[1]).toEqual([['terminated', 'holder_changed', '2024-01-01', null], ['active', null, '2024-06-01', null]]);
    expect(after[2]).toEqual([['terminated', 'terminated', '2024-01-01', null]]);
    expect(after[3]).toEqual([['active', null, '2024-01-01', '2024-06-01']]);

    // The same old file again: each row is identical to a stored subscription, nothing changes.
    expect(await importSubs(old, carrier)).toMatchObject({ accepted: 0, unchanged: 3, rejected: 0 });
    // An old file with the first holder's name corrected: no row of it undoes a delta.
    const corrected = write('gmobile-corrected.csv', [
      H,
      row('0914000001', a, 'Võ Thị Hoà', '1985-03-01', '2024-01-01T10:00:00'),
      row('0914000002', a, 'Võ Thị Hoà', '1985-03-01', '2024-01-01T10:00:00'),
      row('0914000003', a, 'Võ Thị Hoà', '1985-03-01', '2024-01-01T10:00:00'),
    ]);
    const s = await importSubs(corrected, carrier);
    expect(s).toMatchObject({ accepted: 1, unchanged: 0, rejected: 2 });
    expect(readFileSync(s.rejects_file, 'utf8').trim().split('\n').slice(1)).toEqual(['2,registered_at,OLDER_THAN_STORED', '3,registered_at,OLDER_THAN_STORED']);
    expect(await numberState('+84914000001')).toEqual(after[1]);
    expect(await numberState('+84914000002')).toEqual(after[2]);
    // Updated in place (the name), the SIM change the delta reported kept.
    expect(await numberState('+84914000003')).toEqual(after[3]);

    // Newer than what is stored: the terminated number registered again, a later holder change.
    const newer = write('gmobile-newer.csv', [
      H,
      row('0914000001', a, 'Võ Thị Hoa', '1985-03-01', '2024-09-01T10:00:00'),
      row('0914000002', b, 'Hồ Văn Nam', '1990-01-01', '2024-09-01T10:00:00'),
    ]);
    expect(await importSubs(newer, carrier)).toMatchObject({ accepted: 2, rejected: 0 });
    expect((await numberState('+84914000001')).map((r) => r.slice(0, 3))).toEqual([
      ['terminated', 'holder_changed', '2024-01-01'], ['terminated', 'holder_changed', '2024-06-01'], ['active', null, '2024-09-01'],
    ]);
    expect((await numberState('+84914000002')).map((r) => r.slice(0, 3))).toEqual([['terminated', 'terminated', '2024-01-01'], ['active', null, '2024-09-01']]);
  });
});

describe('deltas and full files, more orders', () => {
  const carrier = 'reddi';
  const A = { holder_personal_id: a, holder_full_name: 'Võ Thị Hoa', holder_birth_date: '1985-03-01', channel: 'store' };
  let n = 0;
  const deltas = (list: Record<string, string>[]) => {
    const path = join(dir, `more-${n++}.ndjson`);
    writeFileSync(path, list.map((e) => JSON.stringify(e)).join('\n') + '\n');
    return applyEvents(path, carrier);
  };
  async function rows(msisdn: string) {
    const r = await db.pool.query(
      `SELECT s.status, s.ended_reason, s.registered_at FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id
       WHERE c.slug = $1 AND s.msisdn_bidx = $2 ORDER BY s.registered_at, s.id`,
      [carrier, msisdnIndex(db.ring.currentBlindIndex.key, msisdn)],
    );
    return r.rows.map((x) => [x.status, x.ended_reason]);
  }

  it('applies a block that arrives after a later device change (a SIM or device change says nothing about blocks)', async () => {
    expect(await deltas([
      { event_id: 'mo-r1', type: 'registered', msisdn: '0916000001', at: '2024-01-01T10:00:00', ...A },
      { event_id: 'mo-d1', type: 'device_changed', msisdn: '0916000001', at: '2024-02-01T10:05:00' },
      { event_id: 'mo-b1', type: 'blocked_both', msisdn: '0916000001', at: '2024-02-01T10:00:00' },
      { event_id: 'mo-u0', type: 'unblocked', msisdn: '0916000001', at: '2024-01-15T10:00:00' }, // older than the block: stale
    ])).toMatchObject({ accepted: 4, rejected: 0 });
    expect(await rows('+84916000001')).toEqual([['blocked_both', null]]);
    const r = await db.pool.query(`SELECT event_id, outcome FROM subscription_events WHERE event_id IN ('mo-b1', 'mo-u0') ORDER BY event_id`);
    expect(r.rows).toEqual([{ event_id: 'mo-b1', outcome: 'applied' }, { event_id: 'mo-u0', outcome: 'stale' }]);
  });

  it('takes a terminated row of a subscription a delta ended as unchanged, so an event before the end revives nothing', async () => {
    const live = write('reddi-1.csv', [H, `0916000002,${a},Võ Thị Hoa,1985-03-01,store,2024-01-01T10:00:00,active,,`]);
    expect(await importSubs(live, carrier)).toMatchObject({ accepted: 1 });
    expect(await deltas([{ event_id: 'mo-t2', type: 'terminated', msisdn: '0916000002', at: '2024-06-01T10:00:00' }])).toMatchObject({ accepted: 1 });
    // The carrier's next file lists it terminated: the same subscription, nothing new stored.
    const ended = write('reddi-2.csv', [H, `0916000002,${a},Võ Thị Hoa,1985-03-01,store,2024-01-01T10:00:00,terminated,,`]);
    expect(await importSubs(ended, carrier)).toMatchObject({ accepted: 0, unchanged: 1, rejected: 0 });
    expect(await rows('+84916000002')).toEqual([['terminated', 'terminated']]);
    // A registration dated before the termination is stale, not a new subscription.
    expect(await deltas([{ event_id: 'mo-r2', type: 'registered', msisdn: '0916000002', at: '2024-03-01T10:00:00', ...A }])).toMatchObject({ accepted: 1 });
    expect(await rows('+84916000002')).toEqual([['terminated', 'terminated']]);
  });

  it('remembers a refused row as seen: a later row of the same number in the file is a duplicate, not taken instead', async () => {
    const first = write('reddi-3.csv', [H, `0916000003,${b},Hồ Văn Nam,1990-01-01,store,2024-05-01T10:00:00,active,,`]);
    expect(await importSubs(first, carrier)).toMatchObject({ accepted: 1 });
    // Line 2 names an earlier holder (refused); line 3, the same number again, must not replace it.
    const second = write('reddi-4.csv', [
      H, `0916000003,${a},Võ Thị Hoa,1985-03-01,store,2024-01-01T10:00:00,active,,`, `0916000003,${a},Võ Thị Hoa,1985-03-01,store,2024-09-01T10:00:00,active,,`,
    ]);
    // Read a line at a time, so that the two rows are merged in two batches.
    const open = () => Readable.from(readFileSync(second, 'utf8').split(/(?<=\n)/).map((line) => Buffer.from(line)));
    const s = await importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier, path: second, rejectsPath: second + '.rejects', workers: 1, chunkBytes: 16, open });
    expect(s).toMatchObject({ accepted: 0, rejected: 2 });
    expect(readFileSync(s.rejects_file, 'utf8').trim().split('\n').slice(1)).toEqual(['2,registered_at,OLDER_THAN_STORED', '3,msisdn,DUPLICATE_KEY']);
    expect(await rows('+84916000003')).toEqual([['active', null]]);
  });
});

describe('a delta file refused whole', () => {
  it('starts no run, and leaves the carrier\'s interrupted run resumable, as a registry file refused whole does', async () => {
    const carrier = 'refusedwhole';
    // An interrupted delta run of this carrier (its first line committed, then the process died).
    const good = join(dir, 'refused-whole-good.ndjson');
    writeFileSync(good, [
      { event_id: 'rw-1', type: 'unblocked', msisdn: '0912888001', at: '2025-03-06T09:00:00+07:00' },
      { event_id: 'rw-2', type: 'unblocked', msisdn: '0912888002', at: '2025-03-06T09:00:00+07:00' },
    ].map((e) => JSON.stringify(e)).join('\n') + '\n');
    const first = await applyEvents(good, carrier);
    await db.pool.query(`UPDATE import_runs SET status = 'failed', checkpoint_line = 1 WHERE id = $1`, [first.run_id]);
    const runs = async () => (await db.pool.query<{ id: string; status: string }>(
      `SELECT r.id, r.status FROM import_runs r JOIN carriers c ON c.id = r.carrier_id WHERE c.slug = $1 ORDER BY r.started_at`, [carrier])).rows;
    const before = await runs();
    // A CSV file named .ndjson: refused whole (chunk-reader.ts).
    const wrong = write('refused-whole-wrong.ndjson', ['event_id,type,msisdn,at', 'rw-3,unblocked,0912888003,2025-03-06T09:00:00+07:00']);
    await expect(applyEvents(wrong, carrier)).rejects.toMatchObject({ code: 'IMPORT_FORMAT_INVALID' });
    expect(await runs()).toEqual(before);
  });
});
