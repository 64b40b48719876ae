/**
 * Browser test of the authority console's passkey sign-in (issue 5 "Officials and the authority
 * console") in Debian's Chromium with its virtual WebAuthn authenticator (CDP `WebAuthn` domain:
 * CTAP2, internal transport, resident keys, user verification that succeeds), against the real hub
 * on its own database. The hub's public URL is `http://localhost:<port>`: WebAuthn refuses an IP
 * address as relying-party id, and localhost is a secure context.
 *
 * An official is created over the admin API; their invitation link opens the enrolment page,
 * which creates a passkey (the official is then signed in); they sign out, sign in with the
 * passkey, and the console shows them (name, authority, roles) as `/v1/authority/me` does. The
 * invitation cannot be used twice. Deactivating the official over the admin API ends the session
 * at once (the console's next request is refused) and the passkey no longer signs in. In demo mode
 * the demo officials sign in with one click; in production there are no demo buttons. Keyboard
 * only, Vietnamese and English, at 360 px. Screenshots go to .tmp/.
 *
 * Without Chromium these tests fail (see test/support/browser.ts) unless IDBIND_SKIP_BROWSER=1.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CDPSession, Page } from 'playwright-core';
import { launchBrowser, skipBrowser, type TestBrowser } from '../support/browser.ts';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { adminGuard } from '../../src/kernel/http/admin-auth.ts';
import { officialRoutes } from '../../src/officials/official-routes.ts';
import { ensureDemoAuthorities } from '../../src/officials/demo-officials.ts';

const SCREENSHOTS = '.tmp';

/** A hub at http://localhost:<port> with the officials' routes (registered here until src/server.ts has them). */
async function startHub(demo: boolean): Promise<TestHub> {
  const hub = await startTestHub({
    demo, listen: false, publicPort: true,
    envFor: async (url) => ({ IDBIND_PUBLIC_URL: url.replace('127.0.0.1', 'localhost') }),
  });
  const publicUrl = hub.hub.config.publicUrl;
  if (!hub.app.hasRoute({ method: 'GET', url: '/v1/authority/me' })) {
    await hub.app.register(async (scope) => officialRoutes(scope, {
      pool: hub.hub.pool, ring: () => hub.hub.ring(), publicUrl, adminGuard: adminGuard(hub.adminToken), mode: demo ? 'demo' : 'production',
    }));
  }
  await hub.app.listen({ host: '127.0.0.1', port: Number(new URL(publicUrl).port) });
  hub.url = publicUrl;
  return hub;
}

async function addAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

async function admin<T>(hub: TestHub, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const r = await fetch(new URL(path, hub.url), {
    method, headers: { authorization: `Bearer ${hub.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: (await r.json()) as T };
}

async function activeTestId(page: Page): Promise<string | null> {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
}

/** Tabs forward until the element with `testId` has the focus (at most `max` presses). */
async function tabTo(page: Page, testId: string, max = 30): Promise<void> {
  for (let i = 0; i < max; i++) {
    if ((await activeTestId(page)) === testId) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`${testId} never got the focus by Tab`);
}

describe.skipIf(skipBrowser)('authority console with passkeys (production mode)', () => {
  let hub: TestHub;
  let browser: TestBrowser;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId: string;
  let officialId: string;
  let invitationUrl: string;

  beforeAll(async () => {
    browser = await launchBrowser({ viewport: { width: 360, height: 780 } });
    page = await browser.newPage();
    ({ cdp, authenticatorId } = await addAuthenticator(page));
    hub = await startHub(false);
    mkdirSync(SCREENSHOTS, { recursive: true });
    const a = await admin<{ authority: { id: string } }>(hub, 'POST', '/v1/admin/authorities', { name: 'Viện kiểm sát nhân dân tỉnh Thử nghiệm', kind: 'procuracy' });
    const o = await admin<{ official: { id: string }; invitation_url: string }>(hub, 'POST', '/v1/admin/officials', {
      authority_id: a.body.authority.id, name: 'Kiểm sát viên Đỗ Thị Lan', roles: ['approver', 'auditor'],
    });
    expect(o.status).toBe(201);
    officialId = o.body.official.id;
    invitationUrl = o.body.invitation_url;
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('enrols a passkey from the invitation link, by keyboard, and is signed in', async () => {
    expect(invitationUrl.startsWith(`${hub.url}/authority/enrol#`)).toBe(true);
    await page.goto(invitationUrl);
    await page.getByTestId('authority-enrol').waitFor({ timeout: 60_000 });
    // The token leaves the address bar at once.
    expect(new URL(page.url()).hash).toBe('');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Đăng ký khóa truy cập');
    await tabTo(page, 'enrol-passkey');
    await page.keyboard.press('Enter');
    await page.getByTestId('enrol-done').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('enrol-done').textContent()).toContain('Kiểm sát viên Đỗ Thị Lan');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);
    expect(credentials[0]!.rpId).toBe('localhost');
    await page.screenshot({ path: `${SCREENSHOTS}/authority-enrolled-360.png`, fullPage: true });

    await page.getByTestId('go-to-console').click();
    await page.getByTestId('authority-page').waitFor();
    expect(await page.getByTestId('official-name').textContent()).toBe('Kiểm sát viên Đỗ Thị Lan');
    expect(await page.getByTestId('official-roles').textContent()).toBe('người phê duyệt, người kiểm tra');
    expect(await page.getByTestId('authority-requests').count()).toBe(1);
  });

  it('the invitation link does not work twice', async () => {
    const other = await browser.newPage();
    await other.goto(invitationUrl);
    await other.getByTestId('enrol-passkey').click();
    await other.getByTestId('enrol-error').waitFor({ timeout: 60_000 });
    expect(await other.getByTestId('enrol-error').textContent()).toContain('INVITATION_INVALID');
    await other.close();
  });

  it('signs out, signs in again with the passkey, and shows what /v1/authority/me answers', async () => {
    await page.getByTestId('authority-sign-out').click();
    await page.getByTestId('authority-sign-in').waitFor();
    expect(await page.getByTestId('demo-officials').count()).toBe(0);
    const me0 = await page.evaluate(async () => (await fetch('/v1/authority/me')).status);
    expect(me0).toBe(401);

    await tabTo(page, 'passkey-sign-in');
    await page.keyboard.press('Enter');
    await page.getByTestId('authority-page').waitFor({ timeout: 60_000 });
    const me = await page.evaluate(async () => (await fetch('/v1/authority/me')).json());
    expect(me).toMatchObject({ id: officialId, name: 'Kiểm sát viên Đỗ Thị Lan', authority: { kind: 'procuracy' }, roles: ['approver', 'auditor'] });
    expect(await page.getByTestId('official-authority').textContent()).toContain(me.authority.name);
    // The session cookie is HttpOnly: the page cannot read it.
    expect(await page.evaluate(() => document.cookie)).not.toContain('idbind_official');
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'idbind_official')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    // Nothing overflows a 360 px screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.screenshot({ path: `${SCREENSHOTS}/authority-signed-in-360.png`, fullPage: true });
  });

  it('speaks English', async () => {
    await page.getByTestId('language-en').click();
    expect(await page.getByTestId('page-heading').textContent()).toBe('Authority console');
    expect(await page.getByTestId('official-roles').textContent()).toBe('approver, auditor');
    expect(await page.getByTestId('official-authority').textContent()).toContain('(procuracy)');
    await page.getByTestId('language-vi').click();
    expect(await page.getByTestId('page-heading').textContent()).toBe('Cổng cơ quan có thẩm quyền');
  });

  it("a deactivated official's session stops working at once, and the passkey no longer signs in", async () => {
    const d = await admin<{ status: string }>(hub, 'POST', `/v1/admin/officials/${officialId}/deactivate`);
    expect(d.body.status).toBe('deactivated');
    const status = await page.evaluate(async () => (await fetch('/v1/authority/me')).status);
    expect(status).toBe(401);
    await page.reload();
    await page.getByTestId('authority-sign-in').waitFor({ timeout: 60_000 });
    await page.getByTestId('passkey-sign-in').click();
    await page.getByTestId('authority-sign-in-error').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('authority-sign-in-error').textContent()).toContain('OFFICIAL_DEACTIVATED');
    expect(await page.getByTestId('authority-page').count()).toBe(0);
  });
});

describe.skipIf(skipBrowser)('authority console, demo mode', () => {
  let hub: TestHub;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser();
    page = await browser.newPage();
    hub = await startHub(true);
    await ensureDemoAuthorities(hub.hub.pool, await hub.hub.ring(), hub.hub.config.publicUrl);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('offers "Demo: sign in as ..." for the demo officials, linked from the navigation', async () => {
    await page.goto(`${hub.url}/platform`);
    await page.getByRole('navigation').getByRole('link', { name: 'Cổng cơ quan có thẩm quyền' }).click();
    await page.getByTestId('demo-officials').waitFor({ timeout: 60_000 });
    const buttons = page.getByTestId('demo-officials').getByRole('button');
    expect(await buttons.count()).toBe(5);
    await page.getByRole('button', { name: 'Demo: đăng nhập với tư cách Kiểm sát viên Trần Thu Hà' }).click();
    await page.getByTestId('authority-page').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('official-authority').textContent()).toContain('Viện kiểm sát nhân dân TP Hà Nội (demo)');
    await page.screenshot({ path: `${SCREENSHOTS}/authority-demo.png`, fullPage: true });
  });
});
