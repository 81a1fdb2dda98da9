import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchError, batchOf, formatBatch } from '../../src/admin/index.js';
import { targetDescription } from '../helpers/redshift.js';
import { adminFixture, tableDef, type AdminFixture } from './helpers.js';

const uniq = (p: string) => `${p}_${randomBytes(3).toString('hex')}`;

describe('admin reflection and deep copy', () => {
  it(`runs against ${targetDescription}`, () => undefined);

  let f: AdminFixture;
  let reader: string;
  let group: string;
  beforeAll(async () => {
    f = await adminFixture('adm_ref');
    reader = uniq('rl_reader');
    group = uniq('rl_group');
    await f.q(`CREATE USER ${reader} PASSWORD 'Reader-Passw0rd'`);
    await f.q(`CREATE GROUP ${group}`);
  });
  afterAll(() => f.close());

  const s = () => f.schema;

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
    expect(text).toMatch(new RegExp(`GRANT (SELECT, INSERT|INSERT, SELECT) ON "${s()}"."events" TO GROUP "${group}"`));
    expect(f.scrub(text).replaceAll(reader, 'READER').replaceAll(group, 'GROUP')).toMatchSnapshot();

    // Run it elsewhere (another name) and compare what the catalog says.
    const copy = await f.rs.tableDefinition(`${s()}.events`, { as: `${s()}.events_copy` });
    await f.rs.execute(copy);
    expect(await tableDef(f, 'events_copy')).toEqual(await tableDef(f, 'events'));
    const defaults = await f.q(`INSERT INTO ${s()}.events_copy (id, at) VALUES (7, '2024-01-02')`).then(() => f.q(`SELECT kind, flag FROM ${s()}.events_copy`));
    expect(defaults.rows[0]).toEqual({ kind: 'click', flag: false });
    const p1 = await f.rs.privileges(`${s()}.events`);
    const p2 = await f.rs.privileges(`${s()}.events_copy`);
    expect(p2.owner).toBe(p1.owner);
    expect(p2.grants).toEqual(p1.grants);
    expect(p1.grants.find((g) => g.grantee === group)?.isGroup).toBe(true);
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
    await f.q(`CREATE VIEW ${s()}.big_events AS SELECT id, amount FROM ${s()}.events WHERE amount > 10`);
    await f.q(`GRANT SELECT ON ${s()}.big_events TO ${reader}`);
    const b = await f.rs.viewDefinition(`${s()}.big_events`);
    expect(b.statements[0]!.sql).toMatch(/^CREATE OR REPLACE VIEW ".*"\."big_events" AS\n/);
    await f.q(`DROP VIEW ${s()}.big_events`);
    await f.rs.execute(b);
    await f.q(`INSERT INTO ${s()}.events (id, at, amount) VALUES (2, '2024-01-01', 99)`);
    expect((await f.q(`SELECT id FROM ${s()}.big_events`)).rows).toEqual([{ id: '2' }]);
    const p = await f.rs.privileges(`${s()}.big_events`);
    expect(p.kind).toBe('view');
    expect(p.grants).toEqual([{ grantee: reader, isGroup: false, privileges: ['SELECT'] }]);
  });

  it('deep copy keeps rows, owner and grants and applies the new keys', async () => {
    await f.q(`CREATE TABLE ${s()}.orders (id INTEGER NOT NULL, customer INTEGER, total NUMERIC(10,2), note VARCHAR(20)) DISTKEY(id) SORTKEY(id)`);
    await f.q(`INSERT INTO ${s()}.orders VALUES (1, 10, 5.50, 'a'), (2, 10, NULL, ''), (3, 20, 7.25, NULL), (3, 20, 7.25, NULL)`);
    await f.q(`GRANT SELECT ON ${s()}.orders TO ${reader}`);
    await f.q(`GRANT ALL ON ${s()}.orders TO GROUP ${group}`);
    const before = await f.rs.privileges(`${s()}.orders`);
    const rowsBefore = (await f.q(`SELECT * FROM ${s()}.orders ORDER BY 1, 2, 3, 4`)).rows;
    const r = await f.rs.deepCopy(`${s()}.orders`, { distkey: 'customer', sortkey: ['customer', 'id'], encodings: { note: 'zstd' }, execute: true });
    expect(f.scrub(formatBatch(r.batch)).replaceAll(reader, 'READER').replaceAll(group, 'GROUP')).toMatchSnapshot();
    expect(r.executed).toMatchObject({ inTransaction: r.batch.statements.length, outsideTransaction: [] });
    expect((await f.q(`SELECT * FROM ${s()}.orders ORDER BY 1, 2, 3, 4`)).rows).toEqual(rowsBefore);
    const after = await f.rs.privileges(`${s()}.orders`);
    expect(after.owner).toBe(before.owner);
    expect(after.grants).toEqual(before.grants);
    const def = await tableDef(f, 'orders');
    expect(def.find((c) => c.column === 'customer')).toMatchObject({ distkey: true, sortkey: 1 });
    expect(def.find((c) => c.column === 'id')).toMatchObject({ distkey: false, sortkey: 2 });
    expect(def.find((c) => c.column === 'note')).toMatchObject({ encoding: 'zstd' });
    expect(await f.rs.tableExists(`${s()}.orders_rl_deepcopy_old`)).toBe(false);
  });

  it('deep copy --distinct drops identical rows', async () => {
    await f.rs.deepCopy(`${s()}.orders`, { distinct: true, execute: true });
    expect((await f.q(`SELECT count(*)::int AS n FROM ${s()}.orders`)).rows[0]!.n).toBe(3);
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
    const b = batchOf(`CREATE TABLE ${s()}.rb (id INTEGER)`, `INSERT INTO ${s()}.rb VALUES (1)`, `INSERT INTO ${s()}.events (id) VALUES (NULL)`);
    const err = await f.rs.execute(b).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchError);
    expect(err).toMatchObject({ statementIndex: 2, rolledBack: true });
    expect((err as Error).message).toMatch(/statement 3 of 3 failed, the transaction was rolled back/);
    expect(await f.rs.tableExists(`${s()}.rb`)).toBe(false);
    // The connection is usable afterwards.
    expect(await f.rs.tableExists(`${s()}.events`)).toBe(true);
  });

  it('VACUUM runs outside the transaction, after it, and the result says so', async () => {
    const b = batchOf(`INSERT INTO ${s()}.base VALUES (3)`, `VACUUM ${s()}.base`, `ANALYZE ${s()}.base`);
    const r = await f.rs.execute(b);
    expect(r.inTransaction).toBe(2);
    expect(r.outsideTransaction).toEqual([`VACUUM ${s()}.base`]);
    expect((await f.q(`SELECT count(*)::int AS n FROM ${s()}.base`)).rows[0]!.n).toBe(3);
  });

  it('table-exists and tables', async () => {
    expect(await f.rs.tableExists(`${s()}.events`)).toBe(true);
    expect(await f.rs.tableExists(`${s()}.nope`)).toBe(false);
    expect(await f.rs.tableExists(`${s()}.big_events`)).toBe(false); // a view
    const names = (await f.rs.tables(s())).map((t) => t.name);
    expect(names).toEqual(['base', 'dim', 'dim2', 'events', 'events_copy', 'metrics', 'orders', 'people']);
  });
});
