/**
 * Mutation review of issue 3's `GET /v1/verifications/{id}` (getVerification): the result of a
 * verified verification recovers a lost confirmation reply only while the account is still that
 * verification's binding. Once the platform unbound the account, or the account was bound again
 * to someone else, the old verification shows no result, and never the new person's pseudonym
 * (DESIGN.md invariant 1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { N, openVerificationTestbed, type VerificationTestbed } from '../../test/support/verification-fixture.ts';
import { unbindAccount } from '../bindings/binding-service.ts';
import { readOutbox } from './sms/sms-outbox.ts';
import { confirmCode, getVerification, startVerification } from './verification-service.ts';

let bed: VerificationTestbed;
beforeAll(async () => {
  bed = await openVerificationTestbed('Recovery Net', { IDBIND_LIMIT_NUMBER_PER_HOUR: '100', IDBIND_LIMIT_NUMBER_PER_DAY: '100' });
});
afterAll(async () => bed.close());

async function verify(accountRef: string, phone: string) {
  const s = await startVerification(bed.deps, bed.provider, { accountRef, phone, clientIp: '10.5.0.1' });
  const code = (await readOutbox(bed.db.pool, bed.db.ring, phone)).at(-1)!.text.match(/\b\d{6}\b/)![0];
  return { id: s.id, bound: await confirmCode(bed.deps, bed.provider, s.id, code) };
}

describe('a verified verification read again', () => {
  it('answers the binding while it stands, and no result once the platform unbound the account', async () => {
    const v = await verify('recover-1', N.adult);
    expect((await getVerification(bed.deps, bed.provider, v.id)).result).toEqual(v.bound);
    await unbindAccount(bed.db.pool, bed.provider, 'recover-1');
    const after = await getVerification(bed.deps, bed.provider, v.id);
    expect(after.status).toBe('verified');
    expect(after.result).toBeUndefined();
  });

  it("never shows the pseudonym of the person the account was bound to afterwards", async () => {
    const first = await verify('recover-2', N.adult);
    await unbindAccount(bed.db.pool, bed.provider, 'recover-2');
    const second = await verify('recover-2', N.adultB);
    expect(second.bound.pseudonym).not.toBe(first.bound.pseudonym);
    const old = await getVerification(bed.deps, bed.provider, first.id);
    expect(old.result).toBeUndefined();
    expect(JSON.stringify(old)).not.toContain(second.bound.pseudonym);
    expect((await getVerification(bed.deps, bed.provider, second.id)).result).toEqual(second.bound);
  });

  it('answers a code past its 5 minutes as expired before the sweep has marked it', async () => {
    const s = await startVerification(bed.deps, bed.provider, { accountRef: 'recover-3', phone: N.adult2, clientIp: '10.5.0.1' });
    expect((await getVerification(bed.deps, bed.provider, s.id)).status).toBe('code_sent');
    await bed.db.pool.query(`UPDATE verifications SET code_expires_at = now() - interval '1 second' WHERE id = $1`, [s.id]);
    expect((await getVerification(bed.deps, bed.provider, s.id)).status).toBe('expired');
  });
});
