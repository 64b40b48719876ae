/**
 * The end of a minor's account at 16 (Decree 147/2024 Art. 27; issue 4 "Guardians") on a real
 * database: persons imported through the real import (birth dates sealed), accounts bound through
 * the binding service with a guardian, then endMinorities: the person who is 16 today (Vietnam's
 * date) gets one `account.minor_ended` event carrying no personal data, a 15-year-old and an adult
 * are untouched, and two runs at once end each account once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { findPersonIdByPersonalId } from '../registry/registry-lookup.ts';
import { composePersonalId } from '../registry/personal-id.ts';
import { vietnamToday } from '../registry/registry-rows.ts';
import { bindAccountInTransaction, getAccountStatuses } from './binding-service.ts';
import { endMinorities, endMinoritiesDaily } from './minor-accounts.ts';

let db: TestDatabase;
let platform: Provider;
let serial = 0;

/** `YYYY-MM-DD` of Vietnam's date today shifted by `days`, then `years` earlier. */
function birthDate(yearsAgo: number, days = 0): string {
  const d = new Date(`${vietnamToday()}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  // 16 is a multiple of 4: a 29 February stays a real date (2100 aside).
  d.setUTCFullYear(d.getUTCFullYear() - yearsAgo);
  return d.toISOString().slice(0, 10);
}

/** A name may hold no digits: a serial spelt in letters. */
const letters = (n: number) => [...String(n)].map((d) => 'ABCDEGHIKL'[Number(d)]).join('') + 'anh';

interface Person { personalId: string; id: string; birth: string; name: string }

/** Imports persons with these birth dates through the real import; returns them with their ids. */
async function importPersons(births: readonly string[]): Promise<Person[]> {
  const dir = mkdtempSync(join(tmpdir(), 'idbind-minors-'));
  try {
    const rows = births.map((birth) => ({ birth, personalId: composePersonalId('001', Number(birth.slice(0, 4)), 'F', ++serial), name: `Trần Thị ${letters(serial)}` }));
    writeFileSync(join(dir, 'population.csv'), [
      'personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids',
      ...rows.map((p) => `${p.personalId},${p.name},${p.birth},F,alive,,`),
    ].join('\n') + '\n');
    const summary = await importRegistry({ pool: db.pool, ring: db.ring, kind: 'population', path: join(dir, 'population.csv'), rejectsPath: join(dir, 'rejects.csv'), workers: 1 });
    expect(summary.rejected).toBe(0);
    return Promise.all(rows.map(async (p) => ({ ...p, id: (await findPersonIdByPersonalId(db.pool, db.ring, p.personalId))! })));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bind(accountRef: string, personId: string, guardianPersonId: string | null): Promise<void> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await bindAccountInTransaction(client, platform, { accountRef, personId, subscriptionId: null, method: 'eid', level: 'substantial', viaVerification: 'test', guardianPersonId });
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

interface AccountState { minor: boolean; status: string; status_reason: string; sequence: string; status_since: Date; guardian_person_id: string | null }
async function account(ref: string): Promise<AccountState> {
  const r = await db.pool.query<AccountState>('SELECT minor, status, status_reason, sequence, status_since, guardian_person_id FROM accounts WHERE provider_id = $1 AND account_ref = $2', [platform.id, ref]);
  return r.rows[0]!;
}

async function events(ref: string): Promise<{ type: string; payload: Record<string, unknown> }[]> {
  const r = await db.pool.query<{ type: string; payload: Record<string, unknown> }>(
    `SELECT e.type, e.payload FROM events e JOIN accounts a ON a.id = e.account_id WHERE a.provider_id = $1 AND a.account_ref = $2 ORDER BY e.occurred_at`,
    [platform.id, ref],
  );
  return r.rows;
}

let guardian: Person;

beforeAll(async () => {
  db = await createTestDatabase();
  platform = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Minor Platform', kind: 'platform' })).provider;
  guardian = (await importPersons(['1980-04-02']))[0]!;
});
afterAll(async () => db.drop());

describe('endMinorities', () => {
  it("decides by Vietnam's calendar date (UTC+7), not UTC", async () => {
    // Born 2004-06-15: 16 from 2020-06-15 in Vietnam, which begins at 2020-06-14T17:00:00Z.
    const [p] = await importPersons(['2004-06-15']);
    await bind('vn-date', p!.id, guardian.id);
    expect(await endMinorities(db.pool, db.ring, { now: Date.parse('2020-06-14T16:59:59Z') })).toEqual({ checked: 1, ended: 0 });
    expect((await account('vn-date')).minor).toBe(true);
    expect(await endMinorities(db.pool, db.ring, { now: new Date('2020-06-14T17:00:00Z') })).toEqual({ checked: 1, ended: 1 });
    expect((await account('vn-date')).minor).toBe(false);
  });

  it('ends the minority of a person who is 16 today, once, with an event that carries no personal data', async () => {
    const [sixteen, fifteen, adult] = await importPersons([birthDate(16), birthDate(16, 1), '1995-09-09']);
    await bind('kid-16', sixteen!.id, guardian.id);
    await bind('kid-15', fifteen!.id, guardian.id);
    await bind('adult-1', adult!.id, null);
    const before = await account('kid-16');
    expect(before).toMatchObject({ minor: true, status: 'verified', sequence: '1', guardian_person_id: guardian.id });
    // The platform reads `minor` in the status, never who the guardian is.
    const statuses = async () => (await getAccountStatuses(db.pool, platform, ['kid-16', 'kid-15', 'adult-1', 'nobody'])).map((x) => x.minor);
    expect(await statuses()).toEqual([true, true, false, false]);

    expect(await endMinorities(db.pool, db.ring, { batchSize: 1 })).toEqual({ checked: 2, ended: 1 });

    // Still verified since the same instant; the change is the minority, with its reason.
    const after = await account('kid-16');
    expect(after).toMatchObject({ minor: false, status: 'verified', status_reason: 'minor_ended', sequence: '2', guardian_person_id: guardian.id });
    expect(after.status_since.getTime()).toBe(before.status_since.getTime());
    expect(await statuses()).toEqual([false, true, false, false]);
    expect(await account('kid-15')).toMatchObject({ minor: true, status_reason: 'verified', sequence: '1' });
    expect(await account('adult-1')).toMatchObject({ minor: false, status_reason: 'verified', sequence: '1' });

    const ended = (await events('kid-16')).filter((e) => e.type === 'account.minor_ended');
    expect(ended).toHaveLength(1);
    const payload = ended[0]!.payload;
    const verified = (await events('kid-16')).find((e) => e.type === 'account.verified')!.payload;
    // The same shape as every account event.
    expect(Object.keys(payload).sort()).toEqual(Object.keys(verified).sort());
    expect(verified).toMatchObject({ minor: true, sequence: 1 });
    expect(payload).toMatchObject({ type: 'account.minor_ended', account_ref: 'kid-16', status: 'verified', level: 'substantial', pseudonym: verified.pseudonym, minor: false, sequence: 2 });
    const text = JSON.stringify(payload);
    for (const secret of [sixteen!.personalId, sixteen!.birth, sixteen!.name, sixteen!.id, guardian.id, guardian.personalId, guardian.name, guardian.birth]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(/guardian|birth/i);
    expect((await events('kid-15')).map((e) => e.type)).toEqual(['account.verified']);
    expect((await events('adult-1')).map((e) => e.type)).toEqual(['account.verified']);

    // The person's history shows the read and its reason; the run is recorded once.
    const personal = await db.pool.query<{ detail: Record<string, unknown> }>(`SELECT detail FROM access_records WHERE person_id = $1 AND purpose = 'age_check'`, [sixteen!.id]);
    expect(personal.rows.map((r) => r.detail)).toEqual([{ reason: 'minor_ended', provider: 'Minor Platform', account_ref: 'kid-16' }]);
    expect((await db.pool.query(`SELECT 1 FROM access_records WHERE person_id = $1 AND purpose = 'age_check'`, [fifteen!.id])).rowCount).toBe(0);
    const batch = await db.pool.query<{ detail: Record<string, unknown> }>(`SELECT detail FROM access_records WHERE purpose = 'minor_age_check' AND person_id IS NULL ORDER BY id DESC LIMIT 1`);
    expect(batch.rows[0]!.detail).toEqual({ on: vietnamToday(), checked: 2, ended: 1 });
    const history = await db.pool.query<{ status: string; reason: string }>(
      `SELECT c.status, c.reason FROM account_changes c JOIN accounts a ON a.id = c.account_id WHERE a.account_ref = 'kid-16' ORDER BY c.sequence`,
    );
    expect(history.rows).toEqual([{ status: 'verified', reason: 'verified' }, { status: 'verified', reason: 'minor_ended' }]);

    // Again: nothing more to do, no second event.
    expect(await endMinorities(db.pool, db.ring)).toEqual({ checked: 1, ended: 0 });
    expect((await events('kid-16')).filter((e) => e.type === 'account.minor_ended')).toHaveLength(1);
  });

  it('leaves revoked and unbound accounts alone', async () => {
    const [a, b] = await importPersons([birthDate(17), birthDate(16)]);
    await bind('revoked-kid', a!.id, guardian.id);
    await bind('unbound-kid', b!.id, guardian.id);
    await db.pool.query(`UPDATE accounts SET status = 'revoked', status_reason = 'terminated' WHERE account_ref = 'revoked-kid'`);
    await db.pool.query(`UPDATE accounts SET status = 'unbound', status_reason = 'account_closed' WHERE account_ref = 'unbound-kid'`);
    const r = await endMinorities(db.pool, db.ring);
    expect(r.ended).toBe(0);
    expect((await account('revoked-kid')).minor).toBe(true);
    expect((await events('unbound-kid')).map((e) => e.type)).toEqual(['account.verified']);
  });

  it('two runs at once end each account once, with one event and one access record each', async () => {
    const persons = await importPersons(Array.from({ length: 24 }, (_, i) => birthDate(16, -i)));
    const refs = persons.map((_, i) => `race-${i}`);
    for (const [i, p] of persons.entries()) await bind(refs[i]!, p.id, guardian.id);
    const [r1, r2] = await Promise.all([
      endMinorities(db.pool, db.ring, { batchSize: 5 }),
      endMinorities(db.pool, db.ring, { batchSize: 7 }),
    ]);
    expect(r1.ended + r2.ended).toBe(24);
    const counts = await db.pool.query<{ ref: string; events: string; states: string }>(
      `SELECT a.account_ref AS ref, (SELECT count(*) FROM events e WHERE e.account_id = a.id AND e.type = 'account.minor_ended') AS events,
              a.minor::text || ':' || a.sequence AS states
       FROM accounts a WHERE a.account_ref = ANY($1::text[])`,
      [refs],
    );
    expect(counts.rows).toHaveLength(24);
    for (const row of counts.rows) expect({ ref: row.ref, events: row.events, states: row.states }).toEqual({ ref: row.ref, events: '1', states: 'false:2' });
    const records = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM access_records WHERE person_id = ANY($1::uuid[]) AND purpose = 'age_check'`, [persons.map((p) => p.id)]);
    expect(Number(records.rows[0]!.n)).toBe(24);
  });
});

describe('endMinoritiesDaily', () => {
  it("runs at most once per Vietnam day for a pool, and again on the next day", async () => {
    const [p] = await importPersons([birthDate(16)]);
    await bind('daily-kid', p!.id, guardian.id);
    let ringCalls = 0;
    const ring = async () => {
      ringCalls++;
      return db.ring;
    };
    const day = Date.parse('2040-01-01T05:00:00Z');
    // In 2040 the 15-year-old of an earlier test is 16 too: two accounts end.
    expect(await endMinoritiesDaily(db.pool, ring, day)).toEqual({ checked: 2, ended: 2 });
    expect((await account('daily-kid')).minor).toBe(false);
    expect(await endMinoritiesDaily(db.pool, ring, day + 3_600_000)).toBeUndefined();
    expect(ringCalls).toBe(1);
    // 2040-01-01T17:00Z is 2040-01-02 in Vietnam.
    expect(await endMinoritiesDaily(db.pool, ring, Date.parse('2040-01-01T17:00:00Z'))).toEqual({ checked: expect.any(Number), ended: 0 });
    expect(ringCalls).toBe(2);
  });
});
