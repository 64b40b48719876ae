/**
 * Review of issue 3 "POST /v1/verifications/{id}/resend (within the same budgets)" and DESIGN.md
 * "a message to a person goes only to a number that person still holds": a resend sends a new
 * code only while the number would still verify; a number terminated (or swapped) since the
 * start gets no further code, and the platform learns only NUMBER_NOT_ELIGIBLE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { many, openVerificationTestbed, type VerificationTestbed } from '../support/verification-fixture.ts';
import { readOutbox } from '../../src/verification/sms/sms-outbox.ts';
import { resendCode, startVerification } from '../../src/verification/verification-service.ts';

let bed: VerificationTestbed;
beforeAll(async () => {
  bed = await openVerificationTestbed('Resend Social');
});
afterAll(async () => {
  await bed?.close();
});

describe('a resend', () => {
  it('sends no code to a number terminated since the start', async () => {
    const phone = many(0);
    const started = await startVerification(bed.deps, bed.provider, { accountRef: 'acct-resend', phone, clientIp: '192.0.2.1' });
    const v = await bed.db.pool.query<{ subscription_id: string }>('SELECT subscription_id FROM verifications WHERE id = $1', [started.id]);
    await bed.db.pool.query(`UPDATE subscriptions SET status = 'terminated' WHERE id = $1`, [v.rows[0]!.subscription_id]);
    await bed.db.pool.query(`UPDATE verifications SET last_sent_at = now() - interval '31 seconds' WHERE id = $1`, [started.id]);
    const before = (await readOutbox(bed.db.pool, bed.db.ring, phone)).length;
    await expect(resendCode(bed.deps, bed.provider, started.id, { clientIp: '192.0.2.1' })).rejects.toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE' });
    expect((await readOutbox(bed.db.pool, bed.db.ring, phone)).length).toBe(before);
  });
});
