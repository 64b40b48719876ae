/**
 * Shows a credential (a new API key, a webhook secret) with a copy button. The value is in a
 * read-only field rather than plain text so that it can be selected whole by keyboard when the
 * clipboard is not available, and `hidden` renders it as dots until the person asks to see it.
 */
import { useEffect, useId, useRef, useState } from 'react';
import { useI18n } from '../../i18n/i18n.tsx';

interface SecretBoxProps {
  label: string;
  value: string;
  /** Starts masked, with a Show/Hide toggle. */
  hidden?: boolean;
  /** Takes the keyboard focus when it appears (it replaces the button that asked for it). */
  focusOnMount?: boolean;
  testId?: string;
}

export function SecretBox({ label, value, hidden = false, focusOnMount = false, testId }: SecretBoxProps) {
  const { t } = useI18n();
  const k = t.platform;
  const id = useId();
  const field = useRef<HTMLInputElement>(null);
  const [shown, setShown] = useState(!hidden);
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);

  useEffect(() => {
    if (focusOnMount) field.current?.focus();
    // On mount only: a later change of value (a rotation) does not move the focus.
  }, []);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      // No clipboard (permissions, insecure context): leave it selected for Ctrl+C.
      setShown(true);
      setCopied('failed');
      window.setTimeout(() => field.current?.select(), 0);
    }
  };

  return (
    <div className="secret-box">
      <label htmlFor={id}>{label}</label>
      <div className="secret-row">
        <input
          ref={field}
          id={id}
          readOnly
          type={shown ? 'text' : 'password'}
          value={value}
          spellCheck={false}
          autoComplete="off"
          onFocus={(e) => e.currentTarget.select()}
          data-testid={testId}
        />
        {hidden ? (
          <button type="button" className="button subtle small" aria-pressed={shown} onClick={() => setShown((s) => !s)}>
            {k.show}
          </button>
        ) : null}
        <button type="button" className="button subtle small" onClick={() => void copy()}>
          {k.copy}
        </button>
      </div>
      <p className="hint" role="status">
        {copied === 'yes' ? k.copied : copied === 'failed' ? k.copyFailed : ''}
      </p>
    </div>
  );
}
