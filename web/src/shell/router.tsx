/**
 * A small path-based router (History API). The hub serves index.html for every non-API path, so
 * `/registries` can be bookmarked and reloaded. Routes are declared once in app.tsx; later issues
 * add their pages (citizen, platform console, authority console, regulator dashboard, hosted
 * verification) there.
 */
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

const NAVIGATE_EVENT = 'idbind:navigate';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(NAVIGATE_EVENT, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(NAVIGATE_EVENT, onChange);
  };
}

function currentPath(): string {
  return window.location.pathname;
}

/** The current path; components using it re-render on navigation. */
export function usePath(): string {
  return useSyncExternalStore(subscribe, currentPath, currentPath);
}

/** Goes to `path` without reloading; `replace` leaves no history entry (redirects). */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === window.location.pathname) return;
  if (options.replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string };

/** An ordinary link (so open-in-new-tab and the keyboard work) that navigates in place on a plain click. */
export function Link({ to, onClick, ...rest }: LinkProps) {
  const path = usePath();
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} aria-current={path === to ? 'page' : undefined} onClick={handle} {...rest} />;
}
