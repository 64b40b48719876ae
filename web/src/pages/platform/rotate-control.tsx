/**
 * A credential rotation with its overlap (how long the old credential keeps working) and an
 * inline confirmation step: a rotation with no overlap breaks every deployment still using the old
 * credential, so it is never one stray click. The confirmation takes focus when it appears and
 * Cancel gives it back to the first button.
 */
import { useEffect, useId, useRef, useState } from 'react';
import { useI18n } from '../../i18n/i18n.tsx';

/** Overlap choices, in seconds; the hub's default is one day. */
const OVERLAPS = [0, 3600, 86_400, 7 * 86_400] as const;

interface RotateControlProps {
  /** The button that starts the rotation ("Rotate API key"). */
  action: string;
  /** What the confirmation says will happen. */
  warning: string;
  /** The label of the overlap choice ("The old key keeps working for"). */
  overlapLabel: string;
  busy: boolean;
  onRotate(overlapSeconds: number): void;
  testId: string;
}

export function RotateControl({ action, warning, overlapLabel, busy, onRotate, testId }: RotateControlProps) {
  const { t } = useI18n();
  const k = t.platform;
  const selectId = useId();
  const [overlap, setOverlap] = useState<number>(86_400);
  const [confirming, setConfirming] = useState(false);
  const confirmButton = useRef<HTMLButtonElement>(null);
  const startButton = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);

  return (
    <div className="rotate-control">
      <div className="field inline">
        <label htmlFor={selectId}>{overlapLabel}</label>
        <select id={selectId} value={overlap} onChange={(e) => setOverlap(Number(e.target.value))} disabled={busy || confirming} data-testid={`${testId}-overlap`}>
          {OVERLAPS.map((s) => (
            <option key={s} value={s}>
              {k.overlap(s)}
            </option>
          ))}
        </select>
      </div>
      {confirming ? (
        <div className="confirm-box" role="group" aria-label={action}>
          <p>{warning}</p>
          <p>{overlap === 0 ? k.overlapNoneWarning : k.overlapWarning(k.overlap(overlap))}</p>
          <div className="form-actions">
            <button
              ref={confirmButton}
              type="button"
              className="button primary"
              disabled={busy}
              onClick={() => {
                setConfirming(false);
                onRotate(overlap);
                // The confirmation goes away: the focus goes back to the first button, as on Cancel.
                window.setTimeout(() => startButton.current?.focus(), 0);
              }}
              data-testid={`${testId}-confirm`}
            >
              {k.confirmRotation}
            </button>
            <button
              type="button"
              className="button subtle"
              onClick={() => {
                setConfirming(false);
                window.setTimeout(() => startButton.current?.focus(), 0);
              }}
            >
              {k.cancel}
            </button>
          </div>
        </div>
      ) : (
        // aria-disabled, not disabled, while the rotation runs: it keeps the focus given back above.
        <button ref={startButton} type="button" className="button" aria-disabled={busy} aria-busy={busy} onClick={() => busy || setConfirming(true)} data-testid={testId}>
          {busy ? k.rotating : action}
        </button>
      )}
    </div>
  );
}
