/**
 * Demo platforms (issue 3 "SDK and console": "The demo data of `npm start` gains three demo
 * platforms with printed API keys"). Demo mode only. Their keys are kept in the data directory
 * (mode 0600) so that a restarted demo prints the same ones; a production hub has neither the
 * file nor the platforms.
 *
 * Also picks a few numbers of the synthetic registry that can verify an account (active, holder
 * alive, adult, not junk, no recent SIM change), so the walkthrough has something to type.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { associatedData, openRecord } from '../kernel/crypto/envelope.ts';
import { dataKeyFor } from '../kernel/crypto/key-ring.ts';
import { authenticateApiKey, createProvider, findProviderByName, rotateApiKey, webhookSecrets } from '../providers/provider-service.ts';
import { personFromSealedFields, vietnamToday } from '../registry/registry-rows.ts';
import { ageOn } from '../registry/dates.ts';
import { LATEST_COMPLETED_RUN_SQL } from '../registry/reconciliation/reconciliation-repository.ts';

export interface DemoPlatform {
  id: string;
  name: string;
  profile: 'minimal' | 'statutory';
  kind: 'platform' | 'registrar';
  api_key: string;
  webhook_secret: string;
}

const DEMO_PLATFORMS = [
  { name: 'Sen Social', kind: 'platform', profile: 'minimal' },
  { name: 'Lotus Video', kind: 'platform', profile: 'statutory' },
  { name: 'Mekong Domains', kind: 'registrar', profile: 'minimal' },
] as const;

async function keyStillWorks(pool: pg.Pool, key: string): Promise<boolean> {
  try {
    await authenticateApiKey(pool, key);
    return true;
  } catch {
    return false;
  }
}

export async function ensureDemoPlatforms(pool: pg.Pool, ring: KeyRing, dataDir: string): Promise<DemoPlatform[]> {
  const file = join(dataDir, 'demo-platforms.json');
  const saved: DemoPlatform[] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoPlatform[]) : [];
  const out: DemoPlatform[] = [];
  for (const d of DEMO_PLATFORMS) {
    const existing = await findProviderByName(pool, d.name);
    const known = saved.find((s) => s.name === d.name);
    if (existing && known && known.id === existing.id && (await keyStillWorks(pool, known.api_key))) {
      out.push(known);
    } else if (existing) {
      // The key file was lost, or the key was rotated from the console: issue a new key (the old
      // ones stop at once) and read the secret.
      const { apiKey } = await rotateApiKey(pool, existing.id, 0);
      out.push({ id: existing.id, name: d.name, kind: d.kind, profile: d.profile, api_key: apiKey, webhook_secret: (await webhookSecrets(pool, ring, existing.id))[0] ?? '' });
    } else {
      const c = await createProvider(pool, ring, { allowLoopback: true }, { name: d.name, kind: d.kind, legalProfile: d.profile });
      out.push({ id: c.provider.id, name: d.name, kind: d.kind, profile: d.profile, api_key: c.apiKey, webhook_secret: c.webhookSecret });
    }
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return out;
}

/** Up to `n` synthetic numbers that can verify an account right now (demo mode only). */
export async function demoEligibleNumbers(pool: pg.Pool, ring: KeyRing, n: number): Promise<string[]> {
  const r = await pool.query<{ id: string; sealed: Buffer; dek_version: number; person_id: string; p_sealed: Buffer; p_dek: number }>(
    `SELECT s.id, s.sealed, s.dek_version, p.id AS person_id, p.sealed AS p_sealed, p.dek_version AS p_dek
     FROM subscriptions s JOIN persons p ON p.pid_bidx = s.holder_bidx
     WHERE s.status = 'active' AND p.status = 'alive'
       AND (s.sim_changed_at IS NULL OR s.sim_changed_at < now() - interval '72 hours')
       AND (s.device_changed_at IS NULL OR s.device_changed_at < now() - interval '72 hours')
       AND NOT EXISTS (SELECT 1 FROM reconciliation_results rr WHERE rr.subscription_id = s.id
                       AND rr.run_id = (${LATEST_COMPLETED_RUN_SQL}))
       AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.person_id = p.id)
     ORDER BY s.id LIMIT $1`,
    [n * 4],
  );
  const today = vietnamToday();
  const numbers: string[] = [];
  for (const row of r.rows) {
    const person = personFromSealedFields(openRecord(dataKeyFor(ring, row.p_dek), row.p_sealed, associatedData('persons', 'sealed', row.person_id)), 'alive');
    if (ageOn(person.birthDate, today) < 18) continue;
    numbers.push(openRecord(dataKeyFor(ring, row.dek_version), row.sealed, associatedData('subscriptions', 'sealed', row.id))[0]!);
    if (numbers.length >= n) break;
  }
  return numbers;
}
