/**
 * The phone verification API (issue 3) in-process on a real database, in demo mode (SMS to the
 * local outbox): the whole flow, each eligibility rule answering the one NUMBER_NOT_ELIGIBLE, the
 * code rules and their races, idempotency, rate limits, pseudonyms, status, unbinding, and
 * isolation between providers; the SMS text in one GSM-7 part for names of any script.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, startTestHub, type TestHub, type TestPlatform } from '../support/hub.ts';
import { many, N, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { startReconciliation } from '../../src/registry/reconciliation/reconciliation-service.ts';
import { flagBindingsOfSimChangedSubscriptions, revokeBindingsOfSubscriptions } from '../../src/bindings/binding-lifecycle.ts';

let hub: TestHub;
let admin: Record<string, string>;

type Platform = TestPlatform;
const createPlatform = (name: string, extra: Record<string, unknown> = {}): Promise<Platform> => createTestPlatform(hub, name, extra);

let zalo: Platform;
let other: Platform;

beforeAll(async () => {
  hub = await startTestHub({ demo: true, listen: false });
  admin = { authorization: `Bearer ${hub.adminToken}` };
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  await (await startReconciliation(hub.hub.pool, await hub.hub.ring(), 'test')).done;
  zalo = await createPlatform('Zalo Test');
  other = await createPlatform('Other Net');
});
afterAll(async () => hub.stop());

function start(p: Platform, accountRef: string, phone: string, key: string = randomUUID()) {
  return hub.app.inject({ method: 'POST', url: '/v1/verifications', headers: { ...p.auth, 'idempotency-key': key }, payload: { account_ref: accountRef, phone } });
}

async function outbox(phone: string): Promise<{ to: string; text: string; sent_at: string }[]> {
  const r = await hub.app.inject({ url: `/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}` });
  expect(r.statusCode).toBe(200);
  return r.json();
}

async function lastCode(phone: string): Promise<string> {
  const messages = await outbox(phone);
  const codes = messages.at(-1)!.text.match(/\b\d{6}\b/g);
  expect(codes).toHaveLength(1); // the code is the only 6-digit number in the text
  return codes![0]!;
}

function confirm(p: Platform, id: string, code: string) {
  return hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/confirm`, headers: p.auth, payload: { code } });
}

/** A code that is not the right one. */
function wrong(code: string): string {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

describe('a full phone verification', () => {
  it('sends a code naming the platform, binds on confirm, and answers status and the verification', async () => {
    const s = await start(zalo, 'user-1', '0912 000 001');
    expect(s.statusCode, s.body).toBe(201);
    expect(s.json()).toEqual({ id: expect.any(String), status: 'code_sent', expires_at: expect.any(String) });
    expect(Date.parse(s.json().expires_at) - Date.now()).toBeGreaterThan(250_000);
    const messages = await outbox(N.adult);
    expect(messages.at(-1)!.to).toBe(N.adult);
    expect(messages.at(-1)!.text).toContain('Zalo Test');
    const c = await confirm(zalo, s.json().id, await lastCode(N.adult));
    expect(c.statusCode, c.body).toBe(200);
    const bound = c.json();
    expect(bound).toEqual({ account_ref: 'user-1', status: 'verified', level: 'low', pseudonym: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), verified_at: expect.any(String) });
    // Nothing but status, level, pseudonym and time (DESIGN.md invariant 1).
    expect(Object.keys(bound).sort()).toEqual(['account_ref', 'level', 'pseudonym', 'status', 'verified_at']);

    const st = await hub.app.inject({ url: '/v1/accounts/user-1', headers: zalo.auth });
    expect(st.json()).toEqual({ account_ref: 'user-1', status: 'verified', level: 'low', pseudonym: bound.pseudonym, since: expect.any(String), minor: false });
    const v = await hub.app.inject({ url: `/v1/verifications/${s.json().id}`, headers: zalo.auth });
    expect(v.json()).toMatchObject({ status: 'verified', result: { pseudonym: bound.pseudonym, level: 'low', account_ref: 'user-1' } });

    // Stored state: the binding, its event in the outbox, and the person's access record.
    const db = hub.hub.pool;
    const acc = await db.query(`SELECT status, method, level, sequence FROM accounts WHERE provider_id = $1 AND account_ref = 'user-1'`, [zalo.id]);
    expect(acc.rows).toEqual([{ status: 'verified', method: 'phone', level: 'low', sequence: '1' }]);
    const ev = await db.query(`SELECT type, payload FROM events WHERE provider_id = $1 AND payload->>'account_ref' = 'user-1'`, [zalo.id]);
    expect(ev.rows).toHaveLength(1);
    expect(ev.rows[0].type).toBe('account.verified');
    expect(ev.rows[0].payload).toMatchObject({ type: 'account.verified', status: 'verified', level: 'low', pseudonym: bound.pseudonym, sequence: 1 });
    const access = await db.query(`SELECT purpose FROM access_records WHERE purpose = 'account_binding' AND detail->>'account_ref' = 'user-1'`);
    expect(access.rows).toHaveLength(1);
    const code = await db.query(`SELECT code_hmac, sealed FROM verifications WHERE id = $1`, [s.json().id]);
    expect(code.rows[0].code_hmac).toHaveLength(32);
    expect(code.rows[0].sealed).toBeNull(); // the number is dropped once the verification ends
  });

  it('gives one person the same pseudonym for two accounts on one platform, and an unrelated one elsewhere', async () => {
    const a = await start(zalo, 'user-2', N.adult2);
    const b = await confirm(zalo, a.json().id, await lastCode(N.adult2));
    const first = (await hub.app.inject({ url: '/v1/accounts/user-1', headers: zalo.auth })).json().pseudonym;
    expect(b.json().pseudonym).toBe(first);
    const o = await start(other, 'someone', N.adult3);
    const ob = await confirm(other, o.json().id, await lastCode(N.adult3));
    expect(ob.json().pseudonym).not.toBe(first);
    expect(ob.json().pseudonym).toHaveLength(22);
  });
});

describe('the SMS text', () => {
  // GSM 03.38 (3GPP TS 23.038 section 6.2.1): the default alphabet without ESC; 160 of them are one part.
  const GSM7 = new Set([...'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà']);

  it('fits one GSM-7 part for the longest Vietnamese name, another script and full-width digits', async () => {
    const cases: [name: string, phone: string, shown: string][] = [
      ['Mạng Xã Hội Đường Phố Ẩm Thực Hà Nội Sài Gòn Cần Thơ Huế Ý Ở', many(16), 'minh Mang Xa Hoi Duong Pho Am Thuc Ha Noi Sai... cua ban'],
      ['微博 Weibo', many(17), 'minh ? Weibo cua ban'],
      ['Ｓｈｏｐ １２３４５', many(18), 'minh Shop 12345 cua ban'],
    ];
    for (const [name, phone, shown] of cases) {
      const p = await createPlatform(name); // accepted by the provider validation as it is
      const s = await start(p, 'sms-text', phone);
      expect(s.statusCode, s.body).toBe(201);
      const text = (await outbox(phone)).at(-1)!.text;
      expect(text).toContain(shown);
      expect(text.length).toBeLessThanOrEqual(160);
      expect([...text].filter((c) => !GSM7.has(c))).toEqual([]);
      expect(text.match(/\d{6,}/g)).toHaveLength(1);
      expect((await confirm(p, s.json().id, await lastCode(phone))).statusCode).toBe(200);
    }
  });
});

describe('eligibility: one answer for every reason, and no code sent', () => {
  const cases: [string, string, string][] = [
    ['no subscription', N.unknown, 'no_subscription'],
    ['subscription blocked', N.blocked, 'subscription_not_active'],
    ['no holder recorded', N.noHolder, 'no_holder'],
    ['holder not in the registry', N.holderUnknown, 'holder_not_found'],
    ['holder deceased', N.deceased, 'holder_deceased'],
    ['SIM changed within 72 h', N.simChanged, 'recent_sim_change'],
    ['device changed within 72 h', N.deviceChanged, 'recent_device_change'],
    ['holder\'s name and birth date not the registry\'s (checked without waiting for a reconciliation)', N.mismatch, 'holder_data_mismatch'],
    ['in a junk-SIM category of the latest reconciliation', N.onlineBeyondLimit, 'junk_sim'],
  ];
  const bodies: string[] = [];
  for (const [what, phone, reason] of cases) {
    it(`${what}: NUMBER_NOT_ELIGIBLE, the reason counted internally only`, async () => {
      const r = await start(zalo, `inel-${reason}`, phone);
      expect(r.statusCode, r.body).toBe(422);
      expect(r.json()).toMatchObject({ code: 'NUMBER_NOT_ELIGIBLE', status: 422 });
      expect(r.body).not.toContain(reason);
      bodies.push(r.body);
      expect(new Set(bodies).size).toBe(1); // byte-identical answers
      expect(await outbox(phone)).toEqual([]);
      const stats = (await hub.app.inject({ url: '/v1/admin/verification-stats', headers: admin })).json();
      expect(stats.days.at(-1).failed[`not_eligible:${reason}`]).toBeGreaterThanOrEqual(1);
    });
  }

  it('accepts a SIM change older than the window', async () => {
    const r = await start(zalo, 'old-sim', N.oldSimChange);
    expect(r.statusCode, r.body).toBe(201);
  });

  it("shows the platform only not_eligible in its own statistics", async () => {
    const r = await hub.app.inject({ url: '/v1/provider/verification-stats', headers: zalo.auth });
    const today = r.json().days.at(-1);
    expect(today.failed.not_eligible).toBeGreaterThanOrEqual(cases.length);
    expect(Object.keys(today.failed).join(',')).not.toMatch(/deceased|sim|holder|junk/);
    expect(today.started).toBeGreaterThan(0);
    expect(today.confirmed).toBeGreaterThan(0);
  });

  it('answers a malformed or non-mobile number with PHONE_INVALID, and never echoes it', async () => {
    for (const phone of ['12345', '+842438253456', '+14155550100', '0912-000-00x']) {
      const r = await start(zalo, 'bad-number', phone);
      expect(r.statusCode).toBe(400);
      expect(r.json().code).toBe('PHONE_INVALID');
      expect(r.body).not.toContain(phone);
    }
  });

  it('refuses a bad account_ref and a missing Idempotency-Key', async () => {
    const r = await start(zalo, 'has space', N.adult);
    expect(r.json().code).toBe('REQUEST_INVALID');
    const k = await hub.app.inject({ method: 'POST', url: '/v1/verifications', headers: zalo.auth, payload: { account_ref: 'x', phone: N.adult } });
    expect(k.statusCode).toBe(400);
    expect(k.json().code).toBe('IDEMPOTENCY_KEY_REQUIRED');
  });
});

describe('idempotency keys', () => {
  it('replays the first answer for the same key and body, refuses another body, sends one code', async () => {
    const key = randomUUID();
    const before = (await outbox(many(0))).length;
    const a = await start(zalo, 'idem-1', many(0), key);
    const b = await start(zalo, 'idem-1', many(0), key);
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(b.json()).toEqual(a.json());
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect((await outbox(many(0))).length).toBe(before + 1);
    const c = await start(zalo, 'idem-2', many(0), key);
    expect(c.statusCode).toBe(422);
    expect(c.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    // Keys are per provider: another provider may use the same key.
    const d = await start(other, 'idem-1', many(1), key);
    expect(d.statusCode).toBe(201);
  });

  it('replays a retry whose JSON members come in another order; refuses the same members with another value', async () => {
    const key = randomUUID();
    const send = (text: string) => hub.app.inject({
      method: 'POST', url: '/v1/verifications', headers: { ...zalo.auth, 'idempotency-key': key, 'content-type': 'application/json' }, payload: text,
    });
    const before = (await outbox(many(16))).length;
    const a = await send(JSON.stringify({ account_ref: 'idem-order', phone: many(16) }));
    expect(a.statusCode, a.body).toBe(201);
    // The same request as another JSON library writes it: members reversed, whitespace between.
    const b = await send(`{ "phone": ${JSON.stringify(many(16))},\n  "account_ref": "idem-order" }`);
    expect(b.statusCode, b.body).toBe(201);
    expect(b.json()).toEqual(a.json());
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect((await outbox(many(16))).length).toBe(before + 1);
    // The same members in that order, one value changed: another request.
    const c = await send(`{"phone": ${JSON.stringify(many(16))}, "account_ref": "idem-order-2"}`);
    expect(c.statusCode).toBe(422);
    expect(c.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('replays a refusal too', async () => {
    const key = randomUUID();
    const a = await start(zalo, 'idem-3', N.deceased, key);
    const b = await start(zalo, 'idem-3', N.deceased, key);
    expect(a.json().code).toBe('NUMBER_NOT_ELIGIBLE');
    expect(b.json()).toEqual(a.json());
    // Marked as a replay like a replayed success, so a platform can tell the retry ran nothing.
    expect(a.headers['idempotent-replayed']).toBeUndefined();
    expect(b.headers['idempotent-replayed']).toBe('true');
  });
});

describe('one-time codes', () => {
  it('allows 5 wrong codes, then TOO_MANY_ATTEMPTS (409), after which the right code fails too', async () => {
    const s = await start(zalo, 'brute-1', many(2));
    const code = await lastCode(many(2));
    for (let i = 1; i <= 4; i++) {
      const r = await confirm(zalo, s.json().id, wrong(code));
      expect(r.statusCode).toBe(422);
      expect(r.json()).toMatchObject({ code: 'CODE_INVALID', attempts_remaining: 5 - i });
    }
    const fifth = await confirm(zalo, s.json().id, wrong(code));
    expect(fifth.statusCode).toBe(409);
    expect(fifth.json().code).toBe('TOO_MANY_ATTEMPTS');
    const right = await confirm(zalo, s.json().id, code);
    expect(right.statusCode).toBe(409);
    expect(right.json().code).toBe('TOO_MANY_ATTEMPTS');
    expect((await hub.app.inject({ url: '/v1/accounts/brute-1', headers: zalo.auth })).json().status).toBe('unverified');
  });

  it('evaluates at most 5 of many parallel wrong guesses', async () => {
    const s = await start(zalo, 'brute-2', many(3));
    const code = await lastCode(many(3));
    const guesses = Array.from({ length: 30 }, (_, i) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0'));
    const answers = await Promise.all(guesses.map((g) => confirm(zalo, s.json().id, g)));
    const codes = answers.map((a) => a.json().code);
    expect(codes.filter((c) => c === 'CODE_INVALID')).toHaveLength(4);
    expect(codes.filter((c) => c === 'TOO_MANY_ATTEMPTS')).toHaveLength(26);
    const row = await hub.hub.pool.query('SELECT attempts, status FROM verifications WHERE id = $1', [s.json().id]);
    expect(row.rows[0]).toEqual({ attempts: 5, status: 'failed' });
  });

  it('binds exactly once when the right code is confirmed many times at once', async () => {
    const s = await start(zalo, 'race-1', many(4));
    const code = await lastCode(many(4));
    const answers = await Promise.all(Array.from({ length: 12 }, () => confirm(zalo, s.json().id, code)));
    expect(answers.filter((a) => a.statusCode === 200)).toHaveLength(1);
    for (const a of answers.filter((x) => x.statusCode !== 200)) expect(['VERIFICATION_COMPLETED', 'TOO_MANY_ATTEMPTS']).toContain(a.json().code);
    const ev = await hub.hub.pool.query(`SELECT count(*)::int AS n FROM events WHERE provider_id = $1 AND payload->>'account_ref' = 'race-1'`, [zalo.id]);
    expect(ev.rows[0].n).toBe(1);
    const again = await confirm(zalo, s.json().id, code);
    expect(again.json().code).toBe('VERIFICATION_COMPLETED');
  });

  it('expires a code after 5 minutes (410 CODE_EXPIRED)', async () => {
    const s = await start(zalo, 'late-1', many(5));
    const code = await lastCode(many(5));
    await hub.hub.pool.query(`UPDATE verifications SET code_expires_at = now() - interval '1 second' WHERE id = $1`, [s.json().id]);
    const r = await confirm(zalo, s.json().id, code);
    expect(r.statusCode).toBe(410);
    expect(r.json().code).toBe('CODE_EXPIRED');
    expect((await hub.app.inject({ url: `/v1/verifications/${s.json().id}`, headers: zalo.auth })).json().status).toBe('expired');
  });

  it('resends within limits: not too soon, a new code replaces the old, attempts are kept', async () => {
    const s = await start(zalo, 'resend-1', many(6));
    const id = s.json().id;
    const first = await lastCode(many(6));
    expect((await confirm(zalo, id, wrong(first))).json().attempts_remaining).toBe(4);
    const soon = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/resend`, headers: zalo.auth });
    expect(soon.statusCode).toBe(429);
    expect(soon.json().code).toBe('RESEND_TOO_SOON');
    expect(Number(soon.headers['retry-after'])).toBeGreaterThan(0);
    await hub.hub.pool.query(`UPDATE verifications SET last_sent_at = now() - interval '31 seconds' WHERE id = $1`, [id]);
    const again = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${id}/resend`, headers: zalo.auth });
    expect(again.statusCode, again.body).toBe(200);
    const second = await lastCode(many(6));
    expect((await outbox(many(6))).length).toBe(2);
    if (second !== first) {
      const old = await confirm(zalo, id, first);
      expect(old.json()).toMatchObject({ code: 'CODE_INVALID', attempts_remaining: 3 });
    }
    const ok = await confirm(zalo, id, second);
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('refuses a code that is not 6 digits without counting it', async () => {
    const s = await start(zalo, 'fmt-1', many(7));
    const r = await confirm(zalo, s.json().id, '12ab');
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('CODE_MALFORMED');
    expect((await hub.app.inject({ url: `/v1/verifications/${s.json().id}`, headers: zalo.auth })).json().attempts_remaining).toBe(5);
  });
});

describe('people and limits', () => {
  it('answers GUARDIAN_REQUIRED for a person under 16 after the right code, and binds nothing', async () => {
    const s = await start(zalo, 'kid-1', N.minor);
    expect(s.statusCode, s.body).toBe(201);
    const r = await confirm(zalo, s.json().id, await lastCode(N.minor));
    expect(r.statusCode).toBe(403);
    expect(r.json().code).toBe('GUARDIAN_REQUIRED');
    expect((await hub.app.inject({ url: '/v1/accounts/kid-1', headers: zalo.auth })).json().status).toBe('unverified');
    expect((await hub.app.inject({ url: `/v1/verifications/${s.json().id}`, headers: zalo.auth })).json().status).toBe('guardian_required');
    // No pseudonym either: one exists for a person at a platform only once an account is bound.
    const left = await hub.hub.pool.query(
      'SELECT count(*)::int AS n FROM pseudonyms ps JOIN verifications v ON v.person_id = ps.person_id AND v.provider_id = ps.provider_id WHERE v.id = $1', [s.json().id]);
    expect(left.rows[0].n).toBe(0);
  });

  it('refuses a confirmation after a SIM swap between the code and the confirmation', async () => {
    const s = await start(zalo, 'swap-1', many(15));
    const code = await lastCode(many(15));
    await hub.hub.pool.query(
      `UPDATE subscriptions SET sim_changed_at = now() WHERE id = (SELECT subscription_id FROM verifications WHERE id = $1)`, [s.json().id]);
    const r = await confirm(zalo, s.json().id, code);
    expect(r.statusCode).toBe(422);
    expect(r.json().code).toBe('NUMBER_NOT_ELIGIBLE');
    expect((await hub.app.inject({ url: '/v1/accounts/swap-1', headers: zalo.auth })).json().status).toBe('unverified');
  });

  it("enforces the provider's accounts-per-person limit", async () => {
    const small = await createPlatform('Small Net', { limits: { accounts_per_person: 1 } });
    const a = await start(small, 'acct-a', many(8));
    expect((await confirm(small, a.json().id, await lastCode(many(8)))).statusCode).toBe(200);
    const b = await start(small, 'acct-b', many(9));
    expect(b.statusCode).toBe(422);
    expect(b.json().code).toBe('NUMBER_NOT_ELIGIBLE');
    // Re-verifying the same account is not a second account.
    const again = await start(small, 'acct-a', many(10));
    expect(again.statusCode, again.body).toBe(201);
  });

  it('rate-limits starts per number (5 per hour) with Retry-After', async () => {
    const phone = many(11);
    for (let i = 0; i < 5; i++) expect((await start(zalo, `rl-${i}`, phone)).statusCode).toBe(201);
    const r = await start(zalo, 'rl-6', phone);
    expect(r.statusCode).toBe(429);
    expect(r.json()).toMatchObject({ code: 'RATE_LIMITED', limit: 'number' });
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
  });

  it("spends the provider's daily SMS budget", async () => {
    const tight = await createPlatform('Tight Net', { limits: { sms_per_day: 1 } });
    expect((await start(tight, 'b-1', many(12))).statusCode).toBe(201);
    const r = await start(tight, 'b-2', many(13));
    expect(r.statusCode).toBe(429);
    expect(r.json().code).toBe('SMS_BUDGET_EXHAUSTED');
  });
});

describe('status, bulk status and unbinding', () => {
  it('answers unknown accounts as unverified, in bulk in the order asked, and refuses more than 10,000 as JSON', async () => {
    const r = await hub.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: zalo.auth, payload: { account_refs: ['nobody', 'user-1', 'user-2'] } });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json().accounts.map((a: { account_ref: string; status: string }) => [a.account_ref, a.status])).toEqual([['nobody', 'unverified'], ['user-1', 'verified'], ['user-2', 'verified']]);
    const many = Array.from({ length: 10_001 }, (_, i) => `a${i}`);
    const big = await hub.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: zalo.auth, payload: { account_refs: many } });
    expect(big.statusCode).toBe(413);
    expect(big.json().code).toBe('BULK_TOO_LARGE');
  });

  it('streams NDJSON statuses for NDJSON input of any size, bad lines answered in place', async () => {
    const lines = [...Array.from({ length: 2500 }, (_, i) => JSON.stringify({ account_ref: `n${i}` })), 'not json', JSON.stringify({ account_ref: 'user-1' }), 'x'.repeat(100_000), '"user-1"'];
    const r = await hub.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: { ...zalo.auth, 'content-type': 'application/x-ndjson' }, payload: lines.join('\n') + '\n' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('application/x-ndjson');
    const out = r.body.trim().split('\n').map((l) => JSON.parse(l));
    expect(out).toHaveLength(2504);
    expect(out[0]).toMatchObject({ account_ref: 'n0', status: 'unverified' });
    expect(out[2500]).toMatchObject({ line: 2501, code: 'REQUEST_INVALID' });
    expect(out[2501]).toMatchObject({ account_ref: 'user-1', status: 'verified' });
    expect(out[2502]).toMatchObject({ line: 2503, code: 'REQUEST_INVALID' }); // a line over 4 KiB, never buffered whole
    expect(out[2503]).toMatchObject({ account_ref: 'user-1', status: 'verified' });
  });

  it('unbinds a closed account: status unverified, an account.unbound event, idempotent', async () => {
    const d = await hub.app.inject({ method: 'DELETE', url: '/v1/accounts/user-2', headers: zalo.auth });
    expect(d.statusCode).toBe(204);
    expect((await hub.app.inject({ url: '/v1/accounts/user-2', headers: zalo.auth })).json()).toMatchObject({ status: 'unverified', pseudonym: null });
    const ev = await hub.hub.pool.query(`SELECT payload FROM events WHERE provider_id = $1 AND type = 'account.unbound'`, [zalo.id]);
    expect(ev.rows.map((r) => r.payload)).toEqual([expect.objectContaining({ account_ref: 'user-2', status: 'unverified', sequence: 2 })]);
    expect((await hub.app.inject({ method: 'DELETE', url: '/v1/accounts/user-2', headers: zalo.auth })).statusCode).toBe(204);
    expect((await hub.app.inject({ method: 'DELETE', url: '/v1/accounts/never-seen', headers: zalo.auth })).json().code).toBe('ACCOUNT_NOT_FOUND');
  });
});

describe('account events agree with the status read', () => {
  /**
   * The account's last event, and the status read once it shows the event's status (a change
   * made on another connection reaches this hub's status cache by notification, within
   * milliseconds): the fields a platform keeps from either.
   */
  async function eventAndStatus(p: Platform, ref: string) {
    const ev = await hub.hub.pool.query<{ type: string; payload: Record<string, unknown> }>(
      `SELECT type, payload FROM events WHERE provider_id = $1 AND payload->>'account_ref' = $2 ORDER BY (payload->>'sequence')::int DESC LIMIT 1`, [p.id, ref],
    );
    const end = Date.now() + 60_000;
    let read: Record<string, unknown>;
    do read = (await hub.app.inject({ url: `/v1/accounts/${ref}`, headers: p.auth })).json() as Record<string, unknown>;
    while (read.status !== ev.rows[0]!.payload.status && Date.now() < end && (await new Promise((r) => setTimeout(r, 5)), true));
    const { payload } = ev.rows[0]!;
    const pick = (o: Record<string, unknown>) => ({ account_ref: o.account_ref, status: o.status, level: o.level, pseudonym: o.pseudonym, since: o.since, minor: o.minor });
    return { type: ev.rows[0]!.type, event: pick(payload), read, status: pick(read) };
  }

  it('carries, for every account event, exactly the status, level, pseudonym, since and minor that GET /v1/accounts/{ref} answers after it', async () => {
    const s = await start(zalo, 'agree-1', many(17));
    expect((await confirm(zalo, s.json().id, await lastCode(many(17)))).statusCode).toBe(200);
    const verified = await eventAndStatus(zalo, 'agree-1');
    expect(verified.type).toBe('account.verified');
    expect(verified.event).toEqual(verified.status);
    expect(verified.read).toMatchObject({ status: 'verified', level: 'low', pseudonym: expect.any(String), since: expect.any(String) });

    // The registry's changes (a SIM change, then a termination) through binding-lifecycle, on another connection, as an import makes them.
    const sub = (await hub.hub.pool.query<{ subscription_id: string }>(`SELECT subscription_id FROM accounts WHERE provider_id = $1 AND account_ref = 'agree-1'`, [zalo.id])).rows[0]!.subscription_id;
    await hub.hub.pool.query('UPDATE subscriptions SET sim_changed_at = now() WHERE id = $1', [sub]);
    await flagBindingsOfSimChangedSubscriptions(hub.hub.pool, [sub]);
    const flagged = await eventAndStatus(zalo, 'agree-1');
    expect(flagged.type).toBe('account.needs_reverification');
    expect(flagged.event).toEqual(flagged.status);
    await revokeBindingsOfSubscriptions(hub.hub.pool, [sub], 'terminated');
    const revoked = await eventAndStatus(zalo, 'agree-1');
    expect(revoked.type).toBe('account.revoked');
    expect(revoked.event).toEqual(revoked.status);
    expect(revoked.status).toMatchObject({ level: 'low', pseudonym: verified.status.pseudonym });

    // Unbound: unverified, no level, no pseudonym, not a minor; since is when it was unbound.
    const before = Date.now();
    expect((await hub.app.inject({ method: 'DELETE', url: '/v1/accounts/agree-1', headers: zalo.auth })).statusCode).toBe(204);
    const unbound = await eventAndStatus(zalo, 'agree-1');
    expect(unbound.type).toBe('account.unbound');
    expect(unbound.event).toEqual(unbound.status);
    expect(unbound.status).toEqual({ account_ref: 'agree-1', status: 'unverified', level: null, pseudonym: null, since: expect.any(String), minor: false });
    expect(Date.parse(unbound.status.since as string)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(unbound.status.since as string)).toBeGreaterThan(Date.parse(revoked.status.since as string));
    // Never bound: unverified with since null (and no event).
    expect((await hub.app.inject({ url: '/v1/accounts/agree-never', headers: zalo.auth })).json()).toEqual({ account_ref: 'agree-never', status: 'unverified', level: null, pseudonym: null, since: null, minor: false });
  });
});

describe('isolation between providers', () => {
  it("never shows or changes another provider's verifications and accounts", async () => {
    const s = await start(zalo, 'private-1', many(14));
    const id = s.json().id;
    const code = await lastCode(many(14));
    for (const req of [
      { method: 'GET' as const, url: `/v1/verifications/${id}` },
      { method: 'POST' as const, url: `/v1/verifications/${id}/resend` },
      { method: 'POST' as const, url: `/v1/verifications/${id}/confirm`, payload: { code } },
    ]) {
      const r = await hub.app.inject({ ...req, headers: other.auth });
      expect(r.statusCode, req.url).toBe(404);
      expect(r.json().code).toBe('VERIFICATION_NOT_FOUND');
    }
    expect((await hub.app.inject({ url: '/v1/accounts/user-1', headers: other.auth })).json()).toMatchObject({ status: 'unverified', pseudonym: null });
    const bulk = await hub.app.inject({ method: 'POST', url: '/v1/accounts/status', headers: other.auth, payload: { account_refs: ['user-1'] } });
    expect(bulk.json().accounts[0].status).toBe('unverified');
    expect((await hub.app.inject({ method: 'DELETE', url: '/v1/accounts/user-1', headers: other.auth })).statusCode).toBe(404);
    expect((await hub.app.inject({ url: '/v1/accounts/user-1', headers: zalo.auth })).json().status).toBe('verified');
    // The rightful owner can still finish.
    expect((await confirm(zalo, id, code)).statusCode).toBe(200);
  });

  it('refuses missing, malformed and unknown keys, and carriers on the platform routes', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer idbk_${'A'.repeat(43)}` }]) {
      const r = await hub.app.inject({ url: '/v1/accounts/user-1', headers });
      expect(r.statusCode).toBe(401);
      expect(r.json().code).toBe('API_KEY_INVALID');
    }
    const carrier = await hub.app.inject({ method: 'POST', url: '/v1/admin/providers', headers: admin, payload: { name: 'Carrier Co', kind: 'carrier', carrier: 'carrierco' } });
    const r = await hub.app.inject({ url: '/v1/accounts/user-1', headers: { authorization: `Bearer ${carrier.json().api_key}` } });
    expect(r.statusCode).toBe(403);
    expect(r.json().code).toBe('PROVIDER_KIND_FORBIDDEN');
  });
});
