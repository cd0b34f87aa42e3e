import type { ComponentChildren } from 'preact';
import { describeError } from '../api';
import type { Loaded } from '../hooks';

export const Loading = ({ what }: { what: string }) => (
  <p class="muted" role="status">
    Loading {what}…
  </p>
);

/** A failed call, with the API's stable code and message. */
export const ErrorMessage = ({ error, what }: { error: unknown; what?: string }) => (
  <p class="error" role="alert">
    {what === undefined ? '' : `Could not load ${what}. `}
    {describeError(error)}
  </p>
);

/** Renders a load: a loading note, its error, or `children(data)`. */
export function Show<T>({ loaded, what, children }: { loaded: Loaded<T>; what: string; children: (data: T) => ComponentChildren }) {
  if (loaded.state === 'loading') return <Loading what={what} />;
  if (loaded.state === 'error') return <ErrorMessage error={loaded.error} what={what} />;
  return <>{children(loaded.data)}</>;
}
