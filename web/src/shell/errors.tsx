/**
 * Shows a failed request readably: the context ("The figures could not be loaded."), then a
 * sentence in the page's language for a problem `code` the app knows (`t.problems`), else the
 * hub's RFC 9457 problem `title` and `detail` as it sent them (in English), and the stable error
 * `code` for support. Unreachable hub and non-problem errors get a sentence in the page's language.
 */
import type { ReactNode } from 'react';
import { ApiError } from '../api/client.ts';
import { useI18n } from '../i18n/i18n.tsx';
import type { Messages } from '../i18n/messages.ts';

export interface DescribedError {
  title: string;
  detail: string | null;
  code: string | null;
}

export function describeError(error: unknown, t: Messages): DescribedError {
  if (error instanceof ApiError) {
    if (error.status === 0) return { title: t.errorNetwork, detail: null, code: null };
    const problem = error.problem;
    // A code the app knows reads in the page's language; the hub's title and detail are English.
    const known = problem?.code ? (t.problems as Record<string, string | undefined>)[problem.code] : undefined;
    if (known) return { title: known, detail: null, code: problem?.code ?? null };
    return {
      title: problem?.title ?? t.errorHttp(error.status),
      detail: problem?.detail ?? null,
      code: problem?.code ?? null,
    };
  }
  return { title: error instanceof Error ? error.message : String(error), detail: null, code: null };
}

interface ErrorMessageProps {
  /** What failed, in the page's words. */
  context: string;
  error: unknown;
  action?: ReactNode;
  testId?: string;
}

export function ErrorMessage({ context, error, action, testId }: ErrorMessageProps) {
  const { t } = useI18n();
  const described = describeError(error, t);
  return (
    <div className="error" role="alert" data-testid={testId}>
      <p className="error-context">{context}</p>
      <p className="error-title">{described.title}</p>
      {described.detail && described.detail !== described.title ? (
        <p className="error-detail">{described.detail}</p>
      ) : null}
      {described.code ? (
        <p className="error-code">
          {t.errorCode}: <code>{described.code}</code>
        </p>
      ) : null}
      {action}
    </div>
  );
}
