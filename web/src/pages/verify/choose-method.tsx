/**
 * The first step, for the person or (after the guardian step) for their parent or guardian: a
 * mobile number to receive a code, or the national eID. Only the methods the hub offers at this
 * stage appear: no phone when the platform asked for more than `low`, no eID when none is
 * configured. The number is checked by the hub, which answers every reason it cannot be used with
 * one sentence (NUMBER_NOT_ELIGIBLE).
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { FlowMethod, FlowRole } from '../../api/verify.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import type { FlowError } from './flow-error.ts';
import { describedBy, FlowErrorBox, StageHeading } from './parts.tsx';
import type { Busy } from './use-flow.ts';

interface ChooseMethodProps {
  platform: string;
  role: FlowRole;
  methods: FlowMethod[];
  busy: Busy;
  error: FlowError | null;
  /** The number typed before (after "use a different number", or a refused number). */
  initialPhone: string;
  onPhone(phone: string): void;
  onEid(): void;
}

export function ChooseMethod({ platform, role, methods, busy, error, initialPhone, onPhone, onEid }: ChooseMethodProps) {
  const { t } = useI18n();
  const v = t.verify;
  const ids = { phone: useId(), hint: useId(), empty: useId(), error: useId(), phoneTitle: useId(), eidTitle: useId() };
  const [phone, setPhone] = useState(initialPhone);
  const [empty, setEmpty] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const guardian = role === 'guardian';
  const offersPhone = methods.includes('phone');
  const offersEid = methods.includes('eid');
  const eidError = error !== null && error.code.startsWith('EID_');

  // A refused number: back to the field (its description now includes the error).
  useEffect(() => {
    if (error && !eidError && busy === null) input.current?.focus();
  }, [error, eidError, busy]);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const value = phone.trim();
    if (!value) {
      setEmpty(true);
      input.current?.focus();
      return;
    }
    setEmpty(false);
    onPhone(value);
  };

  return (
    <div className="verify-stage" data-testid="verify-stage" data-stage="choose_method" data-role={role}>
      <StageHeading>{guardian ? v.guardianChooseTitle : v.chooseTitle(platform)}</StageHeading>
      <p className="verify-lead">{guardian ? v.guardianChooseIntro(platform) : v.chooseIntro(platform)}</p>
      {!offersPhone && offersEid ? <p className="note">{v.eidOnly(platform)}</p> : null}
      {!offersPhone && !offersEid ? <p className="note">{v.noMethod}</p> : null}
      {error ? <FlowErrorBox error={error} id={ids.error} /> : null}

      {offersPhone ? (
        <section aria-labelledby={ids.phoneTitle} className="verify-method" data-testid="method-phone">
          <h2 id={ids.phoneTitle}>{v.phoneTitle}</h2>
          <form onSubmit={submit} noValidate>
            <div className="field">
              <label htmlFor={ids.phone}>{guardian ? v.guardianPhoneLabel : v.phoneLabel}</label>
              <p className="hint" id={ids.hint}>
                {v.phoneHint}
              </p>
              <input
                ref={input}
                id={ids.phone}
                name="phone"
                type="tel"
                inputMode="tel"
                autoComplete="tel"
                maxLength={32}
                value={phone}
                onChange={(e) => setPhone(e.target.value)}
                aria-invalid={empty || (error !== null && !eidError) ? true : undefined}
                aria-describedby={describedBy(ids.hint, empty && ids.empty, error && !eidError && ids.error)}
                data-testid="verify-phone"
              />
              {empty ? (
                <p className="field-error" id={ids.empty}>
                  {v.phoneEmpty}
                </p>
              ) : null}
            </div>
            <div className="form-actions">
              <button type="submit" className="button primary wide" disabled={busy !== null} aria-busy={busy === 'phone'} data-testid="verify-send-code">
                {busy === 'phone' ? v.sending : v.sendCode}
              </button>
            </div>
          </form>
        </section>
      ) : null}

      {offersPhone && offersEid ? (
        <p className="verify-or" aria-hidden="true">
          <span>{v.or}</span>
        </p>
      ) : null}

      {offersEid ? (
        <section aria-labelledby={ids.eidTitle} className="verify-method" data-testid="method-eid">
          <h2 id={ids.eidTitle}>{v.eidTitle}</h2>
          <p className="hint">{v.eidIntro}</p>
          <div className="form-actions">
            <button type="button" className={`button wide ${offersPhone ? '' : 'primary'}`} disabled={busy !== null} aria-busy={busy === 'eid'} onClick={onEid} data-testid="verify-eid">
              {busy === 'eid' ? v.eidRedirecting : v.useEid}
            </button>
          </div>
        </section>
      ) : null}
    </div>
  );
}
