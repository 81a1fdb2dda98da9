import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { readTargetColumns } from '../../src/schema/drift.js';
import { runSetup } from '../../src/setup/setup.js';
import { parseTargetType } from '../../src/schema/types.js';
import { connectRedshift } from '../../src/db/connect.js';
import { targetDescription } from '../helpers/redshift.js';
import { expectReplica } from '../helpers/compare.js';
import { syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';

const log = createLogger({ level: 'silent', pretty: false });

/** A source with every mapped type, mixed-case and reserved-word names, composite keys, no key, a view. */
async function createSource(f: SyncFixture): Promise<void> {
  await f.source(`CREATE TYPE mood AS ENUM ('happy', 'sad')`);
  await f.source(`CREATE TYPE address AS (street text, zip int)`);
  await f.source(`CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0)`);
  await f.source(`CREATE TABLE "Order" (
    id bigint PRIMARY KEY, "select" text, i integer, s smallint, n numeric(12,2), nu numeric, r real, d double precision,
    b boolean, dt date, t time, ttz timetz, ts timestamp, updated_at timestamptz NOT NULL, iv interval, v varchar(20),
    vu varchar, c char(3), u uuid, j json, jb jsonb, arr integer[], comp address, e mood, p positive_int, by bytea,
    ip inet, net cidr, m money, bits bit(4))`);
  await f.source(`CREATE INDEX ON "Order" (updated_at)`);
  await f.source(`CREATE TABLE line_items (order_id bigint, line_no int, qty int, modified_at timestamp, PRIMARY KEY (order_id, line_no))`);
  await f.source(`CREATE TABLE audit_log (at timestamptz, message text)`);
  await f.source(`CREATE TABLE countries (code char(2) NOT NULL, name text)`);
  await f.source(`CREATE UNIQUE INDEX countries_code ON countries (code)`);
  await f.source(`CREATE VIEW big_orders AS SELECT id, n FROM "Order" WHERE n > 100`);
  await f.source(`CREATE TABLE _prisma_migrations (id text PRIMARY KEY)`);
  await f.source(`CREATE TABLE knex_migrations_lock (id int PRIMARY KEY)`);
}

describe(`setup against ${targetDescription}`, () => {
  let f: SyncFixture;
  beforeAll(async () => {
    f = await syncFixture('setup');
    await createSource(f);
  });
  afterAll(() => f.close());

  const normalize = (s: string) => s.replaceAll(f.target.schema, 'TARGET').replaceAll(f.jobName, 'JOB').replace(/VALUES \(\d+,/g, 'VALUES (JOB_ID,');

  it('--dry-run prints the choices and the SQL, and changes nothing', async () => {
    const r = await runSetup(f.metaUrl, { jobName: f.jobName, dryRun: true }, { log });
    expect(r.ok).toBe(true);
    expect(normalize(r.output)).toMatchSnapshot();
    expect(r.tables.map((t) => [t.source, t.copyMode, t.targetAction, t.rowAction])).toEqual([
      ['public.Order', 'INSERT_AND_UPDATE', 'would create', 'would add'],
      ['public.audit_log', 'FULL_DATA_SYNC', 'would create', 'would add'],
      ['public.big_orders', 'FULL_DATA_SYNC', 'would create', 'would add'],
      ['public.countries', 'FULL_DATA_SYNC', 'would create', 'would add'],
      ['public.line_items', 'INSERT_AND_UPDATE', 'would create', 'would add'],
    ]);
    expect((await f.meta(`SELECT count(*)::int AS n FROM tables`)).rows[0].n).toBe(0);
    const rs = await connectRedshift(f.target.url);
    try {
      expect(await readTargetColumns(rs, { schema: f.target.schema, name: 'Order' })).toEqual([]);
    } finally {
      await rs.end();
    }
  });

  it('--include/--exclude globs pick tables', async () => {
    const r = await runSetup(f.metaUrl, { jobName: f.jobName, dryRun: true, include: ['public.*o*', 'Order'], exclude: ['*items'] }, { log });
    expect(r.tables.map((t) => t.source)).toEqual(['public.Order', 'public.audit_log', 'public.big_orders', 'public.countries']);
  });

  it('creates targets and tables rows; a second run changes nothing and keeps watermarks; new tables are added', async () => {
    const first = await runSetup(f.metaUrl, { jobName: f.jobName }, { log });
    expect(first.ok, first.output).toBe(true);
    expect(first.tables.every((t) => t.targetAction === 'created' && t.rowAction === 'added')).toBe(true);
    const rows = await f.meta(`SELECT source_name, copy_mode::text, primary_key, updated_key FROM tables ORDER BY source_name`);
    expect(rows.rows.map((x) => [x.source_name, x.copy_mode, x.primary_key, x.updated_key])).toEqual([
      ['Order', 'INSERT_AND_UPDATE', 'id', 'updated_at'],
      ['audit_log', 'FULL_DATA_SYNC', null, null],
      ['big_orders', 'FULL_DATA_SYNC', null, null],
      ['countries', 'FULL_DATA_SYNC', 'code', null],
      ['line_items', 'INSERT_AND_UPDATE', 'order_id, line_no', 'modified_at'],
    ]);
    const rs = await connectRedshift(f.target.url);
    try {
      const cols = await readTargetColumns(rs, { schema: f.target.schema, name: 'Order' });
      expect(cols.map((c) => c.name)).toEqual(['id', 'select', 'i', 's', 'n', 'nu', 'r', 'd', 'b', 'dt', 't', 'ttz', 'ts', 'updated_at', 'iv', 'v', 'vu', 'c', 'u', 'j', 'jb', 'arr', 'comp', 'e', 'p', 'by', 'ip', 'net', 'm', 'bits']);
      const fam = Object.fromEntries(cols.map((c) => [c.name, parseTargetType(c.type)]));
      expect(fam.id).toMatchObject({ family: 'bigint' });
      expect(fam.n).toMatchObject({ family: 'numeric', precision: 12, scale: 2 });
      expect(fam.nu).toMatchObject({ family: 'numeric', precision: 38, scale: 10 });
      expect(fam.updated_at).toMatchObject({ family: 'timestamptz' });
      expect(fam.p).toMatchObject({ family: 'integer' });
      expect(fam.v).toMatchObject({ family: 'varchar', length: 80 });
      expect((await readTargetColumns(rs, { schema: f.target.schema, name: 'line_items' })).map((c) => c.name)).toEqual(['order_id', 'line_no', 'qty', 'modified_at']);
    } finally {
      await rs.end();
    }

    await f.meta(`UPDATE tables SET max_primary_key = '["42"]', max_updated_key = '2024-01-01 00:00:00+00' WHERE source_name = 'Order'`);
    const before = (await f.meta(`SELECT * FROM tables ORDER BY id`)).rows;
    const second = await runSetup(f.metaUrl, { jobName: f.jobName }, { log });
    expect(second.ok, second.output).toBe(true);
    expect(second.tables.every((t) => t.targetAction === 'exists' && t.rowAction === 'kept')).toBe(true);
    expect(second.redshiftStatements).toEqual([]);
    expect(second.metadataStatements).toEqual([]);
    expect((await f.meta(`SELECT * FROM tables ORDER BY id`)).rows).toEqual(before);

    await f.source(`CREATE TABLE "Late Arrival" (id int PRIMARY KEY)`);
    const third = await runSetup(f.metaUrl, { jobName: f.jobName }, { log });
    expect(third.tables.filter((t) => t.rowAction === 'added').map((t) => t.source)).toEqual(['public.Late Arrival']);
    expect((await f.meta(`SELECT * FROM tables WHERE source_name <> 'Late Arrival' ORDER BY id`)).rows).toEqual(before);
  });

  it('every mapped type loads through the sync engine into the created target, every column equal to the source', async () => {
    expect((await runSetup(f.metaUrl, { jobName: f.jobName }, { log })).ok).toBe(true);
    await f.source(`INSERT INTO "Order" VALUES (1, 'sel', 2, 3, 1234.56, 1.5, 1.25, 2.5, true, '2024-02-29', '13:45:00.5', '13:45:00+05:30',
      '2024-02-29 23:59:59.999999', now(), '1 day 02:03:04', 'ééé', 'free text', 'ab', gen_random_uuid(), '{"a": [1, 2], "b": "x"}', '{"b": {"c": null}}',
      '{1,2,3}', ROW('Main St', 12345), 'happy', 7, '\\x0102ff', '192.168.0.1', '10.0.0.0/8', 12.34, B'1010')`);
    await f.source(`INSERT INTO "Order" (id, updated_at) VALUES (2, now())`);
    const r = await f.sync({ table: 'Order' });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.tables[0]!.rows).toBe(2);
    // All 30 columns, as text, against the source (json as its canonical jsonb text, char(3) without padding).
    expect(await expectReplica(f, { name: 'Order' }, { schema: f.target.schema })).toBe(2);
    // And the values a reader of the target sees, for a few types whose text could drift.
    const got = await f.redshift(`SELECT "select", v, n::text AS n, c, by, m, iv, bits, arr, comp FROM ${f.target.schema}."Order" WHERE id = 1`);
    expect(got.rows[0]).toEqual({ select: 'sel', v: 'ééé', n: '1234.56', c: 'ab ', by: '\\x0102ff', m: '$12.34', iv: '1 day 02:03:04', bits: '1010', arr: '{1,2,3}', comp: '("Main St",12345)' });
  });
});
