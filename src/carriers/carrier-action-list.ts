/**
 * A carrier's latest action list (issue 3 "Carriers use the API too: ... download their latest
 * action list"): the junk SIMs of the latest completed reconciliation run at this carrier, the
 * same list the regulator's admin API serves (`msisdn,category`), recorded as one access entry
 * per download with the carrier provider as actor (DESIGN.md invariant 4).
 *
 * Followed by the subscriptions their holders reported from their own view as not theirs (issue
 * 5: "the carrier receives it as a `REPORTED_BY_HOLDER` entry of its action list"), while the
 * subscription is live and still held by the person who reported it; recorded as a second
 * access entry of the download (the numbers opened for it, one batch entry).
 */
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { openSubscriptionNumber } from '../registry/row-crypto.ts';
import { recordBatchAccess } from '../access/access-records.ts';
import type { Provider } from '../providers/provider-service.ts';
import { checkActionList, openActionList } from '../registry/reconciliation/reconciliation-service.ts';
import { CarrierError } from './carrier-errors.ts';
import { latestCompletedRun } from './carrier-repository.ts';

/** The category of an action-list line that a holder reported (not a reconciliation category). */
export const REPORTED_BY_HOLDER = 'REPORTED_BY_HOLDER';

export interface CarrierActionList {
  runId: string;
  carrier: string;
  /** CSV text in pieces, in constant memory. */
  pieces: AsyncGenerator<string>;
}

/** Open holder reports of a carrier's live subscriptions, still held by the reporter. */
async function holderReports(pool: pg.Pool, carrierId: number): Promise<{ id: string; sealed: Buffer; dek_version: number }[]> {
  const r = await pool.query<{ id: string; sealed: Buffer; dek_version: number }>(
    `SELECT DISTINCT s.id, s.sealed, s.dek_version
     FROM subscription_reports sr JOIN subscriptions s ON s.id = sr.subscription_id JOIN persons p ON p.id = sr.person_id AND p.pid_bidx = s.holder_bidx
     WHERE sr.carrier_id = $1 AND s.status <> 'terminated' ORDER BY s.id`,
    [carrierId],
  );
  return r.rows;
}

/**
 * Which list a download would be (the latest completed run, the carrier), after the download's
 * checks, without opening a number: what a HEAD request answers, recording no access.
 */
export async function describeLatestActionList(pool: pg.Pool, provider: Provider): Promise<{ runId: string; carrier: string }> {
  if (provider.carrier === null || provider.carrierId === null) throw new CarrierError('ACTION_LIST_NOT_AVAILABLE');
  const runId = await latestCompletedRun(pool);
  if (!runId) throw new CarrierError('ACTION_LIST_NOT_AVAILABLE', 'no reconciliation run has completed yet');
  await checkActionList(pool, runId, provider.carrier);
  return { runId, carrier: provider.carrier };
}

export async function openLatestActionList(pool: pg.Pool, ring: KeyRing, provider: Provider): Promise<CarrierActionList> {
  if (provider.carrier === null || provider.carrierId === null) throw new CarrierError('ACTION_LIST_NOT_AVAILABLE');
  const runId = await latestCompletedRun(pool);
  if (!runId) throw new CarrierError('ACTION_LIST_NOT_AVAILABLE', 'no reconciliation run has completed yet');
  const junk = await openActionList(pool, ring, runId, provider.carrier, `provider:${provider.id}`);
  const reported = await holderReports(pool, provider.carrierId);
  if (reported.length > 0) {
    await recordBatchAccess(pool, { purpose: 'action_list_export', actor: `provider:${provider.id}`, runId, detail: { carrier: provider.carrier, rows: reported.length, category: REPORTED_BY_HOLDER } });
  }
  const pieces = (async function* () {
    yield* junk;
    let chunk = '';
    for (const r of reported) {
      chunk += `${openSubscriptionNumber(ring, r)},${REPORTED_BY_HOLDER}\n`;
    }
    if (chunk) yield chunk;
  })();
  return { runId, carrier: provider.carrier, pieces };
}
