/**
 * "Start reconciliation": POSTs a new run, then polls it every second until it is no longer
 * running, showing its state and how long it has run; when it ends, the page reloads its figures.
 * A run already in progress (started elsewhere, or before a reload) is picked up and followed the
 * same way. Each poll also shows the step the run is in ("Step 2 of 4: ..."), and a failed run
 * the step it stopped in. A refusal (409: one is already running) or any other failure is shown
 * with the hub's problem title and detail. Only the state change is announced (role=status); the elapsed time,
 * which changes every second, is outside the live region so screen readers are not flooded.
 */
import { useCallback, useEffect, useState } from 'react';
import { ApiError, type AdminApi } from '../../api/client.ts';
import type { Run, RunStep } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { ErrorMessage } from '../../shell/errors.tsx';

const POLL_MS = 1000;
/** Consecutive failed polls tolerated (a restarting hub, a network blip) before giving up. */
const MAX_POLL_FAILURES = 5;

interface Tracking {
  runId: string;
  /** Local clock (ms) at which the run started, for the elapsed time. */
  since: number;
}

interface ReconcileControlProps {
  api: AdminApi;
  /** The newest run in the list, if it is still running. */
  running: Run | null;
  /** Called when a followed run has ended, so the page reloads its figures. */
  onFinished(): void;
}

function sinceOf(run: Run): number {
  const started = Date.parse(run.started_at);
  return Number.isNaN(started) ? Date.now() : Math.min(started, Date.now());
}

export function ReconcileControl({ api, running, onFinished }: ReconcileControlProps) {
  const { t } = useI18n();
  const [starting, setStarting] = useState(false);
  const [tracking, setTracking] = useState<Tracking | null>(null);
  const [outcome, setOutcome] = useState<'completed' | 'failed' | null>(null);
  const [error, setError] = useState<{ context: string; error: unknown } | null>(null);
  const [now, setNow] = useState(() => Date.now());
  /** The followed run's step, from the latest poll (a national registry takes minutes). */
  const [step, setStep] = useState<RunStep | null>(null);

  // Follow a run that the list shows as running.
  const runningId = running?.run_id ?? null;
  useEffect(() => {
    if (!running || tracking) return;
    setTracking({ runId: running.run_id, since: sinceOf(running) });
    setStep(running.step ?? null);
    setOutcome(null);
    // Deliberately keyed on the id only: follow a newly listed running run once.
  }, [runningId]);

  // Poll the followed run until it ends.
  useEffect(() => {
    if (!tracking) return;
    let cancelled = false;
    let failures = 0;
    let timer: number | undefined;
    const poll = async () => {
      try {
        const run = await api.run(tracking.runId);
        if (cancelled) return;
        failures = 0;
        // A failed run keeps the step it stopped in: shown with the failure.
        setStep(run.status === 'completed' ? null : (run.step ?? null));
        if (run.status !== 'running') {
          setTracking(null);
          setOutcome(run.status);
          onFinished();
          return;
        }
      } catch (failure) {
        if (cancelled) return;
        failures += 1;
        const fatal = failure instanceof ApiError && failure.status >= 400 && failure.status < 500;
        if (fatal || failures >= MAX_POLL_FAILURES) {
          setTracking(null);
          setStep(null);
          setError({ context: t.loadFailed, error: failure });
          return;
        }
      }
      timer = window.setTimeout(() => void poll(), POLL_MS);
    };
    timer = window.setTimeout(() => void poll(), POLL_MS);
    const tick = window.setInterval(() => setNow(Date.now()), 1000);
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
      window.clearInterval(tick);
    };
    // Keyed on the run id only: restart polling when the followed run changes, not on re-render.
  }, [api, tracking?.runId]);

  const start = useCallback(async () => {
    setStarting(true);
    setError(null);
    setOutcome(null);
    try {
      setStep(null);
      const started = await api.startRun();
      setNow(Date.now());
      setTracking({ runId: started.run_id, since: Date.now() });
    } catch (failure) {
      setError({ context: t.startFailed, error: failure });
      if (failure instanceof ApiError && failure.status === 409) {
        // One is already running: follow it.
        try {
          const newest = (await api.runs(1)).runs[0];
          if (newest?.status === 'running') {
            setTracking({ runId: newest.run_id, since: sinceOf(newest) });
            setStep(newest.step ?? null);
          }
        } catch {
          // the 409 message is already shown
        }
      }
    } finally {
      setStarting(false);
    }
  }, [api, t]);

  const elapsed = tracking ? Math.max(0, Math.round((now - tracking.since) / 1000)) : 0;
  const elapsedText = elapsed < 60 ? t.seconds(elapsed) : t.minutesSeconds(Math.floor(elapsed / 60), elapsed % 60);
  const state = starting ? 'starting' : tracking ? 'running' : (outcome ?? (error ? 'error' : 'idle'));
  // A step this version of the app does not know (a newer hub) is left out rather than shown blank.
  const stepName = step ? t.runStepName[step.code] : undefined;
  const stepText = step && stepName ? t.runStep(step.number, step.of, stepName) : null;

  return (
    <div className="reconcile" data-testid="reconciliation-control" data-state={state}>
      <button
        type="button"
        className="button primary"
        // aria-disabled, not disabled: the button keeps the keyboard focus while the run goes on.
        onClick={() => void (starting || tracking !== null || start())}
        aria-disabled={starting || tracking !== null}
        data-testid="start-reconciliation"
      >
        {starting ? t.startingRun : t.startRun}
      </button>
      <div className="reconcile-status">
        <p role="status" data-testid="reconciliation-status">
          {tracking ? t.runInProgress : outcome === 'completed' ? t.runCompleted : outcome === 'failed' ? t.runFailed : ''}
          {!tracking && outcome === 'failed' && stepText ? <span data-testid="reconciliation-failed-step"> {stepText}</span> : null}
        </p>
        {tracking ? (
          <p className="reconcile-progress">
            <progress aria-label={t.runInProgress} />
            <span>{t.runRunningFor(elapsedText)}</span>
            {stepText ? <span data-testid="reconciliation-step"> {stepText}</span> : null}
          </p>
        ) : null}
      </div>
      {error ? <ErrorMessage context={error.context} error={error.error} testId="reconciliation-error" /> : null}
    </div>
  );
}
