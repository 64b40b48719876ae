/**
 * The authority console's disclosure requests (issue 5 "Disclosure requests"; DESIGN.md invariant
 * 3, due process for unmasking): the list, the new-request form, one request with the actions the
 * signed-in official's roles allow, and the released data with its log proofs.
 *
 * `AuthorityRequests` is what the console's layout (authority-page.tsx, `requests` prop) shows in
 * its `authority-requests` section: the list at /authority, the form at /authority/requests/new,
 * a request at /authority/requests/<id>, its release at /authority/requests/<id>/release (see
 * `requestsView`). The layout signs the official in and passes them; a session that ends
 * meanwhile (401) points back to the sign-in. Every call is about one request: there is no search
 * and no bulk view.
 */
import { useEffect, useId, useState } from 'react';
import { authorityRequestsApi, REQUEST_STATUSES, type DisclosureRequest, type OfficialMe, type RequestStatus } from '../../api/authority-requests.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Link, usePath } from '../../shell/router.tsx';
import { ScrollTable } from '../registries/scroll-table.tsx';
import { NewRequestPage } from './requests-new.tsx';
import { RequestDetailPage } from './requests-detail.tsx';
import { ReleasePage } from './requests-release.tsx';
import {
  isSignedOut, NEW_REQUEST_PATH, PageHeading, RequestError, requestPath, requestsView, SignedOut, StatusBadges,
} from './requests-parts.tsx';

export { requestsView } from './requests-parts.tsx';

export function AuthorityRequests({ official }: { official: OfficialMe }) {
  const path = usePath();
  const view = requestsView(path);
  const page = (() => {
    switch (view?.view) {
      case 'new':
        return <NewRequestPage official={official} />;
      case 'detail':
        return <RequestDetailPage key={view.id} id={view.id} official={official} />;
      case 'release':
        return <ReleasePage key={view.id} id={view.id} official={official} />;
      default:
        return <RequestList official={official} />;
    }
  })();
  return (
    <div className="requests-pages" data-testid="requests-pages" data-view={view?.view ?? 'list'}>
      {page}
    </div>
  );
}

type ListState = { phase: 'loading' } | { phase: 'ready'; requests: DisclosureRequest[] } | { phase: 'failed'; error: unknown };

function isStatus(value: string): value is RequestStatus {
  return (REQUEST_STATUSES as readonly string[]).includes(value);
}

function RequestList({ official }: { official: OfficialMe }) {
  const { t, formatShortDateTime } = useI18n();
  const k = t.authorityRequests;
  const filterId = useId();
  const [status, setStatus] = useState<RequestStatus | ''>('');
  const [state, setState] = useState<ListState>({ phase: 'loading' });
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let cancelled = false;
    setState((s) => (s.phase === 'ready' ? s : { phase: 'loading' }));
    authorityRequestsApi
      .list(status || undefined)
      .then(({ requests }) => {
        if (!cancelled) setState({ phase: 'ready', requests });
      })
      .catch((error: unknown) => {
        if (!cancelled) setState({ phase: 'failed', error });
      });
    return () => {
      cancelled = true;
    };
  }, [status, generation]);

  if (state.phase === 'failed' && isSignedOut(state.error)) return <SignedOut />;
  const requester = official.roles.includes('requester');
  return (
    <div className="page" data-testid="requests-list">
      <div className="page-heading">
        <PageHeading>{k.filterAll}</PageHeading>
        {requester ? (
          <Link to={NEW_REQUEST_PATH} className="button primary" data-testid="new-request">
            {k.newRequest}
          </Link>
        ) : null}
      </div>
      <p className="intro">{k.intro}</p>

      <div className="heading-row spaced">
        <div className="field inline">
          <label htmlFor={filterId}>{k.filterLabel}</label>
          <select
            id={filterId}
            value={status}
            onChange={(e) => setStatus(isStatus(e.target.value) ? e.target.value : '')}
            data-testid="status-filter"
          >
            <option value="">{k.filterAll}</option>
            {REQUEST_STATUSES.map((s) => (
              <option key={s} value={s}>
                {k.status[s]}
              </option>
            ))}
          </select>
        </div>
        <button type="button" className="button subtle small" onClick={() => setGeneration((n) => n + 1)} data-testid="refresh-requests">
          {t.refresh}
        </button>
      </div>

      <p className="visually-hidden" role="status">
        {state.phase === 'ready' ? k.listCaption(state.requests.length) : ''}
      </p>
      <div data-testid="requests" data-state={state.phase} aria-busy={state.phase === 'loading'}>
        {state.phase === 'loading' ? (
          <p className="loading">{t.loading}</p>
        ) : state.phase === 'failed' ? (
          <RequestError context={k.listLoadFailed} error={state.error} />
        ) : state.requests.length === 0 ? (
          <p className="empty">{status ? k.listEmptyFiltered : k.listEmpty}</p>
        ) : (
          <ScrollTable caption={k.listCaption(state.requests.length)} testId="requests-table">
            <thead>
              <tr>
                <th scope="col">{k.columnCase}</th>
                <th scope="col">{k.columnStatus}</th>
                <th scope="col">{k.columnAccount}</th>
                <th scope="col">{k.columnAuthority}</th>
                <th scope="col">{k.columnFiled}</th>
              </tr>
            </thead>
            <tbody>
              {state.requests.map((r) => (
                <tr key={r.id} data-testid="request-row" data-id={r.id} data-status={r.status}>
                  <th scope="row">
                    <Link to={requestPath(r.id)} aria-label={k.openRequest(r.case_reference)} data-testid="open-request">
                      {r.case_reference}
                    </Link>
                  </th>
                  <td>
                    <StatusBadges request={r} />
                  </td>
                  <td>
                    {r.provider.name}
                    <br />
                    <code className="wrap-anywhere">{r.account_ref}</code>
                  </td>
                  <td>{r.requester.authority.name}</td>
                  <td className="nowrap">
                    <time dateTime={r.created_at}>{formatShortDateTime(r.created_at)}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </ScrollTable>
        )}
      </div>
    </div>
  );
}
