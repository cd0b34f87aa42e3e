/**
 * Plan segments of a billing period, as a pure core: the parts of the period under one plan
 * version each, clipped to when the subscription was live (from its start until a
 * cancellation). A period without plan changes is one segment. Segments split usage at the
 * exact instant of a change (a change of seats alone keeps one segment): an event belongs to the segment whose [start, end) holds its
 * timestamp, so consecutive segments and periods never count an event twice or leave one out.
 */
export interface PlanVersionRef {
  code: string;
  version: number;
}

export interface PlanChange<P extends PlanVersionRef = PlanVersionRef> {
  effective_from: Date;
  plan: P;
  prorate: boolean;
}

export interface Segment<P extends PlanVersionRef = PlanVersionRef> {
  start: Date;
  end: Date;
  plan: P;
}

/**
 * When the subscription was live within the period: [start, end), `final` when a cancellation
 * ends it there; undefined when it was not live at all.
 */
export function liveWindow(period: { start: Date; end: Date }, startDate: Date, canceledAt: Date | null): { start: Date; end: Date; final: boolean } | undefined {
  const start = Math.max(period.start.getTime(), startDate.getTime());
  const cancel = canceledAt?.getTime() ?? Infinity;
  const end = Math.min(period.end.getTime(), cancel);
  return end > start ? { start: new Date(start), end: new Date(end), final: cancel <= period.end.getTime() } : undefined;
}

/**
 * The segments of `window`, from the plan history (sorted by effective_from; the first entry
 * must be in force at the window's start).
 */
export function segmentsOf<P extends PlanVersionRef>(window: { start: Date; end: Date }, history: readonly PlanChange<P>[]): Segment<P>[] {
  const out: Segment<P>[] = [];
  history.forEach((h, i) => {
    const next = history[i + 1]?.effective_from.getTime() ?? Infinity;
    const start = Math.max(window.start.getTime(), h.effective_from.getTime());
    const end = Math.min(window.end.getTime(), next);
    if (end <= start) return;
    // A change of seats only (the same plan version) does not cut usage: its tiers go on.
    const last = out[out.length - 1];
    if (last !== undefined && last.end.getTime() === start && last.plan.code === h.plan.code && last.plan.version === h.plan.version) last.end = new Date(end);
    else out.push({ start: new Date(start), end: new Date(end), plan: h.plan });
  });
  if (out.length === 0 && history.length > 0) throw new RangeError('no plan is in force in the window');
  return out;
}
