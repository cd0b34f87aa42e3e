import type { Invoice } from '../api-types';
import { link } from '../router';
import { EmptyRow, Head, Table } from './table';
import { Badge, Money, Time } from './values';

/** A list of invoices: number (or id while a draft has none), customer, status, total, issued, due. */
export function InvoiceTable({ invoices, caption, hiddenCaption = false }: { invoices: Invoice[]; caption: string; hiddenCaption?: boolean }) {
  const columns = ['Number', 'Customer', 'Status', 'Total', 'Issued', 'Due'];
  return (
    <Table caption={caption} testId="invoices" visuallyHiddenCaption={hiddenCaption}>
      <Head columns={columns} numeric={['Total']} />
      <tbody>
        {invoices.length === 0 ? (
          <EmptyRow span={columns.length}>No invoices.</EmptyRow>
        ) : (
          invoices.map((inv) =>
            inv.id === null ? null : (
              <tr key={inv.id} data-invoice-id={inv.id}>
                <th scope="row">
                  <a href={link('invoices', inv.id)}>{inv.number ?? inv.id}</a>
                </th>
                <td>
                  <a class="clip" href={link('customers', inv.customer)} title={inv.customer}>
                    {inv.customer}
                  </a>
                </td>
                <td>
                  <Badge value={inv.status} />
                </td>
                <td class="num">
                  <Money amount={inv.total} currency={inv.currency} />
                </td>
                <td>
                  <Time at={inv.issued_at} dateOnly />
                </td>
                <td>
                  <Time at={inv.due_at} dateOnly />
                </td>
              </tr>
            ),
          )
        )}
      </tbody>
    </Table>
  );
}
