import type { LogIo } from '../../ingest/log-io.js';
import type { SegmentSink } from '../../ingest/sink.js';

/**
 * Fault seams for tests (production code never wraps its sink or its files). The sink: while
 * `fail` is set every insert and probe fails as a store that is down; `hold` keeps inserts
 * waiting until it resolves; `refuseIf` refuses, as ClickHouse refuses rows it cannot parse,
 * any file whose bytes it picks (the store stays up); `loseAnswers` makes that many inserts
 * succeed and then fail, as when the connection drops before the answer arrives.
 */
export interface SinkControl {
  fail?: Error | undefined;
  hold?: Promise<void> | undefined;
  refuseIf?: (bytes: Buffer) => boolean;
  loseAnswers?: number;
  /** Inserts that went in so far (including those whose answer was lost). */
  inserts?: number;
}

export function faultySink(inner: SegmentSink, control: SinkControl, read: (file: string) => Buffer): SegmentSink {
  const refused = () => Object.assign(new Error('injected: Cannot parse input: a marked row'), { code: '117', type: 'INCORRECT_DATA' });
  return {
    insert: async (file, token) => {
      if (control.hold !== undefined) await control.hold;
      if (control.fail !== undefined) throw control.fail;
      if (control.refuseIf?.(read(file)) === true) throw refused();
      await inner.insert(file, token);
      control.inserts = (control.inserts ?? 0) + 1;
      if ((control.loseAnswers ?? 0) > 0) {
        control.loseAnswers!--;
        throw new Error('injected: connection reset after the insert');
      }
    },
    check: async (file) => {
      if (control.fail !== undefined) throw control.fail;
      if (control.refuseIf?.(read(file)) === true) return 'INCORRECT_DATA';
      return inner.check(file);
    },
    probe: async () => {
      if (control.fail !== undefined) throw control.fail;
      await inner.probe();
    },
    refusal: (e) => inner.refusal(e),
  };
}

/**
 * The disk: while `failSync` is set every fdatasync fails (EIO); while `full` is set every write
 * fails (ENOSPC); `syncDelayMs` makes each fdatasync slow. `syncs` counts the syncs started.
 */
export interface DiskControl {
  failSync?: boolean;
  full?: boolean;
  syncDelayMs?: number;
  syncs?: number;
}

export function faultyIo(inner: LogIo, control: DiskControl): LogIo {
  const err = (code: string) => Object.assign(new Error(`injected: ${code}`), { code });
  return {
    ...inner,
    write: async (fd, buffers, position) => {
      if (control.full === true) throw err('ENOSPC');
      await inner.write(fd, buffers, position);
    },
    datasync: async (fd) => {
      control.syncs = (control.syncs ?? 0) + 1;
      if ((control.syncDelayMs ?? 0) > 0) await new Promise((r) => setTimeout(r, control.syncDelayMs));
      if (control.failSync === true) throw err('EIO');
      await inner.datasync(fd);
    },
  };
}
