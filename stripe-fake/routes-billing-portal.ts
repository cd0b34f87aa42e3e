import { renderSession } from './billing-portal.js';
import type { BillingPortalSession } from './objects.js';
import { expand, oneOf, optional, str } from './params.js';
import { type Route, checkExpand, route } from './router.js';

/**
 * `POST /v1/billing_portal/sessions`: a session whose `url` points at this server
 * (`/p/session/bps_…`, where Stripe's points at billing.stripe.com). Configurations, flows and
 * Connect are not modelled.
 */
const LOCALES = ['auto', 'bg', 'cs', 'da', 'de', 'el', 'en', 'en-AU', 'en-CA', 'en-GB', 'en-IE', 'en-IN', 'en-NZ', 'en-SG', 'es', 'es-419', 'et', 'fi', 'fil', 'fr', 'fr-CA', 'hr', 'hu', 'id', 'it', 'ja', 'ko', 'lt', 'lv', 'ms', 'mt', 'nb', 'nl', 'pl', 'pt', 'pt-BR', 'ro', 'ru', 'sk', 'sl', 'sv', 'th', 'tr', 'vi', 'zh', 'zh-HK', 'zh-TW'] as const;

export const billingPortalRoutes: Route[] = [
  route(
    'POST',
    '/v1/billing_portal/sessions',
    { customer: str(), return_url: optional(str({ max: 5000, pattern: /^https?:\/\/\S+$/, describe: 'must be an http(s) URL' })), locale: optional(oneOf(LOCALES)), expand: expand() },
    ({ store, serverUrl }, p) => {
      checkExpand(p.expand, []);
      const customer = store.customer(p.customer, 'customer').obj;
      const id = store.ids.next('bps');
      const session: BillingPortalSession = {
        id,
        object: 'billing_portal.session',
        configuration: 'bpc_default',
        created: store.now(),
        customer: customer.id,
        customer_account: null,
        flow: null,
        livemode: false,
        locale: p.locale ?? null,
        on_behalf_of: null,
        return_url: p.return_url ?? null,
        url: `${serverUrl}/p/session/${id}`,
      };
      store.portalSessions.set(id, store.entry(session));
      return renderSession(session);
    },
    { unsupported: ['configuration', 'customer_account', 'flow_data', 'on_behalf_of'] },
  ),
];
