/**
 * Bindings follow the subscription and the person (issue 3; DESIGN.md invariants 1, 4 and 7),
 * end to end from what a platform and the person see: accounts bound by real confirmations
 * (several numbers of one person, several platforms, an eID binding, a minor's account whose
 * guardian is that person), then the carrier's deltas and the population file move them. For
 * each change: the statuses, one event per account and change in sequence order with no reason,
 * what the status cache answers afterwards (single and bulk; a cached status must not survive the
 * change), and the reason in the person's own view. registry-lifecycle.db.test.ts covers each
 * registry path on its own; this file covers their combinations and what is seen of them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../../test/support/database.ts';
import { N, PEOPLE, many, openVerificationTestbed, type VerificationTestbed } from '../../test/support/verification-fixture.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { applySubscriptionEvents } from '../registry/subscription-events.ts';
import { findLiveSubscriptionsByMsisdn, findPersonIdByPersonalId } from '../registry/registry-lookup.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { readOutbox } from '../verification/sms/sms-outbox.ts';
import { confirmCode, startVerification, type VerificationDeps } from '../verification/verification-service.ts';
import { accountsOfPerson } from '../citizen/citizen-repository.ts';
import { associatedData, openRecord } from '../kernel/crypto/envelope.ts';
import { dataKeyFor } from '../kernel/crypto/key-ring.ts';
import { AccountStatusCache } from './account-status-cache.ts';
import { bindAccountInTransaction, getAccountStatus, getAccountStatuses, unbindAccount, type AccountStatusView } from './binding-service.ts';

let bed: VerificationTestbed;
let db: TestDatabase;
let deps: VerificationDeps;
let hooked: Provider; // has a webhook URL
let quiet: Provider; // has none
let cache: AccountStatusCache;
let fileNo = 0;
let eventNo = 0;

const REASON_WORDS = ['sim_changed', 'terminated', 'holder_changed', 'ported_out', 'ported_in_elsewhere', 'deceased', 'reason'];
const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

beforeAll(async () => {
  bed = await openVerificationTestbed('Lifecycle Net', { IDBIND_LIMIT_NUMBER_PER_HOUR: '1000', IDBIND_LIMIT_NUMBER_PER_DAY: '1000' });
  ({ db, deps } = bed);
  hooked = (await createProvider(db.pool, db.ring, { allowLoopback: true }, {
    name: 'Hooked Social', kind: 'platform', webhookUrl: 'http://127.0.0.1:9/hooks', limits: { accountsPerPerson: 100 },
  })).provider;
  quiet = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Quiet Forum', kind: 'platform', limits: { accountsPerPerson: 100 } })).provider;
  cache = new AccountStatusCache({ maxEntries: 1000, maxAgeMs: 10 * 60_000, newClient: () => new pg.Client({ connectionString: db.url }) });
  cache.start();
  expect(await cache.waitUntilListening(30_000)).toBe(true);
});
afterAll(async () => {
  await cache?.close();
  await bed?.close();
});

/** A real phone verification: start, the code from the demo outbox (of `outbox`'s database), confirm. */
async function verify(provider: Provider, ref: string, phone: string, d: VerificationDeps = deps, outbox: Pick<TestDatabase, 'pool' | 'ring'> = db): Promise<void> {
  const s = await startVerification(d, provider, { accountRef: ref, phone, clientIp: '127.0.0.1' });
  const code = (await readOutbox(outbox.pool, outbox.ring, phone)).at(-1)!.text.match(/\b\d{6}\b/)![0];
  await confirmCode(d, provider, s.id, code);
}

/** A binding made by another method (national eID or chip): through no number. */
async function bindWithoutNumber(provider: Provider, ref: string, personalId: string): Promise<void> {
  const personId = (await findPersonIdByPersonalId(db.pool, db.ring, personalId))!;
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await bindAccountInTransaction(client, provider, { accountRef: ref, personId, subscriptionId: null, method: 'eid', level: 'substantial', viaVerification: randomUUID() });
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** A minor's account as the hosted flow binds it: through the minor's number, with the guardian's consent. */
async function bindMinor(provider: Provider, ref: string): Promise<void> {
  const minor = (await findPersonIdByPersonalId(db.pool, db.ring, PEOPLE.minor))!;
  const guardian = (await findPersonIdByPersonalId(db.pool, db.ring, PEOPLE.adult))!;
  const [sub] = await findLiveSubscriptionsByMsisdn(db.pool, db.ring, N.minor);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await bindAccountInTransaction(client, provider, {
      accountRef: ref, personId: minor, subscriptionId: sub!.id, method: 'phone', level: 'low', viaVerification: randomUUID(), guardianPersonId: guardian,
    });
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

function delta(type: string, msisdn: string, at: string) {
  return { event_id: `lc-${++eventNo}`, type, msisdn, at };
}

async function applyDeltas(events: Record<string, string>[]) {
  const path = join(bed.dir, `lc-${fileNo++}.ndjson`);
  writeFileSync(path, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const s = await applySubscriptionEvents({ pool: db.pool, ring: db.ring, carrier: 'vinaphone', path, rejectsPath: `${path}.rejects` });
  expect(s.rejected).toBe(0);
  return s;
}

async function recordDeath(personalId: string, name: string, birth: string, sex: string) {
  const path = join(bed.dir, `lc-pop-${fileNo++}.csv`);
  const died = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  writeFileSync(path, `personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids\n${personalId},${name},${birth},${sex},deceased,${died},\n`);
  const s = await importRegistry({ pool: db.pool, ring: db.ring, kind: 'population', path, rejectsPath: `${path}.rejects`, workers: 1 });
  expect(s).toMatchObject({ accepted: 1, rejected: 0 });
}

interface Row { status: string; status_reason: string; sequence: number }
async function account(provider: Provider, ref: string): Promise<Row> {
  const r = await db.pool.query<Row>(
    'SELECT status, status_reason, sequence::int AS sequence FROM accounts WHERE provider_id = $1 AND account_ref = $2', [provider.id, ref]);
  return r.rows[0]!;
}

/** The account's events, oldest first: type and payload. */
async function events(provider: Provider, ref: string) {
  const r = await db.pool.query<{ type: string; payload: Record<string, unknown>; delivery: string | null }>(
    `SELECT e.type, e.payload, d.status AS delivery FROM events e JOIN accounts a ON a.id = e.account_id
       LEFT JOIN webhook_deliveries d ON d.event_id = e.id
     WHERE a.provider_id = $1 AND a.account_ref = $2 ORDER BY (e.payload->>'sequence')::int`, [provider.id, ref]);
  return r.rows;
}

/**
 * The account's last event is the `status` change at `sequence`, the only one at that sequence,
 * carrying exactly the status view's members and no reason; a delivery is pending for the hooked
 * platform only.
 */
async function expectLastEvent(provider: Provider, ref: string, status: string, sequence: number): Promise<void> {
  const all = await events(provider, ref);
  expect(all.map((e) => e.payload.sequence)).toEqual(Array.from({ length: sequence }, (_, i) => i + 1));
  const last = all.at(-1)!;
  expect(last.type).toBe(status === 'verified' ? 'account.verified' : `account.${status}`);
  expect(Object.keys(last.payload).sort()).toEqual(['account_ref', 'id', 'level', 'minor', 'occurred_at', 'pseudonym', 'sequence', 'since', 'status', 'type']);
  expect(last.payload).toMatchObject({ account_ref: ref, status, sequence });
  const { account_ref: _ref, ...rest } = last.payload; // the platform's own ref may say anything
  const text = JSON.stringify(rest);
  for (const word of REASON_WORDS) expect(text).not.toContain(word);
  expect(last.delivery).toBe(provider.webhookUrl ? 'pending' : null);
}

/** What the platform reads through the status cache (after the registry commit's notification), single and bulk, equal to a fresh read. */
async function platformReads(provider: Provider, refs: string[]): Promise<Record<string, AccountStatusView['status']>> {
  await cache.sync();
  const bulk = await getAccountStatuses(db.pool, provider, refs, cache);
  const fresh = await getAccountStatuses(db.pool, provider, refs);
  expect(bulk).toEqual(fresh);
  for (const [i, ref] of refs.entries()) {
    const one = await getAccountStatus(db.pool, provider, ref, cache);
    expect(one).toEqual(fresh[i]);
    expect(Object.keys(one).sort()).toEqual(['account_ref', 'level', 'minor', 'pseudonym', 'since', 'status']);
  }
  return Object.fromEntries(bulk.map((v) => [v.account_ref, v.status]));
}

/** The person's own view (GET /v1/me/accounts reads this): status and reason by provider and ref. */
async function personView(personalId: string): Promise<Record<string, string>> {
  const personId = (await findPersonIdByPersonalId(db.pool, db.ring, personalId))!;
  const rows = await accountsOfPerson(db.pool, personId);
  return Object.fromEntries(rows.map((r) => [`${r.provider_name === hooked.name ? 'h' : 'q'}:${r.account_ref}`, `${r.status}/${r.status_reason}`]));
}

describe('a SIM change reported late moves only the bindings it concerns', () => {
  it('flags a binding made before the change, not one made through the same number after the change had left the window', async () => {
    // Two bindings through one number: one ten days old (the test cannot wait: its verification
    // time is set back), one made now. The carrier then reports a SIM change of five days ago,
    // late. The old binding predates the swap: re-verify. The new one was made 5 days after the
    // swap, outside the 72-hour window: the number was eligible even had the swap been known.
    await verify(hooked, 'late-old', many(0));
    await db.pool.query(`UPDATE accounts SET verified_at = now() - interval '10 days', status_since = now() - interval '10 days'
                         WHERE provider_id = $1 AND account_ref = 'late-old'`, [hooked.id]);
    await verify(quiet, 'late-new', many(0));
    await platformReads(hooked, ['late-old']);
    await platformReads(quiet, ['late-new']);
    await applyDeltas([delta('sim_changed', many(0), hoursAgo(5 * 24))]);
    expect(await account(hooked, 'late-old')).toEqual({ status: 'needs_reverification', status_reason: 'sim_changed', sequence: 2 });
    await expectLastEvent(hooked, 'late-old', 'needs_reverification', 2);
    expect(await account(quiet, 'late-new')).toEqual({ status: 'verified', status_reason: 'verified', sequence: 1 });
    expect((await events(quiet, 'late-new')).map((e) => e.type)).toEqual(['account.verified']);
    expect(await platformReads(hooked, ['late-old'])).toEqual({ 'late-old': 'needs_reverification' });
    expect(await platformReads(quiet, ['late-new'])).toEqual({ 'late-new': 'verified' });
  });

  it('a full file reporting that SIM change weeks late does the same', async () => {
    await verify(hooked, 'file-old', many(1));
    await db.pool.query(`UPDATE accounts SET verified_at = now() - interval '30 days', status_since = now() - interval '30 days'
                         WHERE provider_id = $1 AND account_ref = 'file-old'`, [hooked.id]);
    await verify(quiet, 'file-new', many(1));
    const path = join(bed.dir, `lc-full-${fileNo++}.csv`);
    writeFileSync(path, [
      'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at',
      `${many(1)},${PEOPLE.adult},Nguyen Van An,1990-05-01,store,2020-01-01T00:00:00Z,active,${hoursAgo(20 * 24)},`,
    ].join('\n') + '\n');
    expect(await importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier: 'vinaphone', path, rejectsPath: `${path}.r`, workers: 1 }))
      .toMatchObject({ accepted: 1, rejected: 0 });
    expect(await account(hooked, 'file-old')).toMatchObject({ status: 'needs_reverification', sequence: 2 });
    expect(await account(quiet, 'file-new')).toEqual({ status: 'verified', status_reason: 'verified', sequence: 1 });
  });
});

describe('a holder change naming the number\'s own holder', () => {
  // A carrier re-registering its subscriber (a re-KYC at a store, a corrected name) may report it
  // as `holder_changed` with the same personal ID. The number did not change hands: as a full
  // file's row of the same holder (import-service.ts sameHolder), it corrects the holder's data in
  // place and revokes nothing (revoking would end the person's accounts for a data correction).
  it('keeps the subscription and its bindings, and takes the corrected data and channel', async () => {
    await verify(hooked, 'rekyc', many(8));
    const [before] = await findLiveSubscriptionsByMsisdn(db.pool, db.ring, many(8));
    await applyDeltas([{
      ...delta('holder_changed', many(8), hoursAgo(2)), holder_personal_id: PEOPLE.adult, holder_full_name: 'Nguyễn Văn An',
      holder_birth_date: '1990-05-01', channel: 'vneid',
    }]);
    const live = await findLiveSubscriptionsByMsisdn(db.pool, db.ring, many(8));
    expect(live.map((s) => s.id)).toEqual([before!.id]);
    const { rows } = await db.pool.query(
      `SELECT status, channel, ended_reason, registered_at = $2::timestamptz AS registration_kept, last_event_at IS NOT NULL AS event_recorded
         FROM subscriptions WHERE msisdn_bidx = (SELECT msisdn_bidx FROM subscriptions WHERE id = $1)`, [before!.id, '2020-01-01T00:00:00Z']);
    expect(rows).toEqual([{ status: 'active', channel: 'vneid', ended_reason: null, registration_kept: true, event_recorded: true }]);
    const sealed = (await db.pool.query('SELECT sealed, dek_version FROM subscriptions WHERE id = $1', [before!.id])).rows[0];
    expect(openRecord(dataKeyFor(db.ring, sealed.dek_version), sealed.sealed, associatedData('subscriptions', 'sealed', before!.id)))
      .toEqual([many(8), PEOPLE.adult, 'Nguyễn Văn An', '1990-05-01']);
    expect(await account(hooked, 'rekyc')).toEqual({ status: 'verified', status_reason: 'verified', sequence: 1 });
    expect(await platformReads(hooked, ['rekyc'])).toEqual({ rekyc: 'verified' });
    // The number still verifies its holder, and another holder's change still ends it.
    await verify(quiet, 'rekyc-after', many(8));
    expect(await account(quiet, 'rekyc-after')).toMatchObject({ status: 'verified' });
    await applyDeltas([{
      ...delta('holder_changed', many(8), hoursAgo(1)), holder_personal_id: PEOPLE.adultB, holder_full_name: 'Pham Minh Duc', holder_birth_date: '2005-01-01',
    }]);
    expect(await account(hooked, 'rekyc')).toEqual({ status: 'revoked', status_reason: 'holder_changed', sequence: 2 });
    expect(await account(quiet, 'rekyc-after')).toMatchObject({ status: 'revoked', status_reason: 'holder_changed' });
  });
});

/**
 * Binds through the confirmation while a delta file changes the number at the worst moment:
 * between the confirmation's re-check (which share-locks the subscription) and its binding. The
 * delta must wait for the confirmation, then move the new binding in its own transaction.
 */
describe('a confirmation racing the termination or SIM change of its number', () => {
  /** Resolves once a backend of the test database waits for a row lock (or after 30 s). */
  async function rowLockWait(): Promise<boolean> {
    for (const end = Date.now() + 30_000; Date.now() < end;) {
      const r = await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                                       AND wait_event IN ('transactionid', 'tuple')`);
      if (r.rows.length > 0) return true;
      await new Promise((res) => setTimeout(res, 50));
    }
    return false;
  }

  for (const [type, status, reason] of [['terminated', 'revoked', 'terminated'], ['sim_changed', 'needs_reverification', 'sim_changed']] as const) {
    it(`${type} while the confirmation binds: the delta waits, then moves the new binding (${status})`, async () => {
      const phone = type === 'terminated' ? many(2) : many(3);
      const ref = `race-${type}`;
      const s = await startVerification(deps, hooked, { accountRef: ref, phone, clientIp: '127.0.0.1' });
      const code = (await readOutbox(db.pool, db.ring, phone)).at(-1)!.text.match(/\b\d{6}\b/)![0];
      let change: Promise<unknown> | undefined;
      let waited = false;
      const raced = { ...deps, beforeBind: async () => {
        change = applyDeltas([delta(type, phone, hoursAgo(0.01))]);
        waited = await Promise.race([change.then(() => false), rowLockWait()]);
      } };
      await confirmCode(raced, hooked, s.id, code);
      await change;
      expect(waited).toBe(true);
      expect(await account(hooked, ref)).toEqual({ status, status_reason: reason, sequence: 2 });
      await expectLastEvent(hooked, ref, status, 2);
      expect(await platformReads(hooked, [ref])).toEqual({ [ref]: status });
    });

    it(`${type} committing while the confirmation waits for the number: the confirmation binds no one`, async () => {
      const phone = type === 'terminated' ? many(4) : many(5);
      const ref = `race-first-${type}`;
      const s = await startVerification(deps, hooked, { accountRef: ref, phone, clientIp: '127.0.0.1' });
      const code = (await readOutbox(db.pool, db.ring, phone)).at(-1)!.text.match(/\b\d{6}\b/)![0];
      // The delta's batch is held at its checkpoint, after its registry change and the bindings'
      // (the subscription locked for update), by an advisory lock the test holds.
      const gate = await db.pool.connect();
      const key = Number.parseInt(randomBytes(3).toString('hex'), 16);
      await gate.query('SELECT pg_advisory_lock($1)', [key]);
      await db.pool.query(`CREATE OR REPLACE FUNCTION lc_hold_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.checkpoint_line > OLD.checkpoint_line THEN PERFORM pg_advisory_xact_lock(${key}); END IF; RETURN NEW; END $$`);
      await db.pool.query('CREATE TRIGGER lc_hold_checkpoint BEFORE UPDATE ON import_runs FOR EACH ROW EXECUTE FUNCTION lc_hold_checkpoint()');
      let confirming: Promise<string> | undefined;
      let change: Promise<unknown> | undefined;
      try {
        change = applyDeltas([delta(type, phone, hoursAgo(0.01))]);
        // The delta holds the subscription: wait until it waits on the gate.
        for (const end = Date.now() + 30_000; Date.now() < end;) {
          const r = await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'`);
          if (r.rows.length > 0) break;
          await new Promise((res) => setTimeout(res, 50));
        }
        confirming = confirmCode(deps, hooked, s.id, code).then(() => 'bound', (e: { code: string }) => e.code);
        expect(await rowLockWait()).toBe(true);
      } finally {
        await gate.query('SELECT pg_advisory_unlock($1)', [key]);
        gate.release();
        await change;
        await db.pool.query('DROP TRIGGER IF EXISTS lc_hold_checkpoint ON import_runs');
      }
      expect(await confirming).toBe('NUMBER_NOT_ELIGIBLE');
      expect((await db.pool.query(`SELECT 1 FROM accounts WHERE provider_id = $1 AND account_ref = $2`, [hooked.id, ref])).rows).toEqual([]);
      expect(await platformReads(hooked, [ref])).toEqual({ [ref]: 'unverified' });
    });
  }
});

/**
 * One person (the fixture's adult) with three numbers, accounts at two platforms, an eID binding,
 * and a minor's account they consented to as guardian; then, in turn, a SIM change, a
 * re-verification through another number, two terminations and the person's death. Runs last: the
 * person is dead at the end.
 */
describe('one person, several numbers, platforms and methods, through successive changes', () => {
  const H = ['a1', 'a2', 'a3', 'e', 'm'];
  const Q = ['q2', 'u3'];
  const statuses = async () => ({ ...(await platformReads(hooked, H)), ...Object.fromEntries(Object.entries(await platformReads(quiet, Q)).map(([k, v]) => [`q:${k}`, v])) });
  const seq = async (p: Provider, ref: string) => (await account(p, ref)).sequence;

  it('moves each binding made through the number or of the person, once, and nothing else', async () => {
    await verify(hooked, 'a1', N.adult);
    await verify(hooked, 'a2', N.adult2);
    await verify(quiet, 'q2', N.adult2);
    await verify(hooked, 'a3', N.adult3);
    await verify(quiet, 'u3', N.adult3);
    await bindWithoutNumber(hooked, 'e', PEOPLE.adult);
    await bindMinor(hooked, 'm');
    await unbindAccount(db.pool, quiet, 'u3'); // closed by its platform
    // Cached before any change: the reads below must not be served these.
    expect(await statuses()).toEqual({ a1: 'verified', a2: 'verified', a3: 'verified', e: 'verified', m: 'verified', 'q:q2': 'verified', 'q:u3': 'unverified' });
    expect(await statuses()).toEqual({ a1: 'verified', a2: 'verified', a3: 'verified', e: 'verified', m: 'verified', 'q:q2': 'verified', 'q:u3': 'unverified' });

    // A SIM change of the second number: its two bindings only; not the eID binding, not the other numbers'.
    await applyDeltas([delta('sim_changed', N.adult2, hoursAgo(0.01))]);
    expect(await statuses()).toEqual({
      a1: 'verified', a2: 'needs_reverification', a3: 'verified', e: 'verified', m: 'verified', 'q:q2': 'needs_reverification', 'q:u3': 'unverified',
    });
    await expectLastEvent(hooked, 'a2', 'needs_reverification', 2);
    await expectLastEvent(quiet, 'q2', 'needs_reverification', 2);
    for (const r of ['a1', 'a3', 'e', 'm']) expect(await seq(hooked, r), r).toBe(1);
    expect(await personView(PEOPLE.adult)).toMatchObject({ 'h:a2': 'needs_reverification/sim_changed', 'q:q2': 'needs_reverification/sim_changed', 'h:e': 'verified/verified' });

    // Re-verification of a2, through the first number (the second is inside its SIM-change window).
    await verify(hooked, 'a2', N.adult);
    expect(await statuses()).toMatchObject({ a2: 'verified' });
    await expectLastEvent(hooked, 'a2', 'verified', 3);

    // The second number terminated: q2 (needing re-verification) is revoked; a2, re-verified
    // through another number since, is not the number's any more.
    await applyDeltas([delta('terminated', N.adult2, hoursAgo(0.005))]);
    expect(await statuses()).toMatchObject({ a2: 'verified', 'q:q2': 'revoked' });
    await expectLastEvent(quiet, 'q2', 'revoked', 3);
    expect(await seq(hooked, 'a2')).toBe(3);

    // The third number terminated: a3 revoked; u3, unbound by its platform, stays unbound, no event.
    await applyDeltas([delta('terminated', N.adult3, hoursAgo(0.005))]);
    expect(await statuses()).toMatchObject({ a3: 'revoked', 'q:u3': 'unverified' });
    await expectLastEvent(hooked, 'a3', 'revoked', 2);
    expect(await account(quiet, 'u3')).toMatchObject({ status: 'unbound', status_reason: 'account_closed', sequence: 2 });
    expect((await events(quiet, 'u3')).map((e) => e.type)).toEqual(['account.verified', 'account.unbound']);

    // The person dies: every live binding of theirs is revoked, whatever the method; those already
    // revoked or unbound do not move again. The minor's account is the minor's, made through the
    // minor's number: the guardian's death does not revoke it (the platform learns nothing of the
    // guardian, invariant 1), and it stays a minor's account.
    await recordDeath(PEOPLE.adult, 'Nguyễn Văn An', '1990-05-01', 'M');
    expect(await statuses()).toEqual({ a1: 'revoked', a2: 'revoked', a3: 'revoked', e: 'revoked', m: 'verified', 'q:q2': 'revoked', 'q:u3': 'unverified' });
    await expectLastEvent(hooked, 'a1', 'revoked', 2);
    await expectLastEvent(hooked, 'a2', 'revoked', 4);
    await expectLastEvent(hooked, 'e', 'revoked', 2);
    expect(await seq(hooked, 'a3')).toBe(2);
    expect(await seq(quiet, 'q2')).toBe(3);
    expect(await seq(quiet, 'u3')).toBe(2);
    expect(await account(hooked, 'm')).toEqual({ status: 'verified', status_reason: 'verified', sequence: 1 });
    expect((await getAccountStatus(db.pool, hooked, 'm', cache)).minor).toBe(true);

    // The person's own view keeps each reason (the earlier tests' accounts of this person too);
    // the platform's reads above carried none.
    expect(await personView(PEOPLE.adult)).toMatchObject({
      'h:a1': 'revoked/deceased', 'h:a2': 'revoked/deceased', 'h:a3': 'revoked/terminated', 'h:e': 'revoked/deceased',
      'q:q2': 'revoked/terminated', 'q:u3': 'unbound/account_closed',
    });
    // The regulator's statistics read the history: one row per change, with its reason.
    const history = await db.pool.query<{ ref: string; reasons: string[] }>(
      `SELECT a.account_ref AS ref, array_agg(c.reason ORDER BY c.sequence) AS reasons FROM account_changes c JOIN accounts a ON a.id = c.account_id
       WHERE a.provider_id = $1 AND a.account_ref = ANY($2::text[]) GROUP BY a.account_ref ORDER BY a.account_ref`, [hooked.id, ['a2', 'a3']]);
    expect(history.rows).toEqual([
      { ref: 'a2', reasons: ['verified', 'sim_changed', 'verified', 'deceased'] },
      { ref: 'a3', reasons: ['verified', 'terminated'] },
    ]);
  });
});

/**
 * The SIM-change window is configuration (IDBIND_SIM_CHANGE_WINDOW_HOURS, up to a year): a number
 * whose SIM changed within it verifies no one. A SIM change reported late is judged by the same
 * window, given to the delta's run (the carrier API's jobs pass the hub's): with a longer window,
 * a binding made through a number the window refuses (had the change been known) must not stay
 * verified once the change is reported (it did, judged by a 72-hour constant).
 */
describe('a SIM-change window configured longer than 72 hours', () => {
  let longBed: VerificationTestbed;
  beforeAll(async () => {
    longBed = await openVerificationTestbed('Long Window Net', { IDBIND_SIM_CHANGE_WINDOW_HOURS: '168', IDBIND_LIMIT_NUMBER_PER_HOUR: '1000' });
  });
  afterAll(async () => longBed?.close());

  it('flags a binding whose number changed SIM, reported late, within the configured window before the verification', async () => {
    const d = longBed.deps;
    await verify(longBed.provider, 'long-window', many(6), d, longBed.db);
    const path = join(longBed.dir, 'long-window.ndjson');
    writeFileSync(path, JSON.stringify(delta('sim_changed', many(6), hoursAgo(100))) + '\n');
    expect(await applySubscriptionEvents({
      pool: longBed.db.pool, ring: longBed.db.ring, carrier: 'vinaphone', path, rejectsPath: `${path}.r`, simChangeWindowHours: d.config.simChangeWindowHours,
    }))
      .toMatchObject({ accepted: 1 });
    // The number itself is now refused under the configured window: the binding made through it must not stay verified.
    const again = startVerification(d, longBed.provider, { accountRef: 'long-window-2', phone: many(6), clientIp: '127.0.0.1' });
    await expect(again).rejects.toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE' });
    const r = await longBed.db.pool.query(`SELECT status FROM accounts WHERE provider_id = $1 AND account_ref = 'long-window'`, [longBed.provider.id]);
    expect(r.rows).toEqual([{ status: 'needs_reverification' }]);
  });

  /** The same through a full file (CLI or carrier API): ImportOptions.simChangeWindowHours. */
  it('a full file reporting that SIM change does the same', async () => {
    const d = longBed.deps;
    await verify(longBed.provider, 'long-window-file', many(7), d, longBed.db);
    const path = join(longBed.dir, 'long-window.csv');
    writeFileSync(path, [
      'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at',
      `${many(7)},${PEOPLE.adult},Nguyen Van An,1990-05-01,store,2020-01-01T00:00:00Z,active,${hoursAgo(100)},`,
    ].join('\n') + '\n');
    expect(await importRegistry({ pool: longBed.db.pool, ring: longBed.db.ring, kind: 'subscriptions', carrier: 'vinaphone', path, rejectsPath: `${path}.r`, workers: 1,
      simChangeWindowHours: d.config.simChangeWindowHours }))
      .toMatchObject({ accepted: 1, rejected: 0 });
    const r = await longBed.db.pool.query(`SELECT status FROM accounts WHERE provider_id = $1 AND account_ref = 'long-window-file'`, [longBed.provider.id]);
    expect(r.rows).toEqual([{ status: 'needs_reverification' }]);
  });
});
