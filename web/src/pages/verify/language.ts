/**
 * The language of the hosted pages. A person arrives from a platform, often for the first time,
 * so the page speaks the language they most likely read: the one they chose on this page earlier
 * in this tab (it survives the round trip through the national eID), else the platform's
 * `ui_locales` (OpenID Connect Core 3.1.2.1: the person's preference as the platform knows it),
 * else the browser's languages in order, else Vietnamese. Only Vietnamese and English exist; a
 * list naming neither (say "fr ko") falls through to the next source.
 */
import { LANGUAGES, type Language } from '../../i18n/messages.ts';

const CHOICE_KEY = 'idbind.verify.language';

/** The first of `tags` (BCP 47, e.g. "en-US", "vi") the pages are written in; null when none is. */
export function firstSupported(tags: readonly string[]): Language | null {
  for (const tag of tags) {
    const primary = tag.trim().toLowerCase().split(/[-_]/)[0];
    const found = LANGUAGES.find((l) => l === primary);
    if (found) return found;
  }
  return null;
}

/** `ui_locales` is a space-separated list, in order of preference. */
export function splitUiLocales(value: string | null | undefined): string[] {
  return value ? value.split(/\s+/).filter(Boolean) : [];
}

export function detectLanguage(input: { chosen: Language | null; uiLocales: readonly string[]; browser: readonly string[] }): Language {
  return input.chosen ?? firstSupported(input.uiLocales) ?? firstSupported(input.browser) ?? 'vi';
}

/** The language the person picked with the switch in this tab, if any. */
export function chosenLanguage(): Language | null {
  try {
    return firstSupported([window.sessionStorage.getItem(CHOICE_KEY) ?? '']);
  } catch {
    return null;
  }
}

export function rememberChoice(language: Language): void {
  try {
    window.sessionStorage.setItem(CHOICE_KEY, language);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

export function browserLanguages(): readonly string[] {
  return navigator.languages.length > 0 ? navigator.languages : [navigator.language];
}
