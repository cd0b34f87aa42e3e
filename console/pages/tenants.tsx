import { Page } from '../components/page';
import { Pager, useCursor } from '../components/pager';
import { Show } from '../components/status';
import { EmptyRow, Head, Table } from '../components/table';
import { Time } from '../components/values';
import { useApi, useLoad } from '../hooks';

/** Every tenant (admin key), 50 a page. */
export function Tenants() {
  const api = useApi();
  const cursor = useCursor('tenants');
  const [tenants] = useLoad((signal) => api.tenants(cursor.cursor, signal), [cursor.cursor]);
  const columns = ['ID', 'Name', 'Created'];
  return (
    <Page title="Tenants">
      <Show loaded={tenants} what="tenants">
        {(page) => (
          <>
            <Table caption="Tenants" testId="tenants" visuallyHiddenCaption>
              <Head columns={columns} />
              <tbody>
                {page.data.length === 0 ? (
                  <EmptyRow span={columns.length}>No tenants yet: create one with POST /v1/tenants.</EmptyRow>
                ) : (
                  page.data.map((t) => (
                    <tr key={t.id} data-tenant-id={t.id}>
                      <th scope="row">
                        <code>{t.id}</code>
                      </th>
                      <td>{t.name}</td>
                      <td>
                        <Time at={t.created_at} />
                      </td>
                    </tr>
                  ))
                )}
              </tbody>
            </Table>
            <Pager label="Tenant pages" page={cursor.page} hasMore={page.has_more} lastId={page.data[page.data.length - 1]?.id} onNext={cursor.next} onPrevious={cursor.previous} />
          </>
        )}
      </Show>
    </Page>
  );
}
