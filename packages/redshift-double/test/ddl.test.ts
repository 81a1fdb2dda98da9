import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, errorOf, rows } from './helpers.js';

interface Def {
  column: string;
  type: string;
  encoding: string;
  distkey: boolean;
  sortkey: number;
  notnull: boolean;
}

describe('Redshift double: DDL', () => {
  let c: pg.Client;
  let close: () => Promise<void>;
  const def = async (table: string) =>
    (await rows<Def>(c, `SELECT "column", type, trim(encoding) AS encoding, distkey, sortkey, "notnull" FROM pg_table_def WHERE tablename = $1`, [table])).reduce(
      (acc, r) => ({ ...acc, [r.column]: r }),
      {} as Record<string, Def>,
    );

  beforeAll(async () => {
    ({ c, close } = await connect('ddl'));
  });
  afterAll(async () => {
    await close();
  });

  it('accepts and strips DISTSTYLE, DISTKEY, SORTKEY, ENCODE, BACKUP and remembers them for pg_table_def', async () => {
    await c.query(`CREATE TABLE events (
      id BIGINT NOT NULL ENCODE az64,
      account INTEGER DISTKEY,
      name VARCHAR(40) ENCODE zstd,
      created TIMESTAMP
    ) BACKUP NO COMPOUND SORTKEY (created, id)`);
    const d = await def('events');
    expect(d.account!.distkey).toBe(true);
    expect(d.id!.distkey).toBe(false);
    expect([d.created!.sortkey, d.id!.sortkey, d.name!.sortkey]).toEqual([1, 2, 0]);
    expect(d.name!.encoding).toBe('zstd');
    expect(d.id!.encoding).toBe('az64');
    expect(d.id!.notnull).toBe(true);
    expect(d.name!.type).toBe('character varying(40)');
    const [info] = await rows(c, `SELECT diststyle, sortkey1, sortkey_num FROM svv_table_info WHERE "table" = 'events'`);
    expect(info).toBeUndefined(); // empty tables are not listed, as in Redshift
    await c.query(`INSERT INTO events VALUES (1, 2, 'x', getdate())`);
    const [info2] = await rows(c, `SELECT diststyle, sortkey1, sortkey_num, tbl_rows::int AS tbl_rows, max_varchar, size::int >= 0 AS sized FROM svv_table_info WHERE "table" = 'events'`);
    expect(info2).toEqual({ diststyle: 'KEY(account)', sortkey1: 'created', sortkey_num: 2, tbl_rows: 1, max_varchar: 40, sized: true });
  });

  it('supports table-level DISTKEY, DISTSTYLE ALL/EVEN and INTERLEAVED SORTKEY', async () => {
    await c.query(`CREATE TABLE t_key (a int, b int, c int) DISTSTYLE KEY DISTKEY (b) INTERLEAVED SORTKEY (a, b, c)`);
    const d = await def('t_key');
    expect(d.b!.distkey).toBe(true);
    expect([d.a!.sortkey, d.b!.sortkey, d.c!.sortkey]).toEqual([1, -2, 3]);
    await c.query(`CREATE TABLE t_all (a int) DISTSTYLE ALL`);
    await c.query(`INSERT INTO t_all VALUES (1)`);
    expect((await rows(c, `SELECT diststyle, sortkey1 FROM svv_table_info WHERE "table" = 't_all'`))[0]).toEqual({ diststyle: 'ALL', sortkey1: 'AUTO(SORTKEY)' });
    const e = await errorOf(c, `CREATE TABLE t_bad (a int) DISTKEY (nope)`);
    expect(e.message).toMatch(/"nope" named in DISTKEY does not exist/);
  });

  it('maps VARCHAR(MAX) to 65535 and bare VARCHAR/TEXT/CHAR to Redshift defaults', async () => {
    await c.query(`CREATE TABLE strs (a VARCHAR(MAX), b VARCHAR, c TEXT, d CHAR, e BPCHAR, f NVARCHAR(10), g CHARACTER VARYING(5), h DECIMAL, i NUMERIC(38,4), j FLOAT, k BOOL)`);
    const d = await def('strs');
    expect(Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v.type]))).toEqual({
      a: 'character varying(65535)',
      b: 'character varying(256)',
      c: 'character varying(256)',
      d: 'character(1)',
      e: 'character(256)',
      f: 'character varying(10)',
      g: 'character varying(5)',
      h: 'numeric(18,0)',
      i: 'numeric(38,4)',
      j: 'double precision',
      k: 'boolean',
    });
  });

  it('rejects VARCHAR over 65535 bytes, NUMERIC over 38 digits and types Redshift lacks', async () => {
    expect((await errorOf(c, `CREATE TABLE x1 (a VARCHAR(65536))`)).message).toBe('length for type varchar cannot exceed 65535');
    expect((await errorOf(c, `CREATE TABLE x1 (a NUMERIC(39,2))`)).message).toBe('NUMERIC precision 39 must be between 1 and 38');
    for (const type of ['uuid', 'json', 'jsonb', 'int[]', 'serial', 'bigserial', 'inet', 'bytea', 'xml', 'money']) {
      const e = await errorOf(c, `CREATE TABLE x2 (a ${type})`);
      expect(e.message, type).toBe(`Column "x2.a" has unsupported type "${type}".`);
    }
    await c.query(`CREATE TYPE mood AS ENUM ('happy')`).catch(() => undefined);
    const e = await errorOf(c, `CREATE TABLE x3 (a mood)`);
    expect(e.message).toBe('type "mood" does not exist');
    expect((await errorOf(c, `CREATE TYPE mood2 AS ENUM ('x')`)).message).toBe('syntax error at or near "TYPE"');
    expect(await rows(c, `SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('x1', 'x2', 'x3')`)).toEqual([{ n: 0 }]);
  });

  it('accepts SUPER (stored as JSON) and shows it as super', async () => {
    await c.query(`CREATE TABLE semi (id int, doc SUPER)`);
    await c.query(`INSERT INTO semi VALUES (1, json_parse('{"a": [1, 2]}'))`);
    const [r] = await rows(c, `SELECT doc FROM semi`);
    expect(r!.doc).toEqual({ a: [1, 2] });
    expect((await def('semi')).doc!.type).toBe('super');
    expect((await errorOf(c, `CREATE TABLE semi2 (doc SUPER DISTKEY)`)).message).toMatch(/SUPER and cannot be a distribution key/);
  });

  it('treats PRIMARY KEY, UNIQUE and FOREIGN KEY as informational: duplicates load', async () => {
    await c.query(`CREATE TABLE parent (id int PRIMARY KEY, code varchar(5) UNIQUE)`);
    await c.query(`CREATE TABLE child (id int, parent_id int REFERENCES parent(id), PRIMARY KEY (id), FOREIGN KEY (parent_id) REFERENCES parent (id), UNIQUE (parent_id))`);
    await c.query(`INSERT INTO parent VALUES (1, 'a'), (1, 'a')`);
    await c.query(`INSERT INTO child VALUES (7, 99), (7, 99)`);
    expect(await rows(c, `SELECT count(*)::int AS n FROM parent`)).toEqual([{ n: 2 }]);
    expect(await rows(c, `SELECT count(*)::int AS n FROM child`)).toEqual([{ n: 2 }]);
    // NOT NULL is the one constraint enforced (primary key columns are NOT NULL)
    const e = await errorOf(c, `INSERT INTO child VALUES (NULL, 1)`);
    expect(e.message).toMatch(/null value in column "id"/);
  });

  it('CREATE [TEMP] TABLE (LIKE ...) carries byte limits, NOT NULL and dist/sort keys', async () => {
    await c.query(`CREATE TABLE src_like (id int NOT NULL, name varchar(4) ENCODE zstd) DISTKEY(id) SORTKEY(name)`);
    await c.query(`CREATE TABLE dst_like (LIKE src_like)`);
    await c.query(`CREATE TEMP TABLE tmp_like (LIKE src_like)`);
    for (const t of ['dst_like', 'tmp_like']) {
      const d = await def(t);
      expect(d.id!.notnull, t).toBe(true);
      expect(d.id!.distkey, t).toBe(true);
      expect(d.name!.sortkey, t).toBe(1);
      expect(d.name!.encoding, t).toBe('zstd');
      expect(d.name!.type, t).toBe('character varying(4)');
      const e = await errorOf(c, `INSERT INTO ${t} VALUES (1, 'ééé')`);
      expect(e.message, t).toBe('value too long for type character varying(4)');
      expect((await errorOf(c, `INSERT INTO ${t} VALUES (NULL, 'a')`)).message).toMatch(/null value/);
    }
  });

  it('ALTER TABLE ADD COLUMN and RENAME keep the same rules', async () => {
    await c.query(`CREATE TABLE alt (id int)`);
    await c.query(`ALTER TABLE alt ADD COLUMN note VARCHAR(3) ENCODE lzo`);
    expect((await errorOf(c, `INSERT INTO alt VALUES (1, 'éé')`)).message).toBe('value too long for type character varying(3)');
    expect((await errorOf(c, `ALTER TABLE alt ADD COLUMN u uuid`)).message).toBe('Column "alt.u" has unsupported type "uuid".');
    await c.query(`ALTER TABLE alt RENAME COLUMN note TO remark`);
    await c.query(`ALTER TABLE alt RENAME TO alt2`);
    expect((await errorOf(c, `INSERT INTO alt2 VALUES (1, 'abcd')`)).message).toBe('value too long for type character varying(3)');
    await c.query(`ALTER TABLE alt2 ALTER COLUMN remark TYPE VARCHAR(8)`);
    await c.query(`INSERT INTO alt2 VALUES (1, 'éééé')`);
    expect((await errorOf(c, `INSERT INTO alt2 VALUES (1, 'ééééé')`)).message).toBe('value too long for type character varying(8)');
    const d = await def('alt2');
    expect(d.remark).toMatchObject({ type: 'character varying(8)', encoding: 'lzo' });
  });

  it('IDENTITY(seed, step) generates values and refuses explicit ones', async () => {
    await c.query(`CREATE TABLE ident (id BIGINT IDENTITY(100, 5), v varchar(3))`);
    await c.query(`INSERT INTO ident (v) VALUES ('a'), ('b')`);
    expect(await rows(c, `SELECT id::int, v FROM ident ORDER BY id`)).toEqual([
      { id: 100, v: 'a' },
      { id: 105, v: 'b' },
    ]);
    expect((await errorOf(c, `INSERT INTO ident VALUES (1, 'c')`)).message).toMatch(/cannot insert a non-DEFAULT value into column "id"/);
  });
});
