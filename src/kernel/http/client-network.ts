/**
 * The client an IP address stands for, for per-client rate limits (issue 3 "Abuse: rate limits
 * ... per client IP"). One client, one bucket, however its address is written:
 *
 * - an IPv4 address as such, also when written in its IPv4-mapped IPv6 form (`::ffff:192.0.2.10`,
 *   `::ffff:c000:20a`; RFC 4291 section 2.5.5.2);
 * - an IPv6 address by its /64, its first four groups in one form (`2001:db8:0:0::/64`): a
 *   subscriber is given at least a /64 (RFC 6177) and may use any of its 2^64 addresses, a fresh
 *   one per request if it likes, so counting single addresses would give it endless limits. A
 *   zone (`%eth0`) is dropped.
 *
 * Anything else (not an IP address) is returned unchanged: the caller has validated it already.
 */
import { isIP } from 'node:net';

export function clientNetwork(ip: string): string {
  const address = ip.split('%')[0]!;
  const kind = isIP(address);
  if (kind === 4) return address;
  if (kind !== 6) return ip;
  const groups = ipv6Groups(address.toLowerCase());
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  // Lower-case hexadecimal without leading zeros (RFC 5952 section 4.1, 4.3), never shortened by
  // `::`: one spelling per network. The host half is left out.
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (node:net's isIP said so). */
function ipv6Groups(address: string): number[] {
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').flatMap((g) => {
    if (!g.includes('.')) return [parseInt(g, 16)];
    const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
    return [(a << 8) | b, (c << 8) | d];
  }));
  const [head = '', tail] = address.split('::');
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
