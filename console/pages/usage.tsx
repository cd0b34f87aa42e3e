import { useState } from 'preact/hooks';
import type { UsageQuery } from '../api';
import type { Meter, UsageRow, UsageWindow } from '../api-types';
import { Page } from '../components/page';
import { Show } from '../components/status';
import { type UsageAnswer, UsageResult } from '../components/usage-result';
import { useApi, useKept, useLoad } from '../hooks';
import { addDays, browserZone, knownZone, monthStart, startOfDay, today, wholeHours } from '../zones';

/** The most pages of usage read for one view (10,000 rows each): past that the view says it stopped. */
const MAX_PAGES = 10;

/** The most windows the chart spans; past that it draws only the windows that have usage. */
const MAX_WINDOWS = 2_000;

interface Form {
  meter: string;
  window: Exclude<UsageWindow, 'none'>;
  tz: string;
  from: string;
  to: string;
  groupBy: string[];
  customer: string;
}

/** The instants of the form's inclusive dates: whole days, or whole months for month windows. */
function toQuery(form: Form): UsageQuery {
  const fromDate = form.window === 'month' ? monthStart(form.from) : form.from;
  const toDate = form.window === 'month' ? monthStart(form.to, 1) : addDays(form.to, 1);
  return {
    meter: form.meter,
    window: form.window,
    tz: form.tz,
    from: startOfDay(fromDate, form.tz),
    to: startOfDay(toDate, form.tz),
    ...(form.groupBy.length === 0 ? {} : { group_by: form.groupBy.join(',') }),
    ...(form.customer.trim() === '' ? {} : { customer: form.customer.trim() }),
  };
}

/**
 * The start of every window of the query's range, in Unix seconds (the API lists only windows
 * with usage; the chart spans them all), or null past MAX_WINDOWS. Hours are whole hours of the
 * range; days and months begin at the zone's midnights, as the query's own bounds do.
 */
function windowStarts(form: Form, query: UsageQuery): number[] | null {
  const from = Date.parse(query.from) / 1000;
  const to = Date.parse(query.to) / 1000;
  const starts: number[] = [];
  for (let i = 0; ; i++) {
    const at = form.window === 'hour' ? from + i * 3600 : Date.parse(startOfDay(form.window === 'month' ? monthStart(form.from, i) : addDays(form.from, i), form.tz)) / 1000;
    if (!(at < to)) return starts;
    if (starts.length === MAX_WINDOWS) return null;
    starts.push(at);
  }
}

/**
 * A meter's usage over a range, in hour, day or month windows of a time zone, optionally by
 * group and for one customer: every page of GET /v1/usage, drawn and listed with the API's
 * exact values.
 */
export function UsagePage() {
  const api = useApi();
  const [meters] = useLoad((signal) => api.meters(signal), []);
  return (
    <Page title="Meters & usage">
      <Show loaded={meters} what="meters">
        {(list) => (list.data.length === 0 ? <p>No meters yet: define one with POST /v1/meters.</p> : <UsageExplorer meters={list.data} />)}
      </Show>
    </Page>
  );
}

function UsageExplorer({ meters }: { meters: Meter[] }) {
  const api = useApi();
  // The reader's zone, unless it is not whole hours off UTC (usage is kept by the UTC hour): then UTC, said so.
  const own = browserZone();
  const zone = wholeHours(own, [Date.now()]) ? own : 'UTC';
  const fresh: Form = { meter: meters[0]?.key ?? '', window: 'day', tz: zone, from: addDays(today(zone), -6), to: today(zone), groupBy: [], customer: '' };
  // The form and the query last asked live in the browser history's entry (as a list's filters
  // do): Back from another page, or a reload, shows the same usage again. A kept meter since
  // deleted starts over.
  const [kept, setForm] = useKept<Form>('usage:form', fresh);
  const usable = (f: Form) => (meters.some((m) => m.key === f.meter) ? f : fresh);
  const form = usable(kept);
  const [problem, setProblem] = useState<string | null>(null);
  // The first meter's last week is shown at once; a later query aborts whatever is still loading.
  const [keptAsked, setAsked] = useKept<{ query: UsageQuery; windows: number[] | null } | null>('usage:asked', null);
  const asked = keptAsked !== null && form === kept ? keptAsked : { query: toQuery(fresh), windows: windowStarts(fresh, toQuery(fresh)) };
  const meter = meters.find((m) => m.key === form.meter);

  const [answer] = useLoad(async (signal): Promise<UsageAnswer> => {
    const { query, windows } = asked;
    const rows: UsageRow[] = [];
    let token: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await api.usage(query, token, signal);
      rows.push(...page.data);
      pages++;
      const { data: _data, next_page_token, ...head } = page;
      if (next_page_token === null || pages >= MAX_PAGES) return { query, windows, head, rows, truncated: next_page_token !== null };
      token = next_page_token;
    }
  }, [JSON.stringify(asked)]);

  const run = (next: Form) => {
    if (!knownZone(next.tz)) return setProblem(`"${next.tz}" is not a time zone this browser knows (an IANA name such as Europe/Berlin).`);
    if (next.from === '' || next.to === '' || next.to < next.from) return setProblem('Choose a From date on or before the To date.');
    if (!wholeHours(next.tz, [Date.parse(`${next.from}T12:00:00Z`), Date.parse(`${next.to}T12:00:00Z`)])) {
      return setProblem(`${next.tz} is not a whole number of hours off UTC, and usage is kept by the UTC hour: choose a zone that is (UTC, or one near it such as Asia/Dubai).`);
    }
    setProblem(null);
    const query = toQuery(next);
    setAsked({ query, windows: windowStarts(next, query) });
  };

  const update = (patch: Partial<Form>) => setForm((f) => ({ ...usable(f), ...patch }));

  return (
    <>
      <form
        class="filters"
        aria-label="Usage query"
        onSubmit={(e) => {
          e.preventDefault();
          run(form);
        }}
      >
        <div class="field">
          <label for="usage-meter">Meter</label>
          <select id="usage-meter" value={form.meter} onChange={(e) => update({ meter: e.currentTarget.value, groupBy: [] })}>
            {meters.map((m) => (
              <option key={m.key} value={m.key}>
                {m.name} ({m.key})
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="usage-window">Window</label>
          <select id="usage-window" value={form.window} onChange={(e) => update({ window: e.currentTarget.value as Form['window'] })}>
            <option value="hour">Hour</option>
            <option value="day">Day</option>
            <option value="month">Month</option>
          </select>
        </div>
        <div class="field">
          <label for="usage-tz">Time zone</label>
          <input id="usage-tz" type="text" value={form.tz} spellcheck={false} autoComplete="off" required onInput={(e) => update({ tz: e.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="usage-from">From</label>
          <input id="usage-from" type="date" value={form.from} required onInput={(e) => update({ from: e.currentTarget.value })} aria-describedby="usage-dates-hint" />
        </div>
        <div class="field">
          <label for="usage-to">To</label>
          <input id="usage-to" type="date" value={form.to} required onInput={(e) => update({ to: e.currentTarget.value })} aria-describedby="usage-dates-hint" />
        </div>
        <div class="field">
          <label for="usage-customer">Customer (optional)</label>
          <input id="usage-customer" type="text" value={form.customer} spellcheck={false} autoComplete="off" placeholder="All customers" onInput={(e) => update({ customer: e.currentTarget.value })} />
        </div>
        {meter !== undefined && meter.group_by.length > 0 ? (
          <fieldset class="field checks">
            <legend>Group by (optional)</legend>
            {meter.group_by.map((key) => (
              <label key={key}>
                <input
                  type="checkbox"
                  name="group_by"
                  value={key}
                  checked={form.groupBy.includes(key)}
                  onChange={(e) => update({ groupBy: e.currentTarget.checked ? [...form.groupBy, key] : form.groupBy.filter((k) => k !== key) })}
                />{' '}
                {key}
              </label>
            ))}
          </fieldset>
        ) : null}
        <div class="field submit">
          <button type="submit" class="primary">
            Show usage
          </button>
        </div>
        <p id="usage-dates-hint" class="hint wide">
          Whole days in the time zone, both dates included (month windows take whole months).
          {zone === own ? null : ` Your zone, ${own}, is not a whole number of hours off UTC and usage is kept by the UTC hour, so this starts in UTC.`}
        </p>
      </form>
      {problem === null ? null : (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {/* A refused query shows its problem alone, not the last answer under it as if it were the new one's. */}
      {problem !== null ? null : (
        <div aria-busy={answer.state === 'loading'}>
          <Show loaded={answer} what="usage">
            {(result) => <UsageResult answer={result} meter={meters.find((m) => m.key === result.query.meter)} />}
          </Show>
        </div>
      )}
    </>
  );
}
