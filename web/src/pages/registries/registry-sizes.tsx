/**
 * Registry sizes: people (total, alive, deceased), subscriptions (total, live, terminated) and
 * subscriptions per carrier. Each figure carries a data-testid so the browser test can compare it
 * with `/v1/admin/registry/stats`.
 */
import { useId } from 'react';
import type { RegistryStats } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { carrierName, sortCarriers } from './carriers.ts';
import { ScrollTable } from './scroll-table.tsx';

interface Figure {
  label: string;
  value: number;
  testId: string;
  lead?: boolean;
}

function Figures({ title, figures }: { title: string; figures: Figure[] }) {
  const { formatNumber } = useI18n();
  const id = useId();
  return (
    <div className="card figures" role="group" aria-labelledby={id}>
      <h3 id={id}>{title}</h3>
      <dl>
        {figures.map((f) => (
          <div key={f.testId} className={f.lead ? 'figure lead' : 'figure'}>
            <dt>{f.label}</dt>
            <dd data-testid={f.testId}>{formatNumber(f.value)}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

export function RegistrySizes({ stats }: { stats: RegistryStats }) {
  const { t, formatNumber } = useI18n();
  const headingId = useId();
  const bySlug = new Map(stats.carriers.map((c) => [c.slug, c]));
  return (
    <section aria-labelledby={headingId} className="section">
      <h2 id={headingId}>{t.sizesTitle}</h2>
      <div className="figure-cards">
        <Figures
          title={t.peopleTitle}
          figures={[
            { label: t.peopleTotal, value: stats.people.total, testId: 'people-total', lead: true },
            { label: t.peopleAlive, value: stats.people.alive, testId: 'people-alive' },
            { label: t.peopleDeceased, value: stats.people.deceased, testId: 'people-deceased' },
          ]}
        />
        <Figures
          title={t.subscriptionsTitle}
          figures={[
            { label: t.subscriptionsTotal, value: stats.subscriptions.total, testId: 'subscriptions-total', lead: true },
            { label: t.subscriptionsLive, value: stats.subscriptions.live, testId: 'subscriptions-live' },
            { label: t.subscriptionsTerminated, value: stats.subscriptions.terminated, testId: 'subscriptions-terminated' },
          ]}
        />
      </div>
      {stats.carriers.length === 0 ? (
        <p className="empty">{t.noCarriers}</p>
      ) : (
        <ScrollTable caption={t.carriersCaption} testId="carriers-table">
          <thead>
            <tr>
              <th scope="col">{t.columnCarrier}</th>
              <th scope="col" className="num">
                {t.columnSubscriptions}
              </th>
              <th scope="col" className="num">
                {t.columnLive}
              </th>
            </tr>
          </thead>
          <tbody>
            {sortCarriers(bySlug.keys()).map((slug) => {
              const carrier = bySlug.get(slug);
              if (!carrier) return null;
              return (
                <tr key={slug}>
                  <th scope="row">{carrierName(slug)}</th>
                  <td className="num" data-testid={`carrier-subscriptions-${slug}`}>
                    {formatNumber(carrier.subscriptions)}
                  </td>
                  <td className="num" data-testid={`carrier-live-${slug}`}>
                    {formatNumber(carrier.live)}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </ScrollTable>
      )}
    </section>
  );
}
