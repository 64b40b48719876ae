/**
 * An import that stops before the end of its file closes it (chunk-reader.ts close()): the hub
 * imports carriers' uploads in its own process, for months, and each refused or interrupted run
 * that kept its descriptor would bring it nearer the process's limit. Here a run refused because
 * another import of the same registry holds its lock (IMPORT_ALREADY_RUNNING), the commonest case:
 * the file was opened and its header checked before the lock was tried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { settledDescriptorsOpenOn } from '../../../test/support/file-descriptors.ts';
import { composePersonalId } from '../personal-id.ts';
import { applySubscriptionEvents } from '../subscription-events.ts';
import { importRegistry } from './import-service.ts';
import { findOrCreateCarrier, tryLockRegistry } from './import-repository.ts';

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-import-fds-'));
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a run refused while another import holds the lock', () => {
  it('leaves no descriptor open on its file: full files of both registries and a delta file', async () => {
    const population = join(dir, 'population.csv');
    writeFileSync(population, `personal_id,full_name,birth_date,sex,status\n${composePersonalId('001', 1985, 'M', 1)},Nguyễn Văn An,1985-01-01,M,alive\n`);
    const subscriptions = join(dir, 'viettel.csv');
    writeFileSync(subscriptions, 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status\n0961000001,,,,store,2024-01-01,active\n');
    const deltas = join(dir, 'viettel-events.ndjson');
    writeFileSync(deltas, '{"event_id":"e1","type":"terminated","msisdn":"0961000001","at":"2024-02-01"}\n');
    const holder = await db.pool.connect();
    try {
      const carrierId = await findOrCreateCarrier(holder, 'viettel');
      expect(await tryLockRegistry(holder, 'population', null)).toBe(true);
      expect(await tryLockRegistry(holder, 'subscriptions', carrierId)).toBe(true);
      const common = { pool: db.pool, ring: db.ring, workers: 1 };
      await expect(importRegistry({ ...common, kind: 'population', path: population, rejectsPath: `${population}.r` }))
        .rejects.toMatchObject({ code: 'IMPORT_ALREADY_RUNNING' });
      await expect(importRegistry({ ...common, kind: 'subscriptions', carrier: 'viettel', path: subscriptions, rejectsPath: `${subscriptions}.r` }))
        .rejects.toMatchObject({ code: 'IMPORT_ALREADY_RUNNING' });
      await expect(applySubscriptionEvents({ pool: db.pool, ring: db.ring, carrier: 'viettel', path: deltas, rejectsPath: `${deltas}.r` }))
        .rejects.toMatchObject({ code: 'IMPORT_ALREADY_RUNNING' });
      for (const path of [population, subscriptions, deltas]) expect(await settledDescriptorsOpenOn(path), path).toBe(0);
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()');
      holder.release();
    }
    // Once the lock is free, the same files import.
    expect(await importRegistry({ pool: db.pool, ring: db.ring, workers: 1, kind: 'subscriptions', carrier: 'viettel', path: subscriptions, rejectsPath: `${subscriptions}.r` }))
      .toMatchObject({ accepted: 1, rejected: 0 });
    expect(await settledDescriptorsOpenOn(subscriptions)).toBe(0);
  });
});
