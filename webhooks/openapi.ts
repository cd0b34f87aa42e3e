import { arr, bool, instant, int, list, nullable, obj, oneOfStrings, shape, str } from '../http/openapi-shapes.js';
import { EVENT_TYPES } from './events.js';

/** What the webhook routes answer (endpoints.ts `EndpointView`, log.ts), for the OpenAPI document. */

const endpointProps = {
  id: str('`we_...`'),
  url: str(),
  events: arr(oneOfStrings(['*', ...EVENT_TYPES])),
  description: nullable(str()),
  disabled: bool,
  secret_hint: str('The last four characters of the signing secret.'),
  created_at: instant,
  updated_at: instant,
};

export const WebhookEndpoint = shape('WebhookEndpoint', obj(endpointProps));
export const NewWebhookEndpoint = shape('NewWebhookEndpoint', obj({ ...endpointProps, secret: str('The signing secret (`whsec_...`), shown only here.') }));
export const WebhookEndpointList = list(WebhookEndpoint, false);

export const WebhookEvent = shape(
  'WebhookEvent',
  obj({
    id: str('`evt_...`'),
    type: oneOfStrings(EVENT_TYPES),
    created_at: instant,
    data: {},
    deliveries: arr(
      obj(
        {
          id: str(),
          endpoint: str(),
          state: oneOfStrings(['pending', 'delivered', 'failed']),
          attempts: int(),
          last_status: nullable(int()),
          last_error: nullable(str()),
          next_attempt_at: nullable(instant),
          delivered_at: nullable(instant),
          log: arr(obj({ attempt: int(), at: instant, status: nullable(int()), error: nullable(str()), duration_ms: int() })),
        },
        ['log'],
      ),
    ),
  }),
);
export const WebhookEventList = list(WebhookEvent, true);
