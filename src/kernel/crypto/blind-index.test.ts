import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blindIndex, type BlindIndexDomain } from './blind-index.ts';

function reference(key: Buffer, domain: string, value: string): Buffer {
  return createHmac('sha256', key).update(domain).update('\u0000').update(value, 'utf8').digest();
}

describe('blindIndex', () => {
  it('is HMAC-SHA256 over the domain, a NUL and the UTF-8 value (RFC 4231 test case 2 key as a check)', () => {
    // RFC 4231 4.3: key "Jefe", data "what do ya want for nothing?"; here split as domain + NUL + value
    // would change the data, so compare against node's HMAC for the same bytes instead.
    const key = Buffer.from('Jefe');
    expect(blindIndex(key, 'person.personal_id', '001099012345').toString('hex'))
      .toBe(reference(key, 'person.personal_id', '001099012345').toString('hex'));
  });

  it('matches createHmac for random keys, every domain, empty, long and non-ASCII values', () => {
    const domains: BlindIndexDomain[] = ['person.personal_id', 'person.match', 'person.digest', 'subscription.msisdn', 'subscription.digest', 'subscription_event.digest'];
    const values = ['', '0', 'nguyễn văn an|2001-02-03', 'Đặng Thị Ánh Tuyết', 'x'.repeat(300), 'y'.repeat(5000), '+84912345678', '\u{1F600}'];
    for (let k = 0; k < 5; k++) {
      const key = randomBytes(k === 0 ? 64 : 32);
      for (const d of domains) for (const v of values) expect(blindIndex(key, d, v).equals(reference(key, d, v))).toBe(true);
    }
  });

  it('keeps keys apart: the same value under two keys, or after a longer value, gives the right index', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const long = blindIndex(a, 'person.digest', 'z'.repeat(1000));
    expect(long.equals(reference(a, 'person.digest', 'z'.repeat(1000)))).toBe(true);
    expect(blindIndex(a, 'person.personal_id', '1').equals(reference(a, 'person.personal_id', '1'))).toBe(true);
    expect(blindIndex(b, 'person.personal_id', '1').equals(reference(b, 'person.personal_id', '1'))).toBe(true);
    expect(blindIndex(a, 'person.personal_id', '1').equals(blindIndex(b, 'person.personal_id', '1'))).toBe(false);
  });

  it('refuses a key longer than a SHA-256 block', () => {
    expect(() => blindIndex(randomBytes(65), 'person.digest', 'v')).toThrow(RangeError);
  });
});
