/**
 * The error catalogue. Every error Tally reports to a client or an operator has a stable code
 * from this table; messages may improve, codes never change meaning. `retryable` says whether
 * sending the same request again later can succeed.
 */
export const ERRORS = {
  TALLY_ERR_UNAUTHORIZED: { status: 401, retryable: false },
  TALLY_ERR_FORBIDDEN: { status: 403, retryable: false },
  TALLY_ERR_ADMIN_DISABLED: { status: 403, retryable: false },
  TALLY_ERR_NOT_FOUND: { status: 404, retryable: false },
  TALLY_ERR_NO_UPCOMING_INVOICE: { status: 404, retryable: false },
  TALLY_ERR_WEBHOOK_SIGNATURE: { status: 400, retryable: false },
  TALLY_ERR_STRIPE_NOT_CONFIGURED: { status: 503, retryable: false },
  TALLY_ERR_STRIPE_UNAVAILABLE: { status: 502, retryable: true },
  TALLY_ERR_STRIPE_REFUSED: { status: 502, retryable: false },
  TALLY_ERR_METHOD_NOT_ALLOWED: { status: 405, retryable: false },
  TALLY_ERR_PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  TALLY_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  TALLY_ERR_INVALID_JSON: { status: 400, retryable: false },
  TALLY_ERR_INVALID_BODY: { status: 400, retryable: false },
  TALLY_ERR_MISSING_FIELD: { status: 400, retryable: false },
  TALLY_ERR_INVALID_TYPE: { status: 400, retryable: false },
  TALLY_ERR_INVALID_VALUE: { status: 400, retryable: false },
  TALLY_ERR_UNKNOWN_FIELD: { status: 400, retryable: false },
  TALLY_ERR_TOO_LONG: { status: 400, retryable: false },
  TALLY_ERR_ALREADY_EXISTS: { status: 409, retryable: false },
  TALLY_ERR_IMMUTABLE_FIELD: { status: 400, retryable: false },
  TALLY_ERR_BATCH_TOO_LARGE: { status: 413, retryable: false },

  // Text that no store can hold: a malformed percent-escape in the path, a NUL character or a
  // lone surrogate in a path or query parameter or anywhere in a JSON body (keys too).
  TALLY_ERR_INVALID_TEXT: { status: 400, retryable: false },

  // Plans and rate cards: one code per rule.
  TALLY_ERR_CURRENCY_INVALID: { status: 400, retryable: false },
  TALLY_ERR_PRICE_INVALID: { status: 400, retryable: false },
  TALLY_ERR_PRICE_NEGATIVE: { status: 400, retryable: false },
  TALLY_ERR_PRICE_TOO_PRECISE: { status: 400, retryable: false },
  TALLY_ERR_QUANTITY_INVALID: { status: 400, retryable: false },
  TALLY_ERR_QUANTITY_TOO_PRECISE: { status: 400, retryable: false },
  TALLY_ERR_TIERS_NOT_ASCENDING: { status: 400, retryable: false },
  TALLY_ERR_TIER_OPEN_ENDED: { status: 400, retryable: false },
  TALLY_ERR_CHARGE_MODEL_FIELDS: { status: 400, retryable: false },
  TALLY_ERR_MINIMUM_ABOVE_MAXIMUM: { status: 400, retryable: false },
  TALLY_ERR_DUPLICATE_CHARGE: { status: 400, retryable: false },
  TALLY_ERR_DUPLICATE_FEATURE: { status: 400, retryable: false },
  TALLY_ERR_FEATURE_METER_AGGREGATION: { status: 400, retryable: false },
  TALLY_ERR_FEATURE_NOT_FOUND: { status: 404, retryable: false },
  TALLY_ERR_METER_NOT_FOUND: { status: 400, retryable: false },

  // Subscriptions.
  TALLY_ERR_CUSTOMER_NOT_FOUND: { status: 400, retryable: false },
  TALLY_ERR_PLAN_NOT_FOUND: { status: 400, retryable: false },
  TALLY_ERR_CURRENCY_MISMATCH: { status: 400, retryable: false },
  TALLY_ERR_INVALID_TRANSITION: { status: 409, retryable: false },
  // A subscription whose usage rates to an amount (or a quantity) beyond what invoices hold.
  TALLY_ERR_AMOUNT_OUT_OF_RANGE: { status: 409, retryable: false },

  // A usage query spanning more time than its window allows (GET /v1/usage); a Stripe webhook
  // event whose signature verifies but that is not an event as Stripe sends it, or is dated ahead.
  TALLY_ERR_RANGE_TOO_LONG: { status: 400, retryable: false },
  TALLY_ERR_WEBHOOK_EVENT_INVALID: { status: 400, retryable: false },

  // Coupons.
  TALLY_ERR_COUPON_NOT_FOUND: { status: 400, retryable: false },
  TALLY_ERR_COUPON_EXPIRED: { status: 409, retryable: false },
  TALLY_ERR_COUPON_EXHAUSTED: { status: 409, retryable: false },
  TALLY_ERR_COUPON_NOT_APPLICABLE: { status: 400, retryable: false },

  // Idempotency keys (http/idempotency.ts).
  TALLY_ERR_IDEMPOTENCY_KEY_INVALID: { status: 400, retryable: false },
  TALLY_ERR_IDEMPOTENCY_KEY_REUSED: { status: 409, retryable: false },
  TALLY_ERR_IDEMPOTENCY_IN_PROGRESS: { status: 409, retryable: true },

  TALLY_ERR_INGEST_OVERLOADED: { status: 429, retryable: true },
  TALLY_ERR_SHUTTING_DOWN: { status: 503, retryable: true },
  TALLY_ERR_STORE_UNAVAILABLE: { status: 503, retryable: true },
  TALLY_ERR_EVENT_LOG_UNAVAILABLE: { status: 503, retryable: true },
  TALLY_ERR_DOCUMENTS_BUSY: { status: 429, retryable: true },
  TALLY_ERR_INTERNAL: { status: 500, retryable: true },

  // Per-event rejections of POST /v1/events: reported in the 202 body, one per bad event,
  // never failing the request (the status is what the event alone would have earned).
  TALLY_ERR_EVENT_INVALID: { status: 422, retryable: false },
  TALLY_ERR_EVENT_UNKNOWN_FIELD: { status: 422, retryable: false },
  TALLY_ERR_ID_MISSING: { status: 422, retryable: false },
  TALLY_ERR_ID_INVALID: { status: 422, retryable: false },
  TALLY_ERR_CUSTOMER_MISSING: { status: 422, retryable: false },
  TALLY_ERR_CUSTOMER_INVALID: { status: 422, retryable: false },
  TALLY_ERR_METER_MISSING: { status: 422, retryable: false },
  TALLY_ERR_METER_INVALID: { status: 422, retryable: false },
  TALLY_ERR_VALUE_INVALID: { status: 422, retryable: false },
  TALLY_ERR_VALUE_TOO_PRECISE: { status: 422, retryable: false },
  TALLY_ERR_VALUE_OUT_OF_RANGE: { status: 422, retryable: false },
  TALLY_ERR_TIMESTAMP_INVALID: { status: 422, retryable: false },
  TALLY_ERR_TIMESTAMP_TOO_OLD: { status: 422, retryable: false },
  TALLY_ERR_TIMESTAMP_IN_FUTURE: { status: 422, retryable: false },
  TALLY_ERR_PROPERTIES_INVALID: { status: 422, retryable: false },
  TALLY_ERR_PROPERTIES_TOO_MANY: { status: 422, retryable: false },
  TALLY_ERR_PROPERTIES_TOO_LARGE: { status: 422, retryable: false },
  TALLY_ERR_CLOUDEVENT_INVALID: { status: 422, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERRORS;

export interface TallyErrorOptions {
  field?: string | undefined;
  cause?: unknown;
  /** Extra response headers, e.g. Retry-After. */
  headers?: Record<string, string>;
}

export class TallyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly field: string | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: TallyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TallyError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryable = ERRORS[code].retryable;
    this.field = options.field;
    this.headers = options.headers ?? {};
  }
}

export function isTallyError(e: unknown): e is TallyError {
  return e instanceof TallyError;
}

/** The JSON error body of the HTTP API: `{"error": {"code", "message", "field"?, "request_id"?}}`. */
export function errorBody(e: TallyError, requestId?: string): { error: Record<string, string> } {
  const error: Record<string, string> = { code: e.code, message: e.message };
  if (e.field !== undefined) error.field = e.field;
  if (requestId !== undefined) error.request_id = requestId;
  return { error };
}
