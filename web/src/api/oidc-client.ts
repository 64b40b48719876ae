/**
 * The platform's OpenID Connect client settings (issue 4), with the platform's own API key like
 * every other console call: `GET`/`PUT /v1/provider/oidc-client` and
 * `POST /v1/provider/oidc-client/secret` (rotates at once; the secret is answered once and never
 * again). A platform without a client gets 404 `OIDC_CLIENT_NOT_FOUND` from GET.
 * A refused setting is `OIDC_CLIENT_INVALID` with a `detail` naming what is wrong.
 */
import { requestJson } from './json.ts';

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'private_key_jwt';

export interface OidcClientSettings {
  redirect_uris: string[];
  require_par: boolean;
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  /** The platform's public keys, for `private_key_jwt`. */
  jwks: { keys: object[] } | null;
  refresh_tokens: boolean;
}

export interface OidcClient extends OidcClientSettings {
  client_id: string;
  /** The OpenID Provider's issuer; discovery is at `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
}

export interface OidcClientApi {
  get(): Promise<OidcClient>;
  put(settings: OidcClientSettings): Promise<OidcClient>;
  rotateSecret(): Promise<{ client_secret: string }>;
}

export function oidcClientApi(apiKey: string): OidcClientApi {
  const headers = { authorization: `Bearer ${apiKey}` };
  const path = '/v1/provider/oidc-client';
  return {
    get: () => requestJson<OidcClient>(path, { headers }),
    put: (settings) => requestJson<OidcClient>(path, { method: 'PUT', body: settings, headers }),
    rotateSecret: () => requestJson<{ client_secret: string }>(`${path}/secret`, { method: 'POST', body: {}, headers }),
  };
}
