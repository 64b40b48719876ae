/**
 * The language of the app: Vietnamese unless the person chose English. The choice is kept in
 * localStorage and mirrored in `<html lang>` (screen readers pick their voice from it) and the
 * document title. `useI18n()` gives the messages of the current language and locale-aware
 * formatters: numbers group thousands the local way (vi-VN "1.234.567", en "1,234,567") and
 * times are shown in Vietnam time, whatever the browser's zone, since the registries are
 * Vietnam's.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { dictionary, LANGUAGES, locales, type Language, type Messages } from './messages.ts';

const STORAGE_KEY = 'idbind.language';
const TIME_ZONE = 'Asia/Ho_Chi_Minh';

export interface I18n {
  language: Language;
  t: Messages;
  setLanguage(language: Language): void;
  formatNumber(value: number): string;
  formatDateTime(iso: string): string;
  formatShortDateTime(iso: string): string;
}

const I18nContext = createContext<I18n | null>(null);

function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

function storedLanguage(): Language {
  try {
    const value = window.localStorage.getItem(STORAGE_KEY);
    return isLanguage(value) ? value : 'vi';
  } catch {
    return 'vi'; // storage disabled: default language, choice not kept
  }
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [language, setLanguageState] = useState<Language>(storedLanguage);

  const setLanguage = useCallback((next: Language) => {
    setLanguageState(next);
    try {
      window.localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // storage disabled: the choice lasts for this page only
    }
  }, []);

  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);

  const value = useMemo<I18n>(() => {
    const locale = locales[language];
    const numbers = new Intl.NumberFormat(locale);
    const parts = new Intl.DateTimeFormat('en-GB', {
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZone: TIME_ZONE,
    });
    const englishLong = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium', timeZone: TIME_ZONE });
    // Built from parts: browsers' ICU data differ on Vietnamese patterns (some print "09:00 01-03"),
    // and Vietnamese readers expect day/month/year with a 24-hour clock.
    const fields = (date: Date) => {
      const out: Record<string, string> = {};
      for (const part of parts.formatToParts(date)) out[part.type] = part.value;
      return out;
    };
    const safe = (format: (date: Date) => string) => (iso: string) => {
      const date = new Date(iso);
      return Number.isNaN(date.getTime()) ? iso : format(date);
    };
    const long = (date: Date) => {
      if (language === 'en') return englishLong.format(date);
      const f = fields(date);
      return `${f.day}/${f.month}/${f.year} ${f.hour}:${f.minute}:${f.second}`;
    };
    const short = (date: Date) => {
      const f = fields(date);
      return `${f.day}/${f.month} ${f.hour}:${f.minute}`;
    };
    return {
      language,
      t: dictionary[language],
      setLanguage,
      formatNumber: (n) => numbers.format(n),
      formatDateTime: safe(long),
      formatShortDateTime: safe(short),
    };
  }, [language, setLanguage]);

  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error('useI18n outside I18nProvider');
  return value;
}
