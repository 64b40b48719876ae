/**
 * Demo mode only (issue 5 "Demo": "one completed demo disclosure, so that the log is not empty
 * and every page of the authority console, the citizen portal and the report has something to
 * show"): binds a demo account of Sen Social to a synthetic person of the demo registry, and runs
 * one request through filing, approval by the procuracy and release, exactly as officials would.
 * Idempotent: nothing is done when a request exists.
 */
import type pg from 'pg';
import { holdAdvisoryLock } from '../kernel/db/advisory-lock.ts';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { inTransaction } from '../kernel/db/pool.ts';
import { bindAccountInTransaction } from '../bindings/binding-service.ts';
import { demoDisclosureHolding } from '../demo/demo-platforms.ts';
import { findProviderByName } from '../providers/provider-repository.ts';
import { providerFromRow } from '../providers/provider-service.ts';
import type { DemoOfficials } from '../officials/demo-officials.ts';
import { approveRequest, submitRequest, type DisclosureDeps } from './disclosure-service.ts';

export const DEMO_DISCLOSED_ACCOUNT = 'demo-disclosed-account';

/** The advisory lock under which the demo disclosure is seeded (arbitrary, constant; see carrier-jobs.ts for its neighbours). */
const LOCK_DEMO_DISCLOSURE = 72_030;

export async function ensureDemoDisclosure(deps: DisclosureDeps, ring: KeyRing, officials: DemoOfficials): Promise<string | undefined> {
  if ((await deps.pool.query('SELECT 1 FROM disclosure_requests LIMIT 1')).rows.length > 0) return undefined;
  // The start seeds it (before its banner, server.ts demoDataSeeded), and so does every GET
  // /v1/demo/session (the web app's first call: a tab left open from an earlier run, another hub
  // process on the same database). Each saw no request and filed one of its own, so the demo
  // showed several disclosures of the one account. One seeder at a time, checking again under the
  // lock; the lock is held on a connection of its own, not the pool's, whose connections the
  // seeding needs while others wait.
  const lock = (await holdAdvisoryLock(deps.pool, LOCK_DEMO_DISCLOSURE, 0, { wait: true, applicationName: 'idbind-demo-disclosure' }))!;
  try {
    if ((await deps.pool.query('SELECT 1 FROM disclosure_requests LIMIT 1')).rows.length > 0) return undefined;
    return await seed(deps, ring, officials);
  } finally {
    await lock.release();
  }
}

async function seed(deps: DisclosureDeps, ring: KeyRing, officials: DemoOfficials): Promise<string | undefined> {
  const row = await findProviderByName(deps.pool, 'Sen Social');
  if (!row) return undefined;
  const platform = providerFromRow(row);
  // Never a person of the numbers the start offers for the walkthrough (demoDisclosureHolding).
  const holding = await demoDisclosureHolding(deps.pool, ring);
  if (!holding) return undefined;
  await bind(deps.pool, platform, holding.personId, holding.subscriptionId);
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
