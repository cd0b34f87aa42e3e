import { isIP } from 'node:net';

/**
 * How the text of one environment variable becomes a value: what counts as unset (so the
 * setting's default applies) and what is refused, with a message saying what is allowed. A
 * message quotes the text as given, untrimmed, so the operator sees what the process saw.
 */
export interface Kind<T> {
  readonly isUnset: (raw: string) => boolean;
  /** The value of a variable that is set, or why it is refused. */
  readonly read: (raw: string) => T | Refusal;
}

/** What is allowed instead of a refused value; a value, not a throw, so every variable is checked. */
export class Refusal {
  constructor(readonly message: string) {}
}

const blank = (raw: string): boolean => raw.trim() === '';

/** A whole number within bounds; no sign, no decimals, no exponent. */
export function int(min: number, max: number): Kind<number> {
  const refusal = (raw: string) => new Refusal(`must be a whole number from ${min} to ${max} (got "${raw}")`);
  return {
    isUnset: blank,
    read: (raw) => {
      if (!/^\d+$/.test(raw.trim())) return refusal(raw);
      const n = Number(raw.trim());
      return n < min || n > max ? refusal(raw) : n;
    },
  };
}

export function bool(): Kind<boolean> {
  return {
    isUnset: blank,
    read: (raw) => {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      return new Refusal(`must be true or false (or 1/0, yes/no, on/off; got "${raw}")`);
    },
  };
}

/** Any text, trimmed. */
export function text(): Kind<string> {
  return { isUnset: blank, read: (raw) => raw.trim() };
}

/**
 * An address to listen on: an IPv4 or IPv6 literal, or a host name (letters, digits and
 * hyphens in dot-separated labels). Checked here, so a mistyped one stops the process before
 * it opens its stores rather than when it comes to listen.
 */
export function listenHost(): Kind<string> {
  const label = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
  return {
    isUnset: blank,
    read: (raw) => {
      const v = raw.trim();
      if (isIP(v) !== 0) return v;
      const labels = v.replace(/\.$/, '').split('.');
      return v.length <= 253 && labels.every((l) => label.test(l))
        ? v
        : new Refusal(`must be an IP address (such as 0.0.0.0, 127.0.0.1 or ::) or a host name (got "${raw}")`);
    },
  };
}

/** Trimmed text matching `pattern`; `what` completes "must be ...". */
export function matching(pattern: RegExp, what: string): Kind<string> {
  return {
    isUnset: blank,
    read: (raw) => (pattern.test(raw.trim()) ? raw.trim() : new Refusal(`must be ${what} (got "${raw}")`)),
  };
}

/** One of a fixed list, case-insensitive; the value is the list's spelling. */
export function oneOf<const V extends string>(values: readonly V[]): Kind<V> {
  return {
    isUnset: blank,
    read: (raw) => {
      const v = raw.trim().toLowerCase();
      return (values as readonly string[]).includes(v) ? (v as V) : new Refusal(`must be one of ${values.join(', ')} (got "${raw}")`);
    },
  };
}

export function url(protocols: readonly string[]): Kind<string> {
  return {
    isUnset: blank,
    read: (raw) => {
      let parsed: URL;
      try {
        parsed = new URL(raw.trim());
      } catch {
        return new Refusal(`must be a URL (${protocols.join(' or ')}), got an unparsable value`);
      }
      const proto = parsed.protocol.replace(/:$/, '');
      if (!protocols.includes(proto)) return new Refusal(`must be a URL with scheme ${protocols.join(' or ')} (got "${proto}:")`);
      return raw.trim();
    },
  };
}

/**
 * A key issued by someone else, recognised by its prefix. Kept exactly as given (a secret is
 * never trimmed into another one); its text is never quoted in the message.
 */
export function issuedSecret(prefixes: readonly string[], what: string): Kind<string> {
  return {
    isUnset: blank,
    read: (raw) => (prefixes.some((p) => raw.startsWith(p)) ? raw : new Refusal(`must be ${what} starting with ${prefixes.join(' or ')}`)),
  };
}

/**
 * A secret the operator makes up. Only the empty text is unset: a value of spaces is a mistake
 * to report, not a reason to fall back to the generated key.
 */
export function chosenSecret(minLength: number): Kind<string> {
  return {
    isUnset: (raw) => raw === '',
    read: (raw) =>
      raw.length < minLength || /\s/.test(raw)
        ? new Refusal(`must be at least ${minLength} characters with no spaces (use a random secret)`)
        : raw,
  };
}

/** A memory bound: a size in bytes, or a share of a whole that the reader of the value knows. */
export type MemoryBound = { readonly bytes: number } | { readonly percent: number };

const UNITS: Record<string, number> = { '': 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

/** A bound as the operator writes it. */
export function showMemoryBound(bound: MemoryBound): string {
  return 'percent' in bound ? `${bound.percent}%` : `${bound.bytes}`;
}

/**
 * A memory size with a binary unit (`512MiB`, `4GiB`, or plain bytes) from `minBytes` up, or a
 * whole percentage from 1 to 100 (`50%`).
 */
export function memoryBound(minBytes: number): Kind<MemoryBound> {
  const refusal = (raw: string) =>
    new Refusal(`must be a size of at least ${minBytes / 1024 ** 2}MiB such as 512MiB or 4GiB, or a percentage from 1% to 100% (got "${raw}")`);
  return {
    isUnset: blank,
    read: (raw) => {
      const v = raw.trim();
      const percent = /^(\d{1,3})%$/.exec(v);
      if (percent) {
        const p = Number(percent[1]);
        return p >= 1 && p <= 100 ? { percent: p } : refusal(raw);
      }
      const size = /^(\d{1,13})(KiB|MiB|GiB|TiB)?$/.exec(v);
      if (!size) return refusal(raw);
      const bytes = Number(size[1]) * UNITS[size[2] ?? '']!;
      return bytes >= minBytes && Number.isSafeInteger(bytes) ? { bytes } : refusal(raw);
    },
  };
}
