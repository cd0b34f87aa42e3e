import type { EventRow } from '../../ingest/event.js';
import type { EventWriter } from '../../ingest/writer.js';

/**
 * A fault seam around a writer, for tests (production code never wraps its writer): while
 * `fail` is set every insert and probe is refused; `delayMs` makes inserts slow; an insert
 * holding a row `refuseRow` picks is refused as ClickHouse refuses data it cannot parse (the
 * store stays up). The rows of a refused insert are not written.
 */
export interface FaultControl {
  fail: Error | undefined;
  delayMs: number;
  refuseRow?: (row: EventRow) => boolean;
  /** Inserts the store refused for a `refuseRow` row so far. */
  rowRefusals?: number;
  /** Rows handed to the writer so far (tests wait on it to know inserts are in flight). */
  rowsStarted?: number;
}

export function faultyWriter(inner: EventWriter, control: FaultControl): EventWriter {
  return {
    insert: async (rows) => {
      control.rowsStarted = (control.rowsStarted ?? 0) + rows.length;
      if (control.delayMs > 0) await new Promise((r) => setTimeout(r, control.delayMs));
      if (control.fail !== undefined) throw control.fail;
      if (control.refuseRow !== undefined && rows.some(control.refuseRow)) {
        control.rowRefusals = (control.rowRefusals ?? 0) + 1;
        throw Object.assign(new Error('injected: Cannot parse input: a marked row'), { code: '117', type: 'INCORRECT_DATA' });
      }
      await inner.insert(rows);
    },
    probe: async () => {
      if (control.fail !== undefined) throw control.fail;
      await inner.probe();
    },
    refusal: (e) => inner.refusal(e),
  };
}
