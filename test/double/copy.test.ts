import { Encoder } from '@toondepauw/node-zstd';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFromManifest } from '../../src/redshift/sql.js';
import { CSV_NULL } from '../../src/redshift/csv.js';
import type { LoadErrorRow as LoadError } from '../../src/sync/load.js';
import { auth, bucket, client, connect, errorOf, prefix, put, rows, sendCancel, waitFor } from '../../packages/redshift-double/test/helpers.js';

/**
 * A common dialect that is not the loader's: gzip CSV with Redshift's default NULL string
 * \N (the loader sends ZSTD and its own sentinel: see the test of the loader's own COPY).
 */
const GZIP_CSV_OPTS = `MANIFEST GZIP CSV QUOTE AS '"' DELIMITER AS ',' NULL AS '\\\\N' TIMEFORMAT 'auto' DATEFORMAT 'auto' COMPUPDATE OFF STATUPDATE OFF`;

async function manifest(pfx: string, files: Array<{ key: string; mandatory?: boolean }>): Promise<string> {
  const body = JSON.stringify({ entries: files.map((f) => ({ url: `s3://${bucket()}/${f.key}`, mandatory: f.mandatory ?? true })) });
  return put(`${pfx}manifest.json`, body);
}


const LOAD_ERRORS = `SELECT trim(filename) AS filename, line_number::int, trim(colname) AS colname, trim(type) AS type,
  trim(raw_field_value) AS raw_field_value, err_code, trim(err_reason) AS err_reason
  FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY line_number`;

describe('Redshift double: COPY from S3', () => {
  let c: pg.Client;
  let url: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ c, url, close } = await connect('copy'));
  });
  afterAll(async () => {
    await close();
  });

  it('loads the statement the loader builds (copyFromManifest: ZSTD, FORCE_QUOTE CSV, the NULL sentinel), files written by Postgres COPY TO in the same dialect', async () => {
    await c.query('CREATE TABLE loaderfmt (id int, note varchar(20), raw varchar(20), at timestamptz, n numeric(6,2))');
    const p = prefix('loaderfmt');
    // What `copyToStdoutSql` writes: every value quoted, NULL as the bare sentinel.
    const csv = `"1","",__RL_NULL__,"2024-06-01 12:00:00.123456+05:30","1.50"\n"2","\\N","${CSV_NULL}","1970-01-01 00:00:00+00",__RL_NULL__\n`;
    const key = `${p}part-00001.csv.zst`;
    await put(key, Buffer.from(await new Encoder(1).encode(Buffer.from(csv))));
    const m = await manifest(p, [{ key }]);
    const copy = copyFromManifest({ table: { name: 'loaderfmt', temp: true }, columns: ['id', 'note', 'raw', 'at', 'n'], manifestUrl: m, auth: { iamRole: 'arn:aws:iam::123456789012:role/r' }, compression: { format: 'zstd', level: 1 } });
    expect(copy).toContain(`MANIFEST ZSTD CSV QUOTE AS '"' DELIMITER AS ',' NULL AS '${CSV_NULL}'`);
    await c.query(copy);
    expect(await rows(c, 'SELECT pg_last_copy_count()')).toEqual([{ pg_last_copy_count: '2' }]);
    expect(await rows(c, `SELECT id, note, raw, at::text AS at, n::text AS n FROM loaderfmt ORDER BY id`)).toEqual([
      { id: 1, note: '', raw: null, at: '2024-06-01 06:30:00.123456+00', n: '1.50' },
      // A quoted "\N" is text; a quoted sentinel reads as NULL (README: the one value that cannot travel).
      { id: 2, note: '\\N', raw: null, at: '1970-01-01 00:00:00+00', n: null },
    ]);
  });

  it('loads a gzip CSV manifest with \\N as NULL (a common dialect, not the loader\'s), and reports pg_last_copy_count()', async () => {
    await c.query('CREATE TABLE people (id int, name varchar(20), note varchar(20), born date, seen timestamp, score numeric(6,2), ok boolean)');
    const p = prefix('loader');
    await put(`${p}part-0000.csv.gz`, '1,"Ann",\\N,2001-02-03,2020-01-02 03:04:05.123456,12.5,t\n2,"Bob","",\\N,\\N,\\N,false\n', { gzip: true });
    await put(`${p}part-0001.csv.gz`, '3,"Cé","x",03/04/2005,2020-01-02T03:04:05Z,-1,1\n', { gzip: true });
    const m = await manifest(p, [{ key: `${p}part-0000.csv.gz` }, { key: `${p}part-0001.csv.gz` }]);
    const r = await c.query(`COPY people (id, name, note, born, seen, score, ok) FROM '${m}' ${auth()} ${GZIP_CSV_OPTS} REGION 'us-east-1'`);
    expect(r.command).toBe('COPY');
    expect(await rows(c, 'SELECT pg_last_copy_count()')).toEqual([{ pg_last_copy_count: '3' }]);
    const got = await rows(c, `SELECT id, name, note, born::text, seen::text, score::text, ok FROM people ORDER BY id`);
    expect(got).toEqual([
      { id: 1, name: 'Ann', note: null, born: '2001-02-03', seen: '2020-01-02 03:04:05.123456', score: '12.50', ok: true },
      { id: 2, name: 'Bob', note: '', born: null, seen: null, score: null, ok: false },
      { id: 3, name: 'Cé', note: 'x', born: '2005-03-04', seen: '2020-01-02 03:04:05', score: '-1.00', ok: true },
    ]);
  });

  it('ZSTD: a file of several zstd frames loads every row; GZIP with ZSTD is refused; a file that is not zstd fails with 1216', async () => {
    await c.query('CREATE TABLE zs (id int, note varchar(20))');
    const p = prefix('zstd');
    // Two frames in one file, split inside a record, as the loader writes files over 8 MiB.
    const text = Array.from({ length: 1000 }, (_, i) => `${i + 1},"n${i % 7}"\n`).join('');
    const enc = new Encoder(1);
    const cut = text.length / 2 + 3;
    const body = Buffer.concat([await enc.encode(Buffer.from(text.slice(0, cut))), await enc.encode(Buffer.from(text.slice(cut)))]);
    await put(`${p}part-00001.csv.zst`, body);
    const m = await manifest(p, [{ key: `${p}part-00001.csv.zst` }]);
    await c.query(`COPY zs (id, note) FROM '${m}' ${auth()} ${GZIP_CSV_OPTS.replace('GZIP', 'ZSTD')}`);
    expect(await rows(c, 'SELECT pg_last_copy_count()')).toEqual([{ pg_last_copy_count: '1000' }]);
    expect(await rows(c, `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, max(id) AS top FROM zs`)).toEqual([{ n: 1000, ids: 1000, top: 1000 }]);
    expect((await errorOf(c, `COPY zs FROM '${m}' ${auth()} MANIFEST GZIP ZSTD CSV`)).message).toBe('conflicting or redundant options: COMPRESSION');
    const plain = await put(`${p}plain.csv`, '1,"x"\n');
    const e = await errorOf(c, `COPY zs FROM '${plain}' ${auth()} ZSTD CSV`);
    expect(e.message).toBe("Load into table 'zs' failed.  Check 'stl_load_errors' system table for details.");
    const errs = await rows<LoadError>(c, LOAD_ERRORS);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ filename: plain, err_code: 1216 });
    expect(errs[0]!.err_reason).toMatch(/^zstd: /);
  });

  it('NULL vs empty string through CSV: unquoted empty, quoted empty, \\N and quoted "\\N"', async () => {
    await c.query('CREATE TABLE nulls (id int, a varchar(5), b varchar(5), c varchar(5), d varchar(5), n int)');
    const p = prefix('nulls');
    const key = await put(`${p}data.csv`, '1,,"",\\N,"\\N",\n');
    await c.query(`COPY nulls FROM '${key}' ${auth()} CSV`);
    expect(await rows(c, 'SELECT a, b, c, d, n FROM nulls')).toEqual([{ a: '', b: '', c: null, d: null, n: null }]);
    await c.query('TRUNCATE nulls');
    await c.query(`COPY nulls FROM '${key}' ${auth()} CSV EMPTYASNULL`);
    expect(await rows(c, 'SELECT a, b, c, d, n FROM nulls')).toEqual([{ a: null, b: '', c: null, d: null, n: null }]);
    await c.query('TRUNCATE nulls');
    const blanks = await put(`${p}blanks.csv`, '2,  ,"  ",x,y,\n');
    await c.query(`COPY nulls FROM '${blanks}' ${auth()} CSV BLANKSASNULL`);
    expect(await rows(c, 'SELECT a, b FROM nulls')).toEqual([{ a: null, b: '  ' }]);
    await c.query('TRUNCATE nulls');
    const custom = await put(`${p}custom.csv`, '3,NULL,,x,y,\n');
    await c.query(`COPY nulls FROM '${custom}' ${auth()} CSV NULL AS 'NULL'`);
    expect(await rows(c, 'SELECT a, b FROM nulls')).toEqual([{ a: null, b: '' }]);
  });

  it('loads a quoted multi-line field with embedded quotes and delimiters', async () => {
    await c.query('CREATE TABLE ml (id int, body varchar(100))');
    const p = prefix('multiline');
    const key = await put(`${p}data.csv`, '1,"first line\nsecond, with ""quotes"""\n2,plain\n');
    await c.query(`COPY ml FROM '${key}' ${auth()} CSV`);
    expect(await rows(c, 'SELECT id, body FROM ml ORDER BY id')).toEqual([
      { id: 1, body: 'first line\nsecond, with "quotes"' },
      { id: 2, body: 'plain' },
    ]);
  });

  it('counts bytes: a 4-byte emoji at the limit loads, one byte over fails with 1204 in stl_load_errors', async () => {
    await c.query('CREATE TABLE emoji (id int, s varchar(8))');
    const p = prefix('emoji');
    const ok = await put(`${p}ok.csv`, '1,😀😀\n2,éééé\n');
    await c.query(`COPY emoji FROM '${ok}' ${auth()} CSV`);
    expect(await rows(c, 'SELECT s, octet_length(s) AS n FROM emoji ORDER BY id')).toEqual([
      { s: '😀😀', n: 8 },
      { s: 'éééé', n: 8 },
    ]);
    const bad = await put(`${p}bad.csv`, '3,fine\n4,😀😀a\n');
    const e = await errorOf(c, `COPY emoji FROM '${bad}' ${auth()} CSV`);
    expect(e.message).toBe("Load into table 'emoji' failed.  Check 'stl_load_errors' system table for details.");
    expect(e.code).toBe('XX000');
    expect(await rows<LoadError>(c, LOAD_ERRORS)).toEqual([
      { filename: bad, line_number: 2, colname: 's', type: 'varchar', raw_field_value: '😀😀a', err_code: 1204, err_reason: 'String length exceeds DDL length' },
    ]);
    expect(await rows(c, 'SELECT pg_last_copy_count()')).toEqual([{ pg_last_copy_count: '0' }]);
    expect(await rows(c, 'SELECT count(*)::int AS n FROM emoji')).toEqual([{ n: 2 }]);
    // TRUNCATECOLUMNS cuts by bytes on a character boundary
    await c.query(`COPY emoji FROM '${bad}' ${auth()} CSV TRUNCATECOLUMNS`);
    expect(await rows(c, 'SELECT s FROM emoji WHERE id = 4')).toEqual([{ s: '😀😀' }]);
  });

  it('ROLLBACK undoes a COPY; the failed COPY\'s stl_load_errors rows survive the ROLLBACK', async () => {
    await c.query('CREATE TABLE txn (id int, s varchar(3))');
    const p = prefix('txn');
    const good = await put(`${p}good.csv`, '1,a\n2,b\n');
    const bad = await put(`${p}bad.csv`, '3,toolong\n');
    const other = await client(url);
    try {
      await c.query('BEGIN');
      await c.query(`COPY txn FROM '${good}' ${auth()} CSV`);
      expect(await rows(c, 'SELECT count(*)::int AS n FROM txn')).toEqual([{ n: 2 }]);
      expect(await rows(other, 'SELECT count(*)::int AS n FROM txn')).toEqual([{ n: 0 }]); // inside the client's transaction
      const e = await errorOf(c, `COPY txn FROM '${bad}' ${auth()} CSV`);
      expect(e.message).toMatch(/^Load into table 'txn' failed/);
      expect((await errorOf(c, 'SELECT 1')).message).toMatch(/current transaction is aborted/);
      await c.query('ROLLBACK');
      expect(await rows(c, 'SELECT count(*)::int AS n FROM txn')).toEqual([{ n: 0 }]);
      const errs = await rows<LoadError>(c, LOAD_ERRORS);
      expect(errs).toHaveLength(1);
      expect(errs[0]).toMatchObject({ colname: 's', raw_field_value: 'toolong', err_code: 1204 });
      expect(await rows(other, `SELECT count(*)::int AS n FROM stl_load_errors WHERE trim(filename) = $1`, [bad])).toEqual([{ n: 1 }]);
    } finally {
      await other.end();
    }
  });

  it('an unknown or unimplemented COPY option is an error, never ignored', async () => {
    await c.query('CREATE TABLE opts (id int)');
    const key = await put(`${prefix('opts')}d.csv`, '1\n');
    expect((await errorOf(c, `COPY opts FROM '${key}' ${auth()} CSV FROBNICATE`)).message).toBe('syntax error at or near "FROBNICATE"');
    expect((await errorOf(c, `COPY opts FROM '${key}' ${auth()} FORMAT AS AVRO 'auto'`)).message).toMatch(/not implemented by the Redshift double/);
    expect((await errorOf(c, `COPY opts FROM '${key}' ${auth()} BZIP2`)).message).toMatch(/BZIP2 is not implemented/);
    expect((await errorOf(c, `COPY opts FROM '${key}' ${auth()} CSV DATEFORMAT 'DD.MM.YYYY'`)).message).toMatch(/not implemented/);
    expect((await errorOf(c, `COPY opts FROM '${key}' CSV`)).message).toMatch(/requires authorization/);
    expect((await errorOf(c, `COPY opts FROM '${key}' IAM_ROLE 'not-an-arn' CSV`)).message).toMatch(/Invalid IAM_ROLE/);
    expect((await errorOf(c, `COPY opts FROM STDIN`)).message).toBe('COPY FROM STDIN is not supported.');
    expect((await errorOf(c, `COPY opts TO STDOUT`)).message).toMatch(/not supported/);
    expect(await rows(c, 'SELECT count(*)::int AS n FROM opts')).toEqual([{ n: 0 }]);
    await c.query(`COPY opts FROM '${key}' CREDENTIALS 'aws_access_key_id=AKIA;aws_secret_access_key=secret' CSV COMPUPDATE ON STATUPDATE OFF`);
    expect(await rows(c, 'SELECT count(*)::int AS n FROM opts')).toEqual([{ n: 1 }]);
  });

  it('reads every object under a key prefix (part-1 also matches part-10) and fails on an empty prefix', async () => {
    await c.query('CREATE TABLE pfx (id int)');
    const p = prefix('prefix');
    await put(`${p}part-1`, '1\n');
    await put(`${p}part-10`, '10\n');
    await put(`${p}part-2`, '2\n');
    await c.query(`COPY pfx FROM 's3://${bucket()}/${p}part-1' ${auth()} CSV`);
    expect(await rows(c, 'SELECT id FROM pfx ORDER BY id')).toEqual([{ id: 1 }, { id: 10 }]);
    const e = await errorOf(c, `COPY pfx FROM 's3://${bucket()}/${p}nothing' ${auth()} CSV`);
    expect(e.message).toBe(`The specified S3 prefix '${p}nothing' does not exist`);
  });

  it('MANIFEST: a missing mandatory file fails the load, a missing optional one is skipped', async () => {
    await c.query('CREATE TABLE mf (id int)');
    const p = prefix('manifest');
    await put(`${p}a.csv`, '1\n');
    const optional = await manifest(p, [{ key: `${p}a.csv` }, { key: `${p}missing.csv`, mandatory: false }]);
    await c.query(`COPY mf FROM '${optional}' ${auth()} CSV MANIFEST`);
    expect(await rows(c, 'SELECT id FROM mf')).toEqual([{ id: 1 }]);
    const mandatory = await put(`${p}m2.json`, JSON.stringify({ entries: [{ url: `s3://${bucket()}/${p}missing.csv`, mandatory: true }] }));
    expect((await errorOf(c, `COPY mf FROM '${mandatory}' ${auth()} CSV MANIFEST`)).message).toMatch(/mandatory.*missing\.csv/);
    expect((await errorOf(c, `COPY mf FROM 's3://${bucket()}/${p}nope.json' ${auth()} CSV MANIFEST`)).message).toMatch(/manifest/i);
    expect(await rows(c, 'SELECT count(*)::int AS n FROM mf')).toEqual([{ n: 1 }]);
  });

  it('defaults to pipe-delimited text: \\N is NULL, empty is \'\' for VARCHAR and NULL for INT, quotes are data', async () => {
    await c.query('CREATE TABLE txt (id int, a varchar(10), b varchar(10), n int)');
    const key = await put(`${prefix('text')}d.txt`, '1||"q"|\n2|\\N|x,y|7\n');
    await c.query(`COPY txt FROM '${key}' ${auth()}`);
    expect(await rows(c, 'SELECT id, a, b, n FROM txt ORDER BY id')).toEqual([
      { id: 1, a: '', b: '"q"', n: null },
      { id: 2, a: null, b: 'x,y', n: 7 },
    ]);
    await c.query('TRUNCATE txt');
    const tabbed = await put(`${prefix('text')}t.txt`, '3\ta\\|b\tc\t\n');
    await c.query(`COPY txt FROM '${tabbed}' ${auth()} DELIMITER '\\t' ESCAPE`);
    expect(await rows(c, 'SELECT id, a, b, n FROM txt')).toEqual([{ id: 3, a: 'a|b', b: 'c', n: null }]);
  });

  it('IGNOREHEADER, MAXERROR, column-count and type errors with their codes', async () => {
    await c.query('CREATE TABLE me (id int NOT NULL, amount numeric(5,2), d date)');
    const key = await put(`${prefix('maxerror')}d.csv`, 'id,amount,d\n1,1.239,2020-01-01\nx,1,2020-01-01\n3,1,2020-01-01,extra\n4,1\n,1,2020-01-01\n6,123456,2020-01-01\n7,1,2020-02-30\n8,2.5,2020-01-02\n');
    const e = await errorOf(c, `COPY me FROM '${key}' ${auth()} CSV IGNOREHEADER 1 MAXERROR 5`);
    expect(e.message).toMatch(/^Load into table 'me' failed/);
    await c.query(`COPY me FROM '${key}' ${auth()} CSV IGNOREHEADER AS 1 MAXERROR AS 6`);
    expect(await rows(c, 'SELECT pg_last_copy_count()')).toEqual([{ pg_last_copy_count: '2' }]);
    expect(await rows(c, 'SELECT id, amount::text FROM me ORDER BY id')).toEqual([
      { id: 1, amount: '1.23' }, // extra scale digits are truncated, not rounded
      { id: 8, amount: '2.50' },
    ]);
    const errs = await rows<LoadError>(c, LOAD_ERRORS);
    expect(errs.map((r) => [r.line_number, r.colname, r.err_code])).toEqual([
      [3, 'id', 1207],
      [4, '', 1202],
      [5, 'd', 1214],
      [6, 'id', 1213],
      [7, 'amount', 1204],
      [8, 'd', 1205],
    ]);
    await c.query('TRUNCATE me');
    const r = await put(`${prefix('roundec')}d.csv`, '1,1.239,2020-01-01\n');
    await c.query(`COPY me FROM '${r}' ${auth()} CSV ROUNDEC`);
    expect(await rows(c, 'SELECT amount::text FROM me')).toEqual([{ amount: '1.24' }]);
  });

  it('invalid UTF-8 is error 1220 unless ACCEPTINVCHARS replaces it', async () => {
    await c.query('CREATE TABLE inv (id int, s varchar(10))');
    const key = await put(`${prefix('utf8')}d.csv`, Buffer.concat([Buffer.from('1,ab'), Buffer.from([0xff]), Buffer.from('c\n')]));
    await errorOf(c, `COPY inv FROM '${key}' ${auth()} CSV`);
    const [err] = await rows<LoadError>(c, LOAD_ERRORS);
    expect(err).toMatchObject({ err_code: 1220, colname: 's' });
    await c.query(`COPY inv FROM '${key}' ${auth()} CSV ACCEPTINVCHARS`);
    await c.query(`COPY inv FROM '${key}' ${auth()} CSV ACCEPTINVCHARS AS '^'`);
    expect(await rows(c, 'SELECT s FROM inv ORDER BY s')).toEqual([{ s: 'ab?c' }, { s: 'ab^c' }]);
  });

  it("DATEFORMAT/TIMEFORMAT 'auto' accept common forms; the defaults are strict", async () => {
    await c.query('CREATE TABLE dt (d date, ts timestamp, tz timestamptz)');
    const key = await put(`${prefix('dates')}d.csv`, '2020/01/05,2020-01-05T10:11:12.5+02:00,2020-01-05 10:11:12+02\nJan 6 2020,01/06/2020 1:02:03 PM,2020-01-06T00:00:00Z\n');
    expect((await errorOf(c, `COPY dt FROM '${key}' ${auth()} CSV`)).message).toMatch(/failed/);
    await c.query(`COPY dt FROM '${key}' ${auth()} CSV DATEFORMAT 'auto' TIMEFORMAT 'auto'`);
    expect(await rows(c, 'SELECT d::text, ts::text, tz::text FROM dt ORDER BY d')).toEqual([
      { d: '2020-01-05', ts: '2020-01-05 10:11:12.5', tz: '2020-01-05 08:11:12+00' }, // TIMESTAMP drops the offset
      { d: '2020-01-06', ts: '2020-01-06 13:02:03', tz: '2020-01-06 00:00:00+00' },
    ]);
  });

  it('explicit column lists: other columns get defaults and IDENTITY values; NOT NULL without default must be listed', async () => {
    await c.query(`CREATE TABLE cols (id BIGINT IDENTITY(1,1), a varchar(5), b int DEFAULT 42, c int NOT NULL DEFAULT 0)`);
    const key = await put(`${prefix('cols')}d.csv`, 'x\ny\n');
    await c.query(`COPY cols (a) FROM '${key}' ${auth()} CSV`);
    expect(await rows(c, 'SELECT id::int, a, b, c FROM cols ORDER BY id')).toEqual([
      { id: 1, a: 'x', b: 42, c: 0 },
      { id: 2, a: 'y', b: 42, c: 0 },
    ]);
    expect((await errorOf(c, `COPY cols (a, nope) FROM '${key}' ${auth()} CSV`)).message).toBe('column "nope" of relation "cols" does not exist');
    await c.query('CREATE TABLE must (a int NOT NULL, b int)');
    expect((await errorOf(c, `COPY must (b) FROM '${key}' ${auth()} CSV`)).message).toMatch(/NOT NULL column without DEFAULT/);
  });

  it('a COPY inside a transaction is visible to others only after COMMIT', async () => {
    await c.query('CREATE TABLE vis (id int)');
    const key = await put(`${prefix('vis')}d.csv`, '1\n2\n');
    const other = await client(url);
    try {
      await c.query('BEGIN');
      await c.query(`COPY vis FROM '${key}' ${auth()} CSV`);
      expect(await rows(other, 'SELECT count(*)::int AS n FROM vis')).toEqual([{ n: 0 }]);
      await c.query('COMMIT');
      expect(await rows(other, 'SELECT count(*)::int AS n FROM vis')).toEqual([{ n: 2 }]);
    } finally {
      await other.end();
    }
  });

  it('COPY also runs through the extended protocol and in a multi-statement query string', async () => {
    await c.query('CREATE TABLE ext (id int)');
    const key = await put(`${prefix('ext')}d.csv`, '5\n');
    await c.query({ text: `COPY ext FROM '${key}' ${auth()} CSV`, values: [] });
    await c.query({ name: 'copy_named', text: `COPY ext FROM '${key}' ${auth()} CSV` });
    await c.query(`BEGIN; COPY ext FROM '${key}' ${auth()} CSV; COMMIT`);
    expect(await rows(c, 'SELECT count(*)::int AS n FROM ext')).toEqual([{ n: 3 }]);
    expect(await rows(c, 'SELECT pg_last_copy_count() AS n, pg_last_copy_id() > 0 AS has_id')).toEqual([{ n: '1', has_id: true }]);
  });

  it('a CancelRequest stops a COPY the double is running; nothing is loaded', async () => {
    await c.query('CREATE TABLE big (id int, s varchar(10))');
    const body = Array.from({ length: 1000 }, (_, i) => `${i},v${i % 1000}`).join('\n') + '\n';
    const key = await put(`${prefix('cancel')}big.csv`, body);
    // Another session holds the table's lock, so the COPY is running (waiting) for as long
    // as the test needs: the cancel is sent once it is seen waiting, not after a guess.
    const blocker = await client(url);
    const victim = await client(url);
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK big');
      const running = errorOf(victim, `COPY big FROM '${key}' ${auth()} CSV`);
      await waitFor(async () => (await rows<{ n: number }>(c, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE 'COPY%big%' AND datname = current_database()`))[0]!.n > 0);
      await sendCancel(url, victim);
      const e = await running;
      expect(e.code).toBe('57014');
      expect(e.message).toMatch(/cancelled on user's request$/);
      await blocker.query('COMMIT');
      expect(await rows(victim, 'SELECT count(*)::int AS n FROM big')).toEqual([{ n: 0 }]);
    } finally {
      await blocker.end();
      await victim.end();
    }
  });
});
