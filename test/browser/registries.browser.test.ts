/**
 * Browser test of the "Registries and junk SIMs" page (issue 2) in Debian's Chromium, against the
 * real hub on its own database. In demo mode, after a seeded import and two reconciliations, every
 * figure the page shows (registry sizes, each carrier × category count of the latest run, the runs
 * in the trend) must be exactly what the admin API returns, formatted for the page's language;
 * the language switch (used by keyboard) changes the headings and number format and is
 * remembered; an action-list download returns the run's CSV; "Start reconciliation" follows a
 * new run to completion. In production mode the regulator's staff sign in with a passkey (Chromium's
 * virtual authenticator) instead of the admin token: an administrator of a regulator authority sees
 * the figures, and each admin request is an audit record; a deactivated administrator is refused;
 * another official is told they are not the regulator's administrator. Screenshots (desktop and 375 px) go to .tmp/ for a person to look at.
 *
 * Without Chromium these tests fail (see test/support/browser.ts) unless IDBIND_SKIP_BROWSER=1.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, skipBrowser, type TestBrowser } from '../support/browser.ts';
import { startTestHub } from '../support/hub.ts';
import { openOfficialSession } from '../../src/officials/official-auth.ts';

type Hub = Awaited<ReturnType<typeof startTestHub>>;

const CATEGORIES = [
  'NO_HOLDER',
  'HOLDER_NOT_FOUND',
  'HOLDER_DECEASED',
  'HOLDER_DATA_MISMATCH',
  'ONLINE_BEYOND_LIMIT',
] as const;
type Counts = Record<(typeof CATEGORIES)[number], number>;

interface Stats {
  people: { total: number; alive: number; deceased: number };
  subscriptions: { total: number; live: number; terminated: number };
  carriers: { slug: string; subscriptions: number; live: number }[];
}

interface Run {
  run_id: string;
  status: 'running' | 'completed' | 'failed';
  categories: Counts | null;
  by_carrier: Record<string, Counts> | null;
}

const viNumber = new Intl.NumberFormat('vi-VN');
const enNumber = new Intl.NumberFormat('en-GB');
const SCREENSHOTS = '.tmp';

async function adminGet(hub: Hub, path: string): Promise<Response> {
  const response = await fetch(new URL(path, hub.url), { headers: { authorization: `Bearer ${hub.adminToken}` } });
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status} ${await response.text()}`);
  return response;
}

async function adminPost<T>(hub: Hub, path: string, body?: unknown): Promise<T> {
  const response = await fetch(new URL(path, hub.url), {
    method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`POST ${path}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** Chromium's virtual WebAuthn authenticator (CDP `WebAuthn`): CTAP2, internal, resident keys, user verification that succeeds. */
async function addAuthenticator(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
}

async function adminJson<T>(hub: Hub, path: string): Promise<T> {
  return (await (await adminGet(hub, path)).json()) as T;
}

async function completedRuns(hub: Hub): Promise<(Run & { categories: Counts; by_carrier: Record<string, Counts> })[]> {
  const { runs } = await adminJson<{ runs: Run[] }>(hub, '/v1/admin/reconciliations?limit=50');
  return runs.filter(
    (r): r is Run & { categories: Counts; by_carrier: Record<string, Counts> } =>
      r.status === 'completed' && r.categories !== null && r.by_carrier !== null,
  );
}

/** Waits until the page has loaded its figures (and is not reloading them). */
async function waitForFigures(page: Page): Promise<void> {
  await page.locator('[data-testid="registries-page"][data-loaded="true"]').waitFor({ timeout: 60_000 });
}

async function text(page: Page, testId: string): Promise<string> {
  const value = await page.getByTestId(testId).textContent({ timeout: 30_000 });
  return (value ?? '').trim();
}

describe.skipIf(skipBrowser)('registries page, demo mode', () => {
  let hub: Hub;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser(); // first: without Chromium, fail before seeding anything
    page = await browser.newPage();
    hub = await startTestHub({ demo: true });
    await hub.seedAndReconcile();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('shows exactly the API figures, formatted for Vietnamese, without asking for a token', async () => {
    await page.goto(hub.url);
    await waitForFigures(page);
    expect(new URL(page.url()).pathname).toBe('/registries');
    expect(await page.locator('html').getAttribute('lang')).toBe('vi');
    expect(await page.getByTestId('admin-token-input').count()).toBe(0);

    const stats = await adminJson<Stats>(hub, '/v1/admin/registry/stats');
    expect(stats.people.total).toBeGreaterThan(0);
    const figures: [string, number][] = [
      ['people-total', stats.people.total],
      ['people-alive', stats.people.alive],
      ['people-deceased', stats.people.deceased],
      ['subscriptions-total', stats.subscriptions.total],
      ['subscriptions-live', stats.subscriptions.live],
      ['subscriptions-terminated', stats.subscriptions.terminated],
    ];
    for (const carrier of stats.carriers) {
      figures.push([`carrier-subscriptions-${carrier.slug}`, carrier.subscriptions]);
      figures.push([`carrier-live-${carrier.slug}`, carrier.live]);
    }
    for (const [testId, value] of figures) expect(await text(page, testId), testId).toBe(viNumber.format(value));

    const completed = await completedRuns(hub);
    expect(completed.length).toBeGreaterThanOrEqual(2);
    const latest = completed[0]!;
    expect(await text(page, 'latest-run-id')).toBe(latest.run_id);
    const carriers = Object.keys(latest.by_carrier);
    expect(carriers.length).toBeGreaterThan(0);
    for (const carrier of carriers) {
      for (const category of CATEGORIES) {
        const testId = `latest-${carrier}-${category}`;
        expect(await text(page, testId), testId).toBe(viNumber.format(latest.by_carrier[carrier]![category]));
      }
    }
    for (const category of CATEGORIES) {
      expect(await text(page, `latest-all-${category}`)).toBe(viNumber.format(latest.categories[category]));
    }
    // The table has one row per carrier of the run, no more.
    expect(await page.getByTestId('latest-table').locator('tbody tr').count()).toBe(carriers.length);

    // The trend: one point and one table row per completed run, oldest first, same figures.
    expect(await text(page, 'trend-run-count')).toBe(viNumber.format(completed.length));
    const rowIds = await page
      .getByTestId('trend-row')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-run-id')));
    expect(rowIds).toEqual(completed.map((r) => r.run_id).reverse());
    for (const run of completed) {
      for (const category of CATEGORIES) {
        expect(await text(page, `trend-${run.run_id}-${category}`)).toBe(viNumber.format(run.categories[category]));
      }
    }
    // Both charts are drawn: a bar per carrier and category, a marker per run and category.
    expect(await page.getByTestId('latest-chart').locator('rect').count()).toBe(carriers.length * CATEGORIES.length);
    expect(await page.getByTestId('trend-chart').locator('svg[role="img"]').count()).toBe(1);
    expect(browser.pageErrors).toEqual([]);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOTS}/registries-desktop.png`, fullPage: true });
    await page.setViewportSize({ width: 375, height: 812 });
    // Nothing may overflow sideways at 375 px except inside the scrollable table regions.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${SCREENSHOTS}/registries-375.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('switches to English and back, keeps the choice, and updates <html lang>', async () => {
    const stats = await adminJson<Stats>(hub, '/v1/admin/registry/stats');
    expect(await text(page, 'page-heading')).toBe('Dữ liệu dân cư, thuê bao và SIM rác');

    // By keyboard: the skip link is the first tab stop, and the language buttons take Enter.
    await page.locator('body').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('href'))).toBe('#main');
    await page.getByTestId('language-en').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Registries and junk SIMs' }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.getByTestId('language-en').getAttribute('aria-pressed')).toBe('true');
    expect(await text(page, 'people-total')).toBe(enNumber.format(stats.people.total));
    expect(await page.title()).toContain('Registries and junk SIMs');

    // The choice survives a reload.
    await page.reload();
    await waitForFigures(page);
    expect(await text(page, 'page-heading')).toBe('Registries and junk SIMs');

    await page.getByTestId('language-vi').click();
    await page.getByRole('heading', { level: 1, name: 'Dữ liệu dân cư, thuê bao và SIM rác' }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('vi');
  });

  it("downloads a carrier's action list of the latest run as CSV", async () => {
    const [latest] = await completedRuns(hub);
    const carrier = Object.keys(latest!.by_carrier).sort()[0]!;
    const expected = await (
      await adminGet(hub, `/v1/admin/reconciliations/${latest!.run_id}/action-lists/${carrier}`)
    ).text();

    // By keyboard: the button keeps the focus while the file is fetched and after (a disabled
    // button would drop it to the page's body, losing a keyboard or screen-reader user's place).
    await page.getByTestId(`download-${carrier}`).focus();
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.testid)).toBe(`download-${carrier}`);
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    const path = await download.path();
    const csv = readFileSync(path, 'utf8');
    expect(csv).toBe(expected);
    const lines = csv.trim().split(/\r?\n/);
    expect(lines[0]).toBe('msisdn,category');
    const count = CATEGORIES.reduce((sum, c) => sum + latest!.by_carrier[carrier]![c], 0);
    expect(lines.length - 1).toBe(count);
  });

  it('starts a reconciliation, follows it step by step to completion and shows the new run', async () => {
    const before = await completedRuns(hub);
    // Hold the run in its second step: the classification reads the subscriptions, which this
    // lock keeps from it until the page has shown the step.
    const blocker = await hub.hub.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE');
      // By keyboard; the button keeps the focus while the run goes on (marked aria-disabled).
      await page.getByTestId('start-reconciliation').focus();
      await page.keyboard.press('Enter');
      // The language chosen in an earlier test (Vietnamese) is still on.
      await page.getByTestId('reconciliation-step').filter({ hasText: 'Bước 2/4: phân loại từng thuê bao chưa chấm dứt.' }).waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('start-reconciliation').getAttribute('aria-disabled')).toBe('true');
      expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.testid)).toBe('start-reconciliation');
    } finally {
      await blocker.query('COMMIT');
      blocker.release();
    }
    await page.locator('[data-testid="reconciliation-control"][data-state="completed"]').waitFor({ timeout: 60_000 });
    await waitForFigures(page);

    const after = await completedRuns(hub);
    expect(after.length).toBe(before.length + 1);
    expect(await text(page, 'trend-run-count')).toBe(viNumber.format(after.length));
    expect(await text(page, 'latest-run-id')).toBe(after[0]!.run_id);
    const focused = () => page.evaluate(() => { const e = document.activeElement as HTMLElement | null; return e?.dataset.testid ?? e?.textContent ?? null; });
    expect(await focused()).toBe('start-reconciliation');
    // Refresh by keyboard keeps the focus on Refresh too.
    await page.getByRole('button', { name: 'Làm mới' }).focus();
    await page.keyboard.press('Enter');
    await waitForFigures(page);
    expect(await focused()).toBe('Làm mới');
    expect(browser.pageErrors).toEqual([]);
  });

  it('keeps every table caption readable inside its box when the table itself scrolls sideways', async () => {
    await page.setViewportSize({ width: 360, height: 800 });
    await page.reload();
    await waitForFigures(page);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    const boxes = await page.evaluate(() =>
      [...document.querySelectorAll('.table-scroll')].map((box) => {
        const caption = box.querySelector('caption')!;
        const b = box.getBoundingClientRect();
        const c = caption.getBoundingClientRect();
        return { caption: caption.textContent, fits: c.left >= b.left - 1 && c.right <= b.right + 1 && caption.scrollWidth <= caption.clientWidth + 1 };
      }),
    );
    expect(boxes.length).toBeGreaterThanOrEqual(4);
    // A caption as wide as its table would be cut at the box's edge ("... theo nhà mạn").
    expect(boxes.filter((b) => !b.fits)).toEqual([]);
    // Scrolled sideways, the caption stays in view.
    const latest = page.locator('.table-scroll', { has: page.getByTestId('latest-table') });
    await latest.evaluate((box) => { box.scrollLeft = box.scrollWidth; });
    const stays = await latest.evaluate((box) => {
      const b = box.getBoundingClientRect();
      const c = box.querySelector('caption')!.getBoundingClientRect();
      return c.left >= b.left - 1 && c.right <= b.right + 1;
    });
    expect(stays).toBe(true);
  });
});

describe.skipIf(skipBrowser)('registries page, production mode: the regulator staff sign in with a passkey', () => {
  let hub: Hub;
  let browser: TestBrowser;
  let page: Page;
  let staffId: string;
  let regulatorId: string;

  beforeAll(async () => {
    browser = await launchBrowser({ viewport: { width: 375, height: 812 } });
    page = await browser.newPage();
    await addAuthenticator(page);
    // WebAuthn refuses an IP address as relying-party id: the hub is http://localhost:<port>.
    hub = await startTestHub({
      demo: false, listen: false, publicPort: true,
      envFor: async (url) => ({ IDBIND_PUBLIC_URL: url.replace('127.0.0.1', 'localhost') }),
    });
    await hub.app.listen({ host: '127.0.0.1', port: Number(new URL(hub.hub.config.publicUrl).port) });
    hub.url = hub.hub.config.publicUrl;
    mkdirSync(SCREENSHOTS, { recursive: true });
    const a = await adminPost<{ authority: { id: string } }>(hub, '/v1/admin/authorities', { name: 'Cục Viễn thông (thử nghiệm)', kind: 'regulator' });
    regulatorId = a.authority.id;
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('asks for a passkey, not the admin token, and shows the figures to a regulator administrator', async () => {
    const o = await adminPost<{ official: { id: string }; invitation_url: string }>(hub, '/v1/admin/officials', {
      authority_id: regulatorId, name: 'Chuyên viên Hoàng Thu Trang', roles: ['administrator'],
    });
    staffId = o.official.id;
    // Enrolment signs in; sign out to start from the registries page.
    await page.goto(o.invitation_url);
    await page.getByTestId('enrol-passkey').click();
    await page.getByTestId('enrol-done').waitFor({ timeout: 60_000 });
    await page.evaluate(async () => fetch('/v1/authority/sign-out', { method: 'POST' }));

    await page.goto(new URL('/registries', hub.url).href);
    await page.getByTestId('staff-sign-in').waitFor({ timeout: 60_000 });
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Đăng nhập dành cho cán bộ cơ quan quản lý');
    expect(await page.getByTestId('admin-token-input').count()).toBe(0);
    expect(await page.getByTestId('registries-page').count()).toBe(0);
    expect(await page.getByTestId('sign-in-error').count()).toBe(0);
    await page.screenshot({ path: `${SCREENSHOTS}/registries-sign-in-375.png`, fullPage: true });

    await page.getByTestId('passkey-sign-in').click();
    await waitForFigures(page);
    const stats = await adminJson<Stats>(hub, '/v1/admin/registry/stats');
    expect(await text(page, 'people-total')).toBe(viNumber.format(stats.people.total));
    // The page holds no credential: the session is the HttpOnly cookie.
    expect(await page.evaluate(() => sessionStorage.length + localStorage.length)).toBe(0);
    expect(await page.evaluate(() => document.cookie)).not.toContain('idbind_official');
    // Each admin request through the staff session is an audit record (route and method).
    const { rows } = await hub.hub.pool.query("SELECT detail FROM official_audit WHERE official_id = $1 AND action = 'admin.request'", [staffId]);
    expect(rows.map((r: { detail: unknown }) => r.detail)).toContainEqual({ method: 'GET', route: '/v1/admin/registry/stats' });

    // A reload keeps the session; the header's sign-out ends it.
    await page.reload();
    await waitForFigures(page);
    await page.getByTestId('sign-out').click();
    await page.getByTestId('staff-sign-in').waitFor();
    expect(await page.evaluate(async () => (await fetch('/v1/authority/me')).status)).toBe(401);
    expect(browser.pageErrors).toEqual([]);
  });

  it('refuses a deactivated administrator at once', async () => {
    await page.getByTestId('passkey-sign-in').click();
    await waitForFigures(page);
    await adminPost(hub, `/v1/admin/officials/${staffId}/deactivate`);
    await page.reload();
    await page.getByTestId('staff-sign-in').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('registries-page').count()).toBe(0);
    await page.getByTestId('passkey-sign-in').click();
    await page.getByTestId('authority-sign-in-error').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('authority-sign-in-error').textContent()).toContain('OFFICIAL_DEACTIVATED');
    expect(await page.getByTestId('registries-page').count()).toBe(0);
  });

  it("tells a signed-in official who is not the regulator's administrator so, and lets them sign out", async () => {
    const police = await adminPost<{ authority: { id: string } }>(hub, '/v1/admin/authorities', { name: 'Công an tỉnh Thử nghiệm', kind: 'police' });
    const o = await adminPost<{ official: { id: string } }>(hub, '/v1/admin/officials', {
      authority_id: police.authority.id, name: 'Đại úy Vũ Văn Nam', roles: ['requester'],
    });
    // A session without a passkey ceremony (the police official's passkey sign-in is tested in authority-signin).
    const [name, value] = (await openOfficialSession(hub.hub.pool, o.official.id)).split('=') as [string, string];
    await page.context().addCookies([{ name, value, url: hub.url, httpOnly: true, sameSite: 'Strict' }]);
    await page.goto(new URL('/registries', hub.url).href);
    await page.getByTestId('sign-in-error').waitFor({ timeout: 60_000 });
    expect(await text(page, 'sign-in-error')).toContain('Đại úy Vũ Văn Nam đã đăng nhập nhưng không phải quản trị viên của cơ quan quản lý');
    expect(await page.getByTestId('sign-in-error').getAttribute('role')).toBe('alert');
    expect(await page.getByTestId('registries-page').count()).toBe(0);
    // The admin API refuses the session too.
    expect(await page.evaluate(async () => (await fetch('/v1/admin/registry/stats')).status)).toBe(403);
    await page.getByTestId('staff-sign-out').click();
    await page.getByTestId('sign-in-error').waitFor({ state: 'detached' });
    expect(await page.evaluate(async () => (await fetch('/v1/authority/me')).status)).toBe(401);
    expect(browser.pageErrors).toEqual([]);
  });

  it('the admin token still works for automation', async () => {
    expect((await adminGet(hub, '/v1/admin/registry/stats')).status).toBe(200);
  });
});
