import { Deliveries } from '../components/deliveries';
import { Page } from '../components/page';
import { RedeliverButton } from '../components/redeliver';
import { Show } from '../components/status';
import { Facts, Time } from '../components/values';
import { useApi, useLoad } from '../hooks';
import { link } from '../router';

/** One outbound event: what it said, each delivery and attempt, and a way to send it again. */
export function WebhookEventDetail({ id }: { id: string }) {
  const api = useApi();
  const [event, reload] = useLoad((signal) => api.webhookEvent(id, signal), [id]);
  return (
    <Page title={`Webhook event ${id}`}>
      <p>
        <a href={link('webhooks')}>← Webhooks</a>
      </p>
      <Show loaded={event} what="the event">
        {(e) => (
          <>
            <Facts
              label="Event"
              items={[
                ['Type', e.type],
                ['Created', <Time at={e.created_at} />],
                ['Deliver again', <RedeliverButton event={e.id} onDone={reload} />],
              ]}
            />
            <section aria-labelledby="deliveries-heading">
              <h2 id="deliveries-heading">Deliveries</h2>
              <Deliveries deliveries={e.deliveries} />
            </section>
            <section aria-labelledby="payload-heading">
              <h2 id="payload-heading">Payload</h2>
              <pre class="payload" tabIndex={0} aria-label="Event payload (JSON)">
                {JSON.stringify(e.data, null, 2)}
              </pre>
            </section>
          </>
        )}
      </Show>
    </Page>
  );
}
