/**
 * The provider's verification statistics (`GET /v1/provider/verification-stats`): totals over the
 * chosen period, a line chart of started / confirmed / failed per day (days without activity drawn
 * as zero, so the time axis is even), the failures by reason as bars, and the same figures in a
 * table. Reasons are the hub's public ones: every eligibility reason is one `not_eligible`, since a
 * platform must not learn why a number cannot verify (DESIGN.md invariant 1).
 */
import { useCallback, useEffect, useId, useState } from 'react';
import type { IdbindClient, VerificationStatsDay } from '../../api/sdk.ts';
import { BarChart } from '../../charts/bar-chart.tsx';
import { LineChart } from '../../charts/line-chart.tsx';
import { useI18n } from '../../i18n/i18n.tsx';
import type { Messages } from '../../i18n/messages.ts';
import { ScrollTable } from '../registries/scroll-table.tsx';
import { ConsoleError } from './console-error.tsx';

const PERIODS = [7, 30, 90] as const;
const TIME_ZONE = 'Asia/Ho_Chi_Minh';

const SERIES = {
  started: { color: '#0072B2', marker: 'circle' },
  confirmed: { color: '#009E73', marker: 'triangle' },
  failed: { color: '#D55E00', marker: 'cross' },
} as const;

/** The last `n` days (YYYY-MM-DD, Vietnam time, as the hub counts them), oldest first. */
export function lastDays(n: number, now = new Date()): string[] {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  const [y, m, d] = today.split('-').map(Number) as [number, number, number];
  const days: string[] = [];
  for (let i = n - 1; i >= 0; i--) days.push(new Date(Date.UTC(y, m - 1, d - i)).toISOString().slice(0, 10));
  return days;
}

const failedTotal = (d: VerificationStatsDay) => Object.values(d.failed).reduce((a, b) => a + b, 0);

/** A reason's name in the page's language; `rate_limited:<limit>` names the limit too. */
export function reasonName(reason: string, t: Messages): string {
  const names = t.platform.reason as Record<string, string | undefined>;
  const [base, detail] = reason.split(':', 2);
  const name = names[reason] ?? names[base ?? ''] ?? reason;
  if (detail === undefined || names[reason]) return name;
  return `${name} (${(t.platform.limitName as Record<string, string | undefined>)[detail] ?? detail})`;
}

export function VerificationStats({ client, generation, onError }: { client: IdbindClient; generation: number; onError(error: unknown): void }) {
  const { t, formatNumber } = useI18n();
  const k = t.platform;
  const ids = { heading: useId(), period: useId(), lineTitle: useId(), lineDesc: useId(), barTitle: useId(), barDesc: useId() };
  const [period, setPeriod] = useState<number>(30);
  /** The last figures read, with the period they cover: another period's are never shown as this one's. */
  const [loaded, setLoaded] = useState<{ period: number; days: VerificationStatsDay[] } | null>(null);
  const days = loaded?.period === period ? loaded.days : null;
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const stats = await client.verificationStats({ days: period });
      setLoaded({ period, days: stats.days });
      setError(null);
    } catch (failure) {
      setError(failure);
      onError(failure);
    } finally {
      setLoading(false);
    }
  }, [client, period, onError]);

  useEffect(() => {
    void load();
  }, [load, generation]);

  const byDay = new Map((days ?? []).map((d) => [d.day, d]));
  const axis = lastDays(period);
  const series = (['started', 'confirmed', 'failed'] as const).map((key) => ({
    key,
    label: k.statsSeries[key],
    color: SERIES[key].color,
    marker: SERIES[key].marker,
    values: axis.map((day) => {
      const d = byDay.get(day);
      if (!d) return 0;
      return key === 'failed' ? failedTotal(d) : d[key];
    }),
  }));
  const active = [...(days ?? [])].filter((d) => d.started + d.confirmed + failedTotal(d) > 0).sort((a, b) => b.day.localeCompare(a.day));
  const reasons = [...new Set(active.flatMap((d) => Object.keys(d.failed)))].sort();
  const total = (pick: (d: VerificationStatsDay) => number) => active.reduce((n, d) => n + pick(d), 0);
  const started = total((d) => d.started);
  const confirmed = total((d) => d.confirmed);
  const failed = total(failedTotal);
  const shortDay = (day: string) => `${day.slice(8, 10)}/${day.slice(5, 7)}`;

  return (
    <section aria-labelledby={ids.heading} className="subsection" id="stats" data-testid="verification-stats" aria-busy={loading} data-loaded={days !== null && !loading}>
      <div className="heading-row">
        <h2 id={ids.heading}>{k.statsTitle}</h2>
        <div className="field inline">
          <label htmlFor={ids.period}>{k.statsPeriod}</label>
          <select id={ids.period} value={period} onChange={(e) => setPeriod(Number(e.target.value))} data-testid="stats-period">
            {PERIODS.map((n) => (
              <option key={n} value={n}>
                {k.lastNDays(n)}
              </option>
            ))}
          </select>
        </div>
      </div>
      <p className="hint">{k.statsIntro}</p>
      {error ? (
        <ConsoleError
          context={t.loadFailed}
          error={error}
          action={
            <button type="button" className="button" onClick={() => void load()}>
              {t.retry}
            </button>
          }
        />
      ) : null}
      {days === null ? (
        error ? null : <p className="loading">{t.loading}</p>
      ) : (
        <>
          <dl className="figures-row">
            <div className="figure">
              <dt>{k.statsSeries.started}</dt>
              <dd data-testid="stats-started">{formatNumber(started)}</dd>
            </div>
            <div className="figure">
              <dt>{k.statsSeries.confirmed}</dt>
              <dd data-testid="stats-confirmed">{formatNumber(confirmed)}</dd>
            </div>
            <div className="figure">
              <dt>{k.statsSeries.failed}</dt>
              <dd data-testid="stats-failed">{formatNumber(failed)}</dd>
            </div>
            <div className="figure">
              <dt>{k.statsConfirmRate}</dt>
              <dd>{started > 0 ? `${formatNumber(Math.round((confirmed / started) * 100))} %` : '–'}</dd>
            </div>
          </dl>
          {active.length === 0 ? (
            <p className="empty">{k.statsEmpty}</p>
          ) : (
            <>
              <figure className="chart-figure">
                <figcaption>
                  <h3 id={ids.lineTitle}>{k.statsChartTitle}</h3>
                  <p id={ids.lineDesc} className="hint">
                    {k.statsChartDescription}
                  </p>
                </figcaption>
                <ul className="legend" aria-label={k.statsLegend}>
                  {series.map((s) => (
                    <li key={s.key}>
                      <span className="swatch" style={{ background: s.color }} aria-hidden="true" />
                      {s.label}
                    </li>
                  ))}
                </ul>
                <LineChart points={axis.map(shortDay)} series={series} formatNumber={formatNumber} labelledBy={ids.lineTitle} describedBy={ids.lineDesc} testId="stats-chart" />
              </figure>
              {reasons.length > 0 ? (
                <figure className="chart-figure">
                  <figcaption>
                    <h3 id={ids.barTitle}>{k.reasonsChartTitle}</h3>
                    <p id={ids.barDesc} className="hint">
                      {k.reasonsChartDescription}
                    </p>
                  </figcaption>
                  <BarChart
                    series={[{ key: 'failed', label: k.statsSeries.failed, color: SERIES.failed.color }]}
                    groups={reasons.map((r) => ({ key: r, label: reasonName(r, t), values: [total((d) => d.failed[r] ?? 0)] }))}
                    formatNumber={formatNumber}
                    labelledBy={ids.barTitle}
                    describedBy={ids.barDesc}
                    testId="reasons-chart"
                  />
                </figure>
              ) : null}
              <ScrollTable caption={k.statsTableCaption} testId="stats-table">
                <thead>
                  <tr>
                    <th scope="col">{k.statsDay}</th>
                    <th scope="col" className="num">
                      {k.statsSeries.started}
                    </th>
                    <th scope="col" className="num">
                      {k.statsSeries.confirmed}
                    </th>
                    {reasons.map((r) => (
                      <th scope="col" className="num" key={r}>
                        {reasonName(r, t)}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {active.map((d) => (
                    <tr key={d.day} data-testid="stats-row" data-day={d.day}>
                      <th scope="row">
                        <time dateTime={d.day}>{`${d.day.slice(8, 10)}/${d.day.slice(5, 7)}/${d.day.slice(0, 4)}`}</time>
                      </th>
                      <td className="num">{formatNumber(d.started)}</td>
                      <td className="num">{formatNumber(d.confirmed)}</td>
                      {reasons.map((r) => (
                        <td className="num" key={r}>
                          {formatNumber(d.failed[r] ?? 0)}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </ScrollTable>
            </>
          )}
        </>
      )}
    </section>
  );
}
