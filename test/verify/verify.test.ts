import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSetup } from '../../src/setup/setup.js';
import { verifyJob } from '../../src/verify/run.js';
import type { TableReport } from '../../src/verify/report.js';
import { expectReplica } from '../helpers/compare.js';
import { targetDescription } from '../helpers/redshift.js';
import { syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';
import { ALL_TYPES_COLUMNS, ALL_TYPES_DDL, fillAllTypes } from './types.js';

/**
 * Divergences injected into a synced target, one of each kind: verify must find exactly
 * those rows (and name the differing columns), and --repair must make the table verify clean.
 */
describe(`verify and --repair against ${targetDescription}`, () => {
  let f: SyncFixture;
  let t: string;
  const verify = async (opts: { repair?: boolean; table?: string } = {}) =>
    verifyJob(f.metaUrl, f.jobName, { tableGlob: opts.table, repair: opts.repair }, { env: f.env, log: f.log });
  const byTable = (r: { tables: TableReport[] }, name: string) => r.tables.find((x) => x.table === `public.${name}`)!;
  const compared = ALL_TYPES_COLUMNS.filter((c) => !['f4', 'f8', 'j'].includes(c));

  beforeAll(async () => {
    f = await syncFixture('vfind');
    t = `"${f.target.schema}"`;
    await f.source(ALL_TYPES_DDL);
    await fillAllTypes(f, 3000);
    await f.source(`CREATE TABLE codes (code varchar(10) PRIMARY KEY, v integer)`);
    await f.source(`INSERT INTO codes VALUES ('abc', 1), ('abd', 2), ('x', 3), ('', 5)`);
    const s = await runSetup(f.metaUrl, { jobName: f.jobName }, { log: f.log });
    expect(s.ok, s.output).toBe(true);
    const r = await f.sync();
    expect(r.ok, JSON.stringify(r)).toBe(true);
  });
  afterAll(() => f.close());

  it('finds nothing in a faithful replica, and says what it compared and skipped', async () => {
    const r = await verify();
    expect(r.ok).toBe(true);
    const a = byTable(r, 'all_types');
    expect(a).toMatchObject({
      status: 'match',
      mode: 'FULL_DATA_SYNC',
      strategy: 'range',
      compared: { sourceRows: 3000, targetRows: 3000 },
      missing: { count: 0 },
      extra: { count: 0 },
      differ: { count: 0 },
      rowsTransferred: 0,
    });
    expect(a.compared!.columns).toEqual(['id', ...compared]);
    expect(a.skippedColumns.map((s) => s.name)).toEqual(['f4', 'f8', 'j']);
    expect(a.liveRule).toMatch(/^FULL_DATA_SYNC: the target is the source as of its last full copy/);
    expect(byTable(r, 'codes')).toMatchObject({ status: 'match', strategy: 'hash', compared: { sourceRows: 4, targetRows: 4 } });
    // The result is on the tables row.
    const row = await f.meta(`SELECT verified_at, verify_result FROM tables WHERE source_name = 'all_types'`);
    expect(row.rows[0].verified_at).toBeInstanceOf(Date);
    expect(row.rows[0].verify_result).toMatchObject({ status: 'match', summary: 'match' });
  });

  it('finds exactly the injected rows: missing, extra, duplicated, a change in each mapped type, NULL vs empty, shifted zones, a truncated numeric, a key differing by trailing blanks', async () => {
    await f.redshift(`DELETE FROM ${t}.all_types WHERE id IN (5, 2999)`);
    await f.redshift(`INSERT INTO ${t}.all_types SELECT * FROM ${t}.all_types WHERE id = 6`); // a duplicate of key 6
    await f.redshift(`UPDATE ${t}.all_types SET id = 5000 WHERE id = 2998`); // extra 5000, missing 2998
    // One changed value per compared column, row 100 + column index; booleans flip, everything else takes the next row's value.
    const changedIds: Record<number, string> = {};
    for (const [i, c] of compared.entries()) {
      const id = 100 + i;
      changedIds[id] = c;
      if (c === 'b') await f.redshift(`UPDATE ${t}.all_types SET b = NOT b WHERE id = ${id}`);
      else await f.redshift(`UPDATE ${t}.all_types SET "${c}" = (SELECT "${c}" FROM ${t}.all_types WHERE id = ${id + 1}) WHERE id = ${id}`);
    }
    // NULL vs '' both ways, a zone shift on each timestamp type, a truncated numeric.
    await f.redshift(`UPDATE ${t}.all_types SET t = NULL WHERE id = 3`);
    await f.redshift(`UPDATE ${t}.all_types SET t = '' WHERE id = 2`);
    await f.redshift(`UPDATE ${t}.all_types SET tstz = tstz + INTERVAL '2 hours' WHERE id = 200`);
    await f.redshift(`UPDATE ${t}.all_types SET ts = ts - INTERVAL '5 hours' WHERE id = 201`);
    await f.redshift(`UPDATE ${t}.all_types SET n_12_2 = TRUNC(n_12_2, 1) WHERE id = 43`);
    // 'abc' becomes 'abc ' (equal for Redshift's =), and 'x' gains a twin 'x  '.
    await f.redshift(`UPDATE ${t}.codes SET code = 'abc ' WHERE code = 'abc' AND v = 1`);
    await f.redshift(`INSERT INTO ${t}.codes VALUES ('x  ', 3)`);

    const r = await verify();
    expect(r.ok).toBe(false);
    const a = byTable(r, 'all_types');
    expect(a.status).toBe('differ');
    expect(a.missing).toEqual({ count: 3, examples: ['id=5', 'id=2998', 'id=2999'] });
    expect(a.extra).toEqual({ count: 2, duplicates: 1, examples: ['id=6', 'id=5000'] });
    const want = new Map<string, string[]>(Object.entries(changedIds).map(([id, c]) => [`id=${id}`, [c]]));
    want.set('id=2', ['t']);
    want.set('id=3', ['t']);
    want.set('id=200', ['tstz']);
    want.set('id=201', ['ts']);
    want.set('id=43', ['n_12_2']);
    expect(a.differ.count).toBe(want.size);
    const got = new Map(a.differ.examples.map((e) => [e.key, e.columns]));
    // Every stored example is one of the injected rows with exactly its column; all columns are counted.
    for (const [k, cols] of got) expect(cols, k).toEqual(want.get(k));
    const perColumn: Record<string, number> = {};
    for (const cols of want.values()) for (const c of cols) perColumn[c] = (perColumn[c] ?? 0) + 1;
    expect(a.differ.columns).toEqual(perColumn);
    expect(a.rowsTransferred).toBeGreaterThan(0);
    expect(a.rowsTransferred).toBeLessThan(6000);

    const c = byTable(r, 'codes');
    expect(c).toMatchObject({ status: 'differ', strategy: 'hash' });
    expect(c.missing).toEqual({ count: 1, examples: ['code="abc"'] });
    expect(c.extra).toEqual({ count: 2, duplicates: 0, examples: ['code="abc "', 'code="x  "'] });
    expect(c.differ.count).toBe(0);
    const stored = await f.meta(`SELECT verify_result->>'summary' AS s FROM tables WHERE source_name = 'codes'`);
    expect(stored.rows[0].s).toBe('differs: 1 missing, 2 only in target');
  });

  it('--repair re-syncs just those keys through staging and one merge, records it in sync_runs, and the tables verify clean', async () => {
    const before = await f.meta(`SELECT max_primary_key, max_updated_key FROM tables ORDER BY id`);
    const r = await verify({ repair: true });
    expect(r.ok, JSON.stringify(r.tables.map((x) => x.repair))).toBe(true);
    const a = byTable(r, 'all_types');
    expect(a.repair).toMatchObject({ status: 'repaired', missing: 3, extra: 2, differ: compared.length + 5, reverify: { missing: 0, extra: 0, differ: 0 } });
    // Loaded: the missing and differing keys plus key 6 (its duplicate is replaced by one row); deleted: every target row of those keys and the extra ones.
    expect(a.repair!.loaded).toBe(3 + compared.length + 5 + 1);
    expect(a.repair!.deleted).toBe(compared.length + 5 + 2 + 1);
    const c = byTable(r, 'codes');
    expect(c.repair).toMatchObject({ status: 'repaired', missing: 1, extra: 2, loaded: 1, deleted: 2, reverify: { missing: 0, extra: 0, differ: 0 } });
    const runs = await f.meta(`SELECT t.source_name, r.kind, r.status, r.rows, r.rows_deleted, r.repaired FROM sync_runs r JOIN tables t ON t.id = r.table_id WHERE r.kind = 'repair' ORDER BY r.id`);
    expect(runs.rows.map((x) => [x.source_name, x.kind, x.status, x.rows, x.rows_deleted])).toEqual([
      ['all_types', 'repair', 'succeeded', String(a.repair!.loaded), String(a.repair!.deleted)],
      ['codes', 'repair', 'succeeded', '1', '2'],
    ]);
    expect(runs.rows[1].repaired).toMatchObject({ missing: 1, extra: 2, differ: 0, examples: { missing: [['abc']], extra: [['abc '], ['x  ']] } });
    // Watermarks untouched.
    expect((await f.meta(`SELECT max_primary_key, max_updated_key FROM tables ORDER BY id`)).rows).toEqual(before.rows);
    const again = await verify();
    expect(again.tables.map((x) => [x.table, x.status])).toEqual([
      ['public.all_types', 'match'],
      ['public.codes', 'match'],
    ]);
    await expectReplica({ source: f.source, redshift: f.redshift }, { name: 'codes' }, { schema: f.target.schema });
    const keys = await f.redshift(`SELECT code || '|' AS k FROM ${t}.codes ORDER BY 1`);
    expect(keys.rows.map((x) => x.k as string).sort()).toEqual(['abc|', 'abd|', 'x|', '|']);
  });
});
