import { expect, it } from 'vitest';
import { createRatingPool } from '../../rating/pool.js';

/**
 * A rating worker that dies fails the tasks it held, and only those: the pool's 'error' event
 * has a listener, so it does not end the process (with none, Node would, and this test file's
 * process with it).
 */
it('a worker that cannot load fails its task and leaves the process running', async () => {
  const errors: unknown[] = [];
  const pool = createRatingPool({ threads: 1, workerFile: '/nonexistent/tally-worker.js', onWorkerError: (e) => errors.push(e) });
  try {
    await expect(pool.rate({ model: 'per_unit', unit_price: '1' } as never, ['1'])).rejects.toThrow(/nonexistent/);
    // The pool's 'error' event comes just after the task fails; the process must outlive it.
    await new Promise((r) => setTimeout(r, 500));
    expect(errors.length).toBeGreaterThan(0);
  } finally {
    await pool.close();
  }
});
