/**
 * The regulator's "Registries and junk SIMs" page (issue 2): registry sizes, the latest
 * reconciliation run per carrier and category, the trend across runs, the action-list downloads,
 * and the control that starts a new run. Figures come from the admin API; a failed load keeps the
 * figures already shown and says what went wrong. When the newest run failed, the page says so
 * (when it started, the step it stopped in) above the figures, which are the latest completed
 * run's: otherwise a run that failed overnight would go unnoticed behind an older run's figures.
 */
import { useId } from 'react';
import { isCompleted, type CompletedRun, type Run } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useAdminApi } from '../../shell/auth.tsx';
import { ErrorMessage } from '../../shell/errors.tsx';
import { Downloads } from './downloads.tsx';
import { LatestRun } from './latest-run.tsx';
import { ReconcileControl } from './reconcile-control.tsx';
import { RegistrySizes } from './registry-sizes.tsx';
import { Trend } from './trend.tsx';
import { useRegistriesData } from './use-registries-data.ts';

/** The newest run failed: when it started, the step it stopped in, and whose figures are shown instead. */
function NewestRunFailed({ run, latest }: { run: Run; latest: CompletedRun | null }) {
  const { t, formatDateTime } = useI18n();
  const stepName = run.step ? t.runStepName[run.step.code] : undefined;
  const step = run.step && stepName ? t.runStep(run.step.number, run.step.of, stepName) : '';
  return (
    <div className="notice" data-testid="newest-run-failed" data-run-id={run.run_id}>
      <p>
        <strong>{t.newestRunFailed(formatDateTime(run.started_at), step)}</strong>
      </p>
      {latest ? <p>{t.figuresFromRun(formatDateTime(latest.started_at))}</p> : null}
    </div>
  );
}

export function RegistriesPage() {
  const { t } = useI18n();
  const api = useAdminApi();
  const data = useRegistriesData(api);
  const reconciliationId = useId();

  const runs = data.runs ?? [];
  const completed: CompletedRun[] = runs.filter(isCompleted);
  const latest = completed[0] ?? null;
  const newest = runs[0];
  const running = newest?.status === 'running' ? newest : null;
  const loaded = data.stats !== null && data.runs !== null;

  return (
    <div className="page" data-testid="registries-page" aria-busy={data.loading} data-loaded={loaded && !data.loading}>
      <div className="page-heading">
        <h1 data-testid="page-heading">{t.registriesTitle}</h1>
        {/* aria-disabled, not disabled: a disabled button drops the keyboard focus to the page's body. */}
        <button type="button" className="button subtle" onClick={() => data.loading || data.reload()} aria-disabled={data.loading}>
          {t.refresh}
        </button>
      </div>
      <p className="intro">{t.registriesIntro}</p>

      {data.error ? (
        <ErrorMessage
          context={t.loadFailed}
          error={data.error}
          testId="load-error"
          action={
            <button type="button" className="button" onClick={data.reload}>
              {t.retry}
            </button>
          }
        />
      ) : null}

      {!loaded ? (
        data.error ? null : (
          <p className="loading" role="status">
            {t.loading}
          </p>
        )
      ) : (
        <>
          {data.stats ? <RegistrySizes stats={data.stats} /> : null}
          <section aria-labelledby={reconciliationId} className="section">
            <h2 id={reconciliationId}>{t.reconciliationTitle}</h2>
            <ReconcileControl api={api} running={running} onFinished={data.reload} />
            {newest?.status === 'failed' ? <NewestRunFailed run={newest} latest={latest} /> : null}
            {latest ? <LatestRun run={latest} /> : <p className="empty">{t.noCompletedRun}</p>}
            <Trend runs={[...completed].reverse()} />
            <Downloads api={api} run={latest} />
          </section>
        </>
      )}
    </div>
  );
}
