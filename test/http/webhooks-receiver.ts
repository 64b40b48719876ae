/**
 * A webhook receiver for tests: a real node:http server on 127.0.0.1 that records every request
 * (path, headers, raw body) and answers as told. It can be taken down (connections refused) and
 * brought back on the same port, as a platform's endpoint during an outage.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Status to answer (default 204); a function decides per request; a negative status never answers. */
  answer: number | ((req: ReceivedRequest) => number | { status: number; headers: Record<string, string> });
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(path = '/hooks'): Promise<Receiver> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: ReceivedRequest = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      receiver.requests.push(r);
      const a = typeof receiver.answer === 'function' ? receiver.answer(r) : receiver.answer;
      const { status, headers } = typeof a === 'number' ? { status: a, headers: {} } : a;
      if (status >= 0) res.writeHead(status, headers).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  const listen = (port: number) => new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  const port = await listen(0);
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    requests: [],
    answer: 204,
    async down() {
      // Keep-alive sockets would otherwise keep the "down" server answering.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
    async up() {
      await listen(port);
    },
    async close() {
      if (server.listening) await receiver.down();
    },
  };
  return receiver;
}
