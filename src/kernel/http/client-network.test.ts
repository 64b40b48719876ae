import { describe, expect, it } from 'vitest';
import { clientNetwork } from './client-network.ts';

describe('clientNetwork', () => {
  it('keeps an IPv4 address, and reads one from its IPv4-mapped IPv6 forms', () => {
    expect(clientNetwork('192.0.2.10')).toBe('192.0.2.10');
    expect(clientNetwork('::ffff:192.0.2.10')).toBe('192.0.2.10');
    expect(clientNetwork('::FFFF:c000:020a')).toBe('192.0.2.10');
    expect(clientNetwork('0:0:0:0:0:ffff:192.0.2.10')).toBe('192.0.2.10');
  });

  it('counts IPv6 by its /64 in one canonical form', () => {
    const one = '2001:db8:0:0::/64';
    for (const form of ['2001:db8::7', '2001:DB8:0:0:0:0:0:7', '2001:0db8::0007', '2001:db8::abcd:ef01:2345:6789', 'fe80::1%eth0'.replace('fe80', '2001:db8')]) {
      expect(clientNetwork(form), form).toBe(one);
    }
    expect(clientNetwork('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(clientNetwork('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
    expect(clientNetwork('::')).toBe('0:0:0:0::/64');
    expect(clientNetwork('1:2:3:4:5:6:7:8')).toBe('1:2:3:4::/64');
    expect(clientNetwork('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('returns anything else unchanged', () => {
    expect(clientNetwork('not an address')).toBe('not an address');
  });
});
