/**
 * The frame of the hosted pages: a plain banner with "idbind", the platform that sent the person
 * and the language switch; no navigation of the admin consoles, no sign-in. A skip link, one
 * `<main>`, and a footer that says in one sentence what the platform will and will not learn.
 */
import type { ReactNode } from 'react';
import { useI18n } from '../../i18n/i18n.tsx';
import { LANGUAGES, languageNames, type Language } from '../../i18n/messages.ts';

interface VerifyShellProps {
  platform: string | null;
  demo: boolean;
  onLanguage(language: Language): void;
  children: ReactNode;
}

export function VerifyShell({ platform, demo, onLanguage, children }: VerifyShellProps) {
  const { t, language } = useI18n();
  const v = t.verify;
  return (
    <>
      <a className="skip-link" href="#main">
        {t.skipToContent}
      </a>
      <header className="site-header verify-header" data-testid="verify-header">
        <div className="verify-header-inner">
          <p className="verify-brand">
            <span className="brand-name">{t.appName}</span>
            {platform ? (
              <span className="brand-tagline" data-testid="verify-platform">
                {v.forPlatform(platform)}
              </span>
            ) : null}
          </p>
          <div className="header-tools">
            {demo ? <span className="badge">{v.demoNotice}</span> : null}
            <div role="group" aria-label={t.languageSwitch} className="language-switch">
              {LANGUAGES.map((code) => (
                <button key={code} type="button" lang={code} aria-pressed={language === code} onClick={() => onLanguage(code)} data-testid={`language-${code}`}>
                  {languageNames[code]}
                </button>
              ))}
            </div>
          </div>
        </div>
      </header>
      <main id="main" tabIndex={-1} className="verify-main">
        {children}
      </main>
      {platform ? (
        <footer className="site-footer verify-footer">
          <p>{v.footer(platform)}</p>
        </footer>
      ) : null}
    </>
  );
}
