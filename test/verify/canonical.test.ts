import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSetup } from '../../src/setup/setup.js';
import { quoteIdent } from '../../src/sql/quote.js';
import { canonicalColumn, type ColumnCanon } from '../../src/schema/canonical.js';
import { verifyColumnsOf } from '../../src/verify/plan.js';
import { sourceColumnsForDrift } from '../../src/schema/drift.js';
import { targetDescription } from '../helpers/redshift.js';
import { syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';
import type pg from 'pg';
import { ALL_TYPES_COLUMNS, ALL_TYPES_DDL, fillAllTypes } from './types.js';

/**
 * The canonical text of every mapped type must be the same on both sides for the same value:
 * a table with a column of each type goes through setup (mapType) and a real sync, then each
 * column's canonical expression is evaluated on the source and on the target, row by row.
 */
describe(`verify's canonical texts, Postgres and ${targetDescription}`, () => {
  let f: SyncFixture;
  let canons: ColumnCanon[] = [];
  let skipped: Array<{ name: string; reason: string }> = [];
  beforeAll(async () => {
    f = await syncFixture('vcanon');
    await f.source(ALL_TYPES_DDL);
    await fillAllTypes(f, 60);
    const s = await runSetup(f.metaUrl, { jobName: f.jobName }, { log: f.log });
    expect(s.ok, s.output).toBe(true);
    const r = await f.sync();
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const src = verifyColumnsOf(await sourceColumnsForDrift({ query: (q: string, p: unknown[]) => f.source(q, p) } as unknown as pg.ClientBase, 'public', 'all_types'));
    const tgt = await f.redshift(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'all_types' AND a.attnum > 0 AND NOT a.attisdropped`,
      [f.target.schema],
    );
    const types = new Map(tgt.rows.map((x) => [x.name as string, x.type as string]));
    for (const c of src) {
      const res = canonicalColumn(c, types.get(c.name)!);
      if (res.ok) canons.push(res.canon);
      else skipped.push(res.skipped);
    }
  });
  afterAll(() => f.close());

  it('skips exactly the columns no text can compare exactly, saying why', () => {
    expect(skipped.map((s) => s.name)).toEqual(['f4', 'f8', 'j']);
    expect(skipped[0]!.reason).toMatch(/^real into REAL: floating point; Redshift prints REAL\/DOUBLE PRECISION with a fixed number of digits/);
    expect(skipped[2]!.reason).toMatch(/^json into SUPER: json \(unlike jsonb\) keeps its text's key order/);
    expect(canons.map((c) => c.name)).toEqual(['id', ...ALL_TYPES_COLUMNS.filter((c) => !['f4', 'f8', 'j'].includes(c))]);
  });

  it('gives the same text on both sides for every row of every other mapped type', async () => {
    const t = `${quoteIdent(f.target.schema)}.all_types`;
    for (const c of canons) {
      const want = (await f.source(`SELECT id, ${c.source} AS v FROM all_types ORDER BY id`)).rows.map((r) => [r.id, r.v]);
      const got = (await f.redshift(`SELECT id, ${c.target} AS v FROM ${t} ORDER BY id`)).rows.map((r) => [r.id, r.v]);
      expect(got, `column ${c.name} (${c.sourceType} into ${c.targetType}): ${c.source} vs ${c.target}`).toEqual(want);
    }
  });

  it('spells the canonical forms as documented: ISO text in UTC to the microsecond, target scale, t/f, compact JSON, padding kept', async () => {
    const t = `${quoteIdent(f.target.schema)}.all_types`;
    const pick = async (col: string, id: number) => {
      const c = canons.find((x) => x.name === col)!;
      return (await f.redshift(`SELECT ${c.target} AS v FROM ${t} WHERE id = $1`, [id])).rows[0].v as string | null;
    };
    expect(await pick('tstz', 1)).toBe('1970-01-01 00:00:00+00');
    expect(await pick('ts', 1)).toBe('0044-03-15 10:00:00 BC');
    expect(await pick('d', 1)).toBe('0044-03-15 BC');
    expect(await pick('tstz', 4)).toBe('2024-06-01 07:38:00.123456+00');
    expect(await pick('ts', 4)).toBe('2024-03-01 04:00:04.000003');
    expect(await pick('n_free', 1)).toBe('-0.0000000001');
    expect(await pick('n_free', 4)).toBe('0.5000000000');
    expect(await pick('n_12_2', 4)).toBe('-398.52');
    expect(await pick('b', 4)).toBe('t');
    expect(await pick('ch', 4)).toBe('c4   ');
    expect(await pick('t', 5)).toBe('ends with blanks  ');
    expect(await pick('jb', 4)).toBe('{"a":"x, y: 4","b":[1,2.50,null],"k":{"m":1000,"z":true}}');
    expect(await pick('tmtz', 4)).toBe('04:30:00.250000');
    expect(await pick('t', 2)).toBe(null);
    expect(await pick('t', 3)).toBe('');
  });
});
