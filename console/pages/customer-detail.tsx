import type { Api } from '../api';
import type { Customer, Subscription } from '../api-types';
import { Entitlements } from '../components/entitlements';
import { InvoiceTable } from '../components/invoice-table';
import { Page } from '../components/page';
import { Show } from '../components/status';
import { EmptyRow, Head, Table } from '../components/table';
import { UpcomingInvoice } from '../components/upcoming-invoice';
import { Badge, Facts, Money, Period, Time, YesNo } from '../components/values';
import { words } from '../format';
import { useApi, useLoad } from '../hooks';
import { link } from '../router';

/** Every subscription of a customer (pages of 100, followed). */
async function allSubscriptions(api: Api, customer: string, signal: AbortSignal): Promise<Subscription[]> {
  const all: Subscription[] = [];
  let after: string | undefined;
  for (let page = 0; page < 20; page++) {
    const list = await api.subscriptions(customer, after, signal);
    all.push(...list.data);
    after = list.data[list.data.length - 1]?.id;
    if (!list.has_more || after === undefined) break;
  }
  return all;
}

/**
 * One customer: billing details, credit balance, subscriptions, entitlements, the upcoming
 * invoice of each live subscription, and its invoices.
 */
export function CustomerDetail({ id }: { id: string }) {
  const api = useApi();
  const [customer] = useLoad((signal) => api.customer(id, signal), [id]);
  return (
    <Page title={customer.state === 'ok' ? `Customer ${customer.data.name}` : `Customer ${id}`}>
      <p>
        <a href={link('customers')}>← All customers</a>
      </p>
      <Show loaded={customer} what="the customer">
        {(c) => <CustomerView customer={c} />}
      </Show>
    </Page>
  );
}

function CustomerView({ customer: c }: { customer: Customer }) {
  const api = useApi();
  const [balance] = useLoad((signal) => api.balance(c.id, signal), [c.id]);
  const [subscriptions] = useLoad((signal) => allSubscriptions(api, c.id, signal), [c.id]);
  const [invoices] = useLoad((signal) => api.invoices({ customer: c.id }, undefined, signal), [c.id]);
  const address = c.address === null ? null : [c.address.line1, c.address.line2, `${c.address.postal_code} ${c.address.city}`, c.address.state, c.address.country].filter((p) => p !== undefined && p !== '').join(', ');
  return (
    <>
      <section aria-labelledby="billing-heading">
        <h2 id="billing-heading">Billing details</h2>
        <Facts
          label="Billing details"
          items={[
            ['ID', <code>{c.id}</code>],
            ['Name', c.name],
            ['Email', c.email],
            ['Currency', c.currency],
            ['Country', c.country],
            ['Region', c.region],
            ['Address', address],
            ['Locale', c.locale ?? 'en-US (default)'],
            ['Time zone', c.timezone ?? 'UTC (default)'],
            ['Tax exempt', <YesNo value={c.tax_exempt} />],
            ['Collection', words(c.collection_method)],
            ['Days until due', c.days_until_due === null ? null : String(c.days_until_due)],
            ['Purchase order', c.purchase_order],
            ['Stripe customer', c.stripe_customer_id === null ? null : <code>{c.stripe_customer_id}</code>],
            ...Object.entries(c.metadata).map(([k, v]) => [`Metadata: ${k}`, v] as const),
            ['Created', <Time at={c.created_at} />],
          ]}
        />
      </section>
      <section aria-labelledby="balance-heading" data-testid="credit-balance">
        <h2 id="balance-heading">Credit balance</h2>
        <Show loaded={balance} what="the balance">
          {(b) => (
            <Facts
              label="Credit balance"
              items={[
                ['Credit', <Money amount={b.credit} currency={b.currency} />],
                ['Spend this period', <Money amount={b.spend} currency={b.currency} />],
                ['Balance', <strong data-testid="balance">{<Money amount={b.balance} currency={b.currency} />}</strong>],
                ['As of', <Time at={b.as_of} />],
              ]}
            />
          )}
        </Show>
      </section>
      <section aria-labelledby="subscriptions-heading">
        <h2 id="subscriptions-heading">Subscriptions</h2>
        <Show loaded={subscriptions} what="subscriptions">
          {(subs) => <SubscriptionTable subscriptions={subs} />}
        </Show>
      </section>
      <section aria-labelledby="entitlements-heading">
        <h2 id="entitlements-heading">Entitlements</h2>
        <Entitlements customer={c.id} />
      </section>
      <section aria-labelledby="upcoming-heading">
        <h2 id="upcoming-heading">Upcoming invoices</h2>
        <Show loaded={subscriptions} what="subscriptions">
          {(subs) => {
            const live = subs.filter((s) => s.status !== 'canceled');
            return live.length === 0 ? <p class="muted">No live subscription, so no upcoming invoice.</p> : live.map((s) => <UpcomingInvoice key={s.id} subscription={s} />);
          }}
        </Show>
      </section>
      <section aria-labelledby="invoices-heading">
        <h2 id="invoices-heading">Invoices</h2>
        <Show loaded={invoices} what="invoices">
          {(page) => (
            <>
              <InvoiceTable invoices={page.data} caption={`Invoices of ${c.name}`} hiddenCaption />
              {page.has_more ? (
                <p>
                  Showing the first {page.data.length}. <a href={link('invoices')}>All invoices</a>
                </p>
              ) : null}
            </>
          )}
        </Show>
      </section>
    </>
  );
}

function SubscriptionTable({ subscriptions }: { subscriptions: Subscription[] }) {
  const columns = ['ID', 'Plan', 'Status', 'Seats', 'Current period', 'Cancels at', 'Pending change'];
  return (
    <Table caption="Subscriptions" testId="subscriptions" visuallyHiddenCaption>
      <Head columns={columns} numeric={['Seats']} />
      <tbody>
        {subscriptions.length === 0 ? (
          <EmptyRow span={columns.length}>No subscriptions.</EmptyRow>
        ) : (
          subscriptions.map((s) => (
            <tr key={s.id} data-subscription-id={s.id}>
              <th scope="row">
                <code>{s.id}</code>
              </th>
              <td>
                <a href={link('plans', s.plan.code)}>{s.plan.code}</a> v{s.plan.version}
              </td>
              <td>
                <Badge value={s.status} />
              </td>
              <td class="num">{s.quantity}</td>
              <td>
                <Period start={s.current_period.start} end={s.current_period.end} />
              </td>
              <td>
                <Time at={s.cancel_at} dateOnly />
              </td>
              <td>
                {s.pending_change === null ? (
                  ''
                ) : (
                  <>
                    {s.pending_change.plan.code} v{s.pending_change.plan.version} × {s.pending_change.quantity} at <Time at={s.pending_change.at} dateOnly />
                  </>
                )}
              </td>
            </tr>
          ))
        )}
      </tbody>
    </Table>
  );
}
