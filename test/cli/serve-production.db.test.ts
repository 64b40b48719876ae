/**
 * Production mode (`idbind serve` without --demo; issue 2: "no generated keys, no demo data, no
 * demo-only endpoints"): every demo-only route is absent (404 problem+json, as for any unknown
 * path, never 403 and never the web app's page), nothing demo is seeded, and nothing is
 * generated into the data directory. The same hub in demo mode has them, so the paths tested are
 * the real ones. The web app's page answers unknown GETs only where web/dist is built (`npm test`
 * builds it first), which is where a demo path could be mistaken for a page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { startTestHub, type TestHub } from '../support/hub.ts';

/** Demo-only paths (server.ts, demo-relying-party.ts, test-eid), with a method each. */
const DEMO_ONLY: readonly [string, string][] = [
  ['GET', '/v1/demo/session'],
  ['GET', '/v1/dev/sms-outbox?to=%2B84912345678'],
  ['GET', '/demo/rp/sen-social/start'],
  ['GET', '/demo/rp/sen-social/callback?code=x&state=y'],
  ['GET', '/dev/eid/.well-known/openid-configuration'],
  ['GET', '/dev/eid/auth?client_id=idbind-demo-broker'],
  ['POST', '/dev/eid/token'],
];

let prod: TestHub;
let demo: TestHub;
beforeAll(async () => {
  prod = await startTestHub();
  demo = await startTestHub({ demo: true });
}, 120_000);
afterAll(async () => {
  await prod?.stop();
  await demo?.stop();
});

describe('production mode', () => {
  it('has none of the demo-only routes: 404 problem+json, like any unknown path', async () => {
    for (const [method, path] of DEMO_ONLY) {
      const res = await fetch(`${prod.url}${path}`, { method, redirect: 'manual' });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('content-type'), `${method} ${path}`).toMatch(/^application\/problem\+json/);
    }
    expect(await (await fetch(`${prod.url}/v1/meta`)).json()).toMatchObject({ mode: 'production' });
  });

  it('the demo hub does serve them (the paths above are the real ones)', async () => {
    expect((await fetch(`${demo.url}/v1/demo/session`)).status).toBe(200);
    expect((await fetch(`${demo.url}/v1/dev/sms-outbox?to=%2B84912345678`)).status).toBe(200);
    expect((await fetch(`${demo.url}/dev/eid/.well-known/openid-configuration`)).status).toBe(200);
  });

  it('seeds nothing (the citizen portal\'s own client aside) and generates nothing into the data directory', async () => {
    const counts = await prod.hub.pool.query<{ providers: number; authorities: number; people: number }>(
      `SELECT (SELECT count(*)::int FROM providers WHERE kind <> 'portal') AS providers, (SELECT count(*)::int FROM authorities) AS authorities,
              (SELECT count(*)::int FROM persons) AS people`,
    );
    expect(counts.rows[0]).toEqual({ providers: 0, authorities: 0, people: 0 });
    expect(readdirSync(prod.dataDir).filter((f) => f.startsWith('demo') || f === 'log-key')).toEqual([]);
  });
});
