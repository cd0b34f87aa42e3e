import type { ComponentChildren } from 'preact';
import type { Pipeline } from '../api-types';
import { Page } from '../components/page';
import { ErrorMessage, Loading } from '../components/status';
import { Facts, Time } from '../components/values';
import { bytes, count, duration, timeOfDay } from '../format';
import { useApi, usePolling } from '../hooks';

/** A figure that needs attention says so in words, not only in colour. */
const Alarm = ({ value, bad, children }: { value: number; bad: boolean; children?: ComponentChildren }) => (
  <span class={bad ? 'bad' : undefined} data-value={value}>
    {children ?? count(value)}
    {bad ? ' (needs attention)' : ''}
  </span>
);

/**
 * How far behind each stage is, refreshed every 5 s while shown: the aggregator's lag, this
 * node's event log still to ship, the Stripe outbox, and outbound webhook deliveries.
 */
export function PipelinePage() {
  const api = useApi();
  const pipeline = usePolling((signal) => api.pipeline(signal), 5000);
  return (
    <Page title="Pipeline">
      {pipeline.at === undefined ? null : (
        <p class="muted">
          Updated at <time dateTime={pipeline.at.toISOString()}>{timeOfDay(pipeline.at.toISOString())}</time>, every 5 seconds while this page is shown.
        </p>
      )}
      {pipeline.error === undefined ? null : <ErrorMessage error={pipeline.error} what="the pipeline" />}
      {pipeline.data === undefined ? pipeline.error === undefined ? <Loading what="the pipeline" /> : null : <Stages pipeline={pipeline.data} />}
    </Page>
  );
}

function Stages({ pipeline: p }: { pipeline: Pipeline }) {
  return (
    <div class="cards">
      <section class="card" aria-labelledby="aggregator-heading" data-testid="pipeline-aggregator">
        <h2 id="aggregator-heading">Aggregator</h2>
        <Facts
          items={[
            ['Lag', <span data-value={p.aggregator.lag_seconds ?? ''}>{duration(p.aggregator.lag_seconds)}</span>],
            ['Counted through', <Time at={p.aggregator.watermark} />],
            // A meter whose recompute keeps failing: its usage is counted only through `since`.
            ...p.aggregator.set_aside.map(
              (s) =>
                [
                  `Meter ${s.meter} set aside`,
                  <span class="bad" data-value={s.lag_seconds}>
                    {duration(s.lag_seconds)} behind, since <Time at={s.since} /> (needs attention)
                  </span>,
                ] as const,
            ),
          ]}
        />
      </section>
      <section class="card" aria-labelledby="event-log-heading" data-testid="pipeline-event-log">
        <h2 id="event-log-heading">Event log</h2>
        {p.event_log === null ? (
          <p class="muted">This node keeps no event log (it does not ingest).</p>
        ) : (
          <Facts
            items={[
              ['Node', <code>{p.event_log.node}</code>],
              ['Not yet shipped', <Alarm value={p.event_log.pending_bytes} bad={false}>{bytes(p.event_log.pending_bytes)}</Alarm>],
              ['Segments waiting', <Alarm value={p.event_log.pending_segments} bad={false} />],
              ['Oldest unshipped', <span data-value={p.event_log.oldest_unshipped_age_seconds ?? ''}>{duration(p.event_log.oldest_unshipped_age_seconds)}</span>],
            ]}
          />
        )}
      </section>
      <section class="card" aria-labelledby="outbox-heading" data-testid="pipeline-stripe-outbox">
        <h2 id="outbox-heading">Stripe outbox</h2>
        <Facts
          items={[
            ['Pending', <Alarm value={p.stripe_outbox.pending} bad={false} />],
            ['Failed', <Alarm value={p.stripe_outbox.failed} bad={p.stripe_outbox.failed > 0} />],
            ['Oldest pending', <span data-value={p.stripe_outbox.oldest_pending_age_seconds ?? ''}>{duration(p.stripe_outbox.oldest_pending_age_seconds)}</span>],
          ]}
        />
      </section>
      <section class="card" aria-labelledby="webhooks-heading" data-testid="pipeline-webhooks">
        <h2 id="webhooks-heading">Webhook deliveries</h2>
        <Facts
          items={[
            ['Pending', <Alarm value={p.webhooks.pending} bad={false} />],
            ['Failed', <Alarm value={p.webhooks.failed} bad={p.webhooks.failed > 0} />],
          ]}
        />
      </section>
    </div>
  );
}
