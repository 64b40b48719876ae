/**
 * Signing in to the platform console by pasting an API key. In demo mode the demo platforms of
 * `npm start` are offered as one-click sign-ins (their keys are public demo data). A refused key
 * is explained in the page's language, tied to the field (aria-describedby), announced
 * (role=alert), and the field is selected again for a correction.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { DemoPlatform } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { ConsoleError } from './console-error.tsx';

interface PlatformSignInProps {
  expired: boolean;
  /** Demo platforms (demo mode only; empty otherwise). */
  demoPlatforms: DemoPlatform[];
  signIn(apiKey: string): Promise<void>;
}

export function PlatformSignIn({ expired, demoPlatforms, signIn }: PlatformSignInProps) {
  const { t } = useI18n();
  const [apiKey, setApiKey] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  /** The demo platform whose one-click sign-in failed, if that is what failed. */
  const [failedDemo, setFailedDemo] = useState<string | null>(null);
  const [empty, setEmpty] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const fieldId = useId();
  const messageId = useId();
  const headingId = useId();
  const demoHeadingId = useId();

  useEffect(() => {
    if (demoPlatforms.length === 0) input.current?.focus();
  }, [demoPlatforms.length]);

  const attempt = async (key: string, who: string) => {
    setBusy(who);
    setError(null);
    setFailedDemo(null);
    setEmpty(false);
    try {
      await signIn(key);
    } catch (failure) {
      setError(failure);
      setFailedDemo(demoPlatforms.find((p) => p.id === who)?.name ?? null);
      setBusy(null);
      input.current?.select();
    }
  };

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const value = apiKey.trim();
    if (!value) {
      setEmpty(true);
      setError(null);
      input.current?.focus();
      return;
    }
    void attempt(value, 'form');
  };

  const k = t.platform;
  return (
    <section className="card sign-in platform-sign-in" aria-labelledby={headingId} data-testid="platform-sign-in">
      <h1 id={headingId}>{k.signInTitle}</h1>
      <p>{k.signInIntro}</p>
      {expired && !error ? (
        <div className="error" role="alert" data-testid="platform-key-expired">
          <p className="error-title">{k.keyExpired}</p>
        </div>
      ) : null}

      {demoPlatforms.length > 0 ? (
        <section aria-labelledby={demoHeadingId} className="demo-platforms">
          <h2 id={demoHeadingId}>{k.demoPlatformsTitle}</h2>
          <p className="hint">{k.demoPlatformsIntro}</p>
          <ul>
            {demoPlatforms.map((p) => (
              <li key={p.id}>
                <button
                  type="button"
                  className="button"
                  disabled={busy !== null}
                  aria-busy={busy === p.id}
                  onClick={() => void attempt(p.api_key, p.id)}
                  data-testid={`demo-platform-${p.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`}
                >
                  {busy === p.id ? k.signingIn : k.signInAs(p.name)}
                </button>
                <span className="hint">
                  {k.kind[p.kind]} · {k.profile[p.profile]}
                </span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <form onSubmit={submit} noValidate>
        <label htmlFor={fieldId}>{k.apiKeyLabel}</label>
        <p className="hint" id={`${fieldId}-hint`}>
          {k.apiKeyHint}
        </p>
        <div className="sign-in-row">
          <input
            ref={input}
            id={fieldId}
            name="api-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={apiKey}
            onChange={(e) => setApiKey(e.target.value)}
            aria-invalid={error || empty ? true : undefined}
            aria-describedby={[`${fieldId}-hint`, error || empty ? messageId : ''].filter(Boolean).join(' ')}
            data-testid="platform-key-input"
          />
          <button type="submit" className="button primary" disabled={busy !== null} data-testid="platform-key-submit">
            {busy === 'form' ? k.signingIn : k.signIn}
          </button>
        </div>
        {empty ? (
          <div id={messageId} className="error" role="alert" data-testid="platform-sign-in-error">
            <p className="error-title">{k.apiKeyEmpty}</p>
          </div>
        ) : error ? (
          <ConsoleError
            id={messageId}
            context={failedDemo ? k.demoSignInFailed(failedDemo) : k.signInFailed}
            error={error}
            testId="platform-sign-in-error"
          />
        ) : null}
      </form>
    </section>
  );
}
