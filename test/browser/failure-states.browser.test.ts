/**
 * Browser tests of how the web app behaves when things go wrong, as its users meet them (found by
 * the web review): on the registries page, a reconciliation that failed after the latest completed
 * one, a refusal of the hub (another reconciliation already running, started by a colleague) and
 * a hub that answers 500; on the platform console, a hub that cannot check the kept API key when
 * the page is reloaded. Each must say what happened in the page's language, with a way on (retry,
 * the figures still shown), never a blank page, English on the Vietnamese page, or a silent
 * sign-out.
 *
 * Without Chromium these tests fail (see test/support/browser.ts) unless IDBIND_SKIP_BROWSER=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, skipBrowser, type TestBrowser } from '../support/browser.ts';
import { startTestHub, type TestHub } from '../support/hub.ts';

interface Run {
  run_id: string;
  status: 'running' | 'completed' | 'failed';
  started_at: string;
}

async function adminJson<T>(hub: TestHub, path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(new URL(path, hub.url), { ...init, headers: { authorization: `Bearer ${hub.adminToken}` } });
  return { status: response.status, body: (await response.json()) as T };
}

async function waitForFigures(page: Page): Promise<void> {
  await page.locator('[data-testid="registries-page"][data-loaded="true"]').waitFor({ timeout: 60_000 });
}

async function text(page: Page, testId: string): Promise<string> {
  return ((await page.getByTestId(testId).textContent({ timeout: 60_000 })) ?? '').trim();
}

/** A date and time as the Vietnamese page writes it (web/src/i18n/i18n.tsx): day/month/year 24-hour, Vietnam time. */
function viDateTime(iso: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: 'Asia/Ho_Chi_Minh',
  }).formatToParts(new Date(iso));
  const f = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  return `${f.day}/${f.month}/${f.year} ${f.hour}:${f.minute}:${f.second}`;
}

describe.skipIf(skipBrowser)('failure states of the web app (demo mode)', () => {
  let hub: TestHub;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser();
    page = await browser.newPage();
    hub = await startTestHub({ demo: true });
    await hub.seedAndReconcile();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('says that the newest reconciliation failed, when and in which step, above the figures of the last completed one', async () => {
    const { body } = await adminJson<{ runs: Run[] }>(hub, '/v1/admin/reconciliations?limit=50');
    const completed = body.runs.filter((r) => r.status === 'completed');
    // A run that failed overnight, after the latest completed one (as the hub records an interrupted run).
    const failed = await hub.hub.pool.query<{ id: string; started_at: Date }>(
      `INSERT INTO reconciliation_runs (id, status, started_at, finished_at, step, error)
       VALUES (gen_random_uuid(), 'failed', now(), now(), 'classifying', 'interrupted') RETURNING id, started_at`,
    );
    const failedRun = failed.rows[0]!;
    try {
      await page.goto(hub.url);
      await waitForFigures(page);
      const notice = page.getByTestId('newest-run-failed');
      await notice.waitFor({ timeout: 60_000 });
      const said = (await notice.textContent()) ?? '';
      expect(said).toContain('Lần đối soát bắt đầu lúc');
      expect(said).toContain(viDateTime(failedRun.started_at.toISOString()));
      expect(said).toContain('Bước 2/4: phân loại từng thuê bao chưa chấm dứt.');
      expect(await notice.getAttribute('data-run-id')).toBe(failedRun.id);
      // The figures are still the latest completed run's, and the page says so.
      expect(await text(page, 'latest-run-id')).toBe(completed[0]!.run_id);
      expect(said).toContain(viDateTime(completed[0]!.started_at));

      // In English too.
      await page.getByTestId('language-en').click();
      await page.getByRole('heading', { level: 1, name: 'Registries and junk SIMs' }).waitFor();
      expect(await notice.textContent()).toContain('failed');
      await page.getByTestId('language-vi').click();
      await page.getByRole('heading', { level: 1, name: 'Dữ liệu dân cư, thuê bao và SIM rác' }).waitFor();
    } finally {
      await hub.hub.pool.query('DELETE FROM reconciliation_runs WHERE id = $1', [failedRun.id]);
    }
    // Once a run completes after it, the notice goes.
    await page.reload();
    await waitForFigures(page);
    expect(await page.getByTestId('newest-run-failed').count()).toBe(0);
    expect(browser.pageErrors).toEqual([]);
  });

  it("explains in Vietnamese that a colleague's reconciliation is already running, then follows it", async () => {
    await page.goto(hub.url);
    await waitForFigures(page);
    // A colleague starts a run, held in its second step by this lock, after the page loaded.
    const blocker = await hub.hub.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE');
      const started = await adminJson<{ run_id: string }>(hub, '/v1/admin/reconciliations', { method: 'POST' });
      expect(started.status).toBe(202);
      await page.getByTestId('start-reconciliation').click();
      const error = page.getByTestId('reconciliation-error');
      await error.waitFor({ timeout: 60_000 });
      const said = (await error.textContent()) ?? '';
      expect(said).toContain('Không thể bắt đầu đối soát.');
      expect(said).toContain('Đang có một lần đối soát khác chạy');
      // The hub's English title is not on the Vietnamese page; the code is, for support.
      expect(said).not.toContain('A reconciliation is already running');
      expect(said).toContain('RECONCILIATION_ALREADY_RUNNING');
      await page.locator('[data-testid="reconciliation-control"][data-state="running"]').waitFor({ timeout: 60_000 });
    } finally {
      await blocker.query('COMMIT');
      blocker.release();
    }
    await page.locator('[data-testid="reconciliation-control"][data-state="completed"]').waitFor({ timeout: 60_000 });
    expect(browser.pageErrors).toEqual([]);
  });

  it('shows a failed load in Vietnamese with a retry that brings the figures back', async () => {
    await page.route('**/v1/admin/registry/stats', (route) =>
      route.fulfill({ status: 500, contentType: 'application/problem+json', body: JSON.stringify({ type: 'about:blank', title: 'Internal error', status: 500, code: 'INTERNAL' }) }),
    );
    try {
      await page.goto(hub.url);
      const error = page.getByTestId('load-error');
      await error.waitFor({ timeout: 60_000 });
      const said = (await error.textContent()) ?? '';
      expect(said).toContain('Không tải được số liệu.');
      expect(said).not.toContain('Internal error');
      expect(said).toContain('INTERNAL');
      expect(await page.getByTestId('registries-page').getAttribute('data-loaded')).toBe('false');
    } finally {
      await page.unroute('**/v1/admin/registry/stats');
    }
    await page.getByTestId('load-error').getByRole('button', { name: 'Thử lại' }).click();
    await waitForFigures(page);
    expect(await page.getByTestId('load-error').count()).toBe(0);
  });

  it('keeps the platform console signed in when the hub cannot check the key on a reload, with a retry', async () => {
    await page.goto(new URL('/platform', hub.url).href);
    await page.getByTestId('demo-platform-sen-social').click();
    await page.getByTestId('platform-page').waitFor({ timeout: 60_000 });
    const kept = await page.evaluate(() => sessionStorage.getItem('idbind.platformApiKey'));
    expect(kept).toMatch(/^idbk_/);

    await page.route('**/v1/provider', (route) =>
      route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ type: 'about:blank', title: 'The hub is not ready', status: 503, code: 'NOT_READY' }) }),
    );
    try {
      await page.reload();
      const error = page.getByTestId('platform-session-error');
      await error.waitFor({ timeout: 60_000 });
      // Not the sign-in form, as if the person had been signed out: the key is still kept.
      expect(await page.getByTestId('platform-sign-in').count()).toBe(0);
      expect(await page.evaluate(() => sessionStorage.getItem('idbind.platformApiKey'))).toBe(kept);
      expect(await error.getAttribute('role')).toBe('alert');
    } finally {
      await page.unroute('**/v1/provider');
    }
    await page.getByTestId('platform-session-error').getByRole('button', { name: 'Thử lại' }).click();
    await page.getByTestId('platform-page').waitFor({ timeout: 60_000 });
    expect(await text(page, 'provider-name')).toBe('Sen Social');
    expect(browser.pageErrors).toEqual([]);
  });
});
