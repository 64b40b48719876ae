/**
 * The banner every page shares: the product name, the main navigation, the language switch and,
 * in production mode, sign-out. The language buttons are a labelled group of toggle buttons
 * (aria-pressed), each name written in its own language and marked with its `lang`.
 */
import { useI18n } from '../i18n/i18n.tsx';
import { LANGUAGES, languageNames } from '../i18n/messages.ts';
import { useAuth } from './auth.tsx';
import { Link } from './router.tsx';

export interface NavItem {
  path: string;
  label: string;
}

export function Header({ nav }: { nav: NavItem[] }) {
  const { t, language, setLanguage } = useI18n();
  const { state, meta, signOut } = useAuth();
  return (
    <header className="site-header">
      <div className="site-header-inner">
        <Link to="/" className="brand">
          <span className="brand-name">{t.appName}</span>
          <span className="brand-tagline">{t.appTagline}</span>
        </Link>
        <nav aria-label={t.mainNavigation} className="main-nav">
          <ul>
            {nav.map((item) => (
              <li key={item.path}>
                <Link to={item.path}>{item.label}</Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="header-tools">
          {meta?.mode === 'demo' ? <span className="badge">{t.modeDemo}</span> : null}
          <div role="group" aria-label={t.languageSwitch} className="language-switch">
            {LANGUAGES.map((code) => (
              <button
                key={code}
                type="button"
                lang={code}
                aria-pressed={language === code}
                onClick={() => setLanguage(code)}
                data-testid={`language-${code}`}
              >
                {languageNames[code]}
              </button>
            ))}
          </div>
          {meta?.mode === 'production' && state.phase === 'ready' ? (
            <button type="button" className="button subtle" onClick={signOut} data-testid="sign-out">
              {t.signOut}
            </button>
          ) : null}
        </div>
      </div>
    </header>
  );
}
