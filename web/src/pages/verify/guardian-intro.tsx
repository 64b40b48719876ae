/**
 * The person is under 16 (Decree 147/2024 Art. 27): they cannot verify alone. This step says so
 * kindly, to the young person, and hands the device to a parent or guardian, who then verifies
 * themselves (phone or eID) in the same flow. The hub checks that this adult is a registered
 * guardian of this person; any other adult is refused with GUARDIAN_NOT_LISTED.
 */
import { useId } from 'react';
import { useI18n } from '../../i18n/i18n.tsx';
import type { FlowError } from './flow-error.ts';
import { FlowErrorBox, StageHeading } from './parts.tsx';

export function GuardianIntro({ error, onContinue }: { error: FlowError | null; onContinue(): void }) {
  const { t } = useI18n();
  const v = t.verify;
  const errorId = useId();
  return (
    <div className="verify-stage" data-testid="verify-stage" data-stage="guardian_intro" data-role="subject">
      <StageHeading>{v.guardianTitle}</StageHeading>
      {error ? <FlowErrorBox error={error} id={errorId} /> : null}
      <p className="verify-lead">{v.guardianWhy}</p>
      <p className="verify-kind">{v.guardianKind}</p>
      <p>{v.guardianHow}</p>
      <div className="form-actions">
        <button type="button" className="button primary wide" onClick={onContinue} data-testid="verify-guardian-continue">
          {v.guardianContinue}
        </button>
      </div>
    </div>
  );
}
