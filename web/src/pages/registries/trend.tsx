/**
 * The trend across completed runs: a line chart of the count per category, run by run (oldest on
 * the left), and the same figures as a table, one row per run. The number of runs drawn is shown
 * (data-testid `trend-run-count`) so the browser test can compare it with the API's list.
 */
import { useId } from 'react';
import { CATEGORIES, type CompletedRun } from '../../api/types.ts';
import { LineChart } from '../../charts/line-chart.tsx';
import { categoryStyle } from '../../charts/palette.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { CategoryLegend } from './category-legend.tsx';
import { ScrollTable } from './scroll-table.tsx';

/** `runs` are the completed runs, oldest first. */
export function Trend({ runs }: { runs: CompletedRun[] }) {
  const { t, formatNumber, formatDateTime, formatShortDateTime } = useI18n();
  const headingId = useId();
  const chartTitleId = useId();
  const chartDescId = useId();

  return (
    <section aria-labelledby={headingId} className="subsection" data-testid="trend">
      <h3 id={headingId}>{t.trendTitle}</h3>
      <p>
        {t.trendRunCount}: <strong data-testid="trend-run-count">{formatNumber(runs.length)}</strong>
      </p>
      {runs.length === 0 ? (
        <p className="empty">{t.trendEmpty}</p>
      ) : (
        <>
          <figure className="chart-figure">
            <figcaption>
              <h4 id={chartTitleId}>{t.trendChartTitle}</h4>
              <p id={chartDescId} className="hint">
                {t.trendChartDescription}
              </p>
            </figcaption>
            <CategoryLegend markers />
            <LineChart
              points={runs.map((r) => formatShortDateTime(r.started_at))}
              series={CATEGORIES.map((c) => ({
                key: c,
                label: t.category[c],
                color: categoryStyle[c].color,
                marker: categoryStyle[c].marker,
                values: runs.map((r) => r.categories[c]),
              }))}
              formatNumber={formatNumber}
              labelledBy={chartTitleId}
              describedBy={chartDescId}
              testId="trend-chart"
            />
          </figure>
          <ScrollTable caption={t.trendTableCaption} testId="trend-table">
            <thead>
              <tr>
                <th scope="col">{t.columnRunStarted}</th>
                {CATEGORIES.map((c) => (
                  <th scope="col" key={c} className="num">
                    <span className="swatch" style={{ background: categoryStyle[c].color }} aria-hidden="true" />
                    {t.category[c]}
                  </th>
                ))}
                <th scope="col" className="num">
                  {t.runSubscriptions}
                </th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <tr key={run.run_id} data-testid="trend-row" data-run-id={run.run_id}>
                  <th scope="row">
                    <time dateTime={run.started_at}>{formatDateTime(run.started_at)}</time>
                  </th>
                  {CATEGORIES.map((c) => (
                    <td key={c} className="num" data-testid={`trend-${run.run_id}-${c}`}>
                      {formatNumber(run.categories[c])}
                    </td>
                  ))}
                  <td className="num">{run.subscriptions === null ? '–' : formatNumber(run.subscriptions)}</td>
                </tr>
              ))}
            </tbody>
          </ScrollTable>
        </>
      )}
    </section>
  );
}
