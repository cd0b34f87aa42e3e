import { Dec } from '../core/money.js';
import { errors } from './errors.js';
import { type FormObject, type FormValue, isFormObject } from './form.js';

/**
 * Typed parameter parsers that fail the way Stripe does: an unknown name is
 * `parameter_unknown`, a missing one `parameter_missing`, an empty string for a parameter that
 * cannot be unset `parameter_invalid_empty`, a bad number `parameter_invalid_integer`.
 * `emptyable` marks the parameters Stripe lets you unset with an empty string (they parse to null).
 */
export interface Param<T> {
  readonly optional: boolean;
  parse(raw: FormValue, name: string): T;
}

type Shape = Record<string, Param<unknown>>;
export type Parsed<S extends Shape> = { [K in keyof S]: S[K] extends Param<infer T> ? T : never };

const required = <T>(parse: (raw: FormValue, name: string) => T): Param<T> => ({ optional: false, parse });

export const optional = <T>(p: Param<T>): Param<T | undefined> => ({ optional: true, parse: (raw, name) => p.parse(raw, name) });

export const emptyable = <T>(p: Param<T>): Param<T | null> => ({ optional: p.optional, parse: (raw, name) => (raw === '' ? null : p.parse(raw, name)) });

export const childName = (parent: string, key: string): string => (parent === '' ? key : `${parent}[${key}]`);

function scalar(raw: FormValue, name: string): string {
  if (typeof raw !== 'string') throw errors.invalidString(name);
  if (raw === '') throw errors.emptyParam(name);
  return raw;
}

export function str(o: { max?: number; pattern?: RegExp; describe?: string } = {}): Param<string> {
  const max = o.max ?? 5000;
  return required((raw, name) => {
    const s = scalar(raw, name);
    if (s.length > max) throw errors.tooLong(name, max);
    if (o.pattern !== undefined && !o.pattern.test(s)) throw errors.invalidRequest(`Invalid ${name}: ${o.describe ?? `must match ${String(o.pattern)}`}`, name);
    return s;
  });
}

export function oneOf<const V extends readonly string[]>(values: V): Param<V[number]> {
  return required((raw, name) => {
    const s = scalar(raw, name);
    if (!values.includes(s)) throw errors.notOneOf(name, values);
    return s;
  });
}

export function int(o: { min?: number; max?: number } = {}): Param<number> {
  return required((raw, name) => {
    const s = scalar(raw, name);
    if (!/^-?\d+$/.test(s)) throw errors.invalidInteger(name, s);
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw errors.invalidInteger(name, s);
    if (o.min !== undefined && n < o.min) throw errors.atLeast(name, o.min);
    if (o.max !== undefined && n > o.max) throw errors.atMost(name, o.max);
    return n;
  });
}

/** Unix seconds. */
export const timestamp = (): Param<number> => int({ min: 0 });

export function bool(): Param<boolean> {
  return required((raw, name) => {
    const s = scalar(raw, name);
    if (s === 'true') return true;
    if (s === 'false') return false;
    throw errors.invalidBoolean(name, s);
  });
}

/** A decimal string with at most `places` decimals (Stripe's `*_decimal` parameters allow 12). */
export function decimal(o: { places?: number; min?: number } = {}): Param<Dec> {
  const places = o.places ?? 12;
  return required((raw, name) => {
    const s = scalar(raw, name);
    const m = /^-?\d+(?:\.(\d+))?$/.exec(s);
    if (m === null) throw errors.invalidDecimal(name, s);
    if ((m[1]?.length ?? 0) > places) throw errors.invalidRequest(`Invalid ${name}: ${s} has more than ${places} decimal places`, name);
    const d = new Dec(s);
    if (o.min !== undefined && d.lessThan(o.min)) throw errors.atLeast(name, o.min);
    return d;
  });
}

export function array<T>(item: Param<T>, o: { max?: number } = {}): Param<T[]> {
  return required((raw, name) => {
    let list: FormValue[];
    if (Array.isArray(raw)) {
      list = raw;
    } else if (isFormObject(raw) && Object.keys(raw).every((k) => /^\d+$/.test(k))) {
      // `x[0]=a&x[1]=b`: an index-keyed hash is an array, ordered by index.
      list = Object.keys(raw)
        .sort((a, b) => Number(a) - Number(b))
        .map((k) => raw[k] ?? '');
    } else {
      throw errors.invalidArray(name);
    }
    if (o.max !== undefined && list.length > o.max) throw errors.tooMany(name, o.max);
    return list.map((v, i) => item.parse(v, `${name}[${i}]`));
  });
}

export function object<S extends Shape>(shape: S, o: { unsupported?: readonly string[] } = {}): Param<Parsed<S>> {
  return required((raw, name) => {
    if (!isFormObject(raw)) throw errors.invalidHash(name);
    for (const key of Object.keys(raw)) {
      if (Object.hasOwn(shape, key)) continue;
      if (o.unsupported?.includes(key)) throw errors.notImplemented(childName(name, key));
      throw errors.unknownParam(childName(name, key));
    }
    const out: Record<string, unknown> = {};
    for (const [key, p] of Object.entries(shape)) {
      const v = raw[key];
      if (v === undefined) {
        if (!p.optional) throw errors.missingParam(childName(name, key));
        out[key] = undefined;
      } else {
        out[key] = p.parse(v, childName(name, key));
      }
    }
    return out as Parsed<S>;
  });
}

/**
 * Stripe's metadata rules: at most 50 keys, keys up to 40 characters without square brackets,
 * values up to 500 characters. An empty value means "remove this key" on update.
 */
export function metadata(): Param<Record<string, string>> {
  return required((raw, name) => {
    if (!isFormObject(raw)) throw errors.invalidHash(name);
    const keys = Object.keys(raw);
    if (keys.length > 50) throw errors.invalidRequest(`Invalid ${name}: metadata can have at most 50 keys`, name);
    const out: Record<string, string> = {};
    for (const key of keys) {
      const v = raw[key];
      const param = childName(name, key);
      if (typeof v !== 'string') throw errors.invalidString(param);
      if (key.length > 40) throw errors.invalidRequest(`Invalid ${name}: keys must be at most 40 characters`, param);
      if (v.length > 500) throw errors.invalidRequest(`Invalid ${name}: values must be at most 500 characters`, param);
      out[key] = v;
    }
    return out;
  });
}

export const expand = (): Param<string[] | undefined> => optional(array(str({ max: 5000 }), { max: 100 }));

/** Validates a whole request: top-level names are checked like an object's. */
export function parseParams<S extends Shape>(shape: S, raw: FormObject, unsupported: readonly string[] = []): Parsed<S> {
  return object(shape, { unsupported }).parse(raw, '');
}

/**
 * Applies a metadata parameter to stored metadata: null clears, an empty value drops the key.
 * The 50-key limit holds for the result, as on Stripe, so updates cannot pile keys up; callers
 * merge before they change anything else, so a refused update leaves the object as it was.
 */
export function mergeMetadata(current: Record<string, string>, update: Record<string, string> | null | undefined): Record<string, string> {
  if (update === undefined) return current;
  if (update === null) return {};
  const next = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === '') delete next[k];
    else next[k] = v;
  }
  if (Object.keys(next).length > 50) throw errors.invalidRequest('Invalid metadata: metadata can have at most 50 keys', 'metadata');
  return next;
}
