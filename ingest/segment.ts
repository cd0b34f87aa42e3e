import { crc32 } from 'node:zlib';

/**
 * A log segment is two files: `<seq>-<id>.rows`, the accepted rows as RowBinary and nothing
 * else, so the engine can read it as it is; and `<seq>-<id>.frames`, one fixed-size record per
 * append:
 *
 *   magic u32 | rows u32 | data length u32 | crc32 of the data u32 | crc32 of the 16 bytes before u32
 *
 * little-endian. An append's data starts where the previous one ended. After a crash the
 * segment is read back up to the first record that is short, fails its own checksum, points
 * past the end of the data or whose data fails its checksum: that is the torn tail of an
 * append that was never acknowledged, and it is cut, never shipped.
 */
export const FRAME_BYTES = 20;
const MAGIC = 0x314c4654; // "TFL1"

export function frameRecord(data: Buffer, rows: number): Buffer {
  const f = Buffer.allocUnsafe(FRAME_BYTES);
  f.writeUInt32LE(MAGIC, 0);
  f.writeUInt32LE(rows, 4);
  f.writeUInt32LE(data.length, 8);
  f.writeUInt32LE(crc32(data), 12);
  f.writeUInt32LE(crc32(f.subarray(0, 16)), 16);
  return f;
}

export interface ValidPrefix {
  /** Appends that are whole. */
  frames: number;
  rows: number;
  /** Bytes of `.rows` and `.frames` that they take. */
  dataBytes: number;
  framesBytes: number;
  /** Whether anything after them was cut. */
  torn: boolean;
  /** Rows and data length of each whole append, in order. */
  appends: { rows: number; bytes: number }[];
}

/** The whole appends at the start of a segment (see above). */
export function validPrefix(frames: Buffer, data: Buffer): ValidPrefix {
  const appends: { rows: number; bytes: number }[] = [];
  let dataBytes = 0;
  let rows = 0;
  let at = 0;
  for (; at + FRAME_BYTES <= frames.length; at += FRAME_BYTES) {
    if (frames.readUInt32LE(at) !== MAGIC) break;
    if (crc32(frames.subarray(at, at + 16)) !== frames.readUInt32LE(at + 16)) break;
    const n = frames.readUInt32LE(at + 4);
    const len = frames.readUInt32LE(at + 8);
    if (dataBytes + len > data.length) break;
    if (crc32(data.subarray(dataBytes, dataBytes + len)) !== frames.readUInt32LE(at + 12)) break;
    appends.push({ rows: n, bytes: len });
    dataBytes += len;
    rows += n;
  }
  return { frames: appends.length, rows, dataBytes, framesBytes: at, torn: at !== frames.length || dataBytes !== data.length, appends };
}
