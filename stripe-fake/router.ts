import { errors } from './errors.js';
import type { FormObject } from './form.js';
import { type Param, type Parsed, parseParams } from './params.js';
import type { CollectionConfig } from './collection.js';
import type { Store } from './store.js';
import type { Webhooks } from './webhooks.js';

/** What a route can touch while it executes. */
export interface Ctx {
  store: Store;
  webhooks: Webhooks;
  requestId: string;
  idempotencyKey: string | null;
  /** How far behind writes search results are (Stripe's search index lags by up to a minute). */
  searchLagMs: number;
  /** Retry schedule and the rest of automatic collection. */
  collection: CollectionConfig;
  /** This server's URL (`http://127.0.0.1:<port>`), for links such as a portal session's. */
  serverUrl: string;
}

export type Method = 'GET' | 'POST' | 'DELETE';

export interface Route {
  method: Method;
  pattern: string;
  /**
   * Validates the parameters and returns the execution. Keeping the two apart is what lets a
   * request that fails validation leave nothing under its idempotency key, as in Stripe.
   */
  prepare(form: FormObject, path: Record<string, string>): (ctx: Ctx) => unknown;
}

export function route<S extends Record<string, Param<unknown>>>(
  method: Method,
  pattern: string,
  shape: S,
  run: (ctx: Ctx, p: Parsed<S>, path: Record<string, string>) => unknown,
  o: {
    /** Parameters Stripe accepts here that this server does not implement: refused by name. */
    unsupported?: readonly string[];
    /** Rules between parameters, checked with the rest of validation. */
    check?: (p: Parsed<S>) => void;
  } = {},
): Route {
  return {
    method,
    pattern,
    prepare(form, path) {
      const p = parseParams(shape, form, o.unsupported);
      o.check?.(p);
      return (ctx) => run(ctx, p, path);
    },
  };
}

export type Match = { route: Route; path: Record<string, string> };

/** The first route whose pattern fits (`:name` segments capture); 'method' if only the method is wrong. */
export function match(routes: readonly Route[], method: string, pathname: string): Match | 'method' | null {
  const parts = pathname.split('/');
  let pathOnly = false;
  for (const r of routes) {
    const want = r.pattern.split('/');
    if (want.length !== parts.length) continue;
    const captured: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < want.length && ok; i++) {
      const w = want[i] ?? '';
      const got = parts[i] ?? '';
      if (w.startsWith(':')) {
        if (got === '') ok = false;
        else captured[w.slice(1)] = safeDecode(got);
      } else if (w !== got) {
        ok = false;
      }
    }
    if (!ok) continue;
    if (r.method !== method) {
      pathOnly = true;
      continue;
    }
    return { route: r, path: captured };
  }
  return pathOnly ? 'method' : null;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Checks `expand` against what this endpoint can expand. */
export function checkExpand(expand: readonly string[] | undefined, allowed: readonly string[]): string[] {
  for (const e of expand ?? []) if (!allowed.includes(e)) throw errors.cannotExpand(e);
  return [...(expand ?? [])];
}
