/**
 * The confirmation re-checks the number as the start did (issue 3 "Verification API"): what the
 * registries learnt in the minutes between the code being sent and typed binds no one. Two checks
 * the start makes without waiting for a reconciliation (phone-eligibility.ts): the holder's name
 * and birth date are the registry's, and no other carrier has the number live under another
 * holder (a port-in committed meanwhile: the code went to the new holder's SIM).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { N, PEOPLE, many, openVerificationTestbed, type VerificationTestbed } from '../../test/support/verification-fixture.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { applySubscriptionEvents } from '../registry/subscription-events.ts';
import { readOutbox } from './sms/sms-outbox.ts';
import { confirmCode, resendCode, startVerification } from './verification-service.ts';

let bed: VerificationTestbed;
beforeAll(async () => {
  bed = await openVerificationTestbed('Recheck Net');
});
afterAll(async () => bed.close());

async function started(ref: string, phone: string): Promise<{ id: string; code: string }> {
  const s = await startVerification(bed.deps, bed.provider, { accountRef: ref, phone, clientIp: '127.0.0.1' });
  const code = (await readOutbox(bed.db.pool, bed.db.ring, phone)).at(-1)!.text.match(/\b\d{6}\b/)![0];
  return { id: s.id, code };
}

async function boundAccounts(ref: string): Promise<number> {
  const r = await bed.db.pool.query(`SELECT count(*)::int AS n FROM accounts WHERE provider_id = $1 AND account_ref = $2 AND status = 'verified'`, [bed.provider.id, ref]);
  return r.rows[0].n;
}

describe('the confirmation re-checks the number', () => {
  it('binds no one when the number was ported in at another carrier for another holder after the code was sent', async () => {
    const v = await started('recheck-port', N.adult2);
    const file = join(bed.dir, 'port.ndjson');
    writeFileSync(file, JSON.stringify({
      event_id: 'recheck-p1', type: 'ported_in', msisdn: N.adult2, at: new Date(Date.now() - 60_000).toISOString(),
      holder_personal_id: PEOPLE.adultB, holder_full_name: 'Pham Minh Duc', holder_birth_date: '2005-01-01', channel: 'store',
    }) + '\n');
    expect(await applySubscriptionEvents({ pool: bed.db.pool, ring: bed.db.ring, carrier: 'mobifone', path: file, rejectsPath: `${file}.rejects` })).toMatchObject({ accepted: 1 });
    await expect(confirmCode(bed.deps, bed.provider, v.id, v.code)).rejects.toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE' });
    expect(await boundAccounts('recheck-port')).toBe(0);
  });

  it('binds no one when the carrier corrected the holder\'s name to one the population registry does not have', async () => {
    const v = await started('recheck-name', N.adult3);
    const file = join(bed.dir, 'vinaphone-name.csv');
    writeFileSync(file, [
      'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at',
      `${N.adult3},${PEOPLE.adult},Nguyen Van Anh,1990-05-01,store,2020-01-01T00:00:00Z,active,,`,
    ].join('\n') + '\n');
    expect(await importRegistry({ pool: bed.db.pool, ring: bed.db.ring, kind: 'subscriptions', carrier: 'vinaphone', path: file, rejectsPath: `${file}.rejects`, workers: 1 }))
      .toMatchObject({ accepted: 1, rejected: 0 });
    await expect(confirmCode(bed.deps, bed.provider, v.id, v.code)).rejects.toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE' });
    expect(await boundAccounts('recheck-name')).toBe(0);
  });

  it('binds when nothing changed (the same checks pass)', async () => {
    const v = await started('recheck-ok', N.adult);
    await expect(confirmCode(bed.deps, bed.provider, v.id, v.code)).resolves.toMatchObject({ status: 'verified' });
    expect(await boundAccounts('recheck-ok')).toBe(1);
  });
});

describe('a resend re-checks the number before a new code leaves', () => {
  it('sends no code to a number terminated since the start, and ends the verification (NUMBER_NOT_ELIGIBLE)', async () => {
    const phone = many(0);
    const v = await started('recheck-resend', phone);
    const row = await bed.db.pool.query<{ subscription_id: string }>('SELECT subscription_id FROM verifications WHERE id = $1', [v.id]);
    const file = join(bed.dir, 'resend-terminated.ndjson');
    writeFileSync(file, JSON.stringify({ event_id: 'recheck-r1', type: 'terminated', msisdn: phone, at: new Date(Date.now() - 1_000).toISOString() }) + '\n');
    expect(await applySubscriptionEvents({ pool: bed.db.pool, ring: bed.db.ring, carrier: 'vinaphone', path: file, rejectsPath: `${file}.rejects` })).toMatchObject({ accepted: 1 });
    expect(row.rows).toHaveLength(1);
    // Past the resend's minimum interval.
    await bed.db.pool.query(`UPDATE verifications SET last_sent_at = now() - interval '31 seconds' WHERE id = $1`, [v.id]);
    const before = (await readOutbox(bed.db.pool, bed.db.ring, phone)).length;
    await expect(resendCode(bed.deps, bed.provider, v.id, { clientIp: '192.0.2.1' })).rejects.toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE' });
    expect((await readOutbox(bed.db.pool, bed.db.ring, phone)).length).toBe(before);
    expect((await bed.db.pool.query('SELECT status, failure FROM verifications WHERE id = $1', [v.id])).rows).toEqual([{ status: 'failed', failure: 'not_eligible_at_resend' }]);
    // The code already sent no longer binds either.
    await expect(confirmCode(bed.deps, bed.provider, v.id, v.code)).rejects.toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE' });
  });

  it('sends a new code while the number still verifies', async () => {
    const phone = many(1);
    const v = await started('recheck-resend-ok', phone);
    await bed.db.pool.query(`UPDATE verifications SET last_sent_at = now() - interval '31 seconds' WHERE id = $1`, [v.id]);
    const before = (await readOutbox(bed.db.pool, bed.db.ring, phone)).length;
    await resendCode(bed.deps, bed.provider, v.id, { clientIp: '192.0.2.1' });
    expect((await readOutbox(bed.db.pool, bed.db.ring, phone)).length).toBe(before + 1);
  });
});
