import { useEffect, useState } from 'preact/hooks';

/**
 * Hash routes (`#/customers/cus_123`): the server serves one document at /console and every
 * page lives after the `#`, so a reload or a shared link opens the same page. A route is its
 * path segments, decoded.
 */
export type Route = readonly string[];

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  return path
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
}

/** The href of a route: `link('customers', id)` → `#/customers/<id, encoded>`. */
export const link = (...segments: string[]): string => `#/${segments.map((s) => encodeURIComponent(s)).join('/')}`;

export function navigate(...segments: string[]): void {
  location.hash = link(...segments);
}

/** The current route, following the address bar. */
export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseHash(location.hash));
  useEffect(() => {
    const follow = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, []);
  return route;
}
