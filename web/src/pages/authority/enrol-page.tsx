/**
 * `/authority/enrol#<token>`: an official enrols a passkey through their one-time invitation
 * (issue 5). The token is in the fragment, so it never reaches a server log or a Referer; the page
 * takes it from the address and removes it from there (and from the history) before doing
 * anything. Creating the passkey asks for user verification; once the hub has verified it, the
 * invitation is used and the official is signed in.
 */
import { useEffect, useId, useRef, useState } from 'react';
import { browserSupportsWebAuthn, startRegistration } from '@simplewebauthn/browser';
import { useI18n } from '../../i18n/i18n.tsx';
import { Link } from '../../shell/router.tsx';
import { authorityApi, type SignedInOfficial } from './authority-api.ts';
import { AuthorityError } from './authority-errors.tsx';

/** The invitation token of the address (read once), stripped from the address bar after the first render. */
function useInvitationToken(): string | null {
  const [token] = useState<string | null>(() => {
    const raw = window.location.hash.replace(/^#/, '');
    return /^[A-Za-z0-9_-]{20,200}$/.test(raw) ? raw : null;
  });
  useEffect(() => {
    if (window.location.hash !== '') window.history.replaceState(window.history.state, '', window.location.pathname);
  }, []);
  return token;
}

export function EnrolPage() {
  const { t } = useI18n();
  const k = t.authority;
  const token = useInvitationToken();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<SignedInOfficial | null>(null);
  const headingId = useId();
  const doneRef = useRef<HTMLDivElement>(null);
  const supported = browserSupportsWebAuthn();

  useEffect(() => {
    if (done) doneRef.current?.focus();
  }, [done]);

  const enrol = async () => {
    if (!token) return;
    setBusy(true);
    setError(null);
    try {
      const optionsJSON = await authorityApi.enrolOptions(token);
      const response = await startRegistration({ optionsJSON });
      setDone(await authorityApi.enrol(token, response));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card sign-in authority-enrol" aria-labelledby={headingId} data-testid="authority-enrol">
      <h1 id={headingId}>{k.enrolTitle}</h1>
      {done ? (
        <div className="notice" role="status" tabIndex={-1} ref={doneRef} data-testid="enrol-done">
          <p>{k.enrolDone}</p>
          <p>
            <strong>{done.name}</strong> · {done.authority.name}
          </p>
          <p>
            <Link to="/authority" className="button primary" data-testid="go-to-console">
              {k.goToConsole}
            </Link>
          </p>
        </div>
      ) : !token ? (
        <div className="error" role="alert" data-testid="enrol-no-token">
          <p className="error-title">{k.enrolNoToken}</p>
        </div>
      ) : (
        <>
          <p>{k.enrolIntro}</p>
          <p className="hint">{k.enrolOneUse}</p>
          {supported ? (
            <p>
              <button type="button" className="button primary" onClick={() => void enrol()} disabled={busy} aria-busy={busy} data-testid="enrol-passkey">
                {busy ? k.enrolling : k.enrolButton}
              </button>
            </p>
          ) : (
            <p className="notice">{k.passkeyUnsupported}</p>
          )}
          {error ? <AuthorityError context={k.enrolFailed} error={error} testId="enrol-error" /> : null}
        </>
      )}
    </section>
  );
}
