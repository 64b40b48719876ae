/**
 * Mutation review of issue 3's SMS-pumping alert as the regulator reads it:
 * `GET /v1/admin/verification-stats` lists the prefixes suspected of SMS pumping (codes sent in
 * the last hour, rarely confirmed), with their counts, and not the healthy ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ demo: false, listen: false });
});
afterAll(async () => hub.stop());

describe('GET /v1/admin/verification-stats', () => {
  it('lists the prefixes suspected of SMS pumping with their counts, and no healthy one', async () => {
    await hub.hub.pool.query(`INSERT INTO sms_prefix_stats (prefix, hour, sent, confirmed) VALUES
      ('+84961', date_trunc('hour', now()), 120, 3), ('+84962', date_trunc('hour', now()), 120, 100), ('+84963', date_trunc('hour', now()), 5, 0)`);
    const r = await hub.app.inject({ url: '/v1/admin/verification-stats', headers: { authorization: `Bearer ${hub.adminToken}` } });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json().sms_pumping_suspects).toEqual([{ prefix: '+84961', sent: 120, confirmed: 3 }]);
  });
});
