/**
 * The sign-in of the regulator's staff in production mode (issue 5: "The regulator's own staff
 * sign in the same way, replacing the admin token of the registries page"): the authority
 * console's passkey sign-in, with its own heading. An official who signs in but is not regulator
 * staff (an official of a regulator authority holding `administrator`) is told so (role=alert)
 * and may sign out to use another passkey; an ended session is announced the same way.
 */
import { useEffect } from 'react';
import { useI18n } from '../i18n/i18n.tsx';
import { authorityApi } from '../pages/authority/authority-api.ts';
import { AuthoritySignIn } from '../pages/authority/authority-sign-in.tsx';
import { useAuth } from './auth.tsx';

export function SignIn() {
  const { t } = useI18n();
  const { state, signIn, signOut } = useAuth();
  const official = state.phase === 'signIn' ? state.official : null;
  const expired = state.phase === 'signIn' && state.expired;

  // A passkey sign-in on the authority console since this page loaded counts here too.
  useEffect(() => {
    if (official || expired) return;
    let cancelled = false;
    authorityApi.me().then((o) => {
      if (o && !cancelled) signIn(o);
    }, () => undefined);
    return () => {
      cancelled = true;
    };
  }, [official, expired, signIn]);
  const notice = official ? t.staffNotAdministrator(official.name) : expired ? t.staffExpired : null;

  return (
    <div data-testid="staff-sign-in">
      {notice ? (
        <div className="error" role="alert" data-testid="sign-in-error">
          <p className="error-title">{notice}</p>
          {official ? (
            <p>
              <button type="button" className="button" onClick={signOut} data-testid="staff-sign-out">
                {t.signOut}
              </button>
            </p>
          ) : null}
        </div>
      ) : null}
      <AuthoritySignIn demo={false} signedIn={signIn} title={t.staffTitle} intro={t.staffIntro} />
    </div>
  );
}
