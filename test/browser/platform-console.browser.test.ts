/**
 * Browser test of the platform console (issue 3 "SDK and console") in Debian's Chromium, against
 * the real hub in demo mode on its own database with the hand-written verification registry. A
 * demo platform signs in with one click and walks through a full verification by keyboard: the
 * account reference and number typed, the code read from the demo SMS outbox shown on the page
 * (and checked against the outbox itself), confirmed; the page shows "verified", level low and a
 * pseudonym, which the API (with the platform's key) must answer too. Then: the errors a person
 * sees (a wrong code with the tries left, an ineligible number), the statistics, the webhook
 * panel against a real receiver (URL, secret, test event and its delivery in the log, an
 * account event verified with the SDK; the receiver answering 410 Gone, the notice that the hub
 * disabled the endpoint and its re-enabling; dead deliveries replayed from their row and all at
 * once, received again with the same webhook-id), an API-key rotation after which the console carries on,
 * a pasted key (wrong, then right), English, and a 375 px screen. In production mode the console asks for an API key and
 * never for the admin token. Screenshots go to .tmp/ for a person to look at.
 *
 * Without Chromium these tests fail (see test/support/browser.ts) unless IDBIND_SKIP_BROWSER=1.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, skipBrowser, type TestBrowser } from '../support/browser.ts';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { N, seedVerificationRegistry } from '../support/verification-fixture.ts';
import { startReceiver, type Receiver } from '../http/webhooks-receiver.ts';
import { startWebhookDispatcher, type WebhookDispatcher } from '../../src/events/webhook-dispatcher.ts';
import { webhookRoutes } from '../../src/events/webhook-routes.ts';
import { insertTestEvent } from '../../src/events/webhook-repository.ts';
import { verifyWebhook } from '../../packages/sdk/src/index.ts';

const SCREENSHOTS = '.tmp';

interface DemoSession {
  platforms: { id: string; name: string; api_key: string }[];
  sample_numbers: string[];
}

async function json<T>(hub: TestHub, path: string, apiKey?: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(new URL(path, hub.url), {
    ...init,
    headers: { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...(init.headers as Record<string, string> | undefined) },
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

async function text(page: Page, testId: string): Promise<string> {
  return ((await page.getByTestId(testId).textContent({ timeout: 60_000 })) ?? '').trim();
}

/** Back to an empty start form, from wherever the try panel is (result, code sent, or an error). */
async function newAttempt(page: Page): Promise<void> {
  for (const testId of ['try-again', 'try-reset']) {
    const button = page.getByTestId(testId);
    if ((await button.count()) > 0) await button.click();
  }
  await page.getByTestId('try-start').waitFor();
}

/** A date and time as the Vietnamese console writes it (web/src/i18n/i18n.tsx): day/month/year 24-hour, Vietnam time. */
function viDateTime(iso: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: 'Asia/Ho_Chi_Minh',
  }).formatToParts(new Date(iso));
  const f = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  return `${f.day}/${f.month}/${f.year} ${f.hour}:${f.minute}:${f.second}`;
}

/** Sends a test event from the panel and answers its event id (a new one, not the previous result's). */
async function sendTestEvent(page: Page): Promise<string> {
  const result = page.getByTestId('test-event-result').locator('code');
  const before = (await result.count()) > 0 ? await result.textContent() : null;
  await page.getByTestId('send-test-event').click();
  await expect.poll(async () => ((await result.count()) > 0 ? result.textContent() : null), { timeout: 60_000 }).not.toBe(before);
  const eventId = await result.textContent();
  expect(eventId).toMatch(/^[0-9a-f-]{36}$/);
  return eventId!;
}

/** The console's three totals (started, confirmed, failed) and the API's, over the console's default 30 days. */
async function statsShownAndServed(page: Page, hub: TestHub, apiKey: string): Promise<{ shown: string[]; served: string[] }> {
  const { body } = await json<{ days: { started: number; confirmed: number; failed: Record<string, number> }[] }>(hub, '/v1/provider/verification-stats?days=30', apiKey);
  const sum = (pick: (d: (typeof body.days)[number]) => number) => String(body.days.reduce((n, d) => n + pick(d), 0));
  const served = [sum((d) => d.started), sum((d) => d.confirmed), sum((d) => Object.values(d.failed).reduce((a, b) => a + b, 0))];
  const shown = await Promise.all(['stats-started', 'stats-confirmed', 'stats-failed'].map((id) => text(page, id)));
  return { shown, served };
}

async function activeTestId(page: Page): Promise<string | null> {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
}

/** The receiver's requests carrying this webhook-id (every attempt and replay of one event). */
function requestsFor(receiver: Receiver, eventId: string) {
  return receiver.requests.filter((r) => r.headers['webhook-id'] === eventId);
}

function deliveryRow(page: Page, eventId: string, status: 'pending' | 'delivered' | 'dead') {
  return page.locator(`[data-testid="delivery-row"][data-status="${status}"]`, { hasText: eventId });
}

/** Refreshes the delivery log until the event's row shows `status`. */
async function waitForRow(page: Page, eventId: string, status: 'delivered' | 'dead'): Promise<void> {
  await expect.poll(async () => {
    await page.getByTestId('refresh-deliveries').click();
    return deliveryRow(page, eventId, status).count();
  }, { timeout: 60_000 }).toBe(1);
}

/**
 * A dead delivery through real behaviour: the receiver answers 410 Gone to a test event, so the
 * hub gives up on it at once and disables the endpoint (the notice shows once the provider is read
 * again). The receiver answers 410 until the caller sets `receiver.answer` again.
 */
async function goneDelivery(page: Page, receiver: Receiver): Promise<string> {
  receiver.answer = 410;
  const eventId = await sendTestEvent(page);
  await expect.poll(async () => {
    await page.getByTestId('refresh-deliveries').click();
    return [await deliveryRow(page, eventId, 'dead').count(), await page.getByTestId('webhook-disabled').count()];
  }, { timeout: 60_000 }).toEqual([1, 1]);
  expect(requestsFor(receiver, eventId)).toHaveLength(1);
  return eventId;
}

/** Answers 2xx again and enables the endpoint with the notice's button. */
async function reenable(page: Page, receiver: Receiver): Promise<void> {
  receiver.answer = 204;
  await page.getByTestId('webhook-reenable').click();
  await page.getByTestId('webhook-disabled').waitFor({ state: 'detached', timeout: 60_000 });
}

describe.skipIf(skipBrowser)('platform console, demo mode', () => {
  let hub: TestHub;
  let browser: TestBrowser;
  let page: Page;
  let senSocialKey: string;
  let receiver: Receiver;
  let dispatcher: WebhookDispatcher | undefined;
  let webhookSecret: string;

  beforeAll(async () => {
    browser = await launchBrowser(); // first: without Chromium, fail before starting anything
    page = await browser.newPage();
    hub = await startTestHub({ demo: true, listen: false });
    // The webhook routes and their dispatcher, wired as src/server.ts wires them, where this
    // server does not have them yet: the console is tested against the real delivery path.
    if (!hub.app.hasRoute({ method: 'GET', url: '/v1/webhooks/deliveries' })) {
      const ring = () => hub.hub.ring();
      dispatcher = startWebhookDispatcher({ pool: hub.hub.pool, ring, outbound: { allowLoopback: true }, intervalMs: 200 });
      const d = dispatcher;
      await hub.app.register(async (scope) => webhookRoutes(scope, { pool: hub.hub.pool, ring, dispatcher: d }));
    }
    hub.url = await hub.app.listen({ host: '127.0.0.1', port: 0 });
    receiver = await startReceiver();
    await seedVerificationRegistry(hub.hub.pool, await hub.hub.ring());
  }, 300_000);

  /** Ends a 410 step with the receiver answering 2xx and the endpoint enabled, also after a failure, for the steps that follow. */
  async function restoreEndpoint(): Promise<void> {
    receiver.answer = 204;
    await json(hub, '/v1/provider/webhook', senSocialKey, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: receiver.url }),
    });
  }

  afterAll(async () => {
    await browser?.close();
    await dispatcher?.stop();
    await receiver?.close();
    await hub?.stop();
  });

  it('is linked from the navigation and offers the demo platforms without asking for any token', async () => {
    await page.goto(hub.url);
    const link = page.getByRole('navigation', { name: 'Điều hướng chính' }).getByRole('link', { name: 'Bảng điều khiển nền tảng' });
    await link.click();
    await page.getByTestId('platform-sign-in').waitFor({ timeout: 60_000 });
    expect(new URL(page.url()).pathname).toBe('/platform');
    expect(await page.title()).toContain('Bảng điều khiển nền tảng');
    expect(await page.getByTestId('admin-token-input').count()).toBe(0);

    const session = (await json<DemoSession>(hub, '/v1/demo/session')).body;
    expect(session.platforms.map((p) => p.name)).toEqual(['Sen Social', 'Lotus Video', 'Mekong Domains']);
    senSocialKey = session.platforms[0]!.api_key;
    for (const p of session.platforms) {
      await page.getByRole('button', { name: `Đăng nhập với tư cách ${p.name}` }).waitFor();
    }
  });

  it('walks Sen Social through a full verification with the code of the demo SMS outbox', async () => {
    await page.getByTestId('demo-platform-sen-social').click();
    await page.getByTestId('platform-page').waitFor();
    expect(await text(page, 'provider-name')).toBe('Sen Social');

    // By keyboard: type into the labelled fields, submit with Enter.
    await page.getByLabel('Mã tài khoản').focus();
    await page.keyboard.type('browser-user-1');
    await page.getByLabel('Số di động').focus();
    await page.keyboard.type('0912 000 001');
    await page.keyboard.press('Enter');

    const shownCode = await text(page, 'demo-sms-code');
    expect(shownCode).toMatch(/^\d{6}$/);
    const outbox = (await json<{ to: string; text: string }[]>(hub, `/v1/dev/sms-outbox?to=${encodeURIComponent(N.adult)}`)).body;
    expect(outbox.at(-1)!.text).toContain('Sen Social');
    expect(outbox.at(-1)!.text.match(/\b\d{6}\b/g)).toEqual([shownCode]);
    expect(await text(page, 'demo-sms-text')).toBe(outbox.at(-1)!.text);
    // Focus moved to the code field once the code was sent.
    expect(await activeTestId(page)).toBe('try-code');
    const verificationId = await page.getByTestId('try-sent').getAttribute('data-verification-id');

    await page.keyboard.type(shownCode);
    await page.keyboard.press('Enter');
    await page.getByTestId('try-result').waitFor();

    expect(await page.getByTestId('result-status').getAttribute('data-value')).toBe('verified');
    expect(await text(page, 'result-status')).toBe('Đã xác thực');
    expect(await page.getByTestId('result-level').getAttribute('data-value')).toBe('low');
    const pseudonym = await text(page, 'result-pseudonym');
    expect(pseudonym).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await page.getByTestId('account-status').getAttribute('data-value')).toBe('verified');

    // The API, with the platform's own key, says the same.
    const account = await json<{ status: string; level: string; pseudonym: string }>(hub, '/v1/accounts/browser-user-1', senSocialKey);
    expect(account.status).toBe(200);
    expect(account.body).toMatchObject({ account_ref: 'browser-user-1', status: 'verified', level: 'low', pseudonym });
    const verification = await json<{ status: string; result: { pseudonym: string } }>(hub, `/v1/verifications/${verificationId}`, senSocialKey);
    expect(verification.body).toMatchObject({ status: 'verified', result: { pseudonym } });

    // The statistics reload after the verification.
    await page.locator('[data-testid="verification-stats"][data-loaded="true"]').waitFor();
    await expect.poll(() => text(page, 'stats-confirmed')).toBe('1');
    expect(Number(await text(page, 'stats-started'))).toBeGreaterThanOrEqual(1);
    expect(await page.getByTestId('stats-chart').locator('svg[role="img"]').count()).toBe(1);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOTS}/platform-console-desktop.png`, fullPage: true });
  });

  it('explains a wrong code with the tries left, and an ineligible number, in words', async () => {
    await newAttempt(page);
    await page.getByTestId('try-account-ref').fill('browser-user-2');
    await page.getByTestId('try-phone').fill(N.adult2);
    await page.getByTestId('try-start').click();
    const code = await text(page, 'demo-sms-code');
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    await page.getByTestId('try-code').fill(wrong);
    await page.getByTestId('try-confirm').click();
    const error = page.getByTestId('try-error');
    await error.waitFor();
    expect(await error.getAttribute('data-code')).toBe('CODE_INVALID');
    expect(await error.getAttribute('role')).toBe('alert');
    expect(await error.textContent()).toContain('Mã không đúng. Còn 4 lần thử.');
    // The statistics count the wrong code at once (failed by reason), as the API does.
    await expect.poll(async () => { const s = await statsShownAndServed(page, hub, senSocialKey); return s.shown.join() === s.served.join(); }, { timeout: 5000 }).toBe(true);
    // The right code still works after a wrong one.
    await page.getByTestId('use-demo-code').click();
    await page.getByTestId('try-confirm').click();
    await page.getByTestId('try-result').waitFor();
    expect(await page.getByTestId('try-error').count()).toBe(0);

    await newAttempt(page);
    await page.getByTestId('try-account-ref').fill('browser-user-3');
    await page.getByTestId('try-phone').fill(N.deceased);
    await page.getByTestId('try-start').click();
    await page.getByTestId('try-error').waitFor();
    expect(await page.getByTestId('try-error').getAttribute('data-code')).toBe('NUMBER_NOT_ELIGIBLE');
    expect(await text(page, 'try-error')).toContain('Không thể dùng số này để xác thực tài khoản.');
    expect(await page.getByTestId('try-sent').count()).toBe(0);
    // ... and the refused start too (started, and failed as not eligible).
    await expect.poll(async () => { const s = await statsShownAndServed(page, hub, senSocialKey); return s.shown.join() === s.served.join(); }, { timeout: 5000 }).toBe(true);

    // A malformed account reference is caught before anything is sent.
    await page.getByTestId('try-account-ref').fill('not valid!');
    await page.getByTestId('try-start').click();
    expect(await page.getByTestId('try-account-ref').getAttribute('aria-invalid')).toBe('true');
    expect(await activeTestId(page)).toBe('try-account-ref');
  });

  it('never shows one period\'s statistics under another period after a failed load, and offers a retry', async () => {
    const stats = page.getByTestId('verification-stats');
    await page.route('**/v1/provider/verification-stats**', (route) => route.abort('connectionrefused'));
    try {
      // By keyboard: the period choice down to 7 days; its load fails.
      await page.getByTestId('stats-period').focus();
      await page.keyboard.press('ArrowUp');
      expect(await page.getByTestId('stats-period').inputValue()).toBe('7');
      await stats.getByRole('alert').waitFor();
      // The 30 days' totals are not left on screen as if they were the 7 days'.
      expect(await page.getByTestId('stats-started').count()).toBe(0);
    } finally {
      await page.unroute('**/v1/provider/verification-stats**');
    }
    await stats.getByRole('button', { name: 'Thử lại' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="verification-stats"][data-loaded="true"]').waitFor();
    expect(await stats.getByRole('alert').count()).toBe(0);
    const { body } = await json<{ days: { started: number }[] }>(hub, '/v1/provider/verification-stats?days=7', senSocialKey);
    expect(await text(page, 'stats-started')).toBe(String(body.days.reduce((n, d) => n + d.started, 0)));
    await page.getByTestId('stats-period').selectOption('30');
    await page.locator('[data-testid="verification-stats"][data-loaded="true"]').waitFor();
  });

  it('sets the webhook URL, shows the secret, sends a test event and shows its delivery in the log', async () => {
    const url = page.getByTestId('webhook-url');
    await url.fill('http://10.1.2.3/hooks');
    await page.getByTestId('webhook-save').click();
    await page.getByTestId('webhook-error').waitFor();
    expect(await page.getByTestId('webhook-error').getAttribute('data-code')).toBe('WEBHOOK_URL_REFUSED');
    expect(await text(page, 'webhook-error')).toContain('không thể nhận webhook');

    // Nowhere to send a test event yet: said in words.
    await page.getByTestId('send-test-event').click();
    await page.getByTestId('test-event-error').waitFor();
    expect(await page.getByTestId('test-event-error').getAttribute('data-code')).toBe('WEBHOOK_URL_NOT_SET');

    await url.fill(receiver.url); // loopback: allowed in demo mode only
    await page.getByTestId('webhook-save').click();
    await page.getByText('Đã lưu địa chỉ webhook.').waitFor();
    expect((await json<{ provider: { webhook_url: string } }>(hub, '/v1/provider', senSocialKey)).body.provider.webhook_url).toBe(receiver.url);

    // By keyboard: the focus goes to the secret shown, not to the page's body.
    await page.getByTestId('show-secret').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('webhook-secret').waitFor();
    expect(await activeTestId(page)).toBe('webhook-secret');
    webhookSecret = await page.getByTestId('webhook-secret').inputValue();
    expect(webhookSecret).toMatch(/^whsec_/);
    expect((await json<{ secrets: string[] }>(hub, '/v1/provider/webhook-secret', senSocialKey)).body.secrets[0]).toBe(webhookSecret);

    // By keyboard: the button keeps the focus while the event is queued and after.
    await page.getByTestId('send-test-event').focus();
    await page.keyboard.press('Enter');
    const eventId = await page.getByTestId('test-event-result').locator('code').textContent();
    expect(await activeTestId(page)).toBe('send-test-event');
    expect(eventId).toMatch(/^[0-9a-f-]{36}$/);
    // The log shows the delivery once the dispatcher has made it.
    await expect.poll(async () => {
      await page.getByTestId('refresh-deliveries').click();
      return page.locator('[data-testid="delivery-row"][data-status="delivered"]').count();
    }, { timeout: 60_000 }).toBe(1);
    expect(await page.getByTestId('deliveries-table').textContent()).toContain(eventId!);

    // The receiver got it, signed with the secret the console showed.
    const delivery = receiver.requests.find((r) => r.headers['webhook-id'] === eventId);
    expect(delivery).toBeDefined();
    expect(await verifyWebhook({ secret: webhookSecret, headers: delivery!.headers, body: delivery!.body })).toMatchObject({ id: eventId, type: 'webhook.test' });
    // A delivered event can be sent again from its row; with nothing dead, there is no "Replay all dead".
    expect(await page.getByTestId(`webhook-replay-${eventId}`).textContent()).toBe('Gửi lại');
    expect(await page.getByTestId('webhook-replay-dead').count()).toBe(0);
  });

  it('shows that the hub disabled the endpoint after a 410 Gone, and enables it again with one click', async () => {
    type ProviderInfo = { provider: { webhook_url: string | null; webhook_disabled_at: string | null } };
    expect(await page.getByTestId('webhook-disabled').count()).toBe(0);
    receiver.answer = 410;
    try {
      // Real behaviour: the receiver answers 410 Gone to a test event, the dispatcher dead-letters
      // it and disables the endpoint; refreshing the log reads the provider again.
      const goneId = await sendTestEvent(page);
      const deadRow = page.locator('[data-testid="delivery-row"][data-status="dead"]', { hasText: goneId });
      await expect.poll(async () => {
        await page.getByTestId('refresh-deliveries').click();
        return [await deadRow.count(), await page.getByTestId('webhook-disabled').count()];
      }, { timeout: 60_000 }).toEqual([1, 1]);
      expect(await deadRow.textContent()).toContain('HTTP 410');
      expect(receiver.requests.filter((r) => r.headers['webhook-id'] === goneId)).toHaveLength(1);

      const disabledAt = (await json<ProviderInfo>(hub, '/v1/provider', senSocialKey)).body.provider.webhook_disabled_at;
      expect(disabledAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      const notice = page.getByTestId('webhook-disabled');
      expect(await notice.getAttribute('role')).toBe('status');
      expect(await notice.getAttribute('data-disabled-at')).toBe(disabledAt);
      const said = await text(page, 'webhook-disabled');
      expect(said).toContain(`Địa chỉ webhook của bạn đã trả lời 410 Gone lúc ${viDateTime(disabledAt!)}`);
      expect(said).toContain('các sự kiện không được gửi đi');
      // It points to the console's button, and to the API call for automation.
      expect(said).toContain('hãy gửi lại chúng bằng nút “Gửi lại tất cả thư chết”');
      expect(said).toContain('Để tự động hoá, hãy gọi API: POST /v1/webhooks/replay {"status": "dead"}');
      expect(await page.getByTestId('webhook-replay-dead').textContent()).toBe('Gửi lại tất cả thư chết');
      expect(await notice.isVisible()).toBe(true);
      await page.getByTestId('webhooks').screenshot({ path: `${SCREENSHOTS}/platform-console-webhook-disabled.png` });
      // In English too.
      await page.getByTestId('language-en').click();
      await expect.poll(() => text(page, 'webhook-disabled')).toContain('Your endpoint answered 410 Gone on ');
      expect(await text(page, 'webhook-disabled')).toContain('send them again with the “Replay all dead deliveries” button of the delivery log');
      expect(await text(page, 'webhook-reenable')).toBe('Re-enable this endpoint');
      await page.getByTestId('webhooks').screenshot({ path: `${SCREENSHOTS}/platform-console-webhook-disabled-en.png` });
      await page.getByTestId('language-vi').click();
      await expect.poll(() => text(page, 'webhook-disabled')).toContain('410 Gone lúc');

      // A test event is refused meanwhile, in words of the console's catalogue (not the hub's English title).
      await page.getByTestId('send-test-event').click();
      const refused = page.getByTestId('test-event-error');
      await refused.waitFor();
      expect(await refused.getAttribute('data-code')).toBe('WEBHOOK_ENDPOINT_DISABLED');
      expect(await refused.textContent()).toContain('Địa chỉ webhook của bạn đã trả lời 410 Gone nên hệ thống đã vô hiệu hoá nó');

      // Re-enabling saves the stored URL again: the notice goes, the API agrees.
      receiver.answer = 204;
      await page.getByTestId('webhook-reenable').click();
      await notice.waitFor({ state: 'detached', timeout: 60_000 });
      expect(await text(page, 'webhook-saved')).toContain('Đã bật lại địa chỉ webhook');
      expect(await activeTestId(page)).toBe('webhook-saved');
      // The message follows a change of language (it was kept as the text of the language of the save).
      await page.getByTestId('language-en').click();
      await expect.poll(() => text(page, 'webhook-saved')).toContain('The endpoint is enabled again');
      await page.getByTestId('language-vi').click();
      await expect.poll(() => text(page, 'webhook-saved')).toContain('Đã bật lại địa chỉ webhook');
      const after = (await json<ProviderInfo>(hub, '/v1/provider', senSocialKey)).body.provider;
      expect(after).toMatchObject({ webhook_url: receiver.url, webhook_disabled_at: null });
      expect(await page.getByTestId('webhook-url').inputValue()).toBe(receiver.url);

      // Deliveries go out again.
      const backId = await sendTestEvent(page);
      await expect.poll(async () => {
        await page.getByTestId('refresh-deliveries').click();
        return page.locator('[data-testid="delivery-row"][data-status="delivered"]', { hasText: backId }).count();
      }, { timeout: 60_000 }).toBe(1);
      expect(await page.getByTestId('webhook-disabled').count()).toBe(0);
    } finally {
      // On a failure above, leave the endpoint enabled for the tests that follow.
      receiver.answer = 204;
      await json(hub, '/v1/provider/webhook', senSocialKey, {
        method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: receiver.url }),
      });
    }
  });

  it('replays a dead delivery from its row: refused in words while the endpoint is disabled, then received again with the same webhook-id', async () => {
    const first = await goneDelivery(page, receiver);
    try {
      const replay = page.getByTestId(`webhook-replay-${first}`);
      expect(await replay.getAttribute('aria-label')).toBe(`Gửi lại sự kiện ${first}`);
      await page.getByTestId('webhook-replay-dead').waitFor();

      // Disabled: the hub refuses the replay, the console says so in its own words, nothing is sent.
      await replay.click();
      const refused = page.getByTestId('webhook-replay-error');
      await refused.waitFor();
      expect(await refused.getAttribute('data-code')).toBe('WEBHOOK_ENDPOINT_DISABLED');
      expect(await refused.textContent()).toContain('Không gửi lại được lần gửi này.');
      expect(await refused.textContent()).toContain('Địa chỉ webhook của bạn đã trả lời 410 Gone nên hệ thống đã vô hiệu hoá nó');
      expect(requestsFor(receiver, first)).toHaveLength(1);

      await reenable(page, receiver);
      expect(await text(page, 'webhook-saved')).toContain('“Gửi lại tất cả thư chết”');
      await page.getByTestId(`webhook-replay-${first}`).click();
      const result = page.getByTestId('webhook-replay-result');
      await expect.poll(() => text(page, 'webhook-replay-result')).toBe(`Đã xếp hàng để gửi lại, với cùng webhook-id: ${first}`);
      expect(await result.getAttribute('role')).toBe('status');
      expect(await activeTestId(page)).toBe('webhook-replay-result');
      expect(await page.getByTestId('webhook-replay-error').count()).toBe(0);

      // The receiver gets the same event again, same webhook-id and body, signed; the log shows it delivered.
      await expect.poll(() => requestsFor(receiver, first).length, { timeout: 60_000 }).toBe(2);
      const [gone, again] = requestsFor(receiver, first);
      expect(again!.body).toBe(gone!.body);
      expect(await verifyWebhook({ secret: webhookSecret, headers: again!.headers, body: again!.body })).toMatchObject({ id: first, type: 'webhook.test' });
      await waitForRow(page, first, 'delivered');
      expect(await deliveryRow(page, first, 'delivered').textContent()).toContain('HTTP 204');
    } finally {
      await restoreEndpoint();
    }
  });

  it('replays every dead delivery with one button, every replay button waiting while the call is in flight', async () => {
    type DeliveryList = { deliveries: { event_id: string; status: string }[] };
    const gone = await goneDelivery(page, receiver);
    try {
      await reenable(page, receiver);
      // Every dead delivery of the platform as the API lists them: this one, and the one the 410 step left.
      const dead = (await json<DeliveryList>(hub, '/v1/webhooks/deliveries?status=dead&limit=500', senSocialKey)).body.deliveries.map((d) => d.event_id);
      expect(dead).toContain(gone);
      expect(dead.length).toBeGreaterThanOrEqual(2);
      const sent = new Map(dead.map((id) => [id, requestsFor(receiver, id).length]));

      // Hold the call at the browser, to see the buttons wait for it.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      await page.route('**/v1/webhooks/replay', async (route) => {
        await held;
        await route.continue();
      });
      const all = page.getByTestId('webhook-replay-dead');
      try {
        await all.click();
        await expect.poll(() => all.getAttribute('aria-busy')).toBe('true');
        expect(await all.isDisabled()).toBe(true);
        expect(await all.textContent()).toBe('Đang gửi lại…');
        expect(await page.getByTestId(`webhook-replay-${gone}`).isDisabled()).toBe(true);
        expect(requestsFor(receiver, gone)).toHaveLength(1);
      } finally {
        release();
      }
      await expect.poll(() => text(page, 'webhook-replay-result')).toBe(`Đã xếp hàng để gửi lại ${dead.length} thư chết.`);
      await page.unroute('**/v1/webhooks/replay');
      expect(await activeTestId(page)).toBe('webhook-replay-result');

      // Each dead event reaches the receiver once more, with its webhook-id; the log shows them delivered.
      for (const id of dead) await expect.poll(() => requestsFor(receiver, id).length, { timeout: 60_000 }).toBe(sent.get(id)! + 1);
      for (const id of dead) await waitForRow(page, id, 'delivered');
      expect((await json<DeliveryList>(hub, '/v1/webhooks/deliveries?status=dead', senSocialKey)).body.deliveries).toEqual([]);
      // Nothing dead is left, so the button has gone.
      await expect.poll(() => all.count()).toBe(0);
      await page.getByTestId('language-en').click();
      await expect.poll(() => text(page, 'webhook-replay-result')).toBe(`${dead.length} dead deliveries are queued for delivery again.`);
      await page.getByTestId('webhooks').screenshot({ path: `${SCREENSHOTS}/platform-console-webhook-replayed-en.png` });
      await page.getByTestId('language-vi').click();
      await expect.poll(() => text(page, 'webhook-replay-result')).toContain('thư chết');
    } finally {
      await restoreEndpoint();
    }
  });

  it('rotates the API key, shows the new key once, and carries on with it', async () => {
    const before = (await json<{ api_keys: unknown[] }>(hub, '/v1/provider', senSocialKey)).body.api_keys.length;
    await page.getByTestId('rotate-key-overlap').selectOption('0');
    await page.getByTestId('rotate-key').click();
    expect(await activeTestId(page)).toBe('rotate-key-confirm');
    await page.keyboard.press('Enter');
    const fresh = await page.getByTestId('new-key-value').inputValue();
    expect(fresh).toMatch(/^idbk_[A-Za-z0-9_-]{43}$/);
    // The confirmation is gone: the focus is back on the rotate button, not on the page's body.
    expect(await activeTestId(page)).toBe('rotate-key');
    expect(before).toBeGreaterThanOrEqual(1);

    expect((await json<unknown>(hub, '/v1/provider', senSocialKey)).status).toBe(401);
    expect((await json<{ provider: { name: string } }>(hub, '/v1/provider', fresh)).body.provider.name).toBe('Sen Social');
    // The console uses the new key: a fresh verification still goes through.
    await newAttempt(page);
    await page.getByTestId('try-account-ref').fill('browser-user-4');
    await page.getByTestId('try-phone').fill(N.adult3);
    await page.getByTestId('try-start').click();
    await page.getByTestId('use-demo-code').click();
    await page.getByTestId('try-confirm').click();
    await page.getByTestId('try-result').waitFor();
    expect((await json<{ status: string }>(hub, '/v1/accounts/browser-user-4', fresh)).body.status).toBe('verified');
    // Its account.verified event reaches the webhook, verifiable with the SDK.
    const pseudonym = await text(page, 'result-pseudonym');
    await expect.poll(() => receiver.requests.filter((r) => r.body.includes('browser-user-4')).length, { timeout: 60_000 }).toBe(1);
    const delivery = receiver.requests.find((r) => r.body.includes('browser-user-4'))!;
    expect(await verifyWebhook({ secret: webhookSecret, headers: delivery.headers, body: delivery.body })).toMatchObject({
      type: 'account.verified', account_ref: 'browser-user-4', status: 'verified', level: 'low', pseudonym, sequence: 1,
    });
    expect(await page.evaluate(() => Object.values(sessionStorage))).toContain(fresh);
    expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain(fresh);
    senSocialKey = fresh;
  });

  it('signs out, refuses a wrong pasted key in words, and accepts the right one', async () => {
    await page.getByTestId('platform-sign-out').click();
    await page.getByTestId('platform-key-input').fill(`idbk_${'x'.repeat(43)}`);
    await page.getByTestId('platform-key-submit').click();
    const error = page.getByTestId('platform-sign-in-error');
    await error.waitFor();
    expect(await error.getAttribute('data-code')).toBe('API_KEY_INVALID');
    expect(await error.textContent()).toContain('Hệ thống không chấp nhận khoá API này.');
    expect(await page.getByTestId('platform-key-input').getAttribute('aria-invalid')).toBe('true');

    await page.getByTestId('platform-key-input').fill(senSocialKey);
    await page.keyboard.press('Enter');
    await page.getByTestId('platform-page').waitFor();
    expect(await text(page, 'provider-name')).toBe('Sen Social');
  });

  it('pages through the delivery log beyond its newest 20 rows, to the oldest delivery', async () => {
    const providerId = (await json<{ provider: { id: string } }>(hub, '/v1/provider', senSocialKey)).body.provider.id;
    // More deliveries than one page shows (test events straight into the outbox: the API allows 10 a minute).
    const inserted: string[] = [];
    for (let i = 0; i < 25; i++) {
      const id = randomUUID();
      await insertTestEvent(hub.hub.pool, providerId, id);
      inserted.push(id);
    }
    const all: string[] = [];
    for (let cursor: string | null = null; ;) {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const page1 = (await json<{ deliveries: { event_id: string }[]; next_cursor: string | null }>(hub, `/v1/webhooks/deliveries?limit=500${q}`, senSocialKey)).body;
      all.push(...page1.deliveries.map((d) => d.event_id));
      if (!page1.next_cursor) break;
      cursor = page1.next_cursor;
    }
    expect(all.length).toBeGreaterThan(25);

    await page.getByTestId('refresh-deliveries').click();
    const rows = page.getByTestId('delivery-row');
    await expect.poll(() => rows.count(), { timeout: 60_000 }).toBe(20);
    const more = page.getByTestId('deliveries-more');
    while ((await more.count()) > 0) {
      const shown = await rows.count();
      await more.click();
      await expect.poll(() => rows.count(), { timeout: 60_000 }).toBeGreaterThan(shown);
    }
    // Every delivery, newest first, each once; the oldest (the first test event) is reachable.
    const shownIds = await page.locator('[data-testid="delivery-row"] td:nth-child(6) code').allTextContents();
    expect(shownIds).toEqual(all);
    for (const id of inserted) expect(shownIds).toContain(id);
    expect(await text(page, 'deliveries-table')).toContain(`${all.length} lần gửi`);
    // A refresh starts again from the newest page.
    await page.getByTestId('refresh-deliveries').click();
    await expect.poll(() => rows.count(), { timeout: 60_000 }).toBe(20);
  });

  it('says in words that a key in its rotation overlap cannot manage the webhook, and which key to use', async () => {
    const rotated = (await json<{ api_key: string }>(hub, '/v1/provider/api-keys', senSocialKey, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ overlap_seconds: 3600 }),
    })).body.api_key;
    // Signed in with the previous key, still live for an hour (another tab, a colleague's rotation).
    await page.getByTestId('platform-sign-out').click();
    await page.getByTestId('platform-key-input').fill(senSocialKey);
    await page.keyboard.press('Enter');
    await page.getByTestId('platform-page').waitFor();
    await page.getByTestId('show-secret').click();
    const error = page.locator('[data-code="API_KEY_RETIRING"]');
    await error.waitFor({ timeout: 60_000 });
    expect(await error.textContent()).toContain('đang trong thời gian chuyển tiếp');

    await page.getByTestId('platform-sign-out').click();
    await page.getByTestId('platform-key-input').fill(rotated);
    await page.keyboard.press('Enter');
    await page.getByTestId('platform-page').waitFor();
    senSocialKey = rotated;
  });

  it('reads in English and fits a 375 px screen', async () => {
    await page.getByTestId('language-en').click();
    await page.getByRole('heading', { level: 1, name: 'Platform console' }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.getByRole('heading', { level: 2, name: 'Try a verification' }).count()).toBe(1);

    await page.setViewportSize({ width: 375, height: 812 });
    await page.getByTestId('try-account-ref').fill('browser-user-5');
    await page.getByTestId('try-phone').fill(N.adultB);
    await page.getByTestId('try-start').click();
    await page.getByTestId('demo-sms-code').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${SCREENSHOTS}/platform-console-375.png`, fullPage: true });
    await page.getByTestId('language-vi').click();
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(browser.pageErrors).toEqual([]);
  });
});

describe.skipIf(skipBrowser)('platform console, production mode', () => {
  let hub: TestHub;
  let browser: TestBrowser;

  beforeAll(async () => {
    browser = await launchBrowser({ viewport: { width: 375, height: 812 } });
    hub = await startTestHub({ demo: false });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
  });

  it('asks for a platform API key, never the admin token, and offers no demo platform', async () => {
    const created = await json<{ api_key: string }>(hub, '/v1/admin/providers', undefined, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Production Net', kind: 'platform' }),
    });
    expect(created.status).toBe(201);

    const page = await browser.newPage();
    await page.goto(new URL('/platform', hub.url).href);
    await page.getByTestId('platform-sign-in').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('admin-token-input').count()).toBe(0);
    expect(await page.locator('.demo-platforms').count()).toBe(0);
    await page.getByLabel('Khoá API').fill(created.body.api_key);
    await page.getByTestId('platform-key-submit').click();
    await page.getByTestId('platform-page').waitFor();
    expect(await text(page, 'provider-name')).toBe('Production Net');
    // No demo outbox in production: the try panel offers no sample number.
    expect(await page.getByTestId('sample-number').count()).toBe(0);
    await page.screenshot({ path: `${SCREENSHOTS}/platform-console-production-375.png`, fullPage: true });
    expect(browser.pageErrors).toEqual([]);
  });
});
