/**
 * Issue 3 from the side of a hostile or careless platform: two platforms on one hub, one honest
 * (Honest Net) and one probing (Probe Net), through the HTTP API and @idbind/sdk. What the probe
 * must never learn: anything about the other platform's verifications, accounts, idempotency
 * keys, events or statistics (DESIGN.md invariant 1: a person is linked across platforms for no
 * one but that person), and, before the code is confirmed, anything about a number beyond
 * "eligible or not" (issue 3 "Verification API").
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, followEvents, startTestHub, type TestHub, type TestPlatform } from '../support/hub.ts';
import { many, N, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { IdbindClient, IdbindError } from '../../packages/sdk/src/index.ts';

let hub: TestHub;
let admin: Record<string, string>;

type Platform = TestPlatform;
const createPlatform = (name: string, extra: Record<string, unknown> = {}): Promise<Platform> => createTestPlatform(hub, name, extra);

let honest: Platform;
let probe: Platform;

beforeAll(async () => {
  hub = await startTestHub({ demo: true });
  admin = { authorization: `Bearer ${hub.adminToken}` };
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  honest = await createPlatform('Honest Net');
  probe = await createPlatform('Probe Net');
}, 180_000);
afterAll(async () => hub?.stop());

function start(p: Platform, accountRef: string, phone: string, key: string = randomUUID()) {
  return hub.app.inject({ method: 'POST', url: '/v1/verifications', headers: { ...p.auth, 'idempotency-key': key }, payload: { account_ref: accountRef, phone } });
}

async function lastCode(phone: string): Promise<string> {
  const r = await hub.app.inject({ url: `/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}` });
  const codes = (r.json() as { text: string }[]).at(-1)!.text.match(/\b\d{6}\b/g);
  expect(codes).toHaveLength(1);
  return codes![0]!;
}

function confirm(p: Platform, id: string, code: string) {
  return hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/confirm`, headers: p.auth, payload: { code } });
}

function wrong(code: string): string {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

/** Starts and confirms a verification: the account is bound. */
async function verify(p: Platform, accountRef: string, phone: string) {
  const s = await start(p, accountRef, phone);
  expect(s.statusCode, s.body).toBe(201);
  const c = await confirm(p, s.json().id, await lastCode(phone));
  expect(c.statusCode, c.body).toBe(200);
  return c.json() as { pseudonym: string };
}

/** Everything of an answer a platform can compare, but the headers that differ on every request. */
function observable(r: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  const { date: _date, location, 'content-length': _length, ...headers } = r.headers;
  return { status: r.statusCode, headers: { ...headers, location: location === undefined ? undefined : 'present' }, body: r.statusCode === 201 ? 'started' : r.body };
}

describe("what a platform learns of another platform's work", () => {
  it('shares no Idempotency-Key with another platform: the same key is a new request for each, neither replayed nor refused', async () => {
    const key = `shared-${randomUUID()}`;
    const a = await start(honest, 'idem-1', many(0), key);
    const b = await start(probe, 'idem-1', many(0), key);
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.json().id).not.toBe(a.json().id);
    // A key the other platform used, with another body, is not IDEMPOTENCY_KEY_REUSED either.
    const key2 = `shared-${randomUUID()}`;
    expect((await start(honest, 'idem-2', many(0), key2)).statusCode).toBe(201);
    const other = await start(probe, 'idem-3', many(1), key2);
    expect(other.statusCode, other.body).toBe(201);
    // And each platform's own retry still replays its own answer.
    const again = await start(honest, 'idem-1', many(0), key);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(a.json().id);
  });

  it("spends nothing of another platform's verification when confirming it with the wrong key, and answers as for an id that never existed", async () => {
    const s = await start(honest, 'spend-1', many(2));
    const id = s.json().id as string;
    const code = await lastCode(many(2));
    const made = await confirm(probe, '01a20000-0000-7000-8000-000000000000', wrong(code));
    for (let i = 0; i < 7; i++) {
      const r = await confirm(probe, id, i === 6 ? code : wrong(code));
      expect(observable(r)).toEqual(observable(made));
    }
    const resend = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/resend`, headers: probe.auth });
    expect(resend.json().code).toBe('VERIFICATION_NOT_FOUND');
    const view = await hub.app.inject({ url: `/v1/verifications/${id}`, headers: honest.auth });
    expect(view.json()).toMatchObject({ status: 'code_sent', attempts_remaining: 5 });
    // The number's daily budget of typed codes is untouched too: the owner confirms at once.
    expect((await confirm(honest, id, code)).statusCode).toBe(200);
  });

  it("answers a start the same whether the holder is at another platform's accounts-per-person limit or bound nowhere", async () => {
    // Strict Net allows one account per person: the person is at its limit there once bound.
    const strict = await createPlatform('Strict Net', { limits: { accounts_per_person: 1 } });
    await verify(strict, 'limit-1', '+84912000020');
    const atLimitHere = await start(strict, 'limit-2', '+84912000021');
    expect(atLimitHere.json().code).toBe('NUMBER_NOT_ELIGIBLE');
    // Probe Net learns nothing of it: a code is sent as for anyone eligible.
    const there = await start(probe, 'limit-2', '+84912000021');
    expect(there.statusCode, there.body).toBe(201);
  });

  it('gives one person unrelated pseudonyms on two platforms, and the same one for two accounts on one', async () => {
    const h = await verify(honest, 'pair-h', many(5));
    const p1 = await verify(probe, 'pair-p1', many(6));
    const p2 = await verify(probe, 'pair-p2', many(7));
    expect(p1.pseudonym).toBe(p2.pseudonym);
    expect(h.pseudonym).not.toBe(p1.pseudonym);
    expect(h.pseudonym).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Each platform reads only its own accounts: the other's refs are unverified, not refused.
    const read = await hub.app.inject({ url: '/v1/accounts/pair-h', headers: probe.auth });
    expect(read.json()).toMatchObject({ status: 'unverified', pseudonym: null, since: null });
  });
});

describe('what a platform learns of a number before the code is confirmed', () => {
  it('answers an ineligible number and an unknown one identically, and an eligible minor as an eligible adult', async () => {
    const answers = new Map<string, ReturnType<typeof observable>>();
    for (const [what, phone] of [
      ['adult', many(8)], ['minor', N.minor], ['deceased', N.deceased], ['unknown', N.unknown], ['sim changed', N.simChanged],
      ['blocked', N.blocked], ['no holder', N.noHolder], ['holder unknown', N.holderUnknown], ['mismatch', N.mismatch],
    ] as const) {
      answers.set(what, observable(await start(probe, `elig-${what.replace(/ /g, '-')}`, phone)));
    }
    expect(answers.get('adult')!.status).toBe(201);
    expect(answers.get('minor')).toEqual(answers.get('adult'));
    for (const what of ['deceased', 'sim changed', 'blocked', 'no holder', 'holder unknown', 'mismatch']) {
      expect(answers.get(what), what).toEqual(answers.get('unknown'));
    }
    expect(JSON.parse(answers.get('unknown')!.body as string)).toEqual({
      type: 'https://idbind.example/docs/errors#number_not_eligible', title: 'This number cannot verify an account', status: 422, code: 'NUMBER_NOT_ELIGIBLE',
    });
  });
});

describe('event cursors', () => {
  async function poll(p: Platform, after?: string) {
    const r = await hub.app.inject({ url: `/v1/events${after ? `?after=${after}` : ''}`, headers: p.auth });
    expect(r.statusCode, r.body).toBe(200);
    return r.json() as { events: { id: string; type: string; account_ref: string }[]; next_cursor: string };
  }

  type Event = Awaited<ReturnType<typeof poll>>['events'][number];
  const pollAll = (p: Platform, want: number | ((events: Event[]) => boolean), after?: string) => followEvents((cursor) => poll(p, cursor), want, after);

  it("carry no hub-wide counter: a platform cannot measure other platforms' activity between two of its events", async () => {
    // The database's transaction id counts every write of the hub, other platforms' included: two
    // cursors holding it would tell a platform how much the others did in between.
    const cursor = new Set<string>();
    await verify(probe, 'cursor-1', many(10));
    // From the start: the probe's events of earlier tests come first, and may come a moment late
    // (a poll serves an event only once every older transaction has ended), so wait for this one.
    const first = await pollAll(probe, (events) => events.some((e) => e.account_ref === 'cursor-1' && e.type === 'account.verified'));
    expect(first.events.at(-1)).toMatchObject({ account_ref: 'cursor-1', type: 'account.verified' });
    await verify(honest, 'busy-1', many(9));
    expect((await hub.app.inject({ method: 'DELETE', url: '/v1/accounts/cursor-1', headers: probe.auth })).statusCode).toBe(204);
    const second = await pollAll(probe, 1, first.cursor);
    expect(second.events.map((e) => e.type)).toEqual(['account.unbound']);
    for (const page of [first, second]) {
      const { rows } = await hub.hub.pool.query<{ txid: string }>('SELECT txid::text FROM events WHERE id = $1', [page.events.at(-1)!.id]);
      const fields = Buffer.from(page.cursor, 'base64url').toString('utf8').split('|');
      expect(fields).not.toContain(rows[0]!.txid);
      cursor.add(page.cursor);
    }
    expect(cursor.size).toBe(2);
    // A cursor of the earlier form (`e1|<txid>|<event id>`), stored by a poller, still resumes.
    const firstId = first.events.at(-1)!.id;
    const { rows } = await hub.hub.pool.query<{ txid: string }>('SELECT txid::text FROM events WHERE id = $1', [firstId]);
    const legacy = Buffer.from(`e1|${rows[0]!.txid}|${firstId}`, 'utf8').toString('base64url');
    expect((await pollAll(probe, 1, legacy)).events.map((e) => e.type)).toEqual(['account.unbound']);
    // The cursor still resumes where it stopped, and an empty page keeps it.
    expect(await poll(probe, second.cursor)).toEqual({ events: [], next_cursor: second.cursor });
  });

  it("refuse a cursor naming another platform's event as they refuse one naming no event", async () => {
    await verify(honest, 'cursor-h', many(11));
    const theirs = await pollAll(honest, 1);
    const made = Buffer.from(`e2|${randomUUID()}`, 'utf8').toString('base64url');
    const a = await hub.app.inject({ url: `/v1/events?after=${theirs.cursor}`, headers: probe.auth });
    const b = await hub.app.inject({ url: `/v1/events?after=${made}`, headers: probe.auth });
    expect(a.statusCode).toBe(400);
    expect(a.json()).toEqual(b.json());
    expect(a.json().code).toBe('WEBHOOK_CURSOR_INVALID');
  });
});

describe('the regulator setting limits', () => {
  it('refuses a limit it does not know (a misspelt accounts_per_person) instead of leaving the default silently', async () => {
    const created = await hub.app.inject({
      method: 'POST', url: '/v1/admin/providers', headers: admin, payload: { name: 'Typo Net', kind: 'platform', limits: { accountsPerPerson: 1 } },
    });
    expect(created.statusCode, created.body).toBe(400);
    expect(created.json().code).toBe('REQUEST_INVALID');
    const patched = await hub.app.inject({
      method: 'PATCH', url: `/v1/admin/providers/${probe.id}`, headers: admin, payload: { limits: { sms_budget: 1 } },
    });
    expect(patched.statusCode, patched.body).toBe(400);
    expect(patched.json().code).toBe('REQUEST_INVALID');
  });
});

describe('@idbind/sdk given an id that is a URL dot segment', () => {
  // `fetch` resolves /v1/verifications/../confirm to /v1/confirm, and /v1/webhooks/deliveries/../replay
  // to /v1/webhooks/replay (the bulk replay): such an id must never reach another route.
  it("answers the route's own not-found code, and sends nothing", async () => {
    const sent: string[] = [];
    const client = new IdbindClient({
      baseUrl: hub.url, apiKey: probe.key, retry: { retries: 0 },
      fetch: (url, init) => {
        sent.push(`${init.method ?? 'GET'} ${new URL(url).pathname}`);
        return fetch(url, init);
      },
    });
    const cases: [string, () => Promise<unknown>][] = [
      ['VERIFICATION_NOT_FOUND', () => client.getVerification('..')],
      ['VERIFICATION_NOT_FOUND', () => client.confirmCode('..', '123456')],
      ['VERIFICATION_NOT_FOUND', () => client.resendCode('.')],
      ['WEBHOOK_DELIVERY_NOT_FOUND', () => client.getWebhookDelivery('..')],
      ['WEBHOOK_DELIVERY_NOT_FOUND', () => client.replayWebhookDelivery('..')],
      ['WEBHOOK_DELIVERY_NOT_FOUND', () => client.replayWebhookDelivery('.')],
      ['CARRIER_JOB_NOT_FOUND', () => client.getCarrierJob('..')],
      ['CARRIER_JOB_NOT_FOUND', () => client.getCarrierJobRejects('.')],
    ];
    for (const [code, call] of cases) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error, code).toBeInstanceOf(IdbindError);
      expect((error as IdbindError).code, String(call)).toBe(code);
    }
    expect(sent).toEqual([]);
  });
});

/**
 * Two verifications of one person (the registry's numbers `a` and `b`) at a platform whose limit is
 * one account per person, both started before the first is confirmed and that confirmed: the
 * second's right code is then refused by the limit. Answers the second and its code.
 */
async function secondOfTwoAtLimitOne(name: string, refs: [string, string], numbers: [string, string]) {
  const strict = await createPlatform(name, { limits: { accounts_per_person: 1 } });
  const first = await start(strict, refs[0], numbers[0]);
  const firstCode = await lastCode(numbers[0]);
  const second = await start(strict, refs[1], numbers[1]);
  const secondCode = await lastCode(numbers[1]);
  expect((await confirm(strict, first.json().id, firstCode)).statusCode).toBe(200);
  return { strict, secondId: second.json().id as string, secondCode };
}

describe('a confirm repeated after its answer was lost', () => {
  it('answers ACCOUNT_LIMIT_REACHED again, as GUARDIAN_REQUIRED and NUMBER_NOT_ELIGIBLE are answered again, not VERIFICATION_COMPLETED', async () => {
    // Both started before either is confirmed: the limit refuses the second at its confirmation.
    const { strict, secondId, secondCode } = await secondOfTwoAtLimitOne('Strict Two', ['lost-1', 'lost-2'], ['+84912000022', '+84912000023']);
    const refused = await confirm(strict, secondId, secondCode);
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.json().code).toBe('ACCOUNT_LIMIT_REACHED');
    // The platform never saw that answer (a timeout), and repeats the confirmation.
    const repeated = await confirm(strict, secondId, secondCode);
    expect(repeated.statusCode, repeated.body).toBe(409);
    expect(repeated.json().code).toBe('ACCOUNT_LIMIT_REACHED');
    // The minor's and the right code's other endings are repeated as they were first answered.
    const minor = await start(strict, 'lost-minor', N.minor);
    const minorCode = await lastCode(N.minor);
    for (let i = 0; i < 2; i++) expect((await confirm(strict, minor.json().id, minorCode)).json().code).toBe('GUARDIAN_REQUIRED');
  });
});

describe('a confirm repeated after its answer was lost, the right code typed last', () => {
  it('answers ACCOUNT_LIMIT_REACHED again when the right code was the last attempt allowed, not TOO_MANY_ATTEMPTS', async () => {
    const { strict, secondId, secondCode } = await secondOfTwoAtLimitOne('Strict Four', ['last-1', 'last-2'], [many(16), many(17)]);
    // Four wrong codes, then the right one: the fifth and last attempt proves the number.
    for (let i = 0; i < 4; i++) expect((await confirm(strict, secondId, wrong(secondCode))).json().code).toBe('CODE_INVALID');
    const refused = await confirm(strict, secondId, secondCode);
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.json().code).toBe('ACCOUNT_LIMIT_REACHED');
    const repeated = await confirm(strict, secondId, secondCode);
    expect(repeated.statusCode, repeated.body).toBe(409);
    expect(repeated.json().code).toBe('ACCOUNT_LIMIT_REACHED');
  });
});

// Residual, not fixed: the per-number budgets (5 starts an hour, 10 a day, 15 typed codes a day)
// are shared by every provider (issue 3 "Abuse"; docs/platforms.md "Limits": "Per hub"). So one
// platform's answers tell it of the number's use at other platforms, and one platform (or anyone
// typing wrong codes into its sign-up form) can stop the person verifying anywhere until midnight.
// A per-provider share of each (as `number_prefix_share` is for ranges) would bound both; it
// changes the limits the issue sets, so it is left to its owner. These fail until then.
describe('per-number budgets shared by every platform', () => {
  it.fails("a platform's first start for a number does not depend on other platforms' starts for it", async () => {
    for (let i = 0; i < 5; i++) expect((await start(honest, `shared-${i}`, many(12))).statusCode).toBe(201);
    const first = await start(probe, 'shared-probe', many(12));
    // Today: 429 RATE_LIMITED with limit "number": the probe learns of five starts elsewhere this hour.
    expect(first.statusCode, first.body).toBe(201);
  });

  it.fails('a platform typing wrong codes cannot stop the person confirming at another platform', async () => {
    for (let v = 0; v < 3; v++) {
      const s = await start(probe, `burn-${v}`, many(13));
      expect(s.statusCode, s.body).toBe(201);
      for (let i = 0; i < 5; i++) await confirm(probe, s.json().id, '000000');
    }
    const s = await start(honest, 'burn-honest', many(13));
    const c = await confirm(honest, s.json().id, await lastCode(many(13)));
    // Today: 409 TOO_MANY_ATTEMPTS ("too many codes typed for this number today") until midnight in Vietnam.
    expect(c.statusCode, c.body).toBe(200);
  });
});

// Residual, not fixed: the issue puts the accounts-per-person limit among the start's checks
// ("the person below the provider's accounts-per-person limit"), answered NUMBER_NOT_ELIGIBLE with
// no code sent. So a platform holding a person at its limit can ask, for any number, whether it is
// that person's, silently (nothing reaches the phone), which links a number to a pseudonym before
// anyone proved the number. Checking the limit only at the confirmation (ACCOUNT_LIMIT_REACHED,
// after the code) would close it; that changes the issue's rule, so it is left to its owner.
describe('the accounts-per-person limit at the start', () => {
  it.fails("does not tell a platform, before a code is sent, that a number belongs to a person at its limit", async () => {
    const strict = await createPlatform('Strict Three', { limits: { accounts_per_person: 1 } });
    await verify(strict, 'link-1', many(14));
    // Another number of the same person, and a number of someone else, both eligible.
    const samePerson = observable(await start(strict, 'link-2', many(15)));
    const someoneElse = observable(await start(strict, 'link-3', N.adultB));
    // Today: 422 NUMBER_NOT_ELIGIBLE for the first (no SMS sent), 201 for the second.
    expect(samePerson).toEqual(someoneElse);
  });
});
