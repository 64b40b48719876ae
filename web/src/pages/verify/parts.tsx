/**
 * Small pieces every stage of the hosted flow uses: the stage heading, which takes focus when the
 * stage appears (a screen-reader user hears where they are now, and keyboard users continue from
 * the top of the new step), and the error box, announced at once (`role="alert"`) and named by
 * the field it is about through that field's `aria-describedby`.
 */
import { useEffect, useRef, type ReactNode } from 'react';
import { useI18n } from '../../i18n/i18n.tsx';
import { describeFlowError, type FlowError } from './flow-error.ts';

export function StageHeading({ children, testId = 'verify-heading' }: { children: ReactNode; testId?: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  // Mounted once per stage (the page keys each stage), so this runs on every stage change.
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1} className="verify-heading" data-testid={testId}>
      {children}
    </h1>
  );
}

export function FlowErrorBox({ error, id }: { error: FlowError; id: string }) {
  const { t } = useI18n();
  return (
    <div className="error verify-error" role="alert" id={id} data-testid="verify-error" data-code={error.code}>
      <p className="error-title">{describeFlowError(error, t)}</p>
      <p className="error-code">
        {t.verify.errorCode} <code>{error.code}</code>
      </p>
    </div>
  );
}

/** `aria-describedby` from the ids that are present. */
export function describedBy(...ids: (string | false | null | undefined)[]): string | undefined {
  const present = ids.filter((id): id is string => typeof id === 'string' && id !== '');
  return present.length > 0 ? present.join(' ') : undefined;
}
