/**
 * Disclosure requests (issue 5 "Disclosure requests"; DESIGN.md invariant 3, due process for
 * unmasking): the only way the identity behind an account leaves idbind.
 *
 *   submitted ──approve (approver of another authority)──▶ approved ──checkpoint covers it──▶ released
 *       │                                                                   (person notified unless sealed)
 *       ├──reject (reasons)──▶ rejected
 *       └──unapproved past expires_at──▶ expired
 *   released + sealed ──seal date passed──▶ unsealed (person notified)   court: seal_extended
 *   emergency: identity only; the release is shown 72 h; a second approver's review is due in 48 h
 *
 * Every stage is a transparency-log entry appended in the same transaction as the state change
 * (src/tlog: stage, authority, time, and a commitment to the canonical request record, never
 * personal data), and an audit record of the official. A release happens only once a signed
 * checkpoint covers the approval entry, so an approval can never be hidden from the log.
 *
 * One account per request, found by provider and account reference or pseudonym: there is no
 * search by anything else and no bulk request. Quotas per official and per authority per day, and
 * a warning when an authority files far more than its usual daily volume.
 */
import type pg from 'pg';
import { uuidv7 } from '../kernel/ids.ts';
import { inTransaction } from '../kernel/db/pool.ts';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { recordPersonAccess } from '../access/access-records.ts';
import { openPerson } from '../oidc/person-records.ts';
import { vietnamToday } from '../registry/registry-rows.ts';
import { openSubscriptionNumber } from '../registry/row-crypto.ts';
import type { SmsGateway } from '../verification/sms/sms-gateway.ts';
import { recordOfficialAction, type Official } from '../officials/official-auth.ts';
import { commitTo, type LogStage, type TransparencyLog } from '../tlog/log-service.ts';
import { DisclosureError } from './disclosure-errors.ts';

export type Ask = 'identity' | 'history';
export type DisclosureStatus = 'submitted' | 'approved' | 'rejected' | 'released' | 'expired';

export interface DisclosureConfig {
  /** Requests one official may file per day (default 10). */
  officialPerDay: number;
  /** Requests one authority may file per day (default 50). */
  authorityPerDay: number;
  /** Days an unapproved request stays open (default 7). */
  expiryDays: number;
}

export const DEFAULT_DISCLOSURE_CONFIG: DisclosureConfig = { officialPerDay: 10, authorityPerDay: 50, expiryDays: 7 };

/** An emergency release is shown to the requester this long (issue 5). */
export const EMERGENCY_VISIBLE_HOURS = 72;
/** An emergency approval's retrospective review is due this long after it (issue 5). */
export const EMERGENCY_REVIEW_HOURS = 48;

/** What the person's view says about redress (issue 5: "the view says what redress is open to them"). */
export const REDRESS =
  'Bạn có quyền khiếu nại quyết định này với thủ trưởng cơ quan đã yêu cầu (Luật Khiếu nại 2011), khởi kiện vụ án hành chính (Luật Tố tụng hành chính 2015) '
  + 'và yêu cầu cơ quan bảo vệ dữ liệu cá nhân xem xét (Luật Bảo vệ dữ liệu cá nhân 2025). / '
  + 'You may complain about this decision to the head of the requesting authority (Law on Complaints 2011), bring an administrative lawsuit '
  + '(Law on Administrative Procedure 2015), and ask the personal data protection authority to review it (Personal Data Protection Law 2025).';

export interface DisclosureDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  /** The transparency log; undefined: nothing can be filed or released (fail closed). */
  log: TransparencyLog | undefined;
  /** For the person's SMS notice; undefined: the notice is in the person's view only. */
  sms?: SmsGateway;
  config?: DisclosureConfig;
  warn?: (message: string, fields: Record<string, unknown>) => void;
  /** Test seam: awaited after the approval's transaction, before the release is attempted. */
  afterApproval?: () => Promise<void>;
}

export interface RequestRow {
  id: string;
  provider_id: string;
  provider_name: string;
  account_id: string;
  person_id: string;
  pseudonym: string;
  account_ref: string;
  legal_basis: string;
  case_reference: string;
  reasons: string;
  asks: Ask[];
  emergency: boolean;
  seal_until: string | null;
  requester_official_id: string;
  requester_authority_id: string;
  requester_authority_name: string;
  status: DisclosureStatus;
  approver_official_id: string | null;
  approver_authority_id: string | null;
  approver_authority_name: string | null;
  approved_at: Date | null;
  rejection_reasons: string | null;
  decided_at: Date | null;
  released_at: Date | null;
  release_visible_until: Date | null;
  review_due_at: Date | null;
  reviewed_at: Date | null;
  reviewer_official_id: string | null;
  review_outcome: 'upheld' | 'not_upheld' | null;
  review_reasons: string | null;
  person_notified_at: Date | null;
  unsealed_at: Date | null;
  expires_at: Date;
  created_at: Date;
}

const SELECT_REQUEST = `
  SELECT r.*, to_char(r.seal_until, 'YYYY-MM-DD') AS seal_until, p.name AS provider_name,
         ra.name AS requester_authority_name, aa.name AS approver_authority_name
  FROM disclosure_requests r
  JOIN providers p ON p.id = r.provider_id
  JOIN authorities ra ON ra.id = r.requester_authority_id
  LEFT JOIN authorities aa ON aa.id = r.approver_authority_id`;

function configOf(deps: DisclosureDeps): DisclosureConfig {
  return deps.config ?? DEFAULT_DISCLOSURE_CONFIG;
}

function logOf(deps: DisclosureDeps): TransparencyLog {
  if (!deps.log) throw new DisclosureError('DISCLOSURE_LOG_UNAVAILABLE');
  return deps.log;
}

async function findRequest(db: pg.Pool | pg.PoolClient, id: string, lock = false): Promise<RequestRow | undefined> {
  if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
  return (await db.query<RequestRow>(`${SELECT_REQUEST} WHERE r.id = $1${lock ? ' FOR UPDATE OF r' : ''}`, [id])).rows[0];
}

/**
 * The canonical record a stage commits to (issue 5 "Transparency log": "a commitment: SHA-256 of
 * a domain tag, a random 32-byte salt and the canonical request record"). It names the request,
 * the account by platform and pseudonym, the legal basis and reasons, and the stage; never the
 * person's identity. Its opening goes to the person and to the requesting authority only.
 */
function stageRecord(r: RequestRow, stage: LogStage, official: Official | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    request: r.id, stage, provider: r.provider_id, pseudonym: r.pseudonym, legal_basis: r.legal_basis, case_reference: r.case_reference,
    reasons: r.reasons, asks: r.asks, emergency: r.emergency, seal_until: r.seal_until, requester_authority: r.requester_authority_id,
    ...(official ? { official: official.id, authority: official.authorityId } : {}), ...extra,
  };
}

/** Appends one stage to the log and records it with its opening, in the caller's transaction. */
async function logStage(deps: DisclosureDeps, client: pg.PoolClient, r: RequestRow, stage: LogStage, authority: string, official: Official | undefined, extra: Record<string, unknown> = {}): Promise<number> {
  const log = logOf(deps);
  const at = new Date().toISOString();
  const record = stageRecord(r, stage, official, { ...extra, at });
  const { salt, commitment } = commitTo(record);
  const { index } = await log.append(client, { stage, authority, timestamp: at, commitment });
  await client.query(
    `INSERT INTO disclosure_stages (request_id, seq, stage, log_index, salt, record, commitment, official_id, at)
     VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM disclosure_stages WHERE request_id = $1), $2, $3, $4, $5, $6, $7, $8)`,
    [r.id, stage, index, salt, JSON.stringify(record), commitment, official?.id ?? null, at],
  );
  return index;
}

/** Signs a checkpoint over what was appended; a failure is logged and retried by the next signing (maintenance). */
async function signQuietly(deps: DisclosureDeps): Promise<void> {
  try {
    await logOf(deps).sign();
  } catch (e) {
    deps.warn?.('transparency log checkpoint not signed; will retry', { err: (e as Error).name });
  }
}

export interface SubmitInput {
  providerId: string;
  accountRef?: string;
  pseudonym?: string;
  legalBasis: string;
  caseReference: string;
  reasons: string;
  asks: Ask[];
  sealUntil?: string;
  emergency?: boolean;
}

/** `POST /v1/authority/requests` (a requester): files a request for one account. */
export async function submitRequest(deps: DisclosureDeps, official: Official, input: SubmitInput): Promise<RequestRow> {
  logOf(deps);
  const c = configOf(deps);
  if ((input.accountRef === undefined) === (input.pseudonym === undefined)) {
    throw new DisclosureError('DISCLOSURE_INVALID', 'name the account by account_ref or by pseudonym (exactly one)');
  }
  const asks = [...new Set(input.asks)].sort() as Ask[];
  if (asks.length === 0) throw new DisclosureError('DISCLOSURE_INVALID', 'asks: identity and/or history');
  if (input.emergency && (asks.length !== 1 || asks[0] !== 'identity')) {
    throw new DisclosureError('DISCLOSURE_INVALID', 'an emergency request asks for the identity only');
  }
  if (input.sealUntil !== undefined && !(input.sealUntil > vietnamToday())) throw new DisclosureError('DISCLOSURE_INVALID', 'seal_until: a date after today');

  const id = uuidv7();
  const created = await inTransaction(deps.pool, async (client) => {
    // Quotas: counted under a lock on the official's row so that parallel submissions cannot overshoot.
    await client.query('SELECT 1 FROM officials WHERE id = $1 FOR UPDATE', [official.id]);
    await client.query('SELECT 1 FROM authorities WHERE id = $1 FOR UPDATE', [official.authorityId]);
    // The quota is of the last 24 hours: a place frees when the oldest request counted leaves them,
    // which the refusal says (Retry-After, RFC 9110 section 10.2.3). The locks keep each count at
    // its quota, never past it, so the oldest is the one that frees it.
    const counts = (await client.query<{ mine: number; authority: number; mine_frees_in: number | null; authority_frees_in: number | null }>(
      `SELECT count(*) FILTER (WHERE requester_official_id = $1)::int AS mine, count(*)::int AS authority,
              ceil(extract(epoch FROM min(created_at) FILTER (WHERE requester_official_id = $1) + interval '1 day' - now()))::int AS mine_frees_in,
              ceil(extract(epoch FROM min(created_at) + interval '1 day' - now()))::int AS authority_frees_in
       FROM disclosure_requests WHERE requester_authority_id = $2 AND created_at > now() - interval '1 day'`,
      [official.id, official.authorityId],
    )).rows[0]!;
    const retryAfter = (seconds: number | null) => ({ retry_after: Math.max(1, seconds ?? 1) });
    if (counts.mine >= c.officialPerDay) throw new DisclosureError('DISCLOSURE_QUOTA_EXCEEDED', `${c.officialPerDay} requests per official per day`, retryAfter(counts.mine_frees_in));
    if (counts.authority >= c.authorityPerDay) throw new DisclosureError('DISCLOSURE_QUOTA_EXCEEDED', `${c.authorityPerDay} requests per authority per day`, retryAfter(counts.authority_frees_in));

    const account = (await client.query<{ id: string; person_id: string; pseudonym: string; account_ref: string }>(
      `SELECT a.id, a.person_id, a.pseudonym, a.account_ref FROM accounts a JOIN providers p ON p.id = a.provider_id
       WHERE a.provider_id = $1 AND p.kind IN ('platform', 'registrar') AND a.person_id IS NOT NULL AND a.pseudonym IS NOT NULL
         AND ${input.accountRef !== undefined ? 'a.account_ref = $2' : 'a.pseudonym = $2'}`,
      [input.providerId, input.accountRef ?? input.pseudonym],
    )).rows[0];
    if (!account) throw new DisclosureError('DISCLOSURE_ACCOUNT_NOT_FOUND');
    await client.query(
      `INSERT INTO disclosure_requests (id, provider_id, account_id, person_id, pseudonym, account_ref, legal_basis, case_reference, reasons, asks,
         emergency, seal_until, requester_official_id, requester_authority_id, status, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'submitted', now() + make_interval(days => $15))`,
      [id, input.providerId, account.id, account.person_id, account.pseudonym, account.account_ref, input.legalBasis, input.caseReference, input.reasons, asks,
        input.emergency ?? false, input.sealUntil ?? null, official.id, official.authorityId, c.expiryDays],
    );
    const row = (await findRequest(client, id))!;
    await logStage(deps, client, row, 'submitted', official.authorityId, official);
    await recordOfficialAction(client, { official, action: 'disclosure.submitted', subject: id, detail: { emergency: row.emergency, asks } });
    return { row, todayCount: counts.authority + 1 };
  });
  await volumeCheck(deps, official, created.todayCount);
  await signQuietly(deps);
  return created.row;
}

/**
 * Unusual volume (issue 5: "an alert on unusual volume"): more than three times the authority's
 * average day of the last 30 days (and at least 5). A warning in the log (no personal data) and
 * an audit record the regulator's auditors see.
 */
async function volumeCheck(deps: DisclosureDeps, official: Official, today: number): Promise<void> {
  if (today < 5) return;
  const r = await deps.pool.query<{ avg: string }>(
    `SELECT (count(*) / 30.0)::text AS avg FROM disclosure_requests
     WHERE requester_authority_id = $1 AND created_at BETWEEN now() - interval '31 days' AND now() - interval '1 day'`,
    [official.authorityId],
  );
  const average = Number(r.rows[0]!.avg);
  if (today > Math.max(5, 3 * average)) {
    deps.warn?.('unusual volume of disclosure requests', { authority: official.authorityId, today, daily_average: average });
    await recordOfficialAction(deps.pool, { official, action: 'disclosure.volume_alert', detail: { today, daily_average: average } });
  }
}

/** An approver's decision must come from another authority than the requester's (invariant 3). */
function checkDecider(r: RequestRow, official: Official): void {
  if (official.authorityId === r.requester_authority_id || official.id === r.requester_official_id) {
    throw new DisclosureError('DISCLOSURE_SAME_AUTHORITY');
  }
}

function isOpen(r: RequestRow): boolean {
  return r.status === 'submitted' && r.expires_at.getTime() > Date.now();
}

/** `POST /v1/authority/requests/{id}/approve` (an approver of another authority). Releases at once when a checkpoint covers the approval. */
export async function approveRequest(deps: DisclosureDeps, official: Official, id: string): Promise<RequestRow> {
  logOf(deps);
  await inTransaction(deps.pool, async (client) => {
    const r = await findRequest(client, id, true);
    if (!r) throw new DisclosureError('DISCLOSURE_NOT_FOUND');
    checkDecider(r, official);
    if (!isOpen(r)) throw new DisclosureError('DISCLOSURE_STATE', `the request is ${r.status === 'submitted' ? 'expired' : r.status}`);
    await client.query(
      `UPDATE disclosure_requests SET status = 'approved', approver_official_id = $2, approver_authority_id = $3, approved_at = now(), decided_at = now(),
         review_due_at = CASE WHEN emergency THEN now() + make_interval(hours => $4) END
       WHERE id = $1 AND status = 'submitted'`,
      [id, official.id, official.authorityId, EMERGENCY_REVIEW_HOURS],
    );
    await logStage(deps, client, r, 'approved', official.authorityId, official);
    await recordOfficialAction(client, { official, action: 'disclosure.approved', subject: id });
  });
  await deps.afterApproval?.();
  await signQuietly(deps);
  await releaseIfCovered(deps, id);
  return (await findRequest(deps.pool, id))!;
}

/** `POST /v1/authority/requests/{id}/reject {reasons}`. */
export async function rejectRequest(deps: DisclosureDeps, official: Official, id: string, reasons: string): Promise<RequestRow> {
  logOf(deps);
  if (reasons.trim().length < 10) throw new DisclosureError('DISCLOSURE_INVALID', 'reasons: at least 10 characters');
  await inTransaction(deps.pool, async (client) => {
    const r = await findRequest(client, id, true);
    if (!r) throw new DisclosureError('DISCLOSURE_NOT_FOUND');
    checkDecider(r, official);
    if (!isOpen(r)) throw new DisclosureError('DISCLOSURE_STATE', `the request is ${r.status}`);
    await client.query(`UPDATE disclosure_requests SET status = 'rejected', rejection_reasons = $2, decided_at = now(), approver_official_id = $3, approver_authority_id = $4 WHERE id = $1`,
      [id, reasons, official.id, official.authorityId]);
    await logStage(deps, client, r, 'rejected', official.authorityId, official, { rejection_reasons: reasons });
    await recordOfficialAction(client, { official, action: 'disclosure.rejected', subject: id });
  });
  await signQuietly(deps);
  return (await findRequest(deps.pool, id))!;
}

function sealedNow(r: Pick<RequestRow, 'seal_until' | 'unsealed_at'>): boolean {
  return r.seal_until !== null && r.unsealed_at === null && r.seal_until >= vietnamToday();
}

/**
 * Releases an approved request once a signed checkpoint covers its approval entry (issue 5), in
 * one transaction with its `released` entry; the person is notified unless a seal lasts.
 * Idempotent: a released request is left as it is. Returns whether it is released now.
 */
export async function releaseIfCovered(deps: DisclosureDeps, id: string): Promise<boolean> {
  const log = logOf(deps);
  const approval = (await deps.pool.query<{ log_index: string }>(`SELECT log_index FROM disclosure_stages WHERE request_id = $1 AND stage = 'approved'`, [id])).rows[0];
  if (!approval) return false;
  if (!(await log.covering(Number(approval.log_index)))) return false;
  const notify = await inTransaction(deps.pool, async (client) => {
    const r = await findRequest(client, id, true);
    if (!r || r.status !== 'approved') return undefined;
    await client.query(
      `UPDATE disclosure_requests SET status = 'released', released_at = now(),
         release_visible_until = CASE WHEN emergency THEN now() + make_interval(hours => $2) END
       WHERE id = $1`,
      [id, EMERGENCY_VISIBLE_HOURS],
    );
    await logStage(deps, client, r, 'released', r.approver_authority_id!, undefined);
    if (sealedNow(r)) return undefined;
    return notifyPerson(client, r, 'disclosure_released');
  });
  await signQuietly(deps);
  if (notify) await sendNotice(deps, notify);
  return true;
}

interface Notice { personId: string; notificationId: string }

async function notifyPerson(client: pg.PoolClient, r: RequestRow, kind: 'disclosure_released' | 'disclosure_unsealed'): Promise<Notice> {
  await client.query('UPDATE disclosure_requests SET person_notified_at = now() WHERE id = $1', [r.id]);
  const n = await client.query<{ id: string }>('INSERT INTO person_notifications (person_id, kind, request_id) VALUES ($1, $2, $3) RETURNING id', [r.person_id, kind, r.id]);
  return { personId: r.person_id, notificationId: n.rows[0]!.id };
}

/**
 * The text of the SMS notice: only that there is news in their view (DESIGN.md "Conventions").
 * Vietnamese without diacritics, as the codes are (src/verification/sms/sms-text.ts): one letter
 * with a diacritic makes the whole SMS UCS-2, two parts instead of one.
 */
export const NOTICE_TEXT = 'idbind: Co thong tin moi trong trang idbind cua ban. / There is news in your idbind view.';

/**
 * The SMS notice goes only to a number the same person still holds: an active subscription
 * whose holder is this person, with no SIM change in the last 72 hours (a swapped SIM must not
 * learn of an investigation). Best effort: the notice stays in the person's view regardless.
 */
async function sendNotice(deps: DisclosureDeps, notice: Notice): Promise<void> {
  if (!deps.sms) return;
  try {
    const ring = await deps.ring();
    const sub = (await deps.pool.query<{ id: string; sealed: Buffer; dek_version: number }>(
      `SELECT s.id, s.sealed, s.dek_version FROM subscriptions s JOIN persons p ON p.pid_bidx = s.holder_bidx
       WHERE p.id = $1 AND s.status = 'active' AND (s.sim_changed_at IS NULL OR s.sim_changed_at < now() - interval '72 hours')
       ORDER BY s.registered_at DESC LIMIT 1`,
      [notice.personId],
    )).rows[0];
    if (!sub) return;
    const msisdn = openSubscriptionNumber(ring, sub);
    await deps.sms.send(msisdn, NOTICE_TEXT);
    await deps.pool.query('UPDATE person_notifications SET sms_sent = true WHERE id = $1', [notice.notificationId]);
  } catch (e) {
    deps.warn?.('disclosure notice SMS not sent; the notice is in the person\'s view', { err: (e as Error).name });
  }
}

/** `POST /v1/authority/requests/{id}/review` (emergency only): a second approver of another authority, not the first. */
export async function reviewRequest(deps: DisclosureDeps, official: Official, id: string, outcome: 'upheld' | 'not_upheld', reasons: string): Promise<RequestRow> {
  logOf(deps);
  await inTransaction(deps.pool, async (client) => {
    const r = await findRequest(client, id, true);
    if (!r) throw new DisclosureError('DISCLOSURE_NOT_FOUND');
    checkDecider(r, official);
    if (official.id === r.approver_official_id) throw new DisclosureError('DISCLOSURE_SAME_AUTHORITY', 'the review is by a second approver, not the one who approved');
    if (!r.emergency || (r.status !== 'approved' && r.status !== 'released') || r.reviewed_at) throw new DisclosureError('DISCLOSURE_STATE', 'only an approved emergency request awaiting review');
    await client.query(`UPDATE disclosure_requests SET reviewed_at = now(), reviewer_official_id = $2, review_outcome = $3, review_reasons = $4 WHERE id = $1`,
      [id, official.id, outcome, reasons]);
    await logStage(deps, client, r, 'reviewed', official.authorityId, official, { outcome, late: r.review_due_at !== null && r.review_due_at.getTime() < Date.now() });
    await recordOfficialAction(client, { official, action: 'disclosure.reviewed', subject: id, detail: { outcome } });
  });
  await signQuietly(deps);
  return (await findRequest(deps.pool, id))!;
}

/** `POST /v1/authority/requests/{id}/seal {until}`: a court extends (or sets) the seal, as a new logged stage. */
export async function extendSeal(deps: DisclosureDeps, official: Official, id: string, until: string, reasons: string): Promise<RequestRow> {
  logOf(deps);
  if (official.authorityKind !== 'court') throw new DisclosureError('DISCLOSURE_COURT_ONLY');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(until) || !(until > vietnamToday())) throw new DisclosureError('DISCLOSURE_INVALID', 'until: a date after today');
  await inTransaction(deps.pool, async (client) => {
    const r = await findRequest(client, id, true);
    if (!r) throw new DisclosureError('DISCLOSURE_NOT_FOUND');
    if (r.status === 'rejected' || r.status === 'expired' || r.unsealed_at) throw new DisclosureError('DISCLOSURE_STATE', 'a seal applies to an open or released request not yet unsealed');
    if (r.seal_until !== null && until <= r.seal_until) throw new DisclosureError('DISCLOSURE_INVALID', 'until: later than the current seal');
    await client.query(`UPDATE disclosure_requests SET seal_until = $2 WHERE id = $1`, [id, until]);
    await logStage(deps, client, { ...r, seal_until: until }, 'seal_extended', official.authorityId, official, { seal_reasons: reasons });
    await recordOfficialAction(client, { official, action: 'disclosure.seal_extended', subject: id, detail: { until } });
  });
  await signQuietly(deps);
  return (await findRequest(deps.pool, id))!;
}

/**
 * Maintenance: releases approved requests a checkpoint now covers, unseals released requests
 * whose seal date has passed (a logged stage, the person notified), and expires unapproved ones.
 */
export async function runDisclosureMaintenance(deps: DisclosureDeps): Promise<{ released: number; unsealed: number; expired: number }> {
  if (!deps.log) return { released: 0, unsealed: 0, expired: 0 };
  const expired = (await deps.pool.query(`UPDATE disclosure_requests SET status = 'expired' WHERE status = 'submitted' AND expires_at <= now()`)).rowCount ?? 0;
  let released = 0;
  for (const r of (await deps.pool.query<{ id: string }>(`SELECT id FROM disclosure_requests WHERE status = 'approved' ORDER BY approved_at LIMIT 100`)).rows) {
    if (await releaseIfCovered(deps, r.id)) released++;
  }
  let unsealed = 0;
  const due = (await deps.pool.query<{ id: string }>(
    `SELECT id FROM disclosure_requests WHERE status = 'released' AND unsealed_at IS NULL AND seal_until IS NOT NULL AND seal_until < $1::date LIMIT 100`,
    [vietnamToday()],
  )).rows;
  for (const d of due) {
    const notice = await inTransaction(deps.pool, async (client) => {
      const r = await findRequest(client, d.id, true);
      if (!r || r.unsealed_at || r.seal_until === null || r.seal_until >= vietnamToday()) return undefined;
      await client.query('UPDATE disclosure_requests SET unsealed_at = now() WHERE id = $1', [r.id]);
      await logStage(deps, client, r, 'unsealed', r.approver_authority_id ?? r.requester_authority_id, undefined);
      return notifyPerson(client, r, r.person_notified_at ? 'disclosure_unsealed' : 'disclosure_released');
    });
    if (notice) {
      unsealed++;
      await sendNotice(deps, notice);
    }
  }
  if (released + unsealed > 0) await signQuietly(deps);
  return { released, unsealed, expired };
}

/** A request as officials see it (no identity: that is the release's). */
export function requestView(r: RequestRow) {
  const now = Date.now();
  return {
    id: r.id, status: r.status === 'submitted' && r.expires_at.getTime() <= now ? 'expired' : r.status,
    provider: { id: r.provider_id, name: r.provider_name }, account_ref: r.account_ref, pseudonym: r.pseudonym,
    legal_basis: r.legal_basis, case_reference: r.case_reference, reasons: r.reasons, asks: r.asks, emergency: r.emergency, seal_until: r.seal_until,
    sealed: sealedNow(r),
    requester: { official_id: r.requester_official_id, authority: { id: r.requester_authority_id, name: r.requester_authority_name } },
    approver: r.approver_authority_id ? { official_id: r.approver_official_id, authority: { id: r.approver_authority_id, name: r.approver_authority_name ?? '' } } : null,
    rejection_reasons: r.rejection_reasons, decided_at: r.decided_at?.toISOString() ?? null, released_at: r.released_at?.toISOString() ?? null,
    release_visible_until: r.release_visible_until?.toISOString() ?? null,
    review: r.emergency ? {
      due_at: r.review_due_at?.toISOString() ?? null, reviewed_at: r.reviewed_at?.toISOString() ?? null, outcome: r.review_outcome,
      overdue: r.review_due_at !== null && r.reviewed_at === null && r.review_due_at.getTime() < now,
    } : null,
    expires_at: r.expires_at.toISOString(), created_at: r.created_at.toISOString(),
  };
}

/** Who may see a request: its authority's officials; approvers of other authorities while it awaits a decision or review; auditors. */
function maySee(r: RequestRow, official: Official): boolean {
  if (official.authorityId === r.requester_authority_id) return true;
  if (official.roles.includes('auditor')) return true;
  if (official.roles.includes('approver') && (r.status === 'submitted' || r.approver_authority_id === official.authorityId || (r.emergency && !r.reviewed_at))) return true;
  return official.authorityKind === 'court' && official.roles.includes('approver');
}

export async function getRequest(deps: DisclosureDeps, official: Official, id: string): Promise<RequestRow> {
  const r = await findRequest(deps.pool, id);
  if (!r || !maySee(r, official)) throw new DisclosureError('DISCLOSURE_NOT_FOUND');
  return r;
}

/** Requests an official works with: their authority's, those awaiting a decision by an approver of another authority, everything for an auditor. */
export async function listRequests(deps: DisclosureDeps, official: Official, filter: { status?: DisclosureStatus; limit?: number } = {}): Promise<RequestRow[]> {
  const rows = (await deps.pool.query<RequestRow>(
    `${SELECT_REQUEST} WHERE ($1::text IS NULL OR r.status = $1) ORDER BY r.created_at DESC LIMIT $2`,
    [filter.status ?? null, Math.min(filter.limit ?? 100, 500)],
  )).rows;
  return rows.filter((r) => maySee(r, official));
}

export interface ReleaseView {
  request: ReturnType<typeof requestView>;
  identity?: { full_name: string; personal_id: string; birth_date: string };
  history?: Array<{ status: string; reason: string; at: string }>;
  account?: { method: string | null; level: string | null; verified_at: string | null };
  /** C2SP tlog-proof bundles of the approval and release entries, with their openings. */
  proofs: { approved: string; released: string };
}

/**
 * `GET /v1/authority/requests/{id}/release`: the released data, to officials of the requesting
 * authority with the requester role. Each view decrypts the person's record for this purpose and
 * is an access record of the person (shown once no seal lasts) and an audit record.
 */
export async function viewRelease(deps: DisclosureDeps, official: Official, id: string): Promise<ReleaseView> {
  const r = await findRequest(deps.pool, id);
  if (!r || r.requester_authority_id !== official.authorityId) throw new DisclosureError('DISCLOSURE_NOT_FOUND');
  if (r.status === 'approved') throw new DisclosureError('DISCLOSURE_NOT_RELEASED');
  if (r.status !== 'released') throw new DisclosureError('DISCLOSURE_STATE', `the request is ${r.status}`);
  if (r.release_visible_until && r.release_visible_until.getTime() <= Date.now()) throw new DisclosureError('DISCLOSURE_RELEASE_EXPIRED');
  const out: ReleaseView = { request: requestView(r), proofs: await proofsOf(deps, r.id) };
  const ring = await deps.ring();
  if (r.asks.includes('identity')) {
    const person = await openPerson(deps.pool, ring, r.person_id);
    if (!person) throw new DisclosureError('DISCLOSURE_STATE', 'the person record is gone');
    out.identity = { full_name: person.fullName, personal_id: person.personalId, birth_date: person.birthDate };
  }
  if (r.asks.includes('history')) {
    const a = (await deps.pool.query<{ method: string | null; level: string | null; verified_at: Date | null }>('SELECT method, level, verified_at FROM accounts WHERE id = $1', [r.account_id])).rows[0];
    out.account = { method: a?.method ?? null, level: a?.level ?? null, verified_at: a?.verified_at?.toISOString() ?? null };
    out.history = (await deps.pool.query<{ status: string; reason: string; at: Date }>(
      'SELECT status, reason, at FROM account_changes WHERE account_id = $1 AND person_id = $2 ORDER BY sequence', [r.account_id, r.person_id],
    )).rows.map((h) => ({ status: h.status, reason: h.reason, at: h.at.toISOString() }));
  }
  await recordPersonAccess(deps.pool, {
    personId: r.person_id, purpose: 'disclosure', actor: `authority:${r.requester_authority_id}`,
    detail: { authority: r.requester_authority_name, request_id: r.id, asks: r.asks, legal_basis: r.legal_basis, case_reference: r.case_reference },
  });
  await recordOfficialAction(deps.pool, { official, action: 'disclosure.release_viewed', subject: r.id });
  return out;
}

async function proofsOf(deps: DisclosureDeps, id: string): Promise<{ approved: string; released: string }> {
  const log = logOf(deps);
  const stages = (await deps.pool.query<{ stage: string; log_index: string; salt: string; record: unknown }>(
    `SELECT stage, log_index, salt, record FROM disclosure_stages WHERE request_id = $1 AND stage IN ('approved', 'released')`, [id],
  )).rows;
  const bundle = async (stage: string) => {
    const s = stages.find((x) => x.stage === stage);
    if (!s) throw new DisclosureError('DISCLOSURE_NOT_RELEASED');
    return log.proofBundle(Number(s.log_index), { salt: s.salt, record: s.record });
  };
  return { approved: await bundle('approved'), released: await bundle('released') };
}

/** Request ids of the person's disclosures that a seal still hides (their access records are hidden too). */
export async function sealedRequestIds(pool: pg.Pool, personId: string): Promise<Set<string>> {
  const r = await pool.query<{ id: string }>(
    `SELECT id FROM disclosure_requests WHERE person_id = $1 AND seal_until IS NOT NULL AND unsealed_at IS NULL AND seal_until >= $2::date`,
    [personId, vietnamToday()],
  );
  return new Set(r.rows.map((x) => x.id));
}

/**
 * The person's own view of disclosures about them (issue 5 "The person's own view"): released
 * requests no seal hides, with who asked, why, what was released, the review of an emergency,
 * the proof bundles and the redress open to them. Sealed ones are not even counted.
 */
export async function disclosuresOfPerson(deps: DisclosureDeps, personId: string): Promise<unknown[]> {
  const rows = (await deps.pool.query<RequestRow>(
    `${SELECT_REQUEST} WHERE r.person_id = $1 AND r.status = 'released' AND (r.seal_until IS NULL OR r.unsealed_at IS NOT NULL OR r.seal_until < $2::date)
     ORDER BY r.released_at DESC`,
    [personId, vietnamToday()],
  )).rows;
  const out = [];
  for (const r of rows) {
    out.push({
      id: r.id, authority: r.requester_authority_name, approved_by: r.approver_authority_name, platform: r.provider_name,
      legal_basis: r.legal_basis, case_reference: r.case_reference, reasons: r.reasons, released: r.asks, emergency: r.emergency,
      review: r.emergency ? { outcome: r.review_outcome, reviewed_at: r.reviewed_at?.toISOString() ?? null } : null,
      released_at: r.released_at!.toISOString(), proofs: deps.log ? await proofsOf(deps, r.id) : null, redress: REDRESS,
    });
  }
  return out;
}
