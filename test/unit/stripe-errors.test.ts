import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { errorClass, isRetryable } from '../../stripe/gateway.js';

/** Which Stripe refusals the outbox retries (Stripe's error types and codes as its API reference gives them). */
describe('Stripe errors', () => {
  it('retries a request whose idempotency key another request is still using, not a key reused with other parameters', () => {
    const inUse = new Stripe.errors.StripeIdempotencyError({ type: 'idempotency_error', code: 'idempotency_key_in_use', message: 'There is currently another in-progress request using this Idempotent Key', statusCode: 409 });
    const reused = new Stripe.errors.StripeIdempotencyError({ type: 'idempotency_error', message: 'Keys for idempotent requests can only be used with the same parameters they were first used with', statusCode: 400 });
    expect(isRetryable(inUse)).toBe(true);
    expect(errorClass(reused)).toBe('idempotency');
    expect(isRetryable(reused)).toBe(false);
  });

  it('retries rate limits, server errors and lost connections; not invalid requests or bad keys', () => {
    expect(isRetryable(new Stripe.errors.StripeRateLimitError({ type: 'rate_limit_error', message: 'slow down', statusCode: 429 }))).toBe(true);
    expect(isRetryable(new Stripe.errors.StripeAPIError({ type: 'api_error', message: 'oops', statusCode: 500 }))).toBe(true);
    expect(isRetryable(new Stripe.errors.StripeConnectionError({ type: 'api_error', message: 'socket hang up' }))).toBe(true);
    expect(isRetryable(new Stripe.errors.StripeInvalidRequestError({ type: 'invalid_request_error', message: 'Invalid email address', statusCode: 400 }))).toBe(false);
    expect(isRetryable(new Stripe.errors.StripeAuthenticationError({ type: 'invalid_request_error', message: 'Invalid API Key', statusCode: 401 }))).toBe(false);
  });
});
