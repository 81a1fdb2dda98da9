import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPassword } from '../../src/admin/index.js';
import { adminFixture, tableDef, type AdminFixture } from './helpers.js';

const root = path.resolve(import.meta.dirname, '../..');

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: 'silent', REDSHIFT_URL: undefined, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('admin CLI', () => {
  let f: AdminFixture;
  beforeAll(async () => {
    f = await adminFixture('adm_cli');
    await f.q(`CREATE TABLE ${f.schema}.t (id INTEGER NOT NULL, name VARCHAR(20)) DISTKEY(id) SORTKEY(id)`);
    await f.q(`INSERT INTO ${f.schema}.t VALUES (1, 'a'), (2, 'b')`);
  });
  afterAll(() => f.close());

  it('ddl prints the DDL (URL from REDSHIFT_URL); deep-copy --execute applies new keys', async () => {
    const ddl = await cli(['ddl', `${f.schema}.t`], { REDSHIFT_URL: f.target.url });
    expect(ddl.stderr).toBe('');
    expect(ddl.code).toBe(0);
    expect(ddl.stdout).toContain(`CREATE TABLE "${f.schema}"."t" (`);
    expect(ddl.stdout).toContain('DISTKEY ("id")');
    const dc = await cli(['deep-copy', `${f.schema}.t`, '--url', f.target.url, '--diststyle', 'EVEN', '--sortkey', 'name,id', '--execute']);
    expect(dc.code).toBe(0);
    expect(dc.stdout).toContain('LOCK ');
    expect(dc.stderr).toMatch(/executed: 7 statement\(s\) in one transaction, committed/);
    const def = await tableDef(f, 't');
    expect(def.map((c) => [c.column, c.distkey, c.sortkey])).toEqual([['id', false, 2], ['name', false, 1]]);
    expect((await f.q(`SELECT count(*)::int AS n FROM ${f.schema}.t`)).rows[0]!.n).toBe(2);
  });

  it('table-exists exit codes; tables lists a schema; connection from PG* variables', async () => {
    const u = new URL(f.target.url);
    const pgEnv = { PGHOST: u.hostname, PGPORT: u.port, PGUSER: decodeURIComponent(u.username), PGPASSWORD: decodeURIComponent(u.password), PGDATABASE: u.pathname.slice(1) };
    const yes = await cli(['table-exists', `${f.schema}.t`], pgEnv);
    expect([yes.code, yes.stdout]).toEqual([0, 'true\n']);
    const no = await cli(['table-exists', `${f.schema}.nope`], pgEnv);
    expect([no.code, no.stdout]).toEqual([1, 'false\n']);
    const tables = await cli(['tables', f.schema, '--url', f.target.url]);
    expect(tables.stdout).toBe(`${f.schema}.t\n`);
    const none = await cli(['tables'], { PGHOST: undefined });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no Redshift connection/);
  });

  it('stdout holds only the SQL; an error is one line on stderr (even with logging on)', async () => {
    const bad = await cli(['ddl', `${f.schema}.nope`, '--url', f.target.url], { LOG_LEVEL: 'info' });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe(`redshift-loader: table ${f.schema}.nope does not exist\n`);
  });

  it('random-password, create-user (printed, nothing run), --help', async () => {
    const p = await cli(['random-password', '--length', '40']);
    expect(p.stdout.trim()).toHaveLength(40);
    expect(checkPassword(p.stdout.trim())).toBeNull();
    const cu = await cli(['create-user', 'bob', '--password', 'Bob-Passw0rd', '--in-group', 'etl,readers', '--set', 'wlm_query_slot_count=3', '--valid-until', '2030-01-01']);
    expect(cu.stdout).toBe(`CREATE USER "bob" PASSWORD 'Bob-Passw0rd' IN GROUP "etl", "readers" VALID UNTIL '2030-01-01';\n\nALTER USER "bob" SET wlm_query_slot_count TO 3;\n`);
    const help = await cli(['copy-table', '--help']);
    expect(help.stdout).toMatch(/--max-manifest-keys <n>/);
    expect(help.stdout).toMatch(/--statement <sql>/);
  });
});
