/**
 * Errors of the console written for a person: the stable `code` of the hub's problem document
 * picks a sentence in the page's language (with the problem's `attempts_remaining` or
 * `retry_after` worked in), and the code itself is shown small, for support. A code the console
 * does not know falls back to the hub's own title and detail, so nothing is hidden.
 */
import type { ReactNode } from 'react';
import { IdbindError } from '../../api/sdk.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import type { Messages } from '../../i18n/messages.ts';
import { describeError } from '../../shell/errors.tsx';

export interface ExplainedError {
  sentence: string;
  /** The hub's words, when they add to the sentence. */
  detail: string | null;
  code: string | null;
}

export function explainError(error: unknown, t: Messages): ExplainedError {
  if (!(error instanceof IdbindError)) {
    const described = describeError(error, t);
    return { sentence: described.title, detail: described.detail, code: described.code };
  }
  const p = t.platform.problems;
  // The console's own sentences first, then the shell's (INTERNAL, NOT_READY, ...).
  const known = (p as Record<string, string | undefined>)[error.code] ?? (t.problems as Record<string, string | undefined>)[error.code];
  let sentence = known ?? error.title;
  if (error.code === 'CODE_INVALID' && error.attempts_remaining !== undefined) sentence = `${sentence} ${t.platform.attemptsLeft(error.attempts_remaining)}`;
  if (error.retry_after !== undefined) sentence = `${sentence} ${t.platform.tryAgainIn(error.retry_after)}`;
  // The detail names a field or a limit ("body.phone: ...", "until must be after since"): useful when the sentence is generic.
  const detail = known === undefined || error.code === 'REQUEST_INVALID' || error.code === 'WEBHOOK_REPLAY_INVALID' ? (error.detail ?? null) : null;
  const code = error.status === 0 ? null : error.code;
  return { sentence, detail, code };
}

interface ConsoleErrorProps {
  /** What failed, in the page's words ("The verification could not be started."). */
  context: string;
  error: unknown;
  id?: string;
  action?: ReactNode;
  testId?: string;
}

export function ConsoleError({ context, error, id, action, testId }: ConsoleErrorProps) {
  const { t } = useI18n();
  const explained = explainError(error, t);
  return (
    <div className="error" role="alert" id={id} data-testid={testId} data-code={explained.code ?? undefined}>
      <p className="error-context">{context}</p>
      <p className="error-title">{explained.sentence}</p>
      {explained.detail ? <p className="error-detail">{explained.detail}</p> : null}
      {explained.code ? (
        <p className="error-code">
          {t.errorCode}: <code>{explained.code}</code>
        </p>
      ) : null}
      {action}
    </div>
  );
}

/** True when the hub has no such route (the feature is not on this hub yet): a note, not an alarm. */
export function isMissingRoute(error: unknown): boolean {
  return error instanceof IdbindError && error.status === 404 && error.code === 'NOT_FOUND';
}
