import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSetup } from '../src/setup/setup.js';
import { expectReplica } from './helpers/compare.js';
import { realRedshiftConfigured, targetDescription } from './helpers/redshift.js';
import { stackEnv } from './helpers/stack.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/**
 * Redshift databases set up unlike the default (issue 16.2, 16.3, 16.9): Serverless
 * (SNAPSHOT isolation, load errors only in sys_load_error_detail), a case-insensitive
 * database, and mixed-case names, each through setup and a sync.
 */
describe.skipIf(realRedshiftConfigured())(`other Redshift flavours, against ${targetDescription}`, () => {
  describe('Redshift Serverless', () => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture('rsless', {}, { flavor: 'serverless' });
    });
    afterAll(() => f.close());

    it('syncs under SNAPSHOT isolation, and a load error names the file, line and column from sys_load_error_detail', async () => {
      expect((await f.redshift(`SELECT TRIM(isolation_level) AS i FROM stv_db_isolation_level WHERE TRIM(db_name) = current_database()`)).rows[0].i).toBe('Snapshot Isolation');
      await f.source(`CREATE TABLE events (id int PRIMARY KEY, at timestamptz, updated_at timestamptz NOT NULL DEFAULT now())`);
      await f.source(`INSERT INTO events (id, at) SELECT g, now() FROM generate_series(1, 100) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.events (id INTEGER NOT NULL, at TIMESTAMPTZ, updated_at TIMESTAMPTZ NOT NULL)`);
      await f.addTable({ source: 'events', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
      expect((await f.sync({ table: 'events' })).ok).toBe(true);
      expect(await expectReplica(f, { name: 'events' }, { schema: f.target.schema })).toBe(100);
      // STL shows nothing on Serverless: the error still names where the bad value is.
      expect((await f.redshift(`SELECT count(*)::int AS n FROM stl_load_errors`)).rows[0].n).toBe(0);
      await f.source(`UPDATE events SET at = 'infinity', updated_at = now() WHERE id = 7`);
      const r = await f.sync({ table: 'events' });
      expect(r.tables[0]!.error).toMatch(/load failed: .* -- file s3:\/\/\S+ line \d+ column "at" \(\w+\): Invalid timestamp .*\(error 1206\)\. Nothing was loaded/);
    });
  });

  describe('a case-insensitive database and mixed-case names', () => {
    let f: SyncFixture;
    let ci: pg.Client;
    const ciDb = `rl_ci_${randomBytes(4).toString('hex')}`;
    beforeAll(async () => {
      f = await syncFixture('rsci');
      await f.redshift(`CREATE DATABASE ${ciDb} COLLATE CASE_INSENSITIVE`);
      const u = new URL(f.target.url);
      u.pathname = `/${ciDb}`;
      process.env.RL_TEST_DST_RSCI = u.toString();
      ci = new pg.Client({ connectionString: u.toString() });
      await ci.connect();
      await ci.query('SET enable_case_sensitive_identifier TO true');
      await ci.query(`CREATE SCHEMA ${f.target.schema}`);
    });
    afterAll(async () => {
      await ci?.end();
      await f.close();
      const admin = new pg.Client({ connectionString: stackEnv().STACK_POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${ciDb} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    });

    it('setup declares text keys COLLATE CASE_SENSITIVE, so keys differing only in case stay two rows', async () => {
      await f.source(`CREATE TABLE tags (code varchar(20) PRIMARY KEY, label text)`);
      await f.source(`INSERT INTO tags VALUES ('Abc', 'upper'), ('abc', 'lower'), ('ABC', 'all')`);
      const s = await runSetup(f.metaUrl, { jobName: f.jobName, include: ['tags'] }, { log: f.log });
      expect(s.output).toContain('note: the database compares text case-insensitively: key column(s) code declared COLLATE CASE_SENSITIVE');
      expect(s.redshiftStatements.join('\n')).toContain('"code" VARCHAR(80) COLLATE CASE_SENSITIVE NOT NULL');
      expect((await ci.query(`SELECT column_name, collation_name FROM svv_columns WHERE table_schema = $1 AND table_name = 'tags' ORDER BY ordinal_position`, [f.target.schema])).rows).toEqual([
        { column_name: 'code', collation_name: 'case_sensitive' },
        { column_name: 'label', collation_name: 'case_insensitive' },
      ]);
      expect((await f.sync({ table: 'tags' })).ok).toBe(true);
      await f.source(`UPDATE tags SET label = 'changed' WHERE code = 'abc'`);
      expect((await f.sync({ table: 'tags' })).ok).toBe(true);
      const got = (await ci.query(`SELECT code, label FROM ${f.target.schema}.tags ORDER BY label`)).rows;
      expect(got).toEqual([
        { code: 'ABC', label: 'all' },
        { code: 'abc', label: 'changed' },
        { code: 'Abc', label: 'upper' },
      ]);
    });

    it('a table and columns with mixed-case names: setup says how Redshift treats them, and every sync mode keeps them', async () => {
      await f.source(`CREATE TABLE "Users" ("UserId" int PRIMARY KEY, "Email" text, "UPDATED_AT" timestamptz NOT NULL DEFAULT now())`);
      await f.source(`INSERT INTO "Users" ("UserId", "Email") SELECT g, 'u' || g || '@x' FROM generate_series(1, 50) g`);
      const s = await runSetup(f.metaUrl, { jobName: f.jobName, include: ['Users'] }, { log: f.log });
      expect(s.output).toContain(
        'note: mixed-case name(s) "Users", "UserId", "Email", "UPDATED_AT" are kept as they are in Redshift: the loader\'s sessions turn on enable_case_sensitive_identifier',
      );
      expect((await f.meta(`SELECT copy_mode, updated_key FROM tables WHERE source_name = 'Users'`)).rows[0]).toEqual({ copy_mode: 'INSERT_AND_UPDATE', updated_key: 'UPDATED_AT' });
      expect((await f.sync({ table: 'Users' })).ok).toBe(true);
      await f.source(`UPDATE "Users" SET "Email" = 'new@x', "UPDATED_AT" = now() WHERE "UserId" = 3`);
      expect((await f.sync({ table: 'Users' })).ok).toBe(true);
      expect(await expectReplica({ source: f.source, redshift: (q, p) => ci.query(q, p as unknown[]) }, { name: 'Users' }, { schema: f.target.schema })).toBe(50);
      // Without the setting Redshift folds the names: the table is not found as "Users".
      await ci.query('SET enable_case_sensitive_identifier TO false');
      await expect(ci.query(`SELECT "UserId" FROM ${f.target.schema}."Users"`)).rejects.toThrow(/does not exist/);
      await ci.query('SET enable_case_sensitive_identifier TO true');
    });
  });
});
