import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedshift } from '../../src/db/connect.js';
import { detectDeletes } from '../../src/sync/delete-detection.js';
import { sourceColumns } from '../../src/schema/catalog.js';
import { targetDescription } from '../helpers/redshift.js';
import { syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';

describe(`delete detection against ${targetDescription}`, () => {
  let f: SyncFixture;
  let rs: pg.Client;
  beforeAll(async () => {
    f = await syncFixture('deldet');
    rs = await connectRedshift(f.target.url);
  });
  afterAll(async () => {
    await rs?.end();
    await f.close();
  });

  const planFor = async (source: string, key: string[], target = source) => ({
    source: { schema: 'public', name: source },
    target: { schema: f.target.schema, name: target },
    columns: await sourceColumns({ query: (q: string, p: unknown[]) => f.source(q, p) } as unknown as pg.ClientBase, 'public', source),
    primaryKey: key,
  });

  async function keys(run: (sql: string) => Promise<pg.QueryResult>, table: string, cols: string): Promise<string[]> {
    const r = await run(`SELECT ${cols} AS k FROM ${table} ORDER BY 1`);
    return r.rows.map((x) => String(x.k));
  }

  it('removes exactly the keys deleted at the source from a 100k-row table (hash buckets)', async () => {
    await f.source(`CREATE TABLE big (id bigint PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 100000) g`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.big (id BIGINT NOT NULL, v VARCHAR(40))`);
    await f.redshift(`INSERT INTO ${f.target.schema}.big SELECT g, 'v' || g FROM generate_series(1, 100000) g`);
    // ~1% scattered, plus both ends; and rows the target has not received yet.
    const del = await f.source(`DELETE FROM big WHERE id % 97 = 13 OR id IN (1, 100000)`);
    await f.source(`INSERT INTO big SELECT g, 'new' FROM generate_series(100001, 100010) g`);
    const want = (await keys((q) => f.redshift(q), `${f.target.schema}.big`, 'id')).filter((k) => Number(k) % 97 !== 13 && k !== '1' && k !== '100000');
    const r = await detectDeletes({ source: sourceClient(), redshift: rs, plan: await planFor('big', ['id']), log: f.log, rangeSize: 5000 });
    expect(r.mode).toBe('hash');
    expect(r.deleted).toBe(del.rowCount);
    expect(r.deleted).toBeGreaterThan(1000);
    expect(await keys((q) => f.redshift(q), `${f.target.schema}.big`, 'id')).toEqual(want);
    // Non-key columns untouched; a second pass finds nothing.
    expect((await f.redshift(`SELECT v FROM ${f.target.schema}.big WHERE id = 2`)).rows[0].v).toBe('v2');
    const again = await detectDeletes({ source: sourceClient(), redshift: rs, plan: await planFor('big', ['id']), log: f.log, rangeSize: 5000 });
    // Only the buckets holding the 10 keys the target has not received yet still differ.
    expect(again.deleted).toBe(0);
    expect(again.rangesChecked).toBeGreaterThan(0);
    expect(again.rangesChecked).toBeLessThanOrEqual(10);
    await f.redshift(`INSERT INTO ${f.target.schema}.big SELECT g, 'new' FROM generate_series(100001, 100010) g`);
    const inStep = await detectDeletes({ source: sourceClient(), redshift: rs, plan: await planFor('big', ['id']), log: f.log, rangeSize: 5000 });
    expect(inStep).toMatchObject({ deleted: 0, rangesChecked: 0 });
  });

  it('handles a composite key with mixed-case and reserved-word names', async () => {
    await f.source(`CREATE TABLE "Order" ("select" text, id int, qty int, PRIMARY KEY ("select", id))`);
    await f.source(`INSERT INTO "Order" SELECT (ARRAY['eu','US','ap, x'])[1 + g % 3], g, g FROM generate_series(1, 3000) g`);
    await f.redshift(`CREATE TABLE ${f.target.schema}."Order" ("select" VARCHAR(20) NOT NULL, id INTEGER NOT NULL, qty INTEGER)`);
    await f.redshift(`INSERT INTO ${f.target.schema}."Order" SELECT (ARRAY['eu','US','ap, x'])[1 + g % 3], g, g FROM generate_series(1, 3000) g`);
    const del = await f.source(`DELETE FROM "Order" WHERE id % 50 = 7`);
    const r = await detectDeletes({ source: sourceClient(), redshift: rs, plan: await planFor('Order', ['select', 'id']), log: f.log, rangeSize: 400 });
    expect(r).toMatchObject({ mode: 'hash', deleted: del.rowCount });
    const cols = `"select" || '/' || id`;
    expect(await keys((q) => f.redshift(q), `${f.target.schema}."Order"`, cols)).toEqual(await keys((q) => f.source(q), '"Order"', cols));
  });

  it('walks ranges by keyset for keys whose text differs between systems (timestamp + numeric)', async () => {
    await f.source(`CREATE TABLE events (at timestamptz, seq numeric(10,2), PRIMARY KEY (at, seq))`);
    await f.source(`INSERT INTO events SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', g / 4.0 FROM generate_series(1, 2000) g`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.events (at TIMESTAMPTZ NOT NULL, seq NUMERIC(10,2) NOT NULL)`);
    await f.redshift(`INSERT INTO ${f.target.schema}.events SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', g / 4.0 FROM generate_series(1, 2000) g`);
    const del = await f.source(`DELETE FROM events WHERE extract(minute FROM at)::int % 13 = 5`);
    const r = await detectDeletes({ source: sourceClient(), redshift: rs, plan: await planFor('events', ['at', 'seq']), log: f.log, rangeSize: 300 });
    expect(r).toMatchObject({ mode: 'keyset', deleted: del.rowCount, ranges: 7 });
    const cols = `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || '/' || seq::text`;
    expect(await keys((q) => f.redshift(q), `${f.target.schema}.events`, cols)).toEqual(await keys((q) => f.source(q), 'events', cols));
  });

  it("deletes only the key gone at the source when another differs from it by trailing blanks ('abc' vs 'abc ', equal for Redshift's =)", async () => {
    await f.source(`CREATE TABLE codes (code varchar(10) PRIMARY KEY, v int)`);
    await f.source(`INSERT INTO codes VALUES ('abc ', 1), ('x', 2)`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.codes (code VARCHAR(10) NOT NULL, v INTEGER)`);
    await f.redshift(`INSERT INTO ${f.target.schema}.codes VALUES ('abc', 0), ('abc ', 1), ('x', 2)`);
    for (const rangeSize of [10_000, 1]) {
      const r = await detectDeletes({ source: sourceClient(), redshift: rs, plan: await planFor('codes', ['code']), log: f.log, rangeSize });
      expect(r.deleted).toBe(rangeSize === 1 ? 0 : 1);
      expect(await keys((q) => f.redshift(q), `${f.target.schema}.codes`, `code || '|'`)).toEqual(['abc |', 'x|']);
    }
    // The keyset walk (a key the hash mode does not take) deletes exactly too.
    await f.source(`CREATE TABLE stamped (at timestamptz, code varchar(10), PRIMARY KEY (at, code))`);
    await f.source(`INSERT INTO stamped VALUES ('2024-01-01 00:00:00+00', 'abc ')`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.stamped (at TIMESTAMPTZ NOT NULL, code VARCHAR(10) NOT NULL)`);
    await f.redshift(`INSERT INTO ${f.target.schema}.stamped VALUES ('2024-01-01 00:00:00+00', 'abc'), ('2024-01-01 00:00:00+00', 'abc ')`);
    const k = await detectDeletes({ source: sourceClient(), redshift: rs, plan: await planFor('stamped', ['at', 'code']), log: f.log });
    expect(k).toMatchObject({ mode: 'keyset', deleted: 1 });
    expect(await keys((q) => f.redshift(q), `${f.target.schema}.stamped`, `code || '|'`)).toEqual(['abc |']);
  });

  function sourceClient(): pg.ClientBase {
    return { query: (q: string, p?: unknown[]) => f.source(q, p) } as unknown as pg.ClientBase;
  }
});
