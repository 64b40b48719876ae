/**
 * @idbind/sdk when the connection drops after the answer's headers, in the middle of its body
 * (a hub process stopped, a proxy timed out, a network cut): the README promises that "every
 * failure is an IdbindError" and that "reads are repeated after a network error". A real
 * node:http server here, which writes the status and part of the body and then destroys the
 * socket, as the network does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IdbindClient, IdbindError } from '../../packages/sdk/src/index.ts';

let server: Server | undefined;

async function serve(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<string> {
  let n = 0;
  server = createServer((req, res) => {
    n++;
    // Read the whole request first (an NDJSON upload too), then answer.
    req.resume();
    req.on('end', () => handler(req, res, n));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Headers and the first bytes of the body, then the connection is cut. */
function cutAfter(res: ServerResponse, contentType: string, firstBytes: string): void {
  res.writeHead(200, { 'content-type': contentType });
  res.write(firstBytes, () => setImmediate(() => res.socket?.destroy()));
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

const unverified = { account_ref: 'a-1', status: 'unverified', level: null, pseudonym: null, since: null, minor: false };

describe('a connection cut in the middle of an answer', () => {
  it('is a NETWORK_ERROR (status 0) of a read, which is then repeated', async () => {
    const baseUrl = await serve((_req, res, n) => {
      if (n === 1) return cutAfter(res, 'application/json', '{"account_ref": "a-1", "sta');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(unverified));
    });
    const client = new IdbindClient({ baseUrl, apiKey: 'idbk_x', retry: { retries: 1, minDelayMs: 1, maxDelayMs: 10 } });
    expect(await client.getAccount('a-1')).toEqual(unverified);
  });

  it('is a NETWORK_ERROR when nothing repeats it, not UNEXPECTED_RESPONSE ("not JSON") with the status of the cut answer', async () => {
    const baseUrl = await serve((_req, res) => cutAfter(res, 'application/json', '{"account_ref": "a-1", "sta'));
    const client = new IdbindClient({ baseUrl, apiKey: 'idbk_x', retry: { retries: 0 } });
    const error = await client.getAccount('a-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdbindError);
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', status: 0 });
  });

  it('still answers UNEXPECTED_RESPONSE for a whole answer that is not JSON', async () => {
    const baseUrl = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('<html>a proxy page</html>');
    });
    const client = new IdbindClient({ baseUrl, apiKey: 'idbk_x', retry: { retries: 0 } });
    await expect(client.getAccount('a-1')).rejects.toMatchObject({ code: 'UNEXPECTED_RESPONSE', status: 200 });
  });

  it('ends a bulk status stream with an IdbindError NETWORK_ERROR, after the lines that did arrive', async () => {
    const baseUrl = await serve((_req, res) => cutAfter(res, 'application/x-ndjson', `${JSON.stringify(unverified)}\n{"account_ref": "a-`));
    const client = new IdbindClient({ baseUrl, apiKey: 'idbk_x', retry: { retries: 0 } });
    const seen: unknown[] = [];
    let error: unknown;
    try {
      for await (const line of client.streamAccounts(['a-1', 'a-2'])) seen.push(line);
    } catch (e) {
      error = e;
    }
    expect(seen).toEqual([unverified]);
    expect(error).toBeInstanceOf(IdbindError);
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', status: 0 });
  });
});
