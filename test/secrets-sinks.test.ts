import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../src/config/env.js';
import { syncRunner } from '../src/scheduler/run-job.js';
import { startWorker } from '../src/scheduler/worker.js';
import { cli } from './helpers/cli.js';
import { captureLog } from './scheduler/helpers.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/**
 * Issue 19, point 3: a secret never reaches a sink, in any form of URL or option: not the
 * CLI's stdout or stderr (its log included), not sync_runs.error, tables.last_error or
 * schedule_events.last_error, not the worker's log, not a dry run's SQL.
 */
const SECRET = 'Sekr3tXq';

describe('no secret in any sink', () => {
  let f: SyncFixture;
  let env: Record<string, string | undefined>;
  const seen: Array<{ sink: string; text: string }> = [];
  /** Every sink collected so far, where the secret shows (with some context): must be none. */
  const leaks = () => seen.filter((s) => s.text.includes(SECRET)).map((s) => `${s.sink}: ...${s.text.slice(Math.max(0, s.text.indexOf(SECRET) - 100), s.text.indexOf(SECRET) + 20)}`);
  beforeAll(async () => {
    f = await syncFixture('leak');
    env = { ...f.target.env, DATABASE_URL: f.metaUrl, RL_TEST_SRC_LEAK: f.sourceUrl, RL_TEST_DST_LEAK: f.target.url, LOG_LEVEL: 'debug' };
    await f.source(`CREATE TABLE t (id int PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO t VALUES (1, 'a')`);
    const job = (name: string, source: string, iamRole: string | null = null) =>
      f.meta(
        `WITH j AS (INSERT INTO jobs (name, source_connection_string, destination_connection_string, destination_schema, iam_role) VALUES ($1, $2, 'env:RL_TEST_DST_LEAK', $3, $4) RETURNING id)
         INSERT INTO tables (job_id, source_name, copy_mode, primary_key) SELECT id, 't', 'INSERT_ONLY', 'id' FROM j`,
        [name, source, f.target.schema, iamRole],
      );
    await job('no_colon', `postgres//loader:${SECRET}@db.example.com/shop`);
    await job('one_slash', `postgresql:/loader:${SECRET}@`);
    await job('query', `postgres://127.0.0.1:1/shop?sslmode=disable&password=${SECRET}`);
    await job('keyword', `host=db.example.com user=loader password=${SECRET} dbname=shop`);
    await job('role_with_keys', 'env:RL_TEST_SRC_LEAK', `aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key=${SECRET}`);
  });
  afterAll(() => f.close());

  it('CLI sync of each job: stdout (JSON log), stderr, sync_runs.error, tables.last_error', async () => {
    for (const name of ['no_colon', 'one_slash', 'query', 'keyword', 'role_with_keys']) {
      const r = await cli(['sync', '--job', name], env);
      expect(r.code, `${name}: ${r.stderr}`).toBe(1);
      seen.push({ sink: `${name} stdout`, text: r.stdout }, { sink: `${name} stderr`, text: r.stderr });
    }
    const runs = await f.meta(`SELECT error FROM sync_runs`);
    const tables = await f.meta(`SELECT last_error FROM tables`);
    seen.push(...runs.rows.map((r) => ({ sink: 'sync_runs.error', text: String(r.error) })), ...tables.rows.map((r) => ({ sink: 'tables.last_error', text: String(r.last_error) })));
    const errors = tables.rows.map((r) => String(r.last_error)).join('\n');
    // The errors still say what is wrong, with the secret masked.
    expect(errors).toContain('job "no_colon" source_connection_string: expected a postgres:// URL or env:VAR_NAME, got postgres//loader:***@db.example.com/shop');
    expect(errors).toContain('job "one_slash" source_connection_string: expected a postgres:// URL or env:VAR_NAME, got postgresql:/loader:***@');
    expect(errors).toContain('job "keyword" source_connection_string: expected a postgres:// URL or env:VAR_NAME, got host=db.example.com user=loader password=*** dbname=shop');
    expect(errors).toMatch(/job "query", table public\.t: cannot connect to the source: connect ECONNREFUSED 127\.0\.0\.1:1 \(at 127\.0\.0\.1:1\/shop\)/);
    expect(leaks()).toEqual([]);
  });

  it('sync --dry-run with access keys and a session token: CREDENTIALS masked', async () => {
    const keys = { ...env, REDSHIFT_IAM_ROLE: undefined, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: `${SECRET}SecretKey`, AWS_SESSION_TOKEN: `${SECRET}Token` };
    await f.meta(`INSERT INTO tables (job_id, source_name, copy_mode, primary_key) VALUES ($1, 't', 'INSERT_ONLY', 'id')`, [f.jobId]);
    const r = await cli(['sync', '--job', f.jobName, '--dry-run'], keys);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("CREDENTIALS 'aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key=***;token=***'");
    seen.push({ sink: 'dry-run stdout', text: r.stdout }, { sink: 'dry-run stderr', text: r.stderr });
    const role = await cli(['sync', '--job', 'role_with_keys', '--dry-run'], env);
    expect(role.stdout).toContain("IAM_ROLE 'aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key=***'");
    seen.push({ sink: 'dry-run stdout (iam_role)', text: role.stdout });
    expect(leaks()).toEqual([]);
  });

  it('the worker: its log and schedule_events.last_error', async () => {
    await f.meta(`INSERT INTO schedule_events (job_id, frequency) SELECT id, 60 FROM jobs WHERE name IN ('no_colon', 'keyword')`);
    // The CLI runs above put the failing tables into their own backoff: retry them now.
    await f.meta(`UPDATE tables SET retry_at = NULL`);
    const { log, lines } = captureLog();
    const wenv = loadEnv({ ...f.target.env, DATABASE_URL: f.metaUrl, WORKER_TICK_SECONDS: '1' });
    const w = startWorker({ metadataUrl: f.metaUrl, env: wenv, log, runJob: syncRunner(f.metaUrl, wenv, log), autoTick: false });
    try {
      await w.tick();
      await w.idle();
    } finally {
      await w.stop();
    }
    expect(lines.some((l) => l.msg === 'table sync failed')).toBe(true);
    const events = await f.meta(`SELECT last_error FROM schedule_events`);
    seen.push({ sink: 'worker log', text: JSON.stringify(lines) }, ...events.rows.map((r) => ({ sink: 'schedule_events.last_error', text: String(r.last_error) })));
    expect(leaks()).toEqual([]);
  });

});
