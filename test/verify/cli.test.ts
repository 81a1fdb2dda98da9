import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';

/** `redshift-loader verify` as a user runs it: stdout, stderr and exit codes 0 / 1 / 2. */
const root = path.resolve(import.meta.dirname, '../..');

function cli(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/index.ts', ...args],
      { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'silent', ...env }, timeout: 90_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('redshift-loader verify, spawned', () => {
  let f: SyncFixture;
  let env: Record<string, string | undefined>;
  beforeAll(async () => {
    f = await syncFixture('vcli');
    env = { ...f.target.env, DATABASE_URL: f.metaUrl, RL_TEST_SRC_VCLI: f.sourceUrl, RL_TEST_DST_VCLI: f.target.url };
    await f.source(`CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(8,2))`);
    await f.source(`INSERT INTO items SELECT g, 'item ' || g, g * 1.25 FROM generate_series(1, 50) g`);
    await f.redshift(`CREATE TABLE "${f.target.schema}".items (id INTEGER NOT NULL, name VARCHAR(400), price NUMERIC(8,2))`);
    await f.addTable({ source: 'items', mode: 'INSERT_ONLY', primaryKey: 'id' });
    expect((await f.sync()).ok).toBe(true);
  });
  afterAll(() => f.close());

  it('exit 0 and MATCH when the target equals the source', async () => {
    const r = await cli(['verify', '--job', f.jobName], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      `public.items -> ${f.target.schema}.items (INSERT_ONLY): MATCH\n` +
        '  compared 50 source rows with 50 target rows, 3 columns, by key ranges\n' +
        '  live rule: rows whose key is after max_primary_key ["50"] are left out: they were inserted after the target\'s last sync\n' +
        '  left out: 0 source rows and 0 target rows (changed after the watermark)\n' +
        '  note: delete detection is off: rows deleted at the source stay in the target, and are listed as rows only in the target\n' +
        `verify ${f.jobName}: 1 table(s), 1 match, 0 differ, 0 failed\n`,
    );
  });

  it('exit 1 with the differing rows (text and --json); --repair fixes them and exits 0', async () => {
    await f.redshift(`DELETE FROM "${f.target.schema}".items WHERE id = 3`);
    await f.redshift(`UPDATE "${f.target.schema}".items SET price = 0 WHERE id = 7`);
    const r = await cli(['verify', '--job', f.jobName], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`public.items -> ${f.target.schema}.items (INSERT_ONLY): DIFFERS\n`);
    expect(r.stdout).toContain('  missing from the target: 1 (e.g. id=3)\n  only in the target: 0\n  differing: 1 (columns: price 1) (e.g. id=7 [price])\n');
    expect(r.stderr).toContain('DIFFERS public.items: differs: 1 missing, 1 differ (price)\n');
    const j = await cli(['verify', '--job', f.jobName, '--json'], env);
    expect(j.code).toBe(1);
    const parsed = JSON.parse(j.stdout);
    expect(parsed).toMatchObject({ job: f.jobName, ok: false, tables: [{ table: 'public.items', status: 'differ', missing: { count: 1, examples: ['id=3'] }, differ: { count: 1 } }] });
    const fix = await cli(['verify', '--job', f.jobName, '--repair'], env);
    expect(fix.code, fix.stdout + fix.stderr).toBe(0);
    expect(fix.stdout).toMatch(/  repaired \(sync_runs \d+\): 1 missing, 0 only in the target, 1 differing; 2 rows loaded, 1 deleted\n  verified again: match\n/);
    expect((await cli(['verify', '--job', f.jobName], env)).code).toBe(0);
  });

  it('exit 2 on bad configuration: no DATABASE_URL, an unknown job, no table matching --table', async () => {
    const noDb = await cli(['verify', '--job', f.jobName], {});
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain('DATABASE_URL: is required but not set');
    const unknown = await cli(['verify', '--job', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(`redshift-loader: job "nope" not found in the jobs table (jobs: ${f.jobName})\n`);
    const none = await cli(['verify', '--job', f.jobName, '--table', 'zzz*'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`job "${f.jobName}" has no enabled table matching "zzz*" to verify`);
  });

  it('a bad tables row fails that table with one line naming job, table, column and fix; the other tables are still verified; no secret is printed', async () => {
    await f.source(`CREATE TABLE other (id int PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO other VALUES (1, 'a')`);
    await f.redshift(`CREATE TABLE "${f.target.schema}".other (id INTEGER NOT NULL, v VARCHAR(10))`);
    const id = await f.addTable({ source: 'other', mode: 'FULL_DATA_SYNC', primaryKey: 'idd' });
    const r = await cli(['verify', '--job', f.jobName], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`public.other -> ${f.target.schema}.other (FULL_DATA_SYNC): FAILED\n  error: job "${f.jobName}", table public.other: primary_key column "idd" is not a synced source column; fix primary_key in the tables row\n`);
    expect(r.stdout).toContain(`public.items -> ${f.target.schema}.items (INSERT_ONLY): MATCH`);
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    await f.meta(`UPDATE tables SET primary_key = 'id' WHERE id = $1`, [id]);
    const bad = await cli(['verify', '--job', f.jobName, '--table', 'other'], { ...env, RL_TEST_DST_VCLI: 'postgres://loader:Sup3rSecret@127.0.0.1:1/dev' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`error: job "${f.jobName}", table public.other: cannot connect to Redshift:`);
    expect(bad.stdout + bad.stderr).not.toContain('Sup3rSecret');
  });
});
