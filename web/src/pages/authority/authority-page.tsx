/**
 * The authority console (`/authority`, issue 5): signed out, the passkey sign-in (and the demo
 * officials in demo mode); signed in, the official's frame ({@link AuthorityLayout}) with the
 * disclosure request pages inside (`requests`). Not behind the shell's admin sign-in: officials sign in with their own passkeys.
 */
import type { ReactNode } from 'react';
import { useI18n } from '../../i18n/i18n.tsx';
import { useAuth } from '../../shell/auth.tsx';
import type { SignedInOfficial } from './authority-api.ts';
import { AuthorityError } from './authority-errors.tsx';
import { AuthorityLayout } from './authority-layout.tsx';
import { AuthoritySignIn } from './authority-sign-in.tsx';
import { useOfficialSession } from './use-official-session.ts';

export function AuthorityPage({ requests }: { requests: (official: SignedInOfficial) => ReactNode }) {
  const { t } = useI18n();
  const auth = useAuth();
  const session = useOfficialSession();
  const s = session.state;

  if (s.phase === 'checking' || auth.state.phase === 'loading') {
    return (
      <p className="loading" role="status">
        {t.loading}
      </p>
    );
  }
  if (s.phase === 'failed') {
    return (
      <div>
        <AuthorityError context={t.authority.loadFailed} error={s.error} testId="authority-error" />
        <button type="button" className="button" onClick={session.retry}>
          {t.retry}
        </button>
      </div>
    );
  }
  if (s.phase === 'signedOut') return <AuthoritySignIn demo={auth.meta?.mode === 'demo'} signedIn={session.signedIn} />;
  return (
    <AuthorityLayout official={s.official} signOut={session.signOut}>
      {requests(s.official)}
    </AuthorityLayout>
  );
}
