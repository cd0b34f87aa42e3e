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
