/**
 * Outbound HTTP to addresses that providers or operators gave (webhooks, the SMS gateway).
 *
 * DESIGN.md "Conventions": such requests refuse private, loopback and link-local destinations
 * after name resolution and follow no redirects, except where demo or test configuration allows
 * loopback. The check runs twice: when a URL is registered (a clear error for the provider), and
 * in the socket's own `lookup` at connection time, so that a name which later resolves to an
 * internal address (DNS rebinding) is still refused. node:http never follows redirects; a 3xx is
 * answered to the caller as a failure.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export class OutboundUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundUrlError';
  }
}

export interface OutboundPolicy {
  /** Allow 127.0.0.0/8 and ::1 (demo and test configuration only). */
  allowLoopback: boolean;
  /**
   * The request is plain http: only a loopback destination may take it (where loopback is
   * allowed), so that demo configuration never sends signed events or SMS texts in clear text
   * across a network. Set by this module for its http agent and checks.
   */
  plainHttp?: boolean;
}

// Never reachable: RFC 1918, CGNAT (RFC 6598), link-local (RFC 3927, RFC 4291), unique local
// (RFC 4193), unspecified, multicast and reserved ranges, and IPv4-mapped forms of them.
const FORBIDDEN = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24],
  ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) FORBIDDEN.addSubnet(net, prefix, 'ipv4');
// IPv6: unspecified and IPv4-compatible (::/96), unique local, link-local, site-local (fec0::/10:
// deprecated by RFC 3879, still routed inside networks that used it), multicast, NAT64
// (64:ff9b::/96, 64:ff9b:1::/48), 6to4 (2002::/16) and Teredo (2001::/32), which embed IPv4 addresses.
for (const [net, prefix] of [
  ['::', 96], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['2002::', 16], ['2001::', 32],
] as const) {
  FORBIDDEN.addSubnet(net, prefix, 'ipv6');
}
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Why an address may not be called, or undefined when it may. */
export function forbiddenAddressReason(address: string, policy: OutboundPolicy): string | undefined {
  let family: 'ipv4' | 'ipv6' = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  let a = address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) {
    a = mapped[1]!;
    family = 'ipv4';
  }
  if (LOOPBACK.check(a, family)) return policy.allowLoopback ? undefined : 'a loopback address';
  if (FORBIDDEN.check(a, family)) return 'a private, link-local or reserved address';
  if (policy.plainHttp) return 'not a loopback address, and only loopback takes plain http: use https';
  return undefined;
}

/** A `lookup` for sockets that refuses forbidden addresses at connection time. */
export function guardedLookup(policy: OutboundPolicy): LookupFunction {
  return ((hostname: string, options: object, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as LookupAddress[];
      for (const a of list) {
        const reason = forbiddenAddressReason(a.address, policy);
        if (reason) return callback(Object.assign(new OutboundUrlError(`the host resolves to ${reason}`), { code: 'EOUTBOUNDFORBIDDEN' }), '', 0);
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  }) as LookupFunction;
}

/**
 * Checks a URL a provider registers: http(s) only (plain http only to a loopback address where
 * loopback is allowed, that is in demos and tests), no credentials in it, and a host that resolves
 * only to public addresses.
 */
export async function validateOutboundUrl(raw: string, policy: OutboundPolicy): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundUrlError('not a URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowLoopback)) throw new OutboundUrlError('the URL must use https');
  if (url.username || url.password) throw new OutboundUrlError('the URL must not carry credentials');
  if (raw.length > 2048) throw new OutboundUrlError('the URL is longer than 2048 characters');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses: string[] = isIP(host)
    ? [host]
    : await new Promise<string[]>((resolve, reject) =>
      dnsLookup(host, { all: true }, (err, list) => (err ? reject(new OutboundUrlError('the host name does not resolve')) : resolve(list.map((a) => a.address)))));
  for (const a of addresses) {
    const reason = forbiddenAddressReason(a, { ...policy, plainHttp: url.protocol === 'http:' });
    if (reason) throw new OutboundUrlError(`the host resolves to ${reason}`);
  }
  return url;
}

export interface OutboundResponse {
  status: number;
  /** At most the first 1 KiB of the body, for delivery logs. */
  bodyStart: string;
  /** The Retry-After header, as sent (RFC 9110 10.2.3: delay-seconds or an HTTP-date). */
  retryAfter?: string;
}

const agents = new Map<string, http.Agent>();
function agentFor(protocol: string, policy: OutboundPolicy): http.Agent {
  const k = `${protocol}${policy.allowLoopback ? '+lo' : ''}`;
  let agent = agents.get(k);
  if (!agent) {
    const options = { keepAlive: true, maxSockets: 256, lookup: guardedLookup({ ...policy, plainHttp: protocol === 'http:' }) };
    agent = protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    agents.set(k, agent);
  }
  return agent;
}

/**
 * POSTs a body and resolves with the status (a redirect is just a status: never followed).
 * Rejects on a forbidden destination, a connection failure or the timeout.
 */
export function postOutbound(url: URL, body: string, headers: Record<string, string>, policy: OutboundPolicy, timeoutMs = 10_000): Promise<OutboundResponse> {
  // Node skips the socket's lookup when the host is an IP literal: check those here.
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal)) {
    const reason = forbiddenAddressReason(literal, { ...policy, plainHttp: url.protocol === 'http:' });
    if (reason) return Promise.reject(Object.assign(new OutboundUrlError(`the host is ${reason}`), { code: 'EOUTBOUNDFORBIDDEN' }));
  }
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    let settled = false;
    /** Resolves with the status once the response has begun (set in the response callback). */
    let answered: (() => void) | undefined;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      f();
    };
    const req = client.request(url, {
      method: 'POST',
      agent: agentFor(url.protocol, policy),
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'idbind', ...headers },
    }, (res) => {
      // The status is the answer. At most 1 KiB of the body is read (for delivery logs); a
      // receiver that trickles its body cannot hold the request past the deadline, and its
      // status, received in time, still stands then.
      let start = '';
      const retryAfter = typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : undefined;
      const done = () => settle(() => resolve({ status: res.statusCode ?? 0, bodyStart: start, retryAfter }));
      answered = done;
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        start += d.slice(0, 1024 - start.length);
        if (start.length >= 1024) {
          done();
          res.destroy();
        }
      });
      res.on('end', done);
      res.on('error', done);
    });
    // A hard deadline over the whole exchange (an idle-socket timeout would let a slow receiver
    // keep the request open forever, byte by byte).
    const deadline = setTimeout(() => {
      answered?.();
      req.destroy(new OutboundUrlError(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => settle(() => reject(e)));
    req.end(body);
  });
}
