import type { Identity } from '../api';
import { Page } from '../components/page';
import { link, type Route } from '../router';
import { CustomerDetail } from './customer-detail';
import { Customers } from './customers';
import { InvoiceDetail } from './invoice-detail';
import { Invoices } from './invoices';
import { LiveEventsPage } from './live-events';
import { PipelinePage } from './pipeline';
import { PlanDetail } from './plan-detail';
import { Plans } from './plans';
import { Tenants } from './tenants';
import { UsagePage } from './usage';
import { WebhookEventDetail } from './webhook-event';
import { Webhooks } from './webhooks';

/** The page of a route; a new page (and its focused heading) for each distinct route. */
export function PageFor({ route, identity }: { route: Route; identity: Identity }) {
  const [section, id] = route;
  const key = route.join('/');
  if (identity.kind === 'admin') {
    if (section === 'tenants' && id === undefined) return <Tenants key={key} />;
    return <NotHere key={key} why="This page needs a tenant's API key; the admin key only manages tenants." />;
  }
  if (route.length > 2) return <NotFound key={key} />;
  switch (section) {
    case 'events':
      return id === undefined ? <LiveEventsPage key={key} /> : <NotFound key={key} />;
    case 'usage':
      return id === undefined ? <UsagePage key={key} /> : <NotFound key={key} />;
    case 'customers':
      return id === undefined ? <Customers key={key} /> : <CustomerDetail key={key} id={id} />;
    case 'invoices':
      return id === undefined ? <Invoices key={key} /> : <InvoiceDetail key={key} id={id} />;
    case 'plans':
      return id === undefined ? <Plans key={key} /> : <PlanDetail key={key} code={id} />;
    case 'webhooks':
      return id === undefined ? <Webhooks key={key} /> : <WebhookEventDetail key={key} id={id} />;
    case 'pipeline':
      return id === undefined ? <PipelinePage key={key} /> : <NotFound key={key} />;
    case 'tenants':
      return <NotHere key={key} why="The tenants are listed with the admin key; this is a tenant's key." />;
    default:
      return <NotFound key={key} />;
  }
}

const NotFound = () => (
  <Page title="Page not found">
    <p>
      There is no such page. <a href={link('events')}>Go to live events</a>.
    </p>
  </Page>
);

const NotHere = ({ why }: { why: string }) => (
  <Page title="Not available with this key">
    <p>{why}</p>
  </Page>
);
