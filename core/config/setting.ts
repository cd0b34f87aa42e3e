import type { Kind } from './kinds.js';

/** What a setting's `then` and `check` may look at besides its own value. */
export interface Context {
  /** The directory relative paths are resolved against. */
  readonly cwd: string;
  /** Every variable's value as read (before any `then`), by variable name. */
  readonly values: Readonly<Record<string, unknown>>;
}

interface Common<At extends string, T, V, Out> {
  /** The environment variable. */
  readonly variable: string;
  /** Where the value goes in `Config`: a top-level key or `group.key`. */
  readonly at: At;
  readonly kind: Kind<T>;
  /** One line for `--help`. */
  readonly doc: string;
  /** Turns the value read into the one `Config` holds (a unit, a path, a value another variable decides). */
  readonly then?: (value: V, context: Context) => Out;
  /** A rule involving other variables, checked once every variable has been read; the message if broken. */
  readonly check?: (value: V, context: Context) => string | undefined;
  /** The default as text, when `String` would not say it (a value that is an object). */
  readonly show?: (value: T) => string;
}

/** A setting with a value when the variable is unset. */
type WithDefault<At extends string, T, Out> = Common<At, T, T, Out> & { readonly default: NoInfer<T>; readonly unset?: never };

/** A setting that may stay unset; `unset` says what happens then, for `--help` and the README. */
type Optional<At extends string, T, Out> = Common<At, T, T | undefined, Out> & { readonly unset: string; readonly default?: never };

/** A declared setting, in the form `loadConfig` and the documentation use. */
export interface Setting<At extends string = string, Out = unknown> {
  readonly variable: string;
  readonly at: At;
  readonly doc: string;
  /** What an unset variable means, for a setting without a default value. */
  readonly unset: string | undefined;
  /** The default as `--help` shows it: the value, or in parentheses what unset means. */
  readonly shownDefault: string;
  /** The value of the variable's text (`undefined` when absent), or why it is refused. */
  readonly read: (raw: string | undefined) => unknown;
  readonly check: (value: unknown, context: Context) => string | undefined;
  /** The value `Config` holds; its return type is the type of `Config`'s field. */
  readonly finish: (value: unknown, context: Context) => Out;
}

export function setting<const At extends string, T, Out = T>(declaration: WithDefault<At, T, Out>): Setting<At, Out>;
export function setting<const At extends string, T, Out = T | undefined>(declaration: Optional<At, T, Out>): Setting<At, Out>;
export function setting(declaration: WithDefault<string, unknown, unknown> | Optional<string, unknown, unknown>): Setting {
  const { variable, at, doc, kind, then, check, unset, show } = declaration;
  const fallback = unset !== undefined ? undefined : declaration.default;
  return {
    variable,
    at,
    doc,
    unset,
    shownDefault: unset !== undefined ? `(${unset})` : show !== undefined ? show(fallback) : String(fallback),
    read: (raw) => (raw === undefined || kind.isUnset(raw) ? fallback : kind.read(raw)),
    check: (value, context) => check?.(value, context),
    finish: (value, context) => (then === undefined ? value : then(value, context)),
  };
}
