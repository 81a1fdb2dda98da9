import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, connect, prefix, put, rows } from './helpers.js';

describe('Redshift double: system views', () => {
  let c: pg.Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ c, close } = await connect('views'));
  });
  afterAll(async () => {
    await close();
  });

  it('stl_load_errors has Redshift\'s columns, char-padded, filterable by pg_last_copy_id() and by parameters', async () => {
    await c.query('CREATE TABLE le (id int, s varchar(2))');
    const key = await put(`${prefix('le')}d.csv`, '1,ok\n2,long\n');
    await c.query(`COPY le FROM '${key}' ${auth()} CSV`).catch(() => undefined);
    const [r] = await rows(c, `SELECT query, filename, line_number, colname, type, col_length, raw_line, raw_field_value, err_code, err_reason, starttime, session, tbl
      FROM stl_load_errors WHERE query = pg_last_copy_id()`);
    expect(r!.filename).toBe(key.padEnd(256, ' '));
    expect(r!.colname).toBe('s'.padEnd(127, ' '));
    expect((r!.raw_line as string).trim()).toBe('2,long');
    expect((r!.raw_field_value as string).trim()).toBe('long');
    expect((r!.col_length as string).trim()).toBe('2');
    expect((r!.type as string).trim()).toBe('varchar');
    expect(r!.err_code).toBe(1204);
    expect(r!.line_number).toBe('2');
    expect(r!.starttime).toBeInstanceOf(Date);
    expect(r!.query).toBeGreaterThan(0);
    const [tbl] = await rows<{ oid: number }>(c, `SELECT 'le'::regclass::oid::int AS oid`);
    expect(r!.tbl).toBe(tbl!.oid);
    // the loader's own queries (src/redshift/sql.ts): pg_catalog-qualified name and a bind parameter
    const byPrefix = await rows(c, `SELECT TRIM(filename) AS filename, err_code FROM pg_catalog.stl_load_errors WHERE TRIM(filename) LIKE $1`, [`${key}%`]);
    expect(byPrefix).toEqual([{ filename: key, err_code: 1204 }]);
    const commits = await rows(c, `SELECT count(*)::int AS n FROM stl_load_commits`);
    expect(commits[0]!.n).toBe(0); // the failed load committed no file
  });

  it('pg_table_def shows only tables in schemas on the search_path', async () => {
    await c.query('CREATE SCHEMA hidden');
    await c.query('CREATE TABLE hidden.secret (a int) DISTSTYLE EVEN');
    await c.query('CREATE TABLE public.shown (a int)');
    const names = async () => (await rows<{ tablename: string }>(c, `SELECT DISTINCT tablename FROM pg_table_def WHERE tablename IN ('secret', 'shown') ORDER BY 1`)).map((r) => r.tablename);
    expect(await names()).toEqual(['shown']);
    await c.query('SET search_path TO hidden, public');
    expect(await names()).toEqual(['secret', 'shown']);
    await c.query('RESET search_path');
  });

  it('svv_table_info reports size, diststyle, sortkey1 and rows for non-empty tables', async () => {
    await c.query('CREATE TABLE info (id int, name varchar(30)) DISTSTYLE EVEN SORTKEY (name)');
    const key = await put(`${prefix('info')}d.csv`, '1,a\n2,b\n3,c\n');
    await c.query(`COPY info FROM '${key}' ${auth()} CSV`);
    const [r] = await rows(c, `SELECT database, schema, "table", encoded, diststyle, sortkey1, sortkey_num, max_varchar, size, tbl_rows, estimated_visible_rows FROM svv_table_info WHERE "table" = 'info'`);
    expect(r).toMatchObject({ schema: 'public', table: 'info', encoded: 'Y', diststyle: 'EVEN', sortkey1: 'name', sortkey_num: 1, max_varchar: 30, tbl_rows: '3', estimated_visible_rows: '3' });
    expect(Number(r!.size)).toBeGreaterThanOrEqual(1);
    const [loaded] = await rows(c, `SELECT count(*)::int AS n, max(lines_scanned) AS lines FROM stl_load_commits WHERE query = pg_last_copy_id()`);
    expect(loaded).toEqual({ n: 1, lines: 3 });
  });
});
