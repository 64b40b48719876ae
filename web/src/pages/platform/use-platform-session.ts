/**
 * The platform console's sign-in: a platform signs in with its own API key, never the admin
 * token. The key is checked with the hub (`GET /v1/provider`) before it is kept, and kept in
 * sessionStorage only (gone when the tab closes). A key the hub stops accepting (rotated away,
 * provider disabled) signs the console out with a notice. A kept key that the hub could not check
 * (unreachable, 5xx) is neither dropped nor taken for refused: the console says so, with a retry,
 * rather than showing the sign-in form as if the person had been signed out. After an API-key
 * rotation the console carries on with the new key.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { IdbindClient, isIdbindError, type Provider, type ProviderInfo } from '../../api/sdk.ts';

const KEY_STORAGE = 'idbind.platformApiKey';

export type PlatformSessionState =
  | { phase: 'checking' }
  | { phase: 'signedOut'; expired: boolean }
  /** The kept key could not be checked (the hub unreachable or failing): `retry()` checks it again. */
  | { phase: 'failed'; error: unknown }
  | { phase: 'ready'; apiKey: string; client: IdbindClient; info: ProviderInfo };

export interface PlatformSession {
  state: PlatformSessionState;
  /** Checks `apiKey` with the hub; resolves once signed in, rejects with the hub's error otherwise. */
  signIn(apiKey: string): Promise<void>;
  signOut(): void;
  /** Checks the kept key again, after `failed`. */
  retry(): void;
  /** Continues with a rotated key (the old one is about to stop working). */
  replaceKey(apiKey: string): Promise<void>;
  /** Reloads the profile and key hints. */
  refresh(): Promise<void>;
  /** Takes a changed profile (after a webhook URL change). */
  updateProvider(provider: Provider): void;
  /** To call with any error of a console call: a refused key signs the console out. */
  handleError(error: unknown): void;
}

function stored(): string | null {
  try {
    return window.sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

function store(apiKey: string | null): void {
  try {
    if (apiKey === null) window.sessionStorage.removeItem(KEY_STORAGE);
    else window.sessionStorage.setItem(KEY_STORAGE, apiKey);
  } catch {
    // storage disabled: the key lives in memory for this page only
  }
}

export function clientFor(apiKey: string): IdbindClient {
  return new IdbindClient({ baseUrl: window.location.origin, apiKey });
}

async function open(apiKey: string): Promise<PlatformSessionState & { phase: 'ready' }> {
  const client = clientFor(apiKey);
  const info = await client.getProvider();
  return { phase: 'ready', apiKey, client, info };
}

export function usePlatformSession(): PlatformSession {
  const [state, setState] = useState<PlatformSessionState>(() => (stored() ? { phase: 'checking' } : { phase: 'signedOut', expired: false }));
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const key = stored();
    if (!key) return;
    let cancelled = false;
    open(key)
      .then((ready) => {
        if (!cancelled) setState(ready);
      })
      .catch((error: unknown) => {
        if (cancelled) return;
        // A key kept from earlier in this tab that no longer works: ask again, saying why.
        if (isIdbindError(error, 'API_KEY_INVALID', 'PROVIDER_DISABLED')) {
          store(null);
          setState({ phase: 'signedOut', expired: true });
        } else {
          setState({ phase: 'failed', error });
        }
      });
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  const retry = useCallback(() => {
    setState({ phase: 'checking' });
    setAttempt((n) => n + 1);
  }, []);

  const signIn = useCallback(async (apiKey: string) => {
    const ready = await open(apiKey);
    store(apiKey);
    setState(ready);
  }, []);

  const signOut = useCallback(() => {
    store(null);
    setState({ phase: 'signedOut', expired: false });
  }, []);

  const replaceKey = useCallback(async (apiKey: string) => {
    store(apiKey);
    setState(await open(apiKey));
  }, []);

  const refresh = useCallback(async () => {
    if (state.phase !== 'ready') return;
    const info = await state.client.getProvider();
    setState((s) => (s.phase === 'ready' && s.apiKey === state.apiKey ? { ...s, info } : s));
  }, [state]);

  const updateProvider = useCallback((provider: Provider) => {
    setState((s) => (s.phase === 'ready' ? { ...s, info: { ...s.info, provider } } : s));
  }, []);

  const handleError = useCallback((error: unknown) => {
    if (isIdbindError(error, 'API_KEY_INVALID', 'PROVIDER_DISABLED')) {
      store(null);
      setState({ phase: 'signedOut', expired: true });
    }
  }, []);

  return useMemo(
    () => ({ state, signIn, signOut, retry, replaceKey, refresh, updateProvider, handleError }),
    [state, signIn, signOut, retry, replaceKey, refresh, updateProvider, handleError],
  );
}
