/**
 * The cryptography of one registry row: its blind indexes, its keyed digest and its sealed record
 * (DESIGN.md invariant 2). Shared by the import workers, the main thread (re-sealing a changed row
 * under its existing id) and key rotation (re-encryption, re-indexing), so that every path seals
 * and indexes a row the same way.
 */
import { blindIndex } from '../kernel/crypto/blind-index.ts';
import { associatedData, openRecord, sealRecord } from '../kernel/crypto/envelope.ts';
import { dataKeyFor, type BlindIndexKey, type KeyRing, type VersionedKey } from '../kernel/crypto/key-ring.ts';
import { nameMatchKey } from './name-match.ts';
import {
  personCanonical, personSealedFields, subscriptionCanonical, subscriptionSealedFields,
  type PersonRow, type SubscriptionRow,
} from './registry-rows.ts';

export interface RowKeys {
  data: VersionedKey;
  blindIndex: VersionedKey;
}

/**
 * Name and birth date as reconciliation compares them, keyed (never stored in clear), the name
 * folded by the rule of the key's version (name-match.ts: every row of a version by one rule).
 */
export function matchIndex(bidx: BlindIndexKey, fullName: string, birthDate: string): Buffer {
  return blindIndex(bidx.key, 'person.match', `${nameMatchKey(fullName, bidx.nameRule)}|${birthDate}`);
}

export function personalIdIndex(bidx: Buffer, personalId: string): Buffer {
  return blindIndex(bidx, 'person.personal_id', personalId);
}

export function msisdnIndex(bidx: Buffer, msisdn: string): Buffer {
  return blindIndex(bidx, 'subscription.msisdn', msisdn);
}

export interface PersonCrypto {
  pidBidx: Buffer;
  matchBidx: Buffer;
  digest: Buffer;
}

export function personIndexes(bidx: BlindIndexKey, p: PersonRow): PersonCrypto {
  return {
    pidBidx: personalIdIndex(bidx.key, p.personalId),
    matchBidx: matchIndex(bidx, p.fullName, p.birthDate),
    digest: blindIndex(bidx.key, 'person.digest', personCanonical(p)),
  };
}

export function sealPerson(data: VersionedKey, id: string, p: PersonRow): Buffer {
  return sealRecord(data.key, data.version, personSealedFields(p), associatedData('persons', 'sealed', id));
}

export interface SubscriptionCrypto {
  msisdnBidx: Buffer;
  holderBidx: Buffer | null;
  holderMatchBidx: Buffer | null;
  digest: Buffer;
}

export function subscriptionIndexes(bidx: BlindIndexKey, s: SubscriptionRow): SubscriptionCrypto {
  const hasHolder = s.holderPersonalId !== '';
  return {
    msisdnBidx: msisdnIndex(bidx.key, s.msisdn),
    holderBidx: hasHolder ? personalIdIndex(bidx.key, s.holderPersonalId) : null,
    holderMatchBidx: hasHolder ? matchIndex(bidx, s.holderFullName, s.holderBirthDate) : null,
    digest: blindIndex(bidx.key, 'subscription.digest', subscriptionCanonical(s)),
  };
}

export function sealSubscription(data: VersionedKey, id: string, s: SubscriptionRow): Buffer {
  return sealRecord(data.key, data.version, subscriptionSealedFields(s), associatedData('subscriptions', 'sealed', id));
}

/** The number (E.164) of a sealed subscription row; the caller records why it was read (DESIGN.md invariant 4). */
export function openSubscriptionNumber(ring: KeyRing, row: { id: string; sealed: Buffer; dek_version: number }): string {
  return openRecord(dataKeyFor(ring, row.dek_version), row.sealed, associatedData('subscriptions', 'sealed', row.id))[0] ?? '';
}
