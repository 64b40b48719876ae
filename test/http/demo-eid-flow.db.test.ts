/**
 * What a newcomer does after `npm start` (issue 4 "Done means"): in demo mode, the demo platform
 * Sen Social (an OpenID client of the demo data) signs a person in through the hosted pages with
 * the built-in local test eID at `${publicUrl}/dev/eid`, whose test persons come from the demo
 * registry; the demo relying party's callback shows the ID token's claims. Also a minor of the
 * demo registry whose listed guardian signs in with the test eID after them. Real HTTP with a
 * cookie jar, the hub's own routes: nothing mocked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.ts';
import { CookieJar, signInAtTestEid } from '../../src/demo/test-eid/test-eid-browser.ts';
import { EIDAS_LOA } from '../../src/kernel/config/config.ts';
import { EID_CALLBACK_PATH } from '../../src/oidc/eid/eid-broker.ts';

let hub: TestHub;

class Browser {
  jar = new CookieJar();

  async fetch(url: URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(url, res.headers.getSetCookie());
    return res;
  }

  /** Follows redirects until a hosted page (`uid`) or a page that answers 200 (`html`). */
  async go(start: string): Promise<{ uid?: string; html?: string; url: URL }> {
    let url = new URL(start, hub.url);
    for (let hop = 0; hop < 10; hop++) {
      const m = /^\/verify\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      if (m && url.origin === hub.url) return { uid: m[1]!, url };
      const res = await this.fetch(url);
      if (res.status === 200) return { html: await res.text(), url };
      await res.arrayBuffer();
      if (res.status < 300 || res.status >= 400) throw new Error(`${url.pathname} answered ${res.status}`);
      url = new URL(res.headers.get('location')!, url);
    }
    throw new Error('too many redirects');
  }

  async api(uid: string, path = '', body?: unknown): Promise<Record<string, unknown>> {
    const res = await this.fetch(new URL(`/verify/${uid}/api${path}`, hub.url), body === undefined
      ? {}
      : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const out = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(out)}`);
    return out;
  }

  /** The eID step: to the test eID as `person` at `acr`, back through the broker, and the state after. */
  async eid(uid: string, person: string, acr: string): Promise<Record<string, unknown>> {
    const begun = await this.api(uid, '/eid', {});
    const { callbackUrl } = await signInAtTestEid(String(begun.redirect_url), { person, acr }, `${hub.url}${EID_CALLBACK_PATH}`, new CookieJar());
    const back = await this.fetch(new URL(callbackUrl));
    expect(back.headers.get('location')).toBe(`/verify/${uid}`);
    return this.api(uid);
  }
}

function claimsOf(html: string): Record<string, unknown> {
  const m = /data-testid="rp-claims"[^>]*>([\s\S]*?)</.exec(html);
  if (!m) throw new Error(`no claims on the page: ${html.slice(0, 400)}`);
  const text = m[1]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return JSON.parse(text) as Record<string, unknown>;
}

beforeAll(async () => {
  hub = await startTestHub({ demo: true, publicPort: true });
  await hub.seedAndReconcile();
  // The demo's platforms and their OpenID clients, as the web app's first visit makes them.
  expect((await fetch(`${hub.url}/v1/demo/session`)).status).toBe(200);
}, 180_000);
afterAll(async () => hub?.stop());

describe('demo mode: sign in to Sen Social with the local test eID', () => {
  it('an adult of the demo registry, at eIDAS high: the demo platform shows acr high and the minimal claims', async () => {
    const b = new Browser();
    const { uid } = await b.go('/demo/rp/sen-social/start?account_ref=demo-eid-adult');
    expect(uid).toBeTruthy();
    const state = await b.api(uid!);
    expect(state).toMatchObject({ platform: { name: 'Sen Social' }, stage: 'choose_method', methods: ['phone', 'eid'] });
    const done = await b.eid(uid!, 'Adult:', EIDAS_LOA.high);
    expect(done.stage).toBe('finished');
    const page = await b.go(String(done.redirect_url));
    expect(page.url.pathname).toBe('/demo/rp/sen-social/callback');
    const claims = claimsOf(page.html!);
    expect(claims).toMatchObject({ acr: 'high', amr: ['fed'], verified: true, age_over_18: true, minor: false });
    for (const personal of ['name', 'birthdate', 'phone_number']) expect(claims).not.toHaveProperty(personal);
  });

  it('a minor of the demo registry, then their listed guardian: the platform learns minor: true', async () => {
    const b = new Browser();
    const { uid } = await b.go('/demo/rp/sen-social/start?account_ref=demo-eid-minor');
    const asked = await b.eid(uid!, 'Minor under', EIDAS_LOA.substantial);
    expect(asked).toMatchObject({ stage: 'guardian_intro', role: 'guardian' });
    const done = await b.eid(uid!, 'Guardian of', EIDAS_LOA.substantial);
    expect(done.stage).toBe('finished');
    const claims = claimsOf((await b.go(String(done.redirect_url))).html!);
    expect(claims).toMatchObject({ acr: 'substantial', verified: true, age_over_16: false, minor: true });
  });

  it('a deceased person of the registry and an eIDAS level idbind does not accept both fail closed', async () => {
    const b = new Browser();
    const { uid } = await b.go('/demo/rp/sen-social/start?account_ref=demo-eid-refused');
    expect(await b.eid(uid!, 'Deceased', EIDAS_LOA.high)).toMatchObject({ stage: 'choose_method', error: { code: 'EID_PERSON_NOT_ELIGIBLE' } });
    expect(await b.eid(uid!, 'Adult:', EIDAS_LOA.low)).toMatchObject({ stage: 'choose_method', error: { code: 'EID_LEVEL_UNKNOWN' } });
  });
});
