import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

/**
 * A time-series line chart (uPlot). The y values are JS numbers because a canvas draws numbers:
 * they are for drawing only, never shown as figures — the exact values are in the table each
 * chart sits above.
 */
export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

/** Line colours, each at least 4.5:1 against the white background, in an order that keeps neighbours apart. */
const PALETTE = ['#0969da', '#1a7f37', '#cf222e', '#8250df', '#9a6700', '#bf3989', '#0a6c74', '#57606a', '#953800', '#1b1f24', '#6639ba', '#116329'];

export const seriesColor = (index: number): string => PALETTE[index % PALETTE.length] ?? '#1b1f24';

/** A decimal string as a number to draw: may lose digits, which a drawn line cannot show anyway. */
export const drawn = (value: string): number | null => {
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
};

const HOUR = 3_600;
const DAY = 24 * HOUR;

/** uPlot's own time tick steps from an hour up, in seconds (its months and years are 30 and 365 days). */
const TICK_STEPS = [1, 2, 3, 4, 6, 8, 12].map((h) => h * HOUR).concat([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 30, 60, 90, 120, 180, 365, 730, 1_825, 3_650].map((d) => d * DAY));

/** The x tick step of data in windows of `window` (no ticks between windows): hour, day or month. */
export const windowStep = (window: string): number => (window === 'month' ? 30 * DAY : window === 'day' ? DAY : HOUR);

interface Props {
  /** What the chart shows, for people who cannot see it (the table below has the figures). */
  label: string;
  /** Unix seconds, ascending. */
  x: number[];
  series: ChartSeries[];
  colors?: readonly string[];
  /** IANA zone of the time axis (the reader's own when absent). */
  timeZone?: string;
  height?: number;
  /** The smallest x tick step, in seconds (uPlot's own choice when absent). */
  step?: number;
  /** A dot on every value, so that a value between gaps (no line to draw) is seen too. */
  points?: boolean;
}

function options(props: Props, width: number): uPlot.Options {
  const { timeZone, step } = props;
  return {
    width,
    height: props.height ?? 240,
    ...(timeZone === undefined ? {} : { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), timeZone) }),
    cursor: { drag: { x: false, y: false } },
    // No live values in the legend: uPlot would print the drawn (rounded) numbers as figures.
    legend: { live: false },
    scales: { y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
    axes: [{ stroke: '#57606a', grid: { stroke: '#eaeef2' }, ...(step === undefined ? {} : { incrs: TICK_STEPS.filter((s) => s >= step) }) }, { stroke: '#57606a', grid: { stroke: '#eaeef2' }, size: valueAxisSize }],
    series: [{}, ...props.series.map((s, i) => ({ label: s.label, stroke: props.colors?.[i] ?? seriesColor(i), width: 2, points: props.points === true ? { show: true, size: 6 } : { show: false } }))],
  };
}

/**
 * The value axis as wide as its longest label ("8,000,000" needs more room than "0"), measured in
 * the axis font; uPlot asks again on each layout pass and the first answer stands after two.
 */
function valueAxisSize(self: uPlot, values: string[] | null, axisIdx: number, cycleNum: number): number {
  const axis = self.axes[axisIdx]!;
  if (cycleNum > 1) return (axis as { _size?: number })._size ?? 60;
  const longest = (values ?? []).reduce((a, v) => (v.length > a.length ? v : a), '');
  // uPlot keeps an axis font as [css font, size] once it has drawn; the typings say string.
  const font = (axis as unknown as { font?: string | [string, number] }).font;
  self.ctx.font = (Array.isArray(font) ? font[0] : font) ?? '12px system-ui';
  return Math.ceil((axis.ticks?.size ?? 10) + (axis.gap ?? 5) + self.ctx.measureText(longest).width / devicePixelRatio) + 4;
}

const aligned = (props: Props): uPlot.AlignedData => [props.x, ...props.series.map((s) => s.values)];

/** uPlot's legend is a table: give it a name and header scopes like every other table here. */
function labelLegend(chart: uPlot): void {
  const legend = chart.root.querySelector('table');
  legend?.setAttribute('aria-label', 'Chart legend');
  legend?.querySelectorAll('th').forEach((th) => th.setAttribute('scope', 'row'));
}

export function Chart(props: Props) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const shape = `${props.series.map((s) => s.label).join('\u0000')}|${props.timeZone ?? ''}|${(props.colors ?? []).join(',')}|${props.points === true}|${props.step ?? ''}`;

  // A new chart when the series or the zone change; new data alone is set into the chart.
  useEffect(() => {
    const element = host.current;
    if (element === null) return undefined;
    const made = new uPlot(options(props, Math.max(element.clientWidth, 280)), aligned(props), element);
    labelLegend(made);
    chart.current = made;
    const resize = new ResizeObserver(() => made.setSize({ width: Math.max(element.clientWidth, 280), height: props.height ?? 240 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      made.destroy();
      chart.current = null;
    };
  }, [shape]);

  useEffect(() => {
    chart.current?.setData(aligned(props));
  }, [props.x, props.series]);

  return (
    <figure class="chart">
      <div ref={host} aria-hidden="true" />
      <figcaption class="chart-caption">{props.label}</figcaption>
    </figure>
  );
}
