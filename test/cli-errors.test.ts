import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { freshDatabase } from './helpers/stack.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/**
 * Issue 19, point 1: an expected error is one line on stderr, `redshift-loader: ...` with
 * the fix, and an exit code (1 a failure, 2 bad configuration or usage); stdout carries
 * only the command's output. The messages are the product: asserted word for word.
 */
describe('CLI errors', () => {
  let f: SyncFixture;
  let env: Record<string, string | undefined>;
  beforeAll(async () => {
    f = await syncFixture('clierr');
    env = { ...f.target.env, DATABASE_URL: f.metaUrl, RL_TEST_SRC_CLIERR: f.sourceUrl, RL_TEST_DST_CLIERR: f.target.url };
    await f.source(`CREATE TABLE orders (id int PRIMARY KEY, note text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await f.source(`INSERT INTO orders (id, note) SELECT g, 'n' || g FROM generate_series(1, 5) g`);
  });
  afterAll(() => f.close());

  it('sync --job nope: exit 2, one line naming the jobs there are', async () => {
    const r = await cli(['sync', '--job', 'nope'], env);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'redshift-loader: job "nope" not found in the jobs table (jobs: clierr_job)\n' });
  });

  it('random-password --length 5: exit 2, one line', async () => {
    const r = await cli(['random-password', '--length', '5'], {});
    expect(r).toEqual({ code: 2, stdout: '', stderr: "redshift-loader: option '--length <n>' argument '5' is invalid. must be a whole number from 8 to 64 (see redshift-loader random-password --help)\n" });
  });

  it('create-user --password weak: exit 2, one line with the rule and the fix, without the password', async () => {
    const r = await cli(['create-user', 'bob', '--password', 'weak'], {});
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: "redshift-loader: --password is not a valid Redshift password: it must be 8 to 64 characters with an upper-case letter, a lower-case letter and a digit, and none of ' \" \\ / @ or space (or use --random-password)\n",
    });
  });

  it('a missing file: exit 2, one line', async () => {
    const r = await cli(['copy-json', '/nonexistent/events.json', '--table', 'events'], {});
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'redshift-loader: cannot read /nonexistent/events.json: no such file (give a file of JSON lines, or - for stdin)\n' });
  });

  it('a bucket that does not exist is named, with the object (copy-json --execute)', async () => {
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/rl-cli-');
    await writeFile(`${dir}/e.json`, '{"id": 1}\n');
    const r = await cli(['copy-json', `${dir}/e.json`, '--table', `${f.target.schema}.events`, '--url', f.target.url, '--bucket', 'no-such-bucket', '--s3-prefix', 'in', '--slices', '1', '--execute'], f.target.env);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'redshift-loader: S3 could not upload to s3://no-such-bucket/in/part-00001.json.gz: The specified bucket does not exist\n' });
  });

  it('sync before migrate: exit 1, says to run redshift-loader migrate', async () => {
    const { url } = await freshDatabase('clierr_nomig');
    const host = new URL(url);
    const r = await cli(['sync', '--job', 'shop'], { DATABASE_URL: url });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: `redshift-loader: the metadata DB at ${host.hostname}:${host.port}${host.pathname} has no redshift-loader tables yet: run redshift-loader migrate (or check that DATABASE_URL names the right database)\n`,
    });
  });

  it('an unreachable DATABASE_URL names the metadata DB and host:port, never the password', async () => {
    const r = await cli(['status'], { DATABASE_URL: 'postgres://loader:Secret1@127.0.0.1:1/meta' });
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'redshift-loader: cannot connect to the metadata DB (DATABASE_URL) at 127.0.0.1:1/meta: connect ECONNREFUSED 127.0.0.1:1; check DATABASE_URL and that the server accepts connections\n',
    });
  });

  it("a job's Redshift that cannot be reached: the job, the table, the side and host:port, never the password", async () => {
    await f.addTable({ source: 'orders', mode: 'INSERT_ONLY', primaryKey: 'id' });
    try {
      const r = await cli(['sync', '--job', 'clierr_job'], { ...env, RL_TEST_DST_CLIERR: 'postgres://loader:Sekr3tXq@127.0.0.1:1/dev' });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('FAILED public.orders: 0 rows in 0 batch(es) -- job "clierr_job", table public.orders: cannot connect to Redshift: connect ECONNREFUSED 127.0.0.1:1 (at 127.0.0.1:1/dev)\n');
      expect(r.stdout).not.toContain('Sekr3tXq');
    } finally {
      await f.meta(`DELETE FROM tables WHERE job_id = $1`, [f.jobId]);
    }
  });

  it('usage errors: exit 2, one line naming the command (no help dump)', async () => {
    expect(await cli(['sync'], env)).toEqual({ code: 2, stdout: '', stderr: "redshift-loader: required option '--job <name>' not specified (see redshift-loader sync --help)\n" });
    expect(await cli(['sync', '--job', 'x', '--bogus'], env)).toEqual({ code: 2, stdout: '', stderr: "redshift-loader: unknown option '--bogus' (see redshift-loader sync --help)\n" });
    expect(await cli(['nope'], env)).toEqual({ code: 2, stdout: '', stderr: "redshift-loader: unknown command 'nope' (see redshift-loader --help)\n" });
    expect((await cli(['--help'], env)).code).toBe(0);
  });

  it('setup --dry-run > plan.sql: only SQL and comments on stdout, and each part runs on its database', async () => {
    await f.meta(`INSERT INTO jobs (name, source_connection_string, destination_connection_string, destination_schema) VALUES ('plan', 'env:RL_TEST_SRC_CLIERR', 'env:RL_TEST_DST_CLIERR', $1)`, [`${f.target.schema}_plan`]);
    const r = await cli(['setup', '--job', 'plan', '--dry-run'], { ...env, LOG_LEVEL: 'info' });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('-- setup job "plan" (dry run: nothing is changed): 1 table(s) and view(s) in public');
    expect(r.stdout).toContain(`--   warning: updated key "updated_at" has no index leading with it: every incremental sync scans the whole table (CREATE INDEX ON "public"."orders" ("updated_at"))`);
    const section = (title: string) => {
      const start = lines.indexOf(title);
      expect(start, `${title} in:\n${r.stdout}`).toBeGreaterThanOrEqual(0);
      const end = lines.findIndex((l, i) => i > start && /^-- on /.test(l));
      return lines.slice(start + 1, end < 0 ? undefined : end).join('\n').trim();
    };
    const onSource = section('-- on the source (suggested; setup never runs it):');
    expect(onSource).toBe('CREATE INDEX ON "public"."orders" ("updated_at");');
    const onRedshift = section('-- on Redshift:');
    const onMeta = section('-- on the metadata DB:');
    // Nothing but comments before the first section.
    const first = lines.findIndex((l) => /^-- on /.test(l));
    expect(lines.slice(0, first).filter((l) => l !== '' && !l.startsWith('--'))).toEqual([]);
    await f.source(onSource);
    await f.redshift(onRedshift);
    await f.meta(onMeta);
    expect((await f.source(`SELECT indexdef FROM pg_indexes WHERE tablename = 'orders' AND indexdef LIKE '%(updated_at)'`)).rowCount).toBe(1);
    expect((await f.meta(`SELECT source_name FROM tables t JOIN jobs j ON j.id = t.job_id WHERE j.name = 'plan'`)).rows).toEqual([{ source_name: 'orders' }]);
  });
});

describe('errorReport', () => {
  it('an expected error: one line, no stack (a stack with LOG_LEVEL=debug); a bug: its stack, said to be a bug', async () => {
    const { errorReport, UsageError } = await import('../src/cli/errors.js');
    expect(errorReport(new Error('S3 could not list s3://b/p/: Access Denied'), { debug: false })).toEqual({ text: 'redshift-loader: S3 could not list s3://b/p/: Access Denied\n', exitCode: 1 });
    expect(errorReport(new UsageError('no enabled table matches'), { debug: false })).toEqual({ text: 'redshift-loader: no enabled table matches\n', exitCode: 2 });
    const debug = errorReport(new Error('boom'), { debug: true });
    expect(debug.text).toMatch(/^redshift-loader: boom\nError: boom\n {4}at /);
    const bug = errorReport(new TypeError("Cannot read properties of undefined (reading 'x')"), { debug: false });
    expect(bug.exitCode).toBe(1);
    expect(bug.text).toMatch(/^redshift-loader: internal error \(a bug in redshift-loader; please report it with the lines below\): Cannot read properties of undefined \(reading 'x'\)\nTypeError: Cannot read properties/);
    // Secrets are masked in the stack too.
    expect(errorReport(new Error('connect postgres://u:Sekr3tXq@h/db'), { debug: true }).text).not.toContain('Sekr3tXq');
  });
});
