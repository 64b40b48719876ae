/**
 * Bindings follow the subscription and the person (issue 3; DESIGN.md invariant 7): every registry
 * change that ends a number, gives it to a new holder, ports it out or changes its SIM, and every
 * death in the population registry, moves the bindings made through that number or of that
 * person, in the same transaction as the registry change, through the real import and delta code.
 * The platform's event carries the new status only (invariant 1); the reason is kept internally.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { importRegistry } from './import/import-service.ts';
import { applySubscriptionEvents } from './subscription-events.ts';
import { composePersonalId } from './personal-id.ts';
import { findLiveSubscriptionsByMsisdn, findPersonIdByPersonalId } from './registry-lookup.ts';
import { msisdnIndex } from './row-crypto.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { bindAccountInTransaction } from '../bindings/binding-service.ts';

let db: TestDatabase;
let dir: string;
let hooked: Provider;
let quiet: Provider;
let fileNo = 0;

const POP_HEADER = 'personal_id,full_name,birth_date,sex,status';
const SUB_HEADER = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at';

/** Persons 1..16 and one number each, 0912 100 0NN, registered in 2022. */
const people = Array.from({ length: 16 }, (_, i) => ({
  pid: composePersonalId('079', 1980 + i, i % 2 ? 'M' : 'F', 500 + i),
  name: `Nguyễn Văn Người ${String.fromCharCode(65 + i)}`,
  birth: `${1980 + i}-02-03`,
  sex: i % 2 ? 'M' : 'F',
  msisdn: `+849121000${String(i + 10)}`,
}));
const newcomer = { pid: composePersonalId('001', 1999, 'M', 901), name: 'Trần Văn Mới', birth: '1999-09-09' };

function write(lines: string[], ext = 'csv'): string {
  const p = join(dir, `f${fileNo++}.${ext}`);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}
const popRow = (p: (typeof people)[number], status = 'alive') => `${p.pid},${p.name},${p.birth},${p.sex},${status}`;
const subRow = (p: (typeof people)[number], o: { status?: string; simChangedAt?: string; holder?: typeof newcomer } = {}) => {
  const h = o.holder ?? p;
  return `${p.msisdn},${h.pid},${h.name},${h.birth},store,2022-01-01T08:00:00+07:00,${o.status ?? 'active'},${o.simChangedAt ?? ''}`;
};

const importPopulation = (lines: string[]) =>
  importRegistry({ pool: db.pool, ring: db.ring, kind: 'population', path: write([POP_HEADER, ...lines]), rejectsPath: join(dir, `r${fileNo}`), workers: 1 });
const importSubscriptions = (lines: string[]) =>
  importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier: 'viettel', path: write([SUB_HEADER, ...lines]), rejectsPath: join(dir, `r${fileNo}`), workers: 1 });
const applyDeltas = (events: Record<string, string>[], batchSize = 500) =>
  applySubscriptionEvents({
    pool: db.pool, ring: db.ring, carrier: 'viettel', path: write(events.map((e) => JSON.stringify(e)), 'ndjson'), rejectsPath: join(dir, `r${fileNo}`), batchSize,
  });

let eventNo = 0;
const delta = (type: string, p: (typeof people)[number], at: string, extra: Record<string, string> = {}) => ({ event_id: `e-${++eventNo}`, type, msisdn: p.msisdn, at, ...extra });

/** Binds an account of `provider` to the person through their number, as a confirmed verification does. */
async function bind(provider: Provider, p: (typeof people)[number], ref: string): Promise<string> {
  const personId = (await findPersonIdByPersonalId(db.pool, db.ring, p.pid))!;
  const [sub] = await findLiveSubscriptionsByMsisdn(db.pool, db.ring, p.msisdn);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await bindAccountInTransaction(client, provider, { accountRef: ref, personId, subscriptionId: sub!.id, method: 'phone', level: 'low', viaVerification: randomUUID() });
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const r = await db.pool.query<{ id: string }>('SELECT id FROM accounts WHERE provider_id = $1 AND account_ref = $2', [provider.id, ref]);
  return r.rows[0]!.id;
}

async function account(id: string) {
  const r = await db.pool.query<{ status: string; status_reason: string; sequence: string }>('SELECT status, status_reason, sequence FROM accounts WHERE id = $1', [id]);
  return { ...r.rows[0]!, sequence: Number(r.rows[0]!.sequence) };
}

const REASONS = ['sim_changed', 'terminated', 'holder_changed', 'ported_out', 'deceased'];

/**
 * The account moved to `status` for `reason`, once: its row, its history entry with the reason,
 * and exactly one new event whose payload holds the status and no reason at all, with a pending
 * delivery when (and only when) the provider has a webhook URL.
 */
async function expectMoved(accountId: string, provider: Provider, status: 'revoked' | 'needs_reverification', reason: string): Promise<void> {
  const a = await account(accountId);
  expect(a).toMatchObject({ status, status_reason: reason, sequence: 2 });
  const changes = await db.pool.query('SELECT status, reason, sequence::int AS sequence FROM account_changes WHERE account_id = $1 ORDER BY sequence', [accountId]);
  expect(changes.rows).toEqual([{ status: 'verified', reason: 'verified', sequence: 1 }, { status, reason, sequence: 2 }]);
  const events = await db.pool.query<{ id: string; type: string; payload: Record<string, unknown> }>(
    'SELECT id, type, payload FROM events WHERE account_id = $1 ORDER BY occurred_at', [accountId],
  );
  expect(events.rows.map((e) => e.type)).toEqual(['account.verified', `account.${status}`]);
  const ev = events.rows[1]!;
  expect(Object.keys(ev.payload).sort()).toEqual(['account_ref', 'id', 'level', 'minor', 'occurred_at', 'pseudonym', 'sequence', 'since', 'status', 'type']);
  expect(ev.payload).toMatchObject({ status, sequence: 2, level: 'low', minor: false });
  const text = JSON.stringify(ev.payload);
  for (const word of REASONS) expect(text).not.toContain(word);
  const deliveries = await db.pool.query('SELECT provider_id, status FROM webhook_deliveries WHERE event_id = $1', [ev.id]);
  expect(deliveries.rows).toEqual(provider.webhookUrl ? [{ provider_id: provider.id, status: 'pending' }] : []);
}

/** Every subscription of the number at the carrier, in the order they were made (uuidv7 ids). */
async function numberHistory(msisdn: string) {
  const r = await db.pool.query(
    `SELECT s.id, s.status, s.ended_reason, s.holder_bidx IS NOT NULL AS holder FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id
     WHERE c.slug = 'viettel' AND s.msisdn_bidx = $1 ORDER BY s.id`,
    [msisdnIndex(db.ring.currentBlindIndex.key, msisdn)],
  );
  return r.rows;
}

async function expectUntouched(accountId: string): Promise<void> {
  expect(await account(accountId)).toMatchObject({ status: 'verified', status_reason: 'verified', sequence: 1 });
  const events = await db.pool.query('SELECT type FROM events WHERE account_id = $1', [accountId]);
  expect(events.rows).toEqual([{ type: 'account.verified' }]);
}

/** A trigger that fails a run's checkpoint, i.e. the end of a batch, after its registry and binding changes. */
async function failNextCheckpoint(on: boolean): Promise<void> {
  if (on) {
    await db.pool.query(`CREATE OR REPLACE FUNCTION fail_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.checkpoint_line > OLD.checkpoint_line THEN RAISE EXCEPTION 'forced failure'; END IF; RETURN NEW; END $$`);
    await db.pool.query('CREATE TRIGGER fail_checkpoint BEFORE UPDATE ON import_runs FOR EACH ROW EXECUTE FUNCTION fail_checkpoint()');
  } else {
    await db.pool.query('DROP TRIGGER IF EXISTS fail_checkpoint ON import_runs');
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-lifecycle-'));
  await importPopulation([...people.map((p) => popRow(p)), `${newcomer.pid},${newcomer.name},${newcomer.birth},M,alive`]);
  await importSubscriptions(people.map((p) => subRow(p)));
  hooked = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Mạng Xã Hội', kind: 'platform', webhookUrl: 'http://127.0.0.1:9/hooks' })).provider;
  quiet = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Quiet Forum', kind: 'platform' })).provider;
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('deltas move the bindings made through the number', () => {
  it('termination, port-out and holder change revoke; a SIM change flags; other events leave them', async () => {
    const [p0, p1, p2, p3, p4] = people as [typeof people[number], typeof people[number], typeof people[number], typeof people[number], typeof people[number]];
    const a0 = await bind(hooked, p0, 'u0');
    const q0 = await bind(quiet, p0, 'q0');
    const a1 = await bind(hooked, p1, 'u1');
    const a2 = await bind(hooked, p2, 'u2');
    const a3 = await bind(hooked, p3, 'u3');
    const a4 = await bind(hooked, p4, 'u4');
    const later = new Date(Date.now() + 1000).toISOString();
    const s = await applyDeltas([
      delta('terminated', p0, later),
      delta('ported_out', p1, later),
      delta('holder_changed', p2, later, { holder_personal_id: newcomer.pid, holder_full_name: newcomer.name, holder_birth_date: newcomer.birth, channel: 'store' }),
      delta('sim_changed', p3, later),
      delta('blocked_both', p4, later),
      delta('device_changed', p4, later),
    ], 2);
    expect(s).toMatchObject({ accepted: 6, rejected: 0 });
    await expectMoved(a0, hooked, 'revoked', 'terminated');
    await expectMoved(q0, quiet, 'revoked', 'terminated');
    await expectMoved(a1, hooked, 'revoked', 'ported_out');
    await expectMoved(a2, hooked, 'revoked', 'holder_changed');
    await expectMoved(a3, hooked, 'needs_reverification', 'sim_changed');
    await expectUntouched(a4);
  });

  it('does not flag a binding made after the SIM change it reports (a late delta)', async () => {
    const p = people[5]!;
    const a = await bind(hooked, p, 'u5');
    const s = await applyDeltas([delta('sim_changed', p, '2024-05-01T10:00:00+07:00')]);
    expect(s).toMatchObject({ accepted: 1 });
    const [sub] = await findLiveSubscriptionsByMsisdn(db.pool, db.ring, p.msisdn);
    expect(sub!.sim_changed_at!.toISOString()).toBe('2024-05-01T03:00:00.000Z'); // applied, yet older than the binding
    await expectUntouched(a);
  });

  it('flags a binding whose SIM change, reported late, happened within 72 hours before the verification', async () => {
    const p = people[12]!;
    const a = await bind(hooked, p, 'u12');
    await applyDeltas([delta('sim_changed', p, new Date(Date.now() - 3_600_000).toISOString())]);
    await expectMoved(a, hooked, 'needs_reverification', 'sim_changed');
  });

  it('a batch that fails changes neither the registry nor the bindings, and the resumed run applies both', async () => {
    const p = people[6]!;
    const a = await bind(hooked, p, 'u6');
    const events = [delta('terminated', p, new Date(Date.now() + 1000).toISOString())];
    await failNextCheckpoint(true);
    try {
      await expect(applyDeltas(events)).rejects.toThrow();
    } finally {
      await failNextCheckpoint(false);
    }
    expect(await findLiveSubscriptionsByMsisdn(db.pool, db.ring, p.msisdn)).toHaveLength(1);
    await expectUntouched(a);
    const changes = await db.pool.query('SELECT count(*)::int AS n FROM account_changes WHERE account_id = $1', [a]);
    expect(changes.rows[0].n).toBe(1);
    // The same file again resumes the failed run and applies the event with its binding change.
    const path = join(dir, `f${fileNo - 1}.ndjson`);
    expect(await applySubscriptionEvents({ pool: db.pool, ring: db.ring, carrier: 'viettel', path, rejectsPath: path + '.r' })).toMatchObject({ accepted: 1 });
    expect(await findLiveSubscriptionsByMsisdn(db.pool, db.ring, p.msisdn)).toHaveLength(0);
    await expectMoved(a, hooked, 'revoked', 'terminated');
  });
});

describe('registry imports move the bindings', () => {
  it('a subscriber file that terminates a number, gives it a new holder or reports a newer SIM change', async () => {
    const [p7, p8, p9, p10] = [people[7]!, people[8]!, people[9]!, people[10]!];
    const a7 = await bind(hooked, p7, 'u7');
    const a8 = await bind(quiet, p8, 'q8');
    const a9 = await bind(hooked, p9, 'u9');
    const a10 = await bind(hooked, p10, 'u10');
    await new Promise((r) => setTimeout(r, 20));
    const simChange = new Date(Date.now() - 5).toISOString(); // after the bindings were verified
    const s = await importSubscriptions([
      subRow(p7, { status: 'terminated' }),
      subRow(p8, { holder: newcomer }),
      subRow(p9, { simChangedAt: simChange }),
      subRow(p10, { simChangedAt: '2023-03-03T10:00:00+07:00' }), // before the binding: not a reason
    ]);
    expect(s).toMatchObject({ accepted: 4, rejected: 0 });
    await expectMoved(a7, hooked, 'revoked', 'terminated');
    await expectMoved(a8, quiet, 'revoked', 'holder_changed');
    await expectMoved(a9, hooked, 'needs_reverification', 'sim_changed');
    await expectUntouched(a10);
  });

  it('a subscriber row with no holder, or a holder where there was none, is a new holder; a corrected name or birth date is not', async () => {
    const [p13, p14, p15] = [people[13]!, people[14]!, people[15]!];
    const a13 = await bind(hooked, p13, 'u13');
    const a14 = await bind(hooked, p14, 'u14');
    const a15 = await bind(quiet, p15, 'q15');
    const [was13] = await findLiveSubscriptionsByMsisdn(db.pool, db.ring, p13.msisdn);
    const [was14] = await findLiveSubscriptionsByMsisdn(db.pool, db.ring, p14.msisdn);
    const noHolder = (p: (typeof people)[number]) => `${p.msisdn},,,,store,2022-01-01T08:00:00+07:00,active,`;
    const rows = [
      noHolder(p13),
      `${p14.msisdn},${p14.pid},${p14.name} Thị,1970-01-01,store,2022-01-01T08:00:00+07:00,active,`, // same person, other name and birth date
      noHolder(p15),
    ];
    expect(await importSubscriptions(rows)).toMatchObject({ accepted: 3, rejected: 0 });
    // Holder to none: the first holder's subscription ended and kept, its bindings revoked, a new row for "no holder".
    expect(await numberHistory(p13.msisdn)).toEqual([
      { id: was13!.id, status: 'terminated', ended_reason: 'holder_changed', holder: true },
      { id: expect.any(String), status: 'active', ended_reason: null, holder: false },
    ]);
    await expectMoved(a13, hooked, 'revoked', 'holder_changed');
    await expectMoved(a15, quiet, 'revoked', 'holder_changed');
    // The same personal ID: updated in place, the binding kept.
    expect(await numberHistory(p14.msisdn)).toEqual([{ id: was14!.id, status: 'active', ended_reason: null, holder: true }]);
    await expectUntouched(a14);
    expect(await importSubscriptions(rows)).toMatchObject({ accepted: 0, unchanged: 3 });

    // None to a holder: a new subscription too, the holderless one kept as history.
    const [holderless] = await findLiveSubscriptionsByMsisdn(db.pool, db.ring, p13.msisdn);
    expect(await importSubscriptions([subRow(p13, { holder: newcomer })])).toMatchObject({ accepted: 1 });
    expect((await numberHistory(p13.msisdn)).slice(1)).toEqual([
      { id: holderless!.id, status: 'terminated', ended_reason: 'holder_changed', holder: false },
      { id: expect.any(String), status: 'active', ended_reason: null, holder: true },
    ]);
    expect(await account(a13)).toMatchObject({ status: 'revoked', sequence: 2 });
  });

  it('a population file that records a death revokes every binding of the person, at every provider', async () => {
    const p = people[11]!;
    const a = await bind(hooked, p, 'u11');
    const q = await bind(quiet, p, 'q11');
    const other = await bind(hooked, people[10]!, 'u10b');

    await failNextCheckpoint(true);
    try {
      await expect(importPopulation([popRow(p, 'deceased')])).rejects.toThrow();
    } finally {
      await failNextCheckpoint(false);
    }
    const status = await db.pool.query(`SELECT status FROM persons WHERE id = (SELECT person_id FROM accounts WHERE id = $1)`, [a]);
    expect(status.rows[0].status).toBe('alive');
    await expectUntouched(a);
    await expectUntouched(q);

    expect(await importPopulation([popRow(p, 'deceased')])).toMatchObject({ accepted: 1 });
    await expectMoved(a, hooked, 'revoked', 'deceased');
    await expectMoved(q, quiet, 'revoked', 'deceased');
    await expectUntouched(other);
    // Unchanged on a second import: nothing moves twice.
    expect(await importPopulation([popRow(p, 'deceased')])).toMatchObject({ accepted: 0, unchanged: 1 });
    expect(await account(a)).toMatchObject({ sequence: 2 });
  });
});
