/**
 * The authority console's calls to the hub (issue 5): the session is the HttpOnly
 * `idbind_official` cookie, which the browser sends by itself (same origin, SameSite=Strict); no
 * token is ever held by the page. Failures are {@link ApiError}s carrying the hub's RFC 9457
 * problem (stable `code`), so the page can explain them.
 */
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import { ApiError } from '../../api/client.ts';
import type { Problem } from '../../api/types.ts';

export type OfficialRole = 'requester' | 'approver' | 'auditor' | 'administrator';

/** Regulator staff: an official of a regulator authority holding `administrator` (the admin API admits their session). */
export function isRegulatorStaff(official: SignedInOfficial): boolean {
  return official.authority.kind === 'regulator' && official.roles.includes('administrator');
}

/** The signed-in official, as `GET /v1/authority/me` answers. */
export interface SignedInOfficial {
  id: string;
  name: string;
  authority: { id: string; name: string; kind: string };
  roles: OfficialRole[];
}

async function call<T>(path: string, method: 'GET' | 'POST', body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (cause) {
    throw new ApiError(0, null, cause instanceof Error ? cause.message : String(cause));
  }
  if (response.status === 204) return undefined as T;
  const json: unknown = (response.headers.get('content-type') ?? '').includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    const r = (json ?? {}) as Record<string, unknown>;
    const text = (k: string) => (typeof r[k] === 'string' ? (r[k] as string) : undefined);
    const problem: Problem = { type: text('type'), title: text('title'), detail: text('detail'), code: text('code'), status: response.status };
    throw new ApiError(response.status, json ? problem : null);
  }
  return json as T;
}

export const authorityApi = {
  /** The signed-in official, or null when signed out (401). */
  async me(): Promise<SignedInOfficial | null> {
    try {
      return await call<SignedInOfficial>('/v1/authority/me', 'GET');
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }
  },
  signInOptions: () => call<PublicKeyCredentialRequestOptionsJSON>('/v1/authority/sign-in/options', 'POST'),
  signIn: (response: unknown) => call<SignedInOfficial>('/v1/authority/sign-in', 'POST', { response }),
  signOut: () => call<void>('/v1/authority/sign-out', 'POST'),
  enrolOptions: (token: string) => call<PublicKeyCredentialCreationOptionsJSON>('/v1/authority/enrol/options', 'POST', { token }),
  enrol: (token: string, response: unknown) => call<SignedInOfficial>('/v1/authority/enrol', 'POST', { token, response }),
  /** Demo mode only. */
  demoOfficials: () => call<{ officials: SignedInOfficial[] }>('/v1/demo/officials', 'GET'),
  demoSignIn: (id: string) => call<SignedInOfficial>(`/v1/demo/officials/${encodeURIComponent(id)}/session`, 'POST'),
};
