import { useMemo } from 'preact/hooks';
import type { LiveEvents } from '../api-types';
import { Chart } from '../components/chart';
import { Page } from '../components/page';
import { ErrorMessage, Loading } from '../components/status';
import { EmptyRow, Head, Table } from '../components/table';
import { Badge, Facts } from '../components/values';
import { count, timeOfDay } from '../format';
import { usePolling, useApi } from '../hooks';

/** Accepted, duplicate, rejected: green, amber, red (each ≥ 4.5:1 on white). */
const RESULT_COLORS = ['#1a7f37', '#9a6700', '#cf222e'] as const;

/**
 * What this node's ingest did in the last minute, polled every second while the page is open
 * and shown: events per second by result, the minute's totals, rejections by code, and the
 * latest events.
 */
export function LiveEventsPage() {
  const api = useApi();
  const live = usePolling((signal) => api.liveEvents(signal), 1000);
  return (
    <Page title="Live events">
      {live.data === undefined ? live.error === undefined ? <Loading what="live events" /> : <ErrorMessage error={live.error} what="live events" /> : <LiveView live={live.data} />}
      {live.data !== undefined && live.error !== undefined ? <ErrorMessage error={live.error} what="the latest second (showing the previous answer)" /> : null}
    </Page>
  );
}

function LiveView({ live }: { live: LiveEvents }) {
  const x = useMemo(() => live.per_second.map((s) => Date.parse(s.at) / 1000), [live]);
  const series = useMemo(
    () => [
      { label: 'Accepted', values: live.per_second.map((s) => s.accepted) },
      { label: 'Duplicates', values: live.per_second.map((s) => s.duplicates) },
      { label: 'Rejected', values: live.per_second.map((s) => s.rejected) },
    ],
    [live],
  );
  const columns = ['Received', 'ID', 'Meter', 'Customer', 'Result', 'Code', 'Message'];
  const codes = Object.entries(live.rejected_by_code).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  return (
    <>
      <p class="muted">
        Node <code>{live.node}</code>, the last {live.window_seconds} seconds, refreshed every second while this page is shown.
      </p>
      <section aria-labelledby="totals-heading">
        <h2 id="totals-heading">Last minute</h2>
        <div data-testid="live-totals">
          <Facts
            items={[
              ['Accepted', <span data-testid="total-accepted">{count(live.totals.accepted)}</span>],
              ['Duplicates', <span data-testid="total-duplicates">{count(live.totals.duplicates)}</span>],
              ['Rejected', <span data-testid="total-rejected">{count(live.totals.rejected)}</span>],
            ]}
          />
        </div>
        <Chart label="Events per second over the last minute: accepted, duplicates and rejected." x={x} series={series} colors={RESULT_COLORS} height={200} />
      </section>
      <section aria-labelledby="codes-heading">
        <h2 id="codes-heading">Rejections by code</h2>
        <Table caption="Rejected events in the last minute, by error code" testId="rejections-by-code">
          <Head columns={['Code', 'Rejected']} numeric={['Rejected']} />
          <tbody>
            {codes.length === 0 ? (
              <EmptyRow span={2}>No rejections in the last minute.</EmptyRow>
            ) : (
              codes.map(([code, n]) => (
                <tr key={code} data-code={code}>
                  <th scope="row">
                    <code>{code}</code>
                  </th>
                  <td class="num">{count(n)}</td>
                </tr>
              ))
            )}
          </tbody>
        </Table>
      </section>
      <section aria-labelledby="recent-heading">
        <h2 id="recent-heading">Latest events</h2>
        <Table caption={`The latest ${live.recent.length} events received by this node, newest first`} testId="live-events">
          <Head columns={columns} />
          <tbody>
            {live.recent.length === 0 ? (
              <EmptyRow span={columns.length}>No events received by this node yet.</EmptyRow>
            ) : (
              live.recent.map((e, i) => (
                <tr key={`${e.received_at}:${e.id ?? ''}:${i}`} data-event-id={e.id ?? ''} data-result={e.result}>
                  <td>
                    <time dateTime={e.received_at}>{timeOfDay(e.received_at)}</time>
                  </td>
                  <td>
                    <code>{e.id ?? '—'}</code>
                  </td>
                  <td>{e.meter ?? '—'}</td>
                  <td>{e.customer ?? '—'}</td>
                  <td>
                    <Badge value={e.result} />
                  </td>
                  <td>{e.code === null ? '' : <code>{e.code}</code>}</td>
                  <td class="wrap">{e.message ?? ''}</td>
                </tr>
              ))
            )}
          </tbody>
        </Table>
      </section>
    </>
  );
}
