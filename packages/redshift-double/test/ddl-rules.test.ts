import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, bucket, connect, errorOf, prefix, put, rows } from './helpers.js';

/**
 * r_ALTER_TABLE.html: ALTER COLUMN ... TYPE is not for a transaction block, a column with a
 * DEFAULT, BYTEDICT/RUNLENGTH/TEXT255/TEXT32K encodings or key constraints.
 * loading-data-files-using-manifest.html: COPY terminates if no files are found.
 * r_names.html: identifiers are 1-127 bytes; the double holds at most 63 and says so.
 */
describe('Redshift double: DDL rules', () => {
  let c: pg.Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ c, close } = await connect('ddlrules'));
  });
  afterAll(async () => {
    await close();
  });

  it('ALTER COLUMN TYPE cannot run inside a transaction block (and aborts it)', async () => {
    await c.query('CREATE TABLE tx (a varchar(5))');
    await c.query('BEGIN');
    const e = await errorOf(c, 'ALTER TABLE tx ALTER COLUMN a TYPE varchar(10)');
    expect(e.message).toBe('ALTER TABLE ALTER COLUMN cannot run inside a transaction block');
    expect(e.code).toBe('25001');
    expect((await errorOf(c, 'SELECT 1')).message).toMatch(/current transaction is aborted/);
    await c.query('ROLLBACK');
    await c.query('ALTER TABLE tx ALTER COLUMN a TYPE varchar(10)');
    expect(await rows(c, `SELECT type FROM pg_table_def WHERE tablename = 'tx'`)).toEqual([{ type: 'character varying(10)' }]);
    expect((await errorOf(c, `ALTER TABLE tx ALTER COLUMN a TYPE varchar(20) USING a::varchar(20)`)).message).toBe('ALTER TABLE ALTER COLUMN does not support USING expression');
  });

  it('refuses columns with a DEFAULT and with BYTEDICT, RUNLENGTH, TEXT255 or TEXT32K encodings', async () => {
    await c.query(`CREATE TABLE enc (d varchar(5) DEFAULT 'x', b varchar(5) ENCODE bytedict, r varchar(5) ENCODE runlength,
      t1 varchar(5) ENCODE text255, t2 varchar(5) ENCODE text32k, z varchar(5) ENCODE zstd, l varchar(5))`);
    const alter = (col: string) => errorOf(c, `ALTER TABLE enc ALTER COLUMN ${col} TYPE varchar(10)`);
    expect((await alter('d')).message).toBe(`cannot alter column "d" of relation "enc": columns with a default value can't be altered`);
    for (const [col, enc] of [['b', 'BYTEDICT'], ['r', 'RUNLENGTH'], ['t1', 'TEXT255'], ['t2', 'TEXT32K']]) {
      const e = await alter(col!);
      expect(e.message).toBe(`cannot alter column "${col}" of relation "enc": columns with ${enc} encoding can't be altered`);
      expect(e.code).toBe('0A000');
    }
    await c.query('ALTER TABLE enc ALTER COLUMN z TYPE varchar(10)');
    await c.query('ALTER TABLE enc ALTER COLUMN l TYPE varchar(10)');
    // an encoding set later counts too
    await c.query('ALTER TABLE enc ALTER COLUMN l ENCODE bytedict');
    expect((await alter('l')).message).toMatch(/BYTEDICT encoding can't be altered/);
  });

  it('refuses key-constraint columns (column and table level, and ALTER TABLE ADD), not the others; LIKE does not inherit keys', async () => {
    await c.query(`CREATE TABLE keys (id varchar(5) PRIMARY KEY, u varchar(5) UNIQUE, f varchar(5) REFERENCES enc (z),
      a varchar(5), b varchar(5), x varchar(5), y varchar(5), free varchar(5), UNIQUE (a, b), FOREIGN KEY (x) REFERENCES enc (z))`);
    await c.query('ALTER TABLE keys ADD CONSTRAINT keys_y PRIMARY KEY (y)');
    await c.query('ALTER TABLE keys ADD COLUMN g varchar(5) UNIQUE');
    for (const col of ['id', 'u', 'f', 'a', 'b', 'x', 'y', 'g']) {
      const e = await errorOf(c, `ALTER TABLE keys ALTER COLUMN ${col} TYPE varchar(10)`);
      expect([col, e.message]).toEqual([col, `cannot alter column "${col}" of relation "keys": columns with UNIQUE, PRIMARY KEY or FOREIGN KEY constraints can't be altered`]);
    }
    await c.query('ALTER TABLE keys ALTER COLUMN free TYPE varchar(10)');
    await c.query('CREATE TABLE keys_copy (LIKE keys)');
    await c.query('ALTER TABLE keys_copy ALTER COLUMN id TYPE varchar(10)');
    // renaming the column keeps the rule
    await c.query('ALTER TABLE keys RENAME COLUMN id TO ident');
    expect((await errorOf(c, 'ALTER TABLE keys ALTER COLUMN ident TYPE varchar(10)')).message).toMatch(/UNIQUE, PRIMARY KEY or FOREIGN KEY/);
  });

  it('COPY fails when the manifest has no entries or none of its files exists', async () => {
    await c.query('CREATE TABLE m (id int)');
    const p = prefix('nofiles');
    const empty = await put(`${p}empty.manifest`, JSON.stringify({ entries: [] }));
    const e1 = await errorOf(c, `COPY m FROM '${empty}' ${auth()} MANIFEST CSV`);
    expect(e1.message).toBe(`COPY found no files to load: the manifest '${empty}' has no entries`);
    const missing = await put(
      `${p}missing.manifest`,
      JSON.stringify({ entries: [{ url: `s3://${bucket()}/${p}nope-1.csv`, mandatory: false }, { url: `s3://${bucket()}/${p}nope-2.csv` }] }),
    );
    const e2 = await errorOf(c, `COPY m FROM '${missing}' ${auth()} MANIFEST CSV`);
    expect(e2.message).toBe(`COPY found no files to load: none of the files in the manifest '${missing}' exists`);
    // one file present (even empty) is a load of what it holds
    await put(`${p}present.csv`, '');
    const some = await put(`${p}some.manifest`, JSON.stringify({ entries: [{ url: `s3://${bucket()}/${p}nope-1.csv` }, { url: `s3://${bucket()}/${p}present.csv` }] }));
    await c.query(`COPY m FROM '${some}' ${auth()} MANIFEST CSV`);
    expect(await rows(c, 'SELECT pg_last_copy_count() AS n')).toEqual([{ n: '0' }]);
  });

  it('refuses identifiers over 63 bytes loudly instead of truncating them; over 127 bytes is refused as Redshift names are 1-127 bytes', async () => {
    const n63 = 't'.repeat(63);
    await c.query(`CREATE TABLE ${n63} (${'c'.repeat(63)} int)`);
    const n64 = 't'.repeat(60) + '_swap';
    const e = await errorOf(c, `CREATE TABLE ${n64} (a int)`);
    expect(e.message).toBe(`The Redshift double cannot hold identifiers over 63 bytes (Postgres's limit); Redshift allows up to 127: "${n64}" is 65 bytes`);
    expect(e.code).toBe('42622');
    // quoted names count bytes (é is 2 bytes), and the check covers every statement
    const quoted = 'é'.repeat(32);
    expect((await errorOf(c, `SELECT 1 AS "${quoted}"`)).message).toMatch(/"é+" is 64 bytes/);
    expect((await errorOf(c, `ALTER TABLE ${n63} RENAME TO ${n63}_rl_swap`)).message).toMatch(/is 71 bytes/);
    const n128 = 'x'.repeat(128);
    const e2 = await errorOf(c, `CREATE TABLE ${n128} (a int)`);
    expect(e2.message).toBe(`identifier "${n128}" is 128 bytes: Redshift names are 1 to 127 bytes`);
    expect(e2.code).toBe('42622');
    // nothing was created under a truncated name
    expect(await rows(c, `SELECT relname FROM pg_class WHERE relname LIKE 'tttttttttt%' ORDER BY 1`)).toEqual([{ relname: n63 }]);
  });
});
