/**
 * Key rotation racing other work (issue 2 "idbind keys", DESIGN.md invariant 2): a re-index half
 * done, an import starting while a row is locked or with a key ring loaded before the rotation, a
 * server still sealing under a key just replaced. Each test builds its own database.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { loadKeyRing, type KeyRing } from '../kernel/crypto/key-ring.ts';
import { importRegistry } from '../registry/import/import-service.ts';
import { composePersonalId } from '../registry/personal-id.ts';
import { completePendingReindex } from '../registry/reindex.ts';
import { ELIGIBILITY_CANDIDATE_SQL, eligibilityOf, numberKeys, type EligibilityCandidate } from '../verification/phone-eligibility.ts';
import { outboxSmsGateway, readOutbox } from '../verification/sms/sms-outbox.ts';
import { holderStillEligible } from '../verification/verification-repository.ts';
import { addKeyVersion, completeKeyWork } from './key-rotation-service.ts';

const pid = composePersonalId('031', 1975, 'F', 77);
const PERSONS = `personal_id,full_name,birth_date,sex,status\n${pid},Bùi Thị Mai,1975-06-01,F,alive\n`;
const SUBS = `msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status\n0981234567,${pid},Bùi Thị Mai,1975-06-01,store,2022-01-01,active\n`;

let db: TestDatabase | undefined;
let dir: string | undefined;
afterEach(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  db = undefined;
  dir = undefined;
});

async function setup(withSubscriptions: boolean): Promise<TestDatabase> {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-keys-review-'));
  writeFileSync(join(dir, 'p.csv'), PERSONS);
  writeFileSync(join(dir, 's.csv'), SUBS);
  await importPersons(db.ring);
  if (withSubscriptions) {
    await importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier: 'viettel', path: join(dir, 's.csv'), rejectsPath: join(dir, 'r2'), workers: 1 });
  }
  return db;
}

function importPersons(ring: KeyRing) {
  return importRegistry({ pool: db!.pool, ring, kind: 'population', path: join(dir!, 'p.csv'), rejectsPath: join(dir!, `r-${Math.random()}`), workers: 1 });
}

async function personCount(): Promise<number> {
  return (await db!.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM persons')).rows[0]!.n;
}

describe('key rotation racing other work', () => {
  it('an import started while a row is locked still finds that row (the start re-index does not skip it)', async () => {
    await setup(false);
    await addKeyVersion(db!.pool, db!.master, 'blind_index');
    const ring = await loadKeyRing(db!.pool, [db!.master]);
    // A hosted flow's binding share-locks the person (verification-repository.ts lockEligibleHolder).
    const holder = await db!.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM persons FOR SHARE');
      const running = importPersons(ring);
      await new Promise((r) => setTimeout(r, 300));
      await holder.query('COMMIT');
      await running;
    } finally {
      holder.release();
    }
    // The same person, imported again: still one row, not a duplicate under the new index.
    expect(await personCount()).toBe(1);
    await expect(completeKeyWork(db!.pool, ring, 'test', undefined, { retireGraceMs: 0 })).resolves.toMatchObject({ retired: [{ purpose: 'blind_index', version: 1 }] });
  });

  it('a phone verification is eligible half-way through a blind-index re-index (persons done, subscriptions not)', async () => {
    await setup(true);
    await addKeyVersion(db!.pool, db!.master, 'blind_index');
    const ring = await loadKeyRing(db!.pool, [db!.master]);
    // Interrupted (crash, or a row skipped while locked) after the persons table.
    await expect(completePendingReindex(db!.pool, ring, (p) => {
      if (p.table === 'persons') throw new Error('interrupted');
    })).rejects.toThrow('interrupted');
    // (Before the fix: persons on v2, the subscription on v1, and its holder not found by the join.)
    const v = await db!.pool.query<{ v: number }>(`SELECT bidx_version AS v FROM persons`);
    expect(v.rows).toEqual([{ v: 2 }]);
    const keys = numberKeys(ring, '+84981234567');
    const r = await db!.pool.query<EligibilityCandidate>(ELIGIBILITY_CANDIDATE_SQL, [keys]);
    const e = eligibilityOf(r.rows[0], keys[0]!, ring.currentBlindIndex.version, { simChangeWindowHours: 24 });
    expect(e).toMatchObject({ eligible: true });
  });

  it('an import whose process loaded its key ring before a rotation does not write under the old (retired) version', async () => {
    await setup(false);
    const stale = db!.ring; // loaded, say, before hashing a large file
    await addKeyVersion(db!.pool, db!.master, 'blind_index');
    const fresh = await loadKeyRing(db!.pool, [db!.master]);
    await completeKeyWork(db!.pool, fresh, 'test', undefined, { retireGraceMs: 0 });
    // The import refuses: its ring is stale (it would probe by, and write, a retired version).
    await expect(importPersons(stale)).rejects.toThrow(/key ring is out of date/);
    expect(await personCount()).toBe(1);
    const versions = await db!.pool.query<{ v: number }>('SELECT DISTINCT bidx_version AS v FROM persons');
    expect(versions.rows.map((x) => x.v)).toEqual([2]);
  });

  it('a data key is not destroyed while a process that loaded the ring before the rotation can still seal under it', async () => {
    await setup(false);
    const stale = db!.ring; // the server's ring, trusted for RING_RECHECK_MS (src/hub.ts)
    await addKeyVersion(db!.pool, db!.master, 'data');
    const fresh = await loadKeyRing(db!.pool, [db!.master]);
    // Nothing left under v1, but v1 was replaced a moment ago: kept for the grace (KEY_RETIRE_GRACE_MS).
    expect(await completeKeyWork(db!.pool, fresh, 'cli')).toMatchObject({ reencrypted: 1, retired: [] });
    // The server, still on its ring, writes a row sealed under v1 just after the CLI finished.
    await outboxSmsGateway(db!.pool, async () => stale).send('+84912345678', 'Your code: 123456');
    // Once the grace has passed, the next pass re-encrypts that row, then retires v1.
    expect(await completeKeyWork(db!.pool, fresh, 'server', undefined, { retireGraceMs: 0 })).toMatchObject({ reencrypted: 1, retired: [{ purpose: 'data', version: 1 }] });
    const after = await loadKeyRing(db!.pool, [db!.master]);
    await expect(readOutbox(db!.pool, after, '+84912345678')).resolves.toMatchObject([{ to: '+84912345678' }]);
  });

  it.each([
    ['a batch job\'s', false],
    ['the background', true],
  ])('a number live at two carriers under two holders stays contested half-way through %s re-index', async (_who, skipLocked) => {
    // A port in flight (DESIGN.md invariant 5): the recipient's file names a new holder while the
    // donor's port-out has not arrived. Neither holder verifies through the number until the
    // registries agree, and a re-index that moved one carrier's row but not the other's must not
    // make the donor's row look uncontested (its holder would bind an account the new holder's SIM
    // confirmed).
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'idbind-keys-review-'));
    const other = composePersonalId('001', 1990, 'M', 12);
    writeFileSync(join(dir, 'p.csv'), `${PERSONS}${other},Trần Văn Nam,1990-03-04,M,alive\n`);
    writeFileSync(join(dir, 's.csv'), SUBS);
    writeFileSync(join(dir, 'm.csv'), `msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status\n0981234567,${other},Trần Văn Nam,1990-03-04,store,2024-05-01,active\n`);
    await importPersons(db.ring);
    await importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier: 'viettel', path: join(dir, 's.csv'), rejectsPath: join(dir, 'r2'), workers: 1 });
    await importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier: 'mobifone', path: join(dir, 'm.csv'), rejectsPath: join(dir, 'r3'), workers: 1 });
    const donor = (await db.pool.query<{ s: string; p: string }>(
      `SELECT s.id AS s, p.id AS p FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id JOIN persons p ON p.pid_bidx = s.holder_bidx WHERE c.slug = 'viettel'`)).rows[0]!;
    expect(await holderStillEligible(db.pool, donor.s, donor.p, 24)).toBe(false);

    await addKeyVersion(db.pool, db.master, 'blind_index');
    const ring = await loadKeyRing(db.pool, [db.master]);
    // Interrupted after the first batch of one person: the donor's holder, imported first.
    await expect(completePendingReindex(db.pool, ring, (p) => {
      if (p.table === 'persons') throw new Error('interrupted');
    }, { batchSize: 1, skipLocked })).rejects.toThrow('interrupted');
    const versions = await db.pool.query<{ slug: string; v: number }>(
      `SELECT c.slug, s.bidx_version AS v FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id ORDER BY c.slug`);
    // Every live row of a number moves with the others (before the fix: mobifone 1, viettel 2).
    expect(versions.rows).toEqual([{ slug: 'mobifone', v: 2 }, { slug: 'viettel', v: 2 }]);
    expect(await holderStillEligible(db.pool, donor.s, donor.p, 24)).toBe(false);
    const keys = numberKeys(ring, '+84981234567');
    const r = await db.pool.query<EligibilityCandidate>(ELIGIBILITY_CANDIDATE_SQL, [keys]);
    expect(eligibilityOf(r.rows[0], keys[0]!, ring.currentBlindIndex.version, { simChangeWindowHours: 24 })).toMatchObject({ eligible: false, reason: 'number_contested' });
    // The new holder, moved with the recipient's row, is still found by its own subscription.
    const recipient = (await db.pool.query<{ v: number }>(
      `SELECT p.bidx_version AS v FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id JOIN persons p ON p.pid_bidx = s.holder_bidx WHERE c.slug = 'mobifone'`)).rows;
    expect(recipient).toEqual([{ v: 2 }]);
    // Finishing the work leaves one version, and v1 is retired.
    await expect(completeKeyWork(db.pool, ring, 'test', undefined, { retireGraceMs: 0 })).resolves.toMatchObject({ retired: [{ purpose: 'blind_index', version: 1 }] });
  });

  it('the background re-index never waits for a row a binding holds locked: it leaves that batch to its next pass', async () => {
    await setup(true);
    await addKeyVersion(db!.pool, db!.master, 'blind_index');
    const ring = await loadKeyRing(db!.pool, [db!.master]);
    // A confirmation share-locks the subscription until its binding commits (binding-repository.ts
    // lockSubscription): a re-index waiting for it there, holding the person the confirmation
    // locks next, is a deadlock, and a wait of the confirmation's length for every batch.
    const binding = await db!.pool.connect();
    try {
      await binding.query('BEGIN');
      await binding.query('SELECT id FROM subscriptions FOR SHARE');
      const pass = completePendingReindex(db!.pool, ring, undefined, { skipLocked: true });
      const first = await Promise.race([pass, new Promise((r) => setTimeout(() => r('waiting'), 30_000))]);
      expect(first).not.toBe('waiting');
      // Nothing of the batch moved: the person stays with its subscription on v1.
      const v = await db!.pool.query<{ v: number }>('SELECT bidx_version AS v FROM persons UNION ALL SELECT bidx_version FROM subscriptions');
      expect(v.rows).toEqual([{ v: 1 }, { v: 1 }]);
      await binding.query('COMMIT');
    } finally {
      binding.release();
    }
    await completePendingReindex(db!.pool, ring, undefined, { skipLocked: true });
    const v = await db!.pool.query<{ v: number }>('SELECT bidx_version AS v FROM persons UNION ALL SELECT bidx_version FROM subscriptions');
    expect(v.rows).toEqual([{ v: 2 }, { v: 2 }]);
  });

  it('a batch job\'s start re-index backs off from a confirmation\'s locks instead of deadlocking with it', async () => {
    await setup(true);
    await addKeyVersion(db!.pool, db!.master, 'blind_index');
    const ring = await loadKeyRing(db!.pool, [db!.master]);
    // A confirmation share-locks the subscription, then the person (verification-repository.ts
    // eligibleHolderSql, FOR SHARE OF s, p); the re-index locks the person, then its subscription.
    const confirmation = await db!.pool.connect();
    try {
      await confirmation.query('BEGIN');
      await confirmation.query('SELECT id FROM subscriptions FOR SHARE');
      const reindex = completePendingReindex(db!.pool, ring);
      const outcome = reindex.then(() => 'done', (e: { code?: string }) => e.code ?? 'failed');
      await new Promise((r) => setTimeout(r, 300));
      // Before: both waited for each other until PostgreSQL aborted one (40P01), maybe this one.
      await expect(confirmation.query('SELECT id FROM persons FOR SHARE')).resolves.toMatchObject({ rowCount: 1 });
      await confirmation.query('COMMIT');
      expect(await outcome).toBe('done');
    } finally {
      confirmation.release();
    }
    const v = await db!.pool.query<{ v: number }>('SELECT bidx_version AS v FROM persons UNION ALL SELECT bidx_version FROM subscriptions');
    expect(v.rows).toEqual([{ v: 2 }, { v: 2 }]);
  });
});
