/**
 * The platform console (issue 3 "SDK and console"): a platform signs in with its API key and
 * sees its profile, tries a verification end to end, reads its verification statistics, manages
 * its API keys, its webhook (URL, secret, test event, delivery log) and its OpenID Connect client
 * (issue 4: redirect URIs, PAR, client authentication, client secret). It talks to the hub
 * through @idbind/sdk (the OpenID client settings, which the SDK does not cover, through
 * api/oidc-client.ts), with the platform's key: what the console shows is exactly what the
 * platform's own backend can read, no more. It does not need the admin token, so it is not
 * behind the shell's admin sign-in.
 */
import { useCallback, useEffect, useId, useState } from 'react';
import { publicApi } from '../../api/client.ts';
import type { DemoSession } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { useAuth } from '../../shell/auth.tsx';
import { ErrorMessage } from '../../shell/errors.tsx';
import { ConsoleError } from './console-error.tsx';
import { Credentials } from './credentials.tsx';
import { OidcClientSettingsSection } from './oidc-client-settings.tsx';
import { PlatformSignIn } from './platform-sign-in.tsx';
import { TryVerification } from './try-verification.tsx';
import { usePlatformSession } from './use-platform-session.ts';
import { VerificationStats } from './verification-stats.tsx';
import { WebhookSettings } from './webhook-settings.tsx';

/** The demo session's platforms and sample numbers, in demo mode only; `settled` once asked. */
function useDemoSession(demo: boolean): { session: DemoSession | null; settled: boolean } {
  const [state, setState] = useState<{ session: DemoSession | null; settled: boolean }>({ session: null, settled: false });
  useEffect(() => {
    if (!demo) return;
    let cancelled = false;
    publicApi
      .demoSession()
      .then((session) => {
        if (!cancelled) setState({ session, settled: true });
      })
      // Without it the console still works with a pasted key: nothing to report.
      .catch(() => {
        if (!cancelled) setState({ session: null, settled: true });
      });
    return () => {
      cancelled = true;
    };
  }, [demo]);
  return state;
}

export function PlatformPage() {
  const { t } = useI18n();
  const k = t.platform;
  const auth = useAuth();
  const demo = auth.meta?.mode === 'demo';
  const { session: demoSession, settled: demoSettled } = useDemoSession(demo);
  const session = usePlatformSession();
  const navId = useId();
  // Bumped after a verification so the statistics reload.
  const [generation, setGeneration] = useState(0);
  const changed = useCallback(() => setGeneration((n) => n + 1), []);

  if (auth.state.phase === 'failed') {
    return <ErrorMessage context={t.loadFailed} error={auth.state.error} action={<button type="button" className="button" onClick={auth.retry}>{t.retry}</button>} />;
  }
  if (auth.state.phase === 'loading' || session.state.phase === 'checking' || (demo && !demoSettled && session.state.phase === 'signedOut')) {
    return (
      <p className="loading" role="status">
        {t.loading}
      </p>
    );
  }
  if (session.state.phase === 'failed') {
    return (
      <ConsoleError
        context={k.sessionCheckFailed}
        error={session.state.error}
        testId="platform-session-error"
        action={
          <div className="form-actions">
            <button type="button" className="button" onClick={session.retry}>
              {t.retry}
            </button>
            <button type="button" className="button subtle" onClick={session.signOut}>
              {k.signOut}
            </button>
          </div>
        }
      />
    );
  }
  if (session.state.phase === 'signedOut') {
    return <PlatformSignIn expired={session.state.expired} demoPlatforms={demoSession?.platforms ?? []} signIn={session.signIn} />;
  }

  const { client, info } = session.state;
  const p = info.provider;
  return (
    <div className="page platform-console" data-testid="platform-page" data-provider-id={p.id}>
      <div className="page-heading">
        <h1 data-testid="page-heading">{k.title}</h1>
        <button type="button" className="button subtle" onClick={session.signOut} data-testid="platform-sign-out">
          {k.signOut}
        </button>
      </div>
      <p className="intro">{k.intro}</p>

      <section className="card provider-card" aria-label={k.profileTitle}>
        <dl className="facts">
          <div>
            <dt>{k.profileName}</dt>
            <dd data-testid="provider-name">{p.name}</dd>
          </div>
          <div>
            <dt>{k.profileKind}</dt>
            <dd>{k.kind[p.kind]}</dd>
          </div>
          <div>
            <dt>{k.profileLegal}</dt>
            <dd>{k.profile[p.legal_profile]}</dd>
          </div>
          <div>
            <dt>{k.profileStatus}</dt>
            <dd>{p.status === 'active' ? k.statusActive : k.statusDisabled}</dd>
          </div>
        </dl>
      </section>

      <nav aria-labelledby={navId} className="page-toc">
        <h2 id={navId} className="visually-hidden">
          {k.onThisPage}
        </h2>
        <ul>
          <li>
            <a href="#try">{k.tryTitle}</a>
          </li>
          <li>
            <a href="#stats">{k.statsTitle}</a>
          </li>
          <li>
            <a href="#credentials">{k.credentialsTitle}</a>
          </li>
          <li>
            <a href="#webhooks">{k.webhooksTitle}</a>
          </li>
          <li>
            <a href="#oidc">{k.oidcTitle}</a>
          </li>
        </ul>
      </nav>

      <TryVerification client={client} demo={demo} sampleNumbers={demoSession?.sample_numbers ?? []} onError={session.handleError} onChange={changed} />
      <VerificationStats client={client} generation={generation} onError={session.handleError} />
      <Credentials client={client} info={info} replaceKey={session.replaceKey} onError={session.handleError} />
      <WebhookSettings client={client} provider={p} updateProvider={session.updateProvider} onError={session.handleError} />
      <OidcClientSettingsSection apiKey={session.state.apiKey} onError={session.handleError} />
    </div>
  );
}
