import { z } from 'zod';
import { canonicalZone } from '../metering/time-zones.js';
import { isCountry } from '../core/country.js';
import { LINE_TEXT, LINE_TEXT_RULE } from '../core/display-text.js';

/** A postal address, as customers and the tenant's billing profile carry it (Stripe's shape). */
export interface Address {
  line1: string;
  line2?: string | undefined;
  city: string;
  postal_code: string;
  state?: string | undefined;
  country: string;
}

/**
 * One plain mailbox, `local@domain.tld`: none of the characters that make an address list or a
 * display name in a mail header (`,` `;` `:` `<` `>` `(` `)` `[` `]` `"` `\`), and no control
 * or invisible format character (U+0001, U+200B: the mail library drops them, so mail would go
 * to another mailbox), so the address stored is the one mail goes to; and a domain of two
 * labels or more, none empty and none beginning or ending with `-` (`x@-bad-.com` and
 * `x@example.com.` are refused by mail servers as syntax, so every mail to them would fail).
 * Labels may be Unicode (IDN domains deliver).
 */
const LABEL = '[^\\s\\p{Cc}\\p{Cf}@,;:<>()[\\]"\\\\.-](?:[^\\s\\p{Cc}\\p{Cf}@,;:<>()[\\]"\\\\.]*[^\\s\\p{Cc}\\p{Cf}@,;:<>()[\\]"\\\\.-])?';
export const EMAIL = new RegExp(`^[^\\s\\p{Cc}\\p{Cf}@,;:<>()[\\]"\\\\]+@(?:${LABEL}\\.)+${LABEL}$`, 'u');
const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max).regex(LINE_TEXT, LINE_TEXT_RULE);

export const AddressSchema = z.strictObject({
  line1: text(200),
  line2: text(200).optional(),
  city: text(100),
  postal_code: text(20),
  state: text(100).optional(),
  country: z
    .string()
    .transform((c) => c.toUpperCase())
    .refine(isCountry, 'must be an ISO 3166-1 alpha-2 country code such as US or DE'),
});

/**
 * A BCP 47 locale that documents can be written in (amounts, dates): well formed and known to
 * this Node's ICU, kept in its canonical spelling (`de-de` → `de-DE`).
 */
export const LocaleSchema = z
  .string()
  .max(35)
  .transform((l, ctx) => {
    try {
      const [canonical] = Intl.getCanonicalLocales(l);
      if (canonical !== undefined && Intl.NumberFormat.supportedLocalesOf(canonical).length > 0) return canonical;
    } catch {
      // Not well formed: reported below.
    }
    ctx.addIssue({ code: 'custom', message: 'must be a locale such as en-US, de-DE, pt-BR or ja-JP' });
    return z.NEVER;
  });

/**
 * An IANA time zone (Europe/Berlin, America/New_York, UTC) known to this Node's ICU, kept in
 * its canonical spelling (`europe/berlin` → `Europe/Berlin`), as usage queries name zones.
 */
export const TimeZoneSchema = z
  .string()
  .max(64)
  .transform((tz, ctx) => {
    // A name, never an offset (+05:30), whatever a later ICU accepts.
    const canonical = /^[A-Za-z]/.test(tz) ? canonicalZone(tz) : undefined;
    if (canonical !== undefined) return canonical;
    ctx.addIssue({ code: 'custom', message: 'must be an IANA time zone such as Europe/Berlin, America/New_York or UTC' });
    return z.NEVER;
  });
