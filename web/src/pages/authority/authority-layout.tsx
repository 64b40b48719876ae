/**
 * The signed-in frame of the authority console: who is signed in (name, authority, roles), a
 * sign-out button, and the section where the disclosure request pages go
 * (`data-testid="authority-requests"`). Pages inside read the official with {@link useOfficial}.
 *
 * For the request pages (web/src/pages/authority/requests*.tsx): render them as the `children` of
 * this layout, e.g. `<AuthorityPage requests={(official) => <RequestsPage official={official} />} />`.
 */
import { createContext, useContext, useId, useState, type ReactNode } from 'react';
import { useI18n } from '../../i18n/i18n.tsx';
import type { SignedInOfficial } from './authority-api.ts';
import { AuthorityError } from './authority-errors.tsx';

const OfficialContext = createContext<SignedInOfficial | null>(null);

/** The signed-in official, inside an {@link AuthorityLayout}. */
export function useOfficial(): SignedInOfficial {
  const official = useContext(OfficialContext);
  if (!official) throw new Error('useOfficial is used outside AuthorityLayout');
  return official;
}

interface AuthorityLayoutProps {
  official: SignedInOfficial;
  signOut(): Promise<void>;
  /** The request pages (web/src/pages/authority/requests.tsx). */
  children: ReactNode;
}

export function AuthorityLayout({ official, signOut, children }: AuthorityLayoutProps) {
  const { t } = useI18n();
  const k = t.authority;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const requestsHeading = useId();

  const leave = async () => {
    setBusy(true);
    setError(null);
    try {
      await signOut();
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  return (
    <OfficialContext.Provider value={official}>
      <div className="page authority-console" data-testid="authority-page" data-official-id={official.id}>
        <div className="page-heading">
          <h1 data-testid="page-heading">{k.title}</h1>
          <button type="button" className="button subtle" onClick={() => void leave()} disabled={busy} data-testid="authority-sign-out">
            {k.signOut}
          </button>
        </div>
        {error ? <AuthorityError context={k.signOutFailed} error={error} /> : null}
        <section className="card" aria-label={k.signedInAs}>
          <dl className="facts" data-testid="authority-official">
            <div>
              <dt>{k.signedInAs}</dt>
              <dd data-testid="official-name">{official.name}</dd>
            </div>
            <div>
              <dt>{k.authorityLabel}</dt>
              <dd data-testid="official-authority">
                {official.authority.name} <span className="hint">({k.kind[official.authority.kind] ?? official.authority.kind})</span>
              </dd>
            </div>
            <div>
              <dt>{k.rolesLabel}</dt>
              <dd data-testid="official-roles">{official.roles.map((r) => k.role[r] ?? r).join(', ')}</dd>
            </div>
          </dl>
        </section>
        <section className="card" aria-labelledby={requestsHeading} data-testid="authority-requests">
          <h2 id={requestsHeading}>{k.requestsTitle}</h2>
          {children}
        </section>
      </div>
    </OfficialContext.Provider>
  );
}
