/**
 * The SMS-pumping metric and alert (issue 3 "Abuse": a metric and an alert for prefixes whose
 * codes are sent but rarely confirmed) through the real flow: codes started and confirmed by the
 * verification service, counted per number prefix, and the maintenance run that raises the alert.
 * The metric's labels name a prefix (+84 and three digits), never a number.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { many, N, openVerificationTestbed, type VerificationTestbed } from '../../test/support/verification-fixture.ts';
import { createMetrics } from '../kernel/metrics.ts';
import { readOutbox } from './sms/sms-outbox.ts';
import { runVerificationMaintenance } from './verification-maintenance.ts';
import { confirmCode, startVerification } from './verification-service.ts';
import { SMS_PUMPING_MIN_SENT } from './verification-stats.ts';

let bed: VerificationTestbed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

const LIMITS = { IDBIND_LIMIT_NUMBER_PER_HOUR: '1000', IDBIND_LIMIT_NUMBER_PER_DAY: '1000', IDBIND_LIMIT_NUMBER_ATTEMPTS_PER_DAY: '1000' };

async function open(name: string) {
  bed = await openVerificationTestbed(name, LIMITS);
  const metrics = createMetrics();
  return { ...bed, deps: { ...bed.deps, metrics }, metrics };
}

async function lastCode(b: VerificationTestbed, phone: string): Promise<string> {
  return (await readOutbox(b.db.pool, b.db.ring, phone)).at(-1)!.text.match(/\b\d{6}\b/)![0];
}

describe('the SMS-pumping alert, through the real flow', () => {
  it('fires for a prefix with many codes sent and few confirmed, labelled by the prefix only', async () => {
    const { deps, provider, db, metrics } = await open('Pumped Net');
    const sent = SMS_PUMPING_MIN_SENT + 10;
    for (let i = 0; i < sent; i++) {
      const s = await startVerification(deps, provider, { accountRef: `pump-${i}`, phone: many(i % 20), clientIp: `10.3.0.${i % 200}` });
      if (i < 2) await confirmCode(deps, provider, s.id, await lastCode(bed!, many(i % 20)));
    }
    const warned: Record<string, unknown>[] = [];
    const r = await runVerificationMaintenance(db.pool, metrics, (_m, f) => warned.push(f));
    expect(r.suspects).toEqual(['+84912']);
    expect(warned).toEqual([{ prefix: '+84912', sent, confirmed: 2 }]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('idbind_sms_pumping_suspected{prefix="+84912"} 1');
    expect(text).toContain(`idbind_sms_codes_total{prefix="+84912",event="sent"} ${sent}`);
    // No label holds a number: neither in E.164 nor its national digits.
    for (let i = 0; i < 20; i++) expect(text).not.toContain(many(i).slice(3));
  });

  it('does not fire for a prefix with few codes sent, none confirmed', async () => {
    const { deps, provider, db, metrics } = await open('Quiet Net');
    for (let i = 0; i < 5; i++) await startVerification(deps, provider, { accountRef: `quiet-${i}`, phone: many(i), clientIp: '10.3.1.1' });
    expect((await runVerificationMaintenance(db.pool, metrics, () => undefined)).suspects).toEqual([]);
    expect(await metrics.registry.metrics()).not.toContain('idbind_sms_pumping_suspected{');
  });

  it('does not fire for codes that people typed right, whatever the confirmation then answered (a minor: GUARDIAN_REQUIRED)', async () => {
    const { deps, provider, db, metrics } = await open('Teen Net');
    for (let i = 0; i < SMS_PUMPING_MIN_SENT + 10; i++) {
      const s = await startVerification(deps, provider, { accountRef: `teen-${i}`, phone: N.minor, clientIp: '10.3.2.1' });
      // The code reached a person, who typed it: a confirmation, not pumping.
      await expect(confirmCode(deps, provider, s.id, await lastCode(bed!, N.minor))).rejects.toMatchObject({ code: 'GUARDIAN_REQUIRED' });
    }
    expect((await runVerificationMaintenance(db.pool, metrics, () => undefined)).suspects).toEqual([]);
  });
});
