/**
 * Keyed blind indexes (DESIGN.md invariant 2): lookups of low-entropy values such as a 12-digit
 * personal ID number or a phone number use HMAC-SHA256 under a dedicated, versioned key, never a
 * plain hash (which anyone could reverse by enumerating 10^12 values).
 *
 * Each use has its own domain tag so that equal inputs in different roles never collide
 * (a personal ID and a row digest, say).
 */
import { createHmac } from 'node:crypto';

export type BlindIndexDomain =
  | 'person.personal_id'
  | 'person.match'
  | 'person.digest'
  | 'subscription.msisdn'
  | 'subscription.digest'
  | 'subscription_event.digest';

export function blindIndex(key: Buffer, domain: BlindIndexDomain, value: string): Buffer {
  return createHmac('sha256', key).update(domain).update('\u0000').update(value, 'utf8').digest();
}
