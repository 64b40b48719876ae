/**
 * The admin-token form shown in production mode. The token is checked with the hub before it is
 * kept; a refused token is explained in the page's language, followed by the hub's own problem
 * title and detail. The message is tied to the field (aria-describedby) and announced (role=alert),
 * and focus returns to the field so the person can correct it at once.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { describeError } from './errors.tsx';
import { useAuth } from './auth.tsx';

export function SignIn({ expired }: { expired: boolean }) {
  const { t } = useI18n();
  const { signIn } = useAuth();
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; detail: string | null } | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const fieldId = useId();
  const messageId = useId();
  const headingId = useId();

  useEffect(() => {
    input.current?.focus();
  }, []);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const value = token.trim();
    if (!value) {
      setError({ message: t.tokenEmpty, detail: null });
      input.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(value);
    } catch (failure) {
      const described = describeError(failure, t);
      const refused = failure instanceof ApiError && failure.status === 401;
      setError({
        message: refused ? t.tokenRejected : described.title,
        detail: refused ? [described.title, described.detail].filter(Boolean).join(': ') || null : described.detail,
      });
      setBusy(false);
      input.current?.select();
    }
  };

  const notice = error ?? (expired ? { message: t.tokenExpired, detail: null } : null);

  return (
    <section className="card sign-in" aria-labelledby={headingId}>
      <h1 id={headingId}>{t.tokenTitle}</h1>
      <p>{t.tokenIntro}</p>
      <form onSubmit={submit} noValidate>
        <label htmlFor={fieldId}>{t.tokenLabel}</label>
        <div className="sign-in-row">
          <input
            ref={input}
            id={fieldId}
            name="admin-token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={notice ? messageId : undefined}
            data-testid="admin-token-input"
          />
          <button type="submit" className="button primary" disabled={busy} data-testid="admin-token-submit">
            {busy ? t.tokenChecking : t.tokenSubmit}
          </button>
        </div>
        {notice ? (
          <div id={messageId} className="error" role="alert" data-testid="sign-in-error">
            <p className="error-title">{notice.message}</p>
            {notice.detail ? <p className="error-detail">{notice.detail}</p> : null}
          </div>
        ) : null}
      </form>
    </section>
  );
}
