/**
 * Demo mode only (issue 5 "Demo": "one completed demo disclosure, so that the log is not empty
 * and every page of the authority console, the citizen portal and the report has something to
 * show"): binds a demo account of Sen Social to a synthetic person of the demo registry, and runs
 * one request through filing, approval by the procuracy and release, exactly as officials would.
 * Idempotent: nothing is done when a request exists.
 */
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { inTransaction } from '../kernel/db/pool.ts';
import { bindAccountInTransaction } from '../bindings/binding-service.ts';
import { demoEligibleNumbers } from '../demo/demo-platforms.ts';
import { findProviderByName } from '../providers/provider-repository.ts';
import { providerFromRow } from '../providers/provider-service.ts';
import { findLiveSubscriptionsByMsisdn } from '../registry/registry-lookup.ts';
import type { DemoOfficials } from '../officials/demo-officials.ts';
import { approveRequest, submitRequest, type DisclosureDeps } from './disclosure-service.ts';

export const DEMO_DISCLOSED_ACCOUNT = 'demo-disclosed-account';

export async function ensureDemoDisclosure(deps: DisclosureDeps, ring: KeyRing, officials: DemoOfficials): Promise<string | undefined> {
  if ((await deps.pool.query('SELECT 1 FROM disclosure_requests LIMIT 1')).rows.length > 0) return undefined;
  const row = await findProviderByName(deps.pool, 'Sen Social');
  if (!row) return undefined;
  const platform = providerFromRow(row);
  const [number] = await demoEligibleNumbers(deps.pool, ring, 1);
  if (!number) return undefined;
  const [sub] = await findLiveSubscriptionsByMsisdn(deps.pool, ring, number);
  const person = sub ? (await deps.pool.query<{ id: string }>('SELECT id FROM persons WHERE pid_bidx = $1', [sub.holder_bidx])).rows[0] : undefined;
  if (!sub || !person) return undefined;
  await bind(deps.pool, platform, person.id, sub.id);
  const filed = await submitRequest(deps, officials.requester, {
    providerId: platform.id, accountRef: DEMO_DISCLOSED_ACCOUNT, asks: ['identity', 'history'],
    legalBasis: 'Bộ luật Tố tụng hình sự 2015, Điều 88 (demo)', caseReference: 'DEMO-2026-001',
    reasons: 'Demo: the account sent repeated threats to a named person; the identity is needed to summon its holder.',
  });
  await approveRequest(deps, officials.approver, filed.id);
  return filed.id;
}

async function bind(pool: pg.Pool, platform: ReturnType<typeof providerFromRow>, personId: string, subscriptionId: string): Promise<void> {
  await inTransaction(pool, (client) => bindAccountInTransaction(client, platform, {
    accountRef: DEMO_DISCLOSED_ACCOUNT, personId, subscriptionId, method: 'phone', level: 'low', viaVerification: 'demo-disclosure',
  }));
}
