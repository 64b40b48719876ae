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
import { N, PEOPLE, openVerificationTestbed, type VerificationTestbed } from '../../test/support/verification-fixture.ts';
import { importRegistry } from '../registry/import/import-service.ts';
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
