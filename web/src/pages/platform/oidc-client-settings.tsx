/**
 * "OpenID Connect (Sign in with national identity)": the platform's OpenID client at the hub's
 * OpenID Provider, with the platform's own API key like the rest of the console. It shows the
 * issuer and its discovery URL and the client id, edits the redirect URIs (one per line), PAR,
 * the token-endpoint authentication (client secret or private_key_jwt with the platform's public
 * JWKS) and refresh tokens, rotates the client secret (shown once), and prints the few lines of
 * openid-client a backend needs, filled in with these settings.
 *
 * A platform without a client yet (404 OIDC_CLIENT_NOT_FOUND) gets the same form, empty, and the
 * first save creates the client; when the hub answers a creation with its first `client_secret`,
 * that secret is shown once like a rotated one. On a hub without these routes (404 NOT_FOUND) the
 * section says so in a note.
 */
import { useCallback, useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import { oidcClientApi, type OidcClient, type OidcClientSettings, type TokenEndpointAuthMethod } from '../../api/oidc-client.ts';
import { IdbindError } from '../../api/sdk.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { ConsoleError, isMissingRoute } from './console-error.tsx';
import { SecretBox } from './secret-box.tsx';

const AUTH_METHODS: TokenEndpointAuthMethod[] = ['client_secret_basic', 'private_key_jwt'];

type Load = { state: 'loading' } | { state: 'missing' } | { state: 'failed'; error: unknown } | { state: 'absent' } | { state: 'ready'; client: OidcClient };

interface OidcClientSettingsProps {
  apiKey: string;
  onError(error: unknown): void;
}

/** `${issuer}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0, section 4). */
function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** The lines a Node.js backend needs with openid-client v6, filled in with `client`'s settings. */
function integrationSnippet(client: OidcClient): string {
  const redirect = client.redirect_uris[0] ?? 'https://app.example/callback';
  const auth = client.token_endpoint_auth_method === 'private_key_jwt' ? 'client.PrivateKeyJwt(privateKey)' : 'client.ClientSecretBasic(process.env.IDBIND_CLIENT_SECRET)';
  const build = client.require_par ? 'await client.buildAuthorizationUrlWithPAR' : 'client.buildAuthorizationUrl';
  return [
    "import * as client from 'openid-client';",
    '',
    `const config = await client.discovery(new URL('${client.issuer}'), '${client.client_id}', undefined, ${auth});`,
    '',
    '// Sign-in: send the person to idbind (keep codeVerifier in their session).',
    'const codeVerifier = client.randomPKCECodeVerifier();',
    `const url = ${build}(config, {`,
    `  redirect_uri: '${redirect}',`,
    "  scope: 'openid',",
    '  code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),',
    "  code_challenge_method: 'S256',",
    "  account_ref: 'user-42', // your own id for the account",
    '});',
    '// ...redirect the browser to url.href',
    '',
    '// Callback: exchange the code for the ID token.',
    'const tokens = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: codeVerifier });',
    'const { sub, acr, verified, age_over_16, age_over_18, minor } = tokens.claims()!;',
  ].join('\n');
}

/** The JWKS field: empty is no keys (null); otherwise it must be `{"keys": [...]}`. */
function parseJwks(text: string): { ok: true; jwks: OidcClientSettings['jwks'] } | { ok: false } {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: true, jwks: null };
  try {
    const value: unknown = JSON.parse(trimmed);
    if (typeof value === 'object' && value !== null && Array.isArray((value as { keys?: unknown }).keys)) {
      return { ok: true, jwks: { keys: (value as { keys: object[] }).keys } };
    }
  } catch {
    // not JSON: refused below
  }
  return { ok: false };
}

const EMPTY_FORM = { redirectUris: '', requirePar: true, authMethod: 'client_secret_basic' as TokenEndpointAuthMethod, jwks: '', refreshTokens: false };

function formOf(client: OidcClient): typeof EMPTY_FORM {
  return {
    redirectUris: client.redirect_uris.join('\n'),
    requirePar: client.require_par,
    authMethod: client.token_endpoint_auth_method,
    jwks: client.jwks ? JSON.stringify(client.jwks, null, 2) : '',
    refreshTokens: client.refresh_tokens,
  };
}

export function OidcClientSettingsSection({ apiKey, onError }: OidcClientSettingsProps) {
  const { t } = useI18n();
  const k = t.platform;
  const ids = { heading: useId(), uris: useId(), urisHint: useId(), par: useId(), parHint: useId(), jwks: useId(), jwksHint: useId(), jwksError: useId(), refresh: useId(), refreshHint: useId(), saveError: useId(), method: useId() };
  const api = useMemo(() => oidcClientApi(apiKey), [apiKey]);
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [form, setForm] = useState<typeof EMPTY_FORM | null>(null);
  const [jwksInvalid, setJwksInvalid] = useState(false);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [secretBusy, setSecretBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [secretError, setSecretError] = useState<unknown>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const rotateButton = useRef<HTMLButtonElement>(null);

  const reload = useCallback(async () => {
    try {
      const client = await api.get();
      setLoad({ state: 'ready', client });
      setForm(formOf(client));
    } catch (failure) {
      if (isMissingRoute(failure)) setLoad({ state: 'missing' });
      else if (failure instanceof IdbindError && failure.code === 'OIDC_CLIENT_NOT_FOUND') {
        setLoad({ state: 'absent' });
        setForm(EMPTY_FORM);
      } else {
        setLoad({ state: 'failed', error: failure });
        onError(failure);
      }
    }
  }, [api, onError]);

  useEffect(() => {
    void reload();
  }, [reload]);

  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!form) return;
    const jwks = parseJwks(form.jwks);
    setJwksInvalid(!jwks.ok);
    setSaved(false);
    setSaveError(null);
    if (!jwks.ok) {
      document.getElementById(ids.jwks)?.focus();
      return;
    }
    const settings: OidcClientSettings = {
      redirect_uris: form.redirectUris
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean),
      require_par: form.requirePar,
      token_endpoint_auth_method: form.authMethod,
      jwks: jwks.jwks,
      refresh_tokens: form.refreshTokens,
    };
    setSaving(true);
    try {
      const client: OidcClient & { client_secret?: string } = await api.put(settings);
      // A creation may answer the first secret, once.
      if (typeof client.client_secret === 'string') setSecret(client.client_secret);
      setLoad({ state: 'ready', client });
      setForm(formOf(client));
      setSaved(true);
    } catch (failure) {
      setSaveError(failure);
      onError(failure);
      document.getElementById(ids.uris)?.focus();
    } finally {
      setSaving(false);
    }
  };

  const rotate = async () => {
    setConfirming(false);
    setSecretBusy(true);
    setSecretError(null);
    try {
      setSecret((await api.rotateSecret()).client_secret);
    } catch (failure) {
      setSecretError(failure);
      onError(failure);
    } finally {
      setSecretBusy(false);
    }
  };

  const detail = saveError instanceof IdbindError && saveError.code === 'OIDC_CLIENT_INVALID' && saveError.detail ? saveError.detail : null;

  return (
    <section aria-labelledby={ids.heading} className="subsection oidc-client" id="oidc" data-testid="oidc-section" data-state={load.state}>
      <h2 id={ids.heading}>{k.oidcTitle}</h2>
      <p className="hint">{k.oidcIntro}</p>

      {load.state === 'loading' ? (
        <p className="loading">{t.loading}</p>
      ) : load.state === 'missing' ? (
        <p className="note">{k.oidcMissing}</p>
      ) : load.state === 'failed' ? (
        <ConsoleError
          context={k.oidcLoadFailed}
          error={load.error}
          action={
            <button type="button" className="button" onClick={() => void reload()}>
              {t.retry}
            </button>
          }
        />
      ) : form ? (
        <>
          {load.state === 'absent' ? <p className="note" data-testid="oidc-absent">{k.oidcAbsent}</p> : null}
          {load.state === 'ready' ? (
            <dl className="facts oidc-facts">
              <div>
                <dt>{k.oidcIssuer}</dt>
                <dd>
                  <code data-testid="oidc-issuer">{load.client.issuer}</code>
                </dd>
              </div>
              <div>
                <dt>{k.oidcDiscovery}</dt>
                <dd>
                  <a href={discoveryUrl(load.client.issuer)} data-testid="oidc-discovery">
                    <code>{discoveryUrl(load.client.issuer)}</code>
                  </a>
                </dd>
              </div>
              <div>
                <dt>{k.oidcClientId}</dt>
                <dd>
                  <code data-testid="oidc-client-id">{load.client.client_id}</code>
                </dd>
              </div>
            </dl>
          ) : null}

          <form onSubmit={(e) => void submit(e)} noValidate className="oidc-form">
            <div className="field">
              <label htmlFor={ids.uris}>{k.oidcRedirectUris}</label>
              <p className="hint" id={ids.urisHint}>
                {k.oidcRedirectUrisHint}
              </p>
              <textarea
                id={ids.uris}
                rows={3}
                spellCheck={false}
                autoComplete="off"
                placeholder="https://app.example/callback"
                value={form.redirectUris}
                onChange={(e) => setForm({ ...form, redirectUris: e.target.value })}
                aria-invalid={saveError ? true : undefined}
                aria-describedby={[ids.urisHint, saveError ? ids.saveError : ''].filter(Boolean).join(' ')}
                data-testid="oidc-redirect-uris"
              />
            </div>

            <div className="check">
              <input id={ids.par} type="checkbox" checked={form.requirePar} onChange={(e) => setForm({ ...form, requirePar: e.target.checked })} aria-describedby={ids.parHint} data-testid="oidc-require-par" />
              <div>
                <label htmlFor={ids.par}>{k.oidcRequirePar}</label>
                <p className="hint" id={ids.parHint}>
                  {k.oidcRequireParHint}
                </p>
              </div>
            </div>

            <fieldset className="radio-group">
              <legend>{k.oidcAuthMethod}</legend>
              {AUTH_METHODS.map((method) => (
                <div className="check" key={method}>
                  <input
                    id={`${ids.method}-${method}`}
                    type="radio"
                    name="token_endpoint_auth_method"
                    value={method}
                    checked={form.authMethod === method}
                    onChange={() => setForm({ ...form, authMethod: method })}
                    data-testid={`oidc-auth-${method}`}
                  />
                  <label htmlFor={`${ids.method}-${method}`}>{k.oidcAuthMethodName[method]}</label>
                </div>
              ))}
            </fieldset>

            {form.authMethod === 'private_key_jwt' || form.jwks.trim() !== '' ? (
              <div className="field">
                <label htmlFor={ids.jwks}>{k.oidcJwks}</label>
                <p className="hint" id={ids.jwksHint}>
                  {k.oidcJwksHint}
                </p>
                <textarea
                  id={ids.jwks}
                  rows={6}
                  spellCheck={false}
                  autoComplete="off"
                  className="mono"
                  placeholder='{"keys": [{"kty": "EC", "crv": "P-256", "x": "…", "y": "…"}]}'
                  value={form.jwks}
                  onChange={(e) => setForm({ ...form, jwks: e.target.value })}
                  aria-invalid={jwksInvalid ? true : undefined}
                  aria-describedby={[ids.jwksHint, jwksInvalid ? ids.jwksError : ''].filter(Boolean).join(' ')}
                  data-testid="oidc-jwks"
                />
                {jwksInvalid ? (
                  <p className="field-error" id={ids.jwksError}>
                    {k.oidcJwksInvalid}
                  </p>
                ) : null}
              </div>
            ) : null}

            <div className="check">
              <input id={ids.refresh} type="checkbox" checked={form.refreshTokens} onChange={(e) => setForm({ ...form, refreshTokens: e.target.checked })} aria-describedby={ids.refreshHint} data-testid="oidc-refresh-tokens" />
              <div>
                <label htmlFor={ids.refresh}>{k.oidcRefreshTokens}</label>
                <p className="hint" id={ids.refreshHint}>
                  {k.oidcRefreshTokensHint}
                </p>
              </div>
            </div>

            <div className="form-actions">
              <button type="submit" className="button primary" disabled={saving} aria-busy={saving} data-testid="oidc-save">
                {saving ? k.saving : k.oidcSave}
              </button>
            </div>
            <p className="hint" role="status" data-testid="oidc-saved">
              {saved ? k.oidcSaved : ''}
            </p>
            {saveError ? (
              <ConsoleError id={ids.saveError} context={k.oidcSaveFailed} error={saveError} testId="oidc-error" action={detail ? <p className="error-detail">{detail}</p> : undefined} />
            ) : null}
          </form>

          {load.state === 'ready' ? (
            <>
              <h3 className="spaced">{k.oidcSecretTitle}</h3>
              <p className="hint">{load.client.token_endpoint_auth_method === 'private_key_jwt' ? k.oidcSecretUnused : k.oidcSecretIntro}</p>
              {secret ? (
                <>
                  <p className="notice">{k.oidcNewSecretShownOnce}</p>
                  <SecretBox label={k.oidcNewSecretLabel} value={secret} testId="oidc-client-secret" />
                </>
              ) : null}
              {confirming ? (
                <div className="confirm-box" role="group" aria-label={k.oidcRotateSecret}>
                  <p>{k.oidcRotateSecretWarning}</p>
                  <div className="form-actions">
                    <button ref={confirmButton} type="button" className="button primary" onClick={() => void rotate()} data-testid="oidc-rotate-secret-confirm">
                      {k.oidcRotateSecretConfirm}
                    </button>
                    <button
                      type="button"
                      className="button subtle"
                      onClick={() => {
                        setConfirming(false);
                        window.setTimeout(() => rotateButton.current?.focus(), 0);
                      }}
                    >
                      {k.cancel}
                    </button>
                  </div>
                </div>
              ) : (
                <button ref={rotateButton} type="button" className="button" disabled={secretBusy} aria-busy={secretBusy} onClick={() => setConfirming(true)} data-testid="oidc-rotate-secret">
                  {secretBusy ? k.rotating : k.oidcRotateSecret}
                </button>
              )}
              {secretError ? <ConsoleError context={k.oidcRotateSecretFailed} error={secretError} testId="oidc-secret-error" /> : null}

              <h3 className="spaced">{k.oidcSnippetTitle}</h3>
              <p className="hint">{k.oidcSnippetIntro}</p>
              <pre className="snippet" tabIndex={0} aria-label={k.oidcSnippetTitle} data-testid="oidc-snippet">
                <code>{integrationSnippet(load.client)}</code>
              </pre>
            </>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
