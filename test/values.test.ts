import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSetup } from '../src/setup/setup.js';
import { expectReplica } from './helpers/compare.js';
import { targetDescription } from './helpers/redshift.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/**
 * Values a Postgres column holds that its Redshift column cannot (issue 16.4, 16.5): setup
 * picks types that hold what the columns have, a sync never changes a value silently, and
 * a table's value_policies change them only as documented, counted in sync_runs.
 */
describe(`values Redshift cannot hold, against ${targetDescription}`, () => {
  let f: SyncFixture;
  beforeAll(async () => {
    f = await syncFixture('rsval');
  });
  afterAll(() => f.close());

  const T = () => f.target.schema;
  const lastRun = async (name: string) =>
    (
      await f.meta(
        `SELECT r.status, r.error, r.values_changed, r.rows FROM sync_runs r JOIN tables t ON t.id = r.table_id WHERE t.source_name = $1 ORDER BY r.id DESC LIMIT 1`,
        [name],
      )
    ).rows[0];
  const watermark = async (name: string) => (await f.meta(`SELECT max_primary_key FROM tables WHERE source_name = $1`, [name])).rows[0].max_primary_key;
  const setPolicies = (name: string, p: object) => f.meta(`UPDATE tables SET value_policies = $2::jsonb WHERE source_name = $1`, [name, JSON.stringify(p)]);

  describe('unbounded numeric (16.4)', () => {
    it('setup measures the values, so 5,000 exchange rates with 20 to 30 decimals arrive exactly', async () => {
      await f.source(`CREATE TABLE rates (id int PRIMARY KEY, rate numeric NOT NULL)`);
      await f.source(`INSERT INTO rates SELECT g, round(10::numeric / (g + 3), 20) FROM generate_series(1, 4999) g`);
      await f.source(`INSERT INTO rates VALUES (5000, -0.000000000000000000000000000001)`);
      const s = await runSetup(f.metaUrl, { jobName: f.jobName, include: ['rates'] }, { log: f.log });
      expect(s.output).toMatch(/column "rate": unbounded numeric: its values \(5000 rows measured\) have up to 1 integer digits and 30 decimals, so NUMERIC\(38,30\)/);
      expect((await f.sync({ table: 'rates' })).ok).toBe(true);
      expect(await expectReplica(f, { name: 'rates' }, { schema: T() })).toBe(5000);
      expect((await f.redshift(`SELECT rate::text AS r FROM ${T()}.rates WHERE id = 10`)).rows[0].r).toBe('0.769230769230769230770000000000');
    });

    it('a value with more decimals than the target keeps fails the batch naming the column, row and value; the watermark stays', async () => {
      await f.source(`CREATE TABLE narrow (id int PRIMARY KEY, rate numeric)`);
      await f.source(`INSERT INTO narrow VALUES (1, 1.5), (2, 0.76923076923076923077), (3, NULL), (4, 2.25)`);
      await f.redshift(`CREATE TABLE ${T()}.narrow (id INTEGER NOT NULL, rate NUMERIC(38,10))`);
      await f.addTable({ source: 'narrow', mode: 'INSERT_ONLY', primaryKey: 'id' });
      const r = await f.sync({ table: 'narrow' });
      expect(r.ok).toBe(false);
      expect(r.tables[0]!.error).toMatch(
        /job "rsval_job", table public\.narrow: column "rate" holds 0\.76923076923076923077 \(row id = 2\), more decimals than its target column NUMERIC\(38,10\) keeps; .*nothing was loaded and the watermark was kept\. Fix: .*value_policies to \{"numeric_digits": "round"\}/,
      );
      expect(await watermark('narrow')).toBeNull();
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${T()}.narrow`)).rows[0].n).toBe(0);
      expect(await lastRun('narrow')).toMatchObject({ status: 'failed' });
    });

    it('value_policies {"numeric_digits": "round"} loads it rounded, counted in sync_runs.values_changed and logged', async () => {
      await setPolicies('narrow', { numeric_digits: 'round' });
      const r = await f.sync({ table: 'narrow' });
      expect(r.ok).toBe(true);
      expect((await f.redshift(`SELECT id, rate::text AS rate FROM ${T()}.narrow ORDER BY id`)).rows).toEqual([
        { id: 1, rate: '1.5000000000' },
        { id: 2, rate: '0.7692307692' },
        { id: 3, rate: null },
        { id: 4, rate: '2.2500000000' },
      ]);
      expect(await lastRun('narrow')).toMatchObject({ status: 'succeeded', values_changed: { 'numeric_digits:rate': 1 } });
      expect(f.logs.some((l) => l.msg === 'value policies changed values Redshift cannot hold (counted in sync_runs.values_changed)')).toBe(true);
    });

    it('"truncate" cuts instead (as COPY would, but counted)', async () => {
      await f.source(`CREATE TABLE narrow_t (id int PRIMARY KEY, rate numeric)`);
      await f.source(`INSERT INTO narrow_t VALUES (1, 0.76923076929), (2, -0.99999999999)`);
      await f.redshift(`CREATE TABLE ${T()}.narrow_t (id INTEGER NOT NULL, rate NUMERIC(38,10))`);
      await f.addTable({ source: 'narrow_t', mode: 'FULL_DATA_SYNC', primaryKey: 'id' });
      await setPolicies('narrow_t', { numeric_digits: 'truncate' });
      expect((await f.sync({ table: 'narrow_t' })).ok).toBe(true);
      expect((await f.redshift(`SELECT rate::text AS rate FROM ${T()}.narrow_t ORDER BY id`)).rows.map((x) => x.rate)).toEqual(['0.7692307692', '-0.9999999999']);
      expect(await lastRun('narrow_t')).toMatchObject({ status: 'succeeded', values_changed: { 'numeric_digits:rate': 2 } });
    });

    it('NaN fails its load with the file, line, column and value; "null" loads NULL, counted', async () => {
      await f.source(`CREATE TABLE nans (id int PRIMARY KEY, x numeric(10,2))`);
      await f.source(`INSERT INTO nans VALUES (1, 1.25), (2, 'NaN')`);
      await f.redshift(`CREATE TABLE ${T()}.nans (id INTEGER NOT NULL, x NUMERIC(10,2))`);
      await f.addTable({ source: 'nans', mode: 'INSERT_ONLY', primaryKey: 'id' });
      const r = await f.sync({ table: 'nans' });
      expect(r.ok).toBe(false);
      expect(r.tables[0]!.error).toMatch(/load failed: .*file s3:\/\/\S+ line \d+ column "x" \(numeric\) value .*NaN.*\. Nothing was loaded and the watermark was kept\. .*set tables\.value_policies for column\(s\) "x": numeric_special \(numeric NaN or Infinity, which no Redshift NUMERIC holds\): null$/);
      expect(await watermark('nans')).toBeNull();
      await setPolicies('nans', { numeric_special: 'null' });
      expect((await f.sync({ table: 'nans' })).ok).toBe(true);
      expect((await f.redshift(`SELECT id, x::text AS x FROM ${T()}.nans ORDER BY id`)).rows).toEqual([
        { id: 1, x: '1.25' },
        { id: 2, x: null },
      ]);
      expect(await lastRun('nans')).toMatchObject({ values_changed: { 'numeric_special:x': 1 } });
    });
  });

  describe('other values (16.5)', () => {
    it("'infinity' timestamps fail with the value named; clamp loads Redshift's last instant, null loads NULL, each counted", async () => {
      await f.source(`CREATE TABLE inf (id int PRIMARY KEY, at timestamptz, d date)`);
      await f.source(`INSERT INTO inf VALUES (1, '2026-01-01 00:00Z', '2026-01-01'), (2, 'infinity', '-infinity'), (3, '-infinity', 'infinity')`);
      await f.redshift(`CREATE TABLE ${T()}.inf (id INTEGER NOT NULL, at TIMESTAMPTZ, d DATE)`);
      await f.addTable({ source: 'inf', mode: 'FULL_DATA_SYNC', primaryKey: 'id' });
      const r = await f.sync({ table: 'inf' });
      expect(r.ok).toBe(false);
      expect(r.tables[0]!.error).toMatch(/load failed: .*line \d+ column "(at|d)" .*value .*infinity.*set tables\.value_policies for column\(s\) "(at|d)": infinite_datetime .*null or clamp$/);
      await setPolicies('inf', { infinite_datetime: 'clamp' });
      expect((await f.sync({ table: 'inf' })).ok).toBe(true);
      expect((await f.redshift(`SELECT id, at::text AS at, d::text AS d FROM ${T()}.inf ORDER BY id`)).rows).toEqual([
        { id: 1, at: '2026-01-01 00:00:00+00', d: '2026-01-01' },
        { id: 2, at: '294276-12-31 23:59:59.999999+00', d: '4713-11-24 BC' },
        { id: 3, at: '4713-11-24 00:00:00+00 BC', d: '294276-12-31' },
      ]);
      expect(await lastRun('inf')).toMatchObject({ values_changed: { 'infinite_datetime:at': 2, 'infinite_datetime:d': 2 } });
      await setPolicies('inf', { infinite_datetime: 'null' });
      expect((await f.sync({ table: 'inf' })).ok).toBe(true);
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${T()}.inf WHERE at IS NULL AND d IS NULL`)).rows[0].n).toBe(2);
    });

    it('dates BC inside Redshift range arrive as they are; dates after 294276 AD are clamped when asked', async () => {
      await f.source(`CREATE TABLE far (id int PRIMARY KEY, d date)`);
      await f.source(`INSERT INTO far VALUES (1, '0044-03-15 BC'), (2, '4713-11-24 BC'), (3, '300000-01-01')`);
      await f.redshift(`CREATE TABLE ${T()}.far (id INTEGER NOT NULL, d DATE)`);
      await f.addTable({ source: 'far', mode: 'INSERT_ONLY', primaryKey: 'id' });
      const r = await f.sync({ table: 'far' });
      expect(r.ok).toBe(false);
      expect(r.tables[0]!.error).toMatch(/column "d" .*300000-01-01/);
      await setPolicies('far', { date_range: 'clamp' });
      expect((await f.sync({ table: 'far' })).ok).toBe(true);
      expect((await f.redshift(`SELECT d::text AS d FROM ${T()}.far ORDER BY id`)).rows.map((x) => x.d)).toEqual(['0044-03-15 BC', '4713-11-24 BC', '294276-12-31']);
      expect(await lastRun('far')).toMatchObject({ values_changed: { 'date_range:d': 1 } });
    });

    it('text over the VARCHAR length fails; "truncate" cuts at a character boundary, never inside a multibyte character', async () => {
      await f.source(`CREATE TABLE longtext (id int PRIMARY KEY, body text)`);
      // 'é' is 2 bytes, '😀' 4: the 10-byte limit falls inside a character in rows 2 and 3.
      await f.source(`INSERT INTO longtext VALUES (1, 'short'), (2, 'ééééééé'), (3, 'ab😀😀😀'), (4, '0123456789')`);
      await f.redshift(`CREATE TABLE ${T()}.longtext (id INTEGER NOT NULL, body VARCHAR(10))`);
      await f.addTable({ source: 'longtext', mode: 'INSERT_ONLY', primaryKey: 'id' });
      const r = await f.sync({ table: 'longtext' });
      expect(r.ok).toBe(false);
      expect(r.tables[0]!.error).toMatch(/column "body"/);
      expect(await watermark('longtext')).toBeNull();
      await setPolicies('longtext', { text_too_long: 'truncate' });
      expect((await f.sync({ table: 'longtext' })).ok).toBe(true);
      expect((await f.redshift(`SELECT body, OCTET_LENGTH(body) AS n FROM ${T()}.longtext ORDER BY id`)).rows).toEqual([
        { body: 'short', n: 5 },
        { body: 'ééééé', n: 10 },
        { body: 'ab😀😀', n: 10 },
        { body: '0123456789', n: 10 },
      ]);
      expect(await lastRun('longtext')).toMatchObject({ values_changed: { 'text_too_long:body': 2 } });
    });

    it('a JSON document over 4 MB: "null" loads NULL for it, counted', async () => {
      await f.source(`CREATE TABLE docs (id int PRIMARY KEY, doc jsonb)`);
      await f.source(`INSERT INTO docs VALUES (1, '{"a": 1}'), (2, jsonb_build_object('big', (SELECT jsonb_agg(repeat('x', 1000)) FROM generate_series(1, 4500))))`);
      await f.redshift(`CREATE TABLE ${T()}.docs (id INTEGER NOT NULL, doc SUPER)`);
      await f.addTable({ source: 'docs', mode: 'INSERT_ONLY', primaryKey: 'id' });
      const r = await f.sync({ table: 'docs' });
      expect(r.ok).toBe(false);
      await setPolicies('docs', { super_too_large: 'null' });
      expect((await f.sync({ table: 'docs' })).ok).toBe(true);
      expect((await f.redshift(`SELECT id, doc IS NULL AS gone FROM ${T()}.docs ORDER BY id`)).rows).toEqual([
        { id: 1, gone: false },
        { id: 2, gone: true },
      ]);
      expect(await lastRun('docs')).toMatchObject({ values_changed: { 'super_too_large:doc': 1 } });
    });

    it('a policy may not change key values, and a misspelt policy is one clear line', async () => {
      await f.source(`CREATE TABLE keyed_text (code text PRIMARY KEY, v int)`);
      await f.source(`INSERT INTO keyed_text VALUES ('a-very-long-code', 1)`);
      await f.redshift(`CREATE TABLE ${T()}.keyed_text (code VARCHAR(8) NOT NULL, v INTEGER)`);
      await f.addTable({ source: 'keyed_text', mode: 'INSERT_ONLY', primaryKey: 'code' });
      await setPolicies('keyed_text', { text_too_long: 'truncate' });
      let r = await f.sync({ table: 'keyed_text' });
      expect(r.tables[0]!.error).toBe(
        'job "rsval_job", table public.keyed_text: value_policies.text_too_long = "truncate" would change values of key column "code" (target VARCHAR(8)), and two keys could become one; keys load unchanged: widen the target column instead, or remove text_too_long from value_policies',
      );
      await setPolicies('keyed_text', { text_too_long: 'chop' });
      r = await f.sync({ table: 'keyed_text' });
      expect(r.tables[0]!.error).toBe('job "rsval_job", table public.keyed_text: value_policies.text_too_long is "chop"; allowed: fail, null, truncate');
    });

    it('setup names the columns whose values Redshift may not hold', async () => {
      await f.source(`CREATE TABLE risky (id int PRIMARY KEY, at timestamptz, body text, amount numeric(12,2), doc jsonb)`);
      const s = await runSetup(f.metaUrl, { jobName: f.jobName, include: ['risky'] }, { log: f.log });
      expect(s.output).toMatch(
        /note: these columns can hold values Redshift cannot, and a sync fails on such a value \(naming it\) unless tables.value_policies says otherwise: .*infinite_datetime .*"at".*text_too_long .*"body".*numeric_special .*"amount"|numeric_special .*"amount"/,
      );
    });
  });
});
