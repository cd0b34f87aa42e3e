/**
 * How a dispatcher shares its senders between tenants. Each claim asks for what the senders
 * free at that moment may take: at most one delivery per endpoint (an endpoint gets one at a
 * time, so its receiver is never hit in parallel and its deliveries go in order), and per
 * tenant at most its share of the senders (half of them) less the ones it holds and one for
 * each of its recent failed sends — so receivers that are slow or hang take their tenant's
 * share and never the senders other tenants' deliveries need.
 *
 * A failed send also sets its endpoint aside until its retry is due: the endpoint's other
 * deliveries wait in the queue instead of each waiting out the timeout too. Both marks last
 * until the failed delivery is tried again, so a tenant whose receivers recovered gets its
 * senders back without a restart. The marks are this dispatcher's own; other dispatchers
 * keep theirs.
 */
export interface ClaimLimits {
  /** `tenant\nendpoint` keys not to claim for: being sent to, or set aside after a failure. */
  endpoints: string[];
  /** Tenants whose share is reduced, with the senders each may still take (0: none). */
  tenants: string[];
  senders: number[];
  /** The senders of any other tenant. */
  perTenant: number;
}

export const endpointKey = (tenantId: string, endpointId: string | null): string => `${tenantId}\n${endpointId ?? ''}`;

export class SenderShares {
  private readonly sending = new Set<string>();
  private readonly held = new Map<string, number>();
  /** Endpoint key → when it may be sent to again. */
  private readonly setAside = new Map<string, number>();
  /** Tenant → for each recent failed send, when it stops costing the tenant a sender. */
  private readonly failures = new Map<string, number[]>();

  constructor(readonly perTenant: number) {}

  take(tenantId: string, endpoint: string): void {
    this.sending.add(endpoint);
    this.held.set(tenantId, (this.held.get(tenantId) ?? 0) + 1);
  }

  release(tenantId: string, endpoint: string): void {
    this.sending.delete(endpoint);
    const n = (this.held.get(tenantId) ?? 1) - 1;
    if (n > 0) this.held.set(tenantId, n);
    else this.held.delete(tenantId);
  }

  /** A send to `endpoint` failed: the endpoint waits and its tenant has one sender less until `until`. */
  failed(tenantId: string, endpoint: string, until: number): void {
    this.setAside.set(endpoint, Math.max(until, this.setAside.get(endpoint) ?? 0));
    this.failures.set(tenantId, [...(this.failures.get(tenantId) ?? []), until]);
  }

  /** What a claim made at `now` may take (marks that ran out are dropped). */
  limits(now: number): ClaimLimits {
    for (const [endpoint, until] of this.setAside) if (until <= now) this.setAside.delete(endpoint);
    for (const [tenantId, untils] of this.failures) {
      const left = untils.filter((u) => u > now);
      if (left.length > 0) this.failures.set(tenantId, left);
      else this.failures.delete(tenantId);
    }
    const tenants = [...new Set([...this.held.keys(), ...this.failures.keys()])];
    return {
      endpoints: [...new Set([...this.sending, ...this.setAside.keys()])],
      tenants,
      senders: tenants.map((t) => Math.max(0, this.perTenant - (this.held.get(t) ?? 0) - (this.failures.get(t)?.length ?? 0))),
      perTenant: this.perTenant,
    };
  }
}
