/**
 * A person's consents to statutory claims (issue 4 "Claims": "the consent is recorded and can be
 * withdrawn later (withdrawal stops future releases; it cannot recall what was released)"). The
 * person-facing view of issue 5 mounts these for the signed-in citizen; each withdrawal is in the
 * person's access history like the consent itself (DESIGN.md invariant 4).
 */
import type pg from 'pg';
import { recordPersonAccess } from '../access/access-records.ts';
import { inTransaction } from '../kernel/db/pool.ts';
import { consentsOfPerson, withdrawConsent } from './hosted-flow-repository.ts';

export interface ClaimConsentView {
  id: string;
  platform: string;
  claims: string[];
  purpose: string;
  legal_basis: string;
  granted_at: string;
  withdrawn_at: string | null;
}

export async function listClaimConsents(pool: pg.Pool, personId: string): Promise<ClaimConsentView[]> {
  return (await consentsOfPerson(pool, personId)).map((c) => ({
    id: c.id, platform: c.provider_name, claims: c.claims, purpose: c.purpose, legal_basis: c.legal_basis,
    granted_at: c.granted_at.toISOString(), withdrawn_at: c.withdrawn_at?.toISOString() ?? null,
  }));
}

/**
 * Withdraws one of the person's live consents: from now on findAccount (oidc-claims.ts) releases
 * none of its claims, refreshes included. False when there is no such live consent of theirs.
 */
export async function withdrawClaimConsent(pool: pg.Pool, personId: string, consentId: string): Promise<boolean> {
  return inTransaction(pool, async (client) => {
    const withdrawn = await withdrawConsent(client, personId, consentId);
    if (withdrawn) {
      const r = await client.query<{ provider_id: string; name: string }>(
        'SELECT c.provider_id, p.name FROM claim_consents c JOIN providers p ON p.id = c.provider_id WHERE c.id = $1', [consentId],
      );
      await recordPersonAccess(client, {
        personId, purpose: 'claims_consent', actor: `person:${personId}`,
        detail: { provider: r.rows[0]!.name, consent_id: consentId, withdrawn: true },
      });
    }
    return withdrawn;
  });
}

