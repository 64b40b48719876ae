/**
 * Point lookups in the registries by blind index (DESIGN.md invariant 2). During a blind-index
 * rotation a row may still carry the previous version's index, so a lookup computes the index under
 * every version not retired and matches any of them.
 */
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { msisdnIndex, personalIdIndex } from './row-crypto.ts';

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
