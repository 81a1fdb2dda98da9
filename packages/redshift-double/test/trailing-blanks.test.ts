import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackEnv } from './stack.js';
import { auth, client, connect, prefix, put, rows } from './helpers.js';

/**
 * r_Character_types.html, "Significance of trailing blanks": trailing blanks in VARCHAR and
 * CHAR values are insignificant when values are compared, yet the stored value keeps them.
 */
describe('Redshift double: trailing blanks in VARCHAR and CHAR comparisons', () => {
  let c: pg.Client;
  let close: () => Promise<void>;
  const n = async (sql: string) => Number((await rows<{ n: string | number }>(c, sql))[0]!.n);

  beforeAll(async () => {
    ({ c, close } = await connect('blanks'));
    await c.query('CREATE TABLE t (id int, k varchar(10), ch char(5))');
    await c.query(`INSERT INTO t VALUES (1, 'abc', 'abc'), (2, 'abc  ', 'abc  '), (3, 'abd', 'abd'), (4, 'Abc', 'x')`);
    await c.query('CREATE TABLE u (k varchar(10))');
    await c.query(`INSERT INTO u VALUES ('abc '), ('zzz')`);
  });
  afterAll(async () => {
    await close();
  });

  it('=, <>, <, >= and IN ignore trailing blanks on VARCHAR columns, literals, parameters and expressions', async () => {
    expect(await n(`SELECT count(*) AS n FROM t WHERE k = 'abc'`)).toBe(2);
    expect(await n(`SELECT count(*) AS n FROM t WHERE k = 'abc   '`)).toBe(2);
    expect(await n(`SELECT count(*) AS n FROM t WHERE k <> 'abc'`)).toBe(2);
    expect(await n(`SELECT count(*) AS n FROM t WHERE k < 'abc '`)).toBe(1); // only 'Abc'
    expect(await n(`SELECT count(*) AS n FROM t WHERE k >= 'abc '`)).toBe(3);
    expect(await n(`SELECT count(*) AS n FROM t WHERE k IN ('abc', 'zzz')`)).toBe(2);
    expect((await c.query(`SELECT count(*)::int AS n FROM t WHERE k = $1`, ['abc'])).rows[0].n).toBe(2);
    expect(await n(`SELECT count(*) AS n FROM t WHERE k || '' = 'abc'`)).toBe(2);
    expect(await n(`SELECT count(*) AS n FROM t WHERE lower(k) = 'abc '`)).toBe(3);
    expect(await n(`SELECT count(*) AS n FROM t WHERE CAST(k AS VARCHAR(20)) = CAST('abc' AS VARCHAR(3))`)).toBe(2);
    expect((await rows(c, `SELECT 'abc'::varchar = 'abc  '::varchar AS eq, 'abc' < 'abc ' AS lt`))[0]).toEqual({ eq: true, lt: false });
  });

  it('CHAR columns and CHAR vs VARCHAR compare without trailing blanks', async () => {
    expect(await n(`SELECT count(*) AS n FROM t WHERE ch = 'abc'`)).toBe(2);
    expect(await n(`SELECT count(*) AS n FROM t WHERE ch = k`)).toBe(3);
    expect(await n(`SELECT count(*) AS n FROM t WHERE ch = CAST('abc  ' AS VARCHAR(10))`)).toBe(2);
  });

  it('IN (subquery) and joins match, whatever the join method', async () => {
    expect(await n(`SELECT count(*) AS n FROM t WHERE k IN (SELECT k FROM u)`)).toBe(2);
    const gucs = { 'Hash Join': 'enable_hashjoin', 'Merge Join': 'enable_mergejoin', 'Nested Loop': 'enable_nestloop' };
    for (const [method, keep] of Object.entries(gucs)) {
      for (const guc of Object.values(gucs)) if (guc !== keep) await c.query(`SET ${guc} = off`);
      try {
        for (const on of ['t.k = u.k', 't.ch = u.k']) {
          const plan = (await rows<{ 'QUERY PLAN': string }>(c, `EXPLAIN SELECT count(*) FROM t JOIN u ON ${on}`)).map((r) => r['QUERY PLAN']).join('\n');
          expect(plan).toContain(method);
          expect([method, on, await n(`SELECT count(*) AS n FROM t JOIN u ON ${on}`)]).toEqual([method, on, 2]);
        }
      } finally {
        await c.query('RESET ALL');
      }
    }
  });

  it('GROUP BY, DISTINCT, COUNT(DISTINCT), PARTITION BY and UNION treat them as one value (hash and sort)', async () => {
    for (const agg of ['hash', 'sort']) {
      await c.query(agg === 'hash' ? 'SET enable_sort = off' : 'SET enable_hashagg = off');
      try {
        expect([agg, await n(`SELECT count(*) AS n FROM (SELECT k FROM t GROUP BY k) s`)]).toEqual([agg, 3]);
        expect([agg, await n(`SELECT count(*) AS n FROM (SELECT k || '' AS e FROM t GROUP BY 1) s`)]).toEqual([agg, 3]);
        expect([agg, await n(`SELECT count(*) AS n FROM (SELECT DISTINCT k FROM t) s`)]).toEqual([agg, 3]);
        expect([agg, await n(`SELECT count(DISTINCT k) AS n FROM t`)]).toEqual([agg, 3]);
        expect([agg, await n(`SELECT count(DISTINCT ch) AS n FROM t`)]).toEqual([agg, 3]);
        expect([agg, await n(`SELECT count(*) AS n FROM (SELECT k FROM t UNION SELECT k FROM u) s`)]).toEqual([agg, 4]);
        expect([agg, await n(`SELECT max(c) AS n FROM (SELECT count(*) OVER (PARTITION BY k) AS c FROM t) s`)]).toEqual([agg, 2]);
      } finally {
        await c.query('RESET ALL');
      }
    }
    // the loader's dedupe: one row per key
    const kept = await rows(c, `SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY k ORDER BY id DESC) AS rn FROM t) d WHERE rn = 1 ORDER BY id`);
    expect(kept).toEqual([{ id: 2 }, { id: 3 }, { id: 4 }]);
  });

  it('the stored value keeps its blanks: OCTET_LENGTH, MD5, ||, CAST ... AS VARCHAR, output', async () => {
    const [r] = await rows(
      c,
      `SELECT k, octet_length(k) AS bytes, md5(k) = md5('abc') AS same_md5, k || '|' AS cat,
              md5(CAST(k AS VARCHAR(65535))) AS cast_md5, md5(CAST('abc' AS VARCHAR(65535))) AS plain_md5,
              octet_length(ch) AS ch_bytes, ch
       FROM t WHERE id = 2`,
    );
    expect(r).toMatchObject({ k: 'abc  ', bytes: 5, same_md5: false, cat: 'abc  |', ch_bytes: 5, ch: 'abc  ' });
    expect(r!.cast_md5).not.toBe(r!.plain_md5);
    const [one] = await rows(c, `SELECT md5(CAST(k AS VARCHAR(65535))) AS m FROM (SELECT 'abc '::varchar(10) AS k) s`);
    expect(one!.m).not.toBe(r!.plain_md5);
  });

  it('LEN ignores trailing blanks in CHAR and counts them in VARCHAR (r_LEN.html)', async () => {
    const [r] = await rows(c, `SELECT LEN('cat') AS a, LEN('cat   ') AS b, LEN(CAST('cat   ' AS CHAR(6))) AS len_char, LEN(CAST('cat   ' AS VARCHAR(6))) AS len_varchar`);
    expect(r).toEqual({ a: 3, b: 6, len_char: 3, len_varchar: 6 });
  });

  it('a value longer than the column only by blanks is truncated, not rejected (INSERT, UPDATE, COPY)', async () => {
    await c.query('CREATE TABLE tr (id int, v varchar(4), ch char(3))');
    // 'éé' is 4 bytes: the two blanks are the excess
    await c.query(`INSERT INTO tr VALUES (1, 'éé  ', 'ab    ')`);
    await c.query(`INSERT INTO tr VALUES ($1, $2, $3)`, [2, 'ab      ', 'x ']);
    await c.query(`INSERT INTO tr VALUES (3, 'x', 'y')`);
    await c.query(`UPDATE tr SET v = 'éé' || '   ' WHERE id = 3`);
    const key = await put(`${prefix('blanks')}d.csv`, '4,éé   ,ab   \n');
    await c.query(`COPY tr FROM '${key}' ${auth()} CSV`);
    expect(await rows(c, 'SELECT id, v, octet_length(v) AS bytes, ch FROM tr ORDER BY id')).toEqual([
      { id: 1, v: 'éé', bytes: 4, ch: 'ab ' },
      { id: 2, v: 'ab  ', bytes: 4, ch: 'x  ' },
      { id: 3, v: 'éé', bytes: 4, ch: 'y  ' },
      { id: 4, v: 'éé', bytes: 4, ch: 'ab ' },
    ]);
    // anything but blanks over the limit is still an error
    await expect(c.query(`INSERT INTO tr VALUES (5, 'éé x', 'a')`)).rejects.toThrow('value too long for type character varying(4)');
    // the machinery does not block DROP COLUMN, RENAME or widening the VARCHAR
    await c.query('ALTER TABLE tr DROP COLUMN ch');
    await c.query('ALTER TABLE tr RENAME COLUMN v TO w');
    await c.query('ALTER TABLE tr ALTER COLUMN w TYPE varchar(6)');
    await c.query(`INSERT INTO tr VALUES (6, 'ééé   ')`);
    expect(await rows(c, 'SELECT w, octet_length(w) AS bytes FROM tr WHERE id = 6')).toEqual([{ w: 'ééé', bytes: 6 }]);
  });

  it('refuses to serve a template database (it would hand the changed catalog rows to every new database)', async () => {
    // a template of its own: a session on template1 would block every CREATE DATABASE of the parallel tests
    const name = `tpl_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: stackEnv().STACK_POSTGRES_URL });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name} IS_TEMPLATE true`);
      const url = new URL(`postgres://x:y@${c.host}:${c.port}/${name}`);
      await expect(client(url.toString())).rejects.toThrow(`the Redshift double does not serve template databases ("${name}")`);
    } finally {
      await admin.query(`ALTER DATABASE ${name} IS_TEMPLATE false`).catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    }
  });
});
