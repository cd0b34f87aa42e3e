import { deliverySummary } from '../components/deliveries';
import { Page } from '../components/page';
import { Pager, useCursor } from '../components/pager';
import { RedeliverButton } from '../components/redeliver';
import { Show } from '../components/status';
import { EmptyRow, Head, Table } from '../components/table';
import { Time } from '../components/values';
import { useApi, useKept, useLoad } from '../hooks';
import { link } from '../router';

/** Outbound webhooks: the endpoints, and the events sent to them with how their deliveries went. */
export function Webhooks() {
  return (
    <Page title="Webhooks">
      <Endpoints />
      <Events />
    </Page>
  );
}

function Endpoints() {
  const api = useApi();
  const [endpoints] = useLoad((signal) => api.webhookEndpoints(signal), []);
  const columns = ['ID', 'URL', 'Events', 'Description', 'Enabled', 'Secret', 'Created'];
  return (
    <section aria-labelledby="endpoints-heading">
      <h2 id="endpoints-heading">Endpoints</h2>
      <Show loaded={endpoints} what="webhook endpoints">
        {({ data }) => (
          <Table caption="Webhook endpoints" testId="webhook-endpoints" visuallyHiddenCaption>
            <Head columns={columns} />
            <tbody>
              {data.length === 0 ? (
                <EmptyRow span={columns.length}>No endpoints: add one with POST /v1/webhook_endpoints.</EmptyRow>
              ) : (
                data.map((e) => (
                  <tr key={e.id} data-endpoint-id={e.id}>
                    <th scope="row">
                      <code>{e.id}</code>
                    </th>
                    <td class="wrap">{e.url}</td>
                    <td class="wrap">{e.events.join(', ')}</td>
                    <td class="wrap">{e.description ?? ''}</td>
                    <td>{e.disabled ? 'Disabled' : 'Yes'}</td>
                    <td>
                      <code>{e.secret_hint}</code>
                    </td>
                    <td>
                      <Time at={e.created_at} dateOnly />
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

function Events() {
  const api = useApi();
  const [type, setType] = useKept('webhook-events:type', '');
  const cursor = useCursor('webhook-events');
  const [events, reload] = useLoad((signal) => api.webhookEvents(type === '' ? undefined : type, cursor.cursor, signal), [type, cursor.cursor]);
  const [types] = useLoad((signal) => api.webhookEventTypes(signal), []);
  const columns = ['Event', 'Type', 'Created', 'Deliveries', 'Action'];
  return (
    <section aria-labelledby="events-heading">
      <h2 id="events-heading">Events and deliveries</h2>
      <form class="filters" aria-label="Event filter" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="event-type">Event type</label>
          <select
            id="event-type"
            value={type}
            onChange={(e) => {
              setType(e.currentTarget.value);
              cursor.reset();
            }}
          >
            <option value="">All</option>
            {(types.state === 'ok' ? types.data : []).map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </div>
      </form>
      <Show loaded={events} what="webhook events">
        {(page) => (
          <>
            <Table caption="Outbound events, newest first" testId="webhook-events" visuallyHiddenCaption>
              <Head columns={columns} />
              <tbody>
                {page.data.length === 0 ? (
                  <EmptyRow span={columns.length}>No events.</EmptyRow>
                ) : (
                  page.data.map((e) => (
                    <tr key={e.id} data-webhook-event-id={e.id}>
                      <th scope="row">
                        <a href={link('webhooks', e.id)}>{e.id}</a>
                      </th>
                      <td>{e.type}</td>
                      <td>
                        <Time at={e.created_at} />
                      </td>
                      <td>{deliverySummary(e.deliveries)}</td>
                      <td>
                        <RedeliverButton event={e.id} onDone={reload} />
                      </td>
                    </tr>
                  ))
                )}
              </tbody>
            </Table>
            <Pager label="Event pages" page={cursor.page} hasMore={page.has_more} lastId={page.data[page.data.length - 1]?.id} onNext={cursor.next} onPrevious={cursor.previous} />
          </>
        )}
      </Show>
    </section>
  );
}
