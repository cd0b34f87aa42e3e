import fs from 'node:fs';
import { promisify } from 'node:util';

/**
 * The file operations the event log needs, behind a small interface so that a test can make
 * a write or an fdatasync fail the way a full or failing disk does.
 */
export interface LogIo {
  /** Creates a new file (fails if it exists) for appending; its descriptor. */
  create(path: string): Promise<number>;
  /** Writes every byte of `buffers` at `position`. */
  write(fd: number, buffers: readonly Buffer[], position: number): Promise<void>;
  datasync(fd: number): Promise<void>;
  truncate(fd: number, length: number): Promise<void>;
  close(fd: number): Promise<void>;
  /** Makes the directory's entries (new files) durable. */
  syncDir(dir: string): Promise<void>;
}

const open = promisify(fs.open);
const fdatasync = promisify(fs.fdatasync);
const ftruncate = promisify(fs.ftruncate);
const close = promisify(fs.close);
const fsync = promisify(fs.fsync);

export const nodeLogIo: LogIo = {
  create: (path) => open(path, 'wx'),
  // A synchronous write: it only copies into the page cache (the fdatasync after it is what
  // waits for the disk), and a thread-pool round trip for it cost more than the copy.
  write: (fd, buffers, position) => {
    try {
      let rest = buffers.filter((b) => b.length > 0);
      let at = position;
      while (rest.length > 0) {
        const bytesWritten = fs.writevSync(fd, rest, at);
        at += bytesWritten;
        // A short write: drop what went out and write the remainder.
        let skip = bytesWritten;
        while (rest.length > 0 && skip >= rest[0]!.length) skip -= rest.shift()!.length;
        if (skip > 0) rest = [rest[0]!.subarray(skip), ...rest.slice(1)];
      }
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  },
  datasync: (fd) => fdatasync(fd),
  truncate: (fd, length) => ftruncate(fd, length),
  close: (fd) => close(fd),
  syncDir: async (dir) => {
    const fd = await open(dir, 'r');
    try {
      await fsync(fd);
    } finally {
      await close(fd);
    }
  },
};
