/**
 * The code step: the 6-digit code from the SMS, with the same checks and limits as the phone API
 * (the hub counts the tries and says how many are left; a new code only after `resend_after`).
 * The field takes digits only, so "123 456" pasted from an SMS becomes "123456"; a code that is
 * not 6 digits is caught here and costs no try. In demo mode, where no SMS leaves the hub, the
 * message the phone would have received is shown, marked as a demo.
 */
import { useEffect, useId, useRef, useState, type ClipboardEvent, type FormEvent } from 'react';
import { publicApi } from '../../api/client.ts';
import type { OutboxMessage } from '../../api/types.ts';
import type { FlowPhone, FlowRole } from '../../api/verify.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { CODE_ERRORS, type FlowError } from './flow-error.ts';
import { describedBy, FlowErrorBox, StageHeading } from './parts.tsx';
import type { Busy } from './use-flow.ts';
import { useNow } from './use-now.ts';

const CODE = /^\d{6}$/;

interface EnterCodeProps {
  role: FlowRole;
  phone: FlowPhone;
  busy: Busy;
  error: FlowError | null;
  /** Demo mode: the number typed on this page, to show its SMS from the demo outbox. */
  demoNumber: string | null;
  onConfirm(code: string): void;
  onResend(): void;
  onRestart(): void;
}

function secondsUntil(iso: string | null, now: number): number {
  if (!iso) return 0;
  const at = Date.parse(iso);
  return Number.isNaN(at) ? 0 : Math.max(0, Math.ceil((at - now) / 1000));
}

function DemoSms({ number, generation }: { number: string; generation: string }) {
  const { t } = useI18n();
  const v = t.verify;
  const [message, setMessage] = useState<OutboxMessage | null | undefined>(undefined);
  useEffect(() => {
    let cancelled = false;
    publicApi
      .smsOutbox(number)
      .then((messages) => {
        if (!cancelled) setMessage(messages.at(-1) ?? null);
      })
      // A demo aid only: without it the page works as it does in production.
      .catch(() => {
        if (!cancelled) setMessage(null);
      });
    return () => {
      cancelled = true;
    };
  }, [number, generation]);
  if (message === undefined) return null;
  return (
    <aside className="demo-sms" data-testid="verify-demo-sms">
      <h2 className="demo-sms-title">{v.demoSmsTitle}</h2>
      <p className="hint">{v.demoSmsIntro}</p>
      {message ? <p className="sms-text">{message.text}</p> : <p className="hint">{v.demoSmsEmpty}</p>}
    </aside>
  );
}

export function EnterCode({ role, phone, busy, error, demoNumber, onConfirm, onResend, onRestart }: EnterCodeProps) {
  const { t } = useI18n();
  const v = t.verify;
  const ids = { code: useId(), hint: useId(), local: useId(), error: useId(), sent: useId() };
  const [code, setCode] = useState('');
  const [malformed, setMalformed] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const now = useNow(true);
  const resendIn = secondsUntil(phone.resend_after, now);
  const validFor = secondsUntil(phone.expires_at, now);
  const codeError = error !== null && CODE_ERRORS.has(error.code);

  // A refused code: back to the field, its digits selected to be typed over.
  useEffect(() => {
    if (codeError && busy === null) input.current?.select();
  }, [codeError, busy, error]);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!CODE.test(code)) {
      setMalformed(true);
      input.current?.focus();
      return;
    }
    setMalformed(false);
    onConfirm(code);
  };

  const paste = (event: ClipboardEvent<HTMLInputElement>) => {
    const digits = event.clipboardData.getData('text').replace(/\D/g, '');
    if (digits.length === 0) return;
    event.preventDefault();
    setCode(digits.slice(0, 6));
  };

  return (
    <div className="verify-stage" data-testid="verify-stage" data-stage="phone_code" data-role={role}>
      <StageHeading>{v.codeTitle}</StageHeading>
      <p className="verify-lead" id={ids.sent}>
        {v.codeSentTo(phone.masked)} {validFor > 0 ? v.codeValidFor(Math.ceil(validFor / 60)) : v.codeHasExpired}
      </p>
      {error && !codeError ? <FlowErrorBox error={error} id={ids.error} /> : null}

      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={ids.code}>{v.codeLabel}</label>
          <p className="hint" id={ids.hint}>
            {v.codeHint}
          </p>
          <input
            ref={input}
            id={ids.code}
            name="code"
            className="code-input"
            type="text"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9]*"
            maxLength={6}
            spellCheck={false}
            value={code}
            onChange={(e) => setCode(e.target.value.replace(/\D/g, '').slice(0, 6))}
            onPaste={paste}
            aria-invalid={malformed || codeError ? true : undefined}
            aria-describedby={describedBy(ids.hint, malformed && ids.local, codeError && ids.error)}
            data-testid="verify-code"
          />
          {malformed ? (
            <p className="field-error" id={ids.local}>
              {v.codeFormat}
            </p>
          ) : null}
          {error && codeError ? <FlowErrorBox error={error} id={ids.error} /> : null}
        </div>
        <div className="form-actions">
          <button type="submit" className="button primary wide" disabled={busy !== null} aria-busy={busy === 'confirm'} data-testid="verify-confirm">
            {busy === 'confirm' ? v.confirming : v.confirm}
          </button>
        </div>
      </form>

      <div className="verify-secondary">
        <button type="button" className="button subtle" disabled={busy !== null || resendIn > 0} aria-busy={busy === 'resend'} onClick={onResend} data-testid="verify-resend">
          {busy === 'resend' ? v.resending : v.resend}
        </button>
        <button type="button" className="button subtle" disabled={busy !== null} aria-busy={busy === 'restart'} onClick={onRestart} data-testid="verify-restart">
          {v.wrongNumber}
        </button>
      </div>
      {resendIn > 0 ? (
        <p className="hint" data-testid="verify-resend-wait">
          {v.resendIn(resendIn)}
        </p>
      ) : null}

      {demoNumber ? <DemoSms number={demoNumber} generation={phone.expires_at} /> : null}
    </div>
  );
}
