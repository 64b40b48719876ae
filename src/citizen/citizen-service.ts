/**
 * The person's own view (issue 5 "The person's own view"; DESIGN.md invariant 4): what is bound
 * to them, and every access to their data, for the person signed in to the citizen portal.
 *
 * What a level shows (a stolen SIM must not reveal an investigation):
 * - `low` (phone): accounts, subscriptions, consents, and the part of the access history about
 *   their bindings and releases (ACCESS_AT_LOW: bindings, age checks, releases and consents to
 *   platforms, and their own sign-ins, exports and reports);
 * - `substantial` or `high` (national eID): also the full access history (guardian checks, and
 *   disclosures to authorities once no seal lasts), the disclosures themselves, and the export.
 *
 * Every opening of the person's own sealed data (their numbers, the export) is a `self_view`
 * access record, like any other read. Self-views are recorded always and listed in part: the
 * sign-ins, exports and reports are shown (a sign-in from a stolen SIM is then visible to the
 * person), the routine reads of the pages (listing their numbers) are not, so that the history
 * stays about others' access and does not grow each time it is looked at (docs/citizen.md).
 */
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { uuidv7 } from '../kernel/ids.ts';
import { recordPersonAccess, type PersonPurpose } from '../access/access-records.ts';
import { unbindAccountByPerson } from '../bindings/binding-service.ts';
import { listClaimConsents, withdrawClaimConsent, type ClaimConsentView } from '../oidc/claim-consent-service.ts';
import { CitizenError } from './citizen-errors.ts';
import * as repo from './citizen-repository.ts';
import { openSubscriptionNumber } from '../registry/row-crypto.ts';

export interface CitizenDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  /** The person's disclosures (the disclosure capability's hook), each with its proof bundle; none when absent. */
  disclosures?: (personId: string) => Promise<unknown[]>;
  /**
   * Ids of the person's disclosure requests a seal still hides. Their `disclosure` access records
   * are left out of the history; without this hook every `disclosure` record is left out (fail
   * closed: a sealed investigation is never shown by mistake).
   */
  sealedDisclosures?: (personId: string) => Promise<Set<string>>;
}

export interface CitizenSession {
  personId: string;
  level: repo.SessionLevel;
  method: 'phone' | 'eid';
  expiresAt: Date;
}

/** Purposes listed at `low`: the bindings and releases (issue 5: "A phone sign-in (`low`) shows bindings and subscriptions"). */
export const ACCESS_AT_LOW: readonly PersonPurpose[] = ['account_binding', 'age_check', 'claims_release', 'claims_consent', 'self_view'];
/** The self-views listed in the history (the others are recorded, not listed). */
export const LISTED_SELF_VIEWS = ['sign_in', 'export', 'report_subscription'] as const;

export function isSubstantial(s: CitizenSession): boolean {
  return s.level === 'substantial' || s.level === 'high';
}

function requireSubstantial(s: CitizenSession): void {
  if (!isSubstantial(s)) throw new CitizenError('CITIZEN_LEVEL_TOO_LOW', 'sign in with national eID (level substantial) to see disclosures, your full history and the export');
}

export async function recordSelfView(db: pg.Pool | pg.PoolClient, s: Pick<CitizenSession, 'personId' | 'level' | 'method'>, action: string, detail: Record<string, unknown> = {}): Promise<void> {
  await recordPersonAccess(db, { personId: s.personId, purpose: 'self_view', actor: `person:${s.personId}`, detail: { action, level: s.level, method: s.method, ...detail } });
}

export interface MeView {
  level: repo.SessionLevel;
  method: 'phone' | 'eid';
  expires_at: string;
  shows: { accounts: true; subscriptions: true; consents: true; access: 'bindings_and_releases' | 'full'; disclosures: boolean; export: boolean };
}

export function meView(s: CitizenSession): MeView {
  const full = isSubstantial(s);
  return {
    level: s.level, method: s.method, expires_at: s.expiresAt.toISOString(),
    shows: { accounts: true, subscriptions: true, consents: true, access: full ? 'full' : 'bindings_and_releases', disclosures: full, export: full },
  };
}

export interface AccountView {
  id: string;
  provider: string;
  account_ref: string;
  pseudonym: string | null;
  level: string | null;
  method: string | null;
  since: string;
  verified_at: string | null;
  status: repo.AccountRow['status'];
  reason: string | null;
  minor: boolean;
}

export async function listAccounts(deps: CitizenDeps, s: CitizenSession): Promise<AccountView[]> {
  return (await repo.accountsOfPerson(deps.pool, s.personId)).map((a) => ({
    id: a.id, provider: a.provider_name, account_ref: a.account_ref, pseudonym: a.pseudonym, level: a.level, method: a.method,
    since: a.status_since.toISOString(), verified_at: a.verified_at?.toISOString() ?? null, status: a.status, reason: a.status_reason, minor: a.minor,
  }));
}

/** Unbinds one of the person's accounts; an account of theirs already unbound answers as it is (idempotent). */
export async function unbind(deps: CitizenDeps, s: CitizenSession, accountId: string): Promise<AccountView> {
  await unbindAccountByPerson(deps.pool, s.personId, accountId);
  const account = (await listAccounts(deps, s)).find((a) => a.id === accountId);
  if (!account) throw new CitizenError('CITIZEN_NOT_FOUND', 'no account of yours by this id');
  return account;
}

export interface SubscriptionView {
  id: string;
  carrier: string;
  number: string;
  channel: string;
  registered_at: string;
  status: string;
  ended_at: string | null;
  reported_at: string | null;
}

function subscriptionViews(ring: KeyRing, rows: repo.SubscriptionRow[]): SubscriptionView[] {
  return rows.map((r) => ({
    id: r.id, carrier: r.carrier,
    number: openSubscriptionNumber(ring, r),
    channel: r.channel, registered_at: r.registered_at.toISOString(), status: r.status, ended_at: r.ended_at?.toISOString() ?? null,
    reported_at: r.reported_at?.toISOString() ?? null,
  }));
}

/** The person's subscriptions, numbers opened: a `self_view` record (not listed in the history). */
export async function listSubscriptions(deps: CitizenDeps, s: CitizenSession): Promise<SubscriptionView[]> {
  const rows = await repo.subscriptionsOfPerson(deps.pool, s.personId);
  if (rows.length === 0) return [];
  await recordSelfView(deps.pool, s, 'subscriptions', { count: rows.length });
  return subscriptionViews(await deps.ring(), rows);
}

/**
 * "A subscription I do not recognise": recorded for the carrier's action list (REPORTED_BY_HOLDER,
 * src/carriers/carrier-action-list.ts) and in the person's history. No number is opened.
 */
export async function reportSubscription(deps: CitizenDeps, s: CitizenSession, subscriptionId: string): Promise<{ id: string; carrier: string; reported_at: string }> {
  const row = (await repo.subscriptionsOfPerson(deps.pool, s.personId, subscriptionId))[0];
  if (!row) throw new CitizenError('CITIZEN_NOT_FOUND', 'no subscription of yours by this id');
  if (row.status === 'terminated') throw new CitizenError('CITIZEN_NOT_FOUND', 'this subscription is terminated: there is nothing left for the carrier to act on');
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    const at = await repo.insertReport(client, { id: uuidv7(), subscriptionId, personId: s.personId, carrierId: row.carrier_id });
    if (!row.reported_at) await recordSelfView(client, s, 'report_subscription', { carrier: row.carrier, subscription_id: subscriptionId });
    await client.query('COMMIT');
    return { id: subscriptionId, carrier: row.carrier, reported_at: at.toISOString() };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

export interface AccessView {
  id: string;
  at: string;
  /** Why: the purpose the data was opened for (src/access/access-records.ts PERSON_PURPOSES; the demo adds its own). */
  purpose: PersonPurpose | (string & {});
  /** Who: a platform or carrier (by name), an authority, the person themselves, or the hub's own jobs. */
  who: { kind: 'provider' | 'authority' | 'you' | 'person' | 'system' | 'staff'; name: string | null };
  /** What: the record's detail (claims named, never their values; no personal field is ever in it). */
  what: Record<string, unknown>;
}

function whoOf(row: repo.AccessRow, personId: string): AccessView['who'] {
  const [kind, rest] = [row.actor.slice(0, row.actor.indexOf(':')), row.actor.slice(row.actor.indexOf(':') + 1)];
  if (kind === 'provider') return row.actor_kind === 'portal' ? { kind: 'you', name: null } : { kind: 'provider', name: row.actor_name ?? (row.detail.provider as string | undefined) ?? null };
  if (kind === 'authority') return { kind: 'authority', name: typeof row.detail.authority === 'string' ? row.detail.authority : null };
  if (kind === 'person') return rest === personId ? { kind: 'you', name: null } : { kind: 'person', name: null };
  if (kind === 'staff' || kind === 'official') return { kind: 'staff', name: rest || null };
  return { kind: 'system', name: row.actor };
}

/**
 * The person's access history (see the header for what each level lists). At most `limit`
 * entries, newest first; `complete` says whether the level showed everything there is to show.
 */
export async function listAccess(deps: CitizenDeps, s: CitizenSession, limit = 500): Promise<{ complete: boolean; records: AccessView[] }> {
  const full = isSubstantial(s);
  const purposes = full ? null : ACCESS_AT_LOW;
  const sealed = deps.sealedDisclosures ? await deps.sealedDisclosures(s.personId) : undefined;
  const rows = await repo.accessOfPerson(deps.pool, s.personId, purposes, Math.min(Math.max(limit, 1), 5000));
  const records: AccessView[] = [];
  for (const row of rows) {
    if (row.purpose === 'self_view' && !(LISTED_SELF_VIEWS as readonly unknown[]).includes(row.detail.action)) continue;
    if (row.purpose === 'disclosure') {
      const request = row.detail.request_id;
      if (!sealed || typeof request !== 'string' || sealed.has(request)) continue;
    }
    // A purpose outside PERSON_PURPOSES (the demo's own reads, `demo_test_eid`) is still a read about
    // the person: shown with the full history (invariant 4), never at `low`.
    records.push({ id: row.id, at: row.at.toISOString(), purpose: row.purpose, who: whoOf(row, s.personId), what: row.detail });
  }
  return { complete: full, records };
}

export function listConsents(deps: CitizenDeps, s: CitizenSession): Promise<ClaimConsentView[]> {
  return listClaimConsents(deps.pool, s.personId);
}

export async function withdrawConsent(deps: CitizenDeps, s: CitizenSession, consentId: string): Promise<ClaimConsentView> {
  const mine = (await listClaimConsents(deps.pool, s.personId)).find((c) => c.id === consentId);
  if (!mine) throw new CitizenError('CITIZEN_NOT_FOUND', 'no consent of yours by this id');
  if (mine.withdrawn_at === null) await withdrawClaimConsent(deps.pool, s.personId, consentId);
  return (await listClaimConsents(deps.pool, s.personId)).find((c) => c.id === consentId)!;
}

export async function listDisclosures(deps: CitizenDeps, s: CitizenSession): Promise<unknown[]> {
  requireSubstantial(s);
  return deps.disclosures ? deps.disclosures(s.personId) : [];
}

/** Everything of the person's view as one JSON document (substantial only): a listed `self_view` record. */
export async function exportAll(deps: CitizenDeps, s: CitizenSession): Promise<Record<string, unknown>> {
  requireSubstantial(s);
  await recordSelfView(deps.pool, s, 'export');
  const rows = await repo.subscriptionsOfPerson(deps.pool, s.personId);
  return {
    format: 'idbind-citizen-export/1',
    exported_at: new Date().toISOString(),
    session: meView(s),
    accounts: await listAccounts(deps, s),
    subscriptions: subscriptionViews(await deps.ring(), rows),
    consents: await listConsents(deps, s),
    access: (await listAccess(deps, s, 5000)).records,
    disclosures: await listDisclosures(deps, s),
  };
}
