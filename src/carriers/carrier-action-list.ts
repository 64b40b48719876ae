/**
 * A carrier's latest action list (issue 3 "Carriers use the API too: ... download their latest
 * action list"): the junk SIMs of the latest completed reconciliation run at this carrier, the
 * same list the regulator's admin API serves (`msisdn,category`), recorded as one access entry
 * per download with the carrier provider as actor (DESIGN.md invariant 4).
 */
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import type { Provider } from '../providers/provider-service.ts';
import { openActionList } from '../registry/reconciliation/reconciliation-service.ts';
import { CarrierError } from './carrier-errors.ts';
import { latestCompletedRun } from './carrier-repository.ts';

export interface CarrierActionList {
  runId: string;
  carrier: string;
  /** CSV text in pieces, in constant memory. */
  pieces: AsyncGenerator<string>;
}

export async function openLatestActionList(pool: pg.Pool, ring: KeyRing, provider: Provider): Promise<CarrierActionList> {
  if (provider.carrier === null) throw new CarrierError('ACTION_LIST_NOT_AVAILABLE');
  const runId = await latestCompletedRun(pool);
  if (!runId) throw new CarrierError('ACTION_LIST_NOT_AVAILABLE', 'no reconciliation run has completed yet');
  const pieces = await openActionList(pool, ring, runId, provider.carrier, `provider:${provider.id}`);
  return { runId, carrier: provider.carrier, pieces };
}
