/**
 * Browser test of the hosted verification pages (issue 4) in Debian's Chromium at 360 px, against
 * the real hub in demo mode with the hand-written verification registry. The test is the relying
 * party: Sen Social's OpenID client is configured through the provider API (redirect URI
 * https://platform.example/callback, PAR required, client_secret_basic), and openid-client v6
 * discovers the hub's issuer, pushes the authorization request (PKCE S256, `account_ref`) and
 * sends Chromium to it. The person then goes through `/verify/<uid>` by keyboard only, with the
 * code of the demo SMS outbox; the navigation to the redirect URI is caught with `page.route`
 * (platform.example does not exist) and the code is exchanged by openid-client, which checks the
 * ID token (signature, issuer, audience, nonce-less PKCE flow) before the claims are read.
 *
 * Also: the errors a person sees (an ineligible number, a wrong code with the tries left), the
 * language (Vietnamese first, English from ui_locales and the switch), a person under 16 whose
 * parent verifies after another adult is refused, cancelling, and no sideways scrolling at 360 px.
 * Screenshots go to .tmp/ for a person to look at.
 *
 * Without Chromium these tests fail (see test/support/browser.ts) unless IDBIND_SKIP_BROWSER=1.
 */
import { mkdirSync } from 'node:fs';
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, skipBrowser, type TestBrowser } from '../support/browser.ts';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { N, seedVerificationRegistry } from '../support/verification-fixture.ts';

const SCREENSHOTS = '.tmp';
const REDIRECT_URI = 'https://platform.example/callback';
const WIDTH = 360;

interface DemoSession {
  platforms: { id: string; name: string; api_key: string }[];
}

async function json<T>(hub: TestHub, path: string, init: { apiKey?: string; method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (init.apiKey) headers.authorization = `Bearer ${init.apiKey}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(new URL(path, hub.url), { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

async function activeTestId(page: Page): Promise<string | null> {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
}

/** Presses Tab until the element with `testId` has focus (keyboard-only use); fails after `max` presses. */
async function tabTo(page: Page, testId: string, max = 15): Promise<void> {
  for (let i = 0; i < max; i++) {
    if ((await activeTestId(page)) === testId) return;
    await page.keyboard.press('Tab');
  }
  expect(await activeTestId(page), `Tab never reached ${testId}`).toBe(testId);
}

/** Waits for the stage `name`; on a timeout, says where the page is instead (stage, error code, URL). */
async function stage(page: Page, name: string): Promise<void> {
  try {
    await page.locator(`[data-testid="verify-stage"][data-stage="${name}"]`).waitFor({ timeout: 60_000 });
  } catch (error) {
    const at = await page.evaluate(() => ({
      stage: document.querySelector('[data-testid="verify-stage"]')?.getAttribute('data-stage') ?? null,
      error: document.querySelector('[data-testid="verify-error"]')?.getAttribute('data-code') ?? null,
    }));
    throw new Error(`stage ${name} not reached: at ${JSON.stringify(at)} on ${page.url()}`, { cause: error });
  }
}

async function noSidewaysScroll(page: Page): Promise<void> {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(WIDTH);
}

describe.skipIf(skipBrowser)('hosted verification pages, demo mode', () => {
  let hub: TestHub;
  let browser: TestBrowser;
  let page: Page;
  let apiKey: string;
  let config: oidc.Configuration;

  /** The latest code sent to `number` (any accepted form), from the demo SMS outbox. */
  async function lastCode(number: string): Promise<string> {
    const outbox = (await json<{ text: string }[]>(hub, `/v1/dev/sms-outbox?to=${encodeURIComponent(number)}`)).body;
    const code = outbox.at(-1)?.text.match(/\b\d{6}\b/)?.[0];
    if (!code) throw new Error(`no code in the demo outbox for ${number}`);
    return code;
  }

  /** As the platform's backend would: a pushed authorization request; Chromium goes to its URL. */
  async function startFlow(accountRef: string, extra: Record<string, string> = {}): Promise<{ verifier: string; redirected: Promise<URL> }> {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      account_ref: accountRef,
      ...extra,
    });
    // platform.example does not exist: catch the navigation back to the platform and answer it here.
    const redirected = new Promise<URL>((resolve) => {
      void page.route('https://platform.example/**', async (route) => {
        resolve(new URL(route.request().url()));
        await route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Platform</title><h1>Back at the platform</h1>' });
      });
    });
    await page.goto(url.href);
    return { verifier, redirected };
  }

  async function finish(verifier: string, redirected: Promise<URL>) {
    let timer: NodeJS.Timeout | undefined;
    const callback = await Promise.race([redirected, new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void page.evaluate(() => ({
          stage: document.querySelector('[data-testid="verify-stage"]')?.getAttribute('data-stage') ?? null,
          error: document.querySelector('[data-testid="verify-error"]')?.getAttribute('data-code') ?? null,
          text: document.body?.innerText.slice(0, 200) ?? '',
        })).then((at) => reject(new Error(`the platform was not reached: at ${JSON.stringify(at)} on ${page.url()}`)), reject);
      }, 60_000);
    })]).finally(() => clearTimeout(timer));
    await page.unroute('https://platform.example/**');
    return { callback, tokens: await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, idTokenExpected: true }) };
  }

  /** Types `number`, sends the code, types the code from the outbox: by keyboard only. */
  async function byPhone(number: string, options: { code?: string } = {}): Promise<void> {
    await tabTo(page, 'verify-phone');
    await page.keyboard.type(number);
    await page.keyboard.press('Enter');
    await stage(page, 'phone_code');
    await tabTo(page, 'verify-code');
    await page.keyboard.type(options.code ?? (await lastCode(number)));
    await page.keyboard.press('Enter');
  }

  beforeAll(async () => {
    browser = await launchBrowser({ viewport: { width: WIDTH, height: 780 } }); // first: without Chromium, fail before starting anything
    page = await browser.newPage();
    hub = await startTestHub({ demo: true, publicPort: true }); // the issuer must be the URL the relying party reaches
    await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
    const session = (await json<DemoSession>(hub, '/v1/demo/session')).body;
    const sen = session.platforms.find((p) => p.name === 'Sen Social');
    if (!sen) throw new Error('no demo platform Sen Social');
    apiKey = sen.api_key;

    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('changes the demo platform’s OpenID client in the console: redirect URI, PAR, a new secret shown once', async () => {
    await page.goto(`${hub.url}/platform`);
    await page.getByTestId('demo-platform-sen-social').click();
    const section = page.getByTestId('oidc-section');
    // The demo platforms are OpenID clients already (redirect URI ${publicUrl}/demo/rp/sen-social/callback).
    await page.locator('[data-testid="oidc-section"][data-state="ready"]').waitFor({ timeout: 60_000 });
    await section.scrollIntoViewIfNeeded();

    // A redirect URI the hub refuses: the error is shown with the hub's reason, at the field.
    const uris = page.getByTestId('oidc-redirect-uris');
    await uris.fill('http://platform.example/callback');
    await page.getByTestId('oidc-save').click();
    const error = page.getByTestId('oidc-error');
    await error.waitFor();
    expect(await error.getAttribute('data-code')).toBe('OIDC_CLIENT_INVALID');
    expect(await error.textContent()).toContain('redirect_uris');
    expect(await uris.getAttribute('aria-invalid')).toBe('true');

    await uris.fill(REDIRECT_URI);
    const par = page.getByTestId('oidc-require-par');
    if (!(await par.isChecked())) await par.check();
    await page.getByTestId('oidc-save').click();
    await page.getByTestId('oidc-saved').waitFor();
    // A new secret, shown once after a confirmation.
    await page.getByTestId('oidc-rotate-secret').click();
    await page.getByTestId('oidc-rotate-secret-confirm').click();
    const secretBox = page.getByTestId('oidc-client-secret');
    await secretBox.waitFor();
    const issuer = ((await page.getByTestId('oidc-issuer').textContent()) ?? '').trim();
    const clientId = ((await page.getByTestId('oidc-client-id').textContent()) ?? '').trim();
    const secret = await secretBox.inputValue();
    expect(issuer).toBe(`${hub.url}/oidc`);
    expect(await page.getByTestId('oidc-discovery').getAttribute('href')).toBe(`${hub.url}/oidc/.well-known/openid-configuration`);
    expect(secret).toMatch(/^idcs_/);
    expect(await page.getByTestId('oidc-snippet').textContent()).toContain(`'${clientId}'`);
    await noSidewaysScroll(page);
    await section.screenshot({ path: `${SCREENSHOTS}/console-oidc-360.png` });

    // What the console saved is what the API answers.
    const saved = await json<{ redirect_uris: string[]; require_par: boolean; client_id: string }>(hub, '/v1/provider/oidc-client', { apiKey });
    expect(saved.body).toMatchObject({ redirect_uris: [REDIRECT_URI], require_par: true, client_id: clientId });

    // The platform's backend, with the secret from the console.
    config = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
    expect(config.serverMetadata().pushed_authorization_request_endpoint).toBeDefined();
  });

  it('takes an adult through the phone flow by keyboard and ends at the redirect URI with a valid ID token', async () => {
    const { verifier, redirected } = await startFlow('hosted-user-1');
    await stage(page, 'choose_method');
    expect(new URL(page.url()).pathname).toMatch(/^\/verify\/[^/]+$/);
    // Vietnamese first; the platform named; no console navigation on a person's page.
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('vi');
    expect(await page.getByTestId('verify-platform').textContent()).toContain('Sen Social');
    expect(await page.getByRole('navigation').count()).toBe(0);
    expect(await activeTestId(page)).toBe('verify-heading');

    const phone = page.getByTestId('verify-phone');
    expect(await phone.getAttribute('inputmode')).toBe('tel');
    expect(await phone.getAttribute('autocomplete')).toBe('tel');
    expect(await page.getByLabel('Số điện thoại di động của bạn').count()).toBe(1);
    await noSidewaysScroll(page);
    await page.screenshot({ path: `${SCREENSHOTS}/hosted-choose-360.png`, fullPage: true });

    await tabTo(page, 'verify-phone');
    await page.keyboard.type('0912 000 001');
    await page.keyboard.press('Enter');
    await stage(page, 'phone_code');
    // Focus moved to the new stage's heading; the field is labelled and typed for one-time codes.
    expect(await activeTestId(page)).toBe('verify-heading');
    const code = page.getByTestId('verify-code');
    expect(await code.getAttribute('inputmode')).toBe('numeric');
    expect(await code.getAttribute('autocomplete')).toBe('one-time-code');
    expect(await code.getAttribute('maxlength')).toBe('6');
    expect(await page.getByLabel('Mã gồm 6 chữ số').count()).toBe(1);
    await noSidewaysScroll(page);
    await page.screenshot({ path: `${SCREENSHOTS}/hosted-code-360.png`, fullPage: true });

    await tabTo(page, 'verify-code');
    await page.keyboard.type(await lastCode(N.adult));
    await page.keyboard.press('Enter');

    const { callback, tokens } = await finish(verifier, redirected);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI);
    const claims = tokens.claims();
    expect(claims).toBeDefined();
    expect(claims).toMatchObject({ acr: 'low', verified: true, age_over_16: true, age_over_18: true, minor: false });
    expect(typeof claims!.sub).toBe('string');
    // Minimal disclosure: nothing personal without a statutory profile and consent.
    for (const personal of ['name', 'birthdate', 'phone_number']) expect(claims).not.toHaveProperty(personal);

    // The account is bound, and the platform's API agrees with the token.
    const account = await json<{ status: string; level: string; pseudonym: string }>(hub, '/v1/accounts/hosted-user-1', { apiKey });
    expect(account.body).toMatchObject({ status: 'verified', level: 'low' });
    expect(await page.locator('h1').textContent()).toBe('Back at the platform');
  });

  it('explains an ineligible number and a wrong code in words, at the field, with the tries left', async () => {
    const { verifier, redirected } = await startFlow('hosted-user-2');
    await stage(page, 'choose_method');
    await tabTo(page, 'verify-phone');
    await page.keyboard.type(N.deceased);
    await page.keyboard.press('Enter');
    const error = page.getByTestId('verify-error');
    await error.waitFor();
    expect(await error.getAttribute('data-code')).toBe('NUMBER_NOT_ELIGIBLE');
    expect(await error.getAttribute('role')).toBe('alert');
    expect(await error.textContent()).toContain('Không thể dùng số này để xác thực.');
    const phone = page.getByTestId('verify-phone');
    expect(await phone.getAttribute('aria-invalid')).toBe('true');
    expect((await phone.getAttribute('aria-describedby'))?.split(' ')).toContain(await error.getAttribute('id'));
    expect(await activeTestId(page)).toBe('verify-phone');

    await phone.fill('');
    await page.keyboard.type(N.adult2);
    await page.keyboard.press('Enter');
    await stage(page, 'phone_code');
    const right = await lastCode(N.adult2);
    await tabTo(page, 'verify-code');
    await page.keyboard.type(String((Number(right) + 1) % 1_000_000).padStart(6, '0'));
    await page.keyboard.press('Enter');
    await error.waitFor();
    expect(await error.getAttribute('data-code')).toBe('CODE_INVALID');
    expect(await error.textContent()).toMatch(/Mã chưa đúng\. .*Bạn còn \d lần thử\./);
    const code = page.getByTestId('verify-code');
    expect(await code.getAttribute('aria-invalid')).toBe('true');
    expect(await activeTestId(page)).toBe('verify-code');
    await page.screenshot({ path: `${SCREENSHOTS}/hosted-wrong-code-360.png`, fullPage: true });

    // A code that is not 6 digits costs no try: it is caught on the page.
    await code.fill('12');
    await page.keyboard.press('Enter');
    expect(await page.getByText('Mã gồm 6 chữ số. Vui lòng xem lại tin nhắn và nhập đủ 6 số.').count()).toBe(1);

    await code.fill(right);
    await page.keyboard.press('Enter');
    const { tokens } = await finish(verifier, redirected);
    expect(tokens.claims()).toMatchObject({ acr: 'low', verified: true });
  });

  it('speaks English when the platform asks for it, and the switch changes the language', async () => {
    const { verifier, redirected } = await startFlow('hosted-user-3', { ui_locales: 'en' });
    await stage(page, 'choose_method');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    expect(await page.getByTestId('verify-heading').textContent()).toBe('Verify your identity for Sen Social');
    await page.getByTestId('language-vi').click();
    expect(await page.getByTestId('verify-heading').textContent()).toBe('Xác thực danh tính cho Sen Social');
    expect(await page.getByTestId('language-vi').getAttribute('aria-pressed')).toBe('true');
    await page.getByTestId('language-en').click();

    // Cancelling goes back to the platform with access_denied (RFC 6749 4.1.2.1).
    await tabTo(page, 'verify-cancel', 20);
    await page.keyboard.press('Enter');
    const callback = await redirected;
    await page.unroute('https://platform.example/**');
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('code')).toBeNull();
    void verifier;
  });

  it('asks a person under 16 for a guardian, refuses an adult who is not one, and lets the registered guardian finish', async () => {
    const { verifier, redirected } = await startFlow('hosted-minor-1');
    await stage(page, 'choose_method');
    await page.getByTestId('language-vi').click(); // the previous test left English chosen
    await byPhone(N.minor);
    await stage(page, 'guardian_intro');
    expect(await activeTestId(page)).toBe('verify-heading');
    expect(await page.getByTestId('verify-heading').textContent()).toBe('Cần cha mẹ hoặc người giám hộ giúp');
    expect(await page.getByTestId('verify-page').textContent()).toContain('Nghị định 147/2024/NĐ-CP, Điều 27');
    await noSidewaysScroll(page);
    await page.screenshot({ path: `${SCREENSHOTS}/hosted-guardian-360.png`, fullPage: true });
    await tabTo(page, 'verify-guardian-continue');
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="verify-stage"][data-role="guardian"]').waitFor();
    expect(await page.getByTestId('verify-heading').textContent()).toBe('Cha mẹ hoặc người giám hộ: xác thực chính mình');

    // An adult who is not this child's guardian: a clear refusal.
    await byPhone(N.adultB);
    const error = page.getByTestId('verify-error');
    await error.waitFor();
    expect(await error.getAttribute('data-code')).toBe('GUARDIAN_NOT_LISTED');
    expect(await error.textContent()).toContain('Bạn không được đăng ký là cha mẹ hoặc người giám hộ của em');
    await page.screenshot({ path: `${SCREENSHOTS}/hosted-guardian-refused-360.png`, fullPage: true });

    // The registered guardian (the adult of the fixture) verifies and the flow ends at the platform.
    await page.locator('[data-testid="verify-stage"][data-role="guardian"]').waitFor();
    await page.getByTestId('verify-phone').fill('');
    await byPhone(N.adult3);
    const { tokens } = await finish(verifier, redirected);
    expect(tokens.claims()).toMatchObject({ verified: true, age_over_16: false, age_over_18: false, minor: true });
  });

  it("loads a person's pages without the staff consoles' code", async () => {
    // A fresh tab: the first test opened the platform console in the other one.
    const tab = await browser.newPage();
    const scripts: string[] = [];
    tab.on('request', (r) => {
      if (r.resourceType() === 'script') scripts.push(new URL(r.url()).pathname);
    });
    for (const path of ['/verify/no-such-flow', '/citizen']) {
      await tab.goto(`${hub.url}${path}`);
      await tab.locator('h1').first().waitFor();
    }
    await tab.close();
    const chunk = (name: string) => scripts.some((s) => new RegExp(`/assets/${name}-[\\w-]+\\.js$`).test(s));
    expect(chunk('verify-page') && chunk('citizen-page'), scripts.join(' ')).toBe(true);
    for (const name of ['platform-page', 'registries-page', 'authority-page', 'requests', 'enrol-page', 'transparency-page']) {
      expect(chunk(name), `${name} in ${scripts.join(' ')}`).toBe(false);
    }
  });

  it("shows a page whose code cannot be fetched as an error with a reload, and the reload brings it", async () => {
    // As after a lost connection, or a hub updated since the app was opened (its old chunk gone).
    const tab = await browser.newPage();
    await tab.route('**/assets/verify-page-*.js', (r) => r.abort());
    await tab.goto(`${hub.url}/verify/no-such-flow`);
    const failed = tab.getByTestId('page-load-failed');
    await failed.waitFor();
    expect(await failed.getAttribute('role')).toBe('alert');
    expect(await failed.textContent()).toContain('Không tải được trang này.');
    await tab.unroute('**/assets/verify-page-*.js');
    await failed.getByRole('button', { name: 'Tải lại trang' }).click();
    await tab.locator('h1').first().waitFor();
    expect(await tab.getByTestId('page-load-failed').count()).toBe(0);
    await tab.close();
  });

  it('throws no error in the page', () => {
    expect(browser.pageErrors).toEqual([]);
  });
});
