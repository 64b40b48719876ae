import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { createMetrics } from '../kernel/metrics.ts';
import { runVerificationMaintenance } from './verification-maintenance.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

describe('verification maintenance', () => {
  it('raises the SMS-pumping alert for a prefix whose codes are sent and rarely confirmed, and not for a healthy one', async () => {
    await db.pool.query(`INSERT INTO sms_prefix_stats (prefix, hour, sent, confirmed) VALUES
      ('+84901', date_trunc('hour', now()), 400, 12), ('+84912', date_trunc('hour', now()), 400, 300), ('+84933', date_trunc('hour', now()), 10, 0)`);
    const metrics = createMetrics();
    const warnings: Record<string, unknown>[] = [];
    const r = await runVerificationMaintenance(db.pool, metrics, (_m, f) => warnings.push(f));
    expect(r.suspects).toEqual(['+84901']);
    expect(warnings).toEqual([{ prefix: '+84901', sent: 400, confirmed: 12 }]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('idbind_sms_pumping_suspected{prefix="+84901"} 1');
    expect(text).not.toContain('prefix="+84912"} 1');
  });

  it('counts the verifications it expires in the outcomes metric, as a confirmation that finds a code expired does', async () => {
    await db.pool.query(`INSERT INTO providers (id, name, kind) VALUES ('00000000-0000-7000-8000-00000000e001', 'Sweep Metric', 'platform')`);
    await db.pool.query(`INSERT INTO verifications (id, provider_id, account_ref, msisdn_bidx, status, code_expires_at)
      SELECT gen_random_uuid(), '00000000-0000-7000-8000-00000000e001', 'a-' || i, decode(md5(i::text), 'hex'), 'code_sent', now() - interval '1 second'
      FROM generate_series(1, 3) i`);
    const metrics = createMetrics();
    const r = await runVerificationMaintenance(db.pool, metrics, () => undefined);
    expect(r.expired).toBe(3);
    expect(await metrics.registry.metrics()).toMatch(/idbind_verification_outcomes_total\{outcome="expired"\} 3\n/);
  });
});
