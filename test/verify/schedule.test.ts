import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env.js';
import { syncRunner } from '../../src/scheduler/run-job.js';
import { startWorker } from '../../src/scheduler/worker.js';
import { collectStatus, formatStatus } from '../../src/status/status.js';
import { withClient } from '../helpers/stack.js';
import { syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The worker verifies a table after its job's sync when verify_interval_minutes has passed; status shows it. */
describe('scheduled verify in the worker', () => {
  let f: SyncFixture;
  beforeAll(async () => {
    f = await syncFixture('vsched');
  });
  afterAll(() => f.close());

  it('verifies due tables after the sync, records what it found, logs a difference as an error, and never verifies a table without an interval', async () => {
    await f.source(`CREATE TABLE items (id int PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 200) g`);
    await f.source(`CREATE TABLE other (id int PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO other VALUES (1, 'a')`);
    await f.redshift(`CREATE TABLE "${f.target.schema}".items (id INTEGER NOT NULL, v VARCHAR(40))`);
    await f.redshift(`CREATE TABLE "${f.target.schema}".other (id INTEGER NOT NULL, v VARCHAR(40))`);
    const items = await f.addTable({ source: 'items', mode: 'INSERT_ONLY', primaryKey: 'id' });
    const other = await f.addTable({ source: 'other', mode: 'INSERT_ONLY', primaryKey: 'id' });
    await f.meta(`UPDATE tables SET verify_interval_minutes = 60 WHERE id = $1`, [items]);
    await f.meta(`INSERT INTO schedule_events (job_id, frequency) VALUES ($1, 1)`, [f.jobId]);
    const env = loadEnv({ ...f.target.env, DATABASE_URL: f.metaUrl, WORKER_TICK_SECONDS: '1', SYNC_DB_EVENTS_FREQUENCY: '1' });
    const w = startWorker({ metadataUrl: f.metaUrl, env, log: f.log, runJob: syncRunner(f.metaUrl, env, f.log) });
    try {
      await until('the first scheduled verify', async () => (await f.meta(`SELECT verify_result->>'status' AS s FROM tables WHERE id = $1`, [items])).rows[0].s === 'match');
      // A difference the loader cannot see (INSERT_ONLY sees no updates): the next due verify finds it.
      await f.source(`UPDATE items SET v = 'edited' WHERE id = 17`);
      await f.meta(`UPDATE tables SET verified_at = now() - INTERVAL '61 minutes' WHERE id = $1`, [items]);
      await until('the verify that finds it', async () => (await f.meta(`SELECT verify_result->>'status' AS s FROM tables WHERE id = $1`, [items])).rows[0].s === 'differ');
    } finally {
      await w.stop();
    }
    const row = await f.meta(`SELECT verified_at, verify_result FROM tables WHERE id = $1`, [items]);
    expect(row.rows[0].verify_result).toMatchObject({ status: 'differ', summary: 'differs: 1 differ (v)', differ: { count: 1, examples: [{ key: 'id=17', columns: ['v'] }] } });
    const logged = f.logs.find((l) => l.msg === 'verify: target differs from the source');
    expect(logged).toMatchObject({ level: 'error', job: f.jobName, table: 'public.items', missing: 0, extra: 0, differ: 1, columns: { v: 1 } });
    expect((await f.meta(`SELECT verified_at FROM tables WHERE id = $1`, [other])).rows[0].verified_at).toBeNull();
    // The schedule's own runs stayed successful: a difference does not fail the job.
    expect((await f.meta(`SELECT last_error FROM schedule_events WHERE job_id = $1`, [f.jobId])).rows[0].last_error).toBeNull();

    const st = await withClient(f.metaUrl, (db) => collectStatus(db, f.jobName));
    const verifiedAt = (row.rows[0].verified_at as Date).toISOString().slice(0, 10);
    expect(st.find((s) => s.table === 'public.items')!.verified).toMatch(new RegExp(`^${verifiedAt} .*: differs: 1 differ \\(v\\) \\(every 60 min\\)$`));
    expect(st.find((s) => s.table === 'public.other')!.verified).toBe('never');
    const text = formatStatus(st);
    expect(text.split('\n')[0]).toMatch(/RISKS\s+VERIFIED\s+LAST ERROR$/);
    expect(text).toContain(': differs: 1 differ (v) (every 60 min)');
  });
});
