/**
 * How the web app authenticates to the admin API. It asks `/v1/meta` for the mode. In demo mode it
 * opens a demo session (`/v1/demo/session`) and uses its admin token silently, in memory. In
 * production mode the regulator's staff sign in with a passkey, as officials do on the authority
 * console (issue 5: "The regulator's own staff sign in the same way, replacing the admin token of
 * the registries page"): the session is the HttpOnly `idbind_official` cookie, which the browser
 * sends with each admin request; the page holds no credential. An existing session of regulator
 * staff (an official of a regulator authority holding `administrator`) is used at once; a 401 on
 * any later request asks to sign in again. The admin token stays for automation and the CLI.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { adminApi, publicApi, type AdminApi, type ApiError } from '../api/client.ts';
import type { Meta } from '../api/types.ts';
import { authorityApi, isRegulatorStaff, type SignedInOfficial } from '../pages/authority/authority-api.ts';

export type AuthState =
  | { phase: 'loading' }
  | { phase: 'failed'; error: unknown }
  /** `official`: someone signed in who is not regulator staff. */
  | { phase: 'signIn'; meta: Meta; expired: boolean; official: SignedInOfficial | null }
  /** `token` in demo mode; null with a staff session (`staff`). */
  | { phase: 'ready'; meta: Meta; token: string | null; staff: SignedInOfficial | null };

export interface Auth {
  state: AuthState;
  /** The mode, once known. */
  meta: Meta | null;
  /** After a passkey sign-in: ready when the official is regulator staff, else still signing in (with the official named). */
  signIn(official: SignedInOfficial): void;
  signOut(): void;
  retry(): void;
  /** Called on a 401 from the admin API. */
  unauthorized(error: ApiError): void;
}

const AuthContext = createContext<Auth | null>(null);

function metaOf(state: AuthState): Meta | null {
  return state.phase === 'signIn' || state.phase === 'ready' ? state.meta : null;
}

function staffState(meta: Meta, official: SignedInOfficial | null, expired: boolean): AuthState {
  return official && isRegulatorStaff(official)
    ? { phase: 'ready', meta, token: null, staff: official }
    : { phase: 'signIn', meta, expired, official };
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ phase: 'loading' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      const meta = await publicApi.meta();
      if (meta.mode === 'demo') {
        const session = await publicApi.demoSession();
        if (!cancelled) setState({ phase: 'ready', meta, token: session.admin_token, staff: null });
        return;
      }
      const official = await authorityApi.me();
      if (!cancelled) setState(staffState(meta, official, false));
    })().catch((error: unknown) => {
      if (!cancelled) setState({ phase: 'failed', error });
    });
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  const meta = metaOf(state);

  const signIn = useCallback((official: SignedInOfficial) => {
    setState((s) => {
      const known = metaOf(s);
      return known ? staffState(known, official, false) : s;
    });
  }, []);

  const signOut = useCallback(() => {
    const done = () =>
      setState((s) => {
        const known = metaOf(s);
        return known ? { phase: 'signIn', meta: known, expired: false, official: null } : s;
      });
    // The cookie is HttpOnly: only the hub can end the session (it answers 204 whatever happens).
    authorityApi.signOut().then(done, done);
  }, []);

  const unauthorized = useCallback((error: ApiError) => {
    setState((s) => {
      const known = metaOf(s);
      return known?.mode === 'production' ? { phase: 'signIn', meta: known, expired: true, official: null } : { phase: 'failed', error };
    });
  }, []);

  const retry = useCallback(() => {
    setState({ phase: 'loading' });
    setAttempt((n) => n + 1);
  }, []);

  const value = useMemo<Auth>(
    () => ({ state, meta, signIn, signOut, retry, unauthorized }),
    [state, meta, signIn, signOut, retry, unauthorized],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}

/**
 * The admin API with the current credential, for pages behind the sign-in gate. A 401 in
 * production asks to sign in again ("session ended"); demo reports the failure with a retry that
 * opens a new demo session.
 */
export function useAdminApi(): AdminApi {
  const { state, unauthorized } = useAuth();
  const ready = state.phase === 'ready';
  const token = ready ? state.token : null;
  const api = useMemo(() => (ready ? adminApi(token, unauthorized) : null), [ready, token, unauthorized]);
  if (!api) throw new Error('useAdminApi before sign-in');
  return api;
}
