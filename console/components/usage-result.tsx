import { useMemo } from 'preact/hooks';
import type { UsageQuery } from '../api';
import type { Meter, Usage, UsageRow } from '../api-types';
import { date, dateTime, words } from '../format';
import { Chart, type ChartSeries, drawn, windowStep } from './chart';
import { EmptyRow, Head, Table } from './table';
import { Time } from './values';

/** Every page of one usage query, read in full (or up to the page's limit: then `truncated`). */
export interface UsageAnswer {
  query: UsageQuery;
  /** The start of every window of the asked range (Unix seconds), or null when too many to draw. */
  windows: number[] | null;
  head: Omit<Usage, 'data' | 'next_page_token'>;
  rows: UsageRow[];
  truncated: boolean;
}

/** The most lines a chart draws; the table below has every row up to MAX_TABLE_ROWS. */
const MAX_SERIES = 12;
/** The most rows the table lists: a browser slows down past a few thousand table rows. */
const MAX_TABLE_ROWS = 2_000;

const groupLabel = (groups: Record<string, string> | undefined, keys: readonly string[]) => keys.map((k) => `${k}=${groups?.[k] ?? '∅'}`).join(', ');

/** A window's start as its size reads: the hour, the day, or the month, in the query's zone. */
function windowLabel(iso: string, window: string, zone: string): string {
  if (window === 'hour') return dateTime(iso, zone);
  if (window === 'month') return new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', timeZone: zone }).format(new Date(iso));
  return date(iso, zone);
}

/**
 * Usage as a chart (one line per group, and per customer when several are listed) and as a
 * table of every row with the API's exact value strings.
 */
export function UsageResult({ answer, meter }: { answer: UsageAnswer; meter: Meter | undefined }) {
  const { head, rows, query, windows } = answer;
  const keys = useMemo(() => (query.group_by === undefined ? [] : query.group_by.split(',')), [query]);
  const manyCustomers = useMemo(() => new Set(rows.map((r) => r.customer)).size > 1, [rows]);

  const { x, series, hidden } = useMemo(() => {
    // Every window of the range (or, past the limit, those with rows), plus any row's own start.
    const x = [...new Set([...(windows ?? []), ...rows.map((r) => Date.parse(r.window_start) / 1000)])].sort((a, b) => a - b);
    const column = new Map(x.map((s, i) => [s, i]));
    // The API lists only windows with usage: a sum or count without a row is 0 (unless the
    // window is not counted yet); other aggregations have no value there, a gap.
    const through = Date.parse(head.aggregated_through) / 1000;
    const absent = x.map((s) => ((head.aggregation === 'sum' || head.aggregation === 'count') && s < through ? 0 : null));
    const lines = new Map<string, { values: (number | null)[]; weight: number }>();
    for (const row of rows) {
      const label = [manyCustomers ? row.customer : '', groupLabel(row.groups, keys)].filter((p) => p !== '').join(' · ') || (meter?.name ?? query.meter);
      let line = lines.get(label);
      if (line === undefined) {
        line = { values: [...absent], weight: 0 };
        lines.set(label, line);
      }
      // Drawing only: the exact figure is the table's string.
      const value = drawn(row.value);
      line.values[column.get(Date.parse(row.window_start) / 1000) ?? 0] = value;
      line.weight += Math.abs(value ?? 0);
    }
    const ranked = [...lines.entries()].sort(([a, p], [b, q]) => q.weight - p.weight || a.localeCompare(b));
    const shown: ChartSeries[] = ranked.slice(0, MAX_SERIES).map(([label, line]) => ({ label, values: line.values }));
    return { x, series: shown, hidden: Math.max(0, ranked.length - MAX_SERIES) };
  }, [rows, windows, head, keys, manyCustomers]);

  const columns = ['Window start', 'Window end', 'Customer', ...keys, 'Value'];
  return (
    <section aria-labelledby="usage-result-heading">
      <h2 id="usage-result-heading">
        {meter?.name ?? query.meter} by {head.window}, {head.tz}
      </h2>
      <p role="status">
        {rows.length} {rows.length === 1 ? 'row' : 'rows'} ({words(head.aggregation)}
        {meter?.unit ? `, ${meter.unit}` : ''}).{' '}
        {head.complete ? (
          <>Counted through <Time at={head.aggregated_through} />.</>
        ) : (
          <strong>Incomplete: the range holds events the aggregator has not counted yet (counted through <Time at={head.aggregated_through} />).</strong>
        )}
        {answer.truncated ? <strong> Only the first {rows.length} rows were read.</strong> : null}
      </p>
      {rows.length === 0 ? null : (
        <>
          <Chart label={`${meter?.name ?? query.meter} per ${head.window}${keys.length > 0 ? `, by ${keys.join(' and ')}` : ''}.`} x={x} series={series} timeZone={head.tz} step={windowStep(head.window)} points />
          {hidden > 0 ? <p class="muted">The chart draws the {MAX_SERIES} largest lines; {hidden} more are in the table.</p> : null}
        </>
      )}
      <Table caption={`Usage of ${query.meter} by ${head.window}${keys.length > 0 ? ` and ${keys.join(', ')}` : ''}, exact values`} testId="usage-table">
        <Head columns={columns} numeric={['Value']} />
        <tbody>
          {rows.length === 0 ? (
            <EmptyRow span={columns.length}>No usage in this range.</EmptyRow>
          ) : (
            rows.slice(0, MAX_TABLE_ROWS).map((row, i) => (
              <tr key={`${row.window_start}|${row.customer}|${groupLabel(row.groups, keys)}|${i}`} data-window-start={row.window_start} data-customer={row.customer}>
                <td>
                  <time dateTime={row.window_start} title={row.window_start}>
                    {windowLabel(row.window_start, head.window, head.tz)}
                  </time>
                </td>
                <td>
                  <time dateTime={row.window_end} title={row.window_end}>
                    {windowLabel(row.window_end, head.window, head.tz)}
                  </time>
                </td>
                <td>{row.customer}</td>
                {keys.map((k) => (
                  <td key={k} data-group={k}>
                    {row.groups?.[k] ?? ''}
                  </td>
                ))}
                <td class="num" data-value={row.value}>
                  {row.value}
                </td>
              </tr>
            ))
          )}
        </tbody>
      </Table>
      {rows.length > MAX_TABLE_ROWS ? (
        <p class="muted">
          The table lists the first {MAX_TABLE_ROWS.toLocaleString()} of {rows.length.toLocaleString()} rows; narrow the range or pick a customer to see the rest.
        </p>
      ) : null}
    </section>
  );
}
