/**
 * The released data of one request (issue 5), for officials of the requesting authority with the
 * requester role: the identity, the binding's verification history, and the two proof bundles of
 * the transparency log (approval and release) with a download and how to check them offline.
 *
 * Each view of the released data is an access record in the person's history (invariant 4), so
 * the page says so first and asks the official to open it: nothing is fetched until they do.
 */
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { authorityRequestsApi, type OfficialMe, type Release } from '../../api/authority-requests.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Link } from '../../shell/router.tsx';
import { ScrollTable } from '../registries/scroll-table.tsx';
import { Fact, formatDay, isSignedOut, PageHeading, RequestError, requestPath, SignedOut } from './requests-parts.tsx';

type State = { phase: 'idle' } | { phase: 'loading' } | { phase: 'ready'; release: Release } | { phase: 'failed'; error: unknown };

type Stage = 'approved' | 'released';

/** The file name of a proof download: `disclosure-<id>-<stage>.proof`. */
export function proofFileName(id: string, stage: Stage): string {
  return `disclosure-${id}-${stage}.proof`;
}

function ProofBundle({ id, stage, bundle }: { id: string; stage: Stage; bundle: string }) {
  const { t } = useI18n();
  const k = t.authorityRequests;
  const headingId = useId();
  const name = proofFileName(id, stage);
  const stageName = k.proofStage[stage] ?? stage;
  // An object URL for a real link (keyboard, "save link as"), released when the page goes.
  const url = useMemo(() => URL.createObjectURL(new Blob([bundle], { type: 'text/plain;charset=utf-8' })), [bundle]);
  useEffect(() => () => URL.revokeObjectURL(url), [url]);
  return (
    <section aria-labelledby={headingId} className="proof" data-testid={`proof-${stage}`}>
      <div className="heading-row">
        <h5 id={headingId}>{k.proofTitle(stageName)}</h5>
        <a className="button small" href={url} download={name} data-testid={`download-proof-${stage}`}>
          {k.downloadProof(stageName)}
        </a>
      </div>
      <pre className="snippet proof-text" tabIndex={0} aria-labelledby={headingId} data-testid={`proof-text-${stage}`}>
        {bundle}
      </pre>
      <p className="hint">
        {k.verifyHow} <code className="wrap-anywhere">idbind log verify --proof {name}</code>
      </p>
    </section>
  );
}

export function ReleasePage({ id, official }: { id: string; official: OfficialMe }) {
  const { t, formatDateTime } = useI18n();
  const k = t.authorityRequests;
  const [state, setState] = useState<State>({ phase: 'idle' });
  const resultRef = useRef<HTMLDivElement>(null);

  const open = async () => {
    setState({ phase: 'loading' });
    try {
      setState({ phase: 'ready', release: await authorityRequestsApi.release(id) });
    } catch (error) {
      setState({ phase: 'failed', error });
    }
  };

  useEffect(() => {
    // The data (or the failure) takes the focus once shown, so a screen reader reads it next.
    if (state.phase === 'ready' || state.phase === 'failed') resultRef.current?.focus();
  }, [state.phase]);

  if (state.phase === 'failed' && isSignedOut(state.error)) return <SignedOut />;
  const release = state.phase === 'ready' ? state.release : null;
  const r = release?.request;
  return (
    <div className="page release-page" data-testid="release-page" data-official-id={official.id}>
      <p>
        <Link to={requestPath(id)}>← {k.backToRequest}</Link>
      </p>
      <PageHeading>{k.releaseTitle}</PageHeading>

      <div className="notice" data-testid="viewing-recorded">
        <p>
          <strong>{k.viewingRecordedTitle}</strong>
        </p>
        <p>{k.viewingRecordedBody}</p>
        {state.phase === 'idle' || state.phase === 'loading' ? (
          <button type="button" className="button primary" disabled={state.phase === 'loading'} aria-busy={state.phase === 'loading'} onClick={() => void open()} data-testid="show-release">
            {state.phase === 'loading' ? k.loadingRelease : k.showRelease}
          </button>
        ) : null}
      </div>

      <div ref={resultRef} tabIndex={-1} className="release-result" aria-live="polite">
        {state.phase === 'failed' ? (
          <RequestError
            context={k.releaseFailed}
            error={state.error}
            testId="release-error"
            action={
              <button type="button" className="button" onClick={() => void open()}>
                {t.retry}
              </button>
            }
          />
        ) : null}
        {release && r ? (
          <div data-testid="release" data-id={r.id}>
            <p className="hint">
              {k.releaseFor(r.case_reference)} · {r.provider.name} · <code className="wrap-anywhere">{r.account_ref}</code>
            </p>
            {r.release_visible_until ? (
              <p className="note" data-testid="visible-until">
                {k.visibleUntil(formatDateTime(r.release_visible_until))}
              </p>
            ) : null}

            {release.identity ? (
              <section className="card spaced" aria-labelledby={`identity-${r.id}`} data-testid="release-identity">
                <h4 id={`identity-${r.id}`}>{k.identityTitle}</h4>
                <dl className="facts stacked">
                  <Fact term={k.fullName} testId="identity-full-name">{release.identity.full_name}</Fact>
                  <Fact term={k.personalId} testId="identity-personal-id">
                    <span className="tabular">{release.identity.personal_id}</span>
                  </Fact>
                  <Fact term={k.birthDate} testId="identity-birth-date">{formatDay(release.identity.birth_date)}</Fact>
                </dl>
              </section>
            ) : null}

            {release.account ? (
              <section className="card spaced" aria-labelledby={`account-${r.id}`} data-testid="release-account">
                <h4 id={`account-${r.id}`}>{k.accountTitle}</h4>
                <dl className="facts">
                  <Fact term={k.accountMethod}>{release.account.method ?? k.none}</Fact>
                  <Fact term={k.accountLevel}>{release.account.level ?? k.none}</Fact>
                  <Fact term={k.accountVerifiedAt}>
                    {release.account.verified_at ? <time dateTime={release.account.verified_at}>{formatDateTime(release.account.verified_at)}</time> : k.none}
                  </Fact>
                </dl>
              </section>
            ) : null}

            {release.history ? (
              <section className="subsection spaced" aria-labelledby={`history-${r.id}`} data-testid="release-history">
                <h4 id={`history-${r.id}`}>{k.historyTitle}</h4>
                {release.history.length === 0 ? (
                  <p className="empty">{k.historyEmpty}</p>
                ) : (
                  <ScrollTable caption={k.historyCaption}>
                    <thead>
                      <tr>
                        <th scope="col">{k.historyAt}</th>
                        <th scope="col">{k.historyStatus}</th>
                        <th scope="col">{k.historyReason}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {release.history.map((h, i) => (
                        <tr key={`${h.at}-${i}`}>
                          <th scope="row" className="nowrap">
                            <time dateTime={h.at}>{formatDateTime(h.at)}</time>
                          </th>
                          <td>
                            <code>{h.status}</code>
                          </td>
                          <td>{h.reason}</td>
                        </tr>
                      ))}
                    </tbody>
                  </ScrollTable>
                )}
              </section>
            ) : null}

            <section className="subsection spaced" aria-labelledby={`proofs-${r.id}`} data-testid="release-proofs">
              <h4 id={`proofs-${r.id}`}>{k.proofsTitle}</h4>
              <p className="hint">{k.proofsIntro}</p>
              <ProofBundle id={r.id} stage="approved" bundle={release.proofs.approved} />
              <ProofBundle id={r.id} stage="released" bundle={release.proofs.released} />
            </section>
          </div>
        ) : null}
      </div>
    </div>
  );
}
