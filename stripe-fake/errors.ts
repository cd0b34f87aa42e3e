/**
 * Stripe's v1 error shape: `{"error": {"type", "message", "code"?, "param"?, "doc_url"?}}` with
 * the HTTP status the `stripe` package maps to its error classes (400/404 invalid request or
 * idempotency, 401 authentication, 429 rate limit, 409 and 5xx retried by the client).
 */
export type StripeErrorType = 'invalid_request_error' | 'api_error' | 'idempotency_error' | 'card_error';

export interface StripeErrorBody {
  error: {
    type: StripeErrorType;
    message: string;
    code?: string;
    decline_code?: string;
    param?: string;
    doc_url?: string;
    request_log_url?: string;
  };
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    message: string,
    readonly code?: string,
    readonly param?: string,
    /** A card error's `decline_code`. */
    readonly declineCode?: string,
  ) {
    super(message);
    this.name = 'StripeApiError';
  }

  body(requestId: string): StripeErrorBody {
    return {
      error: {
        type: this.type,
        message: this.message,
        ...(this.code === undefined ? {} : { code: this.code, doc_url: `https://stripe.com/docs/error-codes/${this.code.replace(/_/g, '-')}` }),
        ...(this.declineCode === undefined ? {} : { decline_code: this.declineCode }),
        ...(this.param === undefined ? {} : { param: this.param }),
        request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}`,
      },
    };
  }
}

const invalid = (message: string, param?: string, code?: string, status = 400) => new StripeApiError(status, 'invalid_request_error', message, code, param);

/** One constructor per failure, with Stripe's wording where it is known. */
export const errors = {
  invalidRequest: invalid,
  unknownParam: (name: string) => invalid(`Received unknown parameter: ${name}`, name, 'parameter_unknown'),
  notImplemented: (name: string, param = name) =>
    invalid(`Received parameter ${name}, which Stripe accepts but this local Stripe server does not implement; remove it or extend the server.`, param, 'parameter_unknown'),
  missingParam: (name: string) => invalid(`Missing required param: ${name}.`, name, 'parameter_missing'),
  emptyParam: (name: string) =>
    invalid(
      `You passed an empty string for '${name}'. We assume empty values are an attempt to unset a parameter; however '${name}' cannot be unset. You should remove '${name}' from your request or supply a non-empty value.`,
      name,
      'parameter_invalid_empty',
    ),
  invalidInteger: (name: string, raw: string) => invalid(`Invalid integer: ${raw}`, name, 'parameter_invalid_integer'),
  invalidBoolean: (name: string, raw: string) => invalid(`Invalid boolean: ${raw}`, name),
  invalidDecimal: (name: string, raw: string) => invalid(`Invalid decimal: ${raw}`, name),
  invalidString: (name: string) => invalid(`Invalid string: ${name} must be a string`, name),
  invalidHash: (name: string) => invalid('Invalid hash', name),
  invalidArray: (name: string) => invalid('Invalid array', name),
  tooLong: (name: string, max: number) => invalid(`Invalid ${name}: must be at most ${max} characters`, name),
  tooMany: (name: string, max: number) => invalid(`Invalid ${name}: must have at most ${max} entries`, name),
  notOneOf: (name: string, values: readonly string[]) => invalid(`Invalid ${name}: must be one of ${values.join(', ')}`, name),
  atLeast: (name: string, min: number) => invalid(`This value must be greater than or equal to ${min}.`, name),
  atMost: (name: string, max: number) => invalid(`This value must be less than or equal to ${max}.`, name),
  exclusive: (names: readonly string[]) => invalid(`You may only specify one of these parameters: ${names.join(', ')}.`, names[0], 'parameters_exclusive'),
  resourceMissing: (kind: string, id: string, param: string, status = 400) => invalid(`No such ${kind}: '${id}'`, param, 'resource_missing', status),
  cannotExpand: (path: string) => invalid(`This property cannot be expanded (${path}).`, 'expand'),
  unrecognizedUrl: (method: string, path: string) =>
    invalid(`Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`, undefined, undefined, 404),
  noApiKey: () =>
    invalid(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      undefined,
      undefined,
      401,
    ),
  invalidApiKey: (key: string) =>
    invalid(`Invalid API Key provided: ${key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}` : key}`, undefined, 'api_key_invalid', 401),
  rateLimit: () =>
    invalid('Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.', undefined, 'rate_limit', 429),
  lockTimeout: () =>
    invalid(
      'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request.',
      undefined,
      'lock_timeout',
      409,
    ),
  // A charge the issuer declined: 402 card_error, as Stripe answers a payment that failed.
  cardDeclined: () => new StripeApiError(402, 'card_error', 'Your card was declined.', 'card_declined', undefined, 'generic_decline'),
  // Paying an invoice whose card needs 3D Secure: the payment waits for the customer.
  invoiceRequiresAction: () =>
    new StripeApiError(
      402,
      'card_error',
      'This payment requires additional user action before it can be completed successfully. Payment can be completed using the PaymentIntent associated with the invoice. For more details see: https://stripe.com/docs/billing/subscriptions/overview#requires-action',
      'invoice_payment_intent_requires_action',
    ),
  noPaymentMethod: () =>
    invalid('This customer has no attached payment source or default payment method. Please consider adding a default payment method. For more information, visit https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority.'),
  apiError: () => new StripeApiError(500, 'api_error', 'An unknown error occurred'),
  idempotencyParams: (key: string) =>
    new StripeApiError(
      400,
      'idempotency_error',
      `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
    ),
  idempotencyEndpoint: (key: string, first: string, now: string) =>
    new StripeApiError(
      400,
      'idempotency_error',
      `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${first}' vs '${now}'). Try using a key other than '${key}' if you meant to execute a different request.`,
    ),
} as const;
