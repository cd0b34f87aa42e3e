import type { ComponentChildren } from 'preact';
import type { Invoice } from '../api-types';
import { words } from '../format';
import { EmptyRow, Head, Table } from './table';
import { Facts, Money, Period, Quantity } from './values';

/** An invoice's lines (or an upcoming invoice's), amounts exact in the invoice's currency. */
export function InvoiceLines({ invoice, caption }: { invoice: Invoice; caption: string }) {
  const columns = ['#', 'Type', 'Description', 'Period', 'Quantity', 'Amount'];
  return (
    <Table caption={caption} testId="invoice-lines">
      <Head columns={columns} numeric={['Quantity', 'Amount']} />
      <tbody>
        {invoice.lines.length === 0 ? (
          <EmptyRow span={columns.length}>No lines.</EmptyRow>
        ) : (
          invoice.lines.map((line, i) => (
            <tr key={i} data-line={i + 1} data-type={line.type}>
              <th scope="row">{i + 1}</th>
              <td>{words(line.type)}</td>
              <td class="wrap">{line.description}</td>
              <td>
                {line.period === null ? (
                  ''
                ) : (
                  <>
                    <Period start={line.period.start} end={line.period.end} />
                  </>
                )}
              </td>
              <td class="num">
                <Quantity value={line.quantity} />
              </td>
              <td class="num">
                <Money amount={line.amount} currency={invoice.currency} />
              </td>
            </tr>
          ))
        )}
      </tbody>
    </Table>
  );
}

/** Subtotal to total, and what is still due. */
export function InvoiceTotals({ invoice }: { invoice: Invoice }) {
  const m = (amount: string) => <Money amount={amount} currency={invoice.currency} />;
  const items: [string, ComponentChildren][] = [
    ['Subtotal', m(invoice.subtotal)],
    ['Discount', m(invoice.discount)],
    ['Credit', m(invoice.credit)],
    ['Tax', m(invoice.tax)],
    ['Total', <strong data-testid="invoice-total">{m(invoice.total)}</strong>],
  ];
  if (invoice.id !== null) items.push(['Credited', m(invoice.credited)], ['Amount due', <span data-testid="invoice-amount-due">{m(invoice.amount_due)}</span>]);
  return <Facts items={items} label="Totals" />;
}
