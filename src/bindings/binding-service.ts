/**
 * Bindings: an account of a provider bound to a person under the person's pseudonym at that
 * provider (issue 3; DESIGN.md invariant 1). What a provider reads here is the whole of what it
 * may learn: status, level, pseudonym, since, and whether it is a minor's account.
 *
 * Pseudonyms are 128 random bits per (person, provider), created on the first binding and
 * stored: stable for the person on that provider, unrelated across providers, derived from no
 * personal field, unaffected by key rotation, and reversible only through the stored mapping
 * (OIDC Core 8.1 pairwise subject; the disclosure workflow of issue 5 reads it).
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { uuidv7 } from '../kernel/ids.ts';
import type { Provider } from '../providers/provider-service.ts';
import * as repo from './binding-repository.ts';
import { BindingError } from './binding-errors.ts';
import { VerificationError } from '../verification/verification-errors.ts';
import { recordPersonAccess } from '../access/access-records.ts';
import type { AccountStatusCache } from './account-status-cache.ts';

export type { AccountStatus, Level, Method } from './binding-repository.ts';

/**
 * A platform's account ref (issue 3: 1 to 128 characters of `A-Za-z0-9._:-`), except `.` and `..`:
 * URL dot segments, which every URL parser removes from a path (RFC 3986 5.2.4), `%2E` too, so
 * no `GET` or `DELETE /v1/accounts/{ref}` could name such an account once bound.
 */
export const ACCOUNT_REF_PATTERN = '^(?!\\.{1,2}$)[A-Za-z0-9._:-]{1,128}$';
const ACCOUNT_REF = new RegExp(ACCOUNT_REF_PATTERN);

export function isAccountRef(s: string): boolean {
  return ACCOUNT_REF.test(s);
}

export function newPseudonym(): string {
  return randomBytes(16).toString('base64url');
}

export interface AccountStatusView {
  account_ref: string;
  status: 'verified' | 'needs_reverification' | 'revoked' | 'unverified';
  level: repo.Level | null;
  pseudonym: string | null;
  /**
   * When the account entered `status`: verified, when (last) verified; needs_reverification or
   * revoked, when changed; unverified, when unbound, or null if never bound.
   */
  since: string | null;
  /**
   * A minor's account, bound with a guardian's consent (Decree 147/2024 Art. 27): true until the
   * person turns 16 (then `account.minor_ended`). Never who the guardian is. False when unverified.
   */
  minor: boolean;
}

/**
 * What a provider reads of an account (DESIGN.md invariant 1). An unbound account reads as
 * `unverified` with no level and no pseudonym, `since` the time of its unbinding; one never bound,
 * with `since` null. events/outbox.ts builds every account event's payload with this same mapping
 * in SQL, so that the event of a change and a status read after it agree (audit of issue 3,
 * finding 7); change the two together.
 */
export function statusView(accountRef: string, row: repo.AccountStatusRow | undefined): AccountStatusView {
  if (!row || row.status === 'unbound') return { account_ref: accountRef, status: 'unverified', level: null, pseudonym: null, since: row ? row.status_since.toISOString() : null, minor: false };
  return { account_ref: row.account_ref, status: row.status, level: row.level, pseudonym: row.pseudonym, since: row.status_since.toISOString(), minor: row.minor };
}

/**
 * One account's status; through the status cache when given (account-status-cache.ts: kept
 * correct by the database's notifications, bypassed while it cannot hear them).
 */
export async function getAccountStatus(pool: pg.Pool, provider: Provider, accountRef: string, cache?: AccountStatusCache): Promise<AccountStatusView> {
  const load = async () => statusView(accountRef, await repo.accountStatus(pool, provider.id, accountRef));
  return cache ? cache.getOne(provider.id, accountRef, load) : load();
}

/** Statuses of many refs, in the order asked; unknown refs are `unverified`. Cache hits first, the misses in one query. */
export async function getAccountStatuses(pool: pg.Pool, provider: Provider, accountRefs: readonly string[], cache?: AccountStatusCache): Promise<AccountStatusView[]> {
  const load = async (refs: readonly string[]) => {
    const rows = await repo.accountStatuses(pool, provider.id, refs);
    const byRef = new Map(rows.map((r) => [r.account_ref, r]));
    return new Map(refs.map((ref) => [ref, statusView(ref, byRef.get(ref))]));
  };
  const unique = [...new Set(accountRefs)];
  const views = cache ? await cache.getMany(provider.id, unique, load) : await load(unique);
  return accountRefs.map((ref) => views.get(ref)!);
}

export async function unbindAccount(pool: pg.Pool, provider: Provider, accountRef: string): Promise<void> {
  if (await repo.unbindAccount(pool, provider.id, accountRef)) return;
  const row = await repo.accountStatus(pool, provider.id, accountRef);
  if (!row) throw new BindingError('ACCOUNT_NOT_FOUND');
  // Already unbound: idempotent.
}

/**
 * The person unbinds one of their accounts (the citizen portal, issue 5): one transaction with
 * the platform's `account.unbound` event and the person's `account_binding` record. False when
 * the account is not theirs or already unbound.
 */
export async function unbindAccountByPerson(pool: pg.Pool, personId: string, accountId: string): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const changed = await repo.unbindAccountOfPerson(client, personId, accountId);
    if (changed) {
      const p = await client.query<{ name: string }>('SELECT name FROM providers WHERE id = $1', [changed.provider_id]);
      await recordPersonAccess(client, {
        personId, purpose: 'account_binding', actor: `person:${personId}`,
        detail: { provider: p.rows[0]!.name, account_ref: changed.account_ref, unbound_by_person: true },
      });
    }
    await client.query('COMMIT');
    return changed !== undefined;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

export interface BindResult {
  account_id: string;
  account_ref: string;
  status: 'verified';
  level: repo.Level;
  pseudonym: string;
  verified_at: string;
}

/**
 * The person's `account_binding` access record of a binding (DESIGN.md invariant 4): who bound
 * (`provider:<id>`) and what, no personal field. Every binding path writes the same one.
 */
export function bindingAccess(provider: Provider, b: {
  accountRef: string; method: repo.Method; level: repo.Level; viaVerification: string; guardianPersonId?: string | null;
}): { actor: string; detail: Record<string, unknown> } {
  return {
    actor: `provider:${provider.id}`,
    detail: {
      provider: provider.name, account_ref: b.accountRef, method: b.method, level: b.level, verification_id: b.viaVerification,
      ...(b.guardianPersonId ? { guardian_consented: true } : {}),
    },
  };
}

/**
 * Binds an account to a person inside the caller's transaction: takes the (person, provider)
 * lock, enforces the accounts-per-person limit, binds, writes the event (outbox) and the
 * person's access record (DESIGN.md invariant 4: every binding is visible to the person).
 */
export async function bindAccountInTransaction(client: pg.PoolClient, provider: Provider, b: {
  accountRef: string; personId: string; subscriptionId: string | null; method: repo.Method; level: repo.Level; viaVerification: string;
  /**
   * A minor's account (Decree 147/2024 Art. 27): the guardian who consented in the hosted flow.
   * Recorded inside idbind; the platform learns only `minor: true`.
   */
  guardianPersonId?: string | null;
}): Promise<BindResult> {
  // The number's subscription share-locked before the binding's statement, so that a port-in
  // elsewhere either is seen by it or sees the binding (bindAccount, "Contested number").
  if (b.subscriptionId) await repo.lockSubscription(client, b.subscriptionId);
  const pseudonym = await repo.lockPseudonym(client, b.personId, provider.id, newPseudonym());
  const bound = await repo.bindAccount(client, {
    id: uuidv7(), providerId: provider.id, accountRef: b.accountRef, personId: b.personId, subscriptionId: b.subscriptionId, method: b.method, level: b.level,
    pseudonym, guardianPersonId: b.guardianPersonId ?? null, accountsPerPerson: provider.limits.accountsPerPerson,
    access: bindingAccess(provider, b),
  });
  if ('refused' in bound) {
    // Contested: the number is live at another carrier under another holder (a port-in since the
    // code was confirmed); the caller's transaction rolls back, pseudonym included.
    if (bound.refused === 'number_contested') throw new VerificationError('NUMBER_NOT_ELIGIBLE');
    throw new BindingError('ACCOUNT_LIMIT_REACHED', `limit ${provider.limits.accountsPerPerson}`);
  }
  if (b.guardianPersonId) {
    // The guardian's consent is theirs to see too (DESIGN.md invariant 4).
    await recordPersonAccess(client, {
      personId: b.guardianPersonId, purpose: 'account_binding', actor: `provider:${provider.id}`,
      detail: { provider: provider.name, as: 'guardian', method: b.method, verification_id: b.viaVerification },
    });
  }
  return { account_id: bound.bound.id, account_ref: bound.bound.account_ref, status: 'verified', level: bound.bound.level, pseudonym, verified_at: bound.bound.verified_at.toISOString() };
}
