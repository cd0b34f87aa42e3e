/**
 * `application/x-www-form-urlencoded` bodies and query strings in Stripe's bracket notation:
 * `metadata[key]=v` nests, `expand[]=x` appends, `lines[0][amount]=1` keys by index (turned into
 * an array by the parameter that expects one, as Stripe's Rack-style parser does). A key used
 * both as a value and as a container is rejected rather than guessed at.
 */
export type FormValue = string | FormObject | FormValue[];
export interface FormObject {
  [key: string]: FormValue;
}

export class FormError extends Error {}

const MAX_DEPTH = 8;
const MAX_PAIRS = 10_000;

export const isFormObject = (v: FormValue | undefined): v is FormObject => typeof v === 'object' && !Array.isArray(v);

export function emptyForm(): FormObject {
  return Object.create(null) as FormObject;
}

export function parseForm(text: string): FormObject {
  const root = emptyForm();
  if (text === '') return root;
  const pairs = text.split('&');
  if (pairs.length > MAX_PAIRS) throw new FormError(`Invalid request: more than ${MAX_PAIRS} parameters`);
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    assign(root, splitKey(key), value, key);
  }
  return root;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new FormError(`Invalid request: malformed percent-encoding in ${JSON.stringify(s.slice(0, 80))}`);
  }
}

function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open === -1) {
    if (key === '' || key.includes(']')) throw new FormError(`Invalid parameter name: ${JSON.stringify(key)}`);
    return [key];
  }
  const segments = [key.slice(0, open)];
  if (segments[0] === '') throw new FormError(`Invalid parameter name: ${JSON.stringify(key)}`);
  let rest = key.slice(open);
  while (rest !== '') {
    const m = /^\[([^[\]]*)\]/.exec(rest);
    if (m === null) throw new FormError(`Invalid parameter name: ${JSON.stringify(key)}`);
    segments.push(m[1] ?? '');
    rest = rest.slice(m[0].length);
  }
  if (segments.length > MAX_DEPTH) throw new FormError(`Invalid parameter name: ${JSON.stringify(key)} is nested too deeply`);
  return segments;
}

function assign(root: FormObject, segments: string[], value: string, key: string): void {
  const conflict = () => new FormError(`Invalid request: parameter ${JSON.stringify(key)} conflicts with another parameter of the same name`);
  let node: FormObject | FormValue[] = root;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] ?? '';
    const next = segments[i + 1];
    const last = next === undefined;
    if (Array.isArray(node)) {
      // Only `[]` leads into an array.
      if (last) {
        node.push(value);
        return;
      }
      if (next === '') throw new FormError(`Invalid parameter name: ${JSON.stringify(key)} (nested "[][]" is not supported)`);
      // `a[][x]=1&a[][y]=2` builds one element; a repeated field starts the next one (Rack's rule).
      const tail: FormValue | undefined = node[node.length - 1];
      if (isFormObject(tail) && !(next in tail)) {
        node = tail;
      } else {
        const child = emptyForm();
        node.push(child);
        node = child;
      }
      continue;
    }
    if (seg === '') throw conflict();
    const existing: FormValue | undefined = node[seg];
    if (last) {
      if (existing !== undefined && typeof existing !== 'string') throw conflict();
      node[seg] = value;
      return;
    }
    const wantArray = next === '';
    if (existing === undefined) {
      const child: FormObject | FormValue[] = wantArray ? [] : emptyForm();
      node[seg] = child;
      node = child;
    } else if (wantArray ? Array.isArray(existing) : isFormObject(existing)) {
      node = existing as FormObject | FormValue[];
    } else {
      throw conflict();
    }
  }
}

/** A stable text of parsed parameters: the same request sent with its keys reordered is the same. */
export function canonical(v: FormValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(v[k] ?? '')}`)
    .join(',')}}`;
}
