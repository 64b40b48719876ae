/**
 * The person's own view (issue 5), at `/citizen`: outside the admin shell (a person's page holds
 * no admin token), in Vietnamese and English, usable by keyboard and at 360 px.
 *
 * Signed out: sign in with the phone (`low`) or the national eID (`substantial`), both through
 * the hosted verification (`/citizen/sign-in`). Signed in: Accounts (unbind, confirmed first),
 * SIMs (report one not recognised, confirmed first), Consents (withdraw), Access history,
 * Disclosures (at substantial; at low a note says the eID shows them), and Export JSON.
 */
import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { IdbindError } from '../../api/sdk.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { LANGUAGES, languageNames } from '../../i18n/messages.ts';
import { citizenApi, fetchMe, type AccessRecord, type Account, type Consent, type Me, type Subscription } from './citizen-api.ts';

/** Lists of cards without bullets, each item apart (the shared stylesheet has no list of cards yet). */
const LIST = { listStyle: 'none', padding: 0, margin: 0, display: 'grid', gap: '1rem', overflowWrap: 'anywhere' } as const;

type Load<T> = { phase: 'loading' } | { phase: 'ready'; value: T } | { phase: 'failed'; error: unknown };

function useLoad<T>(load: () => Promise<T>): [Load<T>, () => void] {
  const [state, setState] = useState<Load<T>>({ phase: 'loading' });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let cancelled = false;
    setState({ phase: 'loading' });
    load().then((value) => !cancelled && setState({ phase: 'ready', value }), (error: unknown) => !cancelled && setState({ phase: 'failed', error }));
    return () => {
      cancelled = true;
    };
  }, [load, tick]);
  return [state, useCallback(() => setTick((n) => n + 1), [])];
}

function errorCode(error: unknown): string {
  return error instanceof IdbindError ? error.code : 'other';
}

function ErrorLine({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  const c = t.citizen;
  const code = typeof error === 'string' ? error : errorCode(error);
  return (
    <div className="error" role="alert" data-testid="citizen-error" data-code={code}>
      <p className="error-title">{c.errors[code] ?? c.errors.other}</p>
      {onRetry ? (
        <button type="button" className="button" onClick={onRetry}>
          {c.retry}
        </button>
      ) : null}
    </div>
  );
}

/** A section with its heading (h2), its loading and failure states. */
function Section<T>({ id, title, load, children }: { id: string; title: string; load: Load<T>; children: (value: T) => ReactNode }) {
  const { t } = useI18n();
  return (
    <section className="card section" aria-labelledby={`${id}-title`} data-testid={`citizen-${id}`}>
      <h2 id={`${id}-title`}>{title}</h2>
      {load.phase === 'loading' ? (
        <p className="loading" role="status">
          {t.citizen.loading}
        </p>
      ) : load.phase === 'failed' ? (
        <ErrorLine error={load.error} />
      ) : (
        children(load.value)
      )}
    </section>
  );
}

/** A button that asks first: the question and Yes / Cancel in place, focus on the question. */
function Confirmed({ label, question, yes, onConfirm, testId }: { label: string; question: string; yes: string; onConfirm: () => Promise<void>; testId: string }) {
  const { t } = useI18n();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const questionId = useId();
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (asking) ref.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" className="button" data-testid={testId} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <div className="confirm-box" role="group" aria-labelledby={questionId}>
      <p id={questionId} ref={ref} tabIndex={-1}>
        {question}
      </p>
      <div className="form-actions">
        <button
          type="button"
          className="button"
          data-testid={`${testId}-yes`}
          disabled={busy}
          onClick={() => {
            setBusy(true);
            setError(null);
            onConfirm().then(
              () => setAsking(false),
              (e: unknown) => setError(e),
            ).finally(() => setBusy(false));
          }}
        >
          {yes}
        </button>
        <button type="button" className="button" onClick={() => setAsking(false)} disabled={busy}>
          {t.citizen.cancel}
        </button>
      </div>
      {error ? <ErrorLine error={error} /> : null}
    </div>
  );
}

function Accounts({ onChange }: { onChange: () => void }) {
  const { t, formatDateTime } = useI18n();
  const c = t.citizen;
  const [load, reload] = useLoad(citizenApi.accounts);
  return (
    <Section id="accounts" title={c.accountsTitle} load={load}>
      {({ accounts }: { accounts: Account[] }) =>
        accounts.length === 0 ? (
          <p className="empty">{c.accountsEmpty}</p>
        ) : (
          <>
            <p className="hint">{c.accountsIntro}</p>
            <ul className="citizen-list" style={LIST}>
              {accounts.map((a) => (
                <li key={a.id} data-testid="citizen-account" data-status={a.status} data-ref={a.account_ref}>
                  <h3>{a.provider}</h3>
                  <dl className="facts">
                    <dt>{c.accountRef}</dt>
                    <dd>
                      <code>{a.account_ref}</code>
                    </dd>
                    <dt>{c.pseudonym}</dt>
                    <dd>
                      <code>{a.pseudonym ?? '—'}</code>
                    </dd>
                    <dt>{c.level}</dt>
                    <dd>{a.level ?? '—'}</dd>
                    <dt>{c.since}</dt>
                    <dd>{formatDateTime(a.since)}</dd>
                    <dt>{c.status}</dt>
                    <dd data-testid="citizen-account-status">{c.accountStatus[a.status] ?? a.status}</dd>
                  </dl>
                  {a.status !== 'unbound' ? (
                    <Confirmed
                      label={c.unbind}
                      question={c.unbindConfirm(a.provider)}
                      yes={c.unbindYes}
                      testId="citizen-unbind"
                      onConfirm={async () => {
                        await citizenApi.unbind(a.id);
                        reload();
                        onChange();
                      }}
                    />
                  ) : null}
                </li>
              ))}
            </ul>
          </>
        )
      }
    </Section>
  );
}

function Sims({ onChange }: { onChange: () => void }) {
  const { t, formatDateTime } = useI18n();
  const c = t.citizen;
  const [load, reload] = useLoad(citizenApi.subscriptions);
  return (
    <Section id="sims" title={c.simsTitle} load={load}>
      {({ subscriptions }: { subscriptions: Subscription[] }) =>
        subscriptions.length === 0 ? (
          <p className="empty">{c.simsEmpty}</p>
        ) : (
          <ul className="citizen-list" style={LIST}>
            {subscriptions.map((s) => (
              <li key={s.id} data-testid="citizen-sim" data-number={s.number}>
                <h3>
                  <span className="nowrap">{s.number}</span>
                </h3>
                <dl className="facts">
                  <dt>{c.carrier}</dt>
                  <dd>{s.carrier}</dd>
                  <dt>{c.channel}</dt>
                  <dd>{c.channelName[s.channel] ?? s.channel}</dd>
                  <dt>{c.registered}</dt>
                  <dd>{formatDateTime(s.registered_at)}</dd>
                  <dt>{c.status}</dt>
                  <dd>{c.simStatus[s.status] ?? s.status}</dd>
                </dl>
                {s.reported_at ? (
                  <p className="note" data-testid="citizen-sim-reported">
                    {c.reported(formatDateTime(s.reported_at))}
                  </p>
                ) : s.status !== 'terminated' ? (
                  <Confirmed
                    label={c.report}
                    question={c.reportConfirm(s.number, s.carrier)}
                    yes={c.reportYes}
                    testId="citizen-report"
                    onConfirm={async () => {
                      await citizenApi.report(s.id);
                      reload();
                      onChange();
                    }}
                  />
                ) : null}
              </li>
            ))}
          </ul>
        )
      }
    </Section>
  );
}

function Consents({ onChange }: { onChange: () => void }) {
  const { t, formatDateTime } = useI18n();
  const c = t.citizen;
  const [load, reload] = useLoad(citizenApi.consents);
  return (
    <Section id="consents" title={c.consentsTitle} load={load}>
      {({ consents }: { consents: Consent[] }) =>
        consents.length === 0 ? (
          <p className="empty">{c.consentsEmpty}</p>
        ) : (
          <ul className="citizen-list" style={LIST}>
            {consents.map((k) => (
              <li key={k.id} data-testid="citizen-consent">
                <h3>{k.platform}</h3>
                <p>{c.consentClaims(k.claims.map((x) => c.claimName[x] ?? x).join(', '))}</p>
                <p className="hint">{k.withdrawn_at ? c.withdrawnOn(formatDateTime(k.withdrawn_at)) : c.grantedOn(formatDateTime(k.granted_at))}</p>
                {k.withdrawn_at ? null : (
                  <Confirmed
                    label={c.withdraw}
                    question={c.withdrawConfirm(k.platform)}
                    yes={c.withdrawYes}
                    testId="citizen-withdraw"
                    onConfirm={async () => {
                      await citizenApi.withdraw(k.id);
                      reload();
                      onChange();
                    }}
                  />
                )}
              </li>
            ))}
          </ul>
        )
      }
    </Section>
  );
}

function whoText(r: AccessRecord, c: ReturnType<typeof useI18n>['t']['citizen']): string {
  switch (r.who.kind) {
    case 'you':
      return c.whoYou;
    case 'provider':
      return r.who.name ?? '—';
    case 'authority':
      return c.whoAuthority(r.who.name ?? '—');
    case 'staff':
      return c.whoStaff(r.who.name ?? '—');
    case 'person':
      return c.whoPerson;
    default:
      return c.whoSystem;
  }
}

function whatText(r: AccessRecord, c: ReturnType<typeof useI18n>['t']['citizen']): string {
  const w = r.what;
  const parts: string[] = [];
  if (r.purpose === 'self_view' && typeof w.action === 'string') parts.push(c.selfAction[w.action] ?? w.action);
  if (typeof w.provider === 'string') parts.push(w.provider);
  if (typeof w.account_ref === 'string') parts.push(w.account_ref);
  if (Array.isArray(w.claims)) parts.push(w.claims.map((x) => c.claimName[String(x)] ?? String(x)).join(', '));
  if (Array.isArray(w.asks)) parts.push(w.asks.join(', '));
  if (typeof w.case_reference === 'string') parts.push(w.case_reference);
  if (w.withdrawn === true) parts.push(c.withdraw);
  if (w.unbound_by_person === true) parts.push(c.unbind);
  return parts.join(' · ') || '—';
}

function History({ me, version }: { me: Me; version: number }) {
  const { t, formatDateTime } = useI18n();
  const c = t.citizen;
  // A new loader after each change elsewhere on the page (an unbind, a report) reloads the history.
  const loader = useCallback(() => citizenApi.access(), [version]);
  const [load] = useLoad(loader);
  return (
    <Section id="access" title={c.accessTitle} load={load}>
      {({ records, complete }: { records: AccessRecord[]; complete: boolean }) => (
        <>
          <p className="hint">{c.accessIntro}</p>
          {!complete || me.shows.access !== 'full' ? <p className="note" data-testid="citizen-access-partial">{c.accessPartial}</p> : null}
          {records.length === 0 ? (
            <p className="empty">{c.accessEmpty}</p>
          ) : (
            <ol className="citizen-list citizen-history" style={LIST}>
              {records.map((r) => (
                <li key={r.id} data-testid="citizen-access-record" data-purpose={r.purpose}>
                  <p>
                    <strong>{c.purpose[r.purpose] ?? r.purpose}</strong>
                  </p>
                  <dl className="facts">
                    <dt>{c.when}</dt>
                    <dd>{formatDateTime(r.at)}</dd>
                    <dt>{c.who}</dt>
                    <dd>{whoText(r, c)}</dd>
                    <dt>{c.what}</dt>
                    <dd>{whatText(r, c)}</dd>
                  </dl>
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </Section>
  );
}

function Disclosures({ me }: { me: Me }) {
  const { t, language } = useI18n();
  const c = t.citizen;
  if (!me.shows.disclosures) {
    return (
      <section className="card section" aria-labelledby="disclosures-title" data-testid="citizen-disclosures">
        <h2 id="disclosures-title">{c.disclosuresTitle}</h2>
        <p className="note" data-testid="citizen-low-note">
          {c.lowNote}
        </p>
        <p>
          <a className="button" href={`/citizen/sign-in?level=substantial&ui_locales=${language}`}>
            {c.signInEid}
          </a>
        </p>
      </section>
    );
  }
  return <DisclosureList />;
}

function DisclosureList() {
  const { t } = useI18n();
  const c = t.citizen;
  const [load] = useLoad(citizenApi.disclosures);
  return (
    <Section id="disclosures" title={c.disclosuresTitle} load={load}>
      {({ disclosures }: { disclosures: unknown[] }) => (
        <>
          {disclosures.length === 0 ? <p className="empty">{c.disclosuresEmpty}</p> : null}
          <ul className="citizen-list" style={LIST}>
            {disclosures.map((d, i) => {
              const record = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
              const fields = Object.entries(record).filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean');
              const nested = Object.entries(record).filter(([, v]) => typeof v === 'object' && v !== null);
              return (
                <li key={typeof record.id === 'string' ? record.id : i} data-testid="citizen-disclosure">
                  <dl className="facts">
                    {fields.map(([k, v]) => (
                      <div key={k}>
                        <dt>{k}</dt>
                        <dd>{String(v)}</dd>
                      </div>
                    ))}
                  </dl>
                  {nested.length > 0 ? (
                    <details>
                      <summary>{c.proofBundle}</summary>
                      <pre className="snippet">{JSON.stringify(Object.fromEntries(nested), null, 2)}</pre>
                    </details>
                  ) : null}
                </li>
              );
            })}
          </ul>
          <p className="hint">{c.disclosuresRedress}</p>
        </>
      )}
    </Section>
  );
}

function ExportJson({ me }: { me: Me }) {
  const { t } = useI18n();
  const c = t.citizen;
  const [state, setState] = useState<'idle' | 'busy' | 'done' | { error: unknown }>('idle');
  return (
    <section className="card section" aria-labelledby="export-title" data-testid="citizen-export">
      <h2 id="export-title">{c.exportTitle}</h2>
      <p>{c.exportIntro}</p>
      {me.shows.export ? (
        <button
          type="button"
          className="button"
          data-testid="citizen-export-button"
          disabled={state === 'busy'}
          onClick={() => {
            setState('busy');
            citizenApi.exportAll().then(
              (doc) => {
                const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
                const a = document.createElement('a');
                a.href = url;
                a.download = 'idbind-export.json';
                a.click();
                setTimeout(() => URL.revokeObjectURL(url), 10_000);
                setState('done');
              },
              (error: unknown) => setState({ error }),
            );
          }}
        >
          {c.exportButton}
        </button>
      ) : (
        <p className="note">{c.lowNote}</p>
      )}
      {state === 'done' ? <p role="status">{c.exportDone}</p> : null}
      {typeof state === 'object' ? <ErrorLine error={state.error} /> : null}
    </section>
  );
}

function SignedOut({ error }: { error: string | null }) {
  const { t, language } = useI18n();
  const c = t.citizen;
  return (
    <section className="card section" data-testid="citizen-signed-out">
      <h1 className="verify-heading">{c.signedOutTitle}</h1>
      <p className="verify-lead">{c.signedOutIntro}</p>
      {error ? <ErrorLine error={error} /> : null}
      <p>
        <a className="button wide" href={`/citizen/sign-in?level=low&ui_locales=${language}`} data-testid="citizen-sign-in-phone">
          {c.signInPhone}
        </a>
      </p>
      <p>
        <a className="button wide" href={`/citizen/sign-in?level=substantial&ui_locales=${language}`} data-testid="citizen-sign-in-eid">
          {c.signInEid}
        </a>
      </p>
    </section>
  );
}

function SignedIn({ me, onSignedOut }: { me: Me; onSignedOut: () => void }) {
  const { t } = useI18n();
  const c = t.citizen;
  const [version, setVersion] = useState(0);
  const changed = useCallback(() => setVersion((v) => v + 1), []);
  return (
    <>
      <div className="heading-row">
        <h1 className="verify-heading" data-testid="citizen-heading">
          {c.title}
        </h1>
        <button
          type="button"
          className="button"
          data-testid="citizen-sign-out"
          onClick={() => {
            void citizenApi.signOut().finally(onSignedOut);
          }}
        >
          {c.signOut}
        </button>
      </div>
      <p className="verify-lead" data-testid="citizen-level" data-level={me.level}>
        {c.signedInAs(me.level, me.method)}
      </p>
      {me.shows.access !== 'full' ? <p className="note">{c.lowNote}</p> : null}
      <Accounts onChange={changed} />
      <Sims onChange={changed} />
      <Consents onChange={changed} />
      <History me={me} version={version} />
      <Disclosures me={me} />
      <ExportJson me={me} />
    </>
  );
}

export function CitizenPage() {
  const { t, language, setLanguage } = useI18n();
  const c = t.citizen;
  const [me, reload] = useLoad(fetchMe);
  const error = new URLSearchParams(window.location.search).get('error');
  useEffect(() => {
    document.title = `${c.title} · ${t.appName}`;
  }, [c.title, t.appName]);
  return (
    <>
      <a className="skip-link" href="#main">
        {t.skipToContent}
      </a>
      <header className="site-header verify-header">
        <div className="verify-header-inner">
          <p className="verify-brand">
            <span className="brand-name">{t.appName}</span>
            <span className="brand-tagline">{c.intro}</span>
          </p>
          <div className="header-tools">
            <div role="group" aria-label={t.languageSwitch} className="language-switch">
              {LANGUAGES.map((code) => (
                <button key={code} type="button" lang={code} aria-pressed={language === code} onClick={() => setLanguage(code)} data-testid={`language-${code}`}>
                  {languageNames[code]}
                </button>
              ))}
            </div>
          </div>
        </div>
      </header>
      <main id="main" tabIndex={-1} className="verify-main citizen-main" data-testid="citizen-page">
        {me.phase === 'loading' ? (
          <p className="loading" role="status">
            {c.loading}
          </p>
        ) : me.phase === 'failed' ? (
          <ErrorLine error={me.error} onRetry={reload} />
        ) : me.value === null ? (
          <SignedOut error={error} />
        ) : (
          <SignedIn me={me.value} onSignedOut={reload} />
        )}
      </main>
    </>
  );
}
