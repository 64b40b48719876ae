/**
 * A webhook secret rotated with no overlap (a leaked secret) while a delivery is in flight (issue 3
 * "Webhooks": secret rotation with overlap; nothing lost, none doubled in the receiver's view). The
 * in-flight request was signed at its claim with the old secret only (docs/webhooks.md "Secret
 * rotation"); a receiver that already verifies with the new secret alone refuses it, and the retry,
 * signed with the new secret, is accepted: the receiver ends with the event exactly once, under
 * the same webhook-id.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { rotateWebhookSecret } from '../../src/providers/provider-service.ts';
import { waitUntil, webhookTestbed } from './webhooks-testbed.ts';

const tb = webhookTestbed();

interface Held {
  headers: http.IncomingHttpHeaders;
  body: string;
  answered?: number;
}

/** A receiver that holds the first request until released, then verifies each with the secrets it trusts at that moment. */
async function holdingReceiver() {
  const requests: Held[] = [];
  const accepted: string[] = [];
  let trusted: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Held = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(r);
      void (requests.length === 1 ? released : Promise.resolve()).then(() => {
        const ok = trusted.some((s) => {
          try {
            new Webhook(s).verify(r.body, r.headers as Record<string, string>);
            return true;
          } catch {
            return false;
          }
        });
        r.answered = ok ? 204 : 400;
        if (ok) accepted.push(r.headers['webhook-id'] as string);
        res.writeHead(r.answered).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    requests, accepted, release,
    trust(secrets: string[]) {
      trusted = secrets;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('a webhook secret rotated without overlap while a delivery is in flight', () => {
  it('loses nothing: the request signed with the old secret is refused by the receiver, and the retry with the new one is delivered once', async () => {
    const rec = await holdingReceiver();
    try {
      const { provider, webhookSecret: old } = await tb.platform(rec.url);
      rec.trust([old]);
      const [eventId] = await tb.emit(provider.id, 1);
      const d = tb.dispatcher();
      const first = d.drain();
      await waitUntil(() => rec.requests.length === 1, 60_000);
      expect(rec.requests).toHaveLength(1);
      // The secret leaked: rotated at once, and the receiver trusts only the new one from now on.
      const { webhookSecret: fresh } = await rotateWebhookSecret(tb.db.pool, tb.db.ring, provider.id, 0);
      rec.trust([fresh]);
      rec.release();
      await first;
      expect(rec.requests[0]!.answered).toBe(400);
      const pending = await tb.db.pool.query<{ status: string; attempts: number }>('SELECT status, attempts FROM webhook_deliveries WHERE event_id = $1', [eventId]);
      expect(pending.rows[0]).toEqual({ status: 'pending', attempts: 1 });

      tb.advance(60_000); // past the first retry's delay (5 s, ±10%)
      await d.drain();
      expect(rec.requests).toHaveLength(2);
      expect(rec.requests[1]!.headers['webhook-id']).toBe(eventId);
      expect((rec.requests[1]!.headers['webhook-signature'] as string).split(' ')).toHaveLength(1);
      expect(rec.accepted).toEqual([eventId]);
      const done = await tb.db.pool.query<{ status: string }>('SELECT status FROM webhook_deliveries WHERE event_id = $1', [eventId]);
      expect(done.rows[0]!.status).toBe('delivered');
    } finally {
      await rec.close();
    }
  });
});
