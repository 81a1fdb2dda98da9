import { describe, expect, it } from 'vitest';
import * as rsql from '../../src/redshift/sql.js';
import type { TableRow } from '../../src/metadata/types.js';
import { compareKeys, matchRows, restrictionsFor, type LeafRow } from '../../src/verify/compare.js';
import { planVerify, type PlanInput } from '../../src/verify/plan.js';
import { planTable } from '../../src/sync/plan.js';
import { formatTableReport, summarizeReport } from '../../src/verify/report.js';
import * as vsql from '../../src/verify/sql.js';

/** Every statement verify sends, snapshot-tested (the integration tests run exactly this SQL). */
const row = (o: Partial<TableRow>): TableRow => ({
  id: 1, jobId: 1, sourceSchema: 'public', sourceName: 'Orders', destinationSchema: null, destinationName: null, copyMode: 'INSERT_AND_UPDATE',
  primaryKey: 'id', updatedKey: 'updated_at', disabled: false, maxPrimaryKey: ['10'], maxPrimaryKeyJson: '["10"]', maxUpdatedKey: '2024-01-01 00:00:00+00',
  rowLimit: null, chunkSize: null, deleteDetection: true, ...o,
});

const base: PlanInput = {
  job: 'shop',
  table: row({}),
  destinationSchema: 'analytics',
  sourceColumns: [
    { name: 'id', type: 'bigint', notNull: true },
    { name: 'note', type: 'text', notNull: false },
    { name: 'amount', type: 'numeric', notNull: false },
    { name: 'updated_at', type: 'timestamp with time zone', notNull: true },
    { name: 'meta', type: 'jsonb', notNull: false },
    { name: 'ratio', type: 'double precision', notNull: false },
  ],
  targetColumns: [
    { name: 'id', type: 'bigint' },
    { name: 'note', type: 'character varying(65535)' },
    { name: 'amount', type: 'numeric(38,10)' },
    { name: 'updated_at', type: 'timestamp with time zone' },
    { name: 'meta', type: 'super' },
    { name: 'ratio', type: 'double precision' },
  ],
  updatedKeyCutoff: '2023-12-31 23:59:00+00',
};

describe('verify SQL', () => {
  it('plans an INSERT_AND_UPDATE table: columns, skipped floats, key ranges, the live rule on both sides', () => {
    const p = planVerify(base);
    expect(p.strategy).toBe('range');
    expect(p.skipped).toEqual([{ name: 'ratio', reason: expect.stringMatching(/^double precision into DOUBLE PRECISION: floating point/) }]);
    expect(p.live).toMatchSnapshot();
    expect(p.shape.longValueBytes).toBe(4096);
    expect(p.notes).toEqual(['rows deleted at the source since the last delete detection are still in the target, and are listed as rows only in the target']);
  });

  it("INSERT_AND_UPDATE with the last run's record: the window's rows that run read are compared (the engine's seen filter)", () => {
    const seen = { xmin: '1000', from: { updatedKey: '2023-12-31 23:58:00+00', primaryKey: null }, upTo: ['2024-01-01 00:00:00+00', '10'] };
    const cols = base.sourceColumns.map((c) => ({ name: c.name, type: c.type, notNull: c.notNull }));
    const ep = planTable(row({ watermarkSnapshot: seen }), cols, { rowLimit: 1, chunkSize: 1, destinationSchema: 'analytics' }, 'shop');
    const p = planVerify({ ...base, seenPlan: { ...ep, seen } });
    const { seen: s, ...rest } = p.live;
    expect(rest).toMatchSnapshot();
    expect(s!.settings('2000')).toBe('["1000","2000","2023-12-31 23:58:00+00","2024-01-01 00:00:00+00","10"]');
  });

  it('summaries, leaves and left-out checks on each side (range cut)', () => {
    const p = planVerify(base);
    const cut = { kind: 'range' as const, width: 1024n };
    const some = { kind: 'intervals' as const, intervals: [[0n, 1023n], [4096n, 4096n]] as Array<[bigint, bigint]> };
    expect(vsql.summarySql('postgres', p.source, p.shape, cut, { kind: 'all' }, p.live.sourceFilter)).toMatchSnapshot();
    expect(vsql.summarySql('redshift', p.target, p.shape, cut, { kind: 'all' }, p.live.targetFilter)).toMatchSnapshot();
    expect(vsql.summarySql('redshift', p.target, p.shape, { kind: 'range', width: 64n }, some, p.live.targetFilter)).toMatchSnapshot();
    expect(vsql.leafSql('postgres', p.source, p.shape, cut, some, p.live.sourceFilter)).toMatchSnapshot();
    expect(vsql.leafSql('redshift', p.target, p.shape, cut, some, p.live.targetFilter)).toMatchSnapshot();
    expect(vsql.excludedCountSql('redshift', p.target, p.live.targetFilter!)).toMatchSnapshot();
    expect(vsql.targetKeysLeftOutSql(p.target, p.shape.key, 2, p.live.targetFilter!, 2)).toMatchSnapshot();
    expect(vsql.sourceKeysLeftOutSql(p.source, p.shape.key, p.live.sourceFilter!)).toMatchSnapshot();
    expect(rsql.startSnapshot(p.target)).toBe('SELECT COUNT(*) AS n FROM "analytics"."Orders" WHERE 1 = 0');
  });

  it('hash cut for a composite text key, and INSERT_ONLY rules (integers on both sides; other keys at the source)', () => {
    const text = planVerify({
      ...base,
      table: row({ copyMode: 'INSERT_ONLY', primaryKey: 'region, code', updatedKey: null, maxPrimaryKey: ['eu', 'a'], maxPrimaryKeyJson: '["eu", "a"]', maxUpdatedKey: null }),
      sourceColumns: [{ name: 'region', type: 'text', notNull: true }, { name: 'code', type: 'character(4)', notNull: true }, { name: 'n', type: 'integer', notNull: false }],
      targetColumns: [{ name: 'region', type: 'character varying(400)' }, { name: 'code', type: 'character varying(16)' }, { name: 'n', type: 'integer' }],
      updatedKeyCutoff: null,
    });
    expect(text.strategy).toBe('hash');
    expect(text.live).toMatchSnapshot();
    expect(vsql.summarySql('redshift', text.target, text.shape, { kind: 'hash', digits: 3 }, { kind: 'prefixes', digits: 2, prefixes: ['0a', 'ff'] }, text.live.targetFilter)).toMatchSnapshot();
    expect(vsql.summarySql('postgres', text.source, text.shape, { kind: 'hash', digits: 3 }, { kind: 'prefixes', digits: 2, prefixes: ['0a', 'ff'] }, text.live.sourceFilter)).toMatchSnapshot();
    expect(vsql.repairSelectSql(text.source, ['region', 'code', 'n'], text.shape.key)).toMatchSnapshot();
    const ints = planVerify({ ...base, table: row({ copyMode: 'INSERT_ONLY', primaryKey: 'id', updatedKey: null, maxUpdatedKey: null }), updatedKeyCutoff: null });
    expect(ints.live).toMatchSnapshot();
    const keyless = planVerify({ ...base, table: row({ copyMode: 'FULL_DATA_SYNC', primaryKey: null, updatedKey: null }), updatedKeyCutoff: null });
    expect(keyless.strategy).toBe('whole');
    expect(vsql.summarySql('redshift', keyless.target, keyless.shape, { kind: 'whole' }, { kind: 'all' }, null)).toMatchSnapshot();
  });

  it("repair's Redshift statements: exact key deletes (VARCHAR keys by byte length too), staged-key delete", () => {
    const key = [{ name: 'region', text: true }, { name: 'id', text: false }];
    expect(rsql.deleteMatchingKeys({ schema: 'analytics', name: 'Orders' }, 'rl_repair_1', key)).toMatchSnapshot();
    expect(rsql.deleteKeys({ schema: 'analytics', name: 'Orders' }, key, 2)).toMatchSnapshot();
    expect(() => rsql.deleteKeys({ schema: 'a', name: 'b' }, key, 0)).toThrow(/at least one key/);
  });

  it('refuses bad configuration with one line naming job, table, column and the fix', () => {
    expect(() => planVerify({ ...base, table: row({ primaryKey: 'idd' }) })).toThrow('job "shop", table public.Orders: primary_key column "idd" is not a synced source column; fix primary_key in the tables row');
    expect(() => planVerify({ ...base, targetColumns: base.targetColumns.filter((c) => c.name !== 'id') })).toThrow(
      'job "shop", table public.Orders: key column "id" is missing from the target analytics.Orders; run a sync (schema drift adds columns) or fix the target',
    );
    expect(() => planVerify({ ...base, table: row({ copyMode: 'INSERT_ONLY', maxPrimaryKey: ['1', '2'], maxPrimaryKeyJson: '["1","2"]' }) })).toThrow(
      'job "shop", table public.Orders: max_primary_key ["1","2"] does not match primary_key (id); set it to a JSON array of 1 value(s), or NULL to resync',
    );
  });

  it('matches rows by exact key texts: trailing blanks make different keys; repeated keys pair off; changed columns named', () => {
    const p = planVerify({
      ...base,
      table: row({ copyMode: 'FULL_DATA_SYNC', primaryKey: 'code', updatedKey: null }),
      sourceColumns: [{ name: 'code', type: 'text', notNull: true }, { name: 'v', type: 'integer', notNull: false }],
      targetColumns: [{ name: 'code', type: 'character varying(40)' }, { name: 'v', type: 'integer' }],
    });
    const r = (k: string, v: string): LeafRow => ({ bucket: '0', k: [k], n: [k], h: [`h(${k})`, v] });
    const d = matchRows(p, [r('abc', '1'), r('x', '2'), r('y', '3')], [r('abc ', '1'), r('x', '2'), r('x', '2'), r('y', '4')]);
    expect(d.missing.map((x) => x.k[0])).toEqual(['abc']);
    expect(d.extra.map((x) => x.k[0])).toEqual(['abc ', 'x']);
    expect(d.duplicates).toBe(1);
    expect(d.changed.map((c) => [c.source.k[0], c.columns])).toEqual([['y', ['v']]]);
    expect(compareKeys(['10'], ['9'])).toBe(1);
    expect(compareKeys(['a', '2'], ['a', '10'])).toBe(-1);
    const rr = restrictionsFor({ kind: 'range', width: 16n }, ['3', '1', '2', '7', '-1']);
    expect(rr).toEqual([{ kind: 'intervals', intervals: [[-16n, -1n], [16n, 63n], [112n, 127n]], buckets: { width: 16n, list: [-1n, 1n, 2n, 3n, 7n] } }]);
    // The source reads the intervals (its index); Redshift one IN list of range numbers.
    expect(vsql.restrictionSql('postgres', p.shape, rr[0]!)).toBe('("code" BETWEEN -16 AND -1 OR "code" BETWEEN 16 AND 63 OR "code" BETWEEN 112 AND 127)');
    const ints = planVerify(base);
    expect(vsql.restrictionSql('redshift', ints.shape, rr[0]!)).toBe('CASE WHEN "id" >= 0 THEN "id" / 16 ELSE -1 - (-1 - "id") / 16 END IN (-1, 1, 2, 3, 7)');
    expect(vsql.restrictionSql('redshift', ints.shape, { kind: 'intervals', intervals: [[vsql.MIN_BIGINT, 99n]] })).toBe('("id" <= 99)');
    expect(compareKeys(['1'], ['1'])).toBe(0);
  });

  it('prints a report: counts, example keys with visible blanks, differing columns, skipped columns and notes', () => {
    const text = formatTableReport({
      job: 'shop', table: 'public.codes', target: 'analytics.codes', mode: 'FULL_DATA_SYNC', status: 'differ', strategy: 'hash',
      compared: { sourceRows: 4, targetRows: 5, columns: ['code', 'v'] }, skippedColumns: [{ name: 'f', reason: 'real into REAL: floating point' }],
      liveRule: null, leftOut: null, missing: { count: 1, examples: ['code="abc"'] }, extra: { count: 2, duplicates: 0, examples: ['code="abc "', 'code="x  "'] },
      differ: { count: 1, columns: { v: 1 }, examples: [{ key: 'code="y"', columns: ['v'] }] }, cannotNameRows: false, tooMany: null, notes: ['a note'],
      ranges: { total: 1, differing: 1, levels: 1 }, rowsTransferred: 9, seconds: 0.1,
    });
    expect(text).toMatchSnapshot();
    expect(summarizeReport({ status: 'differ', missing: { count: 1, examples: [] }, extra: { count: 2, duplicates: 0, examples: [] }, differ: { count: 1, columns: { v: 1 }, examples: [] }, tooMany: null, cannotNameRows: false })).toBe(
      'differs: 1 missing, 2 only in target, 1 differ (v)',
    );
  });
});
