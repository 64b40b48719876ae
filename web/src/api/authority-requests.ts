/**
 * The authority console's disclosure requests (issue 5 "Disclosure requests"; DESIGN.md invariant
 * 3) and the public transparency report, as the browser calls them. Officials are signed in with
 * the `idbind_official` session cookie (HttpOnly, same origin): every call goes with credentials
 * 'same-origin' (json.ts) and carries no token of its own. Every call is about one request: there
 * is no search and no bulk call, by design.
 *
 * Failures are the SDK's `IdbindError` (json.ts): the hub's problem document with its stable
 * `code` (docs/errors.md "Disclosure requests"), or `NETWORK_ERROR` with status 0.
 */
import { requestJson } from './json.ts';

export type OfficialRole = 'requester' | 'approver' | 'auditor' | 'administrator';
export type RequestStatus = 'submitted' | 'approved' | 'rejected' | 'released' | 'expired';
export type Ask = 'identity' | 'history';
export type ReviewOutcome = 'upheld' | 'not_upheld';

export const REQUEST_STATUSES: readonly RequestStatus[] = ['submitted', 'approved', 'rejected', 'released', 'expired'];

/** `GET /v1/authority/me`. */
export interface OfficialMe {
  id: string;
  name: string;
  authority: { id: string; name: string; kind: string };
  roles: OfficialRole[];
}

export interface AuthorityRef {
  id: string;
  name: string;
}

/** A request as officials see it: never the identity (that is the release's). */
export interface DisclosureRequest {
  id: string;
  status: RequestStatus;
  provider: { id: string; name: string };
  account_ref: string;
  pseudonym: string;
  legal_basis: string;
  case_reference: string;
  reasons: string;
  asks: Ask[];
  emergency: boolean;
  /** The court-set seal date (YYYY-MM-DD), or null. */
  seal_until: string | null;
  /** True while the seal hides the disclosure from the person. */
  sealed: boolean;
  requester: { official_id: string; authority: AuthorityRef };
  approver: { official_id: string | null; authority: AuthorityRef } | null;
  rejection_reasons: string | null;
  decided_at: string | null;
  released_at: string | null;
  /** Emergency: the released identity is shown to the requester until then. */
  release_visible_until: string | null;
  /** Emergency requests only: the second approver's retrospective review. */
  review: { due_at: string | null; reviewed_at: string | null; outcome: string | null; overdue: boolean } | null;
  expires_at: string;
  created_at: string;
}

/** `POST /v1/authority/requests`: exactly one of `account_ref` and `pseudonym`. */
export interface NewRequest {
  provider_id: string;
  account_ref?: string;
  pseudonym?: string;
  legal_basis: string;
  case_reference: string;
  reasons: string;
  asks: Ask[];
  seal_until?: string;
  emergency?: boolean;
}

/** `GET /v1/authority/requests/{id}/release`: each call is recorded in the person's access history. */
export interface Release {
  request: DisclosureRequest;
  identity?: { full_name: string; personal_id: string; birth_date: string };
  account?: { method: string | null; level: string | null; verified_at: string | null };
  history?: { status: string; reason: string; at: string }[];
  /** C2SP tlog-proof bundles of the approval and release log entries, with their commitment openings. */
  proofs: { approved: string; released: string };
}

/** A platform a request can name (only when the hub serves `GET /v1/authority/providers`). */
export interface ProviderChoice {
  id: string;
  name: string;
}

/**
 * The server's rules for a new request (src/disclosure/disclosure-routes.ts), mirrored for the
 * form's own checks; the hub checks them again.
 */
export const REQUEST_RULES = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  accountRef: /^[A-Za-z0-9._:-]{1,128}$/,
  pseudonymMax: 64,
  legalBasis: { min: 3, max: 500 },
  caseReference: { min: 1, max: 200 },
  reasons: { min: 20, max: 5000 },
  /** Reasons of a rejection, review or seal. */
  decisionReasons: { min: 10, max: 5000 },
  date: /^\d{4}-\d{2}-\d{2}$/,
} as const;

const base = '/v1/authority/requests';
const one = (id: string) => `${base}/${encodeURIComponent(id)}`;
const post = <T>(path: string, body: unknown) => requestJson<T>(path, { method: 'POST', body });

export const authorityRequestsApi = {
  me: () => requestJson<OfficialMe>('/v1/authority/me'),
  list: (status?: RequestStatus) => requestJson<{ requests: DisclosureRequest[] }>(status ? `${base}?status=${status}` : base),
  get: (id: string) => requestJson<DisclosureRequest>(one(id)),
  create: (body: NewRequest) => post<DisclosureRequest>(base, body),
  approve: (id: string) => post<DisclosureRequest>(`${one(id)}/approve`, {}),
  reject: (id: string, reasons: string) => post<DisclosureRequest>(`${one(id)}/reject`, { reasons }),
  review: (id: string, outcome: ReviewOutcome, reasons: string) => post<DisclosureRequest>(`${one(id)}/review`, { outcome, reasons }),
  seal: (id: string, until: string, reasons: string) => post<DisclosureRequest>(`${one(id)}/seal`, { until, reasons }),
  release: (id: string) => requestJson<Release>(`${one(id)}/release`),
  /** Answers 404 NOT_FOUND on a hub without an official-facing provider list (the form then takes an id). */
  providers: () => requestJson<{ providers: ProviderChoice[] }>('/v1/authority/providers'),
};

export interface AuthorityCounts {
  authority: { id: string; name: string; kind: string };
  requests: number;
  approved: number;
  rejected: number;
  expired: number;
  emergency: number;
  reviewed_late: number;
  review_overdue: number;
  sealed: number;
  accounts_affected: number;
}

export type Counts = Omit<AuthorityCounts, 'authority'>;

/** `GET /v1/transparency/report[?period=YYYY-H1|H2]` (public). */
export interface TransparencyReport {
  period: string;
  /** First day of the half-year, and the first day after it (YYYY-MM-DD, Vietnam's calendar). */
  from: string;
  to: string;
  totals: Counts;
  by_authority: AuthorityCounts[];
  /** The latest signed checkpoint (C2SP tlog-checkpoint signed note), or null when the log has none. */
  checkpoint: string | null;
  generated_at: string;
}

export const PERIOD_PATTERN = /^\d{4}-H[12]$/;

export const transparencyApi = {
  report: (period?: string) =>
    requestJson<TransparencyReport>(period ? `/v1/transparency/report?period=${encodeURIComponent(period)}` : '/v1/transparency/report'),
};
