import { errors } from './errors.js';

/**
 * Stripe's search query language, the part Tally can need: clauses `field:'value'` (exact),
 * `field~'value'` (substring, at least 3 characters), `field>n`, `<`, `>=`, `<=` on numbers,
 * `metadata['key']:'value'`, `-` to negate, `null` for a missing value, joined by AND or OR
 * (not both, as in Stripe) or by a space (AND); at most 10 clauses.
 */
export type FieldKind = 'text' | 'token' | 'number';

export interface SearchFields<T> {
  fields: Record<string, { kind: FieldKind; get: (o: T) => string | number | null }>;
  metadata: (o: T) => Record<string, string>;
}

type Op = ':' | '~' | '>' | '<' | '>=' | '<=';
type Value = string | number | null;
interface Clause {
  negate: boolean;
  field: string;
  metadataKey: string | null;
  op: Op;
  value: Value;
}

const queryError = (message: string) => errors.invalidRequest(`Invalid search query: ${message}`, 'query');

export function compileSearch<T>(query: string, spec: SearchFields<T>): (o: T) => boolean {
  const { clauses, join } = parse(query);
  for (const c of clauses) check(c, spec);
  const test = (o: T, c: Clause) => matches(o, c, spec) !== c.negate;
  return join === 'OR' ? (o) => clauses.some((c) => test(o, c)) : (o) => clauses.every((c) => test(o, c));
}

function parse(query: string): { clauses: Clause[]; join: 'AND' | 'OR' } {
  let i = 0;
  const clauses: Clause[] = [];
  let join: 'AND' | 'OR' | null = null;
  const skip = () => {
    while (i < query.length && /\s/.test(query[i] ?? '')) i++;
  };
  const quoted = (): string => {
    const q = query[i];
    if (q !== "'" && q !== '"') throw queryError(`expected a quoted string at position ${i}`);
    i++;
    let s = '';
    for (;;) {
      const ch = query[i];
      if (ch === undefined) throw queryError('unterminated string');
      i++;
      if (ch === '\\') {
        const escaped = query[i];
        if (escaped === undefined) throw queryError('unterminated string');
        s += escaped;
        i++;
      } else if (ch === q) {
        return s;
      } else {
        s += ch;
      }
    }
  };
  skip();
  if (i >= query.length) throw queryError('the query is empty');
  while (i < query.length) {
    if (clauses.length > 0) {
      const word = /^(AND|OR)\s/.exec(query.slice(i));
      if (word !== null) {
        const w = word[1] as 'AND' | 'OR';
        if (join !== null && join !== w) throw queryError('AND and OR cannot be combined in one query');
        join = w;
        i += w.length;
        skip();
      } else {
        if (join === 'OR') throw queryError('AND and OR cannot be combined in one query');
        join = 'AND';
      }
    }
    const negate = query[i] === '-';
    if (negate) i++;
    const name = /^[a-z_][a-z0-9_.]*/.exec(query.slice(i));
    if (name === null) throw queryError(`expected a field name at position ${i}`);
    const field = name[0];
    i += field.length;
    let metadataKey: string | null = null;
    if (field === 'metadata') {
      if (query[i] !== '[') throw queryError("metadata needs a key: metadata['key']");
      i++;
      metadataKey = quoted();
      if (query[i] !== ']') throw queryError("expected ']' after the metadata key");
      i++;
    }
    const op = /^(>=|<=|:|~|>|<)/.exec(query.slice(i));
    if (op === null) throw queryError(`expected an operator after ${field} at position ${i}`);
    i += op[0].length;
    let value: Value;
    if (query[i] === "'" || query[i] === '"') {
      value = quoted();
    } else {
      const lit = /^(null|-?\d+(?:\.\d+)?)/.exec(query.slice(i));
      if (lit === null) throw queryError(`expected a value at position ${i}`);
      value = lit[0] === 'null' ? null : Number(lit[0]);
      i += lit[0].length;
    }
    clauses.push({ negate, field, metadataKey, op: op[0] as Op, value });
    if (clauses.length > 10) throw queryError('at most 10 clauses');
    const after = query[i];
    if (after !== undefined && !/\s/.test(after)) throw queryError(`unexpected character at position ${i}`);
    skip();
  }
  return { clauses, join: join ?? 'AND' };
}

function check<T>(c: Clause, spec: SearchFields<T>): void {
  if (c.metadataKey !== null) {
    if (c.op !== ':') throw queryError('metadata supports only exact matches (:)');
    if (typeof c.value === 'number') throw queryError('metadata values are strings; quote them');
    return;
  }
  const f = spec.fields[c.field];
  if (f === undefined) throw queryError(`${c.field} is not a searchable field (fields: ${[...Object.keys(spec.fields), 'metadata'].join(', ')})`);
  if (f.kind === 'number') {
    if (c.op === '~') throw queryError(`${c.field} does not support ~`);
    if (typeof c.value === 'string') throw queryError(`${c.field} takes a number`);
  } else {
    if (c.op !== ':' && c.op !== '~') throw queryError(`${c.field} supports only : and ~`);
    if (typeof c.value === 'number') throw queryError(`${c.field} takes a quoted string`);
    if (c.op === '~' && (f.kind !== 'text' || c.value === null || c.value.length < 3)) throw queryError(`~ needs a text field and at least 3 characters`);
  }
}

function matches<T>(o: T, c: Clause, spec: SearchFields<T>): boolean {
  if (c.metadataKey !== null) {
    const v = spec.metadata(o)[c.metadataKey];
    return c.value === null ? v === undefined : v === c.value;
  }
  const f = spec.fields[c.field];
  if (f === undefined) return false;
  const actual = f.get(o);
  if (c.value === null) return actual === null;
  if (actual === null) return false;
  if (typeof c.value === 'number') {
    const n = Number(actual);
    switch (c.op) {
      case '>':
        return n > c.value;
      case '<':
        return n < c.value;
      case '>=':
        return n >= c.value;
      case '<=':
        return n <= c.value;
      default:
        return n === c.value;
    }
  }
  const a = String(actual);
  if (f.kind === 'token') return a === c.value;
  if (c.op === '~') return a.toLowerCase().includes(c.value.toLowerCase());
  return a.toLowerCase() === c.value.toLowerCase();
}
