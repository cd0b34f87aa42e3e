import { Page } from '../components/page';
import { Show } from '../components/status';
import { EmptyRow, Head, Table } from '../components/table';
import { Money, Time } from '../components/values';
import { words } from '../format';
import { useApi, useLoad } from '../hooks';
import { link } from '../router';

/** The latest version of every plan. */
export function Plans() {
  const api = useApi();
  const [plans] = useLoad((signal) => api.plans(signal), []);
  const columns = ['Code', 'Name', 'Version', 'Interval', 'Base fee', 'Charges', 'Features', 'Billing', 'Created'];
  return (
    <Page title="Plans">
      <Show loaded={plans} what="plans">
        {({ data }) => (
          <Table caption="Plans, latest versions" testId="plans" visuallyHiddenCaption>
            <Head columns={columns} numeric={['Version', 'Base fee', 'Charges', 'Features']} />
            <tbody>
              {data.length === 0 ? (
                <EmptyRow span={columns.length}>No plans yet.</EmptyRow>
              ) : (
                data.map((p) => (
                  <tr key={p.code} data-plan-code={p.code}>
                    <th scope="row">
                      <a href={link('plans', p.code)}>{p.code}</a>
                    </th>
                    <td>{p.name}</td>
                    <td class="num">{p.version}</td>
                    <td>{p.interval}</td>
                    <td class="num">
                      <Money amount={p.base_fee} currency={p.currency} />
                    </td>
                    <td class="num">{p.charges.length}</td>
                    <td class="num">{p.features.length}</td>
                    <td>{words(p.billing_mode)}</td>
                    <td>
                      <Time at={p.created_at} dateOnly />
                    </td>
                  </tr>
                ))
              )}
            </tbody>
          </Table>
        )}
      </Show>
    </Page>
  );
}
