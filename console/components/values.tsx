import type { ComponentChildren } from 'preact';
import { dateTime, date as dateOnly, money, period, quantity, words } from '../format';

/** An amount in its currency, exact (format.ts); the API's string stays in `data-value`. */
export const Money = ({ amount, currency }: { amount: string; currency: string }) => (
  <span class="num" data-value={amount}>
    {money(amount, currency)}
  </span>
);

/** A quantity, exact, with the locale's grouping. */
export const Quantity = ({ value }: { value: string | null | undefined }) =>
  value === null || value === undefined ? <span class="muted">—</span> : <span class="num" data-value={value}>{quantity(value)}</span>;

/** An instant in a `<time>` element: readable text, the machine value in `datetime`. */
export function Time({ at, zone, dateOnly: onlyDate = false }: { at: string | null | undefined; zone?: string; dateOnly?: boolean }) {
  if (at === null || at === undefined) return <span class="muted">—</span>;
  return (
    <time dateTime={at} title={at}>
      {onlyDate ? dateOnly(at, zone) : dateTime(at, zone)}
    </time>
  );
}

/** A billing period as the days it covers, in UTC (format.ts); the API's instants in the title. */
export function Period({ start, end }: { start: string | null | undefined; end: string | null | undefined }) {
  if (start === null || start === undefined || end === null || end === undefined) return <span class="muted">—</span>;
  return <span title={`${start} – ${end} (UTC; the end is not included)`}>{period(start, end)}</span>;
}

/** A status as a labelled badge: its word is the meaning, the colour only repeats it. */
export const Badge = ({ value, testId }: { value: string; testId?: string }) => (
  <span class={`badge badge-${value}`} data-testid={testId} data-status={value}>
    {words(value)}
  </span>
);

export const YesNo = ({ value }: { value: boolean }) => <span>{value ? 'Yes' : 'No'}</span>;

/** A description list of label → value pairs (billing details, totals). */
export function Facts({ items, label }: { items: readonly (readonly [string, ComponentChildren])[]; label?: string }) {
  return (
    <dl class="facts" aria-label={label}>
      {items.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value ?? <span class="muted">—</span>}</dd>
        </div>
      ))}
    </dl>
  );
}
