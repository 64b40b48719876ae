import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { postOutbound, validateOutboundUrl } from './outbound-http.ts';

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

  it('refuses URLs that are not https outside tests, or carry credentials', async () => {
    await expect(validateOutboundUrl('http://example.com/', { allowLoopback: false })).rejects.toThrow(/https/);
    await expect(validateOutboundUrl('https://a:b@example.com/', { allowLoopback: false })).rejects.toThrow(/credentials/);
    await expect(validateOutboundUrl('https://169.254.169.254/', { allowLoopback: true })).rejects.toThrow(/private/);
  });
});
