import { Refusal } from './config/kinds.js';
import type { Context } from './config/setting.js';
import { SETTINGS } from './config/settings.js';

/**
 * The one place that reads the environment. `loadConfig` validates every variable, names the
 * variable and what is allowed when one is wrong, and returns a frozen object that is passed
 * down; nothing else touches `process.env`. The settings themselves, and so the shape of
 * `Config`, are declared once in `config/settings.ts`.
 */

export { LOG_LEVELS, SETTINGS } from './config/settings.js';

type Declared = (typeof SETTINGS)[number];
type Path = Declared['at'];
type ValueAt<P extends string> = ReturnType<Extract<Declared, { at: P }>['finish']>;
type TopKey<P> = P extends `${string}.${string}` ? never : P;
type GroupKey<P> = P extends `${infer G}.${string}` ? G : never;
type FieldKey<P, G extends string> = P extends `${G}.${infer F}` ? F : never;

type Top = { readonly [P in TopKey<Path>]: ValueAt<P> };
type Groups = { readonly [G in GroupKey<Path>]: { readonly [F in FieldKey<Path, G>]: ValueAt<`${G}.${F}`> } };

/** The settings by where they go (`config.http.maxBodyBytes`), each with the type its kind reads. */
export type Config = { readonly [K in keyof (Top & Groups)]: (Top & Groups)[K] };
export type IngestConfig = Config['ingest'];

/** A configuration problem: every bad variable with what is allowed. */
export class ConfigError extends Error {
  readonly problems: readonly { variable: string; message: string }[];
  constructor(problems: readonly { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  const values: Record<string, unknown> = {};
  const refused: { variable: string; message: string }[] = [];
  for (const s of SETTINGS) {
    const value = s.read(env[s.variable]);
    if (value instanceof Refusal) refused.push({ variable: s.variable, message: value.message });
    else values[s.variable] = value;
  }
  if (refused.length > 0) throw new ConfigError(refused);

  // Rules across variables only make sense once each variable is valid on its own.
  const context: Context = { cwd, values };
  const broken = SETTINGS.flatMap((s) => {
    const message = s.check(values[s.variable], context);
    return message === undefined ? [] : [{ variable: s.variable, message }];
  });
  if (broken.length > 0) throw new ConfigError(broken);

  const config: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const value = s.finish(values[s.variable], context);
    const [group, key] = s.at.split('.') as [string, string | undefined];
    if (key === undefined) config[group] = value;
    else ((config[group] ??= {}) as Record<string, unknown>)[key] = value;
  }
  return deepFreeze(config as Config);
}

/** Whether either store runs in-process (and so the data dir belongs to one process). */
export function isEmbedded(config: Config): boolean {
  return config.clickhouse.url === undefined || config.postgres.url === undefined;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Documentation of every variable, used by `--help`. */
export const CONFIG_DOC: readonly { variable: string; default: string; meaning: string }[] = SETTINGS.map((s) => ({
  variable: s.variable,
  default: s.shownDefault,
  meaning: s.doc,
}));
