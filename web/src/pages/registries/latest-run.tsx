/**
 * The latest completed reconciliation run: when it ran and over how many subscriptions, a grouped
 * bar chart of the subscriptions to fix per carrier and category, the same figures as a table
 * (with totals per carrier and per category), and the change per category since the previous run.
 * Table cells carry data-testids (`latest-<carrier>-<CATEGORY>`) for the browser test.
 */
import { useId } from 'react';
import { CATEGORIES, type CompletedRun } from '../../api/types.ts';
import { BarChart } from '../../charts/bar-chart.tsx';
import { categoryStyle } from '../../charts/palette.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { carrierName, sortCarriers } from './carriers.ts';
import { CategoryLegend } from './category-legend.tsx';
import { ScrollTable } from './scroll-table.tsx';

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export function LatestRun({ run }: { run: CompletedRun }) {
  const { t, formatNumber, formatDateTime } = useI18n();
  const headingId = useId();
  const chartTitleId = useId();
  const chartDescId = useId();
  const carriers = sortCarriers(Object.keys(run.by_carrier));
  const signed = (sign: string, n: number) => (n > 0 ? `${sign}${formatNumber(n)}` : formatNumber(n));
  const counts = (slug: string) => CATEGORIES.map((c) => run.by_carrier[slug]?.[c] ?? 0);

  return (
    <section aria-labelledby={headingId} className="subsection" data-testid="latest-run" data-run-id={run.run_id}>
      <h3 id={headingId}>{t.latestTitle}</h3>
      <dl className="run-meta">
        <div>
          <dt>{t.runStarted}</dt>
          <dd>
            <time dateTime={run.started_at}>{formatDateTime(run.started_at)}</time>
          </dd>
        </div>
        {run.finished_at ? (
          <div>
            <dt>{t.runFinished}</dt>
            <dd>
              <time dateTime={run.finished_at}>{formatDateTime(run.finished_at)}</time>
            </dd>
          </div>
        ) : null}
        {run.subscriptions !== null ? (
          <div>
            <dt>{t.runSubscriptions}</dt>
            <dd data-testid="latest-subscriptions">{formatNumber(run.subscriptions)}</dd>
          </div>
        ) : null}
        <div>
          <dt>{t.runId}</dt>
          <dd>
            <code className="run-id" data-testid="latest-run-id">
              {run.run_id}
            </code>
          </dd>
        </div>
      </dl>

      <figure className="chart-figure">
        <figcaption>
          <h4 id={chartTitleId}>{t.latestChartTitle}</h4>
          <p id={chartDescId} className="hint">
            {t.latestChartDescription}
          </p>
        </figcaption>
        <CategoryLegend markers={false} />
        <BarChart
          series={CATEGORIES.map((c) => ({ key: c, label: t.category[c], color: categoryStyle[c].color }))}
          groups={carriers.map((slug) => ({ key: slug, label: carrierName(slug), values: counts(slug) }))}
          formatNumber={formatNumber}
          labelledBy={chartTitleId}
          describedBy={chartDescId}
          testId="latest-chart"
        />
      </figure>

      <ScrollTable caption={t.latestTableCaption} testId="latest-table">
        <thead>
          <tr>
            <th scope="col">{t.columnCarrier}</th>
            {CATEGORIES.map((c) => (
              <th scope="col" key={c} className="num">
                <span className="swatch" style={{ background: categoryStyle[c].color }} aria-hidden="true" />
                {t.category[c]}
              </th>
            ))}
            <th scope="col" className="num">
              {t.columnTotal}
            </th>
          </tr>
        </thead>
        <tbody>
          {carriers.map((slug) => (
            <tr key={slug}>
              <th scope="row">{carrierName(slug)}</th>
              {CATEGORIES.map((c) => (
                <td key={c} className="num" data-testid={`latest-${slug}-${c}`}>
                  {formatNumber(run.by_carrier[slug]?.[c] ?? 0)}
                </td>
              ))}
              <td className="num total" data-testid={`latest-${slug}-total`}>
                {formatNumber(sum(counts(slug)))}
              </td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">{t.allCarriers}</th>
            {CATEGORIES.map((c) => (
              <td key={c} className="num" data-testid={`latest-all-${c}`}>
                {formatNumber(run.categories[c])}
              </td>
            ))}
            <td className="num total" data-testid="latest-all-total">
              {formatNumber(sum(CATEGORIES.map((c) => run.categories[c])))}
            </td>
          </tr>
        </tfoot>
      </ScrollTable>

      {run.compared_to_previous ? (
        <ScrollTable caption={t.changesCaption} testId="changes-table">
          <thead>
            <tr>
              <th scope="col">{t.columnCategory}</th>
              <th scope="col" className="num">
                {t.columnCount}
              </th>
              <th scope="col" className="num">
                {t.columnNew}
              </th>
              <th scope="col" className="num">
                {t.columnResolved}
              </th>
            </tr>
          </thead>
          <tbody>
            {CATEGORIES.map((c) => {
              const change = run.compared_to_previous?.[c];
              return (
                <tr key={c}>
                  <th scope="row">
                    <span className="swatch" style={{ background: categoryStyle[c].color }} aria-hidden="true" />
                    {t.category[c]}
                  </th>
                  <td className="num">{formatNumber(run.categories[c])}</td>
                  <td className="num" data-testid={`changes-new-${c}`}>
                    {change ? signed('+', change.new) : '–'}
                  </td>
                  <td className="num" data-testid={`changes-resolved-${c}`}>
                    {change ? signed('−', change.resolved) : '–'}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </ScrollTable>
      ) : (
        <p className="empty">{t.noPreviousRun}</p>
      )}
    </section>
  );
}
