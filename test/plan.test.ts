import { describe, expect, it } from 'vitest';
import { PlanError, batchKeysFromRows, batchKeysSql, capQuery, declareBatchKeysSql, durableWatermark, fileCount, planBatch, planFile, planTable, rowsPerFile, seenSettings, tupleToWatermark, watermarkFromRow } from '../src/sync/plan.js';
import type { SourceColumn, TableRow } from '../src/metadata/types.js';

const cols: SourceColumn[] = [
  { name: 'id', type: 'bigint', notNull: true },
  { name: 'Region', type: 'text', notNull: true },
  { name: 'updated_at', type: 'timestamp with time zone', notNull: false },
  { name: 'select', type: 'character varying(20)', notNull: false },
];

function row(over: Partial<TableRow>): TableRow {
  return {
    id: 1,
    jobId: 1,
    sourceSchema: 'public',
    sourceName: 'orders',
    destinationSchema: null,
    destinationName: null,
    copyMode: 'INSERT_ONLY',
    primaryKey: 'id',
    updatedKey: null,
    disabled: false,
    maxPrimaryKey: null,
    maxPrimaryKeyJson: null,
    maxUpdatedKey: null,
    rowLimit: null,
    chunkSize: null,
    ...over,
  };
}
const defaults = { rowLimit: 1000, chunkSize: 100, destinationSchema: 'analytics' };

describe('planTable', () => {
  it('resolves target names and limits from the row and the job', () => {
    const p = planTable(row({ destinationName: 'orders_rs', rowLimit: 50 }), cols, defaults, 'j');
    expect(p.target).toEqual({ schema: 'analytics', name: 'orders_rs' });
    expect(p.rowLimit).toBe(50);
    expect(p.chunkSize).toBe(100);
    expect(p.keysetColumns).toEqual(['id']);
  });

  it('names job, table and column in every configuration error', () => {
    expect(() => planTable(row({ primaryKey: 'nope' }), cols, defaults, 'shop')).toThrow(
      new PlanError('job "shop", table public.orders: primary_key column "nope" does not exist in the source table'),
    );
    expect(() => planTable(row({ primaryKey: null }), cols, defaults, 'shop')).toThrow(/INSERT_ONLY needs primary_key/);
    expect(() => planTable(row({ copyMode: 'INSERT_AND_UPDATE' }), cols, defaults, 'shop')).toThrow(/INSERT_AND_UPDATE needs updated_key/);
    expect(() => planTable(row({ copyMode: 'INSERT_AND_UPDATE', updatedKey: 'Region' }), cols, defaults, 'shop')).toThrow(/updated_key column "Region" is text; it must be a timestamp/);
    expect(() => planTable(row({ copyMode: 'UPSERT' as never }), cols, defaults, 'shop')).toThrow(/unknown copy_mode "UPSERT"/);
    expect(() => planTable(row({}), [], defaults, 'shop')).toThrow(/not found/);
  });

  it('rejects a watermark that does not fit the key', () => {
    const p = planTable(row({ primaryKey: 'id, Region' }), cols, defaults, 'j');
    // The metadata DB reads each JSON element as exact text (test/exact-watermark.test.ts).
    expect(() => watermarkFromRow(row({ primaryKey: 'id, Region', maxPrimaryKey: ['5'], maxPrimaryKeyJson: '[5]' }), p, 'j')).toThrow(/max_primary_key \[5\] does not match primary_key \(id, Region\)/);
    expect(() => watermarkFromRow(row({ primaryKey: 'id, Region', maxPrimaryKey: ['5', null], maxPrimaryKeyJson: '[5, {"a": 1}]' }), p, 'j')).toThrow(/string\(s\) or number\(s\)/);
    expect(watermarkFromRow(row({ primaryKey: 'id, Region', maxPrimaryKey: ['5', 'eu'] }), p, 'j')).toEqual({ updatedKey: null, primaryKey: ['5', 'eu'] });
  });
});

describe("a batch's keyset (the key cursor and each file's COPY)", () => {
  const from0 = { updatedKey: null, primaryKey: null };
  it('INSERT_ONLY from the start', () => {
    const p = planTable(row({}), cols, defaults, 'j');
    const q = planBatch(p, from0);
    expect(q).toEqual({ settings: '[]', countSql: null, copySql: null });
    expect(declareBatchKeysSql(p, from0)).toMatchSnapshot();
  });

  it('INSERT_ONLY with a composite text key resumes by row comparison', () => {
    const p = planTable(row({ primaryKey: 'Region,id' }), cols, defaults, 'j');
    const from = { updatedKey: null, primaryKey: ['eu', '10'] };
    expect(planBatch(p, from).settings).toBe('["eu","10"]');
    const cursor = declareBatchKeysSql(p, from);
    expect(cursor).toContain(`WHERE ("Region", "id") > ((current_setting('redshift_loader.wm')::jsonb ->> 0)::text, (current_setting('redshift_loader.wm')::jsonb ->> 1)::bigint)`);
    expect(cursor).toContain('ORDER BY "Region", "id"\nLIMIT 1000');
    expect(cursor).toMatchSnapshot();
  });

  it('INSERT_AND_UPDATE orders by (updated_key, pk) and resumes after the tuple', () => {
    const p = planTable(row({ copyMode: 'INSERT_AND_UPDATE', updatedKey: 'updated_at' }), cols, defaults, 'j');
    const from = { updatedKey: '2024-01-01 00:00:00.123456+00', primaryKey: ['42'] };
    expect(planBatch(p, from).settings).toBe('["2024-01-01 00:00:00.123456+00","42"]');
    const cursor = declareBatchKeysSql(p, from);
    expect(cursor).toContain('WHERE ("updated_at", "id") > (');
    expect(cursor).toContain('ORDER BY "updated_at", "id"');
    expect(cursor).toMatchSnapshot();
    // After a capped or overlapped start only the timestamp is known: >= re-reads ties.
    expect(declareBatchKeysSql(p, { updatedKey: '2024-01-01 00:00:00+00', primaryKey: null })).toContain(
      `WHERE "updated_at" >= (current_setting('redshift_loader.wm')::jsonb ->> 0)::timestamp with time zone`,
    );
  });

  it("with a record of the previous run, the cursor and every file skip the rows it had read", () => {
    const p = { ...planTable(row({ copyMode: 'INSERT_AND_UPDATE', updatedKey: 'updated_at' }), cols, defaults, 'j'), seen: { xmin: '1000', from: { updatedKey: '2024-01-01 00:00:00+00', primaryKey: null }, upTo: ['2024-01-02 00:00:00+00', '9'] } };
    const skip = `NOT ("updated_at" >= (current_setting('redshift_loader.seen')::jsonb ->> 2)::timestamp with time zone`;
    expect(declareBatchKeysSql(p, { updatedKey: '2024-01-01 23:59:00+00', primaryKey: null })).toContain(skip);
    const file = planFile(p, { updatedKey: '2024-01-01 23:59:00+00', primaryKey: null }, ['2024-01-03 00:00:00+00', '1']);
    expect(file.copySql).toContain(skip);
    expect(file.copySql).toMatchSnapshot();
    expect(seenSettings(p, '1234')).toBe('["1000","1234","2024-01-01 00:00:00+00","2024-01-02 00:00:00+00","9"]');
    expect(seenSettings({ ...p, seen: null }, null)).toBe('[]');
  });

  it('FULL_DATA_SYNC without a key reads the whole table in one stream', () => {
    const q = planBatch(planTable(row({ copyMode: 'FULL_DATA_SYNC', primaryKey: null }), cols, defaults, 'j'), from0);
    expect(q.countSql).toBe('SELECT count(*)::bigint AS n FROM "public"."orders"');
    expect(q.copySql).not.toContain('LIMIT');
    expect(q.copySql).toMatchSnapshot();
  });

  it('quotes reserved and mixed-case names', () => {
    const q = planBatch(planTable(row({ sourceSchema: 'Sales "EU"', sourceName: 'order', copyMode: 'FULL_DATA_SYNC', primaryKey: null }), cols, defaults, 'j'), from0);
    expect(q.copySql).toContain('FROM "Sales ""EU"""."order"');
    expect(q.copySql).toContain('"select"');
  });

  it('the late-commit cap is taken in the updated key\'s own time base', () => {
    const tz = planTable(row({ copyMode: 'INSERT_AND_UPDATE', updatedKey: 'updated_at' }), cols, defaults, 'j');
    expect(capQuery(tz, '2024-01-01 10:00:00+00', null, '2024-01-01 10:00:01+00')).toEqual({
      text: 'SELECT c::text AS cap, $2::timestamp with time zone >= c AS reached FROM (SELECT $1::timestamptz AS c) x',
      values: ['2024-01-01 10:00:00+00', '2024-01-01 10:00:01+00'],
    });
    const wall = planTable(row({ copyMode: 'INSERT_AND_UPDATE', updatedKey: 'updated_at' }), cols.map((c) => (c.name === 'updated_at' ? { ...c, type: 'timestamp without time zone' } : c)), defaults, 'j');
    expect(capQuery(wall, '2024-01-01 10:00:00+00', 'America/New_York', '2024-01-01 05:00:01')).toEqual({
      text: 'SELECT c::text AS cap, $2::timestamp without time zone >= c AS reached FROM (SELECT ($1::timestamptz AT TIME ZONE $3::text)::timestamp without time zone AS c) x',
      values: ['2024-01-01 10:00:00+00', '2024-01-01 05:00:01', 'America/New_York'],
    });
  });
});

describe('per-file extracts (Postgres cuts the files by key range)', () => {
  const p = planTable(row({ copyMode: 'INSERT_AND_UPDATE', updatedKey: 'updated_at' }), cols, defaults, 'j');
  it('the first file starts at the batch start, the others after the previous split, all end at a split', () => {
    const first = planFile(p, { updatedKey: '2024-01-01 00:00:00+00', primaryKey: null }, ['2024-01-02 00:00:00+00', '7']);
    expect(first.lo).toBe('["2024-01-01 00:00:00+00"]');
    expect(first.hi).toBe('["2024-01-02 00:00:00+00","7"]');
    expect(first.copySql).toMatchSnapshot();
    const next = planFile(p, tupleToWatermark(p, ['2024-01-02 00:00:00+00', '7']), ['2024-01-03 00:00:00+00', '9']);
    expect(next.copySql).toContain(`WHERE ("updated_at", "id") > ((current_setting('redshift_loader.lo')::jsonb ->> 0)::timestamp with time zone`);
    expect(next.copySql).toContain(`AND ("updated_at", "id") <= ((current_setting('redshift_loader.hi')::jsonb ->> 0)::timestamp with time zone`);
    expect(next.copySql).not.toContain('LIMIT');
  });
  it('one scan of the batch keys gives the size, the last key and every n-th key', () => {
    expect(batchKeysSql(p, { updatedKey: null, primaryKey: null })).toMatchSnapshot();
    const rows = [
      { k0: '2024-01-01 00:00:00+00', k1: '3', rn: '2', is_last: false },
      { k0: '2024-01-01 00:00:00+00', k1: '9', rn: '4', is_last: false },
      { k0: '2024-01-02 00:00:00+00', k1: '1', rn: '5', is_last: true },
    ];
    expect(batchKeysFromRows(p, rows)).toEqual({
      rows: 5,
      last: ['2024-01-02 00:00:00+00', '1'],
      splits: [['2024-01-01 00:00:00+00', '3'], ['2024-01-01 00:00:00+00', '9']],
    });
    // The last row can also be a boundary (rows a multiple of n): it ends the last file only.
    expect(batchKeysFromRows(p, [{ k0: 'a', k1: '1', rn: '2', is_last: false }, { k0: 'b', k1: '2', rn: '4', is_last: true }])).toEqual({ rows: 4, last: ['b', '2'], splits: [['a', '1']] });
    expect(batchKeysFromRows(p, [])).toEqual({ rows: 0, last: [], splits: [] });
  });
});

describe('files and watermarks', () => {
  it('rounds the file count up to a multiple of the slices', () => {
    expect(fileCount(0, 100, 4)).toBe(0);
    expect(fileCount(1, 100, 4)).toBe(4);
    expect(fileCount(450, 100, 4)).toBe(8);
    expect(fileCount(800, 100, 4)).toBe(8);
    expect(rowsPerFile(450, 8)).toBe(57);
  });

  it('never stores an updated_key watermark past the oldest open transaction', () => {
    const p = planTable(row({ copyMode: 'INSERT_AND_UPDATE', updatedKey: 'updated_at' }), cols, defaults, 'j');
    const last = { updatedKey: '2024-01-01 10:00:00+00', primaryKey: ['9'] };
    expect(durableWatermark(p, last, '2024-01-01 09:00:00+00', true)).toEqual({ updatedKey: '2024-01-01 09:00:00+00', primaryKey: null });
    expect(durableWatermark(p, last, '2024-01-01 11:00:00+00', false)).toEqual(last);
  });
});
