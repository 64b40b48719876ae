/**
 * False-positive review (harm to correctly registered citizens): inputs where a person whose data
 * is correct and consistent was refused verification, flagged as a junk SIM or had a binding moved
 * on, although the issues' rules did not require it. Synthetic data only.
 *
 * Each case writes its own people and numbers (carrier viettel) beside the verification fixture's
 * registry (carrier vinaphone), and runs reconciliations of the whole database.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVerificationTestbed, type VerificationTestbed } from '../../../test/support/verification-fixture.ts';
import { importRegistry } from '../import/import-service.ts';
import { applySubscriptionEvents } from '../subscription-events.ts';
import { composePersonalId } from '../personal-id.ts';
import { msisdnIndex } from '../row-crypto.ts';
import { confirmCode, startVerification } from '../../verification/verification-service.ts';
import { readOutbox } from '../../verification/sms/sms-outbox.ts';
import { addKeyVersion } from '../../keys/key-rotation-service.ts';
import { VerificationError } from '../../verification/verification-errors.ts';
import { startReconciliation } from './reconciliation-service.ts';
import type { Category } from './categories.ts';

let bed: VerificationTestbed;
let fileNo = 0;
const SUBS_HEADER = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at';
const POPULATION_HEADER = 'personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids';

beforeAll(async () => {
  bed = await openVerificationTestbed('False Positive Review', { IDBIND_LIMIT_NUMBER_PER_HOUR: '100' });
});
afterAll(async () => bed?.close());

function write(lines: string[], ending = 'csv'): string {
  const p = join(bed.dir, `fp-${++fileNo}.${ending}`);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

async function importPopulation(lines: string[], options: { correctDeaths?: boolean } = {}): Promise<void> {
  const path = write([POPULATION_HEADER, ...lines]);
  expect(await importRegistry({ pool: bed.db.pool, ring: bed.db.ring, kind: 'population', path, rejectsPath: `${path}.rejects`, workers: 1, ...options }))
    .toMatchObject({ rejected: 0 });
}

async function importSubscriptions(lines: string[]): Promise<void> {
  const path = write([SUBS_HEADER, ...lines]);
  expect(await importRegistry({ pool: bed.db.pool, ring: bed.db.ring, kind: 'subscriptions', carrier: 'viettel', path, rejectsPath: `${path}.rejects`, workers: 1 }))
    .toMatchObject({ rejected: 0 });
}

async function applyEvents(events: object[]): Promise<void> {
  const path = write(events.map((e) => JSON.stringify(e)), 'ndjson');
  expect(await applySubscriptionEvents({ pool: bed.db.pool, ring: bed.db.ring, carrier: 'viettel', path, rejectsPath: `${path}.rejects` }))
    .toMatchObject({ rejected: 0 });
}

/** The category the latest completed run put the number's live subscription in (null: none). */
async function reconcile(): Promise<void> {
  await (await startReconciliation(bed.db.pool, bed.db.ring, 'test')).done;
}

async function categoryOf(e164: string): Promise<Category | null> {
  const r = await bed.db.pool.query<{ category: Category }>(
    `SELECT rr.category FROM reconciliation_results rr JOIN subscriptions s ON s.id = rr.subscription_id
     WHERE rr.run_id = (SELECT id FROM reconciliation_runs WHERE status = 'completed' ORDER BY finished_at DESC LIMIT 1)
       AND s.msisdn_bidx = $1 AND s.status <> 'terminated'`,
    [msisdnIndex(bed.db.ring.currentBlindIndex.key, e164)],
  );
  return r.rows[0]?.category ?? null;
}

let refNo = 0;
/** Whether a verification through the number starts (a code is sent) or is refused as not eligible. */
async function verifies(e164: string): Promise<boolean> {
  try {
    const s = await startVerification(bed.deps, bed.provider, { accountRef: `fp-${++refNo}`, phone: e164, clientIp: '127.0.0.1' });
    return s.status === 'code_sent';
  } catch (e) {
    if (e instanceof VerificationError && e.code === 'NUMBER_NOT_ELIGIBLE') return false;
    throw e;
  }
}

describe('a junk-SIM flag of the latest run whose cause the registries have since corrected', () => {
  it('HOLDER_DATA_MISMATCH: the carrier corrects a typo in the holder\'s name (holder_changed naming the same holder); the person verifies before the next run', async () => {
    const pid = composePersonalId('001', 1988, 'F', 501);
    await importPopulation([`${pid},Trần Thị Thu,1988-04-04,F,alive,,`]);
    await importSubscriptions([`0981000501,${pid},Tran Thi Thuu,1988-04-04,store,2022-01-01T09:00:00,active,,`]);
    await reconcile();
    expect(await categoryOf('+84981000501')).toBe('HOLDER_DATA_MISMATCH');
    expect(await verifies('+84981000501')).toBe(false); // rightly: the name differs
    await applyEvents([{ event_id: 'fp-501-fix', type: 'holder_changed', msisdn: '0981000501', at: '2025-06-01T10:00:00+07:00',
      holder_personal_id: pid, holder_full_name: 'Trần Thị Thu', holder_birth_date: '1988-04-04', channel: 'store' }]);
    // The carrier's data is now the registry's: nothing the rules name is wrong any more,
    // and the confirmation's re-check (verification-repository.ts) binds the account.
    const v = await startVerification(bed.deps, bed.provider, { accountRef: 'fp-bound-501', phone: '+84981000501', clientIp: '127.0.0.1' });
    const code = (await readOutbox(bed.db.pool, bed.db.ring, '+84981000501')).at(-1)!.text.match(/\b\d{6}\b/)![0];
    expect(await confirmCode(bed.deps, bed.provider, v.id, code)).toMatchObject({ account_ref: 'fp-bound-501', status: 'verified' });
    await reconcile();
    expect(await categoryOf('+84981000501')).toBe(null);
  });

  it('HOLDER_DATA_MISMATCH: the carrier corrects the holder\'s birth date in its full file; the person verifies before the next run', async () => {
    const pid = composePersonalId('001', 1975, 'M', 502);
    await importPopulation([`${pid},Lê Văn Hùng,1975-08-09,M,alive,,`]);
    await importSubscriptions([
      // Three earlier numbers registered in person: no limit applies to them, nor to the fourth.
      ...[7, 8, 9].map((i) => `098100050${i},${pid},Lê Văn Hùng,1975-08-09,store,2021-0${i}-01T09:00:00,active,,`),
      `0981000502,${pid},Lê Văn Hùng,1975-09-08,vneid,2022-01-01T09:00:00,active,,`,
    ]);
    await reconcile();
    expect(await categoryOf('+84981000502')).toBe('HOLDER_DATA_MISMATCH');
    await importSubscriptions([`0981000502,${pid},Lê Văn Hùng,1975-08-09,vneid,2022-01-01T09:00:00,active,,`]);
    expect(await verifies('+84981000502')).toBe(true);
  });

  it('HOLDER_DECEASED: the population registry corrects a death recorded in error (--correct-deaths); the person verifies before the next run', async () => {
    const pid = composePersonalId('001', 1960, 'F', 503);
    await importPopulation([`${pid},Phạm Thị Lan,1960-02-29,F,deceased,2025-01-01,`]);
    await importSubscriptions([`0981000503,${pid},Pham Thi Lan,1960-02-29,store,2015-01-01T09:00:00,active,,`]);
    await reconcile();
    expect(await categoryOf('+84981000503')).toBe('HOLDER_DECEASED');
    await importPopulation([`${pid},Phạm Thị Lan,1960-02-29,F,alive,,`], { correctDeaths: true });
    expect(await verifies('+84981000503')).toBe(true);
  });

  it('ONLINE_BEYOND_LIMIT: the holder terminates one of four online numbers; the fourth, now the third, verifies before the next run', async () => {
    const pid = composePersonalId('001', 1995, 'M', 504);
    await importPopulation([`${pid},Đỗ Minh Quân,1995-07-07,M,alive,,`]);
    await importSubscriptions([1, 2, 3, 4].map((i) => `098100051${i},${pid},Do Minh Quan,1995-07-07,online,2023-0${i}-01T09:00:00,active,,`));
    await reconcile();
    expect(await categoryOf('+84981000514')).toBe('ONLINE_BEYOND_LIMIT');
    expect(await verifies('+84981000514')).toBe(false);
    await applyEvents([{ event_id: 'fp-504-end', type: 'terminated', msisdn: '0981000511', at: '2025-06-01T10:00:00+07:00' }]);
    expect(await verifies('+84981000514')).toBe(true);
    await reconcile();
    expect(await categoryOf('+84981000514')).toBe(null);
  });

  it('a flag whose cause remains still refuses: a fourth online number left as it was, and an online number corrected from a mismatch that is still its holder\'s fourth online', async () => {
    const pid = composePersonalId('001', 1993, 'F', 505);
    await importPopulation([`${pid},Vũ Thị Ngọc,1993-03-03,F,alive,,`]);
    await importSubscriptions([
      ...[1, 2, 3].map((i) => `098100052${i},${pid},Vu Thi Ngoc,1993-03-03,online,2023-0${i}-01T09:00:00,active,,`),
      // Its holder's fourth online number, flagged for the name before its position.
      `0981000524,${pid},Vu Thi Ngoc Anh,1993-03-03,online,2023-04-01T09:00:00,active,,`,
      `0981000525,${pid},Vu Thi Ngoc,1993-03-03,online,2023-05-01T09:00:00,active,,`,
    ]);
    await reconcile();
    expect(await categoryOf('+84981000524')).toBe('HOLDER_DATA_MISMATCH');
    expect(await categoryOf('+84981000525')).toBe('ONLINE_BEYOND_LIMIT');
    await applyEvents([{ event_id: 'fp-505-fix', type: 'holder_changed', msisdn: '0981000524', at: '2025-06-01T10:00:00+07:00',
      holder_personal_id: pid, holder_full_name: 'Vũ Thị Ngọc', holder_birth_date: '1993-03-03', channel: 'online' }]);
    expect(await verifies('+84981000524')).toBe(false);
    expect(await verifies('+84981000525')).toBe(false);
    await reconcile();
    expect(await categoryOf('+84981000524')).toBe('ONLINE_BEYOND_LIMIT');
  });

  // Last in the file: it leaves a blind-index rotation in progress.
  it('while a blind-index rotation is in progress, the flag of an online number stands (the holder\'s rows may be indexed under two versions)', async () => {
    const pid = composePersonalId('001', 1991, 'M', 506);
    await importPopulation([`${pid},Bùi Văn Toàn,1991-01-01,M,alive,,`]);
    await importSubscriptions([1, 2, 3, 4].map((i) => `098100053${i},${pid},Bui Van Toan,1991-01-01,online,2023-0${i}-01T09:00:00,active,,`));
    await reconcile();
    expect(await categoryOf('+84981000534')).toBe('ONLINE_BEYOND_LIMIT');
    await applyEvents([{ event_id: 'fp-506-end', type: 'terminated', msisdn: '0981000531', at: '2025-06-01T10:00:00+07:00' }]);
    await addKeyVersion(bed.db.pool, bed.db.master, 'blind_index');
    expect(await verifies('+84981000534')).toBe(false);
  });
});
