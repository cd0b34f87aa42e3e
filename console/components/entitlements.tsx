import { useApi, useLoad } from '../hooks';
import { drawn } from './chart';
import { Show } from './status';
import { EmptyRow, Head, Table } from './table';
import { Quantity, Time } from './values';

/** A limit as the bar draws it: above zero, so a limit of 0 still makes a bar. */
const limitDrawn = (limit: string): number => Math.max(drawn(limit) ?? 0, Number.MIN_VALUE);

/**
 * A customer's entitlements now: access, and for metered features the usage against the limit
 * (exact figures; the bar only draws them), what remains and when the window resets.
 */
export function Entitlements({ customer }: { customer: string }) {
  const api = useApi();
  const [list] = useLoad((signal) => api.entitlements(customer, signal), [customer]);
  const columns = ['Feature', 'Access', 'Usage / limit', 'Remaining', 'Resets at'];
  return (
    <Show loaded={list} what="entitlements">
      {({ data }) => (
        <Table caption="Entitlements" testId="entitlements" visuallyHiddenCaption>
          <Head columns={columns} numeric={['Remaining']} />
          <tbody>
            {data.length === 0 ? (
              <EmptyRow span={columns.length}>No features: the customer's plans grant none.</EmptyRow>
            ) : (
              data.map((e) => (
                <tr key={e.feature} data-feature={e.feature} data-has-access={String(e.has_access)}>
                  <th scope="row">
                    <code>{e.feature}</code>
                  </th>
                  <td>
                    <span class={e.has_access ? 'ok' : 'bad'}>{e.has_access ? 'Yes' : 'No'}</span>
                  </td>
                  <td>
                    {e.type === 'metered' && e.usage !== undefined && e.limit !== undefined ? (
                      <div class="usage-bar">
                        {/* Drawn only (the figures beside it are the API's text): low is good, from 80 % it warns, at the limit it alarms. */}
                        <meter
                          min={0}
                          max={limitDrawn(e.limit)}
                          low={0.8 * limitDrawn(e.limit)}
                          high={0.9999 * limitDrawn(e.limit)}
                          optimum={0}
                          value={drawn(e.usage) ?? 0}
                          aria-label={`${e.feature}: ${e.usage} of ${e.limit}`}
                        />
                        <span>
                          <Quantity value={e.usage} /> / <Quantity value={e.limit} />
                          {e.hard === false ? <span class="muted"> (soft limit)</span> : null}
                        </span>
                      </div>
                    ) : e.type === 'static' ? (
                      String(e.value ?? '')
                    ) : (
                      <span class="muted">—</span>
                    )}
                  </td>
                  <td class="num">{e.remaining === undefined ? '' : <Quantity value={e.remaining} />}</td>
                  <td>
                    <Time at={e.resets_at} />
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </Table>
      )}
    </Show>
  );
}
