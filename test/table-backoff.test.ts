import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushAlerts } from '../src/alerts/webhook.js';
import { loadEnv } from '../src/config/env.js';
import { syncRunner } from '../src/scheduler/run-job.js';
import { startWorker, type Worker } from '../src/scheduler/worker.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';
import { webhookServer, type WebhookServer } from './helpers/webhook-server.js';

/**
 * Issue 19, points 5 and 6: a broken table backs off alone (tables.failure_count and
 * retry_at), while its job keeps its schedule and its other tables are not re-run; the
 * webhook hears once that it failed and once that it recovered.
 */
describe('per-table backoff in the worker, with alerts', () => {
  let f: SyncFixture;
  let hook: WebhookServer;
  let worker: Worker;
  const schema = () => f.target.schema;
  const table = async (name: string) =>
    (await f.meta(`SELECT failure_count, retry_at, last_error, alert_failing, extract(epoch FROM retry_at - now())::int AS wait FROM tables WHERE source_name = $1`, [name])).rows[0];
  const runs = async (name: string) => (await f.meta(`SELECT count(*)::int AS n FROM sync_runs r JOIN tables t ON t.id = r.table_id WHERE t.source_name = $1`, [name])).rows[0].n as number;
  const event = async () => (await f.meta(`SELECT last_succeeded_at, failure_count, retry_at, last_error FROM schedule_events WHERE job_id = $1`, [f.jobId])).rows[0];
  const tick = async () => {
    await worker.tick();
    await worker.idle();
  };

  beforeAll(async () => {
    f = await syncFixture('bko');
    hook = await webhookServer();
    await f.source(`CREATE TABLE good (id int PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO good SELECT g, 'v' || g FROM generate_series(1, 20) g`);
    await f.source(`CREATE TABLE broken (id int PRIMARY KEY, code text)`);
    await f.source(`INSERT INTO broken VALUES (1, 'fine'), (2, repeat('z', 40))`);
    await f.redshift(`CREATE TABLE ${schema()}.good (id INTEGER NOT NULL, v VARCHAR(20))`);
    await f.redshift(`CREATE TABLE ${schema()}.broken (id INTEGER NOT NULL, code VARCHAR(10))`);
    await f.addTable({ source: 'good', mode: 'INSERT_ONLY', primaryKey: 'id' });
    await f.addTable({ source: 'broken', mode: 'INSERT_ONLY', primaryKey: 'id' });
    await f.meta(`INSERT INTO schedule_events (job_id, frequency) VALUES ($1, 3600)`, [f.jobId]);
    const env = loadEnv({ ...f.target.env, DATABASE_URL: f.metaUrl, REDSHIFT_SLICES: '2', ALERT_WEBHOOK_URL: hook.url });
    worker = startWorker({ metadataUrl: f.metaUrl, env, log: f.log, runJob: syncRunner(f.metaUrl, env, f.log), autoTick: false });
  });
  afterAll(async () => {
    await worker?.stop();
    await hook?.close();
    await f.close();
  });

  it('the first run: the good table syncs, the broken one backs off alone, the job succeeds; one FAILED alert', async () => {
    await tick();
    expect((await f.redshift(`SELECT count(*)::int AS n FROM ${schema()}.good`)).rows[0].n).toBe(20);
    const b = await table('broken');
    expect(b).toMatchObject({ failure_count: 1, alert_failing: true });
    expect(b.wait).toBeGreaterThanOrEqual(25);
    expect(b.wait).toBeLessThanOrEqual(30);
    expect(b.last_error).toMatch(/^job "bko_job", table public\.broken: batch 1 load failed: /);
    // The job's schedule is not in backoff: it ran and succeeded.
    expect(await event()).toMatchObject({ failure_count: 0, retry_at: null, last_error: null, last_succeeded_at: expect.any(Date) });
    await hook.waitFor(1);
    expect(hook.texts()).toHaveLength(1);
    expect(hook.texts()[0]).toMatch(
      /^redshift-loader: FAILED job "bko_job", table public\.broken: batch 1 load failed: .*\nThe worker retries this table at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(backing off after each failure\); the job's other tables keep their schedule\. You will get one message when it recovers\.$/s,
    );
    expect(hook.requests[0]!.contentType).toBe('application/json');
  });

  it('nothing runs before the retry time; at the retry time only the broken table runs, and the job keeps its schedule', async () => {
    const before = await event();
    const goodRuns = await runs('good');
    await f.source(`INSERT INTO good VALUES (21, 'late')`);
    await tick();
    expect(await runs('broken')).toBe(1);
    // Time passes for the broken table only.
    await f.meta(`UPDATE tables SET retry_at = now() - interval '1 second' WHERE source_name = 'broken'`);
    await tick();
    expect(await runs('broken')).toBe(2);
    expect(await runs('good')).toBe(goodRuns);
    expect((await f.redshift(`SELECT count(*)::int AS n FROM ${schema()}.good`)).rows[0].n).toBe(20);
    const b = await table('broken');
    expect(b.failure_count).toBe(2);
    expect(b.wait).toBeGreaterThanOrEqual(55);
    expect(b.wait).toBeLessThanOrEqual(60);
    expect(await event()).toEqual(before);
    await flushAlerts();
    expect(hook.texts()).toHaveLength(1); // still one: the state did not change
  });

  it('fixed, it recovers at its retry: backoff cleared, one RECOVERED alert', async () => {
    await f.redshift(`ALTER TABLE ${schema()}.broken ALTER COLUMN code TYPE VARCHAR(64)`);
    await f.meta(`UPDATE tables SET retry_at = NULL WHERE source_name = 'broken'`);
    await tick();
    expect(await table('broken')).toMatchObject({ failure_count: 0, retry_at: null, last_error: null, alert_failing: false });
    expect((await f.redshift(`SELECT count(*)::int AS n FROM ${schema()}.broken`)).rows[0].n).toBe(2);
    await hook.waitFor(2);
    expect(hook.texts()[1]).toBe('redshift-loader: RECOVERED job "bko_job", table public.broken synced again after 2 failed attempt(s).');
    // The good table waits for the job's schedule: its late row is not there yet.
    expect((await f.redshift(`SELECT count(*)::int AS n FROM ${schema()}.good`)).rows[0].n).toBe(20);
    expect(hook.requests.every((r) => !r.body.includes('SecretHookToken'))).toBe(true);
  });
});
