/**
 * "Try a verification": the whole phone flow from the console, as a platform's backend would run
 * it. Start (`POST /v1/verifications` with an Idempotency-Key), then confirm the 6-digit code,
 * then show what the platform learns: status, level, pseudonym, and the account's status read
 * back with `GET /v1/accounts/{ref}`. In demo mode the code is read from the hub's SMS outbox and
 * shown here, since no phone receives it.
 *
 * The Idempotency-Key is reused when the person presses Start again with the same account and
 * number after a failure the hub may not have seen the end of (no answer, or a 5xx), so such a
 * repeat can never send a second code; any change of input, or any other answer, takes a new key.
 *
 * Focus follows the flow (to the code field once a code is sent, to the result once bound), and
 * each step's outcome is announced in a polite live region.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { publicApi } from '../../api/client.ts';
import {
  IdbindError, type AccountStatus, type BindResult, type IdbindClient, type StartedVerification,
} from '../../api/sdk.ts';
import type { OutboxMessage } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { ConsoleError } from './console-error.tsx';

const ACCOUNT_REF = /^[A-Za-z0-9._:-]{1,128}$/;
const CODE = /^\d{6}$/;

interface Sent {
  started: StartedVerification;
  accountRef: string;
  phone: string;
  idempotencyKey: string;
}

interface Done {
  result: BindResult;
  account: AccountStatus | null;
  unbound: boolean;
}

interface TryVerificationProps {
  client: IdbindClient;
  demo: boolean;
  sampleNumbers: string[];
  onError(error: unknown): void;
  /** Called after a call that may have changed the figures (statistics): a success or a failure. */
  onChange(): void;
}

/** The only 6-digit number of a demo SMS (the hub's template guarantees there is one). */
function codeIn(text: string): string | null {
  const codes = text.match(/\b\d{6}\b/g);
  return codes && codes.length === 1 ? codes[0]! : null;
}

function transient(error: unknown): boolean {
  return error instanceof IdbindError && (error.status === 0 || error.status >= 500);
}

export function TryVerification({ client, demo, sampleNumbers, onError, onChange }: TryVerificationProps) {
  const { t, formatDateTime } = useI18n();
  const k = t.platform;
  const ids = { heading: useId(), ref: useId(), phone: useId(), code: useId(), refError: useId(), phoneError: useId(), codeError: useId(), result: useId() };

  const [accountRef, setAccountRef] = useState('');
  const [phone, setPhone] = useState('');
  const [code, setCode] = useState('');
  const [invalid, setInvalid] = useState<{ ref?: string; phone?: string; code?: string }>({});
  const [busy, setBusy] = useState<'start' | 'confirm' | 'resend' | 'unbind' | null>(null);
  const [error, setError] = useState<{ context: string; error: unknown } | null>(null);
  const [sent, setSent] = useState<Sent | null>(null);
  const [outbox, setOutbox] = useState<{ message: OutboxMessage | null; error: unknown } | null>(null);
  const [done, setDone] = useState<Done | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const retryKey = useRef<{ accountRef: string; phone: string; key: string } | null>(null);
  const codeInput = useRef<HTMLInputElement>(null);
  const resultHeading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (sent && !done) codeInput.current?.focus();
  }, [sent, done]);
  useEffect(() => {
    if (done) resultHeading.current?.focus();
  }, [done]);

  const fail = (context: string, failure: unknown) => {
    setError({ context, error: failure });
    onError(failure);
    // A refused start, a wrong code or a rate limit is counted too (failed, by reason).
    onChange();
  };

  const readOutbox = async (to: string) => {
    setOutbox(null);
    try {
      const messages = await publicApi.smsOutbox(to);
      setOutbox({ message: messages.at(-1) ?? null, error: null });
    } catch (failure) {
      setOutbox({ message: null, error: failure });
    }
  };

  const start = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const ref = accountRef.trim();
    const number = phone.trim();
    const problems = { ref: ACCOUNT_REF.test(ref) ? undefined : k.accountRefInvalid, phone: number ? undefined : k.phoneEmpty };
    setInvalid(problems);
    if (problems.ref || problems.phone) {
      document.getElementById(problems.ref ? ids.ref : ids.phone)?.focus();
      return;
    }
    const previous = retryKey.current;
    const key = previous && previous.accountRef === ref && previous.phone === number ? previous.key : globalThis.crypto.randomUUID();
    retryKey.current = null;
    setBusy('start');
    setError(null);
    setDone(null);
    setCode('');
    try {
      const started = await client.startVerification({ accountRef: ref, phone: number, idempotencyKey: key });
      setSent({ started, accountRef: ref, phone: number, idempotencyKey: key });
      setAnnouncement(k.codeSentAnnouncement);
      onChange();
      if (demo) await readOutbox(number);
    } catch (failure) {
      if (transient(failure)) retryKey.current = { accountRef: ref, phone: number, key };
      fail(k.startFailed, failure);
    } finally {
      setBusy(null);
    }
  };

  const resend = async () => {
    if (!sent) return;
    setBusy('resend');
    setError(null);
    try {
      const again = await client.resendCode(sent.started.id);
      setSent({ ...sent, started: again });
      setAnnouncement(k.codeResentAnnouncement);
      if (demo) await readOutbox(sent.phone);
      codeInput.current?.focus();
    } catch (failure) {
      fail(k.resendFailed, failure);
    } finally {
      setBusy(null);
    }
  };

  const confirm = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!sent) return;
    const value = code.trim();
    if (!CODE.test(value)) {
      setInvalid({ code: k.codeFormat });
      codeInput.current?.focus();
      return;
    }
    setInvalid({});
    setBusy('confirm');
    setError(null);
    try {
      const result = await client.confirmCode(sent.started.id, value);
      // What a platform stores: read back the way its backend would, to show they agree.
      const account = await client.getAccount(result.account_ref).catch(() => null);
      setDone({ result, account, unbound: false });
      setAnnouncement(k.verifiedAnnouncement);
      onChange();
    } catch (failure) {
      fail(k.confirmFailed, failure);
      codeInput.current?.select();
    } finally {
      setBusy(null);
    }
  };

  const unbind = async () => {
    if (!done) return;
    setBusy('unbind');
    setError(null);
    try {
      await client.unbindAccount(done.result.account_ref);
      const account = await client.getAccount(done.result.account_ref);
      setDone({ ...done, account, unbound: true });
      setAnnouncement(k.unboundAnnouncement);
    } catch (failure) {
      fail(k.unbindFailed, failure);
    } finally {
      setBusy(null);
    }
  };

  const reset = () => {
    setSent(null);
    setDone(null);
    setOutbox(null);
    setError(null);
    setCode('');
    setInvalid({});
    document.getElementById(ids.ref)?.focus();
  };

  const demoCode = outbox?.message ? codeIn(outbox.message.text) : null;
  const locked = sent !== null;

  return (
    <section aria-labelledby={ids.heading} className="subsection try-verification" id="try" data-testid="try-verification">
      <h2 id={ids.heading}>{k.tryTitle}</h2>
      <p className="hint">{k.tryIntro}</p>
      <p className="visually-hidden" role="status" aria-live="polite">
        {announcement}
      </p>

      <form onSubmit={start} noValidate className="form-grid">
        <div className="field">
          <label htmlFor={ids.ref}>{k.accountRefLabel}</label>
          <p className="hint" id={`${ids.ref}-hint`}>
            {k.accountRefHint}
          </p>
          <input
            id={ids.ref}
            name="account-ref"
            value={accountRef}
            onChange={(e) => setAccountRef(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            readOnly={locked}
            maxLength={128}
            aria-invalid={invalid.ref ? true : undefined}
            aria-describedby={[`${ids.ref}-hint`, invalid.ref ? ids.refError : ''].filter(Boolean).join(' ')}
            data-testid="try-account-ref"
          />
          {invalid.ref ? (
            <p className="field-error" id={ids.refError}>
              {invalid.ref}
            </p>
          ) : null}
        </div>
        <div className="field">
          <label htmlFor={ids.phone}>{k.phoneLabel}</label>
          <p className="hint" id={`${ids.phone}-hint`}>
            {k.phoneHint}
          </p>
          <input
            id={ids.phone}
            name="phone"
            type="tel"
            inputMode="tel"
            autoComplete="off"
            value={phone}
            onChange={(e) => setPhone(e.target.value)}
            readOnly={locked}
            maxLength={32}
            aria-invalid={invalid.phone ? true : undefined}
            aria-describedby={[`${ids.phone}-hint`, invalid.phone ? ids.phoneError : ''].filter(Boolean).join(' ')}
            data-testid="try-phone"
          />
          {invalid.phone ? (
            <p className="field-error" id={ids.phoneError}>
              {invalid.phone}
            </p>
          ) : null}
          {demo && sampleNumbers.length > 0 && !locked ? (
            <div className="samples">
              <span className="hint">{k.sampleNumbers}</span>
              <ul>
                {sampleNumbers.map((n) => (
                  <li key={n}>
                    <button type="button" className="button subtle small" onClick={() => setPhone(n)} aria-label={k.useSampleNumber(n)} data-testid="sample-number">
                      {n}
                    </button>
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
        </div>
        <div className="form-actions">
          {locked ? (
            <button type="button" className="button subtle" onClick={reset} data-testid="try-reset">
              {k.startOver}
            </button>
          ) : (
            <button type="submit" className="button primary" disabled={busy !== null} aria-busy={busy === 'start'} data-testid="try-start">
              {busy === 'start' ? k.starting : k.startVerification}
            </button>
          )}
        </div>
      </form>

      {error ? <ConsoleError context={error.context} error={error.error} testId="try-error" /> : null}

      {sent && !done ? (
        <div className="step" data-testid="try-sent" data-verification-id={sent.started.id}>
          <h3>{k.codeSentTitle}</h3>
          <dl className="facts">
            <div>
              <dt>{k.verificationId}</dt>
              <dd>
                <code data-testid="try-verification-id">{sent.started.id}</code>
              </dd>
            </div>
            <div>
              <dt>{k.codeExpires}</dt>
              <dd>
                <time dateTime={sent.started.expires_at}>{formatDateTime(sent.started.expires_at)}</time>
              </dd>
            </div>
            <div>
              <dt>Idempotency-Key</dt>
              <dd>
                <code>{sent.idempotencyKey}</code>
              </dd>
            </div>
          </dl>

          {demo ? (
            <div className="demo-sms" data-testid="demo-sms">
              <h4>{k.demoSmsTitle}</h4>
              <p className="hint">{k.demoSmsIntro}</p>
              {outbox === null ? (
                <p className="loading">{t.loading}</p>
              ) : outbox.message ? (
                <>
                  <blockquote className="sms-text" data-testid="demo-sms-text">
                    {outbox.message.text}
                  </blockquote>
                  {demoCode ? (
                    <p className="sms-code">
                      {k.demoCodeIs} <strong data-testid="demo-sms-code">{demoCode}</strong>{' '}
                      <button type="button" className="button subtle small" onClick={() => setCode(demoCode)} data-testid="use-demo-code">
                        {k.useThisCode}
                      </button>
                    </p>
                  ) : null}
                </>
              ) : outbox.error ? (
                <ConsoleError context={k.outboxFailed} error={outbox.error} />
              ) : (
                <p className="empty">{k.outboxEmpty}</p>
              )}
            </div>
          ) : null}

          <form onSubmit={confirm} noValidate className="confirm-form">
            <div className="field">
              <label htmlFor={ids.code}>{k.codeLabel}</label>
              <input
                ref={codeInput}
                id={ids.code}
                name="code"
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9]{6}"
                maxLength={6}
                value={code}
                onChange={(e) => setCode(e.target.value.replace(/\D/g, ''))}
                aria-invalid={invalid.code ? true : undefined}
                aria-describedby={invalid.code ? ids.codeError : undefined}
                className="code-input"
                data-testid="try-code"
              />
              {invalid.code ? (
                <p className="field-error" id={ids.codeError}>
                  {invalid.code}
                </p>
              ) : null}
            </div>
            <div className="form-actions">
              <button type="submit" className="button primary" disabled={busy !== null} aria-busy={busy === 'confirm'} data-testid="try-confirm">
                {busy === 'confirm' ? k.confirming : k.confirm}
              </button>
              <button type="button" className="button subtle" disabled={busy !== null} onClick={() => void resend()} data-testid="try-resend">
                {busy === 'resend' ? k.resending : k.resend}
              </button>
            </div>
          </form>
        </div>
      ) : null}

      {done ? (
        <div className="step result" data-testid="try-result">
          <h3 ref={resultHeading} tabIndex={-1} id={ids.result}>
            {done.unbound ? k.unboundTitle : k.verifiedTitle}
          </h3>
          <p className="hint">{k.resultIntro}</p>
          <dl className="facts" aria-labelledby={ids.result}>
            <div>
              <dt>{k.accountRefLabel}</dt>
              <dd>
                <code>{done.result.account_ref}</code>
              </dd>
            </div>
            <div>
              <dt>{k.resultStatus}</dt>
              <dd data-testid="result-status" data-value={done.result.status}>
                {k.accountStatus[done.result.status]}
              </dd>
            </div>
            <div>
              <dt>{k.resultLevel}</dt>
              <dd data-testid="result-level" data-value={done.result.level}>
                {k.level[done.result.level]}
              </dd>
            </div>
            <div>
              <dt>{k.resultPseudonym}</dt>
              <dd>
                <code data-testid="result-pseudonym">{done.result.pseudonym}</code>
              </dd>
            </div>
            <div>
              <dt>{k.resultVerifiedAt}</dt>
              <dd>
                <time dateTime={done.result.verified_at}>{formatDateTime(done.result.verified_at)}</time>
              </dd>
            </div>
            {done.account ? (
              <div>
                <dt>{k.accountNow}</dt>
                <dd data-testid="account-status" data-value={done.account.status}>
                  {k.accountStatus[done.account.status]}
                </dd>
              </div>
            ) : null}
          </dl>
          <p className="hint">{k.pseudonymExplained}</p>
          <div className="form-actions">
            {!done.unbound ? (
              <button type="button" className="button subtle" disabled={busy !== null} onClick={() => void unbind()} data-testid="try-unbind">
                {busy === 'unbind' ? k.unbinding : k.unbind}
              </button>
            ) : null}
            <button type="button" className="button" onClick={reset} data-testid="try-again">
              {k.tryAnother}
            </button>
          </div>
        </div>
      ) : null}
    </section>
  );
}
