import type { Customer } from '../api-types';
import { Page } from '../components/page';
import { Pager, useCursor } from '../components/pager';
import { Show } from '../components/status';
import { EmptyRow, Head, Table } from '../components/table';
import { Time } from '../components/values';
import { useApi, useLoad } from '../hooks';
import { link } from '../router';
import { words } from '../format';

/** The tenant's customers by id, 50 a page. */
export function Customers() {
  const api = useApi();
  const cursor = useCursor('customers');
  const [customers] = useLoad((signal) => api.customers(cursor.cursor, signal), [cursor.cursor]);
  return (
    <Page title="Customers">
      <Show loaded={customers} what="customers">
        {(page) => (
          <>
            <CustomerTable customers={page.data} />
            <Pager label="Customer pages" page={cursor.page} hasMore={page.has_more} lastId={page.data[page.data.length - 1]?.id} onNext={cursor.next} onPrevious={cursor.previous} />
          </>
        )}
      </Show>
    </Page>
  );
}

function CustomerTable({ customers }: { customers: Customer[] }) {
  const columns = ['ID', 'Name', 'Email', 'Currency', 'Country', 'Collection', 'Created'];
  return (
    <Table caption="Customers" testId="customers" visuallyHiddenCaption>
      <Head columns={columns} />
      <tbody>
        {customers.length === 0 ? (
          <EmptyRow span={columns.length}>No customers yet.</EmptyRow>
        ) : (
          customers.map((c) => (
            <tr key={c.id} data-customer-id={c.id}>
              <th scope="row">
                <a class="clip" href={link('customers', c.id)} title={c.id}>
                  {c.id}
                </a>
              </th>
              <td>
                <span class="clip" title={c.name}>
                  {c.name}
                </span>
              </td>
              <td>
                <span class="clip" title={c.email ?? ''}>
                  {c.email ?? ''}
                </span>
              </td>
              <td>{c.currency}</td>
              <td>{c.country ?? ''}</td>
              <td>{words(c.collection_method)}</td>
              <td>
                <Time at={c.created_at} dateOnly />
              </td>
            </tr>
          ))
        )}
      </tbody>
    </Table>
  );
}
