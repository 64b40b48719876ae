/**
 * Browser test of the citizen portal (issue 5 "The person's own view") in Debian's Chromium at
 * 360 px, against the real hub in demo mode with the hand-written verification registry:
 *
 * - signed out, `/citizen` offers "sign in with your phone" and "sign in with national eID";
 * - the phone sign-in goes through the hosted verification by keyboard with the code of the demo
 *   SMS outbox and comes back signed in at `low`: the accounts (one bound to Sen Social through
 *   the phone API beforehand) and the SIMs in the person's name; one account unbound (confirmed
 *   first), one SIM reported (confirmed first: the carrier's action list then has it as
 *   REPORTED_BY_HOLDER); the disclosures section says the eID is needed;
 * - the national eID sign-in (the demo's local test eID, level substantial) shows the full
 *   access history (the unbinding among it) and the disclosures section; the export downloads.
 *
 * The hub registers the portal's routes (src/server.ts); until it does, this test registers them
 * on the hub's server before it listens (the same call server.ts makes), so it passes either way.
 * Without Chromium it fails (see test/support/browser.ts) unless IDBIND_SKIP_BROWSER=1.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, skipBrowser, type TestBrowser } from '../support/browser.ts';
import { createTestDatabase } from '../support/database.ts';
import { N, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { openHub, type Hub } from '../../src/hub.ts';
import { buildServer } from '../../src/server.ts';
import { citizenRoutes } from '../../src/citizen/citizen-routes.ts';
import { ensurePortalClient } from '../../src/citizen/portal-client.ts';
import { startReconciliation } from '../../src/registry/reconciliation/reconciliation-service.ts';
import { EIDAS_LOA } from '../../src/kernel/config/config.ts';
import type { FastifyInstance } from 'fastify';

const SCREENSHOTS = '.tmp';
const WIDTH = 360;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function activeTestId(page: Page): Promise<string | null> {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
}

async function tabTo(page: Page, testId: string, max = 20): Promise<void> {
  for (let i = 0; i < max; i++) {
    if ((await activeTestId(page)) === testId) return;
    await page.keyboard.press('Tab');
  }
  expect(await activeTestId(page), `Tab never reached ${testId}`).toBe(testId);
}

async function noSidewaysScroll(page: Page): Promise<void> {
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(WIDTH);
}

describe.skipIf(skipBrowser)('citizen portal, demo mode', () => {
  let hub: Hub;
  let app: FastifyInstance;
  let url: string;
  let drop: () => Promise<void>;
  let dataDir: string;
  let browser: TestBrowser;
  let page: Page;
  let carrierKey: string;

  async function json<T>(path: string, init: { key?: string; method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: T; text: string }> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (init.key) headers.authorization = `Bearer ${init.key}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(new URL(path, url), { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
    const text = await r.text();
    let body: T;
    try {
      body = JSON.parse(text) as T;
    } catch {
      body = null as T;
    }
    return { status: r.status, body, text };
  }

  async function lastCode(number: string): Promise<string> {
    const outbox = (await json<{ text: string }[]>(`/v1/dev/sms-outbox?to=${encodeURIComponent(number)}`)).body;
    const code = outbox.at(-1)?.text.match(/\b\d{6}\b/)?.[0];
    if (!code) throw new Error(`no code in the demo outbox for ${number}`);
    return code;
  }

  async function stage(name: string): Promise<void> {
    await page.locator(`[data-testid="verify-stage"][data-stage="${name}"]`).waitFor({ timeout: 60_000 });
  }

  beforeAll(async () => {
    browser = await launchBrowser({ viewport: { width: WIDTH, height: 780 } });
    page = await browser.newPage();
    const db = await createTestDatabase({ migrate: false });
    drop = () => db.drop();
    dataDir = mkdtempSync(join(tmpdir(), 'idbind-citizen-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    hub = await openHub({
      mode: 'demo',
      env: {
        DATABASE_URL: db.url, IDBIND_DATA_DIR: dataDir, IDBIND_MASTER_KEY: randomBytes(32).toString('base64'), IDBIND_ADMIN_TOKEN: randomBytes(32).toString('base64url'),
        IDBIND_PORT: '0', IDBIND_WORKERS: '2', IDBIND_PUBLIC_URL: url,
      },
      requireAdminToken: true,
    });
    app = await buildServer(hub, { logger: false, keyWorkIntervalMs: 0, maintenanceIntervalMs: 0 });
    // Until src/server.ts registers the portal, this test does (the same call, before listening).
    if (!app.hasRoute({ method: 'GET', url: '/citizen/sign-in' })) {
      await ensurePortalClient(hub.pool, await hub.ring(), url);
      await app.register(async (scope) => citizenRoutes(scope, { pool: hub.pool, ring: () => hub.ring(), publicUrl: url }));
    }
    await app.listen({ host: '127.0.0.1', port });
    await seedVerificationRegistry(hub.pool, await hub.ring());
    await (await startReconciliation(hub.pool, await hub.ring(), 'test')).done;

    // Sen Social binds an account to the person of N.adult2 through the phone API.
    const session = (await json<{ admin_token: string; platforms: { name: string; api_key: string }[] }>('/v1/demo/session')).body;
    const sen = session.platforms.find((p) => p.name === 'Sen Social')!;
    const started = await json<{ id: string }>('/v1/verifications', { key: sen.api_key, method: 'POST', body: { account_ref: 'sen-browser-1', phone: N.adult2 }, headers: { 'idempotency-key': randomBytes(8).toString('hex') } });
    expect(started.status, started.text).toBe(201);
    const confirmed = await json(`/v1/verifications/${started.body.id}/confirm`, { key: sen.api_key, method: 'POST', body: { code: await lastCode(N.adult2) } });
    expect(confirmed.status, confirmed.text).toBe(200);
    const carrier = await json<{ api_key: string }>('/v1/admin/providers', { key: session.admin_token, method: 'POST', body: { name: 'VinaPhone', kind: 'carrier', carrier: 'vinaphone' } });
    carrierKey = carrier.body.api_key;
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await hub?.close();
    await drop?.();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('signed out: offers the phone and the national eID, in Vietnamese, at 360 px', async () => {
    await page.goto(`${url}/citizen`);
    await page.getByTestId('citizen-signed-out').waitFor({ timeout: 60_000 });
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('vi');
    expect(await page.getByTestId('citizen-sign-in-phone').textContent()).toBe('Đăng nhập bằng điện thoại');
    expect(await page.getByTestId('citizen-sign-in-eid').textContent()).toBe('Đăng nhập bằng định danh điện tử');
    await page.getByTestId('language-en').click();
    expect(await page.getByTestId('citizen-sign-in-phone').textContent()).toBe('Sign in with your phone');
    await noSidewaysScroll(page);
    await page.screenshot({ path: `${SCREENSHOTS}/citizen-signed-out-360.png`, fullPage: true });
  });

  it('signs in by phone (keyboard, demo SMS code), sees accounts and SIMs, unbinds one account and reports a SIM', async () => {
    await tabTo(page, 'citizen-sign-in-phone');
    await page.keyboard.press('Enter');
    await stage('choose_method');
    expect(await page.getByTestId('verify-platform').textContent()).toContain('idbind citizen portal');
    await tabTo(page, 'verify-phone');
    await page.keyboard.type(N.adult);
    await page.keyboard.press('Enter');
    await stage('phone_code');
    await tabTo(page, 'verify-code');
    await page.keyboard.type(await lastCode(N.adult));
    await page.keyboard.press('Enter');
    await page.getByTestId('citizen-heading').waitFor({ timeout: 60_000 });
    expect(new URL(page.url()).pathname).toBe('/citizen');
    expect(await page.getByTestId('citizen-level').getAttribute('data-level')).toBe('low');

    // Accounts: Sen Social's, with its pseudonym; unbound after a confirmation.
    const account = page.locator('[data-testid="citizen-account"][data-ref="sen-browser-1"]');
    await account.waitFor();
    expect(await account.getAttribute('data-status')).toBe('verified');
    await account.getByTestId('citizen-unbind').click();
    await account.getByTestId('citizen-unbind-yes').click();
    await page.locator('[data-testid="citizen-account"][data-ref="sen-browser-1"][data-status="unbound"]').waitFor();
    const status = await json<{ status: string }>('/v1/accounts/sen-browser-1', { key: (await json<{ platforms: { name: string; api_key: string }[] }>('/v1/demo/session')).body.platforms.find((p) => p.name === 'Sen Social')!.api_key });
    expect(status.body.status).toBe('unverified');

    // SIMs: the person's numbers; one reported after a confirmation.
    const sim = page.locator(`[data-testid="citizen-sim"][data-number="${N.deviceChanged}"]`);
    await sim.waitFor();
    expect(await page.locator(`[data-testid="citizen-sim"][data-number="${N.adultB}"]`).count()).toBe(0);
    await sim.getByTestId('citizen-report').click();
    await sim.getByTestId('citizen-report-yes').click();
    await sim.getByTestId('citizen-sim-reported').waitFor();
    const list = await json<string>('/v1/carrier/action-list', { key: carrierKey });
    expect(list.text).toContain(`${N.deviceChanged},REPORTED_BY_HOLDER`);

    // At low: no disclosures, a note saying the eID shows them; no export.
    await page.getByTestId('citizen-low-note').waitFor();
    expect(await page.getByTestId('citizen-export-button').count()).toBe(0);
    expect(await page.locator('[data-testid="citizen-access-record"][data-purpose="guardian_check"]').count()).toBe(0);
    await noSidewaysScroll(page);
    await page.screenshot({ path: `${SCREENSHOTS}/citizen-phone-360.png`, fullPage: true });
    await page.getByTestId('citizen-sign-out').click();
    await page.getByTestId('citizen-signed-out').waitFor();
  });

  it('signs in with the national eID (substantial): the full access history and the disclosures section; the export downloads', async () => {
    await page.getByTestId('citizen-sign-in-eid').click();
    await stage('choose_method');
    // Only the eID reaches substantial: no phone field.
    expect(await page.getByTestId('verify-phone').count()).toBe(0);
    await page.getByTestId('verify-eid').click();
    // The demo's local test eID: the person (Nguyễn Văn An, listed as the guardian of a minor) and the level.
    await page.getByLabel(/Guardian of/).check();
    await page.locator(`input[name="acr"][value="${EIDAS_LOA.substantial}"]`).check();
    await page.getByRole('button', { name: /Sign in/ }).click();
    await page.getByTestId('citizen-heading').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('citizen-level').getAttribute('data-level')).toBe('substantial');

    await page.getByTestId('citizen-disclosures').waitFor();
    await page.locator('[data-testid="citizen-disclosures"] h2').waitFor();
    expect(await page.getByTestId('citizen-low-note').count()).toBe(0);
    await page.getByTestId('citizen-access-record').first().waitFor();
    expect(await page.getByTestId('citizen-access-partial').count()).toBe(0);
    const purposes = await page.getByTestId('citizen-access-record').evaluateAll((els) => els.map((e) => e.getAttribute('data-purpose')));
    expect(purposes).toEqual(expect.arrayContaining(['account_binding', 'self_view']));
    // The unbinding of the phone session is in the history, done by the person.
    expect(await page.getByTestId('citizen-access-record').filter({ hasText: 'sen-browser-1' }).count()).toBeGreaterThanOrEqual(2);

    const download = page.waitForEvent('download');
    await page.getByTestId('citizen-export-button').click();
    const file = await (await download).path();
    const exported = JSON.parse(readFileSync(file, 'utf8')) as { format: string; subscriptions: { number: string }[] };
    expect(exported.format).toBe('idbind-citizen-export/1');
    expect(exported.subscriptions.map((s) => s.number)).toContain(N.adult);
    await noSidewaysScroll(page);
    await page.screenshot({ path: `${SCREENSHOTS}/citizen-eid-360.png`, fullPage: true });
    expect(browser.pageErrors).toEqual([]);
  });
});
