/**
 * The statements that find one verification by its id are planned onto the primary key, whatever
 * the table's statistics (migration 0019). The hub prepares them by name, and each connection keeps
 * the plan it made: a plan made while the table was new and unanalysed (a fresh deployment, the
 * first minute before autovacuum's ANALYZE) read every open verification through the expiry
 * sweep's partial index, about 1,400 buffers a call in the issue 3 benchmark instead of 3, for as
 * long as the connection lived.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { explainNodes } from '../../test/support/query-plans.ts';
import { uuidv7 } from '../kernel/ids.ts';
import { demoEligibleNumbers } from '../demo/demo-platforms.ts';
import { seedDemoRegistry } from '../demo/demo-seed.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { numberKeys } from './phone-eligibility.ts';
import { EXPIRE_VERIFICATIONS_SQL, expireVerifications } from './verification-maintenance.ts';
import {
  CONSUME_AND_RECHECK_SQL, CONSUME_RECHECK_AND_LOCK_SQL, COUNT_ATTEMPT_WITHIN_BUDGET_SQL, FIND_VERIFICATION_SQL, FINISH_VERIFICATION_SQL, REPLACE_CODE_SQL, startChecks,
} from './verification-repository.ts';
import { BIND_ACCOUNT_SQL } from '../bindings/binding-repository.ts';

let db: TestDatabase;
let provider: Provider;
const open: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  provider = (await createProvider(db.pool, db.ring, { allowLoopback: false }, { name: 'Plan Net', kind: 'platform' })).provider;
  // A young table as the hub meets it: some open sessions, more completed ones, never analysed
  // (autovacuum kept off this throwaway database's table, so that it cannot analyse it mid-test).
  await db.pool.query('ALTER TABLE verifications SET (autovacuum_enabled = false)');
  for (let i = 0; i < 300; i++) {
    const id = uuidv7();
    const done = i % 5 !== 0;
    await db.pool.query(
      `INSERT INTO verifications (id, provider_id, account_ref, msisdn_bidx, bidx_version, status, code_hmac, code_key_version, code_expires_at, last_sent_at, consumed_at, completed_at)
       VALUES ($1, $2, $3, $4, 1, $5, $6, 1, now() + interval '5 minutes', now(), $7, $7)`,
      [id, provider.id, `plan-${i}`, randomBytes(32), done ? 'verified' : 'code_sent', randomBytes(32), done ? new Date() : null],
    );
    if (!done) open.push(id);
  }
});
afterAll(async () => {
  await db.drop();
});

function literal(v: unknown): string {
  if (v === null) return 'NULL';
  if (Buffer.isBuffer(v)) return `'\\x${v.toString('hex')}'`;
  if (typeof v === 'number') return String(v);
  return `'${String(v).replaceAll("'", "''")}'`;
}

/** The indexes and scans each statement's plan uses on `verifications`, custom and generic. */
async function verificationScans(sql: string, values: unknown[]): Promise<Record<string, string[]>> {
  const c = await db.pool.connect();
  const out: Record<string, string[]> = {};
  try {
    for (const mode of ['force_custom_plan', 'force_generic_plan']) {
      await c.query('BEGIN');
      await c.query(`SET LOCAL plan_cache_mode = ${mode}`);
      // As the hub runs it: a prepared statement, executed with values (literals here, so that
      // EXPLAIN shows the prepared statement's own plan).
      await c.query(`PREPARE plan_probe AS ${sql}`);
      const nodes = await explainNodes(c, `EXECUTE plan_probe(${values.map(literal).join(', ')})`);
      await c.query('ROLLBACK');
      await c.query('DEALLOCATE plan_probe');
      const scans = nodes.filter((n) => n['Relation Name'] === 'verifications' && n['Node Type'] !== 'ModifyTable');
      out[mode] = [...new Set(scans.map((n) => n['Index Name'] ?? n['Node Type']))];
    }
  } finally {
    await c.query('ROLLBACK');
    c.release();
  }
  return out;
}

const statements = (): [string, string, unknown[]][] => [
  ['counting an attempt', COUNT_ATTEMPT_WITHIN_BUDGET_SQL, [open[0], provider.id, 5, 20]],
  ['consuming the code', CONSUME_AND_RECHECK_SQL, [open[0], uuidv7(), uuidv7(), 72]],
  ['consuming the code and taking the pseudonym', CONSUME_RECHECK_AND_LOCK_SQL, [open[0], uuidv7(), uuidv7(), 72, provider.id, 'p'.repeat(22)]],
  ['binding and completing the verification', BIND_ACCOUNT_SQL, [uuidv7(), provider.id, 'plan-bind', uuidv7(), uuidv7(), 'phone', 'low', 'account.verified', 'p'.repeat(22),
    null, 'provider:plan', '{}', 5, open[0], '{}']],
  ['reading a verification', FIND_VERIFICATION_SQL, [open[0], provider.id]],
  ['finishing a verification', FINISH_VERIFICATION_SQL, [open[0], 'verified', null, null]],
  ['replacing the code', REPLACE_CODE_SQL, [open[0], randomBytes(32), 1, 300, 3, 30]],
];

describe('plans of the statements that find a verification by id (migration 0019)', () => {
  it.each(['never analysed', 'analysed'])('use only the primary key on a table %s', async (state) => {
    if (state === 'analysed') await db.pool.query('ANALYZE verifications');
    else expect((await db.pool.query('SELECT reltuples FROM pg_class WHERE relname = $1', ['verifications'])).rows[0].reltuples).toBe(-1);
    for (const [what, sql, values] of statements()) {
      const scans = await verificationScans(sql, values);
      expect(scans, what).toEqual({ force_custom_plan: ['verifications_pkey'], force_generic_plan: ['verifications_pkey'] });
    }
  });

  it('the expiry sweep still finds open verifications by its own index and expires only those past their time', async () => {
    await db.pool.query(`UPDATE verifications SET code_expires_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])`, [open.slice(0, 3)]);
    const c = await db.pool.connect();
    try {
      // Only for this question, in this transaction: the pooled connection goes back as it came.
      await c.query('BEGIN');
      await c.query('SET LOCAL enable_seqscan = off');
      const nodes = await explainNodes(c, EXPIRE_VERIFICATIONS_SQL);
      expect(nodes.flatMap((n) => n['Index Name'] ?? [])).toEqual(['verifications_open_expiry']);
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
    expect(await expireVerifications(db.pool)).toBe(3);
    const rows = await db.pool.query<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM verifications GROUP BY 1 ORDER BY 1`);
    expect(rows.rows).toEqual([{ status: 'code_sent', n: String(open.length - 3) }, { status: 'expired', n: '3' }, { status: 'verified', n: String(300 - open.length) }]);
  });
});

describe('the prepared start checks (phone-eligibility.ts ELIGIBILITY_CANDIDATE_SQL)', () => {
  it('settle on a generic plan over an analysed registry, instead of being planned anew on every start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idbind-plans-'));
    try {
      await seedDemoRegistry({ pool: db.pool, ring: db.ring, dataDir: dir, workers: 1, people: 3000, subscriptions: 3600 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await db.pool.query('ANALYZE');
    const numbers = await demoEligibleNumbers(db.pool, db.ring, 12);
    expect(numbers).toHaveLength(12);
    const c = await db.pool.connect();
    try {
      for (const [i, e164] of numbers.entries()) {
        const checked = await startChecks(c, {
          numberKeys: numberKeys(db.ring, e164), buckets: [`plan:${i}:a`, `plan:${i}:b`], windows: [60, 3600],
          providerId: provider.id, accountRef: `plan-start-${i}`, countAccounts: true,
        });
        expect(checked.candidate?.status, e164).toBe('active'); // the plan still finds each number
        expect(checked.hits).toHaveLength(2);
      }
      // PostgreSQL plans a prepared statement for its values five times, then keeps a generic plan
      // unless the values' plans look cheaper (they did, when the planner saw the array).
      const r = await c.query<{ generic_plans: string; custom_plans: string }>(
        `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'verification_start_checks'`,
      );
      expect(r.rows.map((x) => ({ generic: Number(x.generic_plans), custom: Number(x.custom_plans) }))).toEqual([{ generic: 7, custom: 5 }]);
    } finally {
      c.release();
    }
  });
});
