/**
 * Point lookups in the registries by blind index (DESIGN.md invariant 2). During a blind-index
 * rotation a row may still carry the previous version's index, so a lookup computes the index under
 * every version not retired and matches any of them.
 */
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { msisdnIndex, personalIdIndex } from './row-crypto.ts';

/**
 * SQL: true when the number of subscription `s` (an alias in scope) is live at another carrier
 * under another holder (or none): a port whose donor's `ported_out` has not arrived, or one of the
 * two registries wrong. Which holder has the SIM is unknown, so such a number binds no one
 * (phone-eligibility.ts `contested`). One probe of the (carrier, number) index per carrier. A
 * live row at the same carrier is another subscription only if it is not `s` itself (the live
 * number is unique per carrier). The indexes compared are of one version: imports bring every row
 * up to date first, and a blind-index re-index moves the live rows of a number together
 * (reindex.ts reindexLinkedRows).
 */
export function liveElsewhereUnderAnotherHolderSql(s: string): string {
  return `EXISTS (SELECT 1 FROM carriers c
                  JOIN LATERAL (SELECT o.holder_bidx FROM subscriptions o
                                WHERE o.carrier_id = c.id AND o.msisdn_bidx = ${s}.msisdn_bidx AND o.status <> 'terminated' AND o.id <> ${s}.id) o ON true
                  WHERE o.holder_bidx IS DISTINCT FROM ${s}.holder_bidx)`;
}

export interface LiveSubscriptionRef {
  id: string;
  carrier: string;
  status: string;
  holder_bidx: Buffer | null;
  sim_changed_at: Date | null;
  device_changed_at: Date | null;
}

/** The live (non-terminated) subscriptions of an E.164 number, at any carrier. Reads no personal field. */
export async function findLiveSubscriptionsByMsisdn(pool: pg.Pool, ring: KeyRing, msisdn: string): Promise<LiveSubscriptionRef[]> {
  const keys = ring.blindIndex.map((k) => msisdnIndex(k.key, msisdn));
  // One probe of the (carrier, number) index per carrier, as the verification's lookup does
  // (phone-eligibility.ts): no index is led by the number alone.
  const r = await pool.query<LiveSubscriptionRef>(
    `SELECT s.id, c.slug AS carrier, s.status, s.holder_bidx, s.sim_changed_at, s.device_changed_at
     FROM carriers c
     JOIN LATERAL (SELECT * FROM subscriptions s WHERE s.carrier_id = c.id AND s.msisdn_bidx = ANY($1::bytea[]) AND s.status <> 'terminated') s ON true`,
    [keys],
  );
  return r.rows;
}

/** The id of the person with this personal ID number, if registered. Reads no personal field. */
export async function findPersonIdByPersonalId(pool: pg.Pool, ring: KeyRing, personalId: string): Promise<string | undefined> {
  const keys = ring.blindIndex.map((k) => personalIdIndex(k.key, personalId));
  const r = await pool.query<{ id: string }>('SELECT id FROM persons WHERE pid_bidx = ANY($1::bytea[])', [keys]);
  return r.rows[0]?.id;
}
