import { obj, oneOfStrings, shape } from '../http/openapi-shapes.js';

/** What `POST /v1/stripe/webhooks` answers (inbound-webhooks.ts), for the OpenAPI document. */
export const StripeWebhookResult = shape('StripeWebhookResult', obj({ received: { const: true }, outcome: oneOfStrings(['applied', 'stale', 'unknown_object', 'ignored', 'duplicate']) }));
