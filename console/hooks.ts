import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { type Api, isAbort } from './api';

/** The signed-in key's API client, given by the app to every page. */
export const ApiContext = createContext<Api | null>(null);

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (api === null) throw new Error('useApi outside a signed-in console');
  return api;
}

/**
 * `useState` kept in the browser history's entry for this page (`history.state`), under `key`:
 * a list's page and filters come back with Back, Forward or a reload, as people expect of a
 * list they left to open one of its rows. Values must be plain data (structured-cloned).
 */
export function useKept<T>(key: string, initial: T): [T, (next: T | ((previous: T) => T)) => void] {
  const [value, setValue] = useState<T>(() => {
    const kept = (history.state as Record<string, unknown> | null)?.[key];
    return kept === undefined ? initial : (kept as T);
  });
  const set = (next: T | ((previous: T) => T)) =>
    setValue((previous) => {
      const value = typeof next === 'function' ? (next as (p: T) => T)(previous) : next;
      history.replaceState({ ...((history.state as Record<string, unknown> | null) ?? {}), [key]: value }, '');
      return value;
    });
  return [value, set];
}

export type Loaded<T> = { state: 'loading' } | { state: 'ok'; data: T } | { state: 'error'; error: unknown };

/**
 * Loads once per change of `deps` (aborting the previous load) and on `reload()`. After a
 * change of deps the old answer is dropped (it was about something else); on a reload it stays
 * on screen until the new one arrives.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): [Loaded<T>, () => void] {
  const [result, setResult] = useState<Loaded<T>>({ state: 'loading' });
  const [generation, setGeneration] = useState(0);
  const lastGeneration = useRef(generation);
  useEffect(() => {
    const controller = new AbortController();
    const reloading = lastGeneration.current !== generation;
    lastGeneration.current = generation;
    if (!reloading) setResult({ state: 'loading' });
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setResult({ state: 'ok', data });
      },
      (error: unknown) => {
        if (!controller.signal.aborted && !isAbort(error)) setResult({ state: 'error', error });
      },
    );
    return () => controller.abort();
  }, [...deps, generation]);
  return [result, () => setGeneration((g) => g + 1)];
}

export interface Polled<T> {
  data: T | undefined;
  error: unknown;
  /** When the shown data arrived. */
  at: Date | undefined;
}

/**
 * Loads now and then every `intervalMs` after each answer, while the page is shown: polling
 * stops while the tab is hidden (resuming at once when it is shown again) and for good when the
 * component goes (the page is left), aborting a request in flight.
 */
export function usePolling<T>(load: (signal: AbortSignal) => Promise<T>, intervalMs: number): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: undefined, error: undefined, at: undefined });
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let controller: AbortController | undefined;
    let stopped = false;
    const tick = async () => {
      timer = undefined;
      controller = new AbortController();
      const signal = controller.signal;
      try {
        const data = await loadRef.current(signal);
        if (!signal.aborted) setState({ data, error: undefined, at: new Date() });
      } catch (error) {
        if (!signal.aborted && !isAbort(error)) setState((s) => ({ ...s, error }));
      }
      if (controller?.signal === signal) controller = undefined;
      if (!stopped && !document.hidden && controller === undefined) timer = setTimeout(() => void tick(), intervalMs);
    };
    const onVisibility = () => {
      if (document.hidden) {
        clearTimeout(timer);
        timer = undefined;
        controller?.abort();
        controller = undefined;
      } else if (timer === undefined && controller === undefined) {
        void tick();
      }
    };
    document.addEventListener('visibilitychange', onVisibility);
    if (!document.hidden) void tick();
    return () => {
      stopped = true;
      document.removeEventListener('visibilitychange', onVisibility);
      clearTimeout(timer);
      controller?.abort();
    };
  }, [intervalMs]);
  return state;
}
