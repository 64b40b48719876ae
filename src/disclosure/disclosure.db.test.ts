/**
 * Disclosure requests on a real database and a real transparency log (issue 5 "Disclosure
 * requests"; DESIGN.md invariant 3): filed by a requester, approved only by an approver of
 * another authority (the same authority and the requester themselves refused), released only
 * once a signed checkpoint covers the approval, the person notified (their view, and an SMS to a
 * number they still hold) unless sealed; seals extended by a court only and lifted when due;
 * emergency requests (identity only, shown 72 h, review due in 48 h, overdue shown); quotas;
 * rejection with reasons; expiry; concurrent approvals (one wins); each stage a log entry whose
 * commitment opens to the stored record; the transparency report counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { many, N, PEOPLE, seedVerificationRegistry } from '../../test/support/verification-fixture.ts';
import { createProvider, type Provider } from '../providers/provider-service.ts';
import { bindAccountInTransaction } from '../bindings/binding-service.ts';
import { findPersonIdByPersonalId } from '../registry/registry-lookup.ts';
import { findLiveSubscriptionsByMsisdn } from '../registry/registry-lookup.ts';
import { createAuthority, createOfficial } from '../officials/official-service.ts';
import type { Official } from '../officials/official-auth.ts';
import { createTransparencyLog, loadLogKey, type TransparencyLog } from '../tlog/log-service.ts';
import { verifyProofBundle } from '../tlog/proof-bundle.ts';
import { parseVerifierKey } from '../tlog/signed-note.ts';
import { isGsm7Basic } from '../verification/sms/sms-text.ts';
import { outboxSmsGateway, readOutbox } from '../verification/sms/sms-outbox.ts';
import {
  approveRequest, disclosuresOfPerson, extendSeal, listRequests, NOTICE_TEXT, rejectRequest, releaseIfCovered, reviewRequest, runDisclosureMaintenance,
  sealedRequestIds, submitRequest, viewRelease, type DisclosureDeps, type SubmitInput,
} from './disclosure-service.ts';
import { transparencyReport, periodOf } from './transparency-report.ts';

let db: TestDatabase;
let dataDir: string;
let log: TransparencyLog;
let deps: DisclosureDeps;
let platform: Provider;
let personId: string;
const officials: Record<string, Official> = {};
let accountN = 0;

async function official(authorityId: string, name: string, roles: string[]): Promise<Official> {
  const { official: o } = await createOfficial(db.pool, db.ring, 'http://127.0.0.1:8080', { authorityId, name, roles });
  return { id: o.id, name: o.name, authorityId: o.authorityId, authorityName: o.authorityName, authorityKind: o.authorityKind, roles: o.roles };
}

/** A new account of the adult of the fixture, bound by phone. */
async function boundAccount(): Promise<string> {
  const ref = `acct-${++accountN}`;
  const [sub] = await findLiveSubscriptionsByMsisdn(db.pool, db.ring, N.adult);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    // A fresh platform per account keeps the accounts-per-person limit out of the way.
    await bindAccountInTransaction(client, platform, { accountRef: ref, personId, subscriptionId: sub!.id, method: 'phone', level: 'low', viaVerification: ref });
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  return ref;
}

function request(accountRef: string, extra: Partial<SubmitInput> = {}): SubmitInput {
  return {
    providerId: platform.id, accountRef, legalBasis: 'Bộ luật Tố tụng hình sự 2015, Điều 88', caseReference: 'VKS-2026-0042',
    reasons: 'The account posted threats against a named person; the identity is needed to summon its holder.', asks: ['identity', 'history'], ...extra,
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seedVerificationRegistry(db.pool, db.ring);
  dataDir = mkdtempSync(join(tmpdir(), 'idbind-disclosure-'));
  const signingKey = loadLogKey({ mode: 'demo', dataDir, publicUrl: 'http://127.0.0.1:8080', env: {} });
  log = createTransparencyLog({ pool: db.pool, dataDir, signingKey });
  deps = { pool: db.pool, ring: async () => db.ring, log, sms: outboxSmsGateway(db.pool, async () => db.ring), config: { officialPerDay: 8, authorityPerDay: 50, expiryDays: 7 } };
  platform = (await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Disclosure Platform', kind: 'platform' })).provider;
  await db.pool.query('UPDATE providers SET accounts_per_person = 100 WHERE id = $1', [platform.id]);
  platform.limits.accountsPerPerson = 100;
  personId = (await findPersonIdByPersonalId(db.pool, db.ring, PEOPLE.adult))!;
  const police = await createAuthority(db.pool, { name: 'Police unit', kind: 'police' });
  const procuracy = await createAuthority(db.pool, { name: 'Procuracy', kind: 'procuracy' });
  const court = await createAuthority(db.pool, { name: 'People\'s Court', kind: 'court' });
  officials.requester = await official(police.id, 'Requester', ['requester']);
  officials.requester2 = await official(police.id, 'Requester 2', ['requester']);
  officials.policeApprover = await official(police.id, 'Police approver', ['approver']);
  officials.approver = await official(procuracy.id, 'Procuracy approver', ['approver']);
  officials.approver2 = await official(procuracy.id, 'Procuracy approver 2', ['approver']);
  officials.judge = await official(court.id, 'Judge', ['approver']);
  officials.otherRequester = await official(procuracy.id, 'Procuracy requester', ['requester']);
}, 120_000);
afterAll(async () => {
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('a disclosure request', () => {
  it('is approved only by another authority, released once a checkpoint covers the approval, and seen by the person with proofs', async () => {
    const ref = await boundAccount();
    const filed = await submitRequest(deps, officials.requester!, request(ref));
    expect(filed).toMatchObject({ status: 'submitted', account_ref: ref, person_id: personId });
    // The requester's own authority cannot approve, nor can the requester.
    await expect(approveRequest(deps, officials.policeApprover!, filed.id)).rejects.toMatchObject({ code: 'DISCLOSURE_SAME_AUTHORITY' });
    await expect(approveRequest(deps, officials.requester!, filed.id)).rejects.toMatchObject({ code: 'DISCLOSURE_SAME_AUTHORITY' });
    const approved = await approveRequest(deps, officials.approver!, filed.id);
    expect(approved.status).toBe('released');

    const release = await viewRelease(deps, officials.requester!, filed.id);
    expect(release.identity).toEqual({ full_name: 'Nguyễn Văn An', personal_id: PEOPLE.adult, birth_date: '1990-05-01' });
    expect(release.history![0]).toMatchObject({ status: 'verified' });
    // Both proofs verify offline against the log's key, and open to records of this request.
    for (const proof of [release.proofs.approved, release.proofs.released]) {
      expect(verifyProofBundle(proof, parseVerifierKey(log.vkey)).opening.record).toMatchObject({ request: filed.id });
    }
    // Another authority's requester sees nothing of it.
    await expect(viewRelease(deps, officials.otherRequester!, filed.id)).rejects.toMatchObject({ code: 'DISCLOSURE_NOT_FOUND' });

    // Each stage is a log entry whose commitment opens to the stored record.
    const stages = (await db.pool.query<{ stage: string; salt: string; record: unknown; commitment: string; log_index: string }>(
      'SELECT stage, salt, record, commitment, log_index FROM disclosure_stages WHERE request_id = $1 ORDER BY seq', [filed.id],
    )).rows;
    expect(stages.map((s) => s.stage)).toEqual(['submitted', 'approved', 'released']);
    expect(new Set(stages.map((s) => s.log_index)).size).toBe(3);
    expect(JSON.stringify(stages.map((s) => s.record))).not.toContain('Nguyễn');
    expect(JSON.stringify(stages.map((s) => s.record))).not.toContain(PEOPLE.adult);
    expect((await log.covering(Number(stages[1]!.log_index)))).toBeDefined();

    // The person: notified in their view and by SMS (only "news in your view"), sees it with proofs and redress.
    const notes = await db.pool.query('SELECT kind, sms_sent FROM person_notifications WHERE request_id = $1', [filed.id]);
    expect(notes.rows).toEqual([{ kind: 'disclosure_released', sms_sent: true }]);
    // To a number the person still holds (the fixture's adult holds many): never a swapped or blocked one.
    const numbers = [...Object.values(N), ...Array.from({ length: 20 }, (_, i) => many(i))];
    const sent = (await Promise.all(numbers.map(async (n) => ({ n, texts: (await readOutbox(db.pool, db.ring, n)).map((m) => m.text) })))).filter((x) => x.texts.includes(NOTICE_TEXT));
    expect(sent.length).toBeGreaterThanOrEqual(1);
    for (const x of sent) expect([N.simChanged, N.blocked]).not.toContain(x.n);
    const texts = sent.flatMap((x) => x.texts);
    expect(texts).toContain(NOTICE_TEXT);
    expect(isGsm7Basic(NOTICE_TEXT) && NOTICE_TEXT.length <= 160).toBe(true); // one SMS part
    const seen = await disclosuresOfPerson(deps, personId) as Array<Record<string, unknown>>;
    expect(seen.find((d) => d.id === filed.id)).toMatchObject({ authority: 'Police unit', approved_by: 'Procuracy', released: ['history', 'identity'], case_reference: 'VKS-2026-0042' });
    const access = await db.pool.query(`SELECT actor, detail FROM access_records WHERE person_id = $1 AND purpose = 'disclosure'`, [personId]);
    expect(access.rows.some((r) => r.detail.request_id === filed.id)).toBe(true);
  });

  it('is not released while no signed checkpoint covers the approval', async () => {
    const ref = await boundAccount();
    let signing = false;
    const held: TransparencyLog = { ...log, origin: log.origin, vkey: log.vkey, append: log.append.bind(log), covering: log.covering.bind(log), proofBundle: log.proofBundle.bind(log),
      sign: async () => (signing ? log.sign() : { size: 0, text: '' }) };
    const heldDeps: DisclosureDeps = { ...deps, log: held };
    const filed = await submitRequest(heldDeps, officials.requester!, request(ref));
    const approved = await approveRequest(heldDeps, officials.approver!, filed.id);
    expect(approved.status).toBe('approved');
    await expect(viewRelease(heldDeps, officials.requester!, filed.id)).rejects.toMatchObject({ code: 'DISCLOSURE_NOT_RELEASED' });
    expect(await releaseIfCovered(heldDeps, filed.id)).toBe(false);
    signing = true;
    await held.sign();
    expect(await releaseIfCovered(heldDeps, filed.id)).toBe(true);
    expect((await viewRelease(heldDeps, officials.requester!, filed.id)).identity).toBeDefined();
  });

  it('concurrent approvals: exactly one wins', async () => {
    const ref = await boundAccount();
    const filed = await submitRequest(deps, officials.requester!, request(ref));
    const outcomes = await Promise.allSettled([approveRequest(deps, officials.approver!, filed.id), approveRequest(deps, officials.approver2!, filed.id)]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'DISCLOSURE_STATE' });
    const approvals = await db.pool.query(`SELECT count(*)::int AS n FROM disclosure_stages WHERE request_id = $1 AND stage = 'approved'`, [filed.id]);
    expect(approvals.rows[0].n).toBe(1);
  });

  it('a rejection carries reasons; an expired request cannot be approved', async () => {
    const ref = await boundAccount();
    const a = await submitRequest(deps, officials.requester!, request(ref));
    await expect(rejectRequest(deps, officials.approver!, a.id, 'short')).rejects.toMatchObject({ code: 'DISCLOSURE_INVALID' });
    const rejected = await rejectRequest(deps, officials.approver!, a.id, 'No offence is described that the cited article covers.');
    expect(rejected).toMatchObject({ status: 'rejected', rejection_reasons: 'No offence is described that the cited article covers.' });
    const b = await submitRequest(deps, officials.requester!, request(ref));
    await db.pool.query(`UPDATE disclosure_requests SET expires_at = now() - interval '1 second' WHERE id = $1`, [b.id]);
    await expect(approveRequest(deps, officials.approver!, b.id)).rejects.toMatchObject({ code: 'DISCLOSURE_STATE' });
    expect((await runDisclosureMaintenance(deps)).expired).toBeGreaterThanOrEqual(1);
  });

  it('names one account only, never a search, and refuses an unknown one', async () => {
    await expect(submitRequest(deps, officials.requester!, request('no-such-account'))).rejects.toMatchObject({ code: 'DISCLOSURE_ACCOUNT_NOT_FOUND' });
    await expect(submitRequest(deps, officials.requester!, { ...request('x'), pseudonym: 'p' })).rejects.toMatchObject({ code: 'DISCLOSURE_INVALID' });
  });
});

describe('seals', () => {
  it('hide the disclosure from the person until the court-set date; only a court extends them; then the person is notified', async () => {
    const ref = await boundAccount();
    const until = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    const filed = await submitRequest(deps, officials.requester!, request(ref, { sealUntil: until }));
    await approveRequest(deps, officials.approver!, filed.id);
    await viewRelease(deps, officials.requester!, filed.id);
    expect(((await disclosuresOfPerson(deps, personId)) as Array<{ id: string }>).some((d) => d.id === filed.id)).toBe(false);
    expect((await sealedRequestIds(db.pool, personId)).has(filed.id)).toBe(true);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM person_notifications WHERE request_id = $1', [filed.id])).rows[0].n).toBe(0);

    const later = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10);
    await expect(extendSeal(deps, officials.approver!, filed.id, later, 'The investigation continues abroad.')).rejects.toMatchObject({ code: 'DISCLOSURE_COURT_ONLY' });
    const extended = await extendSeal(deps, officials.judge!, filed.id, later, 'The investigation continues abroad.');
    expect(extended.seal_until).toBe(later);

    // The seal date passes: maintenance unseals (a logged stage) and notifies.
    await db.pool.query(`UPDATE disclosure_requests SET seal_until = current_date - 2 WHERE id = $1`, [filed.id]);
    expect((await runDisclosureMaintenance(deps)).unsealed).toBe(1);
    const stages = (await db.pool.query<{ stage: string }>('SELECT stage FROM disclosure_stages WHERE request_id = $1 ORDER BY seq', [filed.id])).rows.map((s) => s.stage);
    expect(stages).toEqual(['submitted', 'approved', 'released', 'seal_extended', 'unsealed']);
    expect(((await disclosuresOfPerson(deps, personId)) as Array<{ id: string }>).some((d) => d.id === filed.id)).toBe(true);
    expect((await db.pool.query('SELECT kind FROM person_notifications WHERE request_id = $1', [filed.id])).rows).toEqual([{ kind: 'disclosure_released' }]);
  });
});

describe('emergency requests', () => {
  it('release the identity only, for 72 hours, and show a review overdue after 48 hours until a second approver reviews', async () => {
    const ref = await boundAccount();
    await expect(submitRequest(deps, officials.requester!, request(ref, { emergency: true }))).rejects.toMatchObject({ code: 'DISCLOSURE_INVALID' });
    const filed = await submitRequest(deps, officials.requester!, request(ref, { emergency: true, asks: ['identity'] }));
    await approveRequest(deps, officials.approver!, filed.id);
    const release = await viewRelease(deps, officials.requester!, filed.id);
    expect(release.identity).toBeDefined();
    expect(release.history).toBeUndefined();
    expect(new Date(release.request.release_visible_until!).getTime() - Date.now()).toBeGreaterThan(71 * 3_600_000);
    await db.pool.query(`UPDATE disclosure_requests SET release_visible_until = now() - interval '1 second', review_due_at = now() - interval '1 second' WHERE id = $1`, [filed.id]);
    await expect(viewRelease(deps, officials.requester!, filed.id)).rejects.toMatchObject({ code: 'DISCLOSURE_RELEASE_EXPIRED' });
    const mine = await listRequests(deps, officials.requester!);
    const { requestView } = await import('./disclosure-service.ts');
    expect(requestView(mine.find((r) => r.id === filed.id)!).review).toMatchObject({ overdue: true, reviewed_at: null });
    // The approver who approved cannot review it, nor can the requester's authority.
    await expect(reviewRequest(deps, officials.approver!, filed.id, 'upheld', 'The threat was imminent and credible.')).rejects.toMatchObject({ code: 'DISCLOSURE_SAME_AUTHORITY' });
    await expect(reviewRequest(deps, officials.policeApprover!, filed.id, 'upheld', 'The threat was imminent and credible.')).rejects.toMatchObject({ code: 'DISCLOSURE_SAME_AUTHORITY' });
    const reviewed = await reviewRequest(deps, officials.judge!, filed.id, 'upheld', 'The threat was imminent and credible.');
    expect(reviewed).toMatchObject({ review_outcome: 'upheld' });
    const report = await transparencyReport(db.pool, log, periodOf(new Date()));
    expect(report.totals.emergency).toBeGreaterThanOrEqual(1);
    expect(report.totals.reviewed_late).toBeGreaterThanOrEqual(1);
  });
});

describe('quotas and the report', () => {
  it('stop an official at the daily quota, and the report counts per authority with the current checkpoint', async () => {
    const ref = await boundAccount();
    const before = (await db.pool.query(`SELECT count(*)::int AS n FROM disclosure_requests WHERE requester_official_id = $1`, [officials.requester2!.id])).rows[0].n;
    for (let i = before; i < 8; i++) await submitRequest(deps, officials.requester2!, request(ref));
    // Refused until the oldest request of the last 24 hours leaves them, which it says.
    const oldest = (await db.pool.query(`SELECT extract(epoch FROM min(created_at) + interval '1 day' - now())::float8 AS s FROM disclosure_requests
      WHERE requester_official_id = $1 AND created_at > now() - interval '1 day'`, [officials.requester2!.id])).rows[0].s as number;
    const refused = await submitRequest(deps, officials.requester2!, request(ref)).then(() => undefined, (e: unknown) => e as { code: string; extensions: { retry_after: number } });
    expect(refused).toMatchObject({ code: 'DISCLOSURE_QUOTA_EXCEEDED' });
    expect(Math.abs(refused!.extensions.retry_after - oldest)).toBeLessThan(5);
    const report = await transparencyReport(db.pool, log, periodOf(new Date()));
    const police = report.by_authority.find((a) => a.authority.name === 'Police unit')!;
    const count = (await db.pool.query(`SELECT count(*)::int AS n FROM disclosure_requests r JOIN authorities a ON a.id = r.requester_authority_id WHERE a.name = 'Police unit'`)).rows[0].n;
    expect(police.requests).toBe(count);
    expect(police.rejected).toBeGreaterThanOrEqual(1);
    expect(police.sealed).toBeGreaterThanOrEqual(1);
    expect(police.accounts_affected).toBeGreaterThanOrEqual(1);
    expect(report.checkpoint).toMatch(/\n\d+\n/);
  });
});
