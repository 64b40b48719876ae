/**
 * One disclosure request, and the actions the signed-in official's roles allow (issue 5):
 * - approve or reject: an approver of an authority other than the requester's. For an approver of
 *   the requester's own authority the buttons are absent, and the page says why (invariant 3);
 * - the retrospective review of an emergency release: a second approver of another authority;
 * - the seal: an approver of a court sets or extends it, as a new logged stage;
 * - the released data: officials of the requesting authority with the requester role.
 * The hub enforces each of these again; the page only does not offer what would be refused.
 * Each outcome is announced in a live region, and a failure takes the focus.
 */
import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import {
  authorityRequestsApi, REQUEST_RULES, type DisclosureRequest, type OfficialMe, type ReviewOutcome,
} from '../../api/authority-requests.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Link } from '../../shell/router.tsx';
import {
  Fact, formatDay, isSignedOut, PageHeading, releasePath, RequestError, REQUESTS_PATH, SignedOut, StatusBadges, takeFlash, vietnamToday,
} from './requests-parts.tsx';

type State = { phase: 'loading' } | { phase: 'ready'; request: DisclosureRequest } | { phase: 'failed'; error: unknown };

const reasonsOk = (v: string) => v.trim().length >= REQUEST_RULES.decisionReasons.min && v.trim().length <= REQUEST_RULES.decisionReasons.max;

export function RequestDetailPage({ id, official }: { id: string; official: OfficialMe }) {
  const { t, formatDateTime } = useI18n();
  const k = t.authorityRequests;
  const [state, setState] = useState<State>({ phase: 'loading' });
  const [announcement, setAnnouncement] = useState<string>(() => takeFlash(id) ?? '');
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let cancelled = false;
    authorityRequestsApi
      .get(id)
      .then((request) => {
        if (!cancelled) setState({ phase: 'ready', request });
      })
      .catch((error: unknown) => {
        if (!cancelled) setState({ phase: 'failed', error });
      });
    return () => {
      cancelled = true;
    };
  }, [id, generation]);

  const changed = useCallback((request: DisclosureRequest, message: string) => {
    setState({ phase: 'ready', request });
    setAnnouncement(message);
  }, []);

  if (state.phase === 'loading') {
    return (
      <p className="loading" role="status">
        {t.loading}
      </p>
    );
  }
  if (state.phase === 'failed') {
    if (isSignedOut(state.error)) return <SignedOut />;
    return (
      <div className="page" data-testid="request-detail">
        <p>
          <Link to={REQUESTS_PATH}>← {k.backToList}</Link>
        </p>
        <PageHeading>{k.detailLoadFailed}</PageHeading>
        <RequestError
          error={state.error}
          testId="detail-error"
          action={
            <button type="button" className="button" onClick={() => setGeneration((n) => n + 1)}>
              {t.retry}
            </button>
          }
        />
      </div>
    );
  }

  const r = state.request;
  const ownAuthority = official.authority.id === r.requester.authority.id;
  const approver = official.roles.includes('approver');
  return (
    <div className="page" data-testid="request-detail" data-id={r.id} data-status={r.status}>
      <p>
        <Link to={REQUESTS_PATH}>← {k.backToList}</Link>
      </p>
      <div className="page-heading">
        <PageHeading>{k.detailTitle(r.case_reference)}</PageHeading>
        <StatusBadges request={r} />
      </div>
      <p className="hint" role="status" data-testid="request-announcement">
        {announcement}
      </p>

      <section className="card request-facts" aria-label={k.factsTitle}>
        <dl className="facts stacked">
          <Fact term={k.factPlatform} testId="fact-platform">{r.provider.name}</Fact>
          <Fact term={k.factAccountRef} testId="fact-account-ref">
            <code className="wrap-anywhere">{r.account_ref}</code>
          </Fact>
          <Fact term={k.factPseudonym}>
            <code className="wrap-anywhere">{r.pseudonym}</code>
          </Fact>
          <Fact term={k.factLegalBasis}>{r.legal_basis}</Fact>
          <Fact term={k.factCaseReference} testId="fact-case-reference">{r.case_reference}</Fact>
          <Fact term={k.factReasons}>
            <span className="pre-line">{r.reasons}</span>
          </Fact>
          <Fact term={k.factAsks}>{r.asks.map((a) => k.askShort[a] ?? a).join(', ')}</Fact>
          <Fact term={k.factRequester} testId="fact-requester">{r.requester.authority.name}</Fact>
          <Fact term={k.factApprover} testId="fact-approver">{r.approver?.authority.name ?? null}</Fact>
          <Fact term={k.factFiled}>
            <time dateTime={r.created_at}>{formatDateTime(r.created_at)}</time>
          </Fact>
          {r.status === 'submitted' ? (
            <Fact term={k.factExpires}>
              <time dateTime={r.expires_at}>{formatDateTime(r.expires_at)}</time>
            </Fact>
          ) : null}
          {r.decided_at ? (
            <Fact term={k.factDecided}>
              <time dateTime={r.decided_at}>{formatDateTime(r.decided_at)}</time>
            </Fact>
          ) : null}
          {r.released_at ? (
            <Fact term={k.factReleased}>
              <time dateTime={r.released_at}>{formatDateTime(r.released_at)}</time>
            </Fact>
          ) : null}
          {r.release_visible_until ? (
            <Fact term={k.factVisibleUntil}>
              <time dateTime={r.release_visible_until}>{formatDateTime(r.release_visible_until)}</time>
            </Fact>
          ) : null}
          <Fact term={k.factSeal}>{r.seal_until ? formatDay(r.seal_until) : null}</Fact>
          <Fact term={k.factRejection} testId="fact-rejection">
            {r.rejection_reasons ? <span className="pre-line">{r.rejection_reasons}</span> : null}
          </Fact>
        </dl>
        {r.review ? (
          <>
            <h4>{k.reviewTitle}</h4>
            <dl className="facts stacked" data-testid="review-facts">
              <Fact term={k.factReviewDue}>{r.review.due_at ? <time dateTime={r.review.due_at}>{formatDateTime(r.review.due_at)}</time> : null}</Fact>
              <Fact term={k.factReviewed}>
                {r.review.reviewed_at ? <time dateTime={r.review.reviewed_at}>{formatDateTime(r.review.reviewed_at)}</time> : k.reviewNotYet}
              </Fact>
              <Fact term={k.factReviewOutcome}>{r.review.outcome ? (k.reviewOutcome[r.review.outcome] ?? r.review.outcome) : null}</Fact>
            </dl>
          </>
        ) : null}
      </section>

      <section className="subsection" aria-labelledby={`actions-${r.id}`} data-testid="request-actions">
        <h4 id={`actions-${r.id}`}>{k.actionsTitle}</h4>
        <Actions request={r} official={official} ownAuthority={ownAuthority} approver={approver} onChange={changed} />
      </section>
    </div>
  );
}

interface ActionsProps {
  request: DisclosureRequest;
  official: OfficialMe;
  ownAuthority: boolean;
  approver: boolean;
  onChange(request: DisclosureRequest, message: string): void;
}

function Actions({ request: r, official, ownAuthority, approver, onChange }: ActionsProps) {
  const { t } = useI18n();
  const k = t.authorityRequests;
  const parts = [];

  if (r.status === 'released' && ownAuthority && official.roles.includes('requester')) {
    parts.push(
      <p key="release">
        <Link to={releasePath(r.id)} className="button primary" data-testid="open-release">
          {k.openRelease}
        </Link>
      </p>,
    );
  }
  if (r.status === 'approved') {
    parts.push(
      <p key="awaiting" className="note" data-testid="awaiting-checkpoint">
        {k.awaitingCheckpoint}
      </p>,
    );
  }
  if (r.status === 'submitted') {
    if (approver && ownAuthority) {
      parts.push(
        <p key="same" className="note" data-testid="same-authority">
          {k.sameAuthority(r.requester.authority.name)}
        </p>,
      );
    } else if (approver) {
      parts.push(<Decide key="decide" request={r} onChange={onChange} />);
    } else {
      parts.push(
        <p key="not-approver" className="note" data-testid="not-approver">
          {k.notApprover}
        </p>,
      );
    }
  }
  const awaitingReview = r.emergency && r.review !== null && r.review.reviewed_at === null && (r.status === 'approved' || r.status === 'released');
  if (awaitingReview && approver && !ownAuthority) {
    parts.push(
      r.approver?.official_id === official.id ? (
        <p key="own-approval" className="note" data-testid="review-own-approval">
          {k.reviewOwnApproval}
        </p>
      ) : (
        <ReviewForm key="review" request={r} onChange={onChange} />
      ),
    );
  }
  const sealable = r.status === 'submitted' || r.status === 'approved' || r.status === 'released';
  if (sealable && approver && official.authority.kind === 'court') parts.push(<SealForm key="seal" request={r} onChange={onChange} />);

  if (parts.length === 0) return <p className="empty">{k.noActions}</p>;
  return <>{parts}</>;
}

/** Approve (after a confirmation that says what follows) or reject with reasons. */
function Decide({ request: r, onChange }: { request: DisclosureRequest; onChange: ActionsProps['onChange'] }) {
  const { t } = useI18n();
  const k = t.authorityRequests;
  const reasonsId = useId();
  const [confirming, setConfirming] = useState(false);
  const [rejecting, setRejecting] = useState(false);
  const [reasons, setReasons] = useState('');
  const [invalid, setInvalid] = useState(false);
  const [busy, setBusy] = useState<'approve' | 'reject' | null>(null);
  const [failure, setFailure] = useState<{ context: string; error: unknown } | null>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const reasonsRef = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);
  useEffect(() => {
    if (rejecting) reasonsRef.current?.focus();
  }, [rejecting]);

  const approve = async () => {
    setBusy('approve');
    setFailure(null);
    try {
      const updated = await authorityRequestsApi.approve(r.id);
      onChange(updated, k.approved);
    } catch (error) {
      setFailure({ context: k.approveFailed, error });
    } finally {
      setBusy(null);
    }
  };

  const reject = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!reasonsOk(reasons)) {
      setInvalid(true);
      reasonsRef.current?.focus();
      return;
    }
    setBusy('reject');
    setFailure(null);
    try {
      const updated = await authorityRequestsApi.reject(r.id, reasons.trim());
      onChange(updated, k.rejected);
    } catch (error) {
      setFailure({ context: k.rejectFailed, error });
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="decide" data-testid="decide">
      {confirming ? (
        <div className="confirm-box" role="group" aria-label={k.approve} data-testid="approve-confirm">
          <p>{k.approveConfirm(r.requester.authority.name)}</p>
          <div className="form-actions">
            <button ref={confirmRef} type="button" className="button primary" disabled={busy !== null} aria-busy={busy === 'approve'} onClick={() => void approve()} data-testid="approve-confirm-button">
              {busy === 'approve' ? k.approving : k.approveConfirmButton}
            </button>
            <button type="button" className="button subtle" disabled={busy !== null} onClick={() => setConfirming(false)}>
              {k.cancel}
            </button>
          </div>
        </div>
      ) : rejecting ? null : (
        <div className="form-actions">
          <button type="button" className="button primary" onClick={() => setConfirming(true)} data-testid="approve">
            {k.approve}
          </button>
          <button type="button" className="button" onClick={() => setRejecting(true)} data-testid="reject">
            {k.reject}
          </button>
        </div>
      )}
      {rejecting ? (
        <form onSubmit={(e) => void reject(e)} noValidate className="oidc-form" data-testid="reject-form">
          <div className="field">
            <label htmlFor={reasonsId}>{k.rejectReasonsLabel}</label>
            <p className="hint" id={`${reasonsId}-hint`}>
              {k.rejectReasonsHint}
            </p>
            <textarea
              ref={reasonsRef}
              id={reasonsId}
              rows={4}
              maxLength={REQUEST_RULES.decisionReasons.max}
              value={reasons}
              onChange={(e) => {
                setReasons(e.target.value);
                if (invalid) setInvalid(!reasonsOk(e.target.value));
              }}
              aria-invalid={invalid || undefined}
              aria-describedby={`${reasonsId}-hint${invalid ? ` ${reasonsId}-error` : ''}`}
              data-testid="reject-reasons"
            />
            {invalid ? (
              <p className="field-error" id={`${reasonsId}-error`} role="alert">
                {k.errDecisionReasons}
              </p>
            ) : null}
          </div>
          <div className="form-actions">
            <button type="submit" className="button primary" disabled={busy !== null} aria-busy={busy === 'reject'} data-testid="reject-submit">
              {busy === 'reject' ? k.rejecting : k.reject}
            </button>
            <button type="button" className="button subtle" disabled={busy !== null} onClick={() => setRejecting(false)}>
              {k.cancel}
            </button>
          </div>
        </form>
      ) : null}
      {failure ? <RequestError context={failure.context} error={failure.error} focus testId="decide-error" /> : null}
    </div>
  );
}

function ReviewForm({ request: r, onChange }: { request: DisclosureRequest; onChange: ActionsProps['onChange'] }) {
  const { t } = useI18n();
  const k = t.authorityRequests;
  const base = useId();
  const [outcome, setOutcome] = useState<ReviewOutcome | null>(null);
  const [reasons, setReasons] = useState('');
  const [errors, setErrors] = useState<{ outcome?: string; reasons?: string }>({});
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const found = { ...(outcome ? {} : { outcome: k.errOutcome }), ...(reasonsOk(reasons) ? {} : { reasons: k.errDecisionReasons }) };
    setErrors(found);
    if (found.outcome) return document.getElementById(`${base}-upheld`)?.focus();
    if (found.reasons || !outcome) return document.getElementById(`${base}-reasons`)?.focus();
    setBusy(true);
    setFailure(null);
    try {
      onChange(await authorityRequestsApi.review(r.id, outcome, reasons.trim()), k.reviewed);
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} noValidate className="oidc-form spaced" aria-labelledby={`${base}-title`} data-testid="review-form">
      <h5 id={`${base}-title`}>{k.reviewFormTitle}</h5>
      <p className="hint">{k.reviewIntro}</p>
      {r.review?.overdue ? (
        <p className="error" data-testid="review-overdue-note">
          {k.reviewOverdueNote}
        </p>
      ) : null}
      <fieldset className="radio-group" aria-describedby={errors.outcome ? `${base}-outcome-error` : undefined}>
        <legend>{k.reviewOutcomeLegend}</legend>
        {(['upheld', 'not_upheld'] as const).map((o) => (
          <div className="check" key={o}>
            <input type="radio" id={`${base}-${o}`} name={`${base}-outcome`} checked={outcome === o} onChange={() => setOutcome(o)} data-testid={`review-${o}`} />
            <label htmlFor={`${base}-${o}`}>{k.reviewOutcome[o]}</label>
          </div>
        ))}
        {errors.outcome ? (
          <p className="field-error" id={`${base}-outcome-error`} role="alert">
            {errors.outcome}
          </p>
        ) : null}
      </fieldset>
      <div className="field">
        <label htmlFor={`${base}-reasons`}>{k.reviewReasonsLabel}</label>
        <textarea
          id={`${base}-reasons`}
          rows={4}
          maxLength={REQUEST_RULES.decisionReasons.max}
          value={reasons}
          onChange={(e) => setReasons(e.target.value)}
          aria-invalid={errors.reasons ? true : undefined}
          aria-describedby={errors.reasons ? `${base}-reasons-error` : undefined}
          data-testid="review-reasons"
        />
        {errors.reasons ? (
          <p className="field-error" id={`${base}-reasons-error`} role="alert">
            {errors.reasons}
          </p>
        ) : null}
      </div>
      <div className="form-actions">
        <button type="submit" className="button primary" disabled={busy} aria-busy={busy} data-testid="review-submit">
          {busy ? k.reviewing : k.reviewSubmit}
        </button>
      </div>
      {failure ? <RequestError context={k.reviewFailed} error={failure} focus testId="review-error" /> : null}
    </form>
  );
}

function SealForm({ request: r, onChange }: { request: DisclosureRequest; onChange: ActionsProps['onChange'] }) {
  const { t } = useI18n();
  const k = t.authorityRequests;
  const base = useId();
  const [until, setUntil] = useState('');
  const [reasons, setReasons] = useState('');
  const [errors, setErrors] = useState<{ until?: string; reasons?: string }>({});
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const floor = r.seal_until && r.seal_until > vietnamToday() ? r.seal_until : vietnamToday();

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const found = {
      ...(REQUEST_RULES.date.test(until) && until > floor ? {} : { until: k.errSealUntil }),
      ...(reasonsOk(reasons) ? {} : { reasons: k.errDecisionReasons }),
    };
    setErrors(found);
    if (found.until) return document.getElementById(`${base}-until`)?.focus();
    if (found.reasons) return document.getElementById(`${base}-reasons`)?.focus();
    setBusy(true);
    setFailure(null);
    try {
      const updated = await authorityRequestsApi.seal(r.id, until, reasons.trim());
      onChange(updated, k.sealed(formatDay(updated.seal_until ?? until)));
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} noValidate className="oidc-form spaced" aria-labelledby={`${base}-title`} data-testid="seal-form">
      <h5 id={`${base}-title`}>{k.sealFormTitle}</h5>
      <p className="hint">{k.sealIntro}</p>
      <div className="field">
        <label htmlFor={`${base}-until`}>{k.sealUntilLabel}</label>
        <input
          id={`${base}-until`}
          type="date"
          className="date-input"
          min={floor}
          value={until}
          onChange={(e) => setUntil(e.target.value)}
          aria-invalid={errors.until ? true : undefined}
          aria-describedby={errors.until ? `${base}-until-error` : undefined}
          data-testid="seal-date"
        />
        {errors.until ? (
          <p className="field-error" id={`${base}-until-error`} role="alert">
            {errors.until}
          </p>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor={`${base}-reasons`}>{k.sealReasonsLabel}</label>
        <textarea
          id={`${base}-reasons`}
          rows={3}
          maxLength={REQUEST_RULES.decisionReasons.max}
          value={reasons}
          onChange={(e) => setReasons(e.target.value)}
          aria-invalid={errors.reasons ? true : undefined}
          aria-describedby={errors.reasons ? `${base}-reasons-error` : undefined}
          data-testid="seal-reasons"
        />
        {errors.reasons ? (
          <p className="field-error" id={`${base}-reasons-error`} role="alert">
            {errors.reasons}
          </p>
        ) : null}
      </div>
      <div className="form-actions">
        <button type="submit" className="button" disabled={busy} aria-busy={busy} data-testid="seal-submit">
          {busy ? k.sealing : k.sealSubmit}
        </button>
      </div>
      {failure ? <RequestError context={k.sealFailed} error={failure} focus testId="seal-error" /> : null}
    </form>
  );
}
