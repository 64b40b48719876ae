import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { forbiddenAddressReason, guardedLookup, postOutbound, validateOutboundUrl } from './outbound-http.ts';

describe('outbound HTTP', () => {
  it('refuses loopback and private IP literals at connection time unless loopback is allowed', async () => {
    const server = createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      await expect(postOutbound(new URL(`http://127.0.0.1:${port}/`), '{}', {}, { allowLoopback: false })).rejects.toThrow(/loopback/);
      await expect(postOutbound(new URL(`http://[::ffff:127.0.0.1]:${port}/`), '{}', {}, { allowLoopback: false })).rejects.toThrow(/loopback/);
      await expect(postOutbound(new URL('http://10.0.0.1/'), '{}', {}, { allowLoopback: true })).rejects.toThrow(/private/);
      await expect(postOutbound(new URL(`http://localhost:${port}/`), '{}', {}, { allowLoopback: false })).rejects.toThrow(/loopback/);
      expect((await postOutbound(new URL(`http://127.0.0.1:${port}/`), '{}', {}, { allowLoopback: true })).status).toBe(204);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('ends an exchange at its deadline even when the receiver trickles its body', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('x'), 100);
      res.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const t0 = Date.now();
      // The status arrived in time: it is the answer, though the body never ends.
      await expect(postOutbound(new URL(`http://127.0.0.1:${port}/`), '{}', {}, { allowLoopback: true }, 600)).resolves.toMatchObject({ status: 200 });
      // Well under the default deadline (10 s), with room for a loaded machine.
      expect(Date.now() - t0).toBeLessThan(8000);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('sends plain http only to loopback, even where loopback is allowed (demos and tests)', async () => {
    const lo = { allowLoopback: true };
    // A public address over plain http would carry signed events and codes in clear text.
    await expect(validateOutboundUrl('http://93.184.216.34/hook', lo)).rejects.toThrow(/https/);
    await expect(validateOutboundUrl('http://[2606:2800:220:1::1]/hook', lo)).rejects.toThrow(/https/);
    await expect(postOutbound(new URL('http://93.184.216.34/hook'), '{}', {}, lo)).rejects.toMatchObject({ code: 'EOUTBOUNDFORBIDDEN', message: expect.stringMatching(/https/) });
    // At connection time too (the socket's lookup): a name resolving to a public address is refused.
    expect(forbiddenAddressReason('93.184.216.34', { ...lo, plainHttp: true })).toMatch(/https/);
    expect(forbiddenAddressReason('93.184.216.34', lo)).toBeUndefined();
    const local = await new Promise<NodeJS.ErrnoException | null>((r) => guardedLookup({ ...lo, plainHttp: true })('localhost', {}, (e) => r(e)));
    expect(local).toBeNull();
    await expect(validateOutboundUrl('http://127.0.0.1:9/hook', lo)).resolves.toBeInstanceOf(URL);
    await expect(validateOutboundUrl('https://93.184.216.34/hook', lo)).resolves.toBeInstanceOf(URL);
  });

  it('refuses IPv6 forms that embed IPv4 addresses', () => {
    for (const a of ['::7f00:1', '64:ff9b:1::a00:1', '2002:a00:1::1', '::ffff:10.0.0.1']) expect(forbiddenAddressReason(a, { allowLoopback: false }), a).toBeDefined();
  });

  it('refuses site-local (fec0::/10, deprecated but still routed inside some networks) and Teredo (2001::/32, an obfuscated IPv4 inside), and takes global unicast', () => {
    for (const a of ['fec0::1', 'feff:ffff::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001::1']) expect(forbiddenAddressReason(a, { allowLoopback: false }), a).toBeDefined();
    for (const a of ['2001:4860:4860::8888', '2606:4700:4700::1111', 'fe00::1']) expect(forbiddenAddressReason(a, { allowLoopback: false }), a).toBeUndefined();
  });

  it('refuses URLs that are not https outside tests, or carry credentials', async () => {
    await expect(validateOutboundUrl('http://example.com/', { allowLoopback: false })).rejects.toThrow(/https/);
    await expect(validateOutboundUrl('https://a:b@example.com/', { allowLoopback: false })).rejects.toThrow(/credentials/);
    await expect(validateOutboundUrl('https://169.254.169.254/', { allowLoopback: true })).rejects.toThrow(/private/);
  });
});
