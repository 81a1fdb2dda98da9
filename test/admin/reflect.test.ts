import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchError, batchOf, formatBatch } from '../../src/admin/index.js';
import { adminFixture, tableDef, type AdminFixture } from './helpers.js';

const uniq = (p: string) => `${p}_${randomBytes(3).toString('hex')}`;

/**
 * Reflection (`ddl`, `view-ddl`, `privileges`) and `deep-copy`, against the target of test/helpers/redshift.ts.
 * Each test creates the tables it uses; the users, group and role below are set up once.
 */
describe('admin reflection and deep copy', () => {
  let f: AdminFixture;
  let reader: string;
  let group: string;
  let role: string;
  let member: string;
  beforeAll(async () => {
    f = await adminFixture('adm_ref');
    [reader, group, role, member] = [uniq('rl_reader'), uniq('rl_group'), uniq('rl_role'), uniq('rl_member')];
    await f.q(`CREATE USER ${reader} PASSWORD 'Reader-Passw0rd'`);
    await f.q(`CREATE USER ${member} PASSWORD 'Member-Passw0rd'`);
    await f.q(`CREATE GROUP ${group} WITH USER ${member}`);
    await f.q(`CREATE ROLE ${role}`);
    await f.q(`GRANT ROLE ${role} TO ${member}`);
  });
  afterAll(() => f.close());

  const s = () => f.schema;
  const names = (text: string) => f.scrub(text).replaceAll(reader, 'READER').replaceAll(group, 'GROUP').replaceAll(role, 'ROLE');

  /** What svv_relation_privileges and svv_column_privileges say about a table, as sorted lines. */
  const privileges = async (table: string) => {
    const rel = await f.q(`SELECT privilege_type, identity_type, identity_name, admin_option FROM svv_relation_privileges WHERE namespace_name = $1 AND relation_name = $2`, [s(), table]);
    const col = await f.q(`SELECT privilege_type, identity_type, identity_name, column_name FROM svv_column_privileges WHERE namespace_name = $1 AND relation_name = $2`, [s(), table]);
    return [
      ...rel.rows.map((r) => `${r.privilege_type} to ${r.identity_type} ${r.identity_name}${r.admin_option ? ' with grant option' : ''}`),
      ...col.rows.map((r) => `${r.privilege_type} (${r.column_name}) to ${r.identity_type} ${r.identity_name}`),
    ]
      .map(names)
      .sort();
  };

  it('ddl recreates an equal table: columns, types, NOT NULL, defaults, encodings, dist and sort keys, grants', async () => {
    await f.q(`CREATE TABLE ${s()}.events (
      id BIGINT NOT NULL ENCODE az64,
      kind VARCHAR(40) DEFAULT 'click' ENCODE zstd,
      amount NUMERIC(12,2),
      at TIMESTAMP NOT NULL,
      flag BOOLEAN DEFAULT false,
      note VARCHAR(MAX) ENCODE lzo
    ) DISTKEY(id) COMPOUND SORTKEY(at, id)`);
    await f.q(`INSERT INTO ${s()}.events (id, at) VALUES (1, '2024-01-01')`);
    await f.q(`GRANT SELECT ON ${s()}.events TO ${reader}`);
    await f.q(`GRANT SELECT, INSERT ON ${s()}.events TO GROUP ${group}`);

    const ddl = await f.rs.tableDefinition(`${s()}.events`);
    const text = formatBatch(ddl);
    expect(text).toContain('DISTKEY ("id")');
    expect(text).toContain('COMPOUND SORTKEY ("at", "id")');
    expect(text).toContain(`GRANT SELECT ON "${s()}"."events" TO "${reader}"`);
    expect(text).toContain(`GRANT SELECT, INSERT ON "${s()}"."events" TO GROUP "${group}"`);
    expect(names(text)).toMatchSnapshot();

    // Run it elsewhere (another name) and compare what the catalog says.
    const copy = await f.rs.tableDefinition(`${s()}.events`, { as: `${s()}.events_copy` });
    await f.rs.execute(copy);
    expect(await tableDef(f, 'events_copy')).toEqual(await tableDef(f, 'events'));
    const defaults = await f.q(`INSERT INTO ${s()}.events_copy (id, at) VALUES (7, '2024-01-02')`).then(() => f.q(`SELECT kind, flag FROM ${s()}.events_copy`));
    expect(defaults.rows[0]).toEqual({ kind: 'click', flag: false });
    expect(await privileges('events_copy')).toEqual(['INSERT to group GROUP', 'SELECT to group GROUP', 'SELECT to user READER']);
    const p = await f.rs.privileges(`${s()}.events_copy`);
    expect(p.owner).toBe((await f.rs.privileges(`${s()}.events`)).owner);
    expect(p.grants.find((g) => g.grantee === group)).toEqual({ grantee: group, type: 'group', privileges: ['SELECT', 'INSERT'] });
  });

  it('ddl of an interleaved, DISTSTYLE ALL table', async () => {
    await f.q(`CREATE TABLE ${s()}.dim (a INTEGER, b VARCHAR(10), c DATE) DISTSTYLE ALL INTERLEAVED SORTKEY(b, c)`);
    await f.q(`INSERT INTO ${s()}.dim VALUES (1, 'x', '2024-01-01')`);
    const def = await f.rs.describeTable(`${s()}.dim`);
    expect(def).toMatchObject({ diststyle: 'ALL', distkey: null, sortkeyType: 'INTERLEAVED', sortkey: ['b', 'c'] });
    await f.rs.execute(await f.rs.tableDefinition(`${s()}.dim`, { as: `${s()}.dim2` }));
    expect(await tableDef(f, 'dim2')).toEqual(await tableDef(f, 'dim'));
    const info = await f.q(`SELECT diststyle FROM svv_table_info WHERE schema = $1 AND "table" = 'dim'`, [s()]);
    expect(info.rows[0]?.diststyle).toBe('ALL');
  });

  it('view-ddl recreates a view; privileges lists its grants', async () => {
    await f.q(`CREATE TABLE ${s()}.sales (id BIGINT, amount NUMERIC(12,2))`);
    await f.q(`CREATE VIEW ${s()}.big_sales AS SELECT id, amount FROM ${s()}.sales WHERE amount > 10`);
    await f.q(`GRANT SELECT ON ${s()}.big_sales TO ${reader}`);
    const b = await f.rs.viewDefinition(`${s()}.big_sales`);
    expect(b.statements[0]!.sql).toMatch(/^CREATE OR REPLACE VIEW ".*"\."big_sales" AS\n/);
    await f.q(`DROP VIEW ${s()}.big_sales`);
    await f.rs.execute(b);
    await f.q(`INSERT INTO ${s()}.sales VALUES (1, 5), (2, 99)`);
    expect((await f.q(`SELECT id FROM ${s()}.big_sales`)).rows).toEqual([{ id: '2' }]);
    const p = await f.rs.privileges(`${s()}.big_sales`);
    expect(p.kind).toBe('view');
    expect(p.grants).toEqual([{ grantee: reader, type: 'user', privileges: ['SELECT'] }]);
    expect(await privileges('big_sales')).toEqual(['SELECT to user READER']);
  });

  it('deep copy keeps rows, owner and exactly the grants the table had (user, group, role, PUBLIC, column grants, grant option) and applies the new keys', async () => {
    await f.q(`CREATE TABLE ${s()}.orders (id INTEGER NOT NULL, customer INTEGER, total NUMERIC(10,2), note VARCHAR(20)) DISTKEY(id) SORTKEY(id)`);
    await f.q(`INSERT INTO ${s()}.orders VALUES (1, 10, 5.50, 'a'), (2, 10, NULL, ''), (3, 20, 7.25, NULL), (3, 20, 7.25, NULL)`);
    await f.q(`GRANT SELECT ON ${s()}.orders TO ${reader} WITH GRANT OPTION`);
    await f.q(`GRANT INSERT ON ${s()}.orders TO GROUP ${group}`);
    await f.q(`GRANT DROP, DELETE ON ${s()}.orders TO ROLE ${role}`);
    await f.q(`GRANT SELECT (id, note), UPDATE (note) ON ${s()}.orders TO ROLE ${role}`);
    await f.q(`GRANT REFERENCES ON ${s()}.orders TO PUBLIC`);
    const want = [
      'DELETE to role ROLE',
      'DROP to role ROLE',
      'INSERT to group GROUP',
      'REFERENCES to public public',
      'SELECT (id) to role ROLE',
      'SELECT (note) to role ROLE',
      'SELECT to user READER with grant option',
      'UPDATE (note) to role ROLE',
    ];
    expect(await privileges('orders')).toEqual(want);
    const owner = (await f.rs.privileges(`${s()}.orders`)).owner;
    const rowsBefore = (await f.q(`SELECT * FROM ${s()}.orders ORDER BY 1, 2, 3, 4`)).rows;
    const r = await f.rs.deepCopy(`${s()}.orders`, { distkey: 'customer', sortkey: ['customer', 'id'], encodings: { note: 'zstd' }, execute: true });
    expect(names(formatBatch(r.batch))).toMatchSnapshot();
    expect(r.executed).toMatchObject({ inTransaction: r.batch.statements.length, outsideTransaction: [] });
    expect((await f.q(`SELECT * FROM ${s()}.orders ORDER BY 1, 2, 3, 4`)).rows).toEqual(rowsBefore);
    // Exactly the privileges from before, on the new table.
    expect(await privileges('orders')).toEqual(want);
    expect((await f.rs.privileges(`${s()}.orders`)).owner).toBe(owner);
    // And they hold: the group's member inserts and, through the role, deletes and reads the granted columns only.
    const can = (u: string, priv: string) => f.q(`SELECT has_table_privilege($1, $2, $3) AS ok`, [u, `${s()}.orders`, priv]).then((x) => x.rows[0]!.ok);
    expect([await can(member, 'insert'), await can(member, 'delete'), await can(member, 'select'), await can(reader, 'select'), await can(reader, 'insert')]).toEqual([true, true, false, true, false]);
    const col = (c: string, priv: string) => f.q(`SELECT has_column_privilege($1, $2, $3, $4) AS ok`, [member, `${s()}.orders`, c, priv]).then((x) => x.rows[0]!.ok);
    expect([await col('note', 'select'), await col('note', 'update'), await col('total', 'select')]).toEqual([true, true, false]);
    const def = await tableDef(f, 'orders');
    expect(def.find((c) => c.column === 'customer')).toMatchObject({ distkey: true, sortkey: 1 });
    expect(def.find((c) => c.column === 'id')).toMatchObject({ distkey: false, sortkey: 2 });
    expect(def.find((c) => c.column === 'note')).toMatchObject({ encoding: 'zstd' });
    expect(await f.rs.tableExists(`${s()}.orders_rl_deepcopy_old`)).toBe(false);
  });

  it('deep copy --distinct drops identical rows', async () => {
    await f.q(`CREATE TABLE ${s()}.dups (id INTEGER, note VARCHAR(5))`);
    await f.q(`INSERT INTO ${s()}.dups VALUES (1, 'a'), (1, 'a'), (2, NULL), (2, NULL), (2, '')`);
    await f.rs.deepCopy(`${s()}.dups`, { distinct: true, execute: true });
    expect((await f.q(`SELECT id, note FROM ${s()}.dups ORDER BY id, note NULLS FIRST`)).rows).toEqual([
      { id: 1, note: 'a' },
      { id: 2, note: null },
      { id: 2, note: '' },
    ]);
  });

  it('deep copy --dedupe-by keeps the first row of each group by --order-by', async () => {
    await f.q(`CREATE TABLE ${s()}.people (id INTEGER, name VARCHAR(10), updated_at TIMESTAMP) DISTSTYLE EVEN`);
    await f.q(`INSERT INTO ${s()}.people VALUES
      (1, 'old', '2024-01-01'), (1, 'newest', '2024-03-01'), (1, 'mid', '2024-02-01'),
      (2, 'only', '2024-01-01'),
      (3, 'b', '2024-05-01'), (3, 'a', '2024-04-01')`);
    await f.rs.deepCopy(`${s()}.people`, { dedupeBy: ['id'], orderBy: 'updated_at DESC', execute: true });
    const rows = (await f.q(`SELECT id, name FROM ${s()}.people ORDER BY id`)).rows;
    expect(rows).toEqual([{ id: 1, name: 'newest' }, { id: 2, name: 'only' }, { id: 3, name: 'b' }]);
    expect((await f.rs.describeTable(`${s()}.people`)).columns.map((c) => c.name)).toEqual(['id', 'name', 'updated_at']);
  });

  it('deep copy refuses to drop a table a view depends on, unless --cascade; nothing changes on failure', async () => {
    await f.q(`CREATE TABLE ${s()}.base (id INTEGER) DISTSTYLE EVEN`);
    await f.q(`INSERT INTO ${s()}.base VALUES (1), (2)`);
    await f.q(`CREATE VIEW ${s()}.base_v AS SELECT id FROM ${s()}.base`);
    const err = await f.rs.deepCopy(`${s()}.base`, { sortkey: ['id'], execute: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchError);
    expect((err as BatchError).rolledBack).toBe(true);
    expect((err as BatchError).message).toMatch(/DROP TABLE/);
    expect((await f.rs.describeTable(`${s()}.base`)).sortkey).toEqual([]);
    expect(await f.rs.tableExists(`${s()}.base_rl_deepcopy_old`)).toBe(false);
    await f.rs.deepCopy(`${s()}.base`, { sortkey: ['id'], cascade: true, execute: true });
    expect((await f.rs.describeTable(`${s()}.base`)).sortkey).toEqual(['id']);
    expect((await f.q(`SELECT count(*)::int AS n FROM ${s()}.base`)).rows[0]!.n).toBe(2);
  });

  it('deep copy --analyze-compression rebuilds the table with the encodings ANALYZE COMPRESSION suggests; an explicit --encode wins', async () => {
    await f.q(`CREATE TABLE ${s()}.metrics (id INTEGER NOT NULL, at TIMESTAMP, label VARCHAR(30), note VARCHAR(30), ok BOOLEAN, amount DECIMAL(10,2)) DISTKEY(id) SORTKEY(at)`);
    await f.q(`INSERT INTO ${s()}.metrics VALUES (1, '2024-01-01', 'a', 'x', true, 1.5), (2, NULL, NULL, '', false, NULL)`);
    const rowsBefore = (await f.q(`SELECT * FROM ${s()}.metrics ORDER BY id`)).rows;
    // Before: Redshift's defaults for a table created without ENCODE (c_Compression_encodings.html).
    expect(Object.fromEntries((await tableDef(f, 'metrics')).map((c) => [c.column, c.encoding]))).toEqual({ id: 'az64', at: 'none', label: 'lzo', note: 'lzo', ok: 'none', amount: 'az64' });
    const suggested = (await f.q(`ANALYZE COMPRESSION ${s()}.metrics`)).rows;
    const r = await f.rs.deepCopy(`${s()}.metrics`, { analyzeCompression: true, encodings: { note: 'bytedict' }, execute: true });
    expect(r.executed).toMatchObject({ inTransaction: r.batch.statements.length });
    const after = Object.fromEntries((await tableDef(f, 'metrics')).map((c) => [c.column, c.encoding]));
    // The analyzed encodings (sort key unanalyzed, RAW), except the explicit one.
    expect(after).toEqual({ ...Object.fromEntries(suggested.map((x) => [x.Column, x.Encoding === 'raw' ? 'none' : x.Encoding])), note: 'bytedict' });
    expect(after).toEqual({ id: 'az64', at: 'none', label: 'zstd', note: 'bytedict', ok: 'zstd', amount: 'az64' });
    expect((await f.q(`SELECT * FROM ${s()}.metrics ORDER BY id`)).rows).toEqual(rowsBefore);
    expect((await tableDef(f, 'metrics')).find((c) => c.column === 'id')).toMatchObject({ distkey: true });
  });

  it('a failing statement rolls back the earlier ones', async () => {
    await f.q(`CREATE TABLE ${s()}.strict (id INTEGER NOT NULL)`);
    const b = batchOf(`CREATE TABLE ${s()}.rb (id INTEGER)`, `INSERT INTO ${s()}.rb VALUES (1)`, `INSERT INTO ${s()}.strict (id) VALUES (NULL)`);
    const err = await f.rs.execute(b).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchError);
    expect(err).toMatchObject({ statementIndex: 2, rolledBack: true });
    expect((err as Error).message).toMatch(/statement 3 of 3 failed, the transaction was rolled back/);
    expect(await f.rs.tableExists(`${s()}.rb`)).toBe(false);
    // The connection is usable afterwards.
    expect(await f.rs.tableExists(`${s()}.strict`)).toBe(true);
  });

  it('VACUUM runs outside the transaction, after it, and the result says so', async () => {
    await f.q(`CREATE TABLE ${s()}.vac (id INTEGER)`);
    const b = batchOf(`INSERT INTO ${s()}.vac VALUES (3)`, `VACUUM ${s()}.vac`, `ANALYZE ${s()}.vac`);
    const r = await f.rs.execute(b);
    expect(r.inTransaction).toBe(2);
    expect(r.outsideTransaction).toEqual([`VACUUM ${s()}.vac`]);
    expect((await f.q(`SELECT count(*)::int AS n FROM ${s()}.vac`)).rows[0]!.n).toBe(1);
  });

  it('table-exists and tables (ordinary tables only, not views)', async () => {
    const schema = uniq('adm_tables');
    await f.q(`CREATE SCHEMA ${schema}`);
    await f.q(`CREATE TABLE ${schema}.b (id INTEGER)`);
    await f.q(`CREATE TABLE ${schema}.a (id INTEGER)`);
    await f.q(`CREATE VIEW ${schema}.v AS SELECT id FROM ${schema}.a`);
    expect(await f.rs.tableExists(`${schema}.a`)).toBe(true);
    expect(await f.rs.tableExists(`${schema}.nope`)).toBe(false);
    expect(await f.rs.tableExists(`${schema}.v`)).toBe(false);
    expect((await f.rs.tables(schema)).map((t) => t.name)).toEqual(['a', 'b']);
    await f.q(`DROP SCHEMA ${schema} CASCADE`);
  });
});
