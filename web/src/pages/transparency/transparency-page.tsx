/**
 * The public transparency report (issue 5 "Transparency report"): per half-year, disclosure
 * requests by requesting authority (filed, approved, rejected, expired, emergency, reviewed late,
 * review overdue, sealed, accounts affected), the totals, and the transparency log's current
 * signed checkpoint, so that anyone can hold the counts against the log (`/log/checkpoint`).
 * Counts only: no account, person or case. Public: no sign-in.
 *
 * The half-year is in the address (`/transparency?period=2026-H2`) so that a report can be linked.
 */
import { useEffect, useId, useState } from 'react';
import { PERIOD_PATTERN, transparencyApi, type AuthorityCounts, type Counts, type TransparencyReport } from '../../api/authority-requests.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { ScrollTable } from '../registries/scroll-table.tsx';
import { formatDay, RequestError } from '../authority/requests-parts.tsx';

const COUNT_KEYS = ['requests', 'approved', 'rejected', 'expired', 'emergency', 'reviewed_late', 'review_overdue', 'sealed', 'accounts_affected'] as const satisfies readonly (keyof Counts)[];
/** The periods offered: the current half-year and the ones before it, back to the first one idbind could have logged. */
const FIRST_YEAR = 2025;

/** The half-year containing `now`, in Vietnam's time (as the hub's default). */
export function currentPeriod(now = new Date()): string {
  const vn = new Date(now.getTime() + 7 * 3_600_000);
  return `${vn.getUTCFullYear()}-H${vn.getUTCMonth() < 6 ? 1 : 2}`;
}

function periodsUpTo(current: string): string[] {
  const out: string[] = [];
  const m = /^(\d{4})-H([12])$/.exec(current);
  if (!m) return [current];
  let year = Number(m[1]);
  let half = Number(m[2]);
  while (year >= FIRST_YEAR) {
    out.push(`${year}-H${half}`);
    if (half === 2) half = 1;
    else {
      half = 2;
      year -= 1;
    }
  }
  return out;
}

function periodFromAddress(): string | null {
  const p = new URLSearchParams(window.location.search).get('period');
  return p && PERIOD_PATTERN.test(p) ? p : null;
}

type State = { phase: 'loading' } | { phase: 'ready'; report: TransparencyReport } | { phase: 'failed'; error: unknown };

export function TransparencyPage() {
  const { t, formatNumber, formatDateTime } = useI18n();
  const k = t.transparency;
  const selectId = useId();
  const headingId = useId();
  const current = currentPeriod();
  const [period, setPeriod] = useState<string>(() => periodFromAddress() ?? current);
  const [state, setState] = useState<State>({ phase: 'loading' });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let cancelled = false;
    transparencyApi
      .report(period)
      .then((report) => {
        if (!cancelled) setState({ phase: 'ready', report });
      })
      .catch((error: unknown) => {
        if (!cancelled) setState({ phase: 'failed', error });
      });
    return () => {
      cancelled = true;
    };
  }, [period, generation]);

  const choose = (next: string) => {
    setPeriod(next);
    setState({ phase: 'loading' });
    const url = new URL(window.location.href);
    url.searchParams.set('period', next);
    window.history.replaceState(null, '', `${url.pathname}${url.search}`);
  };

  const periods = periodsUpTo(current);
  if (!periods.includes(period)) periods.unshift(period);
  const nameOf = (p: string) => {
    const m = /^(\d{4})-H([12])$/.exec(p);
    return m ? k.periodName(Number(m[1]), m[2] === '1' ? 1 : 2) : p;
  };
  const report = state.phase === 'ready' ? state.report : null;
  return (
    <div className="page transparency-page" data-testid="transparency-page">
      <h1 data-testid="page-heading">
        {k.title}
      </h1>
      <p className="intro">{k.intro}</p>

      <div className="field inline">
        <label htmlFor={selectId}>{k.periodLabel}</label>
        <select id={selectId} value={period} onChange={(e) => choose(e.target.value)} data-testid="period-select">
          {periods.map((p) => (
            <option key={p} value={p}>
              {nameOf(p)}
            </option>
          ))}
        </select>
      </div>

      <p className="visually-hidden" role="status">
        {report ? k.tableCaption(nameOf(report.period)) : ''}
      </p>
      <div data-testid="report" data-state={state.phase} data-period={report?.period} aria-busy={state.phase === 'loading'}>
        {state.phase === 'loading' ? (
          <p className="loading">{t.loading}</p>
        ) : state.phase === 'failed' ? (
          <RequestError
            context={k.loadFailed}
            error={state.error}
            testId="report-error"
            action={
              <button type="button" className="button" onClick={() => setGeneration((n) => n + 1)}>
                {t.retry}
              </button>
            }
          />
        ) : report ? (
          <>
            <p className="hint">{k.periodRange(formatDay(report.from), formatDay(report.to))}</p>
            <section aria-labelledby={`${headingId}-totals`} className="section">
              <h2 id={`${headingId}-totals`}>{k.totalsTitle}</h2>
              <div className="card figures">
                <dl className="report-totals">
                  {COUNT_KEYS.map((key) => (
                    <div key={key} className={key === 'requests' ? 'figure lead' : 'figure'}>
                      <dt>{k.count[key]}</dt>
                      <dd data-testid={`total-${key}`}>{formatNumber(report.totals[key])}</dd>
                    </div>
                  ))}
                </dl>
              </div>
            </section>

            <section aria-labelledby={`${headingId}-by`} className="section">
              <h2 id={`${headingId}-by`}>{k.byAuthorityTitle}</h2>
              {report.by_authority.length === 0 ? (
                <p className="empty" data-testid="report-empty">
                  {k.empty}
                </p>
              ) : (
                <ScrollTable caption={k.tableCaption(nameOf(report.period))} testId="report-table">
                  <thead>
                    <tr>
                      <th scope="col">{k.columnAuthority}</th>
                      <th scope="col">{k.columnKind}</th>
                      {COUNT_KEYS.map((key) => (
                        <th key={key} scope="col" className="num">
                          {k.count[key]}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {report.by_authority.map((a: AuthorityCounts) => (
                      <tr key={a.authority.id} data-testid="report-row" data-authority-id={a.authority.id}>
                        <th scope="row">{a.authority.name}</th>
                        <td>{t.authorityRequests.authorityKind[a.authority.kind] ?? a.authority.kind}</td>
                        {COUNT_KEYS.map((key) => (
                          <td key={key} className="num" data-testid={`count-${key}`}>
                            {formatNumber(a[key])}
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                  <tfoot>
                    <tr>
                      <th scope="row" colSpan={2}>
                        {k.total}
                      </th>
                      {COUNT_KEYS.map((key) => (
                        <td key={key} className="num">
                          {formatNumber(report.totals[key])}
                        </td>
                      ))}
                    </tr>
                  </tfoot>
                </ScrollTable>
              )}
            </section>

            <section aria-labelledby={`${headingId}-checkpoint`} className="section" data-testid="checkpoint-section">
              <h2 id={`${headingId}-checkpoint`}>{k.checkpointTitle}</h2>
              <p className="hint">{k.checkpointIntro}</p>
              {report.checkpoint ? (
                <pre className="snippet" tabIndex={0} aria-labelledby={`${headingId}-checkpoint`} data-testid="checkpoint">
                  {report.checkpoint}
                </pre>
              ) : (
                <p className="empty" data-testid="checkpoint-none">
                  {k.checkpointNone}
                </p>
              )}
              <ul>
                <li>
                  {/* Served by the hub, not a page of this app: an ordinary link. */}
                  <a href="/log/checkpoint" data-testid="checkpoint-link">
                    {k.checkpointLink}
                  </a>
                </li>
                <li>
                  <a href="/log/vkey">{k.vkeyLink}</a>
                </li>
              </ul>
              <p className="hint">
                {k.verifyHow} <code className="wrap-anywhere">idbind log verify --url {window.location.origin}</code>
              </p>
              <p className="hint">{k.generatedAt(formatDateTime(report.generated_at))}</p>
            </section>
          </>
        ) : null}
      </div>
    </div>
  );
}
