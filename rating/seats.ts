import { Dec, plain } from '../core/money.js';
import { rate, type Tier } from './core.js';

/**
 * Seat prices of a plan: `graduated` prices each seat at the tier it falls in (seats 1–5 at 10,
 * the rest at 8), `volume` every seat at the tier the count reaches; a tier's `flat_fee` is
 * added once any seat falls in it (graduated) or once the count reaches it (volume).
 */
export interface SeatPricing {
  model: 'graduated' | 'volume';
  tiers: readonly Tier[];
}

/**
 * The base fee of `quantity` seats for a period, as a pure function: the plan's `base_fee` per
 * seat, or the seat tiers' amount for that many seats (rated as a usage charge is, 6 decimals
 * half-even; the rating rules apply).
 */
export function seatFee(baseFee: string, pricing: SeatPricing | null, quantity: number): string {
  if (pricing === null) return plain(new Dec(baseFee).times(quantity).toFixed());
  return plain(rate({ model: pricing.model, tiers: pricing.tiers }, String(quantity)).amount);
}
