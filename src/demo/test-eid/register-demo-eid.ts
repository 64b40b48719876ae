/**
 * Demo mode only: the local test eID provider at `${publicUrl}/dev/eid`, so a newcomer can try the
 * national eID method of `npm start` end to end (issue 4: "in demo mode only, a local test eID
 * provider with test persons"). The hub's broker is its relying party (client
 * `idbind-demo-broker`, the secret generated into the data directory; see config.ts `eid`).
 *
 * Production never loads this module: the server imports it dynamically in demo mode only, and
 * it refuses to register outside demo mode. With `IDBIND_EID_ISSUER` set (a real upstream,
 * even in a demo) it registers nothing.
 *
 * The provider is built at the first request below `/dev/eid`, when the demo registry is there
 * to pick test persons from (demo-test-persons.ts); until the registry has people it is rebuilt
 * at each request, so a first visit during the demo's seeding shows them once seeding is done.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { DEMO_EID_PATH, EIDAS_LOA, type Config } from '../../kernel/config/config.ts';
import type { KeyRing } from '../../kernel/crypto/key-ring.ts';
import { mountOidcProvider } from '../../kernel/http/mount-oidc-provider.ts';
import { EID_CALLBACK_PATH } from '../../oidc/eid/eid-broker.ts';
import { pickDemoTestPersons } from './demo-test-persons.ts';
import { createTestEidProvider, newTestEidState, type TestEidProvider, type TestEidState } from './test-eid-provider.ts';

export interface DemoEidDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  config: Pick<Config, 'mode' | 'publicUrl' | 'eid'>;
}

const LEVEL_NAMES = { low: 'Thấp / Low', substantial: 'Đáng kể / Substantial', high: 'Cao / High' } as const;

export function registerDemoEid(app: FastifyInstance, deps: DemoEidDeps): void {
  if (deps.config.mode !== 'demo') throw new Error('the test eID provider exists in demo mode only');
  const eid = deps.config.eid;
  if (!eid?.demo) return;
  // The levels the test eID offers, each saying what idbind makes of it (the demo's acr map).
  const acrValues = (['low', 'substantial', 'high'] as const).map((name) => {
    const value = EIDAS_LOA[name];
    const mapped = eid.acrMap[value];
    return { value, label: `${LEVEL_NAMES[name]} (eIDAS ${name}) — ${mapped ? `idbind level ${mapped}` : 'not accepted by idbind: fails closed'}` };
  });

  let built: Promise<{ provider: TestEidProvider; persons: number }> | undefined;
  let state: Promise<TestEidState> | undefined;
  const build = async () => {
    state ??= newTestEidState();
    const persons = await pickDemoTestPersons(deps.pool, await deps.ring());
    const provider = await createTestEidProvider({
      issuer: eid.issuer,
      persons,
      clients: [{ client_id: eid.clientId, client_secret: eid.clientSecret, redirect_uris: [`${deps.config.publicUrl}${EID_CALLBACK_PATH}`] }],
      acrValues,
      personalIdClaim: eid.personalIdClaim,
      state: await state,
    });
    return { provider, persons: persons.length };
  };
  mountOidcProvider(app, DEMO_EID_PATH, async () => {
    const current = built ?? (built = build());
    let ready: Awaited<typeof current>;
    try {
      ready = await current;
    } catch (e) {
      if (built === current) built = undefined;
      throw e;
    }
    if (ready.persons === 0 && built === current) built = undefined;
    return (req: IncomingMessage, res: ServerResponse) => ready.provider.handler(req, res);
  });
}
