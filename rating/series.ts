/**
 * A segment's cumulative quantity at the end of every hour that changed it. The values are kept
 * as the engine sends them, joined by ',' (hours as epoch seconds, quantities as decimal strings
 * of at most 6 places), because a re-rate moves millions of them from the engine to the worker
 * threads and back into the engine without looking at them one by one; the arrays are made on
 * first use.
 */
export class Series {
  private hoursMs: number[] | undefined;
  private values: string[] | undefined;

  constructor(
    /** How many hours. */
    readonly count: number,
    /** Epoch seconds of each hour, ascending, joined by ','. */
    readonly hoursText: string,
    /** The quantities, joined by ','. */
    readonly quantitiesText: string,
  ) {}

  static readonly EMPTY = new Series(0, '', '');

  /** From arrays: hours in epoch milliseconds. */
  static of(hours: readonly number[], quantities: readonly string[]): Series {
    if (hours.length !== quantities.length) throw new Error(`${hours.length} hours but ${quantities.length} quantities`);
    const s = new Series(hours.length, hours.map((h) => h / 1000).join(','), quantities.join(','));
    s.hoursMs = [...hours];
    s.values = [...quantities];
    return s;
  }

  /** Epoch milliseconds of each hour, ascending. */
  get hours(): number[] {
    this.hoursMs ??= this.count === 0 ? [] : this.hoursText.split(',').map((h) => Number(h) * 1000);
    return this.hoursMs;
  }

  get quantities(): string[] {
    this.values ??= this.count === 0 ? [] : this.quantitiesText.split(',');
    return this.values;
  }

  /** The quantity at the end of the last hour; '0' when no hour had usage. */
  get last(): string {
    return this.count === 0 ? '0' : this.quantitiesText.slice(this.quantitiesText.lastIndexOf(',') + 1);
  }

  /** Epoch milliseconds of the first and last hour (undefined when empty). */
  get span(): { first: number; last: number } | undefined {
    if (this.count === 0) return undefined;
    const t = this.hoursText;
    const comma = t.indexOf(',');
    return { first: Number(comma < 0 ? t : t.slice(0, comma)) * 1000, last: Number(t.slice(t.lastIndexOf(',') + 1)) * 1000 };
  }
}
