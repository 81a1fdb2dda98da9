import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, connect, prefix, put, rows } from './helpers.js';

/**
 * Values COPY refuses or limits: datetimes outside Redshift's range or special values it
 * lacks (r_Datetime_types.html, r_Date_and_time_literals.html, automatic-recognition.html),
 * numeric NaN, a row over 4 MB (copy-parameters-data-source.html), SUPER limits
 * (limitations-super.html, ingest-super.html).
 */
const ERRORS = `SELECT line_number::int AS line, trim(colname) AS colname, err_code FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY line_number`;

describe('Redshift double: values COPY refuses or limits', () => {
  let c: pg.Client;
  let close: () => Promise<void>;
  const load = async (table: string, body: string | Buffer, opts = '') => {
    const key = await put(`${prefix(table)}d.txt`, body);
    await c.query(`COPY ${table} FROM '${key}' ${auth()} CSV MAXERROR 1000 ${opts}`);
  };

  beforeAll(async () => {
    ({ c, close } = await connect('limits'));
  });
  afterAll(async () => {
    await close();
  });

  it("'infinity' and '-infinity' dates and timestamps and numeric NaN fail the record", async () => {
    await c.query('CREATE TABLE inf (id int, d date, ts timestamp, tz timestamptz, n numeric(10,2))');
    const body = ['1,infinity,,,', '2,-infinity,,,', '3,,infinity,,', '4,,,-infinity,', '5,,,,NaN', '6,,,,nan', '7,2020-01-01,2020-01-01 00:00:00,2020-01-01 00:00:00+00,1.5'].join('\n') + '\n';
    for (const opts of ['', "DATEFORMAT 'auto' TIMEFORMAT 'auto'"]) {
      await c.query('TRUNCATE inf');
      await load('inf', body, opts);
      expect(await rows(c, ERRORS)).toEqual([
        { line: 1, colname: 'd', err_code: 1205 },
        { line: 2, colname: 'd', err_code: 1205 },
        { line: 3, colname: 'ts', err_code: 1206 },
        { line: 4, colname: 'tz', err_code: 1206 },
        { line: 5, colname: 'n', err_code: 1209 },
        { line: 6, colname: 'n', err_code: 1209 },
      ]);
      expect(await rows(c, 'SELECT id FROM inf')).toEqual([{ id: 7 }]);
    }
  });

  it("BC dates and years above 9999 load with 'auto' in the documented forms, within 4713 BC to 294276 AD", async () => {
    await c.query('CREATE TABLE bc (id int, d date, ts timestamp, tz timestamptz)');
    const body = [
      '1,0044-03-15 BC,0044-03-15 10:00:00 BC,0044-03-15 10:00:00+00 BC', // Postgres's own output
      '2,Jan-08-95 BC,Jan-08-95 04:05:06 BC,', // the guide's example
      '3,10000-01-01,10000-01-01 00:00:00,10000-01-01 00:00:00+00',
      '4,294276-12-31,294276-12-31 23:59:59,',
      '5,4713-01-01 BC,4713-01-01 00:00:00 BC,',
      '6,4714-12-31 BC,,', // before 4713 BC
      '7,294277-01-01,,', // after 294276 AD
      '8,,294277-01-01 00:00:00,',
      '9,0000-01-01,,', // there is no year 0
      '10,-0044-03-15,,',
      '11,0044-03-15 AD BC,,',
    ].join('\n') + '\n';
    await load('bc', body, "DATEFORMAT 'auto' TIMEFORMAT 'auto'");
    expect(await rows(c, 'SELECT id, d::text, ts::text, tz::text FROM bc ORDER BY id')).toEqual([
      { id: 1, d: '0044-03-15 BC', ts: '0044-03-15 10:00:00 BC', tz: '0044-03-15 10:00:00+00 BC' },
      { id: 2, d: '0095-01-08 BC', ts: '0095-01-08 04:05:06 BC', tz: null },
      { id: 3, d: '10000-01-01', ts: '10000-01-01 00:00:00', tz: '10000-01-01 00:00:00+00' },
      { id: 4, d: '294276-12-31', ts: '294276-12-31 23:59:59', tz: null },
      { id: 5, d: '4713-01-01 BC', ts: '4713-01-01 00:00:00 BC', tz: null },
    ]);
    expect(await rows(c, ERRORS)).toEqual([
      { line: 6, colname: 'd', err_code: 1205 },
      { line: 7, colname: 'd', err_code: 1205 },
      { line: 8, colname: 'ts', err_code: 1206 },
      { line: 9, colname: 'd', err_code: 1205 },
      { line: 10, colname: 'd', err_code: 1205 },
      { line: 11, colname: 'd', err_code: 1205 },
    ]);
  });

  it('without auto, BC and five-digit years are refused (1205, 1206)', async () => {
    await c.query('CREATE TABLE bc2 (id int, d date, ts timestamp)');
    await load('bc2', '1,0044-03-15 BC,\n2,10000-01-01,\n3,,0044-03-15 10:00:00 BC\n4,,10000-01-01 00:00:00\n5,2020-01-01,2020-01-01 00:00:00\n');
    expect(await rows(c, ERRORS)).toEqual([
      { line: 1, colname: 'd', err_code: 1205 },
      { line: 2, colname: 'd', err_code: 1205 },
      { line: 3, colname: 'ts', err_code: 1206 },
      { line: 4, colname: 'ts', err_code: 1206 },
    ]);
  });

  it('a single input row over 4 MB fails the record (1216); one just under loads', async () => {
    await c.query('CREATE TABLE big (id int, j super)');
    const arr = (bytes: number) => {
      const n = Math.floor((bytes - 2) / 2);
      return '[' + Array.from({ length: n }, () => '1').join(',') + ']';
    };
    const small = `1,"${arr(4 * 1024 * 1024 - 100)}"`;
    const large = `2,"${arr(4 * 1024 * 1024 + 100)}"`;
    await load('big', `${small}\n${large}\n3,[]\n`);
    expect(await rows(c, 'SELECT id FROM big ORDER BY id')).toEqual([{ id: 1 }, { id: 3 }]);
    const errs = await rows(c, `SELECT line_number::int AS line, err_code, trim(err_reason) AS reason FROM stl_load_errors WHERE query = pg_last_copy_id()`);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ line: 2, err_code: 1216 });
    expect(errs[0]!.reason).toMatch(/4 MB/);
  });

  it('SUPER: a string over 65535 bytes, nesting deeper than 1000 and duplicate attribute names fail the record', async () => {
    await c.query('CREATE TABLE sj (id int, j super)');
    const csv = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const str = (n: number) => JSON.stringify('é'.repeat(n / 2));
    const nest = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    const lines = [
      `1,${csv(str(65534))}`, // 65534 bytes: fine
      `2,${csv(JSON.stringify({ a: 'x'.repeat(65535) }))}`, // exactly 65535 bytes inside an object: fine
      `3,${csv(JSON.stringify({ a: 'x'.repeat(65536) }))}`,
      `4,${csv(nest(1000))}`,
      `5,${csv(nest(1001))}`,
      `6,${csv('{"a": 1, "a": 2}')}`,
      `7,${csv('{"b": {"c": [1, {"d": 1, "d": 1}]}}')}`,
      `8,${csv('{"a": 1, "A": 2}')}`, // different names
      `9,${csv('{"a": "\\u00e9"}')}`,
    ];
    await load('sj', lines.join('\n') + '\n');
    expect(await rows(c, 'SELECT id FROM sj ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }, { id: 4 }, { id: 8 }, { id: 9 }]);
    const errs = await rows<{ line: number; err_code: number; reason: string }>(c, `SELECT line_number::int AS line, err_code, trim(err_reason) AS reason FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY line_number`);
    expect(errs.map((e) => [e.line, e.err_code])).toEqual([
      [3, 1204],
      [5, 1224],
      [6, 1224],
      [7, 1224],
    ]);
    expect(errs[1]!.reason).toMatch(/nest/i);
    expect(errs[2]!.reason).toMatch(/duplicate/i);
  });
});
