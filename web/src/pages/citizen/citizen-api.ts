/**
 * The citizen portal's calls to `/v1/me` (src/citizen/citizen-routes.ts): the session cookie is
 * the only credential (same origin); failures are the SDK's IdbindError with the hub's code.
 */
import { requestJson } from '../../api/json.ts';
import { IdbindError } from '../../api/sdk.ts';

export type Level = 'low' | 'substantial' | 'high';

export interface Me {
  level: Level;
  method: 'phone' | 'eid';
  expires_at: string;
  shows: { access: 'bindings_and_releases' | 'full'; disclosures: boolean; export: boolean };
}

export interface Account {
  id: string;
  provider: string;
  account_ref: string;
  pseudonym: string | null;
  level: string | null;
  since: string;
  status: 'verified' | 'needs_reverification' | 'revoked' | 'unbound';
  reason: string | null;
}

export interface Subscription {
  id: string;
  carrier: string;
  number: string;
  channel: string;
  registered_at: string;
  status: string;
  reported_at: string | null;
}

export interface Consent {
  id: string;
  platform: string;
  claims: string[];
  granted_at: string;
  withdrawn_at: string | null;
}

export interface AccessRecord {
  id: string;
  at: string;
  purpose: string;
  who: { kind: string; name: string | null };
  what: Record<string, unknown>;
}

/** The signed-in person, or null when signed out (401). */
export async function fetchMe(): Promise<Me | null> {
  try {
    return await requestJson<Me>('/v1/me');
  } catch (e) {
    if (e instanceof IdbindError && e.status === 401) return null;
    throw e;
  }
}

export const citizenApi = {
  accounts: () => requestJson<{ accounts: Account[] }>('/v1/me/accounts'),
  unbind: (id: string) => requestJson<Account>(`/v1/me/accounts/${encodeURIComponent(id)}/unbind`, { method: 'POST' }),
  subscriptions: () => requestJson<{ subscriptions: Subscription[] }>('/v1/me/subscriptions'),
  report: (id: string) => requestJson<{ reported_at: string }>(`/v1/me/subscriptions/${encodeURIComponent(id)}/report`, { method: 'POST' }),
  consents: () => requestJson<{ consents: Consent[] }>('/v1/me/consents'),
  withdraw: (id: string) => requestJson<Consent>(`/v1/me/consents/${encodeURIComponent(id)}/withdraw`, { method: 'POST' }),
  access: () => requestJson<{ complete: boolean; records: AccessRecord[] }>('/v1/me/access'),
  disclosures: () => requestJson<{ disclosures: unknown[] }>('/v1/me/disclosures'),
  exportAll: () => requestJson<Record<string, unknown>>('/v1/me/export'),
  async signOut(): Promise<void> {
    await fetch('/v1/me/sign-out', { method: 'POST', credentials: 'same-origin' });
  },
};
