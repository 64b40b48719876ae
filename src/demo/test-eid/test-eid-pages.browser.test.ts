/**
 * The test eID's pages in Debian's Chromium at phone width: signed in with the keyboard only
 * (Tab, arrow keys, Enter) and cancelled, ending at the relying party's callback; labels are
 * attached to their controls and values are escaped.
 *
 * Without Chromium these tests fail (see test/support/browser.ts) unless IDBIND_SKIP_BROWSER=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculatePKCECodeChallenge, randomPKCECodeVerifier } from 'openid-client';
import { launchBrowser, skipBrowser, type TestBrowser } from '../../../test/support/browser.ts';
import { EIDAS_LOA } from '../../kernel/config/config.ts';
import { startTestEidServer, type TestEidServer } from './test-eid-provider.ts';

let CALLBACK = '';
/** The relying party's callback: a loopback server answering 200 (a redirect's target cannot be intercepted by page.route). */
let rp: Server;
let eid: TestEidServer;
let browser: TestBrowser;

beforeAll(async () => {
  if (skipBrowser) return;
  rp = createServer((_req, res) => res.end('callback'));
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
  CALLBACK = `http://127.0.0.1:${(rp.address() as AddressInfo).port}/cb`;
  eid = await startTestEidServer({
    persons: [
      { personalId: '001090000001', label: 'Adult: Nguyễn Văn An, 35' },
      { personalId: '001315000002', label: 'Minor under 16: Trần Thị Bình, 10' },
      { personalId: '', label: '<b>not bold</b>' },
    ],
    clients: [{ client_id: 'rp', client_secret: 'rp-secret', redirect_uris: [CALLBACK] }],
    acrValues: [EIDAS_LOA.low, EIDAS_LOA.substantial, EIDAS_LOA.high],
  });
  browser = await launchBrowser({ viewport: { width: 375, height: 812 } });
});
afterAll(async () => {
  await browser?.close();
  await eid?.close();
  rp?.closeAllConnections();
  await new Promise((resolve) => (rp ? rp.close(resolve) : resolve(undefined)));
});

async function authorizationUrl(): Promise<string> {
  const u = new URL(`${eid.issuer}/auth`);
  u.search = new URLSearchParams({
    client_id: 'rp', response_type: 'code', scope: 'openid', redirect_uri: CALLBACK, prompt: 'login',
    code_challenge: await calculatePKCECodeChallenge(randomPKCECodeVerifier()), code_challenge_method: 'S256', acr_values: EIDAS_LOA.high,
  }).toString();
  return u.href;
}

describe.skipIf(skipBrowser)('test eID pages in Chromium', () => {
  it('signs in with the keyboard only, at phone width, and ends at the callback', async () => {
    const page = await browser.newPage();
    await page.goto(await authorizationUrl());
    expect(await page.getAttribute('html', 'lang')).toBe('vi');
    // Every choice is a labelled control; the level asked for is pre-selected; values are escaped.
    expect(await page.getByLabel('Minor under 16: Trần Thị Bình, 10').isChecked()).toBe(false);
    expect(await page.getByLabel('Cao / High (eIDAS high)').isChecked()).toBe(true);
    expect(await page.getByLabel('<b>not bold</b>').count()).toBe(1);
    // Nothing is wider than the phone.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);

    await page.keyboard.press('Tab'); // the checked person
    await page.keyboard.press('ArrowDown'); // the next person
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).labels?.[0]?.textContent)).toBe('Minor under 16: Trần Thị Bình, 10');
    await page.keyboard.press('Tab'); // the level
    await page.keyboard.press('Tab'); // "Sign in"
    expect(await page.evaluate(() => document.activeElement?.textContent)).toContain('Sign in');
    await Promise.all([page.waitForURL(`${CALLBACK}**`), page.keyboard.press('Enter')]);
    const back = new URL(page.url());
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('iss')).toBe(eid.issuer);
    expect(browser.pageErrors).toEqual([]);
    await page.close();
  });

  it('cancels: the callback gets access_denied', async () => {
    const page = await browser.newPage();
    await page.goto(await authorizationUrl());
    await Promise.all([page.waitForURL(`${CALLBACK}**`), page.getByRole('button', { name: /Cancel/ }).click()]);
    expect(new URL(page.url()).searchParams.get('error')).toBe('access_denied');
    await page.close();
  });
});
