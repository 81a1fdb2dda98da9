import { Encoder } from '@toondepauw/node-zstd';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJsonPath } from '../src/copy-json.js';
import { auth, bucket, connect, errorOf, prefix, put, rows } from './helpers.js';

/** COPY ... FORMAT [AS] JSON (copy-parameters-data-format.html, copy-usage_notes-copy-from-json.html, ingest-super.html). */

const LOAD_ERRORS = `SELECT trim(filename) AS filename, line_number::int, trim(colname) AS colname, trim(type) AS type,
  trim(raw_field_value) AS raw_field_value, err_code, trim(err_reason) AS err_reason
  FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY line_number`;

const count = async (c: pg.Client) => (await rows<{ n: string }>(c, 'SELECT pg_last_copy_count() AS n'))[0]!.n;

describe('Redshift double: COPY ... FORMAT JSON', () => {
  let c: pg.Client;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ c, close } = await connect('cjson'));
  });
  afterAll(() => close());

  it("'auto': concatenated objects in any layout, keys matched by name in any order, extra keys ignored, missing and null keys NULL", async () => {
    await c.query(`CREATE TABLE cat_auto (catid SMALLINT, catgroup VARCHAR(10), catname VARCHAR(10), catdesc VARCHAR(50))`);
    const p = prefix('auto');
    // The guide's example (r_COPY_command_examples.html): objects over several lines, two on one line `}{`, a bogus key.
    const url = await put(
      `${p}category_object_auto.json`,
      `{\n  "catdesc": "Major League Baseball",\n  "catid": 1,\n  "catgroup": "Sports",\n  "catname": "MLB"\n}\n` +
        `{"catgroup": "Sports", "catid": 2, "catname": "NHL", "catdesc": "National Hockey League"}{"catid": 3, "catname": "NFL", "catgroup": "Sports", "catdesc": null}\n` +
        `{"bogus": "Bogus Sports LLC", "catid": 4, "catgroup": "Sports", "catname": "NBA"}\n`,
    );
    await c.query(`COPY cat_auto FROM '${url}' ${auth()} FORMAT AS JSON 'auto'`);
    expect(await count(c)).toBe('4');
    expect(await rows(c, 'SELECT * FROM cat_auto ORDER BY catid')).toEqual([
      { catid: 1, catgroup: 'Sports', catname: 'MLB', catdesc: 'Major League Baseball' },
      { catid: 2, catgroup: 'Sports', catname: 'NHL', catdesc: 'National Hockey League' },
      { catid: 3, catgroup: 'Sports', catname: 'NFL', catdesc: null },
      { catid: 4, catgroup: 'Sports', catname: 'NBA', catdesc: null },
    ]);
    // `json 'auto'` without FORMAT, and JSON with no argument ('auto' is the default).
    await c.query(`COPY cat_auto FROM '${url}' ${auth()} json 'auto'`);
    await c.query(`COPY cat_auto FROM '${url}' ${auth()} FORMAT JSON`);
    expect(await rows(c, 'SELECT count(*)::int AS n FROM cat_auto')).toEqual([{ n: 12 }]);
  });

  it("'auto' matches keys case-sensitively; 'auto ignorecase' does not", async () => {
    await c.query(`CREATE TABLE cat_case (catid SMALLINT, catname VARCHAR(10))`);
    const url = await put(`${prefix('case')}cat.json`, `{"CatID": 1, "CatName": "MLB"}\n{"catid": 2, "CATNAME": "NHL"}\n`);
    await c.query(`COPY cat_case FROM '${url}' ${auth()} JSON 'auto'`);
    expect(await rows(c, 'SELECT * FROM cat_case ORDER BY catid NULLS FIRST')).toEqual([{ catid: null, catname: null }, { catid: 2, catname: null }]);
    await c.query('TRUNCATE cat_case');
    await c.query(`COPY cat_case FROM '${url}' ${auth()} FORMAT AS JSON 'auto ignorecase'`);
    expect(await rows(c, 'SELECT * FROM cat_case ORDER BY catid')).toEqual([{ catid: 1, catname: 'MLB' }, { catid: 2, catname: 'NHL' }]);
  });

  it('values: strings with escapes, digits as written, booleans, nested values as JSON text in VARCHAR and as JSON in SUPER, empty strings, dates and times with auto', async () => {
    await c.query(`CREATE TABLE vals (id INT, s VARCHAR(60), n NUMERIC(38,10), f DOUBLE PRECISION, b BOOLEAN, tags VARCHAR(100), doc SUPER, d DATE, t TIMESTAMP, e VARCHAR(5), i BIGINT)`);
    const url = await put(
      `${prefix('vals')}v.json`,
      [
        `{"id":1,"s":"tab\\there \\"q\\" back\\\\slash \\u00e9 😀\\nnext","n":12345678901234567890.0123456789,"f":1.5e-3,"b":true,` +
          `"tags":["nisi", "culpa"],"doc":{"a":[1,{"b":null}],"c":"x"},"d":"2024/02/29","t":"2024-01-02T03:04:05Z","e":"","i":9223372036854775807}`,
        `{"id":2,"s":"","n":-0.5,"f":0,"b":false,"tags":{"k": "v"},"doc":"just a string","d":"2024-03-01","t":"2024-01-02 03:04:05","e":" ","i":-1}`,
        `{"id":3,"doc":42,"b":"t"}`,
      ].join('\n'),
    );
    await c.query(`COPY vals FROM '${url}' ${auth()} FORMAT JSON 'auto' TIMEFORMAT 'auto' DATEFORMAT 'auto'`);
    const got = await rows(c, `SELECT id, s, n::text AS n, f, b, tags, doc::text AS doc, d::text AS d, t::text AS t, e, i::text AS i FROM vals ORDER BY id`);
    expect(got).toEqual([
      {
        id: 1,
        s: 'tab\there "q" back\\slash é 😀\nnext',
        n: '12345678901234567890.0123456789',
        f: 0.0015,
        b: true,
        tags: '["nisi","culpa"]',
        doc: '{"a": [1, {"b": null}], "c": "x"}',
        d: '2024-02-29',
        t: '2024-01-02 03:04:05',
        e: '',
        i: '9223372036854775807',
      },
      { id: 2, s: '', n: '-0.5000000000', f: 0, b: false, tags: '{"k":"v"}', doc: '"just a string"', d: '2024-03-01', t: '2024-01-02 03:04:05', e: ' ', i: '-1' },
      { id: 3, s: null, n: null, f: null, b: true, tags: null, doc: '42', d: null, t: null, e: null, i: null },
    ]);
    // SUPER keeps the type of each value.
    expect(await rows(c, `SELECT jsonb_typeof(doc) AS k FROM vals ORDER BY id`)).toEqual([{ k: 'object' }, { k: 'string' }, { k: 'number' }]);
    // EMPTYASNULL and BLANKSASNULL apply to JSON strings in VARCHAR columns.
    await c.query('TRUNCATE vals');
    await c.query(`COPY vals FROM '${url}' ${auth()} FORMAT JSON 'auto' TIMEFORMAT 'auto' DATEFORMAT 'auto' EMPTYASNULL BLANKSASNULL`);
    expect(await rows(c, `SELECT s, e FROM vals WHERE id = 2`)).toEqual([{ s: null, e: null }]);
  });

  it('a JSONPaths file maps elements to columns by position: bracket and dot notation, nested elements, array elements, the whole record with $', async () => {
    await c.query(`CREATE TABLE paths (title VARCHAR(40), id INT, first_loc VARCHAR(10), friend VARCHAR(60), whole SUPER)`);
    const p = prefix('paths');
    const data = await put(
      `${p}data.json`,
      `{"id": 1, "store": {"book": {"title": "Guide"}}, "location": ["here", "there"], "friends": [{"id": 0, "name": "Martha"}, {"id": 1, "name": "Renaldo"}]}\n` +
        `{"location": ["x"], "friends": [{"id": 0}, {"id": 1}], "id": 2}\n`,
    );
    const bracket = await put(`${p}bracket.json`, JSON.stringify({ jsonpaths: ["$['store']['book']['title']", "$['id']", "$['location'][0]", "$['friends'][1]", '$'] }));
    await c.query(`COPY paths FROM '${data}' ${auth()} FORMAT AS JSON '${bracket}'`);
    const dot = await put(`${p}dot.json`, JSON.stringify({ jsonpaths: ['$.store.book.title', '$.id', '$.location[0]', '$.friends[1]', '$'] }));
    await c.query(`COPY paths FROM '${data}' ${auth()} JSON '${dot}'`);
    const got = await rows(c, `SELECT title, id, first_loc, friend, whole->'location' AS loc FROM paths ORDER BY id, title`);
    const want = [
      { title: 'Guide', id: 1, first_loc: 'here', friend: '{"id":1,"name":"Renaldo"}', loc: ['here', 'there'] },
      { title: null, id: 2, first_loc: 'x', friend: '{"id":1}', loc: ['x'] },
    ];
    expect(got).toEqual([want[0], want[0], want[1], want[1]]);
  });

  it('JSON arrays as records need a JSONPaths file; a column list takes the paths in its order', async () => {
    await c.query(`CREATE TABLE arr (catid INT, catgroup VARCHAR(10), catname VARCHAR(10), extra VARCHAR(5) DEFAULT 'dflt')`);
    const p = prefix('arr');
    const data = await put(`${p}a.json`, `[1,"Sports","MLB"]\n[2,"Sports","NHL"]\n`);
    const jp = await put(`${p}jp.json`, JSON.stringify({ jsonpaths: ['$[2]', '$[0]', '$[1]'] }));
    await c.query(`COPY arr (catname, catid, catgroup) FROM '${data}' ${auth()} FORMAT JSON '${jp}'`);
    expect(await rows(c, 'SELECT * FROM arr ORDER BY catid')).toEqual([
      { catid: 1, catgroup: 'Sports', catname: 'MLB', extra: 'dflt' },
      { catid: 2, catgroup: 'Sports', catname: 'NHL', extra: 'dflt' },
    ]);
    // 'auto' cannot map arrays: each one is a load error.
    const e = await errorOf(c, `COPY arr FROM '${data}' ${auth()} FORMAT JSON 'auto'`);
    expect(e.message).toMatch(/Load into table 'arr' failed/);
    expect((await rows(c, LOAD_ERRORS))[0]).toMatchObject({ line_number: 1, err_code: 1216 });
  });

  it('JSONPaths errors fail the whole COPY: count mismatch, index out of range, mixed notations, malformed file, missing file; another key means auto', async () => {
    await c.query(`CREATE TABLE jpe (a INT, b VARCHAR(5))`);
    const p = prefix('jpe');
    const data = await put(`${p}d.json`, `{"a": 1, "b": "x", "arr": [1]}\n`);
    const jp = async (name: string, body: string) => put(`${p}${name}`, body);
    expect((await errorOf(c, `COPY jpe FROM '${data}' ${auth()} JSON '${await jp('one.json', '{"jsonpaths": ["$.a"]}')}'`)).message).toBe(
      'Number of jsonpaths and the number of columns should match. JSONPath size: 1, Number of columns in table or column list: 2',
    );
    expect((await errorOf(c, `COPY jpe FROM '${data}' ${auth()} JSON '${await jp('range.json', '{"jsonpaths": ["$.a", "$.arr[3]"]}')}'`)).message).toBe(
      'Invalid JSONPath format: Not an array or index out of range.',
    );
    expect((await errorOf(c, `COPY jpe FROM '${data}' ${auth()} JSON '${await jp('mixed.json', `{"jsonpaths": ["$.a", "$['b']"]}`)}'`)).message).toMatch(/can't mix bracket notation and dot notation/);
    expect((await errorOf(c, `COPY jpe FROM '${data}' ${auth()} JSON '${await jp('bad.json', '{"jsonpaths": ["$.a", 7]}')}'`)).message).toMatch(/non-empty string/);
    expect((await errorOf(c, `COPY jpe FROM '${data}' ${auth()} JSON '${await jp('two.json', '{"jsonpaths": ["$.a", "$.b"]} {}')}'`)).message).toMatch(/not valid JSON/);
    expect((await errorOf(c, `COPY jpe FROM '${data}' ${auth()} JSON 's3://${bucket()}/${p}missing.json'`)).message).toMatch(/Problem reading JSONPaths file/);
    expect((await errorOf(c, `COPY jpe FROM '${data}' ${auth()} JSON '${await jp('wild.json', '{"jsonpaths": ["$.a", "$.arr[*]"]}')}'`)).message).toMatch(/Invalid JSONPath format/);
    expect(await rows(c, 'SELECT count(*)::int AS n FROM jpe')).toEqual([{ n: 0 }]);
    await c.query(`COPY jpe FROM '${data}' ${auth()} JSON '${await jp('other.json', '{"paths": ["$.b", "$.a"]}')}'`);
    expect(await rows(c, 'SELECT * FROM jpe')).toEqual([{ a: 1, b: 'x' }]);
  });

  it("'noshred' loads each whole document into a single SUPER column, and only into one", async () => {
    await c.query(`CREATE TABLE noshred (rdata SUPER)`);
    const url = await put(`${prefix('noshred')}d.json`, `{"r_regionkey": 0, "r_nations": [{"n_name": "ALGERIA"}]}\n{"r_regionkey": 1}`);
    await c.query(`COPY noshred FROM '${url}' ${auth()} FORMAT JSON 'noshred'`);
    expect(await rows(c, `SELECT rdata->>'r_regionkey' AS k, rdata->'r_nations'->0->>'n_name' AS n FROM noshred ORDER BY 1`)).toEqual([
      { k: '0', n: 'ALGERIA' },
      { k: '1', n: null },
    ]);
    await c.query(`CREATE TABLE shred2 (a SUPER, b INT)`);
    expect((await errorOf(c, `COPY shred2 FROM '${url}' ${auth()} FORMAT JSON 'noshred'`)).message).toMatch(/exactly one column, of type SUPER/);
  });

  it('GZIP and ZSTD files through a MANIFEST; IGNOREHEADER skips lines', async () => {
    await c.query(`CREATE TABLE zj (id INT, v VARCHAR(5))`);
    const p = prefix('zj');
    await put(`${p}a.json.gz`, `{"id": 1, "v": "a"}\n{"id": 2, "v": "b"}\n`, { gzip: true });
    const m = await put(`${p}manifest`, JSON.stringify({ entries: [{ url: `s3://${bucket()}/${p}a.json.gz`, mandatory: true }] }));
    await c.query(`COPY zj FROM '${m}' ${auth()} MANIFEST GZIP FORMAT AS JSON 'auto'`);
    await put(`${p}b.json.zst`, await new Encoder(1).encode(Buffer.from(`header line, not JSON\n{"id": 3, "v": "c"}\n`)));
    await c.query(`COPY zj FROM 's3://${bucket()}/${p}b.json.zst' ${auth()} ZSTD JSON 'auto' IGNOREHEADER 1`);
    expect(await rows(c, 'SELECT * FROM zj ORDER BY id')).toEqual([{ id: 1, v: 'a' }, { id: 2, v: 'b' }, { id: 3, v: 'c' }]);
    expect(await rows(c, `SELECT trim(file_format) AS f FROM stl_load_commits WHERE query = pg_last_copy_id()`)).toEqual([{ f: 'Json' }]);
  });

  it('bad values and bad JSON go to stl_load_errors (file, last line of the object, column, raw value, code); MAXERROR; NOT NULL', async () => {
    await c.query(`CREATE TABLE errs (id INT NOT NULL, n SMALLINT, s VARCHAR(3))`);
    const p = prefix('errs');
    const url = await put(
      `${p}e.json`,
      [
        `{"id": 1, "n": 5, "s": "ok"}`,
        `{"id": 2,`,
        ` "n": "12x",`,
        ` "s": "a"}`,
        `garbage here`,
        `{"id": 3, "n": 70000}`,
        `{"id": 4, "s": "toolong"}`,
        `{"n": 1}`,
        `{"id": 5 "n": 1}`,
        `{"id": 6, "id": 7}`,
        `{"id": 8}`,
      ].join('\n'),
    );
    const e = await errorOf(c, `COPY errs FROM '${url}' ${auth()} FORMAT JSON 'auto'`);
    expect(e.message).toBe("Load into table 'errs' failed.  Check 'stl_load_errors' system table for details.");
    expect(await rows(c, 'SELECT count(*)::int AS n FROM errs')).toEqual([{ n: 0 }]);
    await c.query(`COPY errs FROM '${url}' ${auth()} FORMAT JSON 'auto' MAXERROR 10`);
    expect(await count(c)).toBe('2');
    expect(await rows(c, 'SELECT id FROM errs ORDER BY id')).toEqual([{ id: 1 }, { id: 8 }]);
    const errors = await rows(c, LOAD_ERRORS);
    expect(errors.map((r) => ({ ...r, err_reason: undefined }))).toEqual([
      { filename: url, line_number: 4, colname: 'n', type: 'int2', raw_field_value: '12x', err_code: 1207, err_reason: undefined },
      { filename: url, line_number: 5, colname: '', type: '', raw_field_value: '', err_code: 1216, err_reason: undefined },
      { filename: url, line_number: 6, colname: 'n', type: 'int2', raw_field_value: '70000', err_code: 1222, err_reason: undefined },
      { filename: url, line_number: 7, colname: 's', type: 'varchar', raw_field_value: 'toolong', err_code: 1204, err_reason: undefined },
      { filename: url, line_number: 8, colname: 'id', type: 'int4', raw_field_value: '', err_code: 1213, err_reason: undefined },
      { filename: url, line_number: 9, colname: '', type: '', raw_field_value: '', err_code: 1216, err_reason: undefined },
      { filename: url, line_number: 10, colname: '', type: '', raw_field_value: '', err_code: 1216, err_reason: undefined },
    ]);
    expect(errors[5]!.err_reason).toMatch(/Invalid JSON: expected ',' or '}'/);
    expect(errors[6]!.err_reason).toMatch(/duplicate attribute name "id"/);
  });

  it('options JSON does not support are refused: CSV, DELIMITER, NULL AS, ESCAPE, FILLRECORD, IGNOREBLANKLINES, REMOVEQUOTES; a bad option string too', async () => {
    const url = `s3://${bucket()}/none.json`;
    for (const opt of ['CSV', "DELIMITER ','", "NULL AS 'x'", 'ESCAPE', 'FILLRECORD', 'IGNOREBLANKLINES', 'REMOVEQUOTES']) {
      const e = await errorOf(c, `COPY cat_auto FROM '${url}' ${auth()} FORMAT JSON 'auto' ${opt}`);
      expect(e.message).toMatch(/is not supported with JSON format/);
    }
    expect((await errorOf(c, `COPY cat_auto FROM '${url}' ${auth()} JSON 'automatic'`)).message).toMatch(/Invalid JSON option/);
  });

  it('parses JSONPath expressions as the guide writes them', () => {
    expect(parseJsonPath("$['store']['book']['title']").steps).toEqual([{ key: 'store' }, { key: 'book' }, { key: 'title' }]);
    expect(parseJsonPath('$.location[0]').steps).toEqual([{ key: 'location' }, { index: 0 }]);
    expect(parseJsonPath("$['it\\'s']").steps).toEqual([{ key: "it's" }]);
    expect(parseJsonPath('$').steps).toEqual([]);
    expect(() => parseJsonPath("$.a['b']")).toThrow(/can't mix/);
    expect(() => parseJsonPath('$..a')).toThrow(/Invalid JSONPath/);
    expect(() => parseJsonPath('a.b')).toThrow(/must start with \$/);
  });
});
