/**
 * Signing in to the authority console with a passkey (WebAuthn through @simplewebauthn/browser;
 * the hub keeps the challenge, single use, 5 minutes). In demo mode the demo officials are offered
 * as one-click sign-ins without a passkey (`POST /v1/demo/officials/{id}/session`, registered only
 * in demo mode). The admin pages reuse it for the regulator's staff (web/src/shell/sign-in.tsx).
 * Failures are explained in the page's language and announced (role=alert).
 */
import { useEffect, useId, useState } from 'react';
import { browserSupportsWebAuthn, startAuthentication } from '@simplewebauthn/browser';
import { useI18n } from '../../i18n/i18n.tsx';
import { authorityApi, type SignedInOfficial } from './authority-api.ts';
import { AuthorityError } from './authority-errors.tsx';

interface AuthoritySignInProps {
  demo: boolean;
  signedIn(official: SignedInOfficial): void;
  /** Another heading and introduction (the regulator staff's sign-in of the admin pages). */
  title?: string;
  intro?: string;
}

export function AuthoritySignIn({ demo, signedIn, title, intro }: AuthoritySignInProps) {
  const { t } = useI18n();
  const k = t.authority;
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<{ error: unknown; context: string } | null>(null);
  const [demoOfficials, setDemoOfficials] = useState<SignedInOfficial[]>([]);
  const headingId = useId();
  const demoHeadingId = useId();
  const supported = browserSupportsWebAuthn();

  useEffect(() => {
    if (!demo) return;
    let cancelled = false;
    authorityApi
      .demoOfficials()
      .then((r) => {
        if (!cancelled) setDemoOfficials(r.officials);
      })
      // Without them the passkey sign-in still works: nothing to report.
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [demo]);

  const withPasskey = async () => {
    setBusy('passkey');
    setError(null);
    try {
      const optionsJSON = await authorityApi.signInOptions();
      const response = await startAuthentication({ optionsJSON });
      signedIn(await authorityApi.signIn(response));
    } catch (failure) {
      setError({ error: failure, context: k.signInFailed });
      setBusy(null);
    }
  };

  const asDemo = async (o: SignedInOfficial) => {
    setBusy(o.id);
    setError(null);
    try {
      signedIn(await authorityApi.demoSignIn(o.id));
    } catch (failure) {
      setError({ error: failure, context: k.demoFailed(o.name) });
      setBusy(null);
    }
  };

  return (
    <section className="card sign-in authority-sign-in" aria-labelledby={headingId} data-testid="authority-sign-in">
      <h1 id={headingId}>{title ?? k.signInTitle}</h1>
      <p>{intro ?? k.signInIntro}</p>
      {supported ? (
        <p>
          <button type="button" className="button primary" onClick={() => void withPasskey()} disabled={busy !== null} aria-busy={busy === 'passkey'} data-testid="passkey-sign-in">
            {busy === 'passkey' ? k.signingIn : k.signInWithPasskey}
          </button>
        </p>
      ) : (
        <p className="notice" data-testid="passkey-unsupported">
          {k.passkeyUnsupported}
        </p>
      )}
      {error ? <AuthorityError context={error.context} error={error.error} testId="authority-sign-in-error" /> : null}
      <p className="hint">{k.noPasskey}</p>

      {demo && demoOfficials.length > 0 ? (
        <section aria-labelledby={demoHeadingId} className="demo-platforms" data-testid="demo-officials">
          <h2 id={demoHeadingId}>{k.demoTitle}</h2>
          <p className="hint">{k.demoIntro}</p>
          <ul>
            {demoOfficials.map((o) => (
              <li key={o.id}>
                <button type="button" className="button" disabled={busy !== null} aria-busy={busy === o.id} onClick={() => void asDemo(o)} data-testid={`demo-official-${o.id}`}>
                  {busy === o.id ? k.signingIn : k.demoSignInAs(o.name)}
                </button>
                <span className="hint">
                  {o.authority.name} · {o.roles.map((r) => k.role[r] ?? r).join(', ')}
                </span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </section>
  );
}
