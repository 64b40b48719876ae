/**
 * A small hand-written registry for verification tests: one person or number per rule, imported
 * through the real import code (so everything is sealed and indexed as in production). Synthetic
 * data only. Times are relative to now, so SIM-change windows and ages hold whenever it runs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import type { KeyRing } from '../../src/kernel/crypto/key-ring.ts';
import { importRegistry } from '../../src/registry/import/import-service.ts';
import { loadConfig } from '../../src/kernel/config/config.ts';
import { createProvider, type Provider } from '../../src/providers/provider-service.ts';
import { outboxSmsGateway } from '../../src/verification/sms/sms-outbox.ts';
import type { VerificationDeps } from '../../src/verification/verification-service.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

/** Numbers in E.164, by the rule they exercise. */
export const N = {
  adult: '+84912000001',
  adult2: '+84912000012',
  adult3: '+84912000013',
  simChanged: '+84912000002',
  blocked: '+84912000003',
  minor: '+84912000004',
  deceased: '+84912000005',
  adultB: '+84912000006',
  noHolder: '+84912000007',
  holderUnknown: '+84912000008',
  deviceChanged: '+84912000009',
  mismatch: '+84912000010',
  oldSimChange: '+84912000011',
  /** The fourth number its holder registered online at one carrier: ONLINE_BEYOND_LIMIT once reconciled. */
  onlineBeyondLimit: '+84912000023',
  unknown: '+84912999999',
} as const;

/** Twenty more numbers of the same adult (`many(0)` to `many(19)`), for tests that spend per-number budgets. */
export function many(i: number): string {
  if (i < 0 || i >= 20) throw new RangeError('many(i): 0 to 19');
  return `+849121001${String(i).padStart(2, '0')}`;
}

export const PEOPLE = {
  adult: '001090000001',
  minor: '001315000002',
  deceased: '001085000003',
  adultB: '001205000004',
  online: '001092000005',
} as const;

export async function seedVerificationRegistry(pool: pg.Pool, ring: KeyRing): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'idbind-vfix-'));
  try {
    writeFileSync(join(dir, 'population.csv'), [
      'personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids',
      `${PEOPLE.adult},Nguyễn Văn An,1990-05-01,M,alive,,`,
      `${PEOPLE.minor},Trần Thị Bình,2015-03-01,F,alive,,${PEOPLE.adult}`,
      `${PEOPLE.deceased},Lê Văn Cường,1985-01-01,M,deceased,2024-02-02,`,
      `${PEOPLE.adultB},Phạm Minh Đức,2005-01-01,M,alive,,`,
      `${PEOPLE.online},Võ Văn Em,1992-06-01,M,alive,,`,
    ].join('\n') + '\n');
    const sub = (msisdn: string, pid: string, name: string, birth: string, status = 'active', sim = '', device = '', channel = 'store', registered = '2020-01-01T00:00:00Z') =>
      `${msisdn},${pid},${name},${birth},${channel},${registered},${status},${sim},${device}`;
    writeFileSync(join(dir, 'vinaphone.csv'), [
      'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at',
      sub(N.adult, PEOPLE.adult, 'Nguyen Van An', '1990-05-01'),
      sub(N.adult2, PEOPLE.adult, 'Nguyen Van An', '1990-05-01'),
      sub(N.adult3, PEOPLE.adult, 'Nguyen Van An', '1990-05-01'),
      ...Array.from({ length: 20 }, (_, i) => many(i)).map((m) => sub(m, PEOPLE.adult, 'Nguyen Van An', '1990-05-01')),
      sub(N.simChanged, PEOPLE.adult, 'Nguyen Van An', '1990-05-01', 'active', hoursAgo(1)),
      sub(N.oldSimChange, PEOPLE.adult, 'Nguyen Van An', '1990-05-01', 'active', hoursAgo(100)),
      sub(N.deviceChanged, PEOPLE.adult, 'Nguyen Van An', '1990-05-01', 'active', '', hoursAgo(2)),
      sub(N.blocked, PEOPLE.adult, 'Nguyen Van An', '1990-05-01', 'blocked_outgoing'),
      sub(N.minor, PEOPLE.minor, 'Tran Thi Binh', '2015-03-01'),
      sub(N.deceased, PEOPLE.deceased, 'Le Van Cuong', '1985-01-01'),
      sub(N.adultB, PEOPLE.adultB, 'Pham Minh Duc', '2005-01-01'),
      sub(N.noHolder, '', '', ''),
      sub(N.holderUnknown, '001090999999', 'Someone Else', '1990-01-01'),
      sub(N.mismatch, PEOPLE.adultB, 'Totally Different Name', '2005-01-01'),
      ...[0, 1, 2, 3].map((i) => sub(`+8491200002${i}`, PEOPLE.online, 'Vo Van Em', '1992-06-01', 'active', '', '', 'online', `2021-0${i + 1}-01T00:00:00Z`)),
    ].join('\n') + '\n');
    for (const [kind, file, carrier] of [['population', 'population.csv', undefined], ['subscriptions', 'vinaphone.csv', 'vinaphone']] as const) {
      const summary = await importRegistry({ pool, ring, kind, carrier, path: join(dir, file), rejectsPath: join(dir, `${file}.rejects`), workers: 1 });
      if (summary.rejected > 0) throw new Error(`fixture ${file}: ${summary.rejected} rows rejected (see ${file}.rejects)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A database seeded with this registry, the verification service's dependencies (demo mode: the
 * SMS outbox) and one platform allowed 100 accounts per person, for tests that call the service
 * directly. `env` adds configuration (limits raised for a test that spends them).
 */
export interface VerificationTestbed {
  db: TestDatabase;
  dir: string;
  deps: VerificationDeps;
  provider: Provider;
  close(): Promise<void>;
}

export async function openVerificationTestbed(name: string, env: Record<string, string> = {}): Promise<VerificationTestbed> {
  const db = await createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'idbind-vbed-'));
  await seedVerificationRegistry(db.pool, db.ring);
  const config = loadConfig({ mode: 'demo', env: { IDBIND_DATA_DIR: dir, ...env }, warn: () => undefined });
  const deps: VerificationDeps = {
    pool: db.pool, ring: async () => db.ring, config: config.verification, smsTemplate: config.sms.template, sms: outboxSmsGateway(db.pool, async () => db.ring),
  };
  const provider = (await createProvider(db.pool, db.ring, { allowLoopback: false }, { name, kind: 'platform', limits: { accountsPerPerson: 100 } })).provider;
  return {
    db, dir, deps, provider,
    async close() {
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
