/**
 * The carriers' registry state machine and what reads it for security decisions (bindings'
 * lifecycle, the phone verification's number eligibility), under inputs out of order: each test is
 * an input sequence (full files, deltas in any order, re-imports, ports, key rotation) and the
 * state or decision the design requires after it (DESIGN.md invariants 1 and 7; issue 2 "Deltas";
 * issue 3 "Verification API" and "Bindings follow the subscription and the person";
 * docs/formats.md). Written by an adversarial review; each of the first six failed before its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { importRegistry } from './import/import-service.ts';
import { applySubscriptionEvents } from './subscription-events.ts';
import { composePersonalId } from './personal-id.ts';
import { findLiveSubscriptionsByMsisdn, findPersonIdByPersonalId } from './registry-lookup.ts';
import { msisdnIndex } from './row-crypto.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { bindAccountInTransaction } from '../bindings/binding-service.ts';
import { ELIGIBILITY_CANDIDATE_SQL, eligibilityOf, numberKeys, type EligibilityCandidate } from '../verification/phone-eligibility.ts';
import { startReconciliation } from './reconciliation/reconciliation-service.ts';
import { addKeyVersion } from '../keys/key-rotation-service.ts';
import { loadKeyRing, type KeyRing } from '../kernel/crypto/key-ring.ts';

const POP_HEADER = 'personal_id,full_name,birth_date,sex,status';
const SUB_HEADER = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at';

interface Person { pid: string; name: string; folded: string; birth: string; sex: 'M' | 'F' }
const person = (i: number, name: string, folded: string): Person => {
  const year = 1980 + i;
  const sex = i % 2 ? 'M' : 'F';
  return { pid: composePersonalId('079', year, sex, 700 + i), name, folded, birth: `${year}-04-05`, sex };
};
const X = person(1, 'Nguyễn Văn Xuân', 'Nguyen Van Xuan');
const Y = person(2, 'Trần Thị Yến', 'Tran Thi Yen');
const Z = person(3, 'Lê Văn Zũng', 'Le Van Zung');
const D = person(4, 'Phạm Thị Dung', 'Pham Thi Dung');

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

let fileNo = 0;
let eventNo = 0;

interface Ctx { db: TestDatabase; dir: string; platform: Provider }

function write(ctx: Ctx, lines: string[], ext = 'csv'): string {
  const p = join(ctx.dir, `f${fileNo++}.${ext}`);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

const subRow = (msisdn: string, h: Person | null, o: { registered?: string; status?: string; sim?: string; device?: string; name?: string; channel?: string } = {}) =>
  `${msisdn},${h?.pid ?? ''},${h ? (o.name ?? h.folded) : ''},${h?.birth ?? ''},${o.channel ?? 'store'},${o.registered ?? '2022-01-01T08:00:00+07:00'},${o.status ?? 'active'},${o.sim ?? ''},${o.device ?? ''}`;

const importPopulation = (ctx: Ctx, lines: string[], ring: KeyRing = ctx.db.ring) =>
  importRegistry({ pool: ctx.db.pool, ring, kind: 'population', path: write(ctx, [POP_HEADER, ...lines]), rejectsPath: join(ctx.dir, `r${fileNo}`), workers: 1 });
const importFile = (ctx: Ctx, path: string, carrier = 'viettel', ring: KeyRing = ctx.db.ring) =>
  importRegistry({ pool: ctx.db.pool, ring, kind: 'subscriptions', carrier, path, rejectsPath: `${path}.rejects`, workers: 1 });
const importSubs = (ctx: Ctx, lines: string[], carrier = 'viettel') => importFile(ctx, write(ctx, [SUB_HEADER, ...lines]), carrier);
const applyDeltas = (ctx: Ctx, events: Record<string, string>[], carrier = 'viettel') =>
  applySubscriptionEvents({
    pool: ctx.db.pool, ring: ctx.db.ring, carrier, path: write(ctx, events.map((e) => JSON.stringify(e)), 'ndjson'), rejectsPath: join(ctx.dir, `r${fileNo}`), batchSize: 500,
  });
const ev = (type: string, msisdn: string, at: string, holder?: Person, extra: Record<string, string> = {}) => ({
  event_id: `adv-${++eventNo}`, type, msisdn, at,
  ...(holder ? { holder_personal_id: holder.pid, holder_full_name: holder.folded, holder_birth_date: holder.birth, channel: 'store' } : {}),
  ...extra,
});
const popRow = (p: Person, status = 'alive') => `${p.pid},${p.name},${p.birth},${p.sex},${status}`;

/** The phone verification's decision for a number, as POST /v1/verifications takes it (72 h window). */
async function eligibility(ctx: Ctx, msisdn: string, ring: KeyRing = ctx.db.ring) {
  const keys = numberKeys(ring, msisdn);
  const r = await ctx.db.pool.query<EligibilityCandidate>(ELIGIBILITY_CANDIDATE_SQL, [keys]);
  const e = eligibilityOf(r.rows[0], keys[0]!, ring.currentBlindIndex.version, { simChangeWindowHours: 72 });
  if (!e.eligible) return { eligible: false as const, reason: e.reason };
  return { eligible: true as const, personId: e.personId, subscriptionId: e.subscriptionId };
}

/** Binds an account to the holder of the number's live subscription at `carrier`, as a confirmed verification does. */
async function bind(ctx: Ctx, p: Person, msisdn: string, ref: string, carrier = 'viettel'): Promise<string> {
  const personId = (await findPersonIdByPersonalId(ctx.db.pool, ctx.db.ring, p.pid))!;
  const sub = (await findLiveSubscriptionsByMsisdn(ctx.db.pool, ctx.db.ring, msisdn)).find((s) => s.carrier === carrier)!;
  const client = await ctx.db.pool.connect();
  try {
    await client.query('BEGIN');
    await bindAccountInTransaction(client, ctx.platform, { accountRef: ref, personId, subscriptionId: sub.id, method: 'phone', level: 'low', viaVerification: randomUUID() });
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const r = await ctx.db.pool.query<{ id: string }>('SELECT id FROM accounts WHERE provider_id = $1 AND account_ref = $2', [ctx.platform.id, ref]);
  return r.rows[0]!.id;
}

async function accountStatus(ctx: Ctx, id: string): Promise<string> {
  const r = await ctx.db.pool.query<{ status: string }>('SELECT status FROM accounts WHERE id = $1', [id]);
  return r.rows[0]!.status;
}

/** Every subscription of the number at the carrier, oldest first. */
async function numberHistory(ctx: Ctx, msisdn: string, carrier = 'viettel', ring: KeyRing = ctx.db.ring) {
  const r = await ctx.db.pool.query(
    `SELECT s.status, s.ended_reason, s.holder_bidx, s.sim_changed_at FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id
     WHERE c.slug = $1 AND s.msisdn_bidx = ANY($2::bytea[]) ORDER BY s.registered_at, s.id`,
    [carrier, ring.blindIndex.map((k) => msisdnIndex(k.key, msisdn))],
  );
  return r.rows as { status: string; ended_reason: string | null; holder_bidx: Buffer | null; sim_changed_at: Date | null }[];
}

async function setup(): Promise<Ctx> {
  const db = await createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'idbind-adv-'));
  const platform = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Adversarial Forum', kind: 'platform' })).provider;
  const ctx = { db, dir, platform };
  await importPopulation(ctx, [X, Y, Z, D].map((p) => popRow(p)));
  return ctx;
}
async function teardown(ctx: Ctx | undefined): Promise<void> {
  if (!ctx) return;
  await ctx.db.drop();
  rmSync(ctx.dir, { recursive: true, force: true });
}

describe('registry state machine, adversarial', () => {
  let ctx: Ctx;
  beforeAll(async () => { ctx = await setup(); });
  afterAll(async () => { await teardown(ctx); });

  it('a late sim_changed delta, older than an already-applied unblock, still counts for the SIM-change window and the bindings', async () => {
    const n = '+84912300001';
    await importSubs(ctx, [subRow(n, X)]);
    const a = await bind(ctx, X, n, 'late-sim');
    // The carrier swapped the SIM 2 h ago and unblocked 1 h ago; the deltas arrive in the other order.
    const s = await applyDeltas(ctx, [ev('unblocked', n, hoursAgo(1)), ev('sim_changed', n, hoursAgo(2))]);
    expect(s).toMatchObject({ accepted: 2, rejected: 0 });
    // The SIM was swapped 2 h ago: the number must not verify anyone (issue 3: no SIM change within 72 h) ...
    expect.soft(await eligibility(ctx, n)).toMatchObject({ eligible: false, reason: 'recent_sim_change' });
    // ... and the binding made before the swap must be re-verified (issue 3, "Bindings follow the subscription").
    expect.soft(await accountStatus(ctx, a)).toBe('needs_reverification');
  });

  it('a full file naming a new holder takes the SIM change a delta reported after that holder registered', async () => {
    const n = '+84912300002';
    await importSubs(ctx, [subRow(n, X)]);
    // The carrier re-assigned the number to Y 6 h ago and swapped Y's SIM 2 h ago. The swap comes
    // as a delta (against the only subscription the hub knows, X's); the full file written 4 h ago
    // (before the swap) names Y.
    expect(await applyDeltas(ctx, [ev('sim_changed', n, hoursAgo(2))])).toMatchObject({ accepted: 1 });
    const s = await importSubs(ctx, [subRow(n, Y, { registered: hoursAgo(6) })]);
    expect(s).toMatchObject({ accepted: 1, rejected: 0 });
    const h = await numberHistory(ctx, n);
    expect(h.map((r) => [r.status, r.ended_reason])).toEqual([['terminated', 'holder_changed'], ['active', null]]);
    expect(await eligibility(ctx, n)).toMatchObject({ eligible: false, reason: 'recent_sim_change' });
  });

  it('a full-file row of the same holder does not undo a block a delta applied after the file was written', async () => {
    const n = '+84912300003';
    await importSubs(ctx, [subRow(n, X, { sim: '2023-01-01T00:00:00Z' })]);
    expect(await applyDeltas(ctx, [ev('blocked_both', n, hoursAgo(1))])).toMatchObject({ accepted: 1 });
    // The carrier's previous export (before the SIM change of 2023 and before the block) imported late.
    const s = await importSubs(ctx, [subRow(n, X)]);
    const [live] = await findLiveSubscriptionsByMsisdn(ctx.db.pool, ctx.db.ring, n);
    expect.soft(live!.status).toBe('blocked_both');
    expect.soft(await eligibility(ctx, n)).toMatchObject({ eligible: false, reason: 'subscription_not_active' });
    // Taken as a changed row (it differs from the stored one), its SIM change time kept.
    expect(s).toMatchObject({ accepted: 1, rejected: 0 });
    expect(live!.sim_changed_at?.toISOString()).toBe('2023-01-01T00:00:00.000Z');
  });

  it('a port-in of the number to another carrier and holder neither leaves the old holder verified nor makes the number verify the old holder', async () => {
    const n = '+84912300004';
    await importSubs(ctx, [subRow(n, X)]);
    const a = await bind(ctx, X, n, 'ported');
    expect(await applyDeltas(ctx, [ev('ported_in', n, hoursAgo(100), Y), ev('blocked_outgoing', n, hoursAgo(99))], 'mobifone')).toMatchObject({ accepted: 2 });
    const yId = await findPersonIdByPersonalId(ctx.db.pool, ctx.db.ring, Y.pid);
    const xId = await findPersonIdByPersonalId(ctx.db.pool, ctx.db.ring, X.pid);
    const e = await eligibility(ctx, n);
    // The number is Y's now (at mobifone); it must never verify X. (Fail closed: not eligible, or Y.)
    expect.soft(e.eligible && e.personId === xId, 'the number verifies its old holder X').toBe(false);
    if (e.eligible) expect.soft(e.personId).toBe(yId);
    // X's binding through the number is re-checked when the number is reassigned (invariant 7).
    expect.soft(await accountStatus(ctx, a)).not.toBe('verified');
  });

  it('a full file listing the number under another holder at another carrier flags the bindings made through the first, and the number verifies no one', async () => {
    const n = '+84912300009';
    await importSubs(ctx, [subRow(n, X)]);
    const a = await bind(ctx, X, n, 'ported-file');
    // vinaphone's registry is in the hub already (not its first import); its next file has the number under Y.
    await importSubs(ctx, [subRow('+84912300030', Z)], 'vinaphone');
    const s = await importSubs(ctx, [subRow(n, Y, { registered: hoursAgo(200) })], 'vinaphone');
    expect(s).toMatchObject({ accepted: 1, rejected: 0 });
    expect(await accountStatus(ctx, a)).toBe('needs_reverification');
    expect(await eligibility(ctx, n)).toMatchObject({ eligible: false, reason: 'number_contested' });
  });

  it('a termination arriving after a later event does not make the next holder\'s registration stale', async () => {
    const n = '+84912300005';
    await importSubs(ctx, [subRow(n, X)]);
    // Truth: X's number terminated 30 h ago, registered by Y 20 h ago, Y's SIM changed 10 h ago.
    const s = await applyDeltas(ctx, [ev('sim_changed', n, hoursAgo(10)), ev('terminated', n, hoursAgo(30)), ev('registered', n, hoursAgo(20), Y)]);
    expect(s).toMatchObject({ rejected: 0 });
    const h = await numberHistory(ctx, n);
    expect(h.map((r) => r.status)).toEqual(['terminated', 'active']);
  });

  it('a new subscription whose holder data contradict the population registry is not eligible before the next reconciliation', async () => {
    const n = '+84912300006';
    await importSubs(ctx, [subRow(n, X)]);
    const run = await startReconciliation(ctx.db.pool, ctx.db.ring, 'test');
    await run.done;
    expect(await eligibility(ctx, n)).toMatchObject({ eligible: true });
    // Someone registers the number under Z's personal ID with another name and birth date.
    const s = await applyDeltas(ctx, [ev('holder_changed', n, hoursAgo(100), Z, { holder_full_name: 'Hoang Van Gia', holder_birth_date: '1999-09-09' })]);
    expect(s).toMatchObject({ accepted: 1 });
    expect(await eligibility(ctx, n)).toMatchObject({ eligible: false });
  });

  it('a late holder_changed delta hands a later SIM change to the new holder', async () => {
    const n = '+84912300010';
    await importSubs(ctx, [subRow(n, X)]);
    const a = await bind(ctx, X, n, 'hc');
    await applyDeltas(ctx, [ev('sim_changed', n, hoursAgo(2)), ev('holder_changed', n, hoursAgo(6), Y)]);
    expect(await eligibility(ctx, n)).toMatchObject({ eligible: false, reason: 'recent_sim_change' });
    expect(await accountStatus(ctx, a)).toBe('revoked');
  });

  it('a registered delta older than a termination revives nothing; an old full file neither', async () => {
    const n = '+84912300011';
    const f = write(ctx, [SUB_HEADER, subRow(n, X)]);
    await importFile(ctx, f);
    await applyDeltas(ctx, [ev('terminated', n, hoursAgo(5))]);
    const s = await applyDeltas(ctx, [ev('registered', n, hoursAgo(6), X)]);
    expect(s).toMatchObject({ accepted: 1 }); // recorded, stale
    expect(await importFile(ctx, f)).toMatchObject({ unchanged: 1, accepted: 0 });
    expect((await numberHistory(ctx, n)).map((r) => r.status)).toEqual(['terminated']);
    expect(await eligibility(ctx, n)).toMatchObject({ eligible: false, reason: 'no_subscription' });
  });

  it('a late termination ends the live subscription even after a later block, and revokes', async () => {
    const n = '+84912300012';
    await importSubs(ctx, [subRow(n, X)]);
    const a = await bind(ctx, X, n, 'late-term');
    await applyDeltas(ctx, [ev('blocked_outgoing', n, hoursAgo(1)), ev('terminated', n, hoursAgo(3))]);
    expect(await accountStatus(ctx, a)).toBe('revoked');
    expect(await eligibility(ctx, n)).toMatchObject({ eligible: false, reason: 'no_subscription' });
  });

  it('an old full file naming the previous holder after a holder_changed delta is OLDER_THAN_STORED', async () => {
    const n = '+84912300013';
    await importSubs(ctx, [subRow(n, X, { sim: '2021-01-01T00:00:00Z', registered: '2020-01-01T00:00:00Z' })]);
    await applyDeltas(ctx, [ev('holder_changed', n, hoursAgo(200), Y)]);
    const yId = await findPersonIdByPersonalId(ctx.db.pool, ctx.db.ring, Y.pid);
    const s = await importSubs(ctx, [subRow(n, X, { registered: '2020-01-01T00:00:00Z' })]);
    expect(s).toMatchObject({ rejected: 1 });
    expect(await eligibility(ctx, n)).toMatchObject({ eligible: true, personId: yId });
  });

  it('re-applying the same delta file changes nothing; a SIM change after a binding flags it once', async () => {
    const n = '+84912300014';
    await importSubs(ctx, [subRow(n, X)]);
    const a = await bind(ctx, X, n, 'idem');
    const events = [ev('sim_changed', n, hoursAgo(1)), ev('blocked_outgoing', n, hoursAgo(0.5))];
    const p = write(ctx, events.map((e) => JSON.stringify(e)), 'ndjson');
    const first = await applySubscriptionEvents({ pool: ctx.db.pool, ring: ctx.db.ring, carrier: 'viettel', path: p, rejectsPath: `${p}.r` });
    const again = await applySubscriptionEvents({ pool: ctx.db.pool, ring: ctx.db.ring, carrier: 'viettel', path: p, rejectsPath: `${p}.r` });
    expect(first).toMatchObject({ accepted: 2 });
    expect(again).toMatchObject({ accepted: 0, unchanged: 2 });
    expect(await accountStatus(ctx, a)).toBe('needs_reverification');
    const seq = await ctx.db.pool.query('SELECT sequence::int AS s FROM accounts WHERE id = $1', [a]);
    expect(seq.rows[0].s).toBe(2);
  });

  it('a death revokes, and a binding through a full-file holder change is revoked', async () => {
    const n = '+84912300015';
    await importSubs(ctx, [subRow(n, Z)]);
    const a = await bind(ctx, Z, n, 'z-hc');
    await importSubs(ctx, [subRow(n, Y, { registered: hoursAgo(300) })]);
    expect(await accountStatus(ctx, a)).toBe('revoked');
  });
});

describe('key rotation and full-file idempotency', () => {
  let ctx: Ctx;
  beforeAll(async () => { ctx = await setup(); });
  afterAll(async () => { await teardown(ctx); });

  // Re-indexing makes a subscription's digest from its current columns, which deltas changed
  // (reindex.ts): after a rotation the same file's rows no longer match, and are taken as rows of
  // an older file. The state the deltas made must survive that.
  it('the same full file imported again after a blind-index rotation undoes no delta', async () => {
    const blocked = '+84912300020';
    const ended = '+84912300021';
    const f = write(ctx, [SUB_HEADER, subRow(blocked, X), subRow(ended, Y)]);
    expect(await importFile(ctx, f)).toMatchObject({ accepted: 2 });
    await applyDeltas(ctx, [ev('blocked_both', blocked, hoursAgo(1)), ev('terminated', ended, hoursAgo(1))]);
    expect(await importFile(ctx, f)).toMatchObject({ accepted: 0, unchanged: 2, rejected: 0 });

    await addKeyVersion(ctx.db.pool, ctx.db.master, 'blind_index');
    const ring2 = await loadKeyRing(ctx.db.pool, [ctx.db.master]);
    ctx.db.ring = ring2;
    // The import re-indexes pending rows first (import-runs.ts beginImportRun), then merges.
    const again = await importFile(ctx, f, 'viettel', ring2);
    const [live] = await findLiveSubscriptionsByMsisdn(ctx.db.pool, ring2, blocked);
    expect.soft(live!.status).toBe('blocked_both');
    expect.soft(await eligibility(ctx, blocked, ring2)).toMatchObject({ eligible: false, reason: 'subscription_not_active' });
    // The blocked number's row is a changed row that lifts no block; the terminated number's is
    // older than its termination (OLDER_THAN_STORED) and revives nothing.
    expect(again).toMatchObject({ accepted: 1, unchanged: 0, rejected: 1 });
    expect((await numberHistory(ctx, ended, 'viettel', ring2)).map((r) => r.status)).toEqual(['terminated']);
  });
});
