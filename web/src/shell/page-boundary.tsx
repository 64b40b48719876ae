/**
 * Around each lazily loaded page (app.tsx): if the page's code cannot be fetched (a lost
 * connection on a phone, or a hub updated since the app was opened, whose new build no longer has
 * the old chunk) or the page throws while rendering, the person sees what happened and a button
 * that reloads the app, instead of a blank screen. React catches render errors only in a class
 * component (`getDerivedStateFromError`).
 */
import { Component, type ReactNode } from 'react';
import { useI18n } from '../i18n/i18n.tsx';
import { ErrorMessage } from './errors.tsx';

function PageLoadFailed({ error }: { error: unknown }) {
  const { t } = useI18n();
  return (
    <ErrorMessage
      context={t.pageLoadFailed}
      error={error}
      testId="page-load-failed"
      action={
        <button type="button" className="button" onClick={() => window.location.reload()}>
          {t.reloadPage}
        </button>
      }
    />
  );
}

interface State {
  failed: boolean;
  error: unknown;
}

/** Give it a `key` (app.tsx's LazyPage): a new key starts with a fresh boundary. */
export class PageBoundary extends Component<{ children: ReactNode }, State> {
  override state: State = { failed: false, error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { failed: true, error };
  }

  override render(): ReactNode {
    return this.state.failed ? <PageLoadFailed error={this.state.error} /> : this.props.children;
  }
}
