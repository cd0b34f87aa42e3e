import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { openPostgres } from '../../core/postgres.js';
import { freshDatabaseUrl, preparedDataDir } from '../support/stores.js';

describe('Postgres sessions', () => {
  it('run in UTC whatever the database says, so date arithmetic in SQL means the same everywhere', async () => {
    const server = process.env.DATABASE_URL;
    const fresh = server === undefined || server === '' ? undefined : await freshDatabaseUrl(server);
    try {
      if (fresh !== undefined) {
        // A database whose sessions default to a zone with daylight saving (and a 45-minute offset).
        const admin = new pg.Client({ connectionString: fresh.url });
        await admin.connect();
        await admin.query(`ALTER DATABASE ${new URL(fresh.url).pathname.slice(1)} SET timezone = 'Pacific/Chatham'`);
        await admin.end();
      }
      // A URL with startup options of its own keeps them, and its sessions are in UTC all the same.
      const url = fresh === undefined ? undefined : `${fresh.url}?options=${encodeURIComponent('-c search_path=public')}`;
      const store = await openPostgres({ url, poolSize: 2, dataDir: preparedDataDir() });
      try {
        // (The embedded Postgres calls it GMT.)
        expect(['UTC', 'GMT']).toContain((await store.query<{ tz: string }>('SELECT current_setting($1) AS tz', ['TimeZone'])).rows[0]!.tz);
        // Thirty days after a moment before Chatham's daylight saving ends are 30 × 24 hours, not one more.
        const { rows } = await store.query<{ due: Date }>("SELECT '2026-03-20T12:00:00Z'::timestamptz + 30 * interval '24 hours' AS due, '2026-03-20T12:00:00Z'::timestamptz + make_interval(days => 30) AS days");
        expect(rows[0]).toEqual({ due: new Date('2026-04-19T12:00:00Z'), days: new Date('2026-04-19T12:00:00Z') });
      } finally {
        await store.close();
      }
    } finally {
      await fresh?.drop();
    }
  });
});
