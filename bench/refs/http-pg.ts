import http from 'node:http';
import pg from 'pg';

/**
 * Reference: what a typical billing service does — node:http, one INSERT per event into
 * Postgres (primary key for dedup), answer after the commit.
 */
const pool = new pg.Pool({ connectionString: process.env.REF_DATABASE_URL, max: 20 });
await pool.query(`CREATE TABLE IF NOT EXISTS ref_events (
  tenant_id text NOT NULL, id text NOT NULL, customer text NOT NULL, meter text NOT NULL,
  value numeric(38, 6), ts timestamptz NOT NULL, properties jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, id))`);

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      try {
        const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; customer: string; meter: string; value?: string; timestamp?: string; properties?: object };
        const r = await pool.query(
          'INSERT INTO ref_events (tenant_id, id, customer, meter, value, ts, properties) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING',
          ['t', e.id, e.customer, e.meter, e.value ?? null, e.timestamp ?? new Date().toISOString(), JSON.stringify(e.properties ?? {})],
        );
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ accepted: r.rowCount, duplicates: 1 - (r.rowCount ?? 0), rejected: [] }));
      } catch (err) {
        res.writeHead(500);
        res.end(String(err));
      }
    })();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  console.log(`listening on http://127.0.0.1:${addr.port}`);
});
process.on('SIGTERM', () => {
  server.close();
  void pool.end().then(() => process.exit(0));
});
