import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetryableConflict } from '../../src/sync/load.js';
import { freshDatabase } from '../helpers/stack.js';
import { auth, client, errorOf, prefix, put, rows } from '../../packages/redshift-double/test/helpers.js';

/**
 * Isolation (c_serial_isolation.html, r_BEGIN.html, r_CREATE_DATABASE.html,
 * r_STV_DB_ISOLATION_LEVEL.html, r_SVV_REDSHIFT_DATABASES.html) and the Serverless flavour
 * (SYS_LOAD_HISTORY.html, SYS_LOAD_ERROR_DETAIL.html).
 */

/** The AWS example of a write skew: each transaction reads the table the other writes. */
async function writeSkew(a: pg.Client, b: pg.Client): Promise<Array<Error | null>> {
  await a.query('BEGIN');
  await b.query('BEGIN');
  await a.query('SELECT count(*) FROM tab1');
  await a.query('INSERT INTO tab2 VALUES (1)');
  await b.query('SELECT count(*) FROM tab2');
  const out: Array<Error | null> = [];
  for (const [cl, sql] of [
    [b, 'INSERT INTO tab1 VALUES (1)'],
    [a, 'COMMIT'],
    [b, 'COMMIT'],
  ] as const) {
    try {
      await cl.query(sql);
      out.push(null);
    } catch (e) {
      out.push(e as Error);
      await cl.query('ROLLBACK').catch(() => undefined);
    }
  }
  return out;
}

describe('Redshift double: serializable isolation (provisioned)', () => {
  let a: pg.Client;
  let b: pg.Client;
  let url: string;

  beforeAll(async () => {
    url = (await freshDatabase('iso')).redshiftUrl;
    a = await client(url);
    b = await client(url);
    await a.query('CREATE TABLE tab1 (id int)');
    await a.query('CREATE TABLE tab2 (id int)');
  });
  afterAll(async () => {
    await a.end();
    await b.end();
  });

  it("two transactions that read what the other writes: one fails with Redshift's 1023", async () => {
    const errs = (await writeSkew(a, b)).filter((e): e is Error => e !== null);
    expect(errs).toHaveLength(1);
    const e = errs[0] as pg.DatabaseError;
    expect(e.message).toBe('1023');
    expect(e.detail).toMatch(/^Serializable isolation violation on table - \d+, transactions forming the cycle are: .* \(pid:\d+\)$/);
    expect(e.code).toBe('40001');
    expect(isRetryableConflict(e)).toBe(true);
    // exactly one of the two transactions' writes survived
    expect(await rows(a, 'SELECT ((SELECT count(*) FROM tab1) + (SELECT count(*) FROM tab2))::int AS n')).toEqual([{ n: 1 }]);
  });

  it('LOCK taken first serializes them: no error, the second sees the first', async () => {
    await a.query('TRUNCATE tab1');
    await a.query('TRUNCATE tab2');
    await a.query('BEGIN');
    await a.query('LOCK tab1, tab2');
    await b.query('BEGIN');
    const bLock = b.query('LOCK tab1, tab2'); // waits for a
    await a.query('SELECT count(*) FROM tab1');
    await a.query('INSERT INTO tab2 VALUES (1)');
    await a.query('COMMIT');
    await bLock;
    expect(await rows(b, 'SELECT count(*)::int AS n FROM tab2')).toEqual([{ n: 1 }]);
    await b.query('INSERT INTO tab1 VALUES (1)');
    await b.query('COMMIT');
    expect(await rows(a, 'SELECT (SELECT count(*) FROM tab1)::int AS t1, (SELECT count(*) FROM tab2)::int AS t2')).toEqual([{ t1: 1, t2: 1 }]);
  });

  it("the snapshot starts at the transaction's first statement, not at BEGIN", async () => {
    await a.query('BEGIN');
    await b.query('INSERT INTO tab1 VALUES (2)');
    expect(await rows(a, 'SELECT count(*)::int AS n FROM tab1')).toEqual([{ n: 2 }]);
    await b.query('INSERT INTO tab1 VALUES (3)');
    expect(await rows(a, 'SELECT count(*)::int AS n FROM tab1')).toEqual([{ n: 2 }]);
    await a.query('COMMIT');
  });

  it('BEGIN ISOLATION LEVEL READ COMMITTED still runs serializable (r_BEGIN.html); stv_db_isolation_level and svv_redshift_databases say so', async () => {
    await a.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    expect(await rows(a, 'SHOW transaction_isolation')).toEqual([{ transaction_isolation: 'serializable' }]);
    await a.query('COMMIT');
    await a.query('START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ WRITE');
    expect(await rows(a, 'SHOW transaction_isolation')).toEqual([{ transaction_isolation: 'serializable' }]);
    await a.query('COMMIT');
    const db = new URL(url).pathname.slice(1);
    expect(await rows(a, `SELECT trim(db_name) AS db, trim(isolation_level) AS level FROM stv_db_isolation_level WHERE trim(db_name) = $1`, [db])).toEqual([{ db, level: 'Serializable' }]);
    expect(await rows(a, `SELECT database_name, database_isolation_level FROM svv_redshift_databases WHERE database_name = $1`, [db])).toEqual([
      { database_name: db, database_isolation_level: 'Serializable' },
    ]);
  });

  it('CREATE DATABASE ... ISOLATION LEVEL SNAPSHOT: that database runs snapshot isolation', async () => {
    const name = `snap_${Math.random().toString(16).slice(2, 10)}`;
    await a.query(`CREATE DATABASE ${name} ISOLATION LEVEL SNAPSHOT`);
    const u = new URL(url);
    u.pathname = `/${name}`;
    const s = await client(u.toString());
    try {
      await s.query('BEGIN');
      expect(await rows(s, 'SHOW transaction_isolation')).toEqual([{ transaction_isolation: 'repeatable read' }]);
      await s.query('COMMIT');
      expect(await rows(s, `SELECT trim(isolation_level) AS level FROM stv_db_isolation_level WHERE trim(db_name) = $1`, [name])).toEqual([{ level: 'Snapshot Isolation' }]);
    } finally {
      await s.end();
    }
  });

  it('the provisioned double has the SYS load views as well as the STL ones', async () => {
    await a.query('CREATE TABLE ld (id int, s varchar(2))');
    const key = await put(`${prefix('prov-sys')}d.csv`, '1,ok\n2,long\n');
    await errorOf(a, `COPY ld FROM '${key}' ${auth()} CSV`);
    expect(await rows(a, `SELECT count(*)::int AS n FROM stl_load_errors WHERE query = pg_last_copy_id()`)).toEqual([{ n: 1 }]);
    expect(await rows(a, `SELECT count(*)::int AS n FROM sys_load_error_detail WHERE query_id = pg_last_copy_id()`)).toEqual([{ n: 1 }]);
    expect(await rows(a, `SELECT status, table_name, loaded_rows::int, error_count::int FROM sys_load_history WHERE query_id = pg_last_copy_id()`)).toEqual([
      { status: 'aborted', table_name: 'ld', loaded_rows: 0, error_count: 1 },
    ]);
  });
});

describe('Redshift double: the Serverless flavour', () => {
  let a: pg.Client;
  let b: pg.Client;

  beforeAll(async () => {
    const db = await freshDatabase('sls');
    a = await client(db.serverlessUrl);
    b = await client(db.serverlessUrl);
    await a.query('CREATE TABLE tab1 (id int)');
    await a.query('CREATE TABLE tab2 (id int)');
  });
  afterAll(async () => {
    await a.end();
    await b.end();
  });

  it('defaults to SNAPSHOT isolation: write skew commits, two writers of one row fail with 1023', async () => {
    await a.query('BEGIN');
    expect(await rows(a, 'SHOW transaction_isolation')).toEqual([{ transaction_isolation: 'repeatable read' }]);
    await a.query('COMMIT');
    expect(await writeSkew(a, b)).toEqual([null, null, null]);
    await a.query('INSERT INTO tab1 VALUES (10)');
    await a.query('BEGIN');
    await b.query('BEGIN');
    await a.query('SELECT 1 FROM tab1');
    await b.query('UPDATE tab1 SET id = 11 WHERE id = 10');
    await b.query('COMMIT');
    const e = await errorOf(a, 'UPDATE tab1 SET id = 12 WHERE id = 10');
    await a.query('ROLLBACK');
    expect(e.message).toBe('1023');
    expect(isRetryableConflict(e)).toBe(true);
    const db = (await rows<{ db: string }>(a, 'SELECT current_database() AS db'))[0]!.db;
    expect(await rows(a, `SELECT trim(isolation_level) AS level FROM stv_db_isolation_level WHERE trim(db_name) = $1`, [db])).toEqual([{ level: 'Snapshot Isolation' }]);
  });

  it("STL load views do not show its loads; sys_load_history and sys_load_error_detail do, with the guide's columns", async () => {
    await a.query('CREATE TABLE ld (id int, s varchar(2))');
    const p = prefix('sls-sys');
    const good = await put(`${p}good.csv`, '1,ok\n2,no\n');
    await a.query(`COPY ld FROM '${good}' ${auth()} CSV`);
    const goodId = Number((await rows<{ id: number }>(a, 'SELECT pg_last_copy_id() AS id'))[0]!.id);
    const bad = await put(`${p}bad.csv`, '1,ok\n2,long\n');
    await errorOf(a, `COPY ld FROM '${bad}' ${auth()} CSV`);
    const badId = Number((await rows<{ id: number }>(a, 'SELECT pg_last_copy_id() AS id'))[0]!.id);
    expect(await rows(a, `SELECT count(*)::int AS n FROM stl_load_errors WHERE query IN (${goodId}, ${badId})`)).toEqual([{ n: 0 }]);
    expect(await rows(a, `SELECT count(*)::int AS n FROM stl_load_commits WHERE query IN (${goodId}, ${badId})`)).toEqual([{ n: 0 }]);
    const hist = await rows(
      a,
      `SELECT query_id::int, status, table_name, database_name = current_database() AS same_db, data_source, file_format, loaded_rows::int, source_file_count,
              file_count_scanned, error_count::int, copy_job_id::int, start_time <= end_time AS ordered, duration >= 0 AS timed, session_id > 0 AS has_session, transaction_id > 0 AS has_tx
       FROM sys_load_history WHERE query_id IN (${goodId}, ${badId}) ORDER BY query_id`,
    );
    expect(hist).toEqual([
      { query_id: goodId, status: 'completed', table_name: 'ld', same_db: true, data_source: good, file_format: 'csv', loaded_rows: 2, source_file_count: 1, file_count_scanned: 1, error_count: 0, copy_job_id: 0, ordered: true, timed: true, has_session: true, has_tx: true },
      { query_id: badId, status: 'aborted', table_name: 'ld', same_db: true, data_source: bad, file_format: 'csv', loaded_rows: 0, source_file_count: 1, file_count_scanned: 1, error_count: 1, copy_job_id: 0, ordered: true, timed: true, has_session: true, has_tx: true },
    ]);
    const [detail] = await rows(
      a,
      `SELECT query_id::int, trim(file_name) AS file_name, line_number::int, trim(column_name) AS column_name, trim(column_type) AS column_type,
              trim(column_length) AS column_length, error_code, trim(error_message) AS error_message, database_name = current_database() AS same_db
       FROM sys_load_error_detail WHERE query_id = ${badId}`,
    );
    expect(detail).toEqual({
      query_id: badId,
      file_name: bad,
      line_number: 2,
      column_name: 's',
      column_type: 'varchar',
      column_length: '2',
      error_code: 1204,
      error_message: 'String length exceeds DDL length',
      same_db: true,
    });
  });
});
