import { describe, expect, it } from 'vitest';
import { collectStatus, formatStatus } from '../src/status/status.js';
import { freshDatabase, freshMetadataDb, withClient } from './helpers/stack.js';

describe('status', () => {
  it('shows mode, watermark, lag by the engine\'s own keyset, last run and last error per table', async () => {
    const meta = await freshMetadataDb();
    const src = await freshDatabase('status_src');
    process.env.RL_STATUS_SRC = src.url;
    await withClient(src.url, async (c) => {
      await c.query(`CREATE TABLE orders (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)`);
      await c.query(`INSERT INTO orders SELECT g, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute' FROM generate_series(1, 100) g`);
      await c.query(`CREATE TABLE events (id int PRIMARY KEY)`);
      await c.query(`INSERT INTO events SELECT generate_series(1, 9)`);
    });
    await withClient(meta, async (c) => {
      const job = await c.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('shop', 'env:RL_STATUS_SRC', 'env:NOPE') RETURNING id`);
      const jobId = job.rows[0].id;
      const t1 = await c.query(
        `INSERT INTO tables (job_id, source_name, copy_mode, primary_key, updated_key, max_primary_key, max_updated_key)
         VALUES ($1, 'orders', 'INSERT_AND_UPDATE', 'id', 'updated_at', '["90"]', '2024-01-01 01:30:00+00') RETURNING id`,
        [jobId],
      );
      await c.query(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key, max_primary_key, last_error) VALUES ($1, 'events', 'INSERT_ONLY', 'id', '["4"]', 'boom')`, [jobId]);
      await c.query(`INSERT INTO sync_runs (job_id, table_id, copy_mode, status, rows) VALUES ($1, $2, 'INSERT_AND_UPDATE', 'succeeded', 90)`, [jobId, t1.rows[0].id]);
      // A later repair (verify --repair) is not the table's last sync run.
      await c.query(`INSERT INTO sync_runs (job_id, table_id, copy_mode, status, kind, rows) VALUES ($1, $2, 'INSERT_AND_UPDATE', 'failed', 'repair', 3)`, [jobId, t1.rows[0].id]);
    });
    const rows = await withClient(meta, (c) => collectStatus(c, 'shop'));
    expect(rows).toEqual([
      expect.objectContaining({
        table: 'public.events', mode: 'INSERT_ONLY', watermark: '["4"]', lag: '5 rows after the watermark', lastError: 'boom', lastRunStatus: null, deletes: 'off',
        risks: ['INSERT_ONLY: updates are not seen, nor rows inserted with a key below the watermark', 'deletes are not seen (delete_detection is off)'],
      }),
      expect.objectContaining({
        table: 'public.orders', mode: 'INSERT_AND_UPDATE', lag: '10 rows after the watermark, 600 s behind', lastRunStatus: 'succeeded', lastRunRows: 90, lastRunChanged: 0,
        risks: ['deletes are not seen (delete_detection is off)'],
      }),
    ]);
    const text = formatStatus(rows);
    expect(text.split('\n')[0]).toMatch(/^JOB\s+TABLE\s+MODE\s+WATERMARK\s+LAG/);
    expect(text).toContain('boom');
    expect(text).toContain('INSERT_ONLY: updates are not seen, nor rows inserted with a key below the watermark; deletes are not seen (delete_detection is off)');
    expect(text).toContain('90 (0 changed, 0 re-read)');
    await expect(withClient(meta, (c) => collectStatus(c, 'nope'))).rejects.toThrow('job "nope" not found');
  });
});
