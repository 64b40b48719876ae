/**
 * Pieces shared by the disclosure-request pages of the authority console: the paths, the status
 * badge with its flags (emergency, review overdue, sealed), errors explained by their stable code,
 * a heading that takes the focus when a page opens (so a screen reader announces where the
 * official now is), and small helpers (Vietnam's today, the dates shown).
 */
import { useEffect, useRef, type ReactNode } from 'react';
import { IdbindError } from '../../api/sdk.ts';
import type { DisclosureRequest } from '../../api/authority-requests.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import type { Messages } from '../../i18n/messages.ts';
import { describeError } from '../../shell/errors.tsx';

/** The console's home (the officials' sign-in and layout): the list of requests shows there. */
export const REQUESTS_PATH = '/authority';
export const NEW_REQUEST_PATH = '/authority/requests/new';
/** The authority console's sign-in page (the officials' pages). */
export const AUTHORITY_SIGN_IN_PATH = '/authority';

export const requestPath = (id: string) => `/authority/requests/${encodeURIComponent(id)}`;
export const releasePath = (id: string) => `${requestPath(id)}/release`;

const flashes = new Map<string, string>();

/** A message for the next page about `key` (a request just filed), shown once in its live region. */
export function flashMessage(key: string, message: string): void {
  flashes.set(key, message);
}

/** Takes the message left for `key`, if any. */
export function takeFlash(key: string): string | null {
  const message = flashes.get(key) ?? null;
  flashes.delete(key);
  return message;
}

export type RequestsView = { view: 'list' } | { view: 'new' } | { view: 'detail'; id: string } | { view: 'release'; id: string };

/** Which disclosure-request page `path` is, or null when it is not one of them. */
export function requestsView(path: string): RequestsView | null {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (p === REQUESTS_PATH || p === '/authority/requests') return { view: 'list' };
  if (p === NEW_REQUEST_PATH) return { view: 'new' };
  const m = /^\/authority\/requests\/([0-9a-fA-F-]{36})(\/release)?$/.exec(p);
  if (!m?.[1]) return null;
  return m[2] ? { view: 'release', id: m[1].toLowerCase() } : { view: 'detail', id: m[1].toLowerCase() };
}

/** Today in Vietnam (YYYY-MM-DD): the hub compares seal dates with Vietnam's calendar. */
export function vietnamToday(now = new Date()): string {
  return new Date(now.getTime() + 7 * 3_600_000).toISOString().slice(0, 10);
}

/** A calendar date (YYYY-MM-DD) as Vietnamese and English readers write it: day/month/year. */
export function formatDay(date: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(date);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : date;
}

const STATUS_CLASS: Record<string, string> = {
  submitted: 'status status-pending',
  approved: 'status status-pending',
  rejected: 'status status-dead',
  released: 'status status-delivered',
  expired: 'status status-neutral',
};

/** The status badge and the request's flags: emergency, review overdue, sealed. */
export function StatusBadges({ request }: { request: DisclosureRequest }) {
  const { t } = useI18n();
  const k = t.authorityRequests;
  return (
    <span className="request-badges">
      <span className={STATUS_CLASS[request.status] ?? 'status'} data-testid="request-status" data-status={request.status}>
        {k.status[request.status] ?? request.status}
      </span>
      {request.emergency ? (
        <span className="status status-flag" data-testid="flag-emergency">
          {k.flagEmergency}
        </span>
      ) : null}
      {request.review?.overdue ? (
        <span className="status status-dead" data-testid="flag-review-overdue">
          {k.flagReviewOverdue}
        </span>
      ) : null}
      {request.sealed || request.seal_until ? (
        <span className="status status-sealed" data-testid="flag-sealed">
          {request.seal_until ? k.flagSealedUntil(formatDay(request.seal_until)) : k.flagSealed}
        </span>
      ) : null}
    </span>
  );
}

export interface ExplainedRequestError {
  sentence: string;
  detail: string | null;
  code: string | null;
}

/** A sentence in the page's language for the hub's stable error code; the hub's own words otherwise. */
export function explainRequestError(error: unknown, t: Messages): ExplainedRequestError {
  if (!(error instanceof IdbindError)) {
    const d = describeError(error, t);
    return { sentence: d.title, detail: d.detail, code: d.code };
  }
  const known = t.authorityRequests.problems[error.code];
  return {
    sentence: known ?? error.title,
    // The detail names the field or the limit ("body.reasons: ...", "10 requests per official per day").
    detail: error.detail && error.detail !== error.title ? error.detail : null,
    code: error.status === 0 ? null : error.code,
  };
}

export function isSignedOut(error: unknown): boolean {
  return error instanceof IdbindError && error.status === 401;
}

interface RequestErrorProps {
  /** What failed, in the page's words; omitted when a heading says it already. */
  context?: string;
  error: unknown;
  id?: string;
  testId?: string;
  action?: ReactNode;
  /** Takes the focus when shown (after a failed action), so it is read at once. */
  focus?: boolean;
}

/** A failure, in a live region (role=alert), with the stable code small for support. */
export function RequestError({ context, error, id, testId, action, focus }: RequestErrorProps) {
  const { t } = useI18n();
  const ref = useRef<HTMLDivElement>(null);
  const e = explainRequestError(error, t);
  useEffect(() => {
    if (focus) ref.current?.focus();
  }, [focus, error]);
  return (
    <div className="error" role="alert" id={id} ref={ref} tabIndex={-1} data-testid={testId} data-code={e.code ?? undefined}>
      {context ? <p className="error-context">{context}</p> : null}
      <p className="error-title">{e.sentence}</p>
      {e.detail ? <p className="error-detail">{e.detail}</p> : null}
      {e.code ? (
        <p className="error-code">
          {t.errorCode}: <code>{e.code}</code>
        </p>
      ) : null}
      {action}
    </div>
  );
}

let firstView = true;

/**
 * The view's heading, focused when the view opens (in-app navigation moves the focus here, so a
 * screen reader says where the official now is). An h3: the console's layout holds the h1 and the
 * requests section's h2.
 */
export function PageHeading({ children, testId = 'requests-heading' }: { children: ReactNode; testId?: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    // Not on the first view after the page loads: the focus then starts at the top (skip link).
    if (firstView) firstView = false;
    else ref.current?.focus({ preventScroll: false });
  }, []);
  return (
    <h3 ref={ref} tabIndex={-1} className="focus-heading" data-testid={testId}>
      {children}
    </h3>
  );
}

/** A term and its value in a `.facts` list; nothing when the value is empty. */
export function Fact({ term, children, testId }: { term: string; children: ReactNode; testId?: string }) {
  if (children === null || children === undefined || children === '') return null;
  return (
    <div>
      <dt>{term}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

/** Shown when there is no session (none yet, expired, or ended by a deactivation). */
export function SignedOut() {
  const { t } = useI18n();
  const k = t.authorityRequests;
  return (
    <div className="notice" role="alert" data-testid="requests-signed-out">
      <h3>{k.signedOutTitle}</h3>
      <p>{k.signedOutBody}</p>
      <p>
        <a href={AUTHORITY_SIGN_IN_PATH}>{k.signInLink}</a>
      </p>
    </div>
  );
}
