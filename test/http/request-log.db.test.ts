/**
 * The hub's request log carries no query value (DESIGN.md invariant 2: logs never carry a personal
 * field): a phone number in a query string, on a route that takes it, on one that refuses it and on
 * one that does not exist, leaves no trace in the log, while the requests themselves are logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { buildServer } from '../../src/server.ts';

let hub: TestHub;
let app: FastifyInstance;
const lines: string[] = [];

beforeAll(async () => {
  // A demo hub: its SMS outbox route takes a phone number in its query string.
  hub = await startTestHub({ demo: true, listen: false });
  app = await buildServer(hub.hub, {
    logger: { level: 'info', stream: { write: (line: string) => void lines.push(line) } },
    keyWorkIntervalMs: 0,
    maintenanceIntervalMs: 0,
    webhookIntervalMs: false,
  });
});
afterAll(async () => {
  await app?.close();
  await hub?.stop();
});

describe('request log', () => {
  it('logs the path and query parameter names, never a query value', async () => {
    const digits = '84337301090';
    const requests = [
      `/v1/dev/sms-outbox?to=%2B${digits}`, // answered
      `/v1/dev/sms-outbox?to=+${digits}`, // as typed in a shell
      `/v1/dev/sms-outbox?to=0${digits.slice(2)}&to=${'9'.repeat(40)}`, // refused by the schema
      `/v1/nowhere?phone=%2B${digits}`, // no such route
      `/v1/dev/sms-outbox?%2B${digits}`, // the number as a parameter name
    ];
    for (const url of requests) await app.inject({ method: 'GET', url });
    const log = lines.join('');
    // The requests were logged (the test would otherwise pass on an empty log)...
    const urls = lines.map((l) => JSON.parse(l) as { req?: { url?: string } }).flatMap((r) => (r.req?.url ? [r.req.url] : []));
    expect(urls).toContain('/v1/dev/sms-outbox?to=[Redacted]');
    expect(urls).toContain('/v1/dev/sms-outbox?to=[Redacted]&to=[Redacted]');
    expect(urls).toContain('/v1/nowhere?phone=[Redacted]');
    expect(urls).toContain('/v1/dev/sms-outbox?[Redacted]');
    // ...and no form of the number is anywhere in it, in a request record or an error's message.
    expect(log).not.toContain(digits.slice(2));
    expect(log).not.toContain('9'.repeat(40));
  });
});
