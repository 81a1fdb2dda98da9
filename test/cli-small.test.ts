import { execFileSync, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliInTerminal, root } from './helpers/cli.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/** Issue 19, point 8: the small things a user trips on. */
describe('small things', () => {
  let f: SyncFixture;
  let env: Record<string, string | undefined>;
  beforeAll(async () => {
    f = await syncFixture('small');
    env = { ...f.target.env, DATABASE_URL: f.metaUrl, RL_TEST_SRC_SMALL: f.sourceUrl, RL_TEST_DST_SMALL: f.target.url };
    for (const t of ['orders', 'items', 'bad']) {
      await f.source(`CREATE TABLE ${t} (id int PRIMARY KEY, v text)`);
      await f.source(`INSERT INTO ${t} SELECT g, 'v' || g FROM generate_series(1, 30) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.${t} (id INTEGER NOT NULL, v VARCHAR(${t === 'bad' ? 2 : 10}))`);
      await f.addTable({ source: t, mode: 'INSERT_ONLY', primaryKey: 'id' });
    }
  });
  afterAll(() => f.close());

  it('sync --table with a glob that matches nothing: exit 2, listing the job\'s tables', async () => {
    const r = await cli(['sync', '--job', 'small_job', '--table', 'nomatch*'], env);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: 'redshift-loader: no enabled table of job "small_job" matches --table "nomatch*" (its tables: public.bad, public.items, public.orders); the glob is matched on schema.table and on table\n',
    });
  });

  it('grants with a superuser in the source connection string: refused, naming the fix; --source-user works', async () => {
    const r = await cli(['grants', '--job', 'small_job'], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'redshift-loader: the source connection string of job "small_job" logs in as "postgres", a superuser: the script would make that role read-only (ALTER ROLE "postgres" SET default_transaction_read_only = on). Create a user for the loader and name it with --source-user NAME (then point source_connection_string at it)\n',
    );
    const named = await cli(['grants', '--job', 'small_job', '--source-user', 'loader'], env);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toContain('ALTER ROLE "loader" SET default_transaction_read_only = on;');
    expect(named.stdout).not.toContain('ALTER ROLE "postgres"');
    // An owner of the tables is refused too.
    await f.source(`CREATE ROLE app_owner LOGIN; ALTER TABLE orders OWNER TO app_owner`);
    const owner = await cli(['grants', '--job', 'small_job', '--source-user', 'app_owner'], env);
    expect(owner.code).toBe(2);
    expect(owner.stderr).toBe(
      'redshift-loader: the source user "app_owner" owns public.orders: the script would make that role read-only (ALTER ROLE "app_owner" SET default_transaction_read_only = on). Create a user for the loader and name it with --source-user NAME (then point source_connection_string at it)\n',
    );
  });

  it('random-password is URL-safe by default; --all-symbols draws from every character Redshift allows', async () => {
    const many = await Promise.all(Array.from({ length: 3 }, () => cli(['random-password', '--length', '64'], {})));
    for (const p of many) expect(p.stdout).toMatch(/^[A-Za-z0-9._~-]{64}\n$/);
    const all = await cli(['random-password', '--length', '64', '--all-symbols'], {});
    expect(all.stdout.trim()).toHaveLength(64);
    expect(all.stdout.trim()).not.toMatch(/['"\\/@ ]/);
  });

  it('a sync in a terminal: warnings only, then a summary table per table', async () => {
    const r = await cliInTerminal(['sync', '--job', 'small_job'], env);
    expect(r.code, r.output).toBe(1);
    const lines = r.output.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
    const at = lines.findIndex((l) => /^TABLE\s+RESULT\s+CHANGED\s+RE-READ\s+FILES\s+MiB\s+SECONDS$/.test(l));
    expect(at, r.output).toBeGreaterThanOrEqual(0);
    expect(lines[at + 1]).toMatch(/^public\.bad\s+FAILED\s+0\s+0\s+\d+\s+\d+\.\d\d\s+\d+\.\d$/);
    expect(lines[at + 2]).toMatch(/^public\.items\s+ok\s+30\s+0\s+2\s+0\.00\s+\d+\.\d$/);
    expect(lines[at + 3]).toMatch(/^public\.orders\s+ok\s+30\s+0\s+2\s+0\.00\s+\d+\.\d$/);
    expect(lines[at + 4]).toBe('job "small_job": 1 of 3 table(s) failed:');
    expect(lines[at + 5]).toMatch(/^ {2}public\.bad: batch 1 load failed: /);
    // Before the table: at most the warning and error lines of the failed table.
    expect(at).toBeLessThanOrEqual(6);
  });

  it('not in a terminal: JSON log lines on stdout, one line per table on stderr', async () => {
    const r = await cli(['sync', '--job', 'small_job', '--table', 'orders'], env);
    expect(r.code, r.stderr).toBe(0);
    for (const l of r.stdout.trim().split('\n')) expect(() => JSON.parse(l)).not.toThrow();
    expect(r.stdout).toContain('"msg":"table sync succeeded"');
    expect(r.stderr).toBe('ok     public.orders: 0 rows in 0 batch(es)\n');
  });

  it('the worker logs "worker started" and "worker stopped" once each', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'worker'], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, WORKER_TICK_SECONDS: '1' } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && out.includes('"msg":"worker started"')) sent = child.kill('SIGTERM');
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((res) => child.once('exit', (c, sig) => res(c ?? (sig as unknown as number))));
    expect(code, `${out}\n${err}`).toBe(0);
    const msgs = out.trim().split('\n').map((l) => JSON.parse(l).msg as string);
    expect(msgs.filter((m) => m === 'worker started')).toHaveLength(1);
    expect(msgs.filter((m) => m === 'worker stopped')).toHaveLength(1);
  });

  it('.stack.env (written by npm run stack -- --env-file .stack.env) is ignored by git', () => {
    expect(execFileSync('git', ['check-ignore', '.stack.env'], { cwd: root }).toString()).toBe('.stack.env\n');
  });
});
