/**
 * The hosted verification flow's JSON API (issue 4), as the person's browser calls it. The
 * OpenID Provider sends the browser to `/verify/<uid>` (`uid`: the interaction id) and the API
 * lives under the same path, so the interaction cookie, which the provider scopes to that path,
 * goes with every call. Same-origin JSON only; no API key, no admin token: the cookie is the only
 * credential, and the answers carry nothing the person has not typed or been shown.
 *
 * Failures are the SDK's `IdbindError` (see json.ts): the hub's problem document, or
 * `NETWORK_ERROR` with status 0 when no answer came.
 */
import { requestJson } from './json.ts';

export type Level = 'low' | 'substantial' | 'high';
export type FlowStage = 'choose_method' | 'phone_code' | 'guardian_intro' | 'consent' | 'finished';
export type FlowRole = 'subject' | 'guardian';
export type FlowMethod = 'phone' | 'eid';
export type ConsentClaim = 'name' | 'birthdate' | 'phone_number';

export interface FlowPhone {
  /** The number the code went to, masked by the hub ("09•• ••• 678"). */
  masked: string;
  expires_at: string;
  attempts_remaining: number;
  /** When a new code may be asked for; null when it may be now (or never: RESEND_LIMIT_REACHED). */
  resend_after: string | null;
}

export interface FlowState {
  platform: { name: string };
  stage: FlowStage;
  /** Who verifies at this stage: the person, or (after `guardian_intro`) their parent or guardian. */
  role: FlowRole;
  /** Methods offered at this stage: `phone` is absent when the platform asked for more than `low`, `eid` when no eID is configured. */
  methods: FlowMethod[];
  min_level: Level;
  phone: FlowPhone | null;
  consent: { claims: ConsentClaim[]; purpose: string; legal_basis: string } | null;
  /** What failed last, e.g. after the eID sent the browser back (`EID_FAILED`). */
  error: { code: string; detail?: string } | null;
  /** With `stage: 'finished'`: where the browser goes now (back to the platform). */
  redirect_url?: string;
  /** The platform's `ui_locales` (OpenID Connect Core 3.1.2.1), when the hub passes it on. */
  ui_locales?: string;
}

/** An answer that ends the page: the browser goes to `redirect_url` (the eID, or back to the platform). */
export interface FlowRedirect {
  redirect_url: string;
}

export interface FlowApi {
  state(): Promise<FlowState>;
  startPhone(phone: string): Promise<FlowState>;
  resendCode(): Promise<FlowState>;
  confirmCode(code: string): Promise<FlowState>;
  restartPhone(): Promise<FlowState>;
  startEid(): Promise<FlowRedirect>;
  consent(agree: boolean): Promise<FlowRedirect>;
  abort(): Promise<FlowRedirect>;
}

const post = <T>(path: string, body: unknown) => requestJson<T>(path, { method: 'POST', body });

/** The calls of the flow `uid` (the interaction id in `/verify/<uid>`). */
export function flowApi(uid: string): FlowApi {
  const base = `/verify/${encodeURIComponent(uid)}/api`;
  return {
    state: () => requestJson<FlowState>(base),
    startPhone: (phone) => post<FlowState>(`${base}/phone`, { phone }),
    resendCode: () => post<FlowState>(`${base}/phone/resend`, {}),
    confirmCode: (code) => post<FlowState>(`${base}/phone/confirm`, { code }),
    restartPhone: () => post<FlowState>(`${base}/phone/restart`, {}),
    startEid: () => post<FlowRedirect>(`${base}/eid`, {}),
    consent: (agree) => post<FlowRedirect>(`${base}/consent`, { agree }),
    abort: () => post<FlowRedirect>(`${base}/abort`, {}),
  };
}
