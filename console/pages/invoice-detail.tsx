import { useEffect, useRef, useState } from 'preact/hooks';
import type { Invoice } from '../api-types';
import { InvoiceActions } from '../components/invoice-actions';
import { InvoiceDocument } from '../components/invoice-document';
import { InvoiceLines, InvoiceTotals } from '../components/invoice-lines';
import { Page } from '../components/page';
import { Show } from '../components/status';
import { EmptyRow, Head, Table } from '../components/table';
import { Badge, Facts, Money, Period, Time } from '../components/values';
import { words } from '../format';
import { useApi, useLoad } from '../hooks';
import { link } from '../router';

/**
 * One invoice: status, figures, lines, credit notes, the rendered document, and the finance
 * actions its status allows. After an action the invoice is read again.
 */
export function InvoiceDetail({ id }: { id: string }) {
  const api = useApi();
  const [invoice, reload] = useLoad((signal) => api.invoice(id, signal), [id]);
  const [done, setDone] = useState<string | null>(null);
  const notice = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (done !== null) notice.current?.focus();
  }, [done]);
  const title = invoice.state === 'ok' ? `Invoice ${invoice.data.number ?? invoice.data.id ?? id}` : `Invoice ${id}`;
  return (
    <Page title={title}>
      <p>
        <a href={link('invoices')}>← All invoices</a>
      </p>
      {/* Focus comes here after an action: the button that opened it may be gone (a voided invoice has no Void). */}
      <p role="status" class="notice" hidden={done === null} tabIndex={-1} ref={notice}>
        {done ?? ''}
      </p>
      <Show loaded={invoice} what="the invoice">
        {(inv) => (
          <InvoiceView
            invoice={inv}
            onChanged={(message) => {
              setDone(message);
              reload();
            }}
            onStale={reload}
          />
        )}
      </Show>
    </Page>
  );
}

function InvoiceView({ invoice: inv, onChanged, onStale }: { invoice: Invoice; onChanged: (message: string) => void; onStale: () => void }) {
  const id = inv.id ?? '';
  return (
    <>
      <section aria-labelledby="summary-heading">
        <h2 id="summary-heading">Summary</h2>
        <Facts
          label="Invoice summary"
          items={[
            ['Status', <Badge value={inv.status} testId="invoice-status" />],
            ...(inv.status_reason === null ? [] : [['Reason', inv.status_reason] as const]),
            ['Customer', <a href={link('customers', inv.customer)}>{inv.customer}</a>],
            ['Subscription', <code>{inv.subscription}</code>],
            ['Kind', words(inv.kind)],
            ['Period', <Period start={inv.period_start} end={inv.period_end} />],
            ['Issued', <Time at={inv.issued_at} />],
            ['Due', <Time at={inv.due_at} />],
            ['Paid', <Time at={inv.paid_at} />],
            ...(inv.paid_out_of_band === null ? [] : [['Paid outside Stripe', `${words(inv.paid_out_of_band.method)}${inv.paid_out_of_band.reference === null ? '' : ` (${inv.paid_out_of_band.reference})`}`] as const]),
            ...(inv.days_overdue === null ? [] : [['Days overdue', String(inv.days_overdue)] as const]),
            ['Payment terms', inv.payment_terms],
            ['Purchase order', inv.purchase_order],
            ['Stripe invoice', inv.stripe_invoice_id === null ? null : <code>{inv.stripe_invoice_id}</code>],
          ]}
        />
        <InvoiceTotals invoice={inv} />
      </section>
      <InvoiceActions invoice={inv} onChanged={onChanged} onStale={onStale} />
      <section aria-labelledby="lines-heading">
        <h2 id="lines-heading">Lines</h2>
        <InvoiceLines invoice={inv} caption="Invoice lines" />
      </section>
      <CreditNotes invoice={id} version={`${inv.status}|${inv.credited}`} />
      <section aria-labelledby="document-heading">
        <h2 id="document-heading">Document</h2>
        <InvoiceDocument id={id} name={inv.number ?? id} version={`${inv.status}|${inv.credited}`} />
      </section>
    </>
  );
}

/** The invoice's credit notes; `version` changes when an action may have added one. */
function CreditNotes({ invoice, version }: { invoice: string; version: string }) {
  const api = useApi();
  const [notes] = useLoad((signal) => api.creditNotes(invoice, signal), [invoice, version]);
  const columns = ['Number', 'Amount', 'Settlement', 'Reason', 'Memo', 'Created'];
  return (
    <section aria-labelledby="credit-notes-heading">
      <h2 id="credit-notes-heading">Credit notes</h2>
      <Show loaded={notes} what="credit notes">
        {({ data }) => (
          <Table caption="Credit notes" testId="credit-notes" visuallyHiddenCaption>
            <Head columns={columns} numeric={['Amount']} />
            <tbody>
              {data.length === 0 ? (
                <EmptyRow span={columns.length}>No credit notes.</EmptyRow>
              ) : (
                data.map((n) => (
                  <tr key={n.id} data-credit-note-id={n.id}>
                    <th scope="row">{n.number}</th>
                    <td class="num">
                      <Money amount={n.amount} currency={n.currency} />
                    </td>
                    <td>{words(n.settlement)}</td>
                    <td>{words(n.reason)}</td>
                    <td class="wrap">{n.memo ?? ''}</td>
                    <td>
                      <Time at={n.created_at} />
                    </td>
                  </tr>
                ))
              )}
            </tbody>
          </Table>
        )}
      </Show>
    </section>
  );
}
