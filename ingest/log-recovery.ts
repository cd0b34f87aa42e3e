import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../core/log.js';
import type { EventLogMetrics } from './metrics.js';
import { validPrefix } from './segment.js';

/** A segment that takes no more appends: its rows wait for the shipper. */
export interface SealedSegment {
  seq: number;
  /**
   * Random, chosen when the segment is created and kept in its file names: with the node's id it
   * names the segment's content for the store's dedup. (The sequence alone restarts once every
   * segment has shipped and been deleted, so it cannot name content.)
   */
  id: string;
  rowsPath: string;
  framesPath: string;
  /** Bytes of acknowledged rows (the rows file is cut to this before it ships). */
  bytes: number;
  rows: number;
  /** Rows and bytes of each acknowledged append, in order. */
  appends: { rows: number; bytes: number }[];
  /** When its first append was acknowledged (epoch ms): the age of its oldest event. */
  firstAppendAt: number;
}

const SEGMENT_NAME = /^(\d{12})-([0-9a-f]{16})\.(rows|frames)$/;

export function segmentPath(dir: string, seq: number, id: string, kind: 'rows' | 'frames'): string {
  return path.join(dir, `${String(seq).padStart(12, '0')}-${id}.${kind}`);
}

/**
 * What a log directory holds when the node starts: its node id (made on first start), the
 * segments not shipped yet, each cut to its whole appends (a torn tail is an append never
 * acknowledged), and the highest segment number in use. Scratch files and what shipped
 * segments left behind are removed.
 */
export function recoverLog(dir: string, metrics: EventLogMetrics, logger: Logger): { nodeId: string; recovered: SealedSegment[]; lastSeq: number } {
  mkdirSync(dir, { recursive: true });
  const idFile = path.join(dir, 'node.id');
  if (!existsSync(idFile)) {
    writeFileSync(`${idFile}.tmp`, randomUUID());
    renameSync(`${idFile}.tmp`, idFile);
  }
  const nodeId = readFileSync(idFile, 'utf8').trim();
  const seqs = new Map<number, { id: string; rows?: boolean; frames?: boolean }>();
  for (const name of readdirSync(dir)) {
    // Scratch files of a shipper or a probe that did not finish.
    if (/\.(check|clean)\.rows$|^probe\.tmp$/.test(name)) {
      unlinkSync(path.join(dir, name));
      continue;
    }
    const m = SEGMENT_NAME.exec(name);
    if (m === null) continue;
    const entry = seqs.get(Number(m[1])) ?? { id: m[2]! };
    entry[m[3] as 'rows' | 'frames'] = true;
    seqs.set(Number(m[1]), entry);
  }
  const recovered: SealedSegment[] = [];
  let lastSeq = 0;
  for (const seq of [...seqs.keys()].sort((a, b) => a - b)) {
    lastSeq = Math.max(lastSeq, seq);
    const files = seqs.get(seq)!;
    const { id } = files;
    const rowsPath = segmentPath(dir, seq, id, 'rows');
    const framesPath = segmentPath(dir, seq, id, 'frames');
    // Shipping deletes the rows first: frames alone are what is left of a shipped segment.
    if (files.rows !== true) {
      unlinkSync(framesPath);
      continue;
    }
    const frames = files.frames === true ? readFileSync(framesPath) : Buffer.alloc(0);
    const data = readFileSync(rowsPath);
    const valid = validPrefix(frames, data);
    if (valid.torn) {
      metrics.tornBytes.inc(data.length - valid.dataBytes + frames.length - valid.framesBytes);
      logger.warn({ segment: seq, kept: valid.rows, cutBytes: data.length - valid.dataBytes }, 'event log: cut the torn tail of a segment (appends never acknowledged)');
      cut(rowsPath, valid.dataBytes);
      if (files.frames === true) cut(framesPath, valid.framesBytes);
    }
    if (valid.frames === 0) {
      unlinkSync(rowsPath);
      if (files.frames === true) unlinkSync(framesPath);
      continue;
    }
    // Its last write is the best bound on its events' age that survives a restart.
    const firstAppendAt = statSync(rowsPath).mtimeMs;
    recovered.push({ seq, id, rowsPath, framesPath, bytes: valid.dataBytes, rows: valid.rows, appends: valid.appends, firstAppendAt });
  }
  if (recovered.length > 0) {
    // Acknowledged events the last process did not ship (it stopped before its log drained, or crashed): they ship first.
    const rows = recovered.reduce((n, s) => n + s.rows, 0);
    const bytes = recovered.reduce((n, s) => n + s.bytes, 0);
    logger.info({ segments: recovered.length, rows, bytes }, 'event log: found acknowledged events not shipped yet; shipping them first');
  }
  return { nodeId, recovered, lastSeq };
}

/** Truncates a file to `length` and makes that durable. */
function cut(file: string, length: number): void {
  const fd = openSync(file, 'r+');
  try {
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
