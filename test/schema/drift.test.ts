import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedshift } from '../../src/db/connect.js';
import { checkAndApplyDrift, readTargetColumns, sourceColumnsForDrift } from '../../src/schema/drift.js';
import { parseTargetType } from '../../src/schema/types.js';
import { sourceColumns } from '../../src/schema/catalog.js';
import { getTable } from '../../src/metadata/store.js';
import { targetDescription } from '../helpers/redshift.js';
import { syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';

describe(`schema drift against ${targetDescription}`, () => {
  let f: SyncFixture;
  let rs: pg.Client;
  let src: pg.ClientBase;
  beforeAll(async () => {
    f = await syncFixture('drift');
    rs = await connectRedshift(f.target.url);
    src = { query: (q: string, p?: unknown[]) => f.source(q, p) } as unknown as pg.ClientBase;
  });
  afterAll(async () => {
    await rs?.end();
    await f.close();
  });

  async function check(table: string, withDefaults = false) {
    const id = (await f.meta(`SELECT id FROM tables WHERE source_name = $1`, [table])).rows[0].id as number;
    const row = await getTable({ query: (q: string, p?: unknown[]) => f.meta(q, p) } as unknown as pg.ClientBase, id);
    return checkAndApplyDrift({ redshift: rs, sourceColumns: withDefaults ? await sourceColumnsForDrift(src, 'public', table) : await sourceColumns(src, 'public', table), target: { schema: f.target.schema, name: table }, table: row, jobName: f.jobName, log: f.log });
  }
  const targetTypes = async (table: string) => Object.fromEntries((await readTargetColumns(rs, { schema: f.target.schema, name: table })).map((c) => [c.name, parseTargetType(c.type)]));

  it('adds a new source column to the target and asks for a resync; a second check changes nothing', async () => {
    await f.source(`CREATE TABLE people (id int PRIMARY KEY, name varchar(10))`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.people (id INTEGER NOT NULL, name VARCHAR(40))`);
    await f.redshift(`INSERT INTO ${f.target.schema}.people VALUES (1, 'a')`);
    await f.addTable({ source: 'people', mode: 'INSERT_ONLY', primaryKey: 'id' });
    expect(await check('people')).toEqual({ resync: false, statements: [] });
    await f.source(`ALTER TABLE people ADD COLUMN "Nick Name" text`);
    const r = await check('people');
    expect(r.resync).toBe(true);
    expect(r.statements).toEqual([`ALTER TABLE "${f.target.schema}"."people" ADD COLUMN "Nick Name" VARCHAR(65535)`]);
    expect((await targetTypes('people'))['Nick Name']).toMatchObject({ family: 'varchar', length: 65535 });
    expect((await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.people`)).rows[0].n).toBe(1);
    expect(await check('people')).toEqual({ resync: false, statements: [] });
    // A column with a constant default is filled by Redshift itself: no resync (when the
    // caller reads defaults; the engine's plain catalog has none, so it resyncs).
    await f.source(`ALTER TABLE people ADD COLUMN score integer NOT NULL DEFAULT 0`);
    const d = await check('people', true);
    expect(d.resync).toBe(false);
    expect((await f.redshift(`SELECT score FROM ${f.target.schema}.people WHERE id = 1`)).rows[0].score).toBe(0);
  });

  it('widens a varchar that grew at the source', async () => {
    await f.source(`CREATE TABLE grows (id int PRIMARY KEY, name varchar(10))`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.grows (id INTEGER NOT NULL, name VARCHAR(40))`);
    await f.addTable({ source: 'grows', mode: 'INSERT_ONLY', primaryKey: 'id' });
    expect(await check('grows')).toEqual({ resync: false, statements: [] });
    await f.source(`ALTER TABLE grows ALTER COLUMN name TYPE varchar(30)`);
    const r = await check('grows');
    expect(r).toEqual({ resync: false, statements: [`ALTER TABLE "${f.target.schema}"."grows" ALTER COLUMN "name" TYPE VARCHAR(120)`] });
    expect((await targetTypes('grows')).name).toMatchObject({ family: 'varchar', length: 120 });
  });

  it('stops on an incompatible change with the column, both types and the fix', async () => {
    await f.source(`CREATE TABLE stock (sku text PRIMARY KEY, qty integer)`);
    await f.redshift(`CREATE TABLE ${f.target.schema}.stock (sku VARCHAR(65535) NOT NULL, qty INTEGER)`);
    await f.addTable({ source: 'stock', mode: 'INSERT_ONLY', primaryKey: 'sku' });
    await f.source(`ALTER TABLE stock ALTER COLUMN qty TYPE text`);
    await f.source(`ALTER TABLE stock ADD COLUMN note text`);
    const err = await check('stock').then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(new RegExp(`^job "${f.jobName}", table public\\.stock: column "qty" changed at the source to text \\(Redshift VARCHAR\\(65535\\)\\) but the target ${f.target.schema}\\.stock has integer`));
    expect(err?.message).toContain(`drop or rename ${f.target.schema}.stock, run redshift-loader setup --job ${f.jobName}`);
    expect(err?.message).toContain('set max_primary_key and max_updated_key to NULL');
    // Nothing was applied: the new column waits until the table is fixed.
    expect(Object.keys(await targetTypes('stock'))).toEqual(['sku', 'qty']);
  });
});
