/**
 * The hosted verification pages (issue 4) at `/verify/<uid>`: where the OpenID Provider sends the
 * person's browser. One page for the whole flow, each stage of the hub's FlowState in turn:
 * choose a method (phone or national eID), type the SMS code, the guardian step for a person
 * under 16, the consent screen, and back to the platform. The hub decides every transition; the
 * page only shows the stage it is at and sends what the person typed.
 *
 * Outside the admin shell: no console navigation, no admin token or demo session (a person's page
 * has no business holding either); `/v1/meta` is read only to mark demo mode. Focus moves to the
 * heading of each new stage; errors are announced and tied to their field; the layout holds at
 * 360 px.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { publicApi } from '../../api/client.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import type { Language } from '../../i18n/messages.ts';
import { ChooseMethod } from './choose-method.tsx';
import { Consent } from './consent.tsx';
import { EnterCode } from './enter-code.tsx';
import { describeFlowError, fromState } from './flow-error.ts';
import { GuardianIntro } from './guardian-intro.tsx';
import { browserLanguages, chosenLanguage, detectLanguage, rememberChoice, splitUiLocales } from './language.ts';
import { StageHeading } from './parts.tsx';
import { useFlow, type Flow } from './use-flow.ts';
import { VerifyShell } from './verify-shell.tsx';

/** Demo mode or not, from the public `/v1/meta`; false until known or when it cannot be read. */
function useDemoMode(): boolean {
  const [demo, setDemo] = useState(false);
  useEffect(() => {
    let cancelled = false;
    publicApi
      .meta()
      .then((meta) => {
        if (!cancelled) setDemo(meta.mode === 'demo');
      })
      .catch(() => undefined); // only a badge and the demo SMS depend on it
    return () => {
      cancelled = true;
    };
  }, []);
  return demo;
}

/**
 * Picks the page's language once from the person's earlier choice in this tab, `ui_locales` (in
 * the address or, once loaded, in the FlowState) and the browser; the switch overrides it.
 */
function useVerifyLanguage(flowUiLocales: string | undefined): (language: Language) => void {
  const { language, setLanguage } = useI18n();
  const settled = useRef<'none' | 'address' | 'flow'>('none');
  useEffect(() => {
    const fromAddress = new URLSearchParams(window.location.search).get('ui_locales');
    const stage = flowUiLocales !== undefined ? 'flow' : 'address';
    if (settled.current === 'flow' || (settled.current === 'address' && stage === 'address')) return;
    settled.current = stage;
    const detected = detectLanguage({ chosen: chosenLanguage(), uiLocales: splitUiLocales(flowUiLocales ?? fromAddress), browser: browserLanguages() });
    if (detected !== language) setLanguage(detected);
  }, [flowUiLocales, language, setLanguage]);
  return useCallback(
    (next: Language) => {
      rememberChoice(next);
      setLanguage(next);
    },
    [setLanguage],
  );
}

function Leaving({ flow, url, to }: { flow: Flow; url: string; to: 'eid' | 'platform' }) {
  const { t } = useI18n();
  const v = t.verify;
  const platform = flow.platform ?? t.appName;
  return (
    <div className="verify-stage" data-testid="verify-stage" data-stage="leaving">
      <StageHeading>{to === 'eid' ? v.eidRedirecting : v.redirecting(platform)}</StageHeading>
      <p>
        <a href={url} data-testid="verify-redirect-link">
          {to === 'eid' ? v.eidRedirectLink : v.redirectLink(platform)}
        </a>
      </p>
    </div>
  );
}

export function VerifyPage({ uid }: { uid: string }) {
  const { t } = useI18n();
  const v = t.verify;
  const flow = useFlow(uid);
  const demo = useDemoMode();
  const state = flow.phase.phase === 'ready' ? flow.phase.state : null;
  const onLanguage = useVerifyLanguage(state?.ui_locales);
  // The guardian step is two screens on one stage: the young person reads why, then hands over.
  const [handedOver, setHandedOver] = useState(false);
  // The number as typed: kept for "use a different number", and for the demo SMS.
  const [typedPhone, setTypedPhone] = useState('');
  const [phoneOfCode, setPhoneOfCode] = useState<string | null>(null);

  const platformName = state?.platform.name ?? flow.platform;
  const title = platformName ? `${v.documentTitle(platformName)} · ${t.appName}` : t.appName;
  useEffect(() => {
    document.title = title;
  }, [title]);

  let body;
  let stageKey: string;
  const phase = flow.phase;
  if (phase.phase === 'loading') {
    stageKey = 'loading';
    body = (
      <p className="loading" role="status">
        {t.loading}
      </p>
    );
  } else if (phase.phase === 'failed') {
    stageKey = 'failed';
    body = (
      <div className="verify-stage" data-testid="verify-stage" data-stage="failed">
        <StageHeading>{v.loadFailed}</StageHeading>
        <div className="error" role="alert" data-testid="verify-error" data-code={phase.error.code}>
          <p className="error-title">{describeFlowError(phase.error, t)}</p>
        </div>
        <button type="button" className="button primary" onClick={flow.reload} data-testid="verify-retry">
          {t.retry}
        </button>
      </div>
    );
  } else if (phase.phase === 'gone') {
    stageKey = 'gone';
    body = (
      <div className="verify-stage" data-testid="verify-stage" data-stage="gone">
        <StageHeading>{v.expiredTitle}</StageHeading>
        <p className="verify-lead">{v.expiredBody}</p>
      </div>
    );
  } else if (phase.phase === 'leaving') {
    stageKey = `leaving:${phase.to}`;
    body = <Leaving flow={flow} url={phase.url} to={phase.to} />;
  } else {
    const s = phase.state;
    const platform = s.platform.name;
    const error = flow.error ?? fromState(s.error);
    const guardianChooses = s.stage === 'guardian_intro' && handedOver;
    stageKey = `${s.stage}:${s.role}:${guardianChooses ? 'handed-over' : ''}`;
    const sendPhone = (phone: string) => {
      setTypedPhone(phone);
      void flow.run('phone', (api) => api.startPhone(phone)).then((ok) => {
        if (ok) setPhoneOfCode(phone);
      });
    };
    const startEid = () => void flow.run('eid', (api) => api.startEid());
    if (s.stage === 'choose_method' || guardianChooses) {
      body = (
        <ChooseMethod
          platform={platform}
          role={guardianChooses ? 'guardian' : s.role}
          methods={s.methods}
          busy={flow.busy}
          error={error}
          initialPhone={typedPhone}
          onPhone={sendPhone}
          onEid={startEid}
        />
      );
    } else if (s.stage === 'phone_code' && s.phone) {
      body = (
        <EnterCode
          role={s.role}
          phone={s.phone}
          busy={flow.busy}
          error={error}
          demoNumber={demo ? phoneOfCode : null}
          onConfirm={(code) => void flow.run('confirm', (api) => api.confirmCode(code))}
          onResend={() => void flow.run('resend', (api) => api.resendCode())}
          onRestart={() => void flow.run('restart', (api) => api.restartPhone())}
        />
      );
    } else if (s.stage === 'guardian_intro') {
      body = (
        <GuardianIntro
          error={error}
          onContinue={() => {
            setTypedPhone('');
            setHandedOver(true);
          }}
        />
      );
    } else if (s.stage === 'consent' && s.consent) {
      const consent = s.consent;
      body = (
        <Consent
          platform={platform}
          role={s.role}
          consent={consent}
          busy={flow.busy}
          error={error}
          onAnswer={(agree) => void flow.run(agree ? 'agree' : 'decline', (api) => api.consent(agree))}
        />
      );
    } else {
      // `finished` without a redirect, or a stage without its data: nothing to do but reload.
      body = (
        <p className="loading" role="status">
          {t.loading}
        </p>
      );
    }
  }

  const cancellable = state !== null && state.stage !== 'consent' && state.stage !== 'finished';
  return (
    <VerifyShell platform={platformName} demo={demo} onLanguage={onLanguage}>
      <div className="verify-card" data-testid="verify-page">
        <div key={stageKey}>{body}</div>
        <p className="visually-hidden" role="status" aria-live="polite" data-testid="verify-announcement">
          {flow.announcement ? v[flow.announcement] : ''}
        </p>
      </div>
      {cancellable ? (
        <p className="verify-cancel">
          <button type="button" className="button subtle" disabled={flow.busy !== null} aria-busy={flow.busy === 'abort'} onClick={() => void flow.run('abort', (api) => api.abort())} data-testid="verify-cancel">
            {flow.busy === 'abort' ? v.cancelling : v.cancel(state.platform.name)}
          </button>
        </p>
      ) : null}
    </VerifyShell>
  );
}
