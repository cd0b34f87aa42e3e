import type { WebhookDelivery } from '../api-types';
import { EmptyRow, Head, Table } from './table';
import { Badge, Time } from './values';

/** How many deliveries of an event are in each state: "2 delivered, 1 failed". */
export function deliverySummary(deliveries: readonly WebhookDelivery[]): string {
  if (deliveries.length === 0) return 'no endpoint';
  const counts = new Map<string, number>();
  for (const d of deliveries) counts.set(d.state, (counts.get(d.state) ?? 0) + 1);
  return [...counts.entries()].map(([state, n]) => `${n} ${state}`).join(', ');
}

/** An event's deliveries, one per endpoint, with each attempt when the API gives the log. */
export function Deliveries({ deliveries }: { deliveries: readonly WebhookDelivery[] }) {
  const columns = ['Endpoint', 'State', 'Attempts', 'Last status', 'Last error', 'Next attempt', 'Delivered'];
  return (
    <>
      <Table caption="Deliveries" testId="deliveries">
        <Head columns={columns} numeric={['Attempts', 'Last status']} />
        <tbody>
          {deliveries.length === 0 ? (
            <EmptyRow span={columns.length}>No endpoint listens to this event.</EmptyRow>
          ) : (
            deliveries.map((d) => (
              <tr key={d.id} data-delivery-id={d.id} data-state={d.state}>
                <th scope="row">
                  <code>{d.endpoint}</code>
                </th>
                <td>
                  <Badge value={d.state} />
                </td>
                <td class="num">{d.attempts}</td>
                <td class="num">{d.last_status ?? '—'}</td>
                <td class="wrap">{d.last_error ?? ''}</td>
                <td>
                  <Time at={d.next_attempt_at} />
                </td>
                <td>
                  <Time at={d.delivered_at} />
                </td>
              </tr>
            ))
          )}
        </tbody>
      </Table>
      {deliveries.some((d) => (d.log?.length ?? 0) > 0) ? (
        <Table caption="Delivery attempts" testId="delivery-attempts">
          <Head columns={['Endpoint', 'Attempt', 'At', 'Status', 'Error', 'Duration']} numeric={['Attempt', 'Status', 'Duration']} />
          <tbody>
            {deliveries.flatMap((d) =>
              (d.log ?? []).map((a) => (
                <tr key={`${d.id}-${a.attempt}`}>
                  <th scope="row">
                    <code>{d.endpoint}</code>
                  </th>
                  <td class="num">{a.attempt}</td>
                  <td>
                    <Time at={a.at} />
                  </td>
                  <td class="num">{a.status ?? '—'}</td>
                  <td class="wrap">{a.error ?? ''}</td>
                  <td class="num">{a.duration_ms} ms</td>
                </tr>
              )),
            )}
          </tbody>
        </Table>
      ) : null}
    </>
  );
}
