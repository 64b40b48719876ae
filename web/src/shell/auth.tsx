/**
 * How the web app authenticates to the admin API, until staff sign-in arrives in a later issue.
 * It asks `/v1/meta` for the mode. In demo mode it opens a demo session (`/v1/demo/session`) and
 * uses its admin token silently, in memory. In production mode it asks the person for the admin
 * token, checks it against the hub before accepting it, and keeps it in sessionStorage only (gone
 * when the tab closes); a 401 on any later request forgets it and asks again.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { adminApi, publicApi, type AdminApi, type ApiError } from '../api/client.ts';
import type { Meta } from '../api/types.ts';

const TOKEN_KEY = 'idbind.adminToken';

export type AuthState =
  | { phase: 'loading' }
  | { phase: 'failed'; error: unknown }
  | { phase: 'signIn'; meta: Meta; expired: boolean }
  | { phase: 'ready'; meta: Meta; token: string };

export interface Auth {
  state: AuthState;
  /** The mode, once known. */
  meta: Meta | null;
  /** Checks `token` with the hub; resolves when accepted, rejects with the hub's error otherwise. */
  signIn(token: string): Promise<void>;
  signOut(): void;
  retry(): void;
  /** Called on a 401 from the admin API. */
  unauthorized(error: ApiError): void;
}

const AuthContext = createContext<Auth | null>(null);

function metaOf(state: AuthState): Meta | null {
  return state.phase === 'signIn' || state.phase === 'ready' ? state.meta : null;
}

function readToken(): string | null {
  try {
    return window.sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function writeToken(token: string | null): void {
  try {
    if (token === null) window.sessionStorage.removeItem(TOKEN_KEY);
    else window.sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // storage disabled: the token lives in memory for this page only
  }
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
        if (!cancelled) setState({ phase: 'ready', meta, token: session.admin_token });
        return;
      }
      const token = readToken();
      if (cancelled) return;
      setState(token ? { phase: 'ready', meta, token } : { phase: 'signIn', meta, expired: false });
    })().catch((error: unknown) => {
      if (!cancelled) setState({ phase: 'failed', error });
    });
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  const meta = metaOf(state);

  const signIn = useCallback(async (token: string) => {
    await adminApi(token, () => undefined).stats();
    writeToken(token);
    setState((s) => {
      const known = metaOf(s);
      return known ? { phase: 'ready', meta: known, token } : s;
    });
  }, []);

  const signOut = useCallback(() => {
    writeToken(null);
    setState((s) => {
      const known = metaOf(s);
      return known ? { phase: 'signIn', meta: known, expired: false } : s;
    });
  }, []);

  const unauthorized = useCallback((error: ApiError) => {
    writeToken(null);
    setState((s) => {
      const known = metaOf(s);
      return known?.mode === 'production' ? { phase: 'signIn', meta: known, expired: true } : { phase: 'failed', error };
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
 * The admin API with the current token, for pages behind the sign-in gate. A 401 forgets the token:
 * production asks for it again ("no longer accepted"); demo reports the failure with a retry that
 * opens a new demo session.
 */
export function useAdminApi(): AdminApi {
  const { state, unauthorized } = useAuth();
  const token = state.phase === 'ready' ? state.token : null;
  const api = useMemo(() => (token === null ? null : adminApi(token, unauthorized)), [token, unauthorized]);
  if (!api) throw new Error('useAdminApi before sign-in');
  return api;
}
