/**
 * A new disclosure request (requester role only). One request names one account: a platform, and
 * the platform's account reference or the idbind pseudonym. The form checks what the hub checks
 * (src/disclosure/disclosure-routes.ts, REQUEST_RULES) before sending, lists the problems in a
 * summary that takes the focus, and marks each field; the hub's answer is shown as it came.
 *
 * The platform is given by its idbind ID; when the hub serves an official-facing list of platforms
 * (`GET /v1/authority/providers`), a select fills the ID in.
 */
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import {
  authorityRequestsApi, REQUEST_RULES, type Ask, type NewRequest, type OfficialMe, type ProviderChoice,
} from '../../api/authority-requests.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import type { Messages } from '../../i18n/messages.ts';
import { Link, navigate } from '../../shell/router.tsx';
import { flashMessage, PageHeading, RequestError, requestPath, REQUESTS_PATH, vietnamToday } from './requests-parts.tsx';

type AccountBy = 'account_ref' | 'pseudonym';
type FieldName = 'provider' | 'account' | 'legalBasis' | 'caseReference' | 'reasons' | 'asks' | 'seal';

interface Form {
  providerId: string;
  by: AccountBy;
  account: string;
  legalBasis: string;
  caseReference: string;
  reasons: string;
  identity: boolean;
  history: boolean;
  emergency: boolean;
  sealUntil: string;
}

const EMPTY: Form = {
  providerId: '', by: 'account_ref', account: '', legalBasis: '', caseReference: '', reasons: '', identity: true, history: false, emergency: false, sealUntil: '',
};

/** The form's problems, in the order of the fields; empty when the hub would accept it. */
export function validateRequest(f: Form, messages: Messages['authorityRequests'], today = vietnamToday()): Partial<Record<FieldName, string>> {
  const R = REQUEST_RULES;
  const errors: Partial<Record<FieldName, string>> = {};
  const inRange = (v: string, r: { min: number; max: number }) => v.length >= r.min && v.length <= r.max;
  if (!R.uuid.test(f.providerId.trim())) errors.provider = messages.errProvider;
  const account = f.account.trim();
  if (f.by === 'account_ref' && !R.accountRef.test(account)) errors.account = messages.errAccountRef;
  if (f.by === 'pseudonym' && (account.length === 0 || account.length > R.pseudonymMax)) errors.account = messages.errPseudonym;
  if (!inRange(f.legalBasis.trim(), R.legalBasis)) errors.legalBasis = messages.errLegalBasis;
  if (!inRange(f.caseReference.trim(), R.caseReference)) errors.caseReference = messages.errCaseReference;
  const reasons = f.reasons.trim();
  if (!inRange(reasons, R.reasons)) errors.reasons = messages.errReasons(reasons.length);
  if (!f.identity && !f.history) errors.asks = messages.errAsks;
  else if (f.emergency && (f.history || !f.identity)) errors.asks = messages.errEmergencyAsks;
  if (f.sealUntil !== '' && !(R.date.test(f.sealUntil) && f.sealUntil > today)) errors.seal = messages.errSeal;
  return errors;
}

function bodyOf(f: Form): NewRequest {
  const asks: Ask[] = [];
  if (f.identity) asks.push('identity');
  if (f.history && !f.emergency) asks.push('history');
  return {
    provider_id: f.providerId.trim().toLowerCase(),
    ...(f.by === 'account_ref' ? { account_ref: f.account.trim() } : { pseudonym: f.account.trim() }),
    legal_basis: f.legalBasis.trim(),
    case_reference: f.caseReference.trim(),
    reasons: f.reasons.trim(),
    asks,
    ...(f.sealUntil ? { seal_until: f.sealUntil } : {}),
    ...(f.emergency ? { emergency: true } : {}),
  };
}

/** The platforms the hub lists for officials, or [] when it does not (the ID field is enough). */
function useProviders(): ProviderChoice[] {
  const [providers, setProviders] = useState<ProviderChoice[]>([]);
  useEffect(() => {
    let cancelled = false;
    authorityRequestsApi
      .providers()
      .then((r) => {
        if (!cancelled && Array.isArray(r.providers)) setProviders(r.providers);
      })
      // No such route on this hub (404), or not allowed: the ID field stays the only way.
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, []);
  return providers;
}

interface FieldProps {
  id: string;
  label: string;
  hint?: ReactNode;
  error?: string;
  children: (describedBy: string | undefined, invalid: true | undefined) => ReactNode;
}

/** A labelled field with its hint and error, both named by aria-describedby. */
function Field({ id, label, hint, error, children }: FieldProps) {
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {children(describedBy, error ? true : undefined)}
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

export function NewRequestPage({ official }: { official: OfficialMe }) {
  const { t } = useI18n();
  const k = t.authorityRequests;
  const base = useId();
  const ids: Record<FieldName | 'select' | 'summary' | 'submitError', string> = {
    provider: `${base}-provider`, select: `${base}-select`, account: `${base}-account`, legalBasis: `${base}-legal`, caseReference: `${base}-case`,
    reasons: `${base}-reasons`, asks: `${base}-asks`, seal: `${base}-seal`, summary: `${base}-summary`, submitError: `${base}-submit-error`,
  };
  const providers = useProviders();
  const [form, setForm] = useState<Form>(EMPTY);
  const [errors, setErrors] = useState<Partial<Record<FieldName, string>>>({});
  const [checked, setChecked] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const summaryRef = useRef<HTMLDivElement>(null);

  const set = <K extends keyof Form>(key: K, value: Form[K]) => {
    const next = { ...form, [key]: value };
    if (key === 'emergency' && value === true) next.history = false;
    setForm(next);
    // Once the form was checked, the marks follow the corrections as they are typed.
    if (checked) setErrors(validateRequest(next, k));
  };

  if (!official.roles.includes('requester')) {
    return (
      <div className="page" data-testid="new-request-page">
        <PageHeading>{k.newTitle}</PageHeading>
        <p className="note" data-testid="not-requester">
          {k.notRequester}
        </p>
        <p>
          <Link to={REQUESTS_PATH}>{k.backToList}</Link>
        </p>
      </div>
    );
  }

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setFailure(null);
    const found = validateRequest(form, k);
    setErrors(found);
    setChecked(true);
    if (Object.keys(found).length > 0) {
      // The summary takes the focus so that the problems are read at once (and linked to their fields).
      requestAnimationFrame(() => summaryRef.current?.focus());
      return;
    }
    setBusy(true);
    try {
      const created = await authorityRequestsApi.create(bodyOf(form));
      flashMessage(created.id, k.filed);
      navigate(requestPath(created.id));
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
    }
  };

  const problems = Object.entries(errors) as [FieldName, string][];
  const reasonsLength = form.reasons.trim().length;
  return (
    <div className="page" data-testid="new-request-page">
      <p>
        <Link to={REQUESTS_PATH}>← {k.backToList}</Link>
      </p>
      <PageHeading>{k.newTitle}</PageHeading>
      <div className="notice" data-testid="one-account-notice">
        <p>
          <strong>{k.oneAccountTitle}</strong>
        </p>
        <p>{k.oneAccountBody}</p>
      </div>

      {problems.length > 0 ? (
        <div className="error" role="alert" tabIndex={-1} ref={summaryRef} id={ids.summary} data-testid="form-errors">
          <p className="error-title">{k.fixErrors(problems.length)}</p>
          <ul>
            {problems.map(([field, message]) => (
              <li key={field}>
                <a href={`#${ids[field]}`}>{message}</a>
              </li>
            ))}
          </ul>
        </div>
      ) : null}

      <form className="oidc-form request-form" noValidate onSubmit={(e) => void submit(e)} data-testid="new-request-form">
        {providers.length > 0 ? (
          <div className="field">
            <label htmlFor={ids.select}>{k.providerLabel}</label>
            <select
              id={ids.select}
              value={providers.some((p) => p.id === form.providerId) ? form.providerId : ''}
              onChange={(e) => set('providerId', e.target.value)}
              data-testid="provider-select"
            >
              <option value="">{k.providerChoose}</option>
              {providers.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          </div>
        ) : null}
        <Field id={ids.provider} label={k.providerIdLabel} hint={k.providerIdHint} error={errors.provider}>
          {(describedBy, invalid) => (
            <input
              id={ids.provider}
              name="provider_id"
              autoComplete="off"
              spellCheck={false}
              className="mono"
              value={form.providerId}
              onChange={(e) => set('providerId', e.target.value)}
              aria-invalid={invalid}
              aria-describedby={describedBy}
              data-testid="provider-id"
            />
          )}
        </Field>

        <fieldset className="radio-group">
          <legend>{k.accountByLegend}</legend>
          {(['account_ref', 'pseudonym'] as const).map((by) => (
            <div className="check" key={by}>
              <input
                type="radio"
                id={`${base}-by-${by}`}
                name="account_by"
                value={by}
                checked={form.by === by}
                onChange={() => set('by', by)}
                data-testid={`by-${by}`}
              />
              <label htmlFor={`${base}-by-${by}`}>{by === 'account_ref' ? k.byAccountRef : k.byPseudonym}</label>
            </div>
          ))}
        </fieldset>
        <Field
          id={ids.account}
          label={form.by === 'account_ref' ? k.accountRefLabel : k.pseudonymLabel}
          hint={form.by === 'account_ref' ? k.accountRefHint : k.pseudonymHint}
          error={errors.account}
        >
          {(describedBy, invalid) => (
            <input
              id={ids.account}
              name={form.by}
              autoComplete="off"
              spellCheck={false}
              maxLength={form.by === 'account_ref' ? 128 : REQUEST_RULES.pseudonymMax}
              value={form.account}
              onChange={(e) => set('account', e.target.value)}
              aria-invalid={invalid}
              aria-describedby={describedBy}
              data-testid="account"
            />
          )}
        </Field>

        <Field id={ids.legalBasis} label={k.legalBasisLabel} hint={k.legalBasisHint} error={errors.legalBasis}>
          {(describedBy, invalid) => (
            <input
              id={ids.legalBasis}
              name="legal_basis"
              maxLength={REQUEST_RULES.legalBasis.max}
              value={form.legalBasis}
              onChange={(e) => set('legalBasis', e.target.value)}
              aria-invalid={invalid}
              aria-describedby={describedBy}
              data-testid="legal-basis"
            />
          )}
        </Field>
        <Field id={ids.caseReference} label={k.caseReferenceLabel} hint={k.caseReferenceHint} error={errors.caseReference}>
          {(describedBy, invalid) => (
            <input
              id={ids.caseReference}
              name="case_reference"
              autoComplete="off"
              maxLength={REQUEST_RULES.caseReference.max}
              value={form.caseReference}
              onChange={(e) => set('caseReference', e.target.value)}
              aria-invalid={invalid}
              aria-describedby={describedBy}
              data-testid="case-reference"
            />
          )}
        </Field>
        <Field
          id={ids.reasons}
          label={k.reasonsLabel}
          hint={
            <>
              {k.reasonsHint} <span aria-hidden="true">({k.reasonsCount(reasonsLength)})</span>
            </>
          }
          error={errors.reasons}
        >
          {(describedBy, invalid) => (
            <textarea
              id={ids.reasons}
              name="reasons"
              rows={5}
              maxLength={REQUEST_RULES.reasons.max}
              value={form.reasons}
              onChange={(e) => set('reasons', e.target.value)}
              aria-invalid={invalid}
              aria-describedby={describedBy}
              data-testid="reasons"
            />
          )}
        </Field>

        <fieldset className="radio-group" id={ids.asks} tabIndex={-1} aria-describedby={errors.asks ? `${ids.asks}-error` : undefined} data-testid="asks">
          <legend>{k.asksLegend}</legend>
          <div className="check">
            <input type="checkbox" id={`${base}-identity`} checked={form.identity} onChange={(e) => set('identity', e.target.checked)} data-testid="ask-identity" />
            <label htmlFor={`${base}-identity`}>{k.askIdentity}</label>
          </div>
          <div className="check">
            <input
              type="checkbox"
              id={`${base}-history`}
              checked={form.history}
              disabled={form.emergency}
              onChange={(e) => set('history', e.target.checked)}
              data-testid="ask-history"
            />
            <label htmlFor={`${base}-history`}>{k.askHistory}</label>
          </div>
          {errors.asks ? (
            <p className="field-error" id={`${ids.asks}-error`}>
              {errors.asks}
            </p>
          ) : null}
        </fieldset>

        <div className="check">
          <input
            type="checkbox"
            id={`${base}-emergency`}
            checked={form.emergency}
            onChange={(e) => set('emergency', e.target.checked)}
            aria-describedby={`${base}-emergency-hint`}
            data-testid="emergency"
          />
          <div>
            <label htmlFor={`${base}-emergency`}>{k.emergencyLabel}</label>
            <p className="hint" id={`${base}-emergency-hint`}>
              {k.emergencyHint}
            </p>
          </div>
        </div>

        <Field id={ids.seal} label={k.sealLabel} hint={k.sealHint} error={errors.seal}>
          {(describedBy, invalid) => (
            <input
              id={ids.seal}
              type="date"
              name="seal_until"
              min={vietnamToday()}
              value={form.sealUntil}
              onChange={(e) => set('sealUntil', e.target.value)}
              aria-invalid={invalid}
              aria-describedby={describedBy}
              className="date-input"
              data-testid="seal-until"
            />
          )}
        </Field>

        <div className="form-actions">
          <button type="submit" className="button primary" disabled={busy} aria-busy={busy} data-testid="submit-request">
            {busy ? k.submitting : k.submit}
          </button>
        </div>
        {failure ? <RequestError id={ids.submitError} context={k.submitFailed} error={failure} focus testId="submit-error" /> : null}
      </form>
    </div>
  );
}
