import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { freshDatabase, freshMetadataDb } from './helpers/stack.js';

/**
 * Issue 19, point 4: `status` shows per job its next run, its backoff and a schedule the
 * worker cannot run, and exits 1 when anything is unhealthy (cron, monitors).
 */
describe('status: schedules, backoff, health and its exit code', () => {
  let meta: pg.Client;
  let env: Record<string, string>;
  let jobId: number;
  let eventId: number;
  const status = (...args: string[]) => cli(['status', '--job', 'shop', ...args], env);

  beforeAll(async () => {
    const url = await freshMetadataDb();
    const src = await freshDatabase('health_src');
    meta = new pg.Client({ connectionString: url });
    await meta.connect();
    const s = new pg.Client({ connectionString: src.url });
    await s.connect();
    await s.query(`CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE items (id int PRIMARY KEY)`);
    await s.end();
    env = { DATABASE_URL: url, RL_HEALTH_SRC: src.url };
    jobId = (await meta.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('shop', 'env:RL_HEALTH_SRC', 'env:NOPE') RETURNING id`)).rows[0].id;
    eventId = (await meta.query(`INSERT INTO schedule_events (job_id, frequency, last_succeeded_at, last_run_at) VALUES ($1, 3600, now() - interval '10 minutes', now() - interval '10 minutes') RETURNING id`, [jobId])).rows[0].id;
    await meta.query(
      `INSERT INTO tables (job_id, source_name, copy_mode, primary_key, max_primary_key, last_synced_at) VALUES
         ($1, 'orders', 'INSERT_ONLY', 'id', '[0]', now() - interval '9 minutes'), ($1, 'items', 'FULL_DATA_SYNC', 'id', NULL, now() - interval '9 minutes')`,
      [jobId],
    );
  });
  afterAll(() => meta.end());

  it('healthy: exit 0, the next run, HEALTH: ok', async () => {
    const r = await status();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const next = (await meta.query(`SELECT to_char((last_succeeded_at + interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS t FROM schedule_events`)).rows[0].t;
    expect(r.stdout).toMatch(new RegExp(`^shop\\s+every 60 min\\s+\\S+ \\S+ UTC\\s+\\S+ \\S+ UTC\\s+${next} UTC\\s+-\\s*$`, 'm'));
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('HEALTH: ok');
  });

  it('a failing table: exit 1, its failures, retry time and error', async () => {
    await meta.query(`UPDATE tables SET last_error = 'job "shop", table public.orders: boom', failure_count = 2, retry_at = '2030-01-01 00:01:00+00' WHERE source_name = 'orders'`);
    const r = await status();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'HEALTH: 1 problem(s)\n  job "shop", table public.orders: failing (2 failed sync(s) in a row; the worker retries it after 2030-01-01 00:01:00 UTC): boom\n',
    );
    const js = await status('--json');
    expect(js.code).toBe(1);
    const rows = JSON.parse(js.stdout) as Array<Record<string, unknown>>;
    expect(rows.find((x) => x.table === 'public.orders')).toMatchObject({ health: 'failing', failureCount: 2, retryAt: '2030-01-01T00:01:00.000Z', lastError: 'job "shop", table public.orders: boom' });
    expect(rows.find((x) => x.table === 'public.items')).toMatchObject({ health: 'ok', jobSchedule: expect.objectContaining({ failureCount: 0, scheduleError: null }) });
    await meta.query(`UPDATE tables SET last_error = NULL, failure_count = 0, retry_at = NULL`);
  });

  it('a table behind ALERT_LAG_SECONDS: exit 1, how overdue', async () => {
    await meta.query(`UPDATE tables SET last_synced_at = '2020-01-01 00:00:00+00' WHERE source_name = 'items'`);
    const r = await status();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /\n {2}job "shop", table public\.items: behind: its sync was due at 2020-01-01 01:00:00 UTC and is \d+ days overdue \(last success 2020-01-01 00:00:00 UTC; threshold ALERT_LAG_SECONDS = 3600\)\n/,
    );
    await meta.query(`UPDATE tables SET last_synced_at = now() WHERE source_name = 'items'`);
    expect((await status()).code).toBe(0);
  });

  it('a job backing off, and a schedule the worker cannot run (written before the database checked it): exit 1, no next run', async () => {
    await meta.query(`UPDATE schedule_events SET failure_count = 3, retry_at = '2030-01-01 00:02:00+00', last_error = '1 of 2 table(s) failed: another run is syncing this table' WHERE id = $1`, [eventId]);
    let r = await status();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^shop\s.*\s3 failure\(s\), retry after 2030-01-01 00:02:00 UTC\s+1 of 2 table\(s\) failed: another run is syncing this table$/m);
    expect(r.stdout).toContain('  job "shop": 3 failed run(s) in a row, retrying after 2030-01-01 00:02:00 UTC: 1 of 2 table(s) failed: another run is syncing this table\n');
    await meta.query(`UPDATE schedule_events SET failure_count = 0, retry_at = NULL, last_error = NULL`);
    await meta.query(`ALTER TABLE schedule_events DISABLE TRIGGER schedule_events_check`);
    await meta.query(`UPDATE schedule_events SET at = '25:**'`);
    await meta.query(`ALTER TABLE schedule_events ENABLE TRIGGER schedule_events_check`);
    r = await status();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^shop\s.*\snever \(no valid schedule\)\s+-\s+schedule_events row \d+: bad at pattern "25:\*\*": hour 25 never matches \(hours are 00-23\)$/m);
    expect(r.stdout).toContain(`  job "shop": the worker cannot run its schedule: schedule_events row ${eventId}: bad at pattern "25:**": hour 25 never matches (hours are 00-23) (fix the schedule_events row)\n`);
  });

  it('a job without a schedule (run from cron): its failing table is not said to be retried by the worker, and lag is not judged', async () => {
    const cron = (await meta.query(`INSERT INTO jobs (name, source_connection_string, destination_connection_string) VALUES ('cron', 'env:RL_HEALTH_SRC', 'env:NOPE') RETURNING id`)).rows[0].id;
    await meta.query(
      `INSERT INTO tables (job_id, source_name, copy_mode, primary_key, last_synced_at, last_error, failure_count, retry_at)
       VALUES ($1, 'orders', 'INSERT_ONLY', 'id', '2020-01-01 00:00:00+00', 'job "cron", table public.orders: boom', 1, now())`,
      [cron],
    );
    const r = await cli(['status', '--job', 'cron'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^cron\s+none \(run by hand or cron\)\s+never\s+never\s+-\s+-$/m);
    expect(r.stdout.trimEnd().split('\n').slice(-2)).toEqual(['HEALTH: 1 problem(s)', '  job "cron", table public.orders: failing (1 failed sync(s) in a row): boom']);
  });
});
