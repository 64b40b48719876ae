/**
 * What the hub echoes of a caller's own values, found by the end-to-end emission scan
 * (test/cli/privacy-emissions.test.ts): a personal value a platform puts where the hub
 * expects an opaque identifier (an account ref, a verification id, an unknown path, an
 * Idempotency-Key) is still a personal value, and the hub cannot tell which are (request-log.ts:
 * "a route cannot say in advance which of its parameters are personal"). So: the request log
 * carries no path parameter's value, a 404 problem does not repeat the path asked for, and an
 * Idempotency-Key is kept only as a keyed hash (DESIGN.md invariant 2: "A stolen database without
 * the keys reveals nobody").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { buildServer } from '../../src/server.ts';
import { createProvider } from '../../src/providers/provider-service.ts';

let hub: TestHub;
let app: FastifyInstance;
let key: string;
const lines: string[] = [];
const personalId = '079190000123';
const digits = '912345678'; // a number's 9 significant digits: 0912345678, +84912345678

beforeAll(async () => {
  // A demo hub: its SMS outbox answers, so a start reaches the eligibility check (and is stored).
  hub = await startTestHub({ demo: true, listen: false });
  app = await buildServer(hub.hub, {
    logger: { level: 'trace', stream: { write: (line: string) => void lines.push(line) } },
    keyWorkIntervalMs: 0,
    maintenanceIntervalMs: 0,
    webhookIntervalMs: false,
  });
  // The name's random part in letters: a provider's name may not hold a run of 6 digits, which 8
  // hex characters sometimes are (the suite failed on one).
  const suffix = randomUUID().slice(0, 8).replace(/\d/g, (d) => 'abcdefghij'[Number(d)]!);
  const created = await createProvider(hub.hub.pool, await hub.hub.ring(), { allowLoopback: true }, { name: `Privacy Echo ${suffix}`, kind: 'platform' });
  key = created.apiKey;
});
afterAll(async () => {
  await app?.close();
  await hub?.stop();
});

const auth = () => ({ authorization: `Bearer ${key}` });

describe('a personal value sent where an identifier belongs', () => {
  it('is not in the request log: path parameters are logged as the route, never their values', async () => {
    lines.length = 0;
    await app.inject({ method: 'GET', url: `/v1/accounts/${personalId}`, headers: auth() });
    await app.inject({ method: 'DELETE', url: `/v1/accounts/0${digits}`, headers: auth() });
    await app.inject({ method: 'GET', url: `/v1/verifications/%2B84${digits}`, headers: auth() });
    await app.inject({ method: 'POST', url: `/v1/verifications/0${digits}/confirm`, headers: auth(), payload: { code: '123456' } });
    await app.inject({ method: 'GET', url: `/v1/no-such-route/${personalId}/0${digits}`, headers: auth() });
    const log = lines.join('');
    // The requests were logged...
    expect(log.match(/incoming request/g)?.length).toBe(5);
    // ...with no value of their path parameters.
    expect(log).not.toContain(personalId);
    expect(log).not.toContain(digits);
  });

  it('is not echoed by a 404 problem document', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/no-such-route/${personalId}/0${digits}`, headers: auth() });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect(res.body).not.toContain(personalId);
    expect(res.body).not.toContain(digits);
  });

  it('is not stored in clear as an Idempotency-Key', async () => {
    const res = await app.inject({
      method: 'POST', url: '/v1/verifications',
      headers: { ...auth(), 'idempotency-key': `verify-0${digits}-${personalId}` },
      payload: { account_ref: 'alice-42', phone: `0${digits}` },
    });
    expect(res.json()).toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE' });
    const rows = await hub.hub.pool.query<{ r: string }>('SELECT t::text AS r FROM idempotency_keys t');
    expect(rows.rows.length).toBeGreaterThan(0);
    const dump = rows.rows.map((r) => r.r).join('\n');
    expect(dump).not.toContain(digits);
    expect(dump).not.toContain(personalId);
  });
});
