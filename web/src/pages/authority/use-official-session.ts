/**
 * The authority console's session: asks `GET /v1/authority/me` once, then follows sign-in and
 * sign-out. The cookie itself is HttpOnly: the page knows only who is signed in.
 */
import { useCallback, useEffect, useState } from 'react';
import { authorityApi, type SignedInOfficial } from './authority-api.ts';

export type OfficialSessionState =
  | { phase: 'checking' }
  | { phase: 'failed'; error: unknown }
  | { phase: 'signedOut' }
  | { phase: 'signedIn'; official: SignedInOfficial };

export function useOfficialSession() {
  const [state, setState] = useState<OfficialSessionState>({ phase: 'checking' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    authorityApi
      .me()
      .then((official) => {
        if (!cancelled) setState(official ? { phase: 'signedIn', official } : { phase: 'signedOut' });
      })
      .catch((error: unknown) => {
        if (!cancelled) setState({ phase: 'failed', error });
      });
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  const signedIn = useCallback((official: SignedInOfficial) => setState({ phase: 'signedIn', official }), []);
  const signOut = useCallback(async () => {
    await authorityApi.signOut();
    setState({ phase: 'signedOut' });
  }, []);
  const retry = useCallback(() => {
    setState({ phase: 'checking' });
    setAttempt((n) => n + 1);
  }, []);
  return { state, signedIn, signOut, retry };
}
