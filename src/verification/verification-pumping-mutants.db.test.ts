/**
 * Mutation review of issue 3's SMS-pumping metric and alert (verification-maintenance.ts,
 * verification-repository.ts suspiciousPrefixes): the rule at its edges. A prefix is suspect when
 * at least SMS_PUMPING_MIN_SENT codes went to it in the last hour (this clock hour and the one
 * before) and fewer than SMS_PUMPING_MAX_CONFIRM_RATE of them were confirmed; the metric shows
 * the suspects of the latest run only.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { N, openVerificationTestbed } from '../../test/support/verification-fixture.ts';
import { createMetrics } from '../kernel/metrics.ts';
import { readOutbox } from './sms/sms-outbox.ts';
import { runVerificationMaintenance } from './verification-maintenance.ts';
import { confirmCodeIdentity, startVerification } from './verification-service.ts';
import { SMS_PUMPING_MAX_CONFIRM_RATE, SMS_PUMPING_MIN_SENT } from './verification-stats.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());
beforeEach(async () => {
  await db.pool.query('DELETE FROM sms_prefix_stats');
});

async function stats(prefix: string, hoursAgo: number, sent: number, confirmed: number): Promise<void> {
  await db.pool.query(
    `INSERT INTO sms_prefix_stats (prefix, hour, sent, confirmed) VALUES ($1, date_trunc('hour', now()) - make_interval(hours => $2), $3, $4)`,
    [prefix, hoursAgo, sent, confirmed],
  );
}

const quiet = () => undefined;

describe('the SMS-pumping rule', () => {
  it('is 50 codes and a confirmation rate under 20 %', () => {
    // The edges below are written for these values.
    expect([SMS_PUMPING_MIN_SENT, SMS_PUMPING_MAX_CONFIRM_RATE]).toEqual([50, 0.2]);
  });

  it('takes a prefix at exactly the minimum of codes sent, and not one code below it', async () => {
    await stats('+84901', 0, 50, 0);
    await stats('+84902', 0, 49, 0);
    expect((await runVerificationMaintenance(db.pool, undefined, quiet)).suspects).toEqual(['+84901']);
  });

  it('takes a prefix just under the confirmation rate, and not one exactly at it', async () => {
    await stats('+84903', 0, 50, 9); // 18 %
    await stats('+84904', 0, 50, 10); // 20 %: not under
    await stats('+84905', 0, 100, 25); // 25 %
    expect((await runVerificationMaintenance(db.pool, undefined, quiet)).suspects).toEqual(['+84903']);
  });

  it('adds up this hour and the one before, and forgets codes sent earlier', async () => {
    await stats('+84906', 0, 30, 0);
    await stats('+84906', 1, 30, 0); // 60 in the last hour
    await stats('+84907', 2, 400, 0); // two hours ago: outside the window
    await stats('+84907', 0, 10, 0);
    const warned: Record<string, unknown>[] = [];
    const r = await runVerificationMaintenance(db.pool, undefined, (_m, f) => warned.push(f));
    expect(r.suspects).toEqual(['+84906']);
    expect(warned).toEqual([{ prefix: '+84906', sent: 60, confirmed: 0 }]);
  });

  it('clears the metric of a prefix that is no longer suspect at the next run', async () => {
    const metrics = createMetrics();
    await stats('+84908', 0, 80, 0);
    await runVerificationMaintenance(db.pool, metrics, quiet);
    expect(await metrics.registry.metrics()).toContain('idbind_sms_pumping_suspected{prefix="+84908"} 1');
    // Its people confirmed since: no longer suspect.
    await db.pool.query(`UPDATE sms_prefix_stats SET confirmed = 70 WHERE prefix = '+84908'`);
    expect((await runVerificationMaintenance(db.pool, metrics, quiet)).suspects).toEqual([]);
    expect(await metrics.registry.metrics()).not.toContain('idbind_sms_pumping_suspected{prefix="+84908"} 1');
  });
});

describe("the hosted flow's confirmation (confirmCodeIdentity)", () => {
  it("counts the right code as confirmed for the number's range, as the API's confirmation does", async () => {
    const bed = await openVerificationTestbed('Hosted Pumping Net');
    try {
      const s = await startVerification(bed.deps, bed.provider, { accountRef: 'hosted-1', phone: N.adult, clientIp: '10.4.0.1' });
      const code = (await readOutbox(bed.db.pool, bed.db.ring, N.adult)).at(-1)!.text.match(/\b\d{6}\b/)![0];
      await confirmCodeIdentity(bed.deps, bed.provider, s.id, code);
      const r = await bed.db.pool.query('SELECT sum(sent)::int AS sent, sum(confirmed)::int AS confirmed FROM sms_prefix_stats WHERE prefix = $1', ['+84912']);
      expect(r.rows).toEqual([{ sent: 1, confirmed: 1 }]);
    } finally {
      await bed.close();
    }
  });
});
