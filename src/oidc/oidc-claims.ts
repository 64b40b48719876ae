/**
 * The claims the OpenID Provider releases (issue 4 "Claims"; DESIGN.md invariant 1, minimal
 * disclosure): for every platform `verified`, `age_over_16`, `age_over_18` and `minor` (with
 * `acr` from the login, and the pairwise `sub`); for a platform of the `statutory` legal profile
 * also `name`, `birthdate` and the verified `phone_number`, and only while the person's consent
 * to that platform is live (a withdrawn consent stops every later release, a refresh included).
 *
 * The accountId is `<person id>.<account id>` (hosted-flow-service.ts): the claims are read from
 * the bound account at each release, so an account unbound since (a SIM change, a death, the
 * platform closing it) has no claims any more and its refresh tokens stop working (fail closed).
 *
 * Each release is an access record of the person (`claims_release`, naming the claims, never
 * their values), which the person's own history shows (DESIGN.md invariant 4).
 */
import type pg from 'pg';
import type { Account, ClaimsParameter, FindAccount } from 'oidc-provider';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { openSubscriptionNumber } from '../registry/row-crypto.ts';
import { recordPersonAccess } from '../access/access-records.ts';
import { openPerson } from './person-records.ts';
import type { StatutoryClaim } from './hosted-flow-repository.ts';

interface BoundAccount {
  id: string;
  provider_id: string;
  provider_name: string;
  legal_profile: 'minimal' | 'statutory';
  subscription_id: string | null;
  minor: boolean;
}

const STATUTORY_CLAIMS: readonly StatutoryClaim[] = ['name', 'birthdate', 'phone_number'];
const STATUTORY_BY_SCOPE: Record<string, readonly StatutoryClaim[]> = { profile: ['name', 'birthdate'], phone: ['phone_number'] };

/**
 * The statutory claims asked for, in a fixed order: by scope (`profile`, `phone`), or named in
 * the `claims` parameter (OIDC Core 5.4, 5.5). Used both when a flow starts (what the consent
 * screen asks) and at each release (what is released, within the consent).
 */
export function statutoryClaimsAsked(scope: string, claims: ClaimsParameter | undefined): StatutoryClaim[] {
  const asked = new Set<string>();
  for (const s of scope.split(/\s+/)) for (const c of STATUTORY_BY_SCOPE[s] ?? []) asked.add(c);
  for (const part of [claims?.id_token, claims?.userinfo]) for (const name of Object.keys(part ?? {})) asked.add(name);
  return STATUTORY_CLAIMS.filter((c) => asked.has(c));
}

async function liveConsent(pool: pg.Pool, personId: string, providerId: string): Promise<{ id: string; claims: StatutoryClaim[] } | undefined> {
  const r = await pool.query<{ id: string; claims: StatutoryClaim[] }>(
    `SELECT id, claims FROM claim_consents WHERE person_id = $1 AND provider_id = $2 AND withdrawn_at IS NULL ORDER BY granted_at DESC LIMIT 1`,
    [personId, providerId],
  );
  return r.rows[0];
}

async function subscriptionNumber(pool: pg.Pool, ring: KeyRing, subscriptionId: string): Promise<string | undefined> {
  const r = await pool.query<{ sealed: Buffer; dek_version: number }>(`SELECT sealed, dek_version FROM subscriptions WHERE id = $1 AND status = 'active'`, [subscriptionId]);
  const row = r.rows[0];
  return row ? openSubscriptionNumber(ring, { id: subscriptionId, ...row }) : undefined;
}

/**
 * The citizen portal's sign-in (issue 5; src/citizen/portal-client.ts): accountId
 * `<person id>.portal`, for the portal's own client only. It releases `sub` (the person's
 * pseudonym at the portal) and `verified`, nothing else, and opens no sealed field: the portal
 * records the sign-in in the person's history itself (`self_view`).
 */
async function portalAccount(pool: pg.Pool, accountId: string, personId: string, clientId: string): Promise<Account | undefined> {
  const r = await pool.query<{ ok: boolean }>(
    `SELECT true AS ok FROM providers p JOIN persons pe ON pe.id = $2 WHERE p.id = $1 AND p.kind = 'portal' AND p.status = 'active' AND pe.status = 'alive'`,
    [clientId, personId],
  );
  if (!r.rows[0]) return undefined;
  return { accountId, claims: () => ({ sub: accountId, verified: true }) };
}

/** oidc-provider's `findAccount`: the live bound account of an accountId at the asking client, or nothing. */
export function findAccountFor(deps: { pool: pg.Pool; ring: () => Promise<KeyRing> }): FindAccount {
  return async (ctx, accountId): Promise<Account | undefined> => {
    const [personId, accountUuid] = accountId.split('.');
    const clientId = ctx.oidc.client?.clientId;
    const uuid = /^[0-9a-f-]{36}$/;
    if (accountUuid === 'portal' && personId && clientId && uuid.test(personId) && uuid.test(clientId)) return portalAccount(deps.pool, accountId, personId, clientId);
    if (!personId || !accountUuid || !clientId || !uuid.test(personId) || !uuid.test(accountUuid) || !uuid.test(clientId)) return undefined;
    const r = await deps.pool.query<BoundAccount>(
      `SELECT a.id, a.provider_id, p.name AS provider_name, p.legal_profile, a.subscription_id, a.minor
       FROM accounts a JOIN providers p ON p.id = a.provider_id
       WHERE a.id = $1 AND a.person_id = $2 AND a.provider_id = $3 AND a.status = 'verified' AND p.status = 'active'`,
      [accountUuid, personId, clientId],
    );
    const account = r.rows[0];
    if (!account) return undefined;
    return {
      accountId,
      async claims(use, scope, claims) {
        const ring = await deps.ring();
        const person = await openPerson(deps.pool, ring, personId);
        if (!person || person.status !== 'alive') throw new Error('the person of a verified account is missing or deceased');
        const out: Record<string, unknown> = {
          sub: accountId,
          verified: true,
          age_over_16: person.age >= 16,
          age_over_18: person.age >= 18,
          minor: account.minor && person.age < 16,
        };
        const released = ['verified', 'age_over_16', 'age_over_18', 'minor'];
        let consentId: string | undefined;
        if (account.legal_profile === 'statutory') {
          const asked = new Set(statutoryClaimsAsked(scope, claims));
          const consent = asked.size > 0 ? await liveConsent(deps.pool, personId, account.provider_id) : undefined;
          for (const claim of consent?.claims ?? []) {
            if (!asked.has(claim)) continue;
            if (claim === 'name') out.name = person.fullName;
            if (claim === 'birthdate') out.birthdate = person.birthDate;
            if (claim === 'phone_number' && account.subscription_id) {
              const number = await subscriptionNumber(deps.pool, ring, account.subscription_id);
              if (number) out.phone_number = number;
            }
            if (out[claim] !== undefined) {
              released.push(claim);
              consentId = consent!.id;
            }
          }
        }
        await recordPersonAccess(deps.pool, {
          personId, purpose: 'claims_release', actor: `provider:${account.provider_id}`,
          detail: { provider: account.provider_name, use, claims: released, ...(consentId ? { consent_id: consentId } : {}) },
        });
        return out as { sub: string };
      },
    };
  };
}
