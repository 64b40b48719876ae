/**
 * The consent screen: shown only when the platform's legal profile lets it retain personal data
 * (Decree 147 Art. 23/27). It names the platform, lists what it asks for in words, states the
 * purpose and legal basis the platform registered, and asks. "Do not share" sends the person back
 * to the platform unverified (access denied), and says so before they choose. Either answer is
 * recorded by the hub.
 */
import { useId } from 'react';
import type { FlowRole, FlowState } from '../../api/verify.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import type { FlowError } from './flow-error.ts';
import { FlowErrorBox, StageHeading } from './parts.tsx';
import type { Busy } from './use-flow.ts';

interface ConsentProps {
  platform: string;
  role: FlowRole;
  consent: NonNullable<FlowState['consent']>;
  busy: Busy;
  error: FlowError | null;
  onAnswer(agree: boolean): void;
}

export function Consent({ platform, role, consent, busy, error, onAnswer }: ConsentProps) {
  const { t } = useI18n();
  const v = t.verify;
  const ids = { error: useId(), list: useId() };
  const guardian = role === 'guardian';
  return (
    <div className="verify-stage" data-testid="verify-stage" data-stage="consent" data-role={role}>
      <StageHeading>{guardian ? v.consentGuardianTitle(platform) : v.consentTitle(platform)}</StageHeading>
      {error ? <FlowErrorBox error={error} id={ids.error} /> : null}
      <p className="verify-lead" id={ids.list}>
        {guardian ? v.consentGuardianIntro(platform) : v.consentIntro(platform)}
      </p>
      <ul className="consent-claims" aria-labelledby={ids.list} data-testid="consent-claims">
        {consent.claims.map((claim) => (
          <li key={claim} data-claim={claim}>
            {v.claim[claim]}
          </li>
        ))}
      </ul>
      <dl className="consent-facts">
        <div>
          <dt>{v.consentPurpose}</dt>
          <dd data-testid="consent-purpose">{consent.purpose}</dd>
        </div>
        <div>
          <dt>{v.consentLegalBasis}</dt>
          <dd data-testid="consent-legal-basis">{consent.legal_basis}</dd>
        </div>
      </dl>
      <p className="hint">{v.consentNeverShared(platform)}</p>
      <p className="hint">{v.consentDeclineEffect(platform)}</p>
      <div className="form-actions consent-actions">
        <button type="button" className="button primary wide" disabled={busy !== null} aria-busy={busy === 'agree'} onClick={() => onAnswer(true)} data-testid="consent-agree">
          {v.agree}
        </button>
        <button type="button" className="button wide" disabled={busy !== null} aria-busy={busy === 'decline'} onClick={() => onAnswer(false)} data-testid="consent-decline">
          {v.decline}
        </button>
      </div>
    </div>
  );
}
