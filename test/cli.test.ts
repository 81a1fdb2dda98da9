import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { runSetup } from '../src/setup/setup.js';
import { cli } from './helpers/cli.js';
import { freshDatabase } from './helpers/stack.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/**
 * The loader's commands as a user runs them: a real process, the environment, stdout,
 * stderr and the exit code (0 success, 1 a failure, 2 bad configuration).
 */
describe('the loader CLI, spawned', () => {
  let f: SyncFixture;
  let env: Record<string, string | undefined>;
  beforeAll(async () => {
    f = await syncFixture('cli');
    env = { ...f.target.env, DATABASE_URL: f.metaUrl, [`RL_TEST_SRC_CLI`]: f.sourceUrl, [`RL_TEST_DST_CLI`]: f.target.url };
    await f.source(`CREATE TABLE orders (id int PRIMARY KEY, note text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await f.source(`INSERT INTO orders (id, note) SELECT g, 'n' || g FROM generate_series(1, 25) g`);
    await f.source(`CREATE TABLE broken (id int PRIMARY KEY, code text)`);
    await f.source(`INSERT INTO broken VALUES (1, 'fine'), (2, repeat('z', 40))`);
    // cli_job is set up here; each test works on its own copy of what it needs.
    const s = await runSetup(f.metaUrl, { jobName: f.jobName }, { log: createLogger({ level: 'silent', pretty: false }) });
    expect(s.ok, s.output).toBe(true);
    await f.redshift(`DROP TABLE ${f.target.schema}.broken`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.broken (id INTEGER NOT NULL, code VARCHAR(10))`);
  });
  afterAll(() => f.close());

  it('migrate: 0 on a fresh database and again (idempotent); 2 without DATABASE_URL; 1 when it cannot connect', async () => {
    const { url } = await freshDatabase('cli_mig');
    const first = await cli(['migrate'], { DATABASE_URL: url });
    expect(first.code, first.stderr).toBe(0);
    expect((await cli(['migrate'], { DATABASE_URL: url })).code).toBe(0);
    const missing = await cli(['migrate'], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('DATABASE_URL: is required but not set');
    const down = await cli(['migrate'], { DATABASE_URL: 'postgres://nobody:Secret1@127.0.0.1:1/none' });
    expect(down.code).toBe(1);
    expect(down.stderr).not.toContain('Secret1');
  });

  it('setup --dry-run prints the plan on stdout and changes nothing; setup creates targets and rows; exit 0', async () => {
    const job = await f.meta(
      `INSERT INTO jobs (name, source_connection_string, destination_connection_string, destination_schema) VALUES ('cli_setup', 'env:RL_TEST_SRC_CLI', 'env:RL_TEST_DST_CLI', $1) RETURNING id`,
      [`${f.target.schema}_setup`],
    );
    const rows = async () => (await f.meta(`SELECT source_name, copy_mode::text AS mode FROM tables WHERE job_id = $1 ORDER BY 1`, [job.rows[0].id])).rows;
    const dry = await cli(['setup', '--job', 'cli_setup', '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`public.orders (table) -> ${f.target.schema}_setup.orders: INSERT_AND_UPDATE`);
    expect(dry.stdout).toContain('-- on the metadata DB:');
    expect(await rows()).toEqual([]);
    const bad = await cli(['setup', '--job', 'cli_setup', '--full-sync-below', 'lots'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("option '--full-sync-below <rows>' argument 'lots' is invalid. expected a whole number, e.g. 100000");
    const real = await cli(['setup', '--job', 'cli_setup'], env);
    expect(real.code, real.stderr + real.stdout).toBe(0);
    expect(await rows()).toEqual([
      { source_name: 'broken', mode: 'FULL_DATA_SYNC' },
      { source_name: 'orders', mode: 'INSERT_AND_UPDATE' },
    ]);
  });

  it('sync: 0 when every table synced, 1 when one failed (after the others), 2 for an unknown job, with a line per table on stderr', async () => {
    const ok = await cli(['sync', '--job', 'cli_job', '--table', 'orders'], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/^ok {5}public\.orders: \d+ rows in \d+ batch\(es\)$/m);
    const mixed = await cli(['sync', '--job', 'cli_job'], env);
    expect(mixed.code, mixed.stderr).toBe(1);
    expect(mixed.stderr).toMatch(/^FAILED public\.broken: 0 rows in 0 batch\(es\) -- job "cli_job", table public\.broken: batch 1 load failed: /m);
    expect(mixed.stderr).toMatch(/^ok {5}public\.orders: 0 rows/m);
    const unknown = await cli(['sync', '--job', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^redshift-loader: job "nope" not found in the jobs table \(jobs: cli_job(, cli_setup)?\)$/m);
    const noUrl = await cli(['sync', '--job', 'cli_job'], { ...env, DATABASE_URL: undefined });
    expect(noUrl.code).toBe(2);
  });

  it('status prints a line per table (0); --json is JSON; grants prints SQL only (0)', async () => {
    const st = await cli(['status', '--job', 'cli_job'], env);
    // Exit 1 while a table is failing (public.broken, after the sync test above).
    const failing = (await f.meta(`SELECT count(*)::int AS n FROM tables t JOIN jobs j ON j.id = t.job_id WHERE j.name = 'cli_job' AND t.last_error IS NOT NULL`)).rows[0].n;
    expect(st.code, st.stderr).toBe(failing > 0 ? 1 : 0);
    expect(st.stdout.split('\n')[0]).toMatch(/^JOB\s+SCHEDULE\s+LAST RUN/);
    expect(st.stdout).toMatch(/^JOB\s+TABLE\s+MODE/m);
    expect(st.stdout).toMatch(/cli_job\s+public\.orders\s+INSERT_AND_UPDATE/);
    const js = await cli(['status', '--job', 'cli_job', '--json'], env);
    expect(js.code).toBe(st.code);
    expect((JSON.parse(js.stdout) as Array<{ table: string }>).map((r) => r.table)).toEqual(['public.broken', 'public.orders']);
    const g = await cli(['grants', '--job', 'cli_job', '--source-user', 'reader'], { ...env, LOG_LEVEL: 'info' });
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toContain('GRANT SELECT ON "public"."orders" TO "reader";');
    // Only SQL and SQL comments on stdout (the log goes to stderr), so it can be piped into psql.
    expect(g.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('--') && !/;( --.*)?$/.test(l))).toEqual([]);
  });
});
