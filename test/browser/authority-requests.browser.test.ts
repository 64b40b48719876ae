/**
 * Browser test of the authority console's disclosure requests and the public transparency report
 * (issue 5 "Disclosure requests", "Transparency report", "Done means") in Debian's Chromium at
 * 360 px, against the real hub in demo mode on its own database. The hub's public URL is
 * `http://localhost:<port>` (as for the passkey test: the console is a secure context there).
 *
 * The demo officials sign in through the demo-only `POST /v1/demo/officials/{id}/session`, called
 * from the page itself so that the HttpOnly session cookie lands in the browser. Then:
 * - the police requester files a request for the demo disclosed account (`demo-disclosed-account`
 *   at Sen Social, bound by the demo seeding) through the form, after the form's own checks
 *   refused an empty form and too short reasons (the error summary takes the focus);
 * - the police approver opens it and finds no approve button, and the page says why (the same
 *   authority);
 * - the procuracy approver approves it (with the confirmation step); it is released at once,
 *   since the approval's checkpoint is signed in the same call;
 * - an emergency request asks for the identity only (the form unticks the history), and the
 *   procuracy rejects it with reasons (too short ones refused first), which the requester reads;
 * - the requester opens the release: the page says that viewing is recorded before anything is
 *   shown; then the identity, the history and both proof bundles, whose downloads are named
 *   `disclosure-<id>-<stage>.proof` and verify offline against `/log/vkey` (as
 *   `idbind log verify --proof FILE` does);
 * - `/transparency` counts the requests (two more filed by the police unit than before, one
 *   approved, one rejected, one emergency), shows the current signed checkpoint, links to `/log/checkpoint`, and speaks English.
 * No page scrolls sideways at 360 px. Screenshots go to .tmp/.
 *
 * Without Chromium these tests fail (see test/support/browser.ts) unless IDBIND_SKIP_BROWSER=1.
 */
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, skipBrowser, type TestBrowser } from '../support/browser.ts';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { verifyProofBundle } from '../../src/tlog/proof-bundle.ts';
import { parseVerifierKey } from '../../src/tlog/signed-note.ts';

const SCREENSHOTS = '.tmp';
const WIDTH = 360;
const ACCOUNT_REF = 'demo-disclosed-account';

interface DemoOfficial {
  id: string;
  name: string;
  authority: { id: string; name: string; kind: string };
  roles: string[];
}

interface Counts {
  requests: number;
  approved: number;
  rejected: number;
  emergency: number;
  accounts_affected: number;
}

interface Report {
  period: string;
  totals: Counts;
  by_authority: (Counts & { authority: { id: string; name: string; kind: string } })[];
  checkpoint: string | null;
}

async function getJson<T>(hub: TestHub, path: string): Promise<T> {
  const response = await fetch(new URL(path, hub.url));
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function activeTestId(page: Page): Promise<string | null> {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
}

async function noSidewaysScroll(page: Page): Promise<void> {
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(WIDTH);
}

/** Signs the browser in as `official` (demo mode only): the page calls the demo route, so the cookie is the browser's. */
async function signInAs(page: Page, hub: TestHub, official: DemoOfficial): Promise<void> {
  if (!page.url().startsWith(hub.url)) await page.goto(`${hub.url}/transparency`);
  const status = await page.evaluate(async (id) => {
    const r = await fetch(`/v1/demo/officials/${encodeURIComponent(id)}/session`, { method: 'POST', credentials: 'same-origin' });
    return r.status;
  }, official.id);
  expect(status).toBe(200);
}

/** Opens `path` of the console and waits for the request pages inside the officials' layout. */
async function openConsole(page: Page, hub: TestHub, path: string): Promise<void> {
  await page.goto(`${hub.url}${path}`);
  await page.getByTestId('authority-requests').getByTestId('requests-pages').waitFor({ timeout: 60_000 });
}

describe.skipIf(skipBrowser)('authority console: disclosure requests, and the transparency report (demo mode)', () => {
  let hub: TestHub;
  let browser: TestBrowser;
  let page: Page;
  let requester: DemoOfficial;
  let policeApprover: DemoOfficial;
  let procuracyApprover: DemoOfficial;
  let senSocialId: string;
  let before: Report;
  let requestId: string;
  let emergencyId: string;
  const caseReference = `E2E-${Date.now()}`;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await launchBrowser({ viewport: { width: WIDTH, height: 780 } }); // first: without Chromium, fail before starting anything
    page = await browser.newPage();
    hub = await startTestHub({
      demo: true, listen: false, publicPort: true,
      envFor: async (url) => ({ IDBIND_PUBLIC_URL: url.replace('127.0.0.1', 'localhost') }),
    });
    const publicUrl = hub.hub.config.publicUrl;
    await hub.app.listen({ host: '127.0.0.1', port: Number(new URL(publicUrl).port) });
    hub.url = publicUrl;

    // The demo registry (as `npm start` seeds it), then the demo session: it creates the demo
    // platforms, and with them the demo authorities, officials and the completed demo disclosure
    // of the bound account `demo-disclosed-account` at Sen Social.
    await hub.seedAndReconcile();
    const session = await getJson<{ platforms: { id: string; name: string }[] }>(hub, '/v1/demo/session');
    const sen = session.platforms.find((p) => p.name === 'Sen Social');
    if (!sen) throw new Error('the demo session has no Sen Social');
    senSocialId = sen.id;
    const { officials } = await getJson<{ officials: DemoOfficial[] }>(hub, '/v1/demo/officials');
    const find = (kind: string, role: string) => {
      const o = officials.find((x) => x.authority.kind === kind && x.roles.includes(role));
      if (!o) throw new Error(`no demo ${role} of a ${kind} authority: ${JSON.stringify(officials)}`);
      return o;
    };
    requester = find('police', 'requester');
    policeApprover = find('police', 'approver');
    procuracyApprover = find('procuracy', 'approver');
    // The demo disclosure (seeded by the demo session) is counted before this test files its own.
    before = await getJson<Report>(hub, '/v1/transparency/report');
    expect(before.totals.requests).toBeGreaterThan(0);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('the requester files a request for one account, after the form refused what the hub would', async () => {
    await signInAs(page, hub, requester);
    await openConsole(page, hub, '/authority');
    await page.getByTestId('requests-list').waitFor();
    // Marks the console's element: the request pages below must not remount it (app.tsx keys the
    // page boundary by route, not by path), or its state would be lost between pages.
    await page.getByTestId('authority-requests').evaluate((el) => Object.assign(el, { mountedSince: 'list' }));
    await page.getByTestId('new-request').click();
    await page.getByTestId('new-request-form').waitFor();
    expect(await activeTestId(page)).toBe('requests-heading');
    await expect.poll(() => page.getByTestId('one-account-notice').isVisible()).toBe(true);
    await noSidewaysScroll(page);

    // Empty: every field named in the summary, which takes the focus; nothing sent.
    await page.getByTestId('submit-request').click();
    await page.getByTestId('form-errors').waitFor();
    await expect.poll(() => activeTestId(page)).toBe('form-errors');
    expect(await page.getByTestId('form-errors').getByRole('listitem').count()).toBe(5);
    expect(await page.getByTestId('provider-id').getAttribute('aria-invalid')).toBe('true');

    await page.getByTestId('provider-id').fill(senSocialId);
    await page.getByTestId('account').fill(ACCOUNT_REF);
    await page.getByTestId('legal-basis').fill('Bộ luật Tố tụng hình sự 2015, Điều 88');
    await page.getByTestId('case-reference').fill(caseReference);
    await page.getByTestId('reasons').fill('Too short.');
    await page.getByTestId('ask-history').check();
    await page.getByTestId('submit-request').click();
    await expect.poll(() => page.getByTestId('form-errors').getByRole('listitem').count()).toBe(1);
    expect(await page.getByTestId('reasons').getAttribute('aria-invalid')).toBe('true');

    await page.getByTestId('reasons').fill('The account sent repeated threats to a named person; the identity is needed to summon its holder.');
    await page.getByTestId('submit-request').click();
    await page.waitForURL(/\/authority\/requests\/[0-9a-f-]{36}$/, { timeout: 60_000 });
    requestId = new URL(page.url()).pathname.split('/').pop()!;
    const detail = page.getByTestId('request-detail');
    await detail.waitFor();
    expect(await page.getByTestId('authority-requests').evaluate((el) => (el as HTMLElement & { mountedSince?: string }).mountedSince)).toBe('list');
    expect(await detail.getAttribute('data-status')).toBe('submitted');
    expect(await page.getByTestId('fact-case-reference').textContent()).toBe(caseReference);
    expect(await page.getByTestId('fact-account-ref').textContent()).toBe(ACCOUNT_REF);
    expect((await page.getByTestId('request-announcement').textContent())?.length).toBeGreaterThan(0);
    // A requester has no approver role: no decision offered.
    expect(await page.getByTestId('approve').count()).toBe(0);
    await noSidewaysScroll(page);
    await page.screenshot({ path: `${SCREENSHOTS}/authority-request-filed.png`, fullPage: true });

    // The list shows it, awaiting a decision.
    await openConsole(page, hub, '/authority');
    const row = page.locator(`[data-testid="request-row"][data-id="${requestId}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('submitted');
  });

  it('an approver of the requester\'s own authority gets no approve button, and is told why', async () => {
    await signInAs(page, hub, policeApprover);
    await openConsole(page, hub, `/authority/requests/${requestId}`);
    await page.getByTestId('request-detail').waitFor();
    await page.getByTestId('same-authority').waitFor();
    expect(await page.getByTestId('same-authority').textContent()).toContain(requester.authority.name);
    expect(await page.getByTestId('approve').count()).toBe(0);
    expect(await page.getByTestId('reject').count()).toBe(0);
  });

  it('an approver of another authority approves it, and it is released', async () => {
    await signInAs(page, hub, procuracyApprover);
    await openConsole(page, hub, `/authority/requests/${requestId}`);
    await page.getByTestId('approve').click();
    await page.getByTestId('approve-confirm').waitFor();
    expect(await activeTestId(page)).toBe('approve-confirm-button');
    await page.keyboard.press('Enter');
    const detail = page.getByTestId('request-detail');
    await expect.poll(() => detail.getAttribute('data-status'), { timeout: 60_000 }).toBe('released');
    expect(await page.getByTestId('fact-approver').textContent()).toBe(procuracyApprover.authority.name);
    expect(await page.getByTestId('request-announcement').textContent()).not.toBe('');
    expect(await page.getByTestId('approve').count()).toBe(0);
  });

  it('the requester sees the release, after being told that viewing is recorded, with proofs that verify', async () => {
    await signInAs(page, hub, requester);
    await openConsole(page, hub, `/authority/requests/${requestId}`);
    await page.getByTestId('open-release').click();
    await page.getByTestId('release-page').waitFor();
    await page.getByTestId('viewing-recorded').waitFor();
    expect(await page.getByTestId('release').count()).toBe(0); // nothing fetched before the official asks
    await page.getByTestId('show-release').click();
    await page.getByTestId('release-identity').waitFor({ timeout: 60_000 });
    expect((await page.getByTestId('identity-full-name').textContent())?.trim().length).toBeGreaterThan(0);
    expect(await page.getByTestId('identity-personal-id').textContent()).toMatch(/^\d{12}$/);
    expect(await page.getByTestId('identity-birth-date').textContent()).toMatch(/^\d{2}\/\d{2}\/\d{4}$/);
    await page.getByTestId('release-history').waitFor();
    await noSidewaysScroll(page);
    await page.screenshot({ path: `${SCREENSHOTS}/authority-release.png`, fullPage: true });

    const vkey = (await (await fetch(new URL('/log/vkey', hub.url))).text()).trim();
    for (const stage of ['approved', 'released'] as const) {
      const shown = (await page.getByTestId(`proof-text-${stage}`).textContent()) ?? '';
      expect(shown.startsWith('c2sp.org/tlog-proof@v1')).toBe(true);
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(`download-proof-${stage}`).click()]);
      expect(download.suggestedFilename()).toBe(`disclosure-${requestId}-${stage}.proof`);
      const file = await readFile((await download.path())!, 'utf8');
      expect(file).toBe(shown);
      const verified = verifyProofBundle(file, parseVerifierKey(vkey));
      expect(verified.entry.stage).toBe(stage);
      expect((verified.opening.record as { request?: string }).request).toBe(requestId);
    }
  });

  it('an emergency request asks for the identity only, and a rejection carries its reasons', async () => {
    await signInAs(page, hub, requester);
    await openConsole(page, hub, '/authority/requests/new');
    await page.getByTestId('new-request-form').waitFor();
    await page.getByTestId('provider-id').fill(senSocialId);
    await page.getByTestId('account').fill(ACCOUNT_REF);
    await page.getByTestId('legal-basis').fill('Bộ luật Tố tụng hình sự 2015, Điều 88');
    await page.getByTestId('case-reference').fill(`${caseReference}-K`);
    await page.getByTestId('reasons').fill('A credible threat to life posted an hour ago; the holder must be found at once.');
    await page.getByTestId('ask-history').check();
    await page.getByTestId('emergency').check();
    // An emergency asks for the identity only: the history is unticked and cannot be ticked.
    expect(await page.getByTestId('ask-history').isChecked()).toBe(false);
    expect(await page.getByTestId('ask-history').isDisabled()).toBe(true);
    await page.getByTestId('submit-request').click();
    await page.waitForURL(/\/authority\/requests\/[0-9a-f-]{36}$/, { timeout: 60_000 });
    emergencyId = new URL(page.url()).pathname.split('/').pop()!;
    await page.getByTestId('request-detail').waitFor();
    await page.getByTestId('flag-emergency').waitFor();

    await signInAs(page, hub, procuracyApprover);
    await openConsole(page, hub, `/authority/requests/${emergencyId}`);
    await page.getByTestId('reject').click();
    await expect.poll(() => activeTestId(page)).toBe('reject-reasons');
    await page.keyboard.type('Too short');
    await page.getByTestId('reject-submit').click();
    expect(await page.getByTestId('reject-reasons').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByTestId('request-detail').getAttribute('data-status')).toBe('submitted');
    await page.getByTestId('reject-reasons').fill('No threat to life is shown: an ordinary request is the way.');
    await page.getByTestId('reject-submit').click();
    await expect.poll(() => page.getByTestId('request-detail').getAttribute('data-status'), { timeout: 60_000 }).toBe('rejected');

    await signInAs(page, hub, requester);
    await openConsole(page, hub, `/authority/requests/${emergencyId}`);
    expect(await page.getByTestId('fact-rejection').textContent()).toBe('No threat to life is shown: an ordinary request is the way.');
    expect(await page.getByTestId('open-release').count()).toBe(0);
  });

  it('/transparency counts the requests and shows the signed checkpoint, in Vietnamese and English', async () => {
    await page.goto(`${hub.url}/transparency`);
    const report = page.getByTestId('report');
    await expect.poll(() => report.getAttribute('data-state'), { timeout: 60_000 }).toBe('ready');
    const after = await getJson<Report>(hub, '/v1/transparency/report');
    expect(after.totals.requests).toBe(before.totals.requests + 2);
    expect(after.totals.approved).toBe(before.totals.approved + 1);
    expect(after.totals.rejected).toBe(before.totals.rejected + 1);
    expect(after.totals.emergency).toBe(before.totals.emergency + 1);
    expect(await page.getByTestId('total-requests').textContent()).toBe(String(after.totals.requests));
    expect(await page.getByTestId('total-approved').textContent()).toBe(String(after.totals.approved));
    expect(await page.getByTestId('total-rejected').textContent()).toBe(String(after.totals.rejected));
    expect(await page.getByTestId('total-emergency').textContent()).toBe(String(after.totals.emergency));
    const police = page.locator(`[data-testid="report-row"][data-authority-id="${requester.authority.id}"]`);
    const policeBefore = before.by_authority.find((a) => a.authority.id === requester.authority.id);
    expect(await police.getByTestId('count-requests').textContent()).toBe(String((policeBefore?.requests ?? 0) + 2));
    expect(await police.getByTestId('count-approved').textContent()).toBe(String((policeBefore?.approved ?? 0) + 1));

    const checkpoint = (await page.getByTestId('checkpoint').textContent()) ?? '';
    const origin = checkpoint.split('\n')[0]!;
    expect(origin.length).toBeGreaterThan(0);
    expect((await (await fetch(new URL('/log/checkpoint', hub.url))).text()).split('\n')[0]).toBe(origin);
    expect(await page.getByTestId('checkpoint-link').getAttribute('href')).toBe('/log/checkpoint');
    await noSidewaysScroll(page);
    await page.screenshot({ path: `${SCREENSHOTS}/transparency.png`, fullPage: true });

    await page.getByTestId('language-en').click();
    await expect.poll(() => page.getByTestId('page-heading').textContent()).toBe('Transparency report');
    await page.getByTestId('language-vi').click();
  });
});
