/**
 * @idbind/sdk against the real hub (issue 3 "SDK and console": "its tests run against a real
 * server"): the server on a free port in demo mode (SMS to the local outbox), a platform created
 * through the admin API, the small hand-written registry of test/support. Covers a full
 * verification, the typed errors, bulk status as JSON and as an NDJSON stream, the idempotent
 * retry of a start whose answer was lost (and of a confirm), the provider's own settings,
 * webhook replays of deliveries made dead by a receiver answering 410 Gone, one delivery's attempt
 * log, polling the events of real verifications and unbindings page by page, the OpenID client
 * settings, the account refs `.` and `..`, and the carriers' uploads, jobs and action list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { many, N, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { startReceiver, type Receiver } from '../http/webhooks-receiver.ts';
import {
  IdbindClient, IdbindError, isBulkLineError, isIdbindError, type AccountEvent, type AccountStatus, type BulkStatusLine, type FetchFunction,
  type WebhookEvent,
} from '../../packages/sdk/src/index.ts';

let hub: TestHub;
let receiver: Receiver;
let apiKey: string;
let client: IdbindClient;

interface OutboxMessage {
  to: string;
  text: string;
  sent_at: string;
}

async function outbox(phone: string): Promise<OutboxMessage[]> {
  const r = await fetch(`${hub.url}/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}`);
  expect(r.status).toBe(200);
  return (await r.json()) as OutboxMessage[];
}

async function lastCode(phone: string): Promise<string> {
  const text = (await outbox(phone)).at(-1)?.text ?? '';
  const codes = text.match(/\b\d{6}\b/g);
  expect(codes).toHaveLength(1);
  return codes![0]!;
}

function wrong(code: string): string {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

async function createPlatform(name: string): Promise<string> {
  const r = await fetch(`${hub.url}/v1/admin/providers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, kind: 'platform' }),
  });
  expect(r.status, await r.clone().text()).toBe(201);
  return ((await r.json()) as { api_key: string }).api_key;
}

/** Runs `work` and returns what it threw, failing when it did not throw an IdbindError. */
async function failure(work: () => Promise<unknown>): Promise<IdbindError> {
  try {
    await work();
  } catch (error) {
    expect(error).toBeInstanceOf(IdbindError);
    return error as IdbindError;
  }
  throw new Error('expected an IdbindError');
}

/** A fetch that records every call and lets a test interfere with one. */
function recordingFetch(interfere?: (url: string, init: RequestInit, call: number) => Promise<Response> | undefined) {
  const calls: { url: string; method: string; headers: Record<string, string>; status?: number; replayed?: string | null }[] = [];
  const f: FetchFunction = async (url, init) => {
    const headers = Object.fromEntries(Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    const entry: (typeof calls)[number] = { url, method: init.method ?? 'GET', headers };
    calls.push(entry);
    const interfered = interfere?.(url, init, calls.length);
    const response = await (interfered ?? fetch(url, init));
    entry.status = response.status;
    entry.replayed = response.headers.get('idempotent-replayed');
    return response;
  };
  return { fetch: f, calls };
}

beforeAll(async () => {
  hub = await startTestHub({ demo: true });
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  receiver = await startReceiver();
  apiKey = await createPlatform('SDK Test Net');
  client = new IdbindClient({ baseUrl: hub.url, apiKey, retry: { minDelayMs: 10 } });
}, 180_000);

afterAll(async () => {
  await receiver?.close();
  await hub?.stop();
});

describe('a full verification through the SDK', () => {
  it('starts, reads the code from the demo outbox, confirms, and reads the account and the verification', async () => {
    const started = await client.startVerification({ accountRef: 'sdk-user-1', phone: '0912 000 001' });
    expect(started).toEqual({ id: expect.any(String), status: 'code_sent', expires_at: expect.any(String) });
    expect((await outbox(N.adult)).at(-1)!.text).toContain('SDK Test Net');

    const bound = await client.confirmCode(started.id, await lastCode(N.adult));
    expect(bound).toEqual({ account_ref: 'sdk-user-1', status: 'verified', level: 'low', pseudonym: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), verified_at: expect.any(String) });

    const account = await client.getAccount('sdk-user-1');
    expect(account).toEqual({ account_ref: 'sdk-user-1', status: 'verified', level: 'low', pseudonym: bound.pseudonym, since: expect.any(String), minor: false });
    const verification = await client.getVerification(started.id);
    expect(verification).toMatchObject({ id: started.id, account_ref: 'sdk-user-1', status: 'verified', result: bound });

    const stats = await client.verificationStats({ days: 7 });
    const sum = (key: 'started' | 'confirmed') => stats.days.reduce((n, d) => n + d[key], 0);
    expect(sum('started')).toBeGreaterThanOrEqual(1);
    expect(sum('confirmed')).toBeGreaterThanOrEqual(1);
  });

  it('unbinds an account (twice is still done) and then reports it unverified', async () => {
    const started = await client.startVerification({ accountRef: 'sdk-closing', phone: many(0) });
    await client.confirmCode(started.id, await lastCode(many(0)));
    expect((await client.getAccount('sdk-closing')).status).toBe('verified');
    await client.unbindAccount('sdk-closing');
    await client.unbindAccount('sdk-closing');
    expect(await client.getAccount('sdk-closing')).toMatchObject({ status: 'unverified' });
    expect((await failure(() => client.unbindAccount('sdk-never-bound'))).code).toBe('ACCOUNT_NOT_FOUND');
  });
});

describe('typed errors', () => {
  it('answers NUMBER_NOT_ELIGIBLE for an ineligible number, with the problem fields, and sends nothing', async () => {
    const before = (await outbox(N.deceased)).length;
    const e = await failure(() => client.startVerification({ accountRef: 'sdk-dead', phone: N.deceased }));
    expect(e).toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE', status: 422, title: 'This number cannot verify an account' });
    expect(e.type).toMatch(/number_not_eligible$/);
    expect(isIdbindError(e, 'NUMBER_NOT_ELIGIBLE')).toBe(true);
    expect(e.toJSON()).toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE', status: 422 });
    expect((await outbox(N.deceased)).length).toBe(before);
  });

  it('answers CODE_INVALID with attempts_remaining counting down, and the right code still works after', async () => {
    const started = await client.startVerification({ accountRef: 'sdk-typo', phone: many(1) });
    const code = await lastCode(many(1));
    const first = await failure(() => client.confirmCode(started.id, wrong(code)));
    expect(first).toMatchObject({ code: 'CODE_INVALID', status: 422, attempts_remaining: 4 });
    expect(first.extensions).toEqual({ attempts_remaining: 4 });
    expect((await failure(() => client.confirmCode(started.id, wrong(code)))).attempts_remaining).toBe(3);
    expect((await client.confirmCode(started.id, code)).status).toBe('verified');
  });

  it('answers PHONE_INVALID, CODE_MALFORMED, VERIFICATION_NOT_FOUND and API_KEY_INVALID, none of them retried', async () => {
    const { fetch: f, calls } = recordingFetch();
    const c = new IdbindClient({ baseUrl: hub.url, apiKey, fetch: f, retry: { minDelayMs: 10 } });
    expect((await failure(() => c.startVerification({ accountRef: 'sdk-x', phone: '12345' }))).code).toBe('PHONE_INVALID');
    expect(calls).toHaveLength(1);
    const started = await c.startVerification({ accountRef: 'sdk-malformed', phone: many(2) });
    expect((await failure(() => c.confirmCode(started.id, '12ab'))).code).toBe('CODE_MALFORMED');
    expect(await failure(() => c.getVerification('00000000-0000-4000-8000-000000000000'))).toMatchObject({ code: 'VERIFICATION_NOT_FOUND', status: 404 });
    const stranger = new IdbindClient({ baseUrl: hub.url, apiKey: 'idbk_' + 'A'.repeat(43) });
    expect(await failure(() => stranger.getProvider())).toMatchObject({ code: 'API_KEY_INVALID', status: 401 });
  });

  it("sends the person's address as client_ip on a start and a resend, which the hub checks", async () => {
    const bodies: unknown[] = [];
    const { fetch: f } = recordingFetch((_url, init) => {
      bodies.push(init.body === undefined ? undefined : JSON.parse(String(init.body)));
      return undefined;
    });
    const c = new IdbindClient({ baseUrl: hub.url, apiKey, fetch: f, retry: { minDelayMs: 10 } });
    const started = await c.startVerification({ accountRef: 'sdk-ip', phone: many(5), clientIp: '2001:db8::5' });
    expect(bodies[0]).toEqual({ account_ref: 'sdk-ip', phone: many(5), client_ip: '2001:db8::5' });
    await hub.hub.pool.query(`UPDATE verifications SET last_sent_at = now() - interval '31 seconds' WHERE id = $1`, [started.id]);
    expect(await c.resendCode(started.id, { clientIp: '198.51.100.5' })).toMatchObject({ id: started.id, status: 'code_sent' });
    expect(bodies[1]).toEqual({ client_ip: '198.51.100.5' });
    // Forwarded as given: the hub refuses what is not an address, and the SDK does not retry it.
    expect((await failure(() => c.startVerification({ accountRef: 'sdk-ip-2', phone: many(5), clientIp: 'a person' }))).status).toBe(400);
    expect((await failure(() => c.resendCode(started.id, { clientIp: 'a person' }))).code).toBe('REQUEST_INVALID');
  });

  it('turns an unreachable hub into NETWORK_ERROR (status 0) after its retries', async () => {
    const { fetch: f, calls } = recordingFetch(() => Promise.reject(new TypeError('fetch failed')));
    const c = new IdbindClient({ baseUrl: hub.url, apiKey, fetch: f, retry: { retries: 2, minDelayMs: 1 } });
    const e = await failure(() => c.getAccount('sdk-user-1'));
    expect(e).toMatchObject({ code: 'NETWORK_ERROR', status: 0 });
    expect(e.cause).toBeInstanceOf(TypeError);
    expect(calls).toHaveLength(3);
  });
});

describe('idempotent retries', () => {
  it('repeats a start whose answer was lost with the same Idempotency-Key: one verification, one SMS', async () => {
    const phone = many(3);
    const before = (await outbox(phone)).length;
    // The first request reaches the hub and is done there; its answer is lost on the way back.
    const { fetch: f, calls } = recordingFetch((url, init, call) =>
      call === 1 ? fetch(url, init).then(() => Promise.reject(new TypeError('socket hang up'))) : undefined);
    const c = new IdbindClient({ baseUrl: hub.url, apiKey, fetch: f, retry: { minDelayMs: 10 } });
    const started = await c.startVerification({ accountRef: 'sdk-lost-reply', phone });
    expect(calls).toHaveLength(2);
    const key = calls[0]!.headers['idempotency-key'];
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls[1]!.headers['idempotency-key']).toBe(key);
    expect(calls[1]!.replayed).toBe('true');
    expect((await outbox(phone)).length).toBe(before + 1);
    // The replayed answer is the first one: confirming it works.
    expect((await c.confirmCode(started.id, await lastCode(phone))).account_ref).toBe('sdk-lost-reply');
  });

  it('retries a 503 with the same key and uses a given key as is', async () => {
    const { fetch: f, calls } = recordingFetch((_url, _init, call) =>
      call === 1
        ? Promise.resolve(new Response(JSON.stringify({ type: 'x', title: 'The SMS gateway is not available', status: 503, code: 'SMS_GATEWAY_UNAVAILABLE' }), {
          status: 503, headers: { 'content-type': 'application/problem+json' },
        }))
        : undefined);
    const c = new IdbindClient({ baseUrl: hub.url, apiKey, fetch: f, retry: { minDelayMs: 10 } });
    const started = await c.startVerification({ accountRef: 'sdk-503', phone: many(4), idempotencyKey: 'order-4711-verify' });
    expect(started.status).toBe('code_sent');
    expect(calls.map((x) => [x.status, x.headers['idempotency-key']])).toEqual([[503, 'order-4711-verify'], [201, 'order-4711-verify']]);
    // The same key for another request is refused, not replayed.
    expect((await failure(() => c.startVerification({ accountRef: 'sdk-other', phone: many(4), idempotencyKey: 'order-4711-verify' }))).code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('recovers a confirm whose answer was lost from the verification, without spending another attempt', async () => {
    const phone = many(5);
    const started = await client.startVerification({ accountRef: 'sdk-lost-confirm', phone });
    const code = await lastCode(phone);
    const { fetch: f, calls } = recordingFetch((url, init) =>
      url.endsWith('/confirm') ? fetch(url, init).then(() => Promise.reject(new TypeError('connection reset'))) : undefined);
    const c = new IdbindClient({ baseUrl: hub.url, apiKey, fetch: f, retry: { minDelayMs: 10 } });
    const bound = await c.confirmCode(started.id, code);
    expect(bound).toMatchObject({ account_ref: 'sdk-lost-confirm', status: 'verified', level: 'low' });
    expect(calls.map((x) => `${x.method} ${new URL(x.url).pathname}`)).toEqual([
      `POST /v1/verifications/${started.id}/confirm`,
      `GET /v1/verifications/${started.id}`,
    ]);
  });
});

describe('bulk status', () => {
  let pseudonym: string;

  beforeAll(async () => {
    pseudonym = (await client.getAccount('sdk-user-1')).pseudonym!;
  });

  it('answers JSON up to 10,000 refs, in the order asked, unknown accounts unverified', async () => {
    const statuses = await client.getAccounts(['sdk-nobody', 'sdk-user-1', 'sdk-closing']);
    expect(statuses.map((s) => [s.account_ref, s.status])).toEqual([['sdk-nobody', 'unverified'], ['sdk-user-1', 'verified'], ['sdk-closing', 'unverified']]);
    expect(statuses[1]!.pseudonym).toBe(pseudonym);
    expect(await client.getAccounts([])).toEqual([]);
  });

  it('streams 25,000 refs from a generator as NDJSON and yields each status in order', async () => {
    const total = 25_000;
    function* refs() {
      for (let i = 0; i < total; i++) yield i === 12_345 ? 'sdk-user-1' : `sdk-bulk-${i}`;
    }
    const { fetch: f, calls } = recordingFetch();
    const c = new IdbindClient({ baseUrl: hub.url, apiKey, fetch: f });
    const seen: BulkStatusLine[] = [];
    for await (const line of c.streamAccounts(refs())) seen.push(line);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers['content-type']).toBe('application/x-ndjson');
    expect(seen).toHaveLength(total);
    const statuses = seen.filter((l): l is AccountStatus => !isBulkLineError(l));
    expect(statuses).toHaveLength(total);
    expect(statuses[12_345]).toMatchObject({ account_ref: 'sdk-user-1', status: 'verified', pseudonym });
    expect(statuses[0]).toEqual({ account_ref: 'sdk-bulk-0', status: 'unverified', level: null, pseudonym: null, since: null, minor: false });
    expect(statuses[total - 1]!.account_ref).toBe(`sdk-bulk-${total - 1}`);
  });

  it('answers an unreadable ref in its line place, and getAccounts over 10,000 goes as NDJSON', async () => {
    const lines: BulkStatusLine[] = [];
    for await (const line of client.streamAccounts(['sdk-user-1', 'not a ref!', 'sdk-nobody'])) lines.push(line);
    expect(lines).toHaveLength(3);
    expect(isBulkLineError(lines[1]!)).toBe(true);
    expect(lines[1]).toMatchObject({ line: 2, code: 'REQUEST_INVALID' });
    expect(lines[2]).toMatchObject({ account_ref: 'sdk-nobody', status: 'unverified' });

    const { fetch: f, calls } = recordingFetch();
    const c = new IdbindClient({ baseUrl: hub.url, apiKey, fetch: f });
    const refs = Array.from({ length: 10_001 }, (_, i) => (i === 0 ? 'sdk-user-1' : `sdk-many-${i}`));
    const all = await c.getAccounts(refs);
    expect(all).toHaveLength(10_001);
    expect(all[0]).toMatchObject({ status: 'verified', pseudonym });
    expect(calls.map((x) => x.headers['content-type'])).toEqual(['application/x-ndjson']);
    expect((await failure(() => c.getAccounts([...refs, 'bad ref']))).code).toBe('REQUEST_INVALID');
  });

  it('refuses a stream with a bad key as a typed error, without reading every ref', async () => {
    let read = 0;
    function* refs() {
      for (let i = 0; i < 1_000_000; i++) {
        read++;
        yield `sdk-refused-${i}`;
      }
    }
    const stranger = new IdbindClient({ baseUrl: hub.url, apiKey: 'idbk_' + 'B'.repeat(43) });
    const e = await failure(async () => {
      for await (const _line of stranger.streamAccounts(refs())) throw new Error('no status expected');
    });
    expect(e).toMatchObject({ code: 'API_KEY_INVALID', status: 401 });
    expect(read).toBeLessThan(1_000_000);
  });

  it('stops reading when the loop stops early', async () => {
    let read = 0;
    async function* refs() {
      for (let i = 0; i < 1_000_000; i++) {
        read++;
        yield `sdk-early-${i}`;
      }
    }
    let got = 0;
    for await (const _line of client.streamAccounts(refs())) if (++got === 5) break;
    expect(got).toBe(5);
    expect(read).toBeLessThan(1_000_000);
  });
});

describe("the provider's own settings", () => {
  it('reads the profile with key hints only, and sets and clears the webhook URL (refusing a private address)', async () => {
    const info = await client.getProvider();
    expect(info.provider).toMatchObject({ name: 'SDK Test Net', kind: 'platform', legal_profile: 'minimal', status: 'active' });
    expect(info.api_keys.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(info)).not.toContain(apiKey);

    const set = await client.setWebhookUrl(receiver.url);
    expect(set.webhook_url).toBe(receiver.url);
    expect((await failure(() => client.setWebhookUrl('http://10.0.0.1/hooks'))).code).toBe('WEBHOOK_URL_REFUSED');
    expect((await client.setWebhookUrl(null)).webhook_url).toBeNull();
  });

  it('rotates the webhook secret (both live during the overlap) and the API key (the old one ends with no overlap)', async () => {
    const before = await client.getWebhookSecrets();
    const rotated = await client.rotateWebhookSecret({ overlapSeconds: 600 });
    expect(rotated.webhook_secret).toMatch(/^whsec_/);
    expect(rotated.previous_secrets_expire_at).not.toBeNull();
    const after = await client.getWebhookSecrets();
    expect(after[0]).toBe(rotated.webhook_secret);
    expect(after).toEqual(expect.arrayContaining(before));

    const own = await createPlatform('SDK Rotating Net');
    const old = new IdbindClient({ baseUrl: hub.url, apiKey: own });
    const fresh = await old.rotateApiKey({ overlapSeconds: 0 });
    expect(fresh.api_key).toMatch(/^idbk_/);
    expect((await new IdbindClient({ baseUrl: hub.url, apiKey: fresh.api_key }).getProvider()).provider.name).toBe('SDK Rotating Net');
    expect((await failure(() => old.getProvider())).code).toBe('API_KEY_INVALID');
  });
});

describe('webhook replays', () => {
  it('replays a dead delivery, then every dead one, to the receiver with the same webhook-id; refuses while the endpoint is disabled', async () => {
    const replays = new IdbindClient({ baseUrl: hub.url, apiKey: await createPlatform('SDK Replay Net'), retry: { minDelayMs: 10 } });
    await replays.setWebhookUrl(receiver.url);
    const received = (id: string) => receiver.requests.filter((r) => r.headers['webhook-id'] === id).length;
    const statusOf = async (id: string) => (await replays.listWebhookDeliveries({ limit: 50 })).deliveries.find((d) => d.event_id === id)?.status;

    /** A dead delivery through real behaviour: the receiver answers 410 Gone, so the hub gives up at once and disables the endpoint. */
    const deadDelivery = async (): Promise<string> => {
      receiver.answer = 410;
      try {
        const { event_id: id } = await replays.sendTestEvent();
        await expect.poll(() => statusOf(id), { timeout: 15_000 }).toBe('dead');
        expect(received(id)).toBe(1);
        return id;
      } finally {
        receiver.answer = 204;
      }
    };

    const first = await deadDelivery();
    // The provider read goes through the 5 s authentication cache, which the dispatcher does not clear.
    await expect.poll(async () => (await replays.getProvider()).provider.webhook_disabled_at, { timeout: 10_000 }).not.toBeNull();
    // Disabled: nowhere to send a replay, and nothing is sent.
    expect((await failure(() => replays.replayWebhookDelivery(first))).code).toBe('WEBHOOK_ENDPOINT_DISABLED');
    const refused = await failure(() => replays.replayWebhookDeliveries({ status: 'dead' }));
    expect([refused.code, refused.status]).toEqual(['WEBHOOK_ENDPOINT_DISABLED', 409]);

    await replays.setWebhookUrl(receiver.url); // enables it again
    expect(await replays.replayWebhookDelivery(first)).toEqual({ event_id: first, status: 'pending' });
    await expect.poll(() => statusOf(first), { timeout: 15_000 }).toBe('delivered');
    expect(received(first)).toBe(2);

    const second = await deadDelivery();
    await replays.setWebhookUrl(receiver.url);
    expect((await replays.listWebhookDeliveries({ status: 'dead' })).deliveries.map((d) => d.event_id)).toEqual([second]);
    expect(await replays.replayWebhookDeliveries({ status: 'dead' })).toEqual({ requeued: 1 });
    await expect.poll(() => statusOf(second), { timeout: 15_000 }).toBe('delivered');
    expect(received(second)).toBe(2);
    expect(await replays.replayWebhookDeliveries({ status: 'dead' })).toEqual({ requeued: 0 });

    // A time range given as Dates; a selection without since or status; no such event; a platform without a webhook URL.
    expect(await replays.replayWebhookDeliveries({ since: new Date(Date.now() + 3_600_000), until: new Date(Date.now() + 7_200_000) })).toEqual({ requeued: 0 });
    expect((await failure(() => replays.replayWebhookDeliveries({}))).code).toBe('WEBHOOK_REPLAY_INVALID');
    expect((await failure(() => replays.replayWebhookDeliveries({ until: new Date() }))).code).toBe('WEBHOOK_REPLAY_INVALID');
    expect((await failure(() => replays.replayWebhookDelivery(globalThis.crypto.randomUUID()))).code).toBe('WEBHOOK_DELIVERY_NOT_FOUND');
    expect((await failure(() => client.replayWebhookDelivery(first))).code).toBe('WEBHOOK_URL_NOT_SET');
  }, 60_000);
});

describe('delivery detail and event polling', () => {
  let events: IdbindClient;
  let eventsKey: string;
  let pseudonym: string;

  beforeAll(async () => {
    eventsKey = await createPlatform('SDK Events Net');
    events = new IdbindClient({ baseUrl: hub.url, apiKey: eventsKey, retry: { minDelayMs: 10 } });
    await events.setWebhookUrl(receiver.url);
    // Real binding changes: a verification, its unbinding, and a second verification.
    const verify = async (accountRef: string, phone: string) => {
      const started = await events.startVerification({ accountRef, phone });
      return events.confirmCode(started.id, await lastCode(phone));
    };
    // The receiver fails the first try of the first event, so its log holds a failure and a success.
    let failedOnce = false;
    receiver.answer = (r) => {
      if (!failedOnce && (JSON.parse(r.body) as { account_ref?: string }).account_ref === 'sdk-ev-1') {
        failedOnce = true;
        return 503;
      }
      return 204;
    };
    pseudonym = (await verify('sdk-ev-1', many(6))).pseudonym;
    await events.unbindAccount('sdk-ev-1');
    await verify('sdk-ev-2', many(7));
  }, 60_000);

  afterAll(() => {
    receiver.answer = 204;
  });

  /** Every event after `after`, page by page, until a page comes back empty. */
  async function pollAll(client: IdbindClient, limit: number, after?: string): Promise<{ pages: WebhookEvent[][]; cursor: string }> {
    const pages: WebhookEvent[][] = [];
    let cursor = after;
    for (;;) {
      const page = await client.listEvents({ after: cursor, limit });
      if (page.events.length === 0) {
        if (cursor !== undefined) expect(page.next_cursor).toBe(cursor); // an empty page keeps the position
        return { pages, cursor: page.next_cursor };
      }
      pages.push(page.events);
      cursor = page.next_cursor;
    }
  }

  it('polls the events oldest first, two a page, and then nothing more until a new change', async () => {
    // An event is listed once every older transaction has ended (its position is then final).
    await expect.poll(async () => (await events.listEvents({ limit: 10 })).events.length, { timeout: 10_000 }).toBe(3);
    const { pages, cursor } = await pollAll(events, 2);
    expect(pages.map((p) => p.length)).toEqual([2, 1]);
    const all = pages.flat() as AccountEvent[];
    expect(all.map((e) => [e.type, e.account_ref, e.status])).toEqual([
      ['account.verified', 'sdk-ev-1', 'verified'],
      ['account.unbound', 'sdk-ev-1', 'unverified'],
      ['account.verified', 'sdk-ev-2', 'verified'],
    ]);
    expect(all[0]).toEqual({
      id: expect.any(String), type: 'account.verified', account_ref: 'sdk-ev-1', status: 'verified', level: 'low', pseudonym,
      minor: false, since: expect.any(String), sequence: expect.any(Number), occurred_at: expect.any(String),
    });
    expect(all[1]!.sequence).toBeGreaterThan(all[0]!.sequence);
    expect(new Set(all.map((e) => e.id)).size).toBe(3);

    // Up to date: the cursor returns nothing until the next change, then exactly that change.
    expect((await events.listEvents({ after: cursor })).events).toEqual([]);
    const started = await events.startVerification({ accountRef: 'sdk-ev-1', phone: many(6) });
    await events.confirmCode(started.id, await lastCode(many(6)));
    await expect.poll(async () => (await events.listEvents({ after: cursor })).events.map((e) => [e.type, (e as AccountEvent).account_ref]), { timeout: 10_000 })
      .toEqual([['account.verified', 'sdk-ev-1']]);

    // Another provider's events never show; a cursor this API did not give is refused, not retried.
    const { pages: others } = await pollAll(client, 1000);
    expect(others.flat().length).toBeGreaterThan(0);
    for (const e of all) expect(others.flat().map((x) => x.id)).not.toContain(e.id);
    const { fetch: f, calls } = recordingFetch();
    const c = new IdbindClient({ baseUrl: hub.url, apiKey, fetch: f, retry: { minDelayMs: 10 } });
    expect(await failure(() => c.listEvents({ after: 'not-a-cursor' }))).toMatchObject({ code: 'WEBHOOK_CURSOR_INVALID', status: 400 });
    expect(calls).toHaveLength(1);
  }, 30_000);

  it("reads one delivery with its event and attempt log: a 503, then the retry's 204", async () => {
    const first = (await events.listEvents({ limit: 1 })).events[0]!;
    expect(first).toMatchObject({ type: 'account.verified', account_ref: 'sdk-ev-1' });
    // The first try failed; the retry schedule's first step is 5 s (with jitter).
    await expect.poll(async () => (await events.getWebhookDelivery(first.id)).status, { timeout: 20_000, interval: 500 }).toBe('delivered');
    const detail = await events.getWebhookDelivery(first.id);
    expect(detail).toMatchObject({
      event_id: first.id, type: 'account.verified', status: 'delivered', attempts: 2, next_attempt_at: null,
      last_status_code: 204, delivered_at: expect.any(String), created_at: expect.any(String),
    });
    // The event is the one polled and the one the receiver got, at each try.
    expect(detail.event).toEqual(first);
    const bodies = receiver.requests.filter((r) => r.headers['webhook-id'] === first.id).map((r) => JSON.parse(r.body) as unknown);
    expect(bodies).toEqual([first, first]);
    expect(detail.attempt_log).toEqual([
      { attempt: 1, status_code: 503, error: 'HTTP 503', duration_ms: expect.any(Number), at: expect.any(String) },
      { attempt: 2, status_code: 204, error: null, duration_ms: expect.any(Number), at: expect.any(String) },
    ]);
    expect(Date.parse(detail.attempt_log[1]!.at)).toBeGreaterThan(Date.parse(detail.attempt_log[0]!.at));

    // The log lists it too, and the other events' deliveries went through at the first try.
    const unbound = (await events.listEvents({ limit: 2 })).events[1]!;
    await expect.poll(async () => (await events.getWebhookDelivery(unbound.id)).attempt_log.map((a) => a.status_code), { timeout: 10_000 }).toEqual([204]);
    expect((await events.listWebhookDeliveries()).deliveries.map((d) => d.event_id)).toContain(first.id);
  }, 30_000);

  it("answers another provider's delivery, and an id that is no UUID, as WEBHOOK_DELIVERY_NOT_FOUND (404), not retried", async () => {
    const first = (await events.listEvents({ limit: 1 })).events[0]!;
    const { fetch: f, calls } = recordingFetch();
    const other = new IdbindClient({ baseUrl: hub.url, apiKey, fetch: f, retry: { minDelayMs: 10 } });
    expect(await failure(() => other.getWebhookDelivery(first.id))).toMatchObject({ code: 'WEBHOOK_DELIVERY_NOT_FOUND', status: 404 });
    expect(await failure(() => other.getWebhookDelivery('not-an-id'))).toMatchObject({ code: 'WEBHOOK_DELIVERY_NOT_FOUND', status: 404 });
    expect(await failure(() => events.getWebhookDelivery(globalThis.crypto.randomUUID()))).toMatchObject({ code: 'WEBHOOK_DELIVERY_NOT_FOUND' });
    expect(calls).toHaveLength(2);
  });

  it('repeats a delivery read and an events read after a 5xx', async () => {
    const first = (await events.listEvents({ limit: 1 })).events[0]!;
    const { fetch: f, calls } = recordingFetch((_url, _init, call) =>
      call % 2 === 1 ? Promise.resolve(new Response(JSON.stringify({ title: 'down', status: 502, code: 'INTERNAL' }), { status: 502, headers: { 'content-type': 'application/problem+json' } })) : undefined);
    const c = new IdbindClient({ baseUrl: hub.url, apiKey: eventsKey, fetch: f, retry: { minDelayMs: 1 } });
    expect((await c.getWebhookDelivery(first.id)).event_id).toBe(first.id);
    expect((await c.listEvents({ limit: 1 })).events.map((e) => e.id)).toEqual([first.id]);
    expect(calls.map((x) => x.status)).toEqual([502, 200, 502, 200]);
  });
});

describe('the OpenID client settings (GET/PUT /v1/provider/oidc-client, POST .../secret)', () => {
  it('answers OIDC_CLIENT_NOT_FOUND before the first PUT, creates the client with its secret once, changes it, and rotates the secret', async () => {
    const own = new IdbindClient({ baseUrl: hub.url, apiKey: await createPlatform('SDK OIDC Net'), retry: { minDelayMs: 10 } });
    const none = await failure(() => own.getOidcClient());
    expect([none.code, none.status]).toEqual(['OIDC_CLIENT_NOT_FOUND', 404]);
    expect((await failure(() => own.rotateOidcClientSecret())).code).toBe('OIDC_CLIENT_NOT_FOUND');

    const created = await own.setOidcClient({ redirectUris: ['https://sdk-oidc.example/callback'] });
    expect(created).toMatchObject({ redirect_uris: ['https://sdk-oidc.example/callback'], require_par: expect.any(Boolean), token_endpoint_auth_method: 'client_secret_basic' });
    expect(created.client_secret).toEqual(expect.any(String));
    expect(created.issuer).toEqual(expect.any(String));

    const read = await own.getOidcClient();
    expect(read.client_id).toBe(created.client_id);
    expect(read.client_secret).toBeUndefined();

    const changed = await own.setOidcClient({ requirePar: true, refreshTokens: true });
    expect(changed).toMatchObject({ redirect_uris: ['https://sdk-oidc.example/callback'], require_par: true, refresh_tokens: true });
    expect(changed.client_secret).toBeUndefined();

    const refused = await failure(() => own.setOidcClient({ redirectUris: ['https://sdk-oidc.example/cb#fragment'] }));
    expect([refused.code, refused.status]).toEqual(['OIDC_CLIENT_INVALID', 400]);
    expect(refused.detail).toContain('fragment');

    const { client_secret: secret } = await own.rotateOidcClientSecret();
    expect(secret).toEqual(expect.any(String));
    expect(secret).not.toBe(created.client_secret);
  });
});

describe('account refs that are URL dot segments ("." and "..")', () => {
  it('are refused by the hub when binding, and by the SDK before it would ask for another URL (fetch resolves /v1/accounts/.. to /v1/)', async () => {
    const own = new IdbindClient({ baseUrl: hub.url, apiKey: await createPlatform('SDK Dots Net'), retry: { minDelayMs: 10 } });
    for (const ref of ['.', '..']) {
      // Bound, such an account could never be read or unbound by its URL.
      const start = await failure(() => own.startVerification({ accountRef: ref, phone: many(12) }));
      expect(start).toMatchObject({ code: 'REQUEST_INVALID', status: 400 });
      for (const call of [() => own.getAccount(ref), () => own.unbindAccount(ref)]) {
        const refused = await failure(call);
        expect(refused).toMatchObject({ code: 'REQUEST_INVALID', status: 0 });
        expect(refused.detail).toContain('dot segment');
      }
    }
    // Dots inside a ref are fine.
    const started = await own.startVerification({ accountRef: '...', phone: many(12) });
    await own.confirmCode(started.id, await lastCode(many(12)));
    expect(await own.getAccount('...')).toMatchObject({ account_ref: '...', status: 'verified' });
  });
});
