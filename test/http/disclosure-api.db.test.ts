/**
 * Issue 5 "Done means", over HTTP against the running hub: a requester files a request for one
 * account, an approver of the same authority is refused, an approver of another authority
 * approves, the log grows, the release carries proof bundles that `idbind log verify` (the real
 * binary) accepts offline (and refuses when tampered), the live log verifies with `--url`, the
 * report counts the request, and the person's view lists the disclosure.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { N, PEOPLE, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { openOfficialSession } from '../../src/officials/official-auth.ts';
import { findPersonIdByPersonalId } from '../../src/registry/registry-lookup.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
let hub: TestHub;
let dir: string;
let platform: { id: string; key: string };
const cookie: Record<string, string> = {};

function idbind(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, HOME: dir }, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      res({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** An admin API answer, read loosely: the assertions say what it must hold. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Answer = Record<string, any>;

async function admin(path: string, body: unknown): Promise<Answer> {
  const r = await hub.app.inject({ method: 'POST', url: path, headers: { authorization: `Bearer ${hub.adminToken}` }, payload: body as object });
  expect(r.statusCode, r.body).toBeLessThan(300);
  return r.json();
}

function as(who: string, method: 'GET' | 'POST', url: string, payload?: unknown) {
  return hub.app.inject({ method, url, headers: { cookie: cookie[who]! }, ...(payload === undefined ? {} : { payload: payload as object }) });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'idbind-disclosure-api-'));
  hub = await startTestHub({ demo: true });
  await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  const created = await admin('/v1/admin/providers', { name: 'Disclosure Net', kind: 'platform' });
  platform = { id: created.provider?.id ?? created.id, key: created.api_key };
  // The account, verified through the phone API.
  const started = await hub.app.inject({
    method: 'POST', url: '/v1/verifications', headers: { authorization: `Bearer ${platform.key}`, 'idempotency-key': 'k-1' }, payload: { account_ref: 'troll-1', phone: N.adult },
  });
  expect(started.statusCode, started.body).toBe(201);
  const outbox = (await hub.app.inject({ url: `/v1/dev/sms-outbox?to=${encodeURIComponent(N.adult)}` })).json() as { text: string }[];
  const code = /\b\d{6}\b/.exec(outbox.at(-1)!.text)![0];
  const confirmed = await hub.app.inject({ method: 'POST', url: `/v1/verifications/${started.json().id}/confirm`, headers: { authorization: `Bearer ${platform.key}` }, payload: { code } });
  expect(confirmed.statusCode, confirmed.body).toBe(200);

  const police = (await admin('/v1/admin/authorities', { name: 'Police (test)', kind: 'police' })).authority;
  const procuracy = (await admin('/v1/admin/authorities', { name: 'Procuracy (test)', kind: 'procuracy' })).authority;
  for (const [who, authority, roles] of [['requester', police, ['requester']], ['policeApprover', police, ['approver']], ['approver', procuracy, ['approver']]] as const) {
    const o = await admin('/v1/admin/officials', { authority_id: authority.id, name: who, roles });
    cookie[who] = await openOfficialSession(hub.hub.pool, o.official.id);
  }
}, 120_000);
afterAll(async () => {
  await hub?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a disclosure, end to end', () => {
  it('is filed, refused to the same authority, approved by another, logged, released with proofs that idbind log verify accepts, and counted', async () => {
    const providers = await as('requester', 'GET', '/v1/authority/providers');
    expect(providers.json().providers).toEqual(expect.arrayContaining([{ id: platform.id, name: 'Disclosure Net', kind: 'platform' }]));
    const before = (await hub.app.inject({ url: '/log/checkpoint' })).body;
    const filed = await as('requester', 'POST', '/v1/authority/requests', {
      provider_id: platform.id, account_ref: 'troll-1', legal_basis: 'Bộ luật Tố tụng hình sự 2015, Điều 88', case_reference: 'CA-2026-7',
      reasons: 'Repeated threats against a journalist; the holder must be summoned.', asks: ['identity'],
    });
    expect(filed.statusCode, filed.body).toBe(201);
    const id = filed.json().id as string;
    expect(filed.json()).toMatchObject({ status: 'submitted', account_ref: 'troll-1', approver: null });
    expect(JSON.stringify(filed.json())).not.toContain(PEOPLE.adult);

    const same = await as('policeApprover', 'POST', `/v1/authority/requests/${id}/approve`);
    expect(same.statusCode).toBe(403);
    expect(same.json().code).toBe('DISCLOSURE_SAME_AUTHORITY');
    const byRequester = await as('requester', 'POST', `/v1/authority/requests/${id}/approve`);
    expect(byRequester.statusCode).toBe(403);
    const nobody = await hub.app.inject({ method: 'POST', url: `/v1/authority/requests/${id}/approve` });
    expect(nobody.statusCode).toBe(401);

    const approved = await as('approver', 'POST', `/v1/authority/requests/${id}/approve`);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'released', approver: { authority: { name: 'Procuracy (test)' } } });
    const after = (await hub.app.inject({ url: '/log/checkpoint' })).body;
    expect(Number(after.split('\n')[1])).toBeGreaterThanOrEqual(Number(before.split('\n')[1] ?? 0) + 3);

    const release = await as('requester', 'GET', `/v1/authority/requests/${id}/release`);
    expect(release.statusCode, release.body).toBe(200);
    expect(release.json().identity).toEqual({ full_name: 'Nguyễn Văn An', personal_id: PEOPLE.adult, birth_date: '1990-05-01' });
    expect((await as('approver', 'GET', `/v1/authority/requests/${id}/release`)).statusCode).toBe(403); // not a requester

    // The proof bundle, checked offline by the real binary with the log's verifier key.
    const vkey = (await hub.app.inject({ url: '/log/vkey' })).body.trim();
    const file = join(dir, 'approved.proof');
    writeFileSync(file, release.json().proofs.approved);
    const ok = await idbind(['log', 'verify', '--proof', file, '--vkey', vkey]);
    expect(ok.status, ok.stderr).toBe(0);
    const tampered = join(dir, 'tampered.proof');
    // The opening rides base64-encoded on the bundle's `extra` line: change the case reference in its record.
    const lines = readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.startsWith('extra '));
    const extra = JSON.parse(Buffer.from(lines[at]!.slice(6), 'base64').toString('utf8')) as { opening: { record: { case_reference: string } } };
    expect(extra.opening.record.case_reference).toBe('CA-2026-7');
    extra.opening.record.case_reference = 'CA-2026-8';
    lines[at] = `extra ${Buffer.from(JSON.stringify(extra)).toString('base64')}`;
    writeFileSync(tampered, lines.join('\n'));
    expect((await idbind(['log', 'verify', '--proof', tampered, '--vkey', vkey])).status).not.toBe(0);

    // The live log: signature, tiles and root, and consistency with what this verifier saw before.
    const live = await idbind(['log', 'verify', '--url', hub.url, '--vkey', vkey, '--state', join(dir, 'state.json')]);
    expect(live.status, live.stderr + live.stdout).toBe(0);

    // The person's view lists it (not sealed), with the proofs; the report counts it.
    const { disclosuresOfPerson } = await import('../../src/disclosure/disclosure-service.ts');
    const personId = (await findPersonIdByPersonalId(hub.hub.pool, await hub.hub.ring(), PEOPLE.adult))!;
    const seen = await disclosuresOfPerson({ pool: hub.hub.pool, ring: () => hub.hub.ring(), log: undefined }, personId);
    expect(seen).toMatchObject([{ id, authority: 'Police (test)', case_reference: 'CA-2026-7' }]);
    const report = (await hub.app.inject({ url: '/v1/transparency/report' })).json();
    expect(report.by_authority).toEqual([expect.objectContaining({ authority: expect.objectContaining({ name: 'Police (test)' }), requests: 1, approved: 1, accounts_affected: 1 })]);
    expect(report.checkpoint).toContain('\n');
  });
});
