import type {
  CreditNote,
  Customer,
  CustomerBalance,
  EntitlementList,
  ErrorBody,
  Invoice,
  InvoiceStatus,
  ListPage,
  LiveEvents,
  Meter,
  Pipeline,
  Plan,
  Subscription,
  Tenant,
  Usage,
  UsageWindow,
  WebhookEndpoint,
  WebhookEvent,
} from './api-types';

/**
 * The console's only way to the server: the public HTTP API on the same origin, with the key
 * as a bearer token. Errors keep the API's stable code and message; a refused key (401) also
 * tells the app, which signs out.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** How a failed call reads to a person: the stable code, then what the server said. */
export const describeError = (error: unknown): string =>
  error instanceof ApiError ? `${error.code}: ${error.message}${error.field === undefined ? '' : ` (field: ${error.field})`}` : String(error);

export const isAbort = (error: unknown): boolean => error instanceof DOMException && error.name === 'AbortError';

type Query = Record<string, string | number | undefined>;

const seg = (part: string) => encodeURIComponent(part);

function withQuery(path: string, query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

/** A key for one submitted action, so that a retried request is not applied twice (works without a secure context). */
export function idempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as Partial<ErrorBody>;
    if (body.error !== undefined) return new ApiError(res.status, body.error.code, body.error.message, body.error.field, body.error.request_id);
  } catch {
    // Not the API's error shape (a proxy's page, an empty body): described by the status below.
  }
  return new ApiError(res.status, `HTTP_${res.status}`, res.statusText || 'the server answered with an error');
}

interface CallOptions {
  method?: 'GET' | 'POST';
  query?: Query;
  body?: unknown;
  idempotencyKey?: string;
  signal?: AbortSignal | undefined;
}

/** Calls with `key`; `onUnauthorized` hears of every 401 (not called for the sign-in probes). */
async function call(key: string, path: string, opts: CallOptions, onUnauthorized?: (error: ApiError) => void): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.idempotencyKey !== undefined) headers['idempotency-key'] = opts.idempotencyKey;
  let res: Response;
  try {
    res = await fetch(withQuery(path, opts.query), {
      method: opts.method ?? 'GET',
      headers,
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError(0, 'NETWORK', 'the server could not be reached');
  }
  if (res.ok) return res;
  const error = await errorOf(res);
  if (res.status === 401) onUnauthorized?.(error);
  throw error;
}

export type Identity = { kind: 'tenant'; tenant: Tenant } | { kind: 'admin' };

/**
 * Which kind of key this is: a tenant key reads its tenant; an admin key is refused there and
 * lists the tenants instead. Throws the tenant route's error when neither accepts the key.
 */
export async function identify(key: string, signal?: AbortSignal): Promise<Identity> {
  try {
    const res = await call(key, '/v1/tenant', { signal });
    return { kind: 'tenant', tenant: (await res.json()) as Tenant };
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) throw error;
    try {
      await call(key, '/v1/tenants', { query: { limit: 1 }, signal });
      return { kind: 'admin' };
    } catch {
      throw error;
    }
  }
}

export interface UsageQuery {
  meter: string;
  from: string;
  to: string;
  window: UsageWindow;
  tz: string;
  group_by?: string;
  customer?: string;
}

export type MarkPaidMethod = 'bank_transfer' | 'cheque' | 'cash' | 'other';
export type CreditNoteReason = 'duplicate' | 'fraudulent' | 'order_change' | 'product_unsatisfactory';
export type CreditNoteSettle = 'credit_balance' | 'refund' | 'out_of_band';

export interface CreateCreditNote {
  amount: string;
  reason: CreditNoteReason;
  memo?: string;
  settle?: CreditNoteSettle;
}

/** The typed endpoints the console uses, for one key. */
export class Api {
  constructor(
    private readonly key: string,
    private readonly onUnauthorized: (error: ApiError) => void,
  ) {}

  private async json<T>(path: string, opts: CallOptions = {}): Promise<T> {
    const res = await call(this.key, path, opts, this.onUnauthorized);
    return (await res.json()) as T;
  }

  private get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.json<T>(path, { ...(query === undefined ? {} : { query }), signal });
  }

  private post<T>(path: string, body: unknown, key: string): Promise<T> {
    return this.json<T>(path, { method: 'POST', body, idempotencyKey: key });
  }

  tenants(startingAfter: string | undefined, signal?: AbortSignal) {
    return this.get<ListPage<Tenant>>('/v1/tenants', { limit: 50, starting_after: startingAfter }, signal);
  }

  liveEvents(signal?: AbortSignal) {
    return this.get<LiveEvents>('/v1/events/live', undefined, signal);
  }

  /** The event types once read, for the rest of the session: the document they come from is large and changes only with a server release. */
  private eventTypes: string[] | undefined;

  /**
   * The outbound event types, as the API's own document lists them (the `type` filter of GET
   * /v1/webhook_events), so that a new type shows here without a console release.
   */
  async webhookEventTypes(signal?: AbortSignal): Promise<string[]> {
    if (this.eventTypes !== undefined) return this.eventTypes;
    type Doc = { paths?: Record<string, { get?: { parameters?: { name?: string; schema?: { enum?: unknown } }[] } }> };
    const doc = await this.get<Doc>('/openapi.json', undefined, signal);
    const values = doc.paths?.['/v1/webhook_events']?.get?.parameters?.find((p) => p.name === 'type')?.schema?.enum;
    this.eventTypes = Array.isArray(values) ? values.filter((v): v is string => typeof v === 'string') : [];
    return this.eventTypes;
  }

  pipeline(signal?: AbortSignal) {
    return this.get<Pipeline>('/v1/pipeline', undefined, signal);
  }

  meters(signal?: AbortSignal) {
    return this.get<ListPage<Meter>>('/v1/meters', undefined, signal);
  }

  /** One page of usage; `pageToken` is the previous page's next_page_token. */
  usage(query: UsageQuery, pageToken: string | undefined, signal?: AbortSignal) {
    return this.get<Usage>('/v1/usage', { ...query, limit: 10000, page_token: pageToken }, signal);
  }

  customers(startingAfter: string | undefined, signal?: AbortSignal) {
    return this.get<ListPage<Customer>>('/v1/customers', { limit: 50, starting_after: startingAfter }, signal);
  }

  customer(id: string, signal?: AbortSignal) {
    return this.get<Customer>(`/v1/customers/${seg(id)}`, undefined, signal);
  }

  subscriptions(customer: string, startingAfter: string | undefined, signal?: AbortSignal) {
    return this.get<ListPage<Subscription>>('/v1/subscriptions', { customer, limit: 100, starting_after: startingAfter }, signal);
  }

  entitlements(customer: string, signal?: AbortSignal) {
    return this.get<EntitlementList>(`/v1/customers/${seg(customer)}/entitlements`, undefined, signal);
  }

  balance(customer: string, signal?: AbortSignal) {
    return this.get<CustomerBalance>(`/v1/customers/${seg(customer)}/balance`, undefined, signal);
  }

  upcoming(subscription: string, signal?: AbortSignal) {
    return this.get<Invoice>(`/v1/subscriptions/${seg(subscription)}/upcoming`, undefined, signal);
  }

  invoices(filter: { status?: InvoiceStatus | undefined; customer?: string | undefined }, startingAfter: string | undefined, signal?: AbortSignal) {
    return this.get<ListPage<Invoice>>('/v1/invoices', { status: filter.status, customer: filter.customer, limit: 50, starting_after: startingAfter }, signal);
  }

  invoice(id: string, signal?: AbortSignal) {
    return this.get<Invoice>(`/v1/invoices/${seg(id)}`, undefined, signal);
  }

  creditNotes(invoice: string, signal?: AbortSignal) {
    return this.get<{ data: CreditNote[] }>(`/v1/invoices/${seg(invoice)}/credit_notes`, undefined, signal);
  }

  /** The rendered invoice (PDF), fetched with the key: an iframe cannot send the header itself. */
  async invoicePdf(id: string, signal?: AbortSignal): Promise<Blob> {
    const res = await call(this.key, `/v1/invoices/${seg(id)}/pdf`, { signal }, this.onUnauthorized);
    return res.blob();
  }

  approveInvoice(id: string, key: string) {
    return this.post<Invoice>(`/v1/invoices/${seg(id)}/approve`, {}, key);
  }

  voidInvoice(id: string, reason: string | undefined, key: string) {
    return this.post<Invoice>(`/v1/invoices/${seg(id)}/void`, reason === undefined ? {} : { reason }, key);
  }

  markUncollectible(id: string, reason: string | undefined, key: string) {
    return this.post<Invoice>(`/v1/invoices/${seg(id)}/mark_uncollectible`, reason === undefined ? {} : { reason }, key);
  }

  markPaid(id: string, method: MarkPaidMethod, reference: string | undefined, key: string) {
    return this.post<Invoice>(`/v1/invoices/${seg(id)}/mark_paid`, reference === undefined ? { method } : { method, reference }, key);
  }

  createCreditNote(id: string, body: CreateCreditNote, key: string) {
    return this.post<CreditNote>(`/v1/invoices/${seg(id)}/credit_notes`, body, key);
  }

  plans(signal?: AbortSignal) {
    return this.get<ListPage<Plan>>('/v1/plans', undefined, signal);
  }

  plan(code: string, version: number | undefined, signal?: AbortSignal) {
    return this.get<Plan>(`/v1/plans/${seg(code)}`, { version }, signal);
  }

  webhookEndpoints(signal?: AbortSignal) {
    return this.get<{ data: WebhookEndpoint[] }>('/v1/webhook_endpoints', undefined, signal);
  }

  webhookEvents(type: string | undefined, startingAfter: string | undefined, signal?: AbortSignal) {
    return this.get<ListPage<WebhookEvent>>('/v1/webhook_events', { type, limit: 50, starting_after: startingAfter }, signal);
  }

  webhookEvent(id: string, signal?: AbortSignal) {
    return this.get<WebhookEvent>(`/v1/webhook_events/${seg(id)}`, undefined, signal);
  }

  redeliver(id: string, key: string) {
    return this.post<WebhookEvent>(`/v1/webhook_events/${seg(id)}/redeliver`, {}, key);
  }
}
