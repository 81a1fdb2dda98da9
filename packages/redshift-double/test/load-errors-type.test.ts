import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, connect, errorOf, prefix, put, rows } from './helpers.js';

/**
 * stl_load_errors.type is character(10) (r_STL_LOAD_ERRORS.html): the double writes the
 * short type name there, cut to 10 characters as a cast to character(10) cuts it, and never
 * lets the bookkeeping hide the load error itself.
 */
const ERRORS = `SELECT line_number::int AS line, trim(colname) AS colname, type, trim(col_length) AS col_length, err_code, trim(err_reason) AS err_reason
  FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY line_number`;

describe('Redshift double: stl_load_errors.type', () => {
  let c: pg.Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ c, close } = await connect('letype'));
  });
  afterAll(async () => {
    await close();
  });

  it('a bad timestamptz and a bad varchar report their real err_code and err_reason', async () => {
    await c.query('CREATE TABLE tz (id int, at timestamptz, s varchar(3))');
    const key = await put(`${prefix('letype')}d.csv`, '1,not a time,ok\n2,2020-01-01 00:00:00,toolong\n');
    // within MAXERROR the load succeeds and both rows are reported
    await c.query(`COPY tz FROM '${key}' ${auth()} CSV MAXERROR 5 TIMEFORMAT 'auto'`);
    const errs = await rows(c, ERRORS);
    expect(errs).toEqual([
      { line: 1, colname: 'at', type: 'timestampt', col_length: '0', err_code: 1206, err_reason: "Invalid timestamp format or value [YYYY-MM-DD HH24:MI:SS]: 'not a time'" },
      { line: 2, colname: 's', type: 'varchar   ', col_length: '3', err_code: 1204, err_reason: 'String length exceeds DDL length' },
    ]);
  });

  it('without MAXERROR the failure names the real error, not an internal one', async () => {
    const key = await put(`${prefix('letype1')}d.csv`, '1,31/31/2020 25:00,ok\n');
    const e = await errorOf(c, `COPY tz FROM '${key}' ${auth()} CSV`);
    expect(e.message).toBe("Load into table 'tz' failed.  Check 'stl_load_errors' system table for details.");
    expect(e.detail).toMatch(/code:\s+1206/);
    const [err] = await rows(c, ERRORS);
    expect(err).toMatchObject({ colname: 'at', type: 'timestampt', err_code: 1206 });
  });

  it('raw_line shows multibyte characters as periods', async () => {
    const key = await put(`${prefix('letype3')}d.csv`, '1,2020-01-01 00:00:00,été\n');
    await errorOf(c, `COPY tz FROM '${key}' ${auth()} CSV`);
    const [err] = await rows(c, `SELECT trim(raw_line) AS raw_line, trim(raw_field_value) AS raw_field_value, err_code FROM stl_load_errors WHERE query = pg_last_copy_id()`);
    expect(err).toEqual({ raw_line: '1,2020-01-01 00:00:00,.t.', raw_field_value: 'été', err_code: 1204 });
  });

  it('other short names: int4, numeric, bool, date, bpchar, super', async () => {
    await c.query('CREATE TABLE st (i int, n numeric(5,2), b boolean, d date, ch char(2), j super)');
    const key = await put(`${prefix('letype2')}d.csv`, 'x,1,t,2020-01-01,ab,1\n1,abc,t,2020-01-01,ab,1\n1,1,maybe,2020-01-01,ab,1\n1,1,t,nope,ab,1\n1,1,t,2020-01-01,abc,1\n1,1,t,2020-01-01,ab,{\n');
    await c.query(`COPY st FROM '${key}' ${auth()} CSV MAXERROR 10`);
    expect((await rows<{ type: string }>(c, ERRORS)).map((r) => r.type.trim())).toEqual(['int4', 'numeric', 'bool', 'date', 'bpchar', 'super']);
  });
});
