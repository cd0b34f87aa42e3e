import type { Rng } from './random.js';

/**
 * Injected failures, drawn from the seeded generator so a seed replays them.
 *
 * - `500`: `api_error`, nothing applied, nothing saved under the idempotency key.
 * - `429`: Stripe's `rate_limit` error, nothing applied (the `stripe` package does not retry it).
 * - `409`: Stripe's `lock_timeout` conflict, nothing applied (the package retries it).
 * - `timeout`: the request is read and never answered (or answered after `delayMs`).
 * - `drop`: the socket is destroyed without an answer.
 * - `500-after-write`: the write happens, then a 500 is returned.
 *
 * For `timeout` and `drop`, whether the write happened first is `applied` if given, else a coin
 * flip: a write whose answer was lost is the case a client must survive. A write that happened
 * keeps its idempotent response (the real one, not the injected failure), so a retry with the
 * same key gets the original answer replayed, as it would from Stripe once the network recovers.
 */
export const FAULT_KINDS = ['500', '429', '409', 'timeout', 'drop', '500-after-write'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRule {
  kind: FaultKind;
  /** Probability per matching request, 0..1. */
  rate: number;
  /** Only requests whose path starts with this (e.g. `/v1/invoiceitems`). */
  pathPrefix?: string;
  /** Only this method (default: every method). */
  method?: 'GET' | 'POST' | 'DELETE';
  /** Fire at most this many times, then stay inert. */
  times?: number;
  /** `timeout` and `drop`: whether the write happens before the failure (default: random). */
  applied?: boolean;
  /** `timeout`: answer (with the real response) after this many ms instead of never. */
  delayMs?: number;
}

export interface FaultDecision {
  kind: FaultKind;
  /** Whether the request is executed before the failure. */
  applied: boolean;
  delayMs: number | undefined;
}

interface ActiveRule extends FaultRule {
  fired: number;
}

export class Faults {
  private rules: ActiveRule[] = [];

  constructor(private readonly rng: Rng) {}

  /** Replaces every rule. */
  set(rules: readonly FaultRule[]): void {
    this.rules = rules.map((r) => ({ ...checkRule(r), fired: 0 }));
  }

  add(rule: FaultRule): void {
    this.rules.push({ ...checkRule(rule), fired: 0 });
  }

  clear(): void {
    this.rules = [];
  }

  list(): (FaultRule & { fired: number })[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** The first matching rule that fires for this request, if any. */
  decide(method: string, path: string): FaultDecision | null {
    for (const r of this.rules) {
      if (r.method !== undefined && r.method !== method) continue;
      if (r.pathPrefix !== undefined && !path.startsWith(r.pathPrefix)) continue;
      if (r.times !== undefined && r.fired >= r.times) continue;
      if (r.rate < 1 && this.rng.next() >= r.rate) continue;
      r.fired++;
      return { kind: r.kind, applied: appliedFor(r, this.rng), delayMs: r.kind === 'timeout' ? r.delayMs : undefined };
    }
    return null;
  }
}

function appliedFor(r: FaultRule, rng: Rng): boolean {
  switch (r.kind) {
    case '500':
    case '429':
    case '409':
      return false;
    case '500-after-write':
      return true;
    case 'timeout':
      // A late answer is the real one, so the request ran.
      if (r.delayMs !== undefined) return true;
      return r.applied ?? rng.next() < 0.5;
    case 'drop':
      return r.applied ?? rng.next() < 0.5;
  }
}

/** Validates a rule (it may come from JSON on the control API). */
export function checkRule(r: unknown): FaultRule {
  if (typeof r !== 'object' || r === null) throw new TypeError('a fault rule is an object');
  const o = r as Record<string, unknown>;
  const known = new Set(['kind', 'rate', 'pathPrefix', 'method', 'times', 'applied', 'delayMs']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new TypeError(`unknown fault rule field: ${k}`);
  if (typeof o.kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(o.kind)) throw new TypeError(`kind must be one of ${FAULT_KINDS.join(', ')}`);
  if (typeof o.rate !== 'number' || !(o.rate >= 0 && o.rate <= 1)) throw new TypeError('rate must be a number from 0 to 1');
  if (o.pathPrefix !== undefined && (typeof o.pathPrefix !== 'string' || !o.pathPrefix.startsWith('/'))) throw new TypeError('pathPrefix must be a path starting with /');
  if (o.method !== undefined && o.method !== 'GET' && o.method !== 'POST' && o.method !== 'DELETE') throw new TypeError('method must be GET, POST or DELETE');
  if (o.times !== undefined && !(Number.isInteger(o.times) && (o.times as number) >= 0)) throw new TypeError('times must be a non-negative integer');
  if (o.applied !== undefined && typeof o.applied !== 'boolean') throw new TypeError('applied must be a boolean');
  if (o.delayMs !== undefined && !(Number.isInteger(o.delayMs) && (o.delayMs as number) >= 0)) throw new TypeError('delayMs must be a non-negative integer');
  if (o.delayMs !== undefined && o.kind !== 'timeout') throw new TypeError('delayMs applies to timeout only');
  if (o.applied !== undefined && o.kind !== 'timeout' && o.kind !== 'drop') throw new TypeError('applied applies to timeout and drop only');
  return o as unknown as FaultRule;
}
