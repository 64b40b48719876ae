/**
 * Errors of the authority console in a person's words: the hub's stable problem `code` picks a
 * sentence in the page's language; a passkey ceremony that the person cancelled or let time out
 * (WebAuthn's NotAllowedError, W3C WebAuthn Level 3 5.1.3 step 22) says so; anything else shows the
 * hub's title and detail as they are. The code is shown small, for support.
 */
import { ApiError } from '../../api/client.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import type { Messages } from '../../i18n/messages.ts';
import { describeError } from '../../shell/errors.tsx';

export function explainAuthorityError(error: unknown, t: Messages): { sentence: string; detail: string | null; code: string | null } {
  const k = t.authority;
  if (error instanceof ApiError) {
    const code = error.problem?.code ?? null;
    const known = code ? k.problems[code] : undefined;
    if (known) return { sentence: known, detail: null, code };
  } else if (error instanceof Error && (error.name === 'NotAllowedError' || error.name === 'AbortError')) {
    return { sentence: k.passkeyCancelled, detail: null, code: null };
  }
  const d = describeError(error, t);
  return { sentence: d.title, detail: d.detail, code: d.code };
}

export function AuthorityError({ context, error, id, testId }: { context: string; error: unknown; id?: string; testId?: string }) {
  const { t } = useI18n();
  const e = explainAuthorityError(error, t);
  return (
    <div className="error" role="alert" id={id} data-testid={testId}>
      <p className="error-context">{context}</p>
      <p className="error-title">{e.sentence}</p>
      {e.detail && e.detail !== e.sentence ? <p className="error-detail">{e.detail}</p> : null}
      {e.code ? (
        <p className="error-code">
          {t.errorCode}: <code>{e.code}</code>
        </p>
      ) : null}
    </div>
  );
}
