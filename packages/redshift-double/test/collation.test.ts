import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackEnv } from './stack.js';
import { client, connect, errorOf, rows } from './helpers.js';

/**
 * Case-insensitive collation (r_CREATE_DATABASE.html, r_CREATE_TABLE_NEW.html, r_COLLATE.html,
 * r_DB_COLLATION.html, r_SVV_COLUMNS.html).
 */
describe('Redshift double: COLLATE CASE_INSENSITIVE', () => {
  let c: pg.Client;
  let url: string;
  let close: () => Promise<void>;
  const n = async (cl: pg.Client, sql: string) => Number((await rows<{ n: string | number }>(cl, sql))[0]!.n);
  const ciDb = `ci_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    ({ c, url, close } = await connect('collate'));
    await c.query(`CREATE TABLE people (ci varchar(20) COLLATE case_insensitive, cs varchar(20) COLLATE case_sensitive, plain varchar(20), ch char(6) COLLATE ci)`);
    await c.query(`INSERT INTO people VALUES ('john', 'john', 'john', 'john'), ('JOHN', 'JOHN', 'JOHN', 'JOHN'), ('John  ', 'John  ', 'John  ', 'Jo')`);
  });
  afterAll(async () => {
    await close();
    const admin = new pg.Client({ connectionString: stackEnv().STACK_POSTGRES_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${ciDb} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  });

  it('a CASE_INSENSITIVE column compares, groups and joins without case (and without trailing blanks); CASE_SENSITIVE and plain columns do not', async () => {
    expect(await n(c, `SELECT count(*) AS n FROM people WHERE ci = 'john'`)).toBe(3);
    expect(await n(c, `SELECT count(*) AS n FROM people WHERE cs = 'john'`)).toBe(1);
    expect(await n(c, `SELECT count(*) AS n FROM people WHERE plain = 'john'`)).toBe(1);
    expect(await n(c, `SELECT count(*) AS n FROM people WHERE ch = 'JO'`)).toBe(1);
    expect(await n(c, `SELECT count(DISTINCT ci) AS n FROM people`)).toBe(1);
    expect(await n(c, `SELECT count(*) AS n FROM (SELECT ci FROM people GROUP BY ci) s`)).toBe(1);
    expect(await n(c, `SELECT count(DISTINCT cs) AS n FROM people`)).toBe(3);
    expect(await n(c, `SELECT count(*) AS n FROM people a JOIN people b ON a.ci = b.ci`)).toBe(9);
    expect(await n(c, `SELECT count(*) AS n FROM people a JOIN people b ON a.cs = b.cs`)).toBe(3);
    expect(await n(c, `SELECT count(*) AS n FROM people WHERE ci IN ('JoHn')`)).toBe(3);
    // the stored value keeps its case
    expect((await rows(c, `SELECT ci FROM people ORDER BY cs`)).map((r) => r.ci)).toEqual(['JOHN', 'John  ', 'john']);
  });

  it('the COLLATE function overrides the collation of an expression (r_COLLATE.html)', async () => {
    expect(await n(c, `SELECT count(*) AS n FROM people WHERE COLLATE(cs, 'case_insensitive') = 'john'`)).toBe(3);
    expect(await n(c, `SELECT count(*) AS n FROM people WHERE collate(ci, 'cs') = 'john'`)).toBe(1);
    expect(await n(c, `SELECT count(*) AS n FROM people WHERE COLLATE(plain || '', 'ci') = 'JOHN'`)).toBe(3);
    expect((await errorOf(c, `SELECT COLLATE(cs, 'french') FROM people`)).message).toMatch(/case_sensitive.*case_insensitive/);
  });

  it('svv_columns shows each character column\'s collation; db_collation() the database\'s', async () => {
    const cols = await rows(c, `SELECT column_name, data_type, collation_name FROM svv_columns WHERE table_name = 'people' ORDER BY ordinal_position`);
    expect(cols).toEqual([
      { column_name: 'ci', data_type: 'character varying', collation_name: 'case_insensitive' },
      { column_name: 'cs', data_type: 'character varying', collation_name: 'case_sensitive' },
      { column_name: 'plain', data_type: 'character varying', collation_name: 'case_sensitive' },
      { column_name: 'ch', data_type: 'character', collation_name: 'case_insensitive' },
    ]);
    expect(await rows(c, 'SELECT db_collation()')).toEqual([{ db_collation: 'case_sensitive' }]);
    // the loader's view of types is unchanged
    expect(await rows(c, `SELECT format_type(a.atttypid, a.atttypmod) AS t FROM pg_attribute a WHERE a.attrelid = 'people'::regclass AND a.attnum = 1`)).toEqual([{ t: 'character varying(20)' }]);
  });

  it('LIKE on a case-insensitive column is refused loudly (the double cannot emulate case-insensitive LIKE)', async () => {
    const e = await errorOf(c, `SELECT count(*) FROM people WHERE ci LIKE 'jo%'`);
    expect(e.message).toMatch(/nondeterministic collations are not supported for LIKE/);
  });

  it('CREATE DATABASE ... COLLATE CASE_INSENSITIVE: character columns default to case-insensitive, COLLATE CASE_SENSITIVE overrides, SUPER is refused', async () => {
    await c.query('BEGIN');
    expect((await errorOf(c, `CREATE DATABASE ${ciDb} COLLATE CASE_INSENSITIVE`)).message).toBe('CREATE DATABASE cannot run inside a transaction block');
    await c.query('ROLLBACK');
    await c.query(`CREATE DATABASE ${ciDb} WITH COLLATE CASE_INSENSITIVE`);
    const u = new URL(url);
    u.pathname = `/${ciDb}`;
    const d = await client(u.toString());
    try {
      expect(await rows(d, 'SELECT db_collation()')).toEqual([{ db_collation: 'case_insensitive' }]);
      await d.query(`CREATE TABLE t (a varchar(10), b char(4), s varchar(10) COLLATE CASE_SENSITIVE, i int)`);
      await d.query(`INSERT INTO t VALUES ('Abc', 'Ab', 'Abc', 1), ('abc', 'ab', 'abc', 2)`);
      expect(await n(d, `SELECT count(*) AS n FROM t WHERE a = 'ABC'`)).toBe(2);
      expect(await n(d, `SELECT count(*) AS n FROM t WHERE b = 'AB'`)).toBe(2);
      expect(await n(d, `SELECT count(*) AS n FROM t WHERE s = 'ABC'`)).toBe(0);
      await d.query(`CREATE TEMP TABLE t2 (LIKE t)`);
      await d.query(`ALTER TABLE t ADD COLUMN later varchar(5)`);
      expect(await rows(d, `SELECT table_name, column_name, collation_name FROM svv_columns WHERE table_name IN ('t', 't2') AND data_type <> 'integer' ORDER BY table_name, ordinal_position`)).toEqual([
        { table_name: 't', column_name: 'a', collation_name: 'case_insensitive' },
        { table_name: 't', column_name: 'b', collation_name: 'case_insensitive' },
        { table_name: 't', column_name: 's', collation_name: 'case_sensitive' },
        { table_name: 't', column_name: 'later', collation_name: 'case_insensitive' },
        { table_name: 't2', column_name: 'a', collation_name: 'case_insensitive' },
        { table_name: 't2', column_name: 'b', collation_name: 'case_insensitive' },
        { table_name: 't2', column_name: 's', collation_name: 'case_sensitive' },
      ]);
      const e = await errorOf(d, `CREATE TABLE j (doc SUPER)`);
      expect(e.message).toBe('SUPER data type is not supported in a case-insensitive database.');
      expect(e.code).toBe('0A000');
    } finally {
      await d.end();
    }
  });
});
