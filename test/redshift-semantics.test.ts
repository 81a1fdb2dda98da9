import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectReplica } from './helpers/compare.js';
import { targetDescription } from './helpers/redshift.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/**
 * Where Redshift behaves differently from Postgres and a loader that ignores it loses or
 * changes rows on a real cluster (issue 16), through a sync against the double, which
 * behaves as AWS's guide documents.
 */
describe(`Redshift's semantics through a sync, against ${targetDescription}`, () => {
  let f: SyncFixture;
  beforeAll(async () => {
    f = await syncFixture('rssem');
  });
  afterAll(() => f.close());

  describe('keys that differ only by trailing blanks (r_Character_types.html: insignificant in comparisons)', () => {
    const keys = ['abc', 'abc ', 'abc  ', 'x'];

    async function keyed(name: string, mode: string) {
      await f.source(`CREATE TABLE ${name} (code varchar(10) PRIMARY KEY, v text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
      for (const k of keys) await f.source(`INSERT INTO ${name} (code, v) VALUES ($1, $2)`, [k, `v:${k.length}`]);
      await f.redshift(`CREATE TABLE ${f.target.schema}.${name} (code VARCHAR(40) NOT NULL, v VARCHAR(20) NOT NULL, updated_at TIMESTAMPTZ NOT NULL)`);
      return f.addTable({ source: name, mode, primaryKey: 'code', updatedKey: mode === 'INSERT_AND_UPDATE' ? 'updated_at' : null });
    }
    const lengths = async (name: string) =>
      (await f.redshift(`SELECT OCTET_LENGTH(code) AS n, v FROM ${f.target.schema}.${name} ORDER BY OCTET_LENGTH(code), v`)).rows.map((r) => `${r.n}:${r.v}`);

    for (const mode of ['INSERT_ONLY', 'INSERT_AND_UPDATE', 'FULL_DATA_SYNC']) {
      it(`${mode}: every key arrives, and a change to one does not touch its twins`, async () => {
        const name = `blanks_${mode.toLowerCase()}`;
        await keyed(name, mode);
        expect((await f.sync({ table: name })).ok).toBe(true);
        expect(await lengths(name)).toEqual(['1:v:1', '3:v:3', '4:v:4', '5:v:5']);
        if (mode !== 'INSERT_ONLY') {
          await f.source(`UPDATE ${name} SET v = 'changed', updated_at = now() WHERE code = 'abc '`);
          expect((await f.sync({ table: name })).ok).toBe(true);
          expect(await lengths(name)).toEqual(['1:v:1', '3:v:3', '4:changed', '5:v:5']);
        }
        expect(await expectReplica(f, { name }, { schema: f.target.schema })).toBe(4);
      });
    }

    it('delete detection removes the key gone at the source, not its twins', async () => {
      const tid = await keyed('blanks_deletes', 'INSERT_ONLY');
      await f.meta(`UPDATE tables SET delete_detection = true WHERE id = $1`, [tid]);
      expect((await f.sync({ table: 'blanks_deletes' })).ok).toBe(true);
      await f.source(`DELETE FROM blanks_deletes WHERE code = 'abc'`);
      const r = await f.sync({ table: 'blanks_deletes' });
      expect(r.tables[0]).toMatchObject({ ok: true, deleted: 1 });
      expect(await lengths('blanks_deletes')).toEqual(['1:v:1', '4:v:4', '5:v:5']);
      expect(await expectReplica(f, { name: 'blanks_deletes' }, { schema: f.target.schema })).toBe(3);
    });
  });

  describe('schema drift fills existing rows with what they hold at the source', () => {
    async function base(name: string) {
      await f.source(`CREATE TABLE ${name} (id int PRIMARY KEY, v text)`);
      await f.source(`INSERT INTO ${name} SELECT g, 'v' || g FROM generate_series(1, 5) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.${name} (id INTEGER NOT NULL, v VARCHAR(10))`);
      const tid = await f.addTable({ source: name, mode: 'INSERT_ONLY', primaryKey: 'id' });
      expect((await f.sync({ table: name })).ok).toBe(true);
      return tid;
    }

    it('a column added without a default whose default is set later: existing rows stay NULL, not the later default', async () => {
      await base('drift_later');
      await f.source(`ALTER TABLE drift_later ADD COLUMN x int`);
      await f.source(`ALTER TABLE drift_later ALTER COLUMN x SET DEFAULT 5`);
      await f.source(`INSERT INTO drift_later (id, v) VALUES (6, 'new')`);
      expect((await f.sync({ table: 'drift_later' })).ok).toBe(true);
      expect(await expectReplica(f, { name: 'drift_later' }, { schema: f.target.schema })).toBe(6);
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.drift_later WHERE x IS NULL`)).rows[0].n).toBe(5);
    });

    it('a default set when the column was added, changed later: existing rows hold the first one', async () => {
      await base('drift_changed');
      await f.source(`ALTER TABLE drift_changed ADD COLUMN y int DEFAULT 3`);
      await f.source(`ALTER TABLE drift_changed ALTER COLUMN y SET DEFAULT 9`);
      await f.source(`INSERT INTO drift_changed (id, v) VALUES (6, 'new')`);
      const r = await f.sync({ table: 'drift_changed' });
      expect(r.tables[0]).toMatchObject({ ok: true, rows: 1 }); // no resync needed: Redshift fills the 5 rows with 3
      expect(await expectReplica(f, { name: 'drift_changed' }, { schema: f.target.schema })).toBe(6);
    });

    it('a column dropped and added again under the same name is a new column: the old values do not stay', async () => {
      await f.source(`CREATE TABLE drift_readded (id int PRIMARY KEY, z text)`);
      await f.source(`INSERT INTO drift_readded SELECT g, 'old' || g FROM generate_series(1, 5) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.drift_readded (id INTEGER NOT NULL, z VARCHAR(65535))`);
      await f.addTable({ source: 'drift_readded', mode: 'INSERT_ONLY', primaryKey: 'id' });
      expect((await f.sync({ table: 'drift_readded' })).ok).toBe(true);
      await f.source(`ALTER TABLE drift_readded DROP COLUMN z`);
      await f.source(`ALTER TABLE drift_readded ADD COLUMN z text`);
      await f.source(`UPDATE drift_readded SET z = 'fresh' WHERE id = 2`);
      const r = await f.sync({ table: 'drift_readded' });
      expect(r.tables[0]).toMatchObject({ ok: true, rows: 5 });
      expect(f.logs.some((l) => l.table === 'public.drift_readded' && String(l.msg).includes('column "z" was dropped and added again at the source'))).toBe(true);
      expect(await expectReplica(f, { name: 'drift_readded' }, { schema: f.target.schema })).toBe(5);
    });
  });
  describe('a column Redshift cannot widen (r_ALTER_TABLE.html)', () => {
    it('a grown varchar whose target column has a DEFAULT: one clear error with the statements that fix it, before anything is loaded', async () => {
      await f.source(`CREATE TABLE grow (id int PRIMARY KEY, code varchar(5))`);
      await f.source(`INSERT INTO grow VALUES (1, 'abc')`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.grow (id INTEGER NOT NULL, code VARCHAR(20) DEFAULT 'none')`);
      await f.addTable({ source: 'grow', mode: 'INSERT_ONLY', primaryKey: 'id' });
      expect((await f.sync({ table: 'grow' })).ok).toBe(true);
      await f.source(`ALTER TABLE grow ALTER COLUMN code TYPE varchar(50)`);
      await f.source(`INSERT INTO grow VALUES (2, 'a much longer code than before')`);
      const r = await f.sync({ table: 'grow' });
      expect(r.tables[0]!.error).toMatch(
        /^job "rssem_job", table public\.grow: the source column "code" grew, but Redshift refused to widen it in \S+\.grow to VARCHAR\(200\): .*default.*; replace it by hand: ALTER TABLE "\S+"\."grow" ADD COLUMN "code_new" VARCHAR\(200\); UPDATE .* SET "code_new" = "code"; ALTER TABLE .* DROP COLUMN "code"; ALTER TABLE .* RENAME COLUMN "code_new" TO "code"; then run the sync again$/,
      );
      expect((await f.meta(`SELECT max_primary_key FROM tables WHERE source_name = 'grow'`)).rows[0].max_primary_key).toEqual(['1']);
    });
  });

  describe('a case-insensitive collation on a key column (r_CREATE_DATABASE.html, r_SVV_COLUMNS.html)', () => {
    it('a sync refuses a target whose key column compares case-insensitively, naming the column and the fix', async () => {
      await f.source(`CREATE TABLE ci_keys (code varchar(10) PRIMARY KEY, v int)`);
      await f.source(`INSERT INTO ci_keys VALUES ('Abc', 1), ('abc', 2)`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.ci_keys (code VARCHAR(40) COLLATE CASE_INSENSITIVE NOT NULL, v INTEGER)`);
      await f.addTable({ source: 'ci_keys', mode: 'INSERT_ONLY', primaryKey: 'code' });
      const r = await f.sync({ table: 'ci_keys' });
      expect(r.tables[0]!.error).toMatch(/key column\(s\) "code" of \S+\.ci_keys compare case-insensitively in Redshift \(collation case_insensitive\), so keys such as 'Abc' and 'abc' would replace or delete each other's rows; recreate the target with those columns declared COLLATE CASE_SENSITIVE/);
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.ci_keys`)).rows[0].n).toBe(0);
    });
  });
});
