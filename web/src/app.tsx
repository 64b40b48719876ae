/**
 * The app shell: skip link, header, the page of the current path behind the sign-in gate, footer.
 * Routes are declared here; `/` redirects to the regulator's `/registries`. `/platform` is the
 * platform console, which signs in with a platform's own API key and so is not behind the admin
 * sign-in (`admin: false`). Later issues add the citizen, authority and regulator pages to `routes`.
 *
 * `/verify/<uid>` (the hosted verification pages, where the OpenID Provider sends a person) is not
 * a route of this shell: it is for a person, not staff, so it gets its own plain frame, without the
 * consoles' navigation, and without the auth layer, which would open a demo session or ask the
 * regulator's staff to sign in.
 */
import { lazy, Suspense, useEffect, type ReactNode } from 'react';
import { useI18n } from './i18n/i18n.tsx';
import type { Messages } from './i18n/messages.ts';
import { AuthProvider, useAuth } from './shell/auth.tsx';
import { ErrorMessage } from './shell/errors.tsx';
import { Header } from './shell/header.tsx';
import { Link, navigate, usePath } from './shell/router.tsx';
import { SignIn } from './shell/sign-in.tsx';
import { PageBoundary } from './shell/page-boundary.tsx';
import { requestsView } from './pages/authority/requests-parts.tsx';

// Each page is a chunk of its own, fetched when its path is first opened: a person on the hosted
// verification pages or their own view, often on a phone, does not download the staff consoles.
// (As one bundle the app had passed Vite's 500 kB warning for a chunk.)
const RegistriesPage = lazy(() => import('./pages/registries/registries-page.tsx').then((m) => ({ default: m.RegistriesPage })));
const PlatformPage = lazy(() => import('./pages/platform/platform-page.tsx').then((m) => ({ default: m.PlatformPage })));
const VerifyPage = lazy(() => import('./pages/verify/verify-page.tsx').then((m) => ({ default: m.VerifyPage })));
const CitizenPage = lazy(() => import('./pages/citizen/citizen-page.tsx').then((m) => ({ default: m.CitizenPage })));
const AuthorityPage = lazy(() => import('./pages/authority/authority-page.tsx').then((m) => ({ default: m.AuthorityPage })));
const AuthorityRequests = lazy(() => import('./pages/authority/requests.tsx').then((m) => ({ default: m.AuthorityRequests })));
const TransparencyPage = lazy(() => import('./pages/transparency/transparency-page.tsx').then((m) => ({ default: m.TransparencyPage })));
const EnrolPage = lazy(() => import('./pages/authority/enrol-page.tsx').then((m) => ({ default: m.EnrolPage })));

/** Shown while a page's chunk loads. */
function PageLoading() {
  const { t } = useI18n();
  return (
    <p className="loading" role="status">
      {t.loading}
    </p>
  );
}

/**
 * A lazily loaded page: a loading line while its chunk arrives, an error with a reload if it
 * cannot. `pageKey` starts a fresh boundary when it changes.
 */
function LazyPage({ pageKey, children }: { pageKey: string; children: ReactNode }) {
  return (
    <PageBoundary key={pageKey}>
      <Suspense fallback={<PageLoading />}>{children}</Suspense>
    </PageBoundary>
  );
}

interface Route {
  path: string;
  title(t: Messages): string;
  render(): ReactNode;
  /** Shown in the main navigation. */
  nav: boolean;
  /** Needs the admin API (behind the admin sign-in: the regulator staff's passkey, or demo mode's token); false for pages with their own sign-in. */
  admin: boolean;
}

const routes: Route[] = [
  { path: '/registries', title: (t) => t.registriesTitle, render: () => <RegistriesPage />, nav: true, admin: true },
  { path: '/platform', title: (t) => t.platform.title, render: () => <PlatformPage />, nav: true, admin: false },
  // The authority console: officials sign in with their own passkeys, not the admin token.
  { path: '/authority', title: (t) => t.authority.title, render: () => <AuthorityPage requests={(o) => <AuthorityRequests official={o} />} />, nav: true, admin: false },
  { path: '/authority/enrol', title: (t) => t.authority.enrolTitle, render: () => <EnrolPage />, nav: false, admin: false },
  // The public transparency report (issue 5): no sign-in.
  { path: '/transparency', title: (t) => t.transparency.title, render: () => <TransparencyPage />, nav: true, admin: false },
];

/** The disclosure request pages under /authority/requests/ render in the console's frame, like /authority. */
const authorityRoute = routes.find((r) => r.path === '/authority')!;

const redirects: Record<string, string> = { '/': '/registries', '/index.html': '/registries' };

/** Shows `children` once the admin API can be called; the sign-in form or the failure otherwise. */
function AdminGate({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  const { state, retry } = useAuth();
  switch (state.phase) {
    case 'loading':
      return <PageLoading />;
    case 'failed':
      return (
        <ErrorMessage
          context={t.loadFailed}
          error={state.error}
          testId="auth-error"
          action={
            <button type="button" className="button" onClick={retry}>
              {t.retry}
            </button>
          }
        />
      );
    case 'signIn':
      return <SignIn />;
    case 'ready':
      return <>{children}</>;
  }
}

function Footer() {
  const { t } = useI18n();
  const { meta } = useAuth();
  if (!meta) return null;
  return (
    <footer className="site-footer">
      <p>
        {t.appName} · {t.versionLabel(meta.version)} · {meta.mode === 'demo' ? t.modeDemo : t.modeProduction}
      </p>
    </footer>
  );
}

function NotFound() {
  const { t } = useI18n();
  return (
    <section className="card">
      <h1>{t.notFoundTitle}</h1>
      <p>{t.notFoundBody}</p>
      <p>
        <Link to="/registries">{t.goToRegistries}</Link>
      </p>
    </section>
  );
}

function Shell() {
  const { t } = useI18n();
  const path = usePath();
  const normalised = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const redirect = redirects[normalised] ?? (normalised !== path ? normalised : undefined);
  const route = routes.find((r) => r.path === normalised) ?? (requestsView(normalised) ? authorityRoute : undefined);

  useEffect(() => {
    if (redirect) navigate(redirect, { replace: true });
  }, [redirect]);

  const title = route ? route.title(t) : t.notFoundTitle;
  useEffect(() => {
    document.title = `${title} · ${t.appName}`;
  }, [title, t]);

  return (
    <>
      <a className="skip-link" href="#main">
        {t.skipToContent}
      </a>
      <Header nav={routes.filter((r) => r.nav).map((r) => ({ path: r.path, label: r.title(t) }))} />
      <main id="main" tabIndex={-1}>
        {/* Keyed by the route, not the path: the authority console stays mounted across its request pages. */}
        <LazyPage pageKey={route?.path ?? normalised}>
          {redirect ? null : route ? route.admin ? <AdminGate>{route.render()}</AdminGate> : route.render() : <NotFound />}
        </LazyPage>
      </main>
      <Footer />
    </>
  );
}

/** `/verify/<uid>` (a trailing slash allowed): the interaction id, or null for any other path. */
function verifyUid(path: string): string | null {
  const match = /^\/verify\/([^/]+)\/?$/.exec(path);
  if (!match?.[1]) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null; // a malformed escape: not a page of ours
  }
}

/** `/citizen` (a trailing slash allowed). */
function isCitizenPath(path: string): boolean {
  return /^\/citizen\/?$/.test(path);
}

export function App() {
  const path = usePath();
  const uid = verifyUid(path);
  if (uid !== null) {
    return (
      <LazyPage pageKey={path}>
        <VerifyPage uid={uid} />
      </LazyPage>
    );
  }
  // The person's own view (issue 5): a person's page, outside the admin shell like /verify.
  if (isCitizenPath(path)) {
    return (
      <LazyPage pageKey={path}>
        <CitizenPage />
      </LazyPage>
    );
  }
  return (
    <AuthProvider>
      <Shell />
    </AuthProvider>
  );
}
