/**
 * The online-registration limit and the comparison between runs, on cases the other
 * reconciliation tests leave open (a hand-made mutation review of issue 2's rules): each case
 * here failed on a small change to the classification that the rest of the suite let through.
 *
 * Issue 2: ONLINE_BEYOND_LIMIT is "a subscription registered through the `online` channel that is
 * its holder's fourth or later at the same carrier, counting all of the holder's non-terminated
 * subscriptions at that carrier in registered_at order, ties broken by number";
 * compared_to_previous counts, per category, what is new and what is resolved against the latest
 * completed run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { importRegistry } from '../import/import-service.ts';
import { composePersonalId } from '../personal-id.ts';
import { startReconciliation, writeActionList, type RunSummary } from './reconciliation-service.ts';

let db: TestDatabase;
let dir: string;
const H = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at';
const P = 'personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids';
const id = (n: number) => composePersonalId('031', 1975, 'F', n);
const person = (n: number, name: string) => `${id(n)},${name},1975-06-0${n},F,alive,,`;
const holder = (n: number, name: string) => `${id(n)},${name},1975-06-0${n}`;

let files = 0;
function write(lines: string[]): string {
  const path = join(dir, `f${++files}.csv`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}
const importPeople = (lines: string[]) =>
  importRegistry({ pool: db.pool, ring: db.ring, kind: 'population', path: write([P, ...lines]), rejectsPath: join(dir, `r${files + 1}.csv`), workers: 1 });
const importSubs = (carrier: string, lines: string[]) =>
  importRegistry({ pool: db.pool, ring: db.ring, kind: 'subscriptions', carrier, path: write([H, ...lines]), rejectsPath: join(dir, `r${files + 1}.csv`), workers: 1 });
const reconcile = async (): Promise<RunSummary> => (await startReconciliation(db.pool, db.ring, 'test')).done;

async function actionList(runId: string, carrier: string): Promise<string[]> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeActionList(db.pool, db.ring, runId, carrier, out, 'test');
  return Buffer.concat(chunks).toString('utf8').trim().split('\n').slice(1).sort();
}

const HOA = 'Phan Thị Hoa';
const LAN = 'Vũ Thị Lan';
const MAI = 'Đỗ Thị Mai';
const NGA = 'Bùi Thị Nga';
const THU = 'Lý Thị Thu';

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-recon-mut-'));
  const people = await importPeople([person(1, HOA), person(2, LAN), person(3, MAI), person(4, NGA), person(5, THU)]);
  expect(people).toMatchObject({ accepted: 5, rejected: 0 });

  // Holder 1 at itel: a terminated online subscription before four live ones. Live ones count;
  // the terminated one takes no place, so the online one is the 3rd and clean (the holder is
  // "crowded": four live subscriptions, one online).
  // Holder 5 at itel: a subscription whose holder data differ from the registry (birth date).
  expect(await importSubs('itel', [
    `0931000001,${holder(1, HOA)},online,2023-01-01T08:00:00,terminated,,`,
    `0931000002,${holder(1, HOA)},store,2024-01-01T08:00:00,active,,`,
    `0931000003,${holder(1, HOA)},store,2024-02-01T08:00:00,active,,`,
    `0931000004,${holder(1, HOA)},online,2024-03-01T08:00:00,active,,`,
    `0931000005,${holder(1, HOA)},store,2024-04-01T08:00:00,active,,`,
    `0931000501,${id(5)},${THU},1975-06-04,store,2024-01-01T08:00:00,active,,`,
  ])).toMatchObject({ accepted: 6, rejected: 0 });

  // Holder 2 at two carriers, four live subscriptions at each, the online one 3rd at each: clean
  // at both, since the count is per carrier (counted across carriers, the viettel one is 7th).
  expect(await importSubs('mobifone', [
    `0901000101,${holder(2, LAN)},store,2023-01-01T08:00:00,active,,`,
    `0901000102,${holder(2, LAN)},store,2023-02-01T08:00:00,active,,`,
    `0901000103,${holder(2, LAN)},online,2023-03-01T08:00:00,active,,`,
    `0901000104,${holder(2, LAN)},store,2023-04-01T08:00:00,active,,`,
  ])).toMatchObject({ accepted: 4, rejected: 0 });
  expect(await importSubs('viettel', [
    `0961000101,${holder(2, LAN)},store,2024-01-01T08:00:00,active,,`,
    `0961000102,${holder(2, LAN)},store,2024-02-01T08:00:00,active,,`,
    `0961000103,${holder(2, LAN)},online,2024-03-01T08:00:00,active,,`,
    `0961000104,${holder(2, LAN)},store,2024-04-01T08:00:00,active,,`,
  ])).toMatchObject({ accepted: 4, rejected: 0 });

  // Holder 3 at vinaphone: four subscriptions registered at the same instant; the online one has
  // the lowest number, so it is the 1st and clean. It is imported last, so its row (and its
  // time-ordered id) comes after the three others: ordered by anything but the number, it is 4th.
  // Holder 4 at vinaphone: the online one has the lowest number but the latest registration: it
  // is the 4th, beyond the limit. Two others share an instant, so the holder's rows are settled
  // by the tie-break, which must still order by registered_at first.
  expect(await importSubs('vinaphone', [
    `0912000202,${holder(3, MAI)},store,2024-05-01T08:00:00,active,,`,
    `0912000203,${holder(3, MAI)},store,2024-05-01T08:00:00,active,,`,
    `0912000204,${holder(3, MAI)},store,2024-05-01T08:00:00,active,,`,
    `0912000302,${holder(4, NGA)},store,2024-06-01T08:00:00,active,,`,
    `0912000303,${holder(4, NGA)},store,2024-06-02T08:00:00,active,,`,
    `0912000304,${holder(4, NGA)},store,2024-06-02T08:00:00,active,,`,
    `0912000301,${holder(4, NGA)},online,2024-06-03T08:00:00,active,,`,
  ])).toMatchObject({ accepted: 7, rejected: 0 });
  await new Promise((r) => setTimeout(r, 5));
  expect(await importSubs('vinaphone', [
    `0912000201,${holder(3, MAI)},online,2024-05-01T08:00:00,active,,`,
  ])).toMatchObject({ accepted: 1, rejected: 0 });
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the online limit, counted exactly as the issue says', () => {
  let run: RunSummary;
  beforeAll(async () => {
    run = await reconcile();
  });

  it('gives a terminated subscription no place in the order, even for a holder with more than three live ones', async () => {
    expect(run.by_carrier!.itel).toMatchObject({ ONLINE_BEYOND_LIMIT: 0 });
    expect(await actionList(run.run_id, 'itel')).toEqual(['+84931000501,HOLDER_DATA_MISMATCH']);
  });

  it('counts per carrier: a holder crowded at two carriers has the online one 3rd at each', async () => {
    expect(run.by_carrier!.viettel).toMatchObject({ ONLINE_BEYOND_LIMIT: 0 });
    expect(run.by_carrier!.mobifone).toMatchObject({ ONLINE_BEYOND_LIMIT: 0 });
    expect(await actionList(run.run_id, 'viettel')).toEqual([]);
    expect(await actionList(run.run_id, 'mobifone')).toEqual([]);
  });

  it('breaks a tie by number, whatever order the rows were stored in, and orders by registered_at before the number', async () => {
    expect(await actionList(run.run_id, 'vinaphone')).toEqual(['+84912000301,ONLINE_BEYOND_LIMIT']);
    expect(run.by_carrier!.vinaphone).toEqual({ NO_HOLDER: 0, HOLDER_NOT_FOUND: 0, HOLDER_DECEASED: 0, HOLDER_DATA_MISMATCH: 0, ONLINE_BEYOND_LIMIT: 1 });
    expect(run.categories).toEqual({ NO_HOLDER: 0, HOLDER_NOT_FOUND: 0, HOLDER_DECEASED: 0, HOLDER_DATA_MISMATCH: 1, ONLINE_BEYOND_LIMIT: 1 });
  });
});

describe('the comparison with the previous run', () => {
  it('counts a subscription that moved to another category as new in that one and resolved in the one it left', async () => {
    const first = await reconcile();
    expect(first.categories).toMatchObject({ HOLDER_DECEASED: 0, HOLDER_DATA_MISMATCH: 1 });
    // Holder 5 dies: her subscription, a mismatch before, is now HOLDER_DECEASED (earlier in the order).
    expect(await importPeople([`${id(5)},${THU},1975-06-05,F,deceased,2025-03-01,`])).toMatchObject({ accepted: 1, rejected: 0 });
    const second = await reconcile();
    expect(second.previous_run_id).toBe(first.run_id);
    expect(second.categories).toMatchObject({ HOLDER_DECEASED: 1, HOLDER_DATA_MISMATCH: 0 });
    expect(second.compared_to_previous).toEqual({
      NO_HOLDER: { new: 0, resolved: 0 },
      HOLDER_NOT_FOUND: { new: 0, resolved: 0 },
      HOLDER_DECEASED: { new: 1, resolved: 0 },
      HOLDER_DATA_MISMATCH: { new: 0, resolved: 1 },
      ONLINE_BEYOND_LIMIT: { new: 0, resolved: 0 },
    });
    expect(await actionList(second.run_id, 'itel')).toEqual(['+84931000501,HOLDER_DECEASED']);
  });
});
