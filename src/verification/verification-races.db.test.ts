/**
 * A confirmation racing a registry change (DESIGN.md "Conventions": security-relevant races get a
 * concurrency test). Whatever the interleaving, no verified binding may survive the death of its
 * person: either the confirmation sees the death and binds nothing, or the population batch
 * waits for it and revokes the new binding in its own transaction.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../../test/support/database.ts';
import { N, PEOPLE, many, openVerificationTestbed, type VerificationTestbed } from '../../test/support/verification-fixture.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { contestedSubscriptions } from '../registry/import/import-repository.ts';
import { applySubscriptionEvents } from '../registry/subscription-events.ts';
import { flagBindingsOfContestedSubscriptions } from '../bindings/binding-lifecycle.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { readOutbox } from './sms/sms-outbox.ts';
import { confirmCode, startVerification, type VerificationDeps } from './verification-service.ts';

let bed: VerificationTestbed;
let db: TestDatabase;
let dir: string;
let deps: VerificationDeps;
let provider: Provider;

beforeAll(async () => {
  bed = await openVerificationTestbed('Race Net', { IDBIND_LIMIT_NUMBER_PER_HOUR: '1000', IDBIND_LIMIT_NUMBER_PER_DAY: '1000' });
  ({ db, dir, deps, provider } = bed);
});
afterAll(async () => bed.close());

async function setAdultStatus(status: 'alive' | 'deceased', i: number): Promise<void> {
  const file = join(dir, `population-${i}-${status}.csv`);
  writeFileSync(file, `personal_id,full_name,birth_date,sex,status,died_on\n${PEOPLE.adult},Nguyễn Văn An,1990-05-01,M,${status},${status === 'deceased' ? '2026-01-01' : ''}\n`);
  // Each round brings the person back first: a correction, said so (DECEASED_IN_REGISTRY otherwise).
  const summary = await importRegistry({ pool: db.pool, ring: db.ring, kind: 'population', path: file, rejectsPath: `${file}.rejects`, workers: 1, correctDeaths: status === 'alive' });
  expect(summary.rejected).toBe(0);
}

describe('confirming a code while the population registry records the death', () => {
  it('never leaves a verified binding of a deceased person', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 2; i++) {
      await setAdultStatus('alive', i);
      const started = await startVerification(deps, provider, { accountRef: `race-${i}`, phone: N.adult, clientIp: '127.0.0.1' });
      const code = (await readOutbox(db.pool, db.ring, N.adult)).at(-1)!.text.match(/\b\d{6}\b/)![0];
      // The death is imported exactly between the confirmation's re-check and its binding; the
      // confirmation goes on once the import has finished or has waited 2 s (blocked on the lock).
      let death: Promise<void> | undefined;
      const raced = { ...deps, beforeBind: async () => {
        death = setAdultStatus('deceased', i);
        await Promise.race([death, new Promise((r) => setTimeout(r, 2000))]);
      } };
      const [confirmed] = await Promise.allSettled([confirmCode(raced, provider, started.id, code)]);
      await death;
      outcomes.push(confirmed.status === 'fulfilled' ? 'bound' : (confirmed.reason as { code: string }).code);
      const live = await db.pool.query(
        `SELECT a.account_ref FROM accounts a JOIN persons p ON p.id = a.person_id WHERE p.status = 'deceased' AND a.status IN ('verified', 'needs_reverification')`,
      );
      expect(live.rows, `round ${i}: ${outcomes.at(-1)}`).toEqual([]);
      if (confirmed.status === 'fulfilled') {
        const a = await db.pool.query(`SELECT status, status_reason FROM accounts WHERE account_ref = $1`, [`race-${i}`]);
        expect(a.rows).toEqual([{ status: 'revoked', status_reason: 'deceased' }]);
      } else {
        expect(outcomes.at(-1)).toBe('NUMBER_NOT_ELIGIBLE');
      }
    }
    // Both orders are legitimate; the invariant above must hold for each round.
    expect(outcomes.every((o) => o === 'bound' || o === 'NUMBER_NOT_ELIGIBLE')).toBe(true);
  });
});

describe('confirming codes of one person for several accounts at once', () => {
  it('binds no more accounts than the limit; each refused verification fails with its age check recorded', async () => {
    const one = (await createProvider(db.pool, db.ring, { allowLoopback: false }, { name: 'One Account Net', kind: 'platform', limits: { accountsPerPerson: 1 } })).provider;
    // Every start passes its early count (nothing bound yet); the confirmations then race.
    const started: { id: string; code: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await startVerification(deps, one, { accountRef: `limit-${i}`, phone: N.adultB, clientIp: '127.0.0.1' });
      started.push({ id: s.id, code: (await readOutbox(db.pool, db.ring, N.adultB)).at(-1)!.text.match(/\b\d{6}\b/)![0] });
    }
    const settled = await Promise.allSettled(started.map((s) => confirmCode(deps, one, s.id, s.code)));
    const answers = settled.map((r) => (r.status === 'fulfilled' ? 'bound' : (r.reason as { code: string }).code)).sort();
    expect(answers).toEqual(['ACCOUNT_LIMIT_REACHED', 'ACCOUNT_LIMIT_REACHED', 'ACCOUNT_LIMIT_REACHED', 'ACCOUNT_LIMIT_REACHED', 'ACCOUNT_LIMIT_REACHED', 'bound']);
    const live = await db.pool.query(`SELECT account_ref FROM accounts WHERE provider_id = $1 AND status IN ('verified', 'needs_reverification')`, [one.id]);
    expect(live.rows).toHaveLength(1);
    const ids = started.map((s) => s.id);
    const v = await db.pool.query<{ status: string; failure: string | null; bound: boolean }>(
      `SELECT status, failure, account_id IS NOT NULL AS bound FROM verifications WHERE id = ANY($1::uuid[]) ORDER BY status`, [ids]);
    expect(v.rows).toEqual([
      ...Array.from({ length: 5 }, () => ({ status: 'failed', failure: 'account_limit', bound: false })),
      { status: 'verified', failure: null, bound: true },
    ]);
    // The person sees one binding and five reads of their birth date that bound nothing.
    const access = await db.pool.query<{ purpose: string; n: number }>(
      `SELECT purpose, count(*)::int AS n FROM access_records WHERE detail->>'verification_id' = ANY($1::text[]) GROUP BY purpose ORDER BY purpose`, [ids]);
    expect(access.rows).toEqual([{ purpose: 'account_binding', n: 1 }, { purpose: 'age_check', n: 5 }]);
    const events = await db.pool.query(`SELECT type FROM events WHERE provider_id = $1`, [one.id]);
    expect(events.rows).toEqual([{ type: 'account.verified' }]);
  });
});

/**
 * A confirmation racing a port-in at another carrier under another holder (the donor's
 * `ported_out` not received yet; phone-eligibility.ts `contested`). The confirmation's re-check
 * takes its snapshot before it waits for the subscription's lock, so it cannot see a port-in that
 * commits while it waits; the binding statement and the port-in's flagging must cover both orders.
 * Whatever the order, no verified binding through the donor's subscription may survive the port.
 */
describe('confirming a code while another carrier ports the number in for another holder', () => {
  const portIn = (ref: string, phone: string) => JSON.stringify({
    event_id: `port-${ref}`, type: 'ported_in', msisdn: phone, at: new Date(Date.now() - 60_000).toISOString(),
    holder_personal_id: PEOPLE.adultB, holder_full_name: 'Pham Minh Duc', holder_birth_date: '2005-01-01', channel: 'store',
  }) + '\n';
  let revivals = 0;
  async function codeFor(ref: string, phone: string): Promise<{ id: string; code: string }> {
    await setAdultStatus('alive', 100 + ++revivals); // the first test leaves them dead
    const s = await startVerification(deps, provider, { accountRef: ref, phone, clientIp: '127.0.0.1' });
    return { id: s.id, code: (await readOutbox(db.pool, db.ring, phone)).at(-1)!.text.match(/\b\d{6}\b/)![0] };
  }
  async function liveBindingsThroughContested(ref: string): Promise<unknown[]> {
    const r = await db.pool.query(
      `SELECT a.account_ref, a.status FROM accounts a JOIN subscriptions s ON s.id = a.subscription_id
       WHERE a.account_ref = $1 AND a.status = 'verified'
         AND EXISTS (SELECT 1 FROM subscriptions o WHERE o.msisdn_bidx = s.msisdn_bidx AND o.carrier_id <> s.carrier_id AND o.status <> 'terminated')`, [ref]);
    return r.rows;
  }

  it('the confirmation holds the subscription first: the port-in waits, then flags the new binding', async () => {
    const v = await codeFor('port-race-a', many(18));
    const file = join(dir, 'port-race-a.ndjson');
    writeFileSync(file, portIn('port-race-a', many(18)));
    let port: Promise<unknown> | undefined;
    let portDoneFirst = false;
    let portFinishedBeforeBind: boolean | undefined;
    // Between the re-check and the binding: the port-in runs; it must wait for the confirmation.
    const raced = { ...deps, beforeBind: async () => {
      port = applySubscriptionEvents({ pool: db.pool, ring: db.ring, carrier: 'mobifone', path: file, rejectsPath: `${file}.rejects` })
        .then((s) => { portDoneFirst = true; return s; });
      await Promise.race([port, waitForLockWait()]);
      portFinishedBeforeBind = portDoneFirst;
    } };
    const [confirmed] = await Promise.allSettled([confirmCode(raced, provider, v.id, v.code)]);
    expect(await port).toMatchObject({ accepted: 1 });
    expect(await liveBindingsThroughContested('port-race-a')).toEqual([]);
    // With the lock the port-in cannot finish first; the binding is made and then flagged.
    expect(portFinishedBeforeBind).toBe(false);
    expect(confirmed.status).toBe('fulfilled');
    const a = await db.pool.query(`SELECT status, status_reason FROM accounts WHERE provider_id = $1 AND account_ref = 'port-race-a'`, [provider.id]);
    expect(a.rows).toEqual([{ status: 'needs_reverification', status_reason: 'ported_in_elsewhere' }]);
  });

  it('the port-in holds the subscription first: the confirmation waits, then binds no one', async () => {
    const v = await codeFor('port-race-b', many(19));
    const client = await db.pool.connect();
    let confirming: Promise<unknown> | undefined;
    try {
      // The port-in's transaction as applySubscriptionEvents runs it, held open: the recipient's
      // live row under another holder, then the donor's subscription locked (contestedSubscriptions).
      await client.query('BEGIN');
      const carrier = await client.query<{ id: number }>(`INSERT INTO carriers (slug) VALUES ('race-recipient') ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug RETURNING id`);
      const donor = await client.query<{ id: string }>(`SELECT subscription_id AS id FROM verifications WHERE id = $1`, [v.id]);
      const recipient = await client.query<{ id: string }>(
        `INSERT INTO subscriptions (id, carrier_id, msisdn_bidx, holder_bidx, holder_match_bidx, digest, bidx_version, sealed, dek_version, channel, registered_at, status, last_event_at, import_run_id)
         SELECT gen_random_uuid(), $2, s.msisdn_bidx, p.pid_bidx, p.match_bidx, s.digest, s.bidx_version, s.sealed, s.dek_version, s.channel, now(), 'active', now(), s.import_run_id
         FROM subscriptions s, persons p WHERE s.id = $1 AND p.pid_bidx <> s.holder_bidx LIMIT 1 RETURNING id`,
        [donor.rows[0]!.id, carrier.rows[0]!.id]);
      const contested = await contestedSubscriptions(client, [recipient.rows[0]!.id]);
      expect(contested).toEqual([donor.rows[0]!.id]);
      confirming = confirmCode(deps, provider, v.id, v.code).then(() => 'bound', (e: { code: string }) => e.code);
      await waitForLockWait();
      await flagBindingsOfContestedSubscriptions(client, contested);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK');
      throw e;
    } finally {
      client.release();
    }
    expect(await confirming).toBe('NUMBER_NOT_ELIGIBLE');
    expect(await liveBindingsThroughContested('port-race-b')).toEqual([]);
    const row = await db.pool.query(`SELECT status, failure FROM verifications WHERE id = $1`, [v.id]);
    expect(row.rows).toEqual([{ status: 'failed', failure: 'not_eligible_at_confirm' }]);
    // Nothing bound at this platform through that number, and no pseudonym left for nothing.
    expect((await db.pool.query(`SELECT 1 FROM accounts WHERE provider_id = $1 AND account_ref = 'port-race-b'`, [provider.id])).rows).toEqual([]);
  });
});

/** Resolves once some backend of the test database waits for a row lock (or after 30 s). */
async function waitForLockWait(): Promise<void> {
  for (const end = Date.now() + 30_000; Date.now() < end;) {
    const r = await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    if (r.rows.length > 0) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}
