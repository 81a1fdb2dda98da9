import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, bucket, connect, errorOf, get, list, prefix, put, rows } from './helpers.js';

describe('Redshift double: statements Redshift lacks or treats differently', () => {
  let c: pg.Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ c, close } = await connect('stmts'));
    await c.query('CREATE TABLE t (id int, v varchar(10))');
  });
  afterAll(async () => {
    await close();
  });

  it('rejects INSERT ... ON CONFLICT, RETURNING, CREATE INDEX and CREATE SEQUENCE', async () => {
    expect((await errorOf(c, `INSERT INTO t VALUES (1, 'a') ON CONFLICT DO NOTHING`)).message).toBe('syntax error at or near "ON"');
    expect((await errorOf(c, `INSERT INTO t VALUES (1, 'a') RETURNING id`)).message).toBe('syntax error at or near "RETURNING"');
    expect((await errorOf(c, `UPDATE t SET v = 'b' RETURNING *`)).message).toBe('syntax error at or near "RETURNING"');
    expect((await errorOf(c, `DELETE FROM t WHERE id = $1 RETURNING id`, [1])).message).toBe('syntax error at or near "RETURNING"');
    expect((await errorOf(c, `CREATE INDEX t_idx ON t (id)`)).message).toBe('CREATE INDEX is not supported.');
    expect((await errorOf(c, `CREATE SEQUENCE s1`)).message).toBe('syntax error at or near "SEQUENCE"');
    expect(await rows(c, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 0 }]);
  });

  it('a rejected statement inside a transaction block aborts it, as any Redshift error does', async () => {
    await c.query('BEGIN');
    await c.query(`INSERT INTO t VALUES (1, 'kept?')`);
    await errorOf(c, `INSERT INTO t VALUES (2, 'x') RETURNING id`);
    expect((await errorOf(c, 'SELECT 1')).message).toMatch(/current transaction is aborted/);
    await c.query('ROLLBACK');
    expect(await rows(c, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 0 }]);
  });

  it('TRUNCATE commits the open transaction: a later ROLLBACK undoes nothing', async () => {
    await c.query('CREATE TABLE tr (id int)');
    await c.query('CREATE TABLE tr_other (id int)');
    await c.query('INSERT INTO tr VALUES (1), (2)');
    await c.query('BEGIN');
    await c.query('INSERT INTO tr_other VALUES (9)');
    await c.query('TRUNCATE tr');
    await c.query('ROLLBACK');
    expect(await rows(c, 'SELECT count(*)::int AS n FROM tr')).toEqual([{ n: 0 }]);
    expect(await rows(c, 'SELECT count(*)::int AS n FROM tr_other')).toEqual([{ n: 1 }]); // committed by the TRUNCATE
  });

  it('VACUUM and ALTER TABLE APPEND are refused inside a transaction block', async () => {
    await c.query('CREATE TABLE app_target (id int, v varchar(3))');
    await c.query('CREATE TABLE app_source (id int, v varchar(3))');
    await c.query(`INSERT INTO app_source VALUES (1, 'a'), (2, 'b')`);
    await c.query('BEGIN');
    expect((await errorOf(c, 'VACUUM')).message).toBe('VACUUM cannot run inside a transaction block');
    await c.query('ROLLBACK');
    await c.query('BEGIN');
    expect((await errorOf(c, 'ALTER TABLE app_target APPEND FROM app_source')).message).toBe('ALTER TABLE APPEND cannot run inside a transaction block');
    await c.query('ROLLBACK');
    await c.query('VACUUM');
    await c.query('VACUUM SORT ONLY app_target TO 75 PERCENT');
    await c.query('ALTER TABLE app_target APPEND FROM app_source');
    expect(await rows(c, 'SELECT id, v FROM app_target ORDER BY id')).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
    ]);
    expect(await rows(c, 'SELECT count(*)::int AS n FROM app_source')).toEqual([{ n: 0 }]);
    await c.query('CREATE TABLE app_wide (id int, v varchar(3), extra int)');
    await c.query(`INSERT INTO app_wide VALUES (3, 'c', 1)`);
    expect((await errorOf(c, 'ALTER TABLE app_target APPEND FROM app_wide')).message).toMatch(/IGNOREEXTRA/);
    await c.query('ALTER TABLE app_target APPEND FROM app_wide IGNOREEXTRA');
    expect(await rows(c, 'SELECT count(*)::int AS n FROM app_target')).toEqual([{ n: 3 }]);
  });

  it("MERGE: Redshift's form runs, other Postgres forms are refused", async () => {
    await c.query('CREATE TABLE m_t (id int, v varchar(5))');
    await c.query('CREATE TABLE m_s (id int, v varchar(5))');
    await c.query(`INSERT INTO m_t VALUES (1, 'old'), (2, 'keep')`);
    await c.query(`INSERT INTO m_s VALUES (1, 'new'), (3, 'add')`);
    await c.query(`MERGE INTO m_t USING m_s s ON m_t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)`);
    expect(await rows(c, 'SELECT id, v FROM m_t ORDER BY id')).toEqual([
      { id: 1, v: 'new' },
      { id: 2, v: 'keep' },
      { id: 3, v: 'add' },
    ]);
    expect((await errorOf(c, `MERGE INTO m_t USING m_s s ON m_t.id = s.id WHEN MATCHED THEN DO NOTHING WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)`)).code).toBe('42601');
    expect((await errorOf(c, `MERGE INTO m_t USING m_s s ON m_t.id = s.id WHEN MATCHED AND s.v = 'x' THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)`)).code).toBe('42601');
    expect((await errorOf(c, `MERGE INTO m_t t USING m_s s ON t.id = s.id WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)`)).code).toBe('42601');
    expect((await errorOf(c, `MERGE INTO m_t USING m_s s ON m_t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)`)).code).toBe('42601');
    // REMOVE DUPLICATES: matched target rows (duplicates included) become the source row
    await c.query(`INSERT INTO m_t VALUES (1, 'dup')`);
    await c.query(`UPDATE m_s SET v = 'final' WHERE id = 1`);
    await c.query(`MERGE INTO m_t USING m_s ON m_t.id = m_s.id REMOVE DUPLICATES`);
    expect(await rows(c, 'SELECT id, v FROM m_t ORDER BY id')).toEqual([
      { id: 1, v: 'final' },
      { id: 2, v: 'keep' },
      { id: 3, v: 'add' },
    ]);
  });

  it('LOCK works inside and outside a transaction block', async () => {
    await c.query('LOCK t');
    await c.query('BEGIN');
    await c.query('LOCK TABLE t, tr');
    await c.query('COMMIT');
    expect((await errorOf(c, 'LOCK nope')).message).toBe('relation "nope" does not exist');
    expect(await rows(c, 'SELECT 1 AS ok')).toEqual([{ ok: 1 }]); // the failed LOCK left no transaction open
  });

  it('UNLOAD writes pipe-delimited files, a manifest, GZIP and CSV/JSON formats to S3', async () => {
    await c.query('CREATE TABLE un (id int, name varchar(20), ok boolean)');
    await c.query(`INSERT INTO un VALUES (1, 'a|b', true), (2, NULL, false), (3, 'say "hi", x', NULL)`);
    const p = prefix('unload');
    await c.query(`UNLOAD ('SELECT * FROM un ORDER BY id') TO 's3://${bucket()}/${p}plain_' ${auth()} PARALLEL OFF`);
    expect((await get(`${p}plain_000`)).toString()).toBe('1|a|b|t\n2||f\n3|say "hi", x|\n');
    await c.query(`UNLOAD ('SELECT id, name FROM un WHERE name = ''a|b''') TO 's3://${bucket()}/${p}esc_' ${auth()} PARALLEL OFF ESCAPE ADDQUOTES`);
    expect((await get(`${p}esc_000`)).toString()).toBe('"1"|"a\\|b"\n');
    await c.query(`UNLOAD ('SELECT * FROM un ORDER BY id') TO 's3://${bucket()}/${p}csv_' ${auth()} FORMAT CSV HEADER GZIP MANIFEST`);
    expect(await list(`${p}csv_`)).toEqual([`${p}csv_0000_part_00.gz`, `${p}csv_manifest`]);
    expect(gunzipSync(await get(`${p}csv_0000_part_00.gz`)).toString()).toBe('id,name,ok\n1,a|b,t\n2,,f\n3,"say ""hi"", x",\n');
    expect(JSON.parse((await get(`${p}csv_manifest`)).toString())).toEqual({ entries: [{ url: `s3://${bucket()}/${p}csv_0000_part_00.gz` }] });
    await c.query(`UNLOAD ('SELECT * FROM un ORDER BY id') TO 's3://${bucket()}/${p}json_' ${auth()} FORMAT JSON PARALLEL OFF`);
    expect((await get(`${p}json_000`)).toString().trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { id: 1, name: 'a|b', ok: true },
      { id: 2, name: null, ok: false },
      { id: 3, name: 'say "hi", x', ok: null },
    ]);
    const e = await errorOf(c, `UNLOAD ('SELECT 1') TO 's3://${bucket()}/${p}plain_' ${auth()} PARALLEL OFF`);
    expect(e.message).toMatch(/^Specified unload destination on S3 is not empty/);
    await c.query(`UNLOAD ('SELECT 42') TO 's3://${bucket()}/${p}plain_' ${auth()} PARALLEL OFF ALLOWOVERWRITE`);
    expect((await get(`${p}plain_000`)).toString()).toBe('42\n');
    expect((await errorOf(c, `UNLOAD ('SELECT 1') TO 's3://${bucket()}/${p}x_' ${auth()} FORMAT PARQUET`)).message).toMatch(/not implemented/);
    expect((await errorOf(c, `UNLOAD ('SELECT 1') TO 's3://${bucket()}/${p}x_'`)).message).toMatch(/requires authorization/);
  });

  it('UNLOAD output loads back with COPY', async () => {
    await c.query('CREATE TABLE rt_src (id int, s varchar(20))');
    await c.query(`INSERT INTO rt_src VALUES (1, 'x,y'), (2, ''), (3, NULL)`);
    const p = prefix('roundtrip');
    await c.query(`UNLOAD ('SELECT * FROM rt_src') TO 's3://${bucket()}/${p}' ${auth()} FORMAT CSV NULL AS '\\\\N' MANIFEST`);
    await c.query('CREATE TABLE rt_dst (LIKE rt_src)');
    await c.query(`COPY rt_dst FROM 's3://${bucket()}/${p}manifest' ${auth()} CSV MANIFEST`);
    expect(await rows(c, 'SELECT id, s FROM rt_dst ORDER BY id')).toEqual([
      { id: 1, s: 'x,y' },
      { id: 2, s: '' },
      { id: 3, s: null },
    ]);
  });
});
