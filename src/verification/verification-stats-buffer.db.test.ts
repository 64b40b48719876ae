/**
 * The verification statistics buffer (verification-stats-buffer.ts): counts kept in memory and
 * written once a second, put back when a write fails. A write covers two tables (outcomes per
 * provider, codes per number range for the SMS-pumping alert, issue 3 "Abuse"); when the first
 * was written and the second failed, both were put back and the first was counted twice at the
 * next flush (noticed by the review of the hub's start, where the last flush runs at shutdown).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { VerificationStatsBuffer } from './verification-stats-buffer.ts';

let db: TestDatabase;
let provider: Provider;

beforeAll(async () => {
  db = await createTestDatabase();
  provider = (await createProvider(db.pool, db.ring, { allowLoopback: false }, { name: 'Stats Net', kind: 'platform' })).provider;
});
afterAll(async () => {
  await db.drop();
});

const outcomes = async () =>
  (await db.pool.query<{ outcome: string; reason: string; count: string }>('SELECT outcome, reason, count FROM verification_stats WHERE provider_id = $1 ORDER BY outcome', [provider.id])).rows;
const prefixes = async () =>
  (await db.pool.query<{ prefix: string; sent: string; confirmed: string }>('SELECT prefix, sent, confirmed FROM sms_prefix_stats ORDER BY prefix')).rows;

describe('verification statistics buffer', () => {
  it('writes a flush whole or not at all: a failed write is retried once, never counted twice', async () => {
    const buffer = new VerificationStatsBuffer(db.pool);
    buffer.countOutcome(provider.id, 'started', '');
    buffer.countOutcome(provider.id, 'not_eligible', 'deceased');
    buffer.countPrefix('+8490', 'sent');
    buffer.countPrefix('+8490', 'sent');
    buffer.countPrefix('+8490', 'confirmed');
    // The ranges' table refuses writes for a moment (a real failure of the server, not a mock).
    await db.pool.query(`CREATE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$`);
    await db.pool.query('CREATE TRIGGER refuse_write BEFORE INSERT ON sms_prefix_stats FOR EACH ROW EXECUTE FUNCTION refuse_write()');
    await expect(buffer.flush()).rejects.toThrow(/refused for the test/);
    expect(await outcomes()).toEqual([]);
    expect(await prefixes()).toEqual([]);

    await db.pool.query('DROP TRIGGER refuse_write ON sms_prefix_stats');
    buffer.countOutcome(provider.id, 'started', '');
    await buffer.flush();
    expect(await outcomes()).toEqual([
      { outcome: 'not_eligible', reason: 'deceased', count: '1' },
      { outcome: 'started', reason: '', count: '2' },
    ]);
    expect(await prefixes()).toEqual([{ prefix: '+8490', sent: '2', confirmed: '1' }]);
    // Nothing is left to write twice.
    await buffer.flush();
    expect((await outcomes()).map((r) => r.count)).toEqual(['1', '2']);
  });
});
