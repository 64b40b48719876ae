/**
 * A tiny browser for tests: follows the redirects of a login at the test eID with a cookie jar,
 * fills its login page (a person by label, a level) or cancels, and stops at the relying party's
 * callback, whose URL it returns. Real HTTP, real cookies: no mock of the exchange (issue 4).
 */

export class CookieJar {
  private readonly cookies = new Map<string, { name: string; value: string; path: string; origin: string }>();

  store(url: URL, setCookies: readonly string[]): void {
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      let path = '/';
      let expired = false;
      for (const a of attributes) {
        const [k, v = ''] = a.split('=');
        const key = k!.trim().toLowerCase();
        if (key === 'path') path = v.trim() || '/';
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      const id = `${url.origin} ${path} ${name}`;
      if (expired || value === '') this.cookies.delete(id);
      else this.cookies.set(id, { name, value, path, origin: url.origin });
    }
  }

  header(url: URL): string {
    return [...this.cookies.values()]
      .filter((c) => c.origin === url.origin && (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

export interface TestEidChoice {
  /** A part of the label of the person to sign in as (the first person when absent). */
  person?: string;
  /** The `acr` value to choose (the page's pre-selected level when absent). */
  acr?: string;
  /** Press "Cancel" instead. */
  cancel?: boolean;
}

export interface TestEidWalk {
  /** The URL the test eID sent the browser back to (under `stopAt`). */
  callbackUrl: string;
  /** The login page, as served. */
  loginPage: string;
}

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function radios(html: string, name: string): Array<{ value: string; label: string; checked: boolean }> {
  const out: Array<{ value: string; label: string; checked: boolean }> = [];
  const re = new RegExp(`<input type="radio" name="${name}" id="([^"]+)" value="([^"]*)"[^>]*?(checked)?>\\s*<label for="\\1">([\\s\\S]*?)</label>`, 'g');
  for (let m = re.exec(html); m; m = re.exec(html)) out.push({ value: unescape(m[2]!), label: unescape(m[4]!.replace(/<[^>]+>/g, '')), checked: m[3] !== undefined });
  return out;
}

/**
 * Walks a login from the relying party's authorization URL to its callback. `stopAt` is the
 * callback URL's prefix (the redirect URI registered at the test eID).
 */
export async function signInAtTestEid(startUrl: string, choice: TestEidChoice, stopAt: string, jar = new CookieJar()): Promise<TestEidWalk> {
  let url = new URL(startUrl);
  let init: RequestInit = {};
  let loginPage = '';
  for (let hop = 0; hop < 20; hop++) {
    const headers = new Headers(init.headers);
    const cookie = jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    jar.store(url, res.headers.getSetCookie());
    if (res.status >= 300 && res.status < 400) {
      await res.arrayBuffer();
      const next = new URL(res.headers.get('location')!, url);
      if (next.href.startsWith(stopAt)) return { callbackUrl: next.href, loginPage };
      url = next;
      init = {};
      continue;
    }
    const html = await res.text();
    if (res.status !== 200 || !html.includes('<form')) throw new Error(`the test eID answered ${res.status}: ${html.slice(0, 300)}`);
    loginPage = html;
    const action = new URL(unescape(/<form method="post" action="([^"]+)"/.exec(html)![1]!), url);
    const form = new URLSearchParams();
    if (choice.cancel) {
      form.set('action', 'cancel');
    } else {
      const persons = radios(html, 'person');
      const person = choice.person === undefined ? persons[0] : persons.find((p) => p.label.includes(choice.person!));
      if (!person) throw new Error(`no test person labelled like "${choice.person}" (have: ${persons.map((p) => p.label).join(' | ')})`);
      const levels = radios(html, 'acr');
      const acr = choice.acr ?? levels.find((l) => l.checked)?.value;
      if (!acr) throw new Error('no assurance level to choose');
      form.set('person', person.value);
      form.set('acr', acr);
      form.set('action', 'login');
    }
    url = action;
    init = { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
  }
  throw new Error('too many redirects at the test eID');
}
