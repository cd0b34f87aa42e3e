import type { Charge, Feature, Tier } from '../api-types';
import { money, quantity, words } from '../format';

/** Tiers as a list: "up to 100,000: $0 per unit", the last "above: ...". */
export function Tiers({ tiers, currency, unit = 'unit' }: { tiers: readonly Tier[]; currency: string; unit?: string }) {
  return (
    <ul class="tiers">
      {tiers.map((t, i) => (
        <li key={i}>
          {t.up_to === null ? 'Above' : `Up to ${quantity(t.up_to)}`}: {money(t.unit_price, currency)} per {unit}
          {t.flat_fee === undefined ? '' : ` + ${money(t.flat_fee, currency)} flat`}
        </li>
      ))}
    </ul>
  );
}

/** A charge as words: model, prices, included units, minimum and maximum. */
export function ChargeText({ charge: c, currency }: { charge: Charge; currency: string }) {
  const extras = [
    c.included === undefined ? null : `${quantity(c.included)} included`,
    c.minimum === undefined ? null : `minimum ${money(c.minimum, currency)}`,
    c.maximum === undefined ? null : `maximum ${money(c.maximum, currency)}`,
  ].filter((e) => e !== null);
  return (
    <div class="charge" data-meter={c.meter}>
      <strong>{words(c.model)}</strong>
      {c.model === 'per_unit' && c.unit_price !== undefined ? <> {money(c.unit_price, currency)} per unit</> : null}
      {c.model === 'package' && c.unit_price !== undefined && c.package_size !== undefined ? (
        <>
          {' '}
          {money(c.unit_price, currency)} per {quantity(c.package_size)} (rounded {c.round ?? 'up'})
        </>
      ) : null}
      {c.tiers === undefined ? null : <Tiers tiers={c.tiers} currency={currency} />}
      {extras.length === 0 ? null : <div class="muted">{extras.join('; ')}</div>}
    </div>
  );
}

/** A feature as words: on, its static value, or its metered limit and window. */
export function FeatureText({ feature: f }: { feature: Feature }) {
  if (f.type === 'boolean') return <span>Included</span>;
  if (f.type === 'static') return <span>{String(f.value)}</span>;
  return (
    <span>
      {quantity(f.limit)} of <code>{f.meter}</code> per {f.reset} ({f.hard ? 'hard' : 'soft'} limit)
    </span>
  );
}
