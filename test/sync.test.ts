import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dryRunJob } from '../src/sync/dry-run.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';
import { expectReplica } from './helpers/compare.js';
import { targetDescription } from './helpers/redshift.js';

/** Rows of a query as arrays of text, for exact comparisons across the two systems. */
async function rowsText(run: (sql: string) => Promise<pg.QueryResult>, table: string, cols: string[], order = 'id'): Promise<Array<Array<string | null>>> {
  const r = await run(`SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(', ')} FROM ${table} ORDER BY ${order}`);
  return r.rows.map((row) => cols.map((c) => row[c] as string | null));
}

describe(`sync engine against ${targetDescription}`, () => {
  // Both staging formats, end to end: zstd (the default) and gzip.
  describe.each(['zstd', 'gzip'])('round-trip fidelity, COMPRESSION=%s', (compression) => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture(`fid${compression}`, { COMPRESSION: compression });
    });
    afterAll(() => f.close());

    it('brings every type and every tricky string back exactly, NULL and empty string distinct', async () => {
      await f.source(`CREATE TABLE fidelity (
        id bigint PRIMARY KEY, i integer, s smallint, n numeric(38,10), r real, d double precision, b boolean,
        dt date, ts timestamp, tstz timestamptz, t text, v varchar(20), j jsonb, c char(3))`);
      const strings = ['', 'plain', 'a,b', 'say "hi"', 'line1\nline2', 'crlf\r\nend', 'back\\slash', 'tab\there', '😀 4-byte emoji', '\\N', ' padded ', '"', ',', "it's"];
      let id = 0;
      for (const s of strings) {
        id++;
        await f.source(
          `INSERT INTO fidelity VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
          [id, -2147483648 + id, 32767 - id, '12345678901234567890.0123456789', 1.5e-10, 1.2345678901234567e300, id % 2 === 0,
           '2024-02-29', '2024-02-29 23:59:59.999999', '2024-06-01 12:00:00.123456+05:30', s, s.slice(0, 20), JSON.stringify({ s, n: [1, 2.5, null] }), 'ab'],
        );
      }
      await f.source(`INSERT INTO fidelity (id) VALUES (100)`); // every other column NULL
      await f.source(`INSERT INTO fidelity (id, n, d, ts, tstz, dt) VALUES (101, '-0.0000000001', '-0', '0001-01-01 00:00:00', '1970-01-01 00:00:00+00', '9999-12-31')`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.fidelity (
        id BIGINT NOT NULL, i INTEGER, s SMALLINT, n NUMERIC(38,10), r REAL, d DOUBLE PRECISION, b BOOLEAN,
        dt DATE, ts TIMESTAMP, tstz TIMESTAMPTZ, t VARCHAR(65535), v VARCHAR(80), j VARCHAR(65535), c CHAR(3))
        DISTKEY(id) SORTKEY(id)`);
      await f.addTable({ source: 'fidelity', mode: 'INSERT_ONLY', primaryKey: 'id', chunkSize: 4 });
      const r = await f.sync();
      expect(r.ok, JSON.stringify(r)).toBe(true);
      const cols = ['id', 'i', 's', 'n', 'r', 'd', 'b', 'dt', 'ts', 'tstz', 't', 'v', 'c'];
      const want = await rowsText(f.source, 'fidelity', cols);
      const got = await rowsText(f.redshift, `${f.target.schema}.fidelity`, cols);
      expect(got).toEqual(want);
      // json arrives as its text, byte for byte.
      const wj = (await f.source(`SELECT j::text AS j FROM fidelity ORDER BY id`)).rows.map((x) => x.j);
      const gj = (await f.redshift(`SELECT j FROM ${f.target.schema}.fidelity ORDER BY id`)).rows.map((x) => x.j);
      expect(gj).toEqual(wj);
      const nulls = await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.fidelity WHERE t IS NULL`);
      const empties = await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.fidelity WHERE t = ''`);
      expect([nulls.rows[0].n, empties.rows[0].n]).toEqual([2, 1]);
      expect(await f.s3Keys()).toEqual([]);
      const run = await f.meta(`SELECT status, rows, files, batches, max_primary_key_after FROM sync_runs`);
      expect(run.rows[0]).toMatchObject({ status: 'succeeded', rows: '16', batches: 1, max_primary_key_after: ['101'] });
      // 16 rows at about 4 a file, rounded up to a multiple of 2 slices.
      expect(run.rows[0].files).toBe(4);
    });
  });

  describe('INSERT_ONLY', () => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture('ins');
    });
    afterAll(() => f.close());

    it('syncs a composite text + uuid key in batches and picks up new rows only', async () => {
      await f.source(`CREATE TABLE "Accounts" (region text, uid uuid, name text, PRIMARY KEY (region, uid))`);
      await f.source(`INSERT INTO "Accounts" SELECT (ARRAY['eu','us','ap'])[1 + g % 3], md5(g::text)::uuid, 'n' || g FROM generate_series(1, 50) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}."Accounts" (region VARCHAR(10), uid CHAR(36), name VARCHAR(20))`);
      const tid = await f.addTable({ source: 'Accounts', mode: 'INSERT_ONLY', primaryKey: 'region, uid', rowLimit: 7, chunkSize: 3 });
      const r = await f.sync();
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.tables[0]).toMatchObject({ rows: 50, batches: 8 });
      await f.source(`INSERT INTO "Accounts" VALUES ('zz', gen_random_uuid(), 'late'), ('aa', gen_random_uuid(), 'early-key')`);
      const r2 = await f.sync();
      // 'aa' sorts before the watermark: INSERT_ONLY only takes keys after it (documented).
      expect(r2.tables[0]!.rows).toBe(1);
      const want = await rowsText(f.source, '"Accounts"', ['region', 'uid', 'name'], 'region, uid');
      const got = await rowsText(f.redshift, `${f.target.schema}."Accounts"`, ['region', 'uid', 'name'], 'region, uid');
      expect(got).toEqual(want.filter((w) => w[0] !== 'aa'));
      const t = await f.meta(`SELECT max_primary_key, last_error, last_synced_at FROM tables WHERE id = $1`, [tid]);
      expect(t.rows[0].max_primary_key[0]).toBe('zz');
      expect(t.rows[0].last_error).toBeNull();
      expect(t.rows[0].last_synced_at).toBeInstanceOf(Date);
    });

    it('a primary_key that is not unique at the source fails the batch naming the keys; allow_duplicate_keys keeps every row', async () => {
      await f.source(`CREATE TABLE nonuniq (grp int NOT NULL, v text)`);
      await f.source(`INSERT INTO nonuniq SELECT g / 3, 'v' || g FROM generate_series(0, 29) g`); // 10 groups of 3
      await f.redshift(`CREATE TABLE ${f.target.schema}.nonuniq (grp INTEGER, v VARCHAR(10))`);
      const tid = await f.addTable({ source: 'nonuniq', mode: 'INSERT_ONLY', primaryKey: 'grp', rowLimit: 4, chunkSize: 2 });
      const r = await f.sync({ table: 'nonuniq' });
      expect(r.ok).toBe(false);
      expect(r.tables[0]!.error).toBe(
        'job "ins_job", table public.nonuniq: batch 1: primary_key (grp) is not unique at the source: key ("0") occurs 3 times, key ("1") occurs 3 times in this batch. ' +
          'Keeping one row per key would drop the others; fix primary_key in the tables row, or set allow_duplicate_keys = true to keep every row (INSERT_ONLY, FULL_DATA_SYNC). ' +
          'Nothing of it was applied; the watermark is kept.',
      );
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.nonuniq`)).rows[0].n).toBe(0);
      expect((await f.meta(`SELECT max_primary_key FROM tables WHERE id = $1`, [tid])).rows[0].max_primary_key).toBeNull();
      // Declared expected: every source row arrives, across batch edges, exactly once.
      await f.meta(`UPDATE tables SET allow_duplicate_keys = true WHERE id = $1`, [tid]);
      const r2 = await f.sync({ table: 'nonuniq' });
      expect(r2.ok, JSON.stringify(r2)).toBe(true);
      expect(await rowsText(f.redshift, `${f.target.schema}.nonuniq`, ['grp', 'v'], 'v')).toEqual(await rowsText(f.source, 'nonuniq', ['grp', 'v'], 'v'));
      const again = await f.sync({ table: 'nonuniq' });
      expect(again.tables[0]!.rows).toBe(0);
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.nonuniq`)).rows[0].n).toBe(30);
    });

    it('many small batches give the same table as one batch', async () => {
      await f.source(`CREATE TABLE big_a (id int PRIMARY KEY, v text)`);
      await f.source(`INSERT INTO big_a SELECT g, repeat(chr(65 + g % 26), g % 40) FROM generate_series(1, 500) g`);
      await f.source(`CREATE TABLE big_b AS SELECT * FROM big_a`);
      await f.source(`ALTER TABLE big_b ADD PRIMARY KEY (id)`);
      for (const t of ['big_a', 'big_b']) await f.redshift(`CREATE TABLE ${f.target.schema}.${t} (id INTEGER, v VARCHAR(100))`);
      await f.addTable({ source: 'big_a', mode: 'INSERT_ONLY', primaryKey: 'id', rowLimit: 37, chunkSize: 10 });
      await f.addTable({ source: 'big_b', mode: 'INSERT_ONLY', primaryKey: 'id' });
      const r = await f.sync({ table: 'big_*' });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.tables.map((t) => [t.table, t.rows, t.batches])).toEqual([['public.big_a', 500, 14], ['public.big_b', 500, 1]]);
      // Each against the source, not against each other.
      expect(await expectReplica(f, { name: 'big_a' }, { schema: f.target.schema })).toBe(500);
      expect(await expectReplica(f, { name: 'big_b' }, { schema: f.target.schema })).toBe(500);
    });

    it('a short batch gets its own file size: a multiple of the slices, files roughly equal', async () => {
      await f.source(`CREATE TABLE short_b (id int PRIMARY KEY, v text)`);
      await f.source(`INSERT INTO short_b SELECT g, 'v' || g FROM generate_series(1, 50) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.short_b (id INTEGER, v VARCHAR(10))`);
      // Sized for a full batch (100 rows, 20 a file, 2 slices) the boundaries would fall every
      // 17 keys (3 files); 50 rows need 4 files of 13.
      const tid = await f.addTable({ source: 'short_b', mode: 'INSERT_ONLY', primaryKey: 'id', rowLimit: 100, chunkSize: 20 });
      const r = await f.sync({ table: 'short_b' });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      const run = await f.meta(`SELECT rows, files, batches FROM sync_runs WHERE table_id = $1`, [tid]);
      expect(run.rows[0]).toMatchObject({ rows: '50', files: 4, batches: 1 });
      expect(await rowsText(f.redshift, `${f.target.schema}.short_b`, ['id', 'v'])).toEqual(await rowsText(f.source, 'short_b', ['id', 'v']));
    });

    it('a batch that fails between COPY and COMMIT, and one committed but not recorded, leave no duplicate', async () => {
      await f.source(`CREATE TABLE retry (id int PRIMARY KEY, v text)`);
      await f.source(`INSERT INTO retry SELECT g, 'v' || g FROM generate_series(1, 30) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.retry (id INTEGER, v VARCHAR(10))`);
      const tid = await f.addTable({ source: 'retry', mode: 'INSERT_ONLY', primaryKey: 'id', rowLimit: 10 });
      let calls = 0;
      const r1 = await f.sync({
        table: 'retry',
        deps: {
          beforeCommit: () => {
            calls++;
            if (calls === 2) throw new Error('connection lost before COMMIT');
          },
        },
      });
      expect(r1.ok).toBe(false);
      expect(r1.tables[0]!.error).toMatch(/job "ins_job", table public.retry: batch 2 load failed: connection lost before COMMIT/);
      const wm = await f.meta(`SELECT max_primary_key, last_error FROM tables WHERE id = $1`, [tid]);
      expect(wm.rows[0].max_primary_key).toEqual(['10']); // batch 1 committed, batch 2 did not
      expect(wm.rows[0].last_error).toMatch(/connection lost/);
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.retry`)).rows[0].n).toBe(10);
      // Crash after the Redshift COMMIT but before the watermark moved: wind it back.
      await f.meta(`UPDATE tables SET max_primary_key = '[5]' WHERE id = $1`, [tid]);
      const r2 = await f.sync({ table: 'retry' });
      expect(r2.ok, JSON.stringify(r2)).toBe(true);
      const got = await rowsText(f.redshift, `${f.target.schema}.retry`, ['id', 'v']);
      expect(got).toEqual(await rowsText(f.source, 'retry', ['id', 'v']));
      const runs = await f.meta(`SELECT status, error FROM sync_runs WHERE table_id = $1 ORDER BY id`, [tid]);
      expect(runs.rows.map((x) => x.status)).toEqual(['failed', 'succeeded']);
      expect(await f.s3Keys()).toEqual([]);
    });

    it('a bad value fails the batch with file, line, column and reason, and keeps the watermark', async () => {
      await f.source(`CREATE TABLE bad (id int PRIMARY KEY, code text)`);
      await f.source(`INSERT INTO bad VALUES (1, 'ok'), (2, 'ééé')`); // 6 bytes
      await f.redshift(`CREATE TABLE ${f.target.schema}.bad (id INTEGER, code VARCHAR(5))`);
      const tid = await f.addTable({ source: 'bad', mode: 'INSERT_ONLY', primaryKey: 'id' });
      const r = await f.sync({ table: 'bad' });
      expect(r.ok).toBe(false);
      const err = r.tables[0]!.error!;
      expect(err).toMatch(/^job "ins_job", table public\.bad: batch 1 load failed: /);
      expect(err).toMatch(/column "code"/);
      expect(err).toMatch(/value ".*ééé.*": /); // the raw field, as stl_load_errors gives it
      expect(err).toMatch(/part-0000\d\.csv\.zst line \d+/);
      const t = await f.meta(`SELECT max_primary_key, last_error FROM tables WHERE id = $1`, [tid]);
      expect(t.rows[0]).toEqual({ max_primary_key: null, last_error: err });
      const run = await f.meta(`SELECT status, error FROM sync_runs WHERE table_id = $1`, [tid]);
      expect(run.rows[0]).toEqual({ status: 'failed', error: err });
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.bad`)).rows[0].n).toBe(0);
      expect(await f.s3Keys()).toEqual([]);
      expect(f.logs.some((l) => l.msg === 'table sync failed' && l.job === 'ins_job' && l.table === 'public.bad')).toBe(true);
    });

    it('adds a source column the target lacks and backfills it; other tables still sync', async () => {
      await f.source(`CREATE TABLE drift_new (id int PRIMARY KEY, added_later text)`);
      await f.source(`INSERT INTO drift_new VALUES (1, 'x')`);
      await f.source(`CREATE TABLE drift_fine (id int PRIMARY KEY)`);
      await f.source(`INSERT INTO drift_fine VALUES (1), (2)`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.drift_new (id INTEGER)`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.drift_fine (id INTEGER)`);
      await f.addTable({ source: 'drift_new', mode: 'INSERT_ONLY', primaryKey: 'id' });
      await f.addTable({ source: 'drift_fine', mode: 'INSERT_ONLY', primaryKey: 'id' });
      const r = await f.sync({ table: 'drift_*' });
      expect(r.tables.find((t) => t.table === 'public.drift_new')).toMatchObject({ ok: true, rows: 1 });
      expect(r.tables.find((t) => t.table === 'public.drift_fine')).toMatchObject({ ok: true, rows: 2 });
      expect(await rowsText(f.redshift, `${f.target.schema}.drift_new`, ['id', 'added_later'])).toEqual([['1', 'x']]);
      // Later rows of an existing table: the new column is backfilled by a resync of the table.
      await f.source(`ALTER TABLE drift_fine ADD COLUMN flag boolean`);
      await f.source(`UPDATE drift_fine SET flag = true`);
      const r2 = await f.sync({ table: 'drift_fine' });
      expect(r2.tables[0]).toMatchObject({ ok: true, rows: 2 });
      expect(await rowsText(f.redshift, `${f.target.schema}.drift_fine`, ['id', 'flag'])).toEqual([['1', 'true'], ['2', 'true']]);
      expect(f.logs.some((l) => l.msg?.toString().startsWith('schema drift') && l.table === 'public.drift_fine')).toBe(true);
    });
  });

  describe('INSERT_AND_UPDATE', () => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture('upd');
    });
    afterAll(() => f.close());

    it('loses no row on timestamp ties across batch boundaries, and applies updates once', async () => {
      await f.source(`CREATE TABLE ties (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)`);
      await f.source(`INSERT INTO ties SELECT g, 'v1', '2024-01-01 00:00:00+00' FROM generate_series(1, 10) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.ties (id INTEGER, v VARCHAR(10), updated_at TIMESTAMPTZ)`);
      const tid = await f.addTable({ source: 'ties', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at', rowLimit: 3 });
      const r = await f.sync();
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.tables[0]).toMatchObject({ rows: 10, batches: 4 });
      await f.source(`UPDATE ties SET v = 'v2', updated_at = '2024-01-02 00:00:00+00' WHERE id IN (2, 5, 9)`);
      await f.source(`INSERT INTO ties VALUES (11, 'new', '2024-01-02 00:00:00+00')`);
      const r2 = await f.sync();
      expect(r2.tables[0]!.rows).toBe(4);
      const cols = ['id', 'v', 'updated_at'];
      expect(await rowsText(f.redshift, `${f.target.schema}.ties`, cols)).toEqual(await rowsText(f.source, 'ties', cols));
      const t = await f.meta(`SELECT max_primary_key, max_updated_key::text AS uk FROM tables WHERE id = $1`, [tid]);
      expect(t.rows[0]).toEqual({ max_primary_key: ['11'], uk: '2024-01-02 00:00:00+00' });
    });

    it('a row committed late by a long transaction with an older updated_key still arrives', async () => {
      await f.source(`CREATE TABLE late (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT now())`);
      await f.source(`INSERT INTO late (id, v, updated_at) VALUES (1, 'old', now() - interval '1 hour')`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.late (id INTEGER, v VARCHAR(10), updated_at TIMESTAMPTZ)`);
      await f.addTable({ source: 'late', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
      const slow = new pg.Client({ connectionString: f.sourceUrl });
      await slow.connect();
      try {
        await slow.query('BEGIN');
        await slow.query(`UPDATE late SET v = 'late', updated_at = now() WHERE id = 1`); // now() = this transaction's start
        await new Promise((r) => setTimeout(r, 50));
        await f.source(`INSERT INTO late (id, v) VALUES (2, 'after')`); // newer updated_at, committed first
        const r1 = await f.sync({ table: 'late' });
        expect(r1.ok, JSON.stringify(r1)).toBe(true);
        expect(await rowsText(f.redshift, `${f.target.schema}.late`, ['id', 'v'])).toEqual([['1', 'old'], ['2', 'after']]);
        await slow.query('COMMIT');
      } finally {
        await slow.end();
      }
      const r2 = await f.sync({ table: 'late' });
      expect(r2.ok, JSON.stringify(r2)).toBe(true);
      expect(await rowsText(f.redshift, `${f.target.schema}.late`, ['id', 'v'])).toEqual([['1', 'late'], ['2', 'after']]);
    });

    it('setting both watermark columns to NULL resyncs from scratch without duplicates', async () => {
      await f.source(`CREATE TABLE resync (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)`);
      await f.source(`INSERT INTO resync SELECT g, 'v', '2024-01-01 00:00:00+00' FROM generate_series(1, 11) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.resync (id INTEGER, v VARCHAR(10), updated_at TIMESTAMPTZ)`);
      const tid = await f.addTable({ source: 'resync', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at', rowLimit: 4 });
      expect((await f.sync({ table: 'resync' })).tables[0]).toMatchObject({ ok: true, rows: 11 });
      await f.meta(`UPDATE tables SET max_primary_key = NULL, max_updated_key = NULL WHERE id = $1`, [tid]);
      const r = await f.sync({ table: 'resync' });
      expect(r.tables[0]).toMatchObject({ ok: true, rows: 11 });
      expect((await f.redshift(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM ${f.target.schema}.resync`)).rows[0]).toEqual({ n: 11, d: 11 });
      expect(await expectReplica(f, { name: 'resync' }, { schema: f.target.schema })).toBe(11);
    });
  });

  describe('FULL_DATA_SYNC', () => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture('full');
    });
    afterAll(() => f.close());

    it('reloads in batches, removes rows deleted at the source and keeps owner and grants', async () => {
      const reader = `reader_${randomBytes(3).toString('hex')}`;
      await f.source(`CREATE TABLE dim (id int PRIMARY KEY, name text)`);
      await f.source(`INSERT INTO dim SELECT g, 'd' || g FROM generate_series(1, 40) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.dim (id INTEGER, name VARCHAR(20)) DISTSTYLE ALL`);
      await f.redshift(`CREATE USER ${reader} PASSWORD 'Reader123x'`);
      await f.redshift(`GRANT USAGE ON SCHEMA ${f.target.schema} TO ${reader}`);
      await f.redshift(`GRANT SELECT ON ${f.target.schema}.dim TO ${reader}`);
      await f.addTable({ source: 'dim', mode: 'FULL_DATA_SYNC', primaryKey: 'id', rowLimit: 15 });
      const r = await f.sync();
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.tables[0]).toMatchObject({ rows: 40, batches: 3, changed: 0, reread: 40 }); // a whole copy: every row re-read
      await f.source(`DELETE FROM dim WHERE id % 4 = 0`);
      await f.source(`UPDATE dim SET name = 'renamed' WHERE id = 1`);
      const r2 = await f.sync();
      expect(r2.ok, JSON.stringify(r2)).toBe(true);
      expect(await rowsText(f.redshift, `${f.target.schema}.dim`, ['id', 'name'])).toEqual(await rowsText(f.source, 'dim', ['id', 'name']));
      const priv = await f.redshift(`SELECT has_table_privilege($1, $2, 'select') AS ok`, [reader, `${f.target.schema}.dim`]);
      expect(priv.rows[0].ok).toBe(true);
      const leftovers = await f.redshift(`SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, [f.target.schema]);
      // The target and the loader's state table (fencing tokens), nothing else.
      expect(leftovers.rows.map((x) => x.tablename)).toEqual(['dim', 'redshift_loader_state']);
      expect(await f.s3Keys()).toEqual([]);
      await f.redshift(`DROP TABLE ${f.target.schema}.dim`);
      await f.redshift(`REVOKE ALL ON SCHEMA ${f.target.schema} FROM ${reader}`);
      await f.redshift(`DROP USER ${reader}`);
    });

    it('the swap keeps exactly the grants the target had: a user, a group, a role, a column grant (svv_relation_privileges, svv_column_privileges)', async () => {
      const tag = randomBytes(3).toString('hex');
      const [reader, member, group, role] = [`rdr_${tag}`, `mbr_${tag}`, `grp_${tag}`, `rol_${tag}`];
      const t = f.target.schema;
      await f.source(`CREATE TABLE facts (id int PRIMARY KEY, name text, secret text)`);
      await f.source(`INSERT INTO facts SELECT g, 'f' || g, 's' FROM generate_series(1, 12) g`);
      await f.redshift(`CREATE TABLE ${t}.facts (id INTEGER, name VARCHAR(20), secret VARCHAR(20)) DISTSTYLE EVEN`);
      await f.redshift(`CREATE USER ${reader} PASSWORD 'Reader123x'`);
      await f.redshift(`CREATE USER ${member} PASSWORD 'Member123x'`);
      await f.redshift(`CREATE GROUP ${group} WITH USER ${member}`);
      await f.redshift(`CREATE ROLE ${role}`);
      await f.redshift(`GRANT ROLE ${role} TO ${member}`);
      await f.redshift(`GRANT SELECT ON ${t}.facts TO ${reader}`);
      await f.redshift(`GRANT INSERT ON ${t}.facts TO GROUP ${group}`);
      await f.redshift(`GRANT SELECT (id, name) ON ${t}.facts TO ${member}`);
      await f.redshift(`GRANT DELETE, DROP ON ${t}.facts TO ROLE ${role}`);
      const privileges = async () => {
        const rel = await f.redshift(`SELECT privilege_type, identity_type, identity_name FROM svv_relation_privileges WHERE namespace_name = $1 AND relation_name = 'facts'`, [t]);
        const col = await f.redshift(`SELECT privilege_type, column_name, identity_type, identity_name FROM svv_column_privileges WHERE namespace_name = $1 AND relation_name = 'facts'`, [t]);
        return [
          ...rel.rows.map((r) => `${r.privilege_type} to ${r.identity_type} ${r.identity_name}`),
          ...col.rows.map((r) => `${r.privilege_type} (${r.column_name}) to ${r.identity_type} ${r.identity_name}`),
        ].sort();
      };
      const want = [`DELETE to role ${role}`, `DROP to role ${role}`, `INSERT to group ${group}`, `SELECT (id) to user ${member}`, `SELECT (name) to user ${member}`, `SELECT to user ${reader}`];
      expect(await privileges()).toEqual(want);
      await f.addTable({ source: 'facts', mode: 'FULL_DATA_SYNC', primaryKey: 'id', rowLimit: 5 });
      const r = await f.sync({ table: 'facts' });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.tables[0]).toMatchObject({ rows: 12 });
      expect(await rowsText(f.redshift, `${t}.facts`, ['id', 'name', 'secret'])).toEqual(await rowsText(f.source, 'facts', ['id', 'name', 'secret']));
      // The new table has exactly those grants, and they hold (through the group, the role and the column grant).
      expect(await privileges()).toEqual(want);
      const can = async (u: string, priv: string) => (await f.redshift(`SELECT has_table_privilege($1, $2, $3) AS ok`, [u, `${t}.facts`, priv])).rows[0].ok;
      const canCol = async (u: string, c: string) => (await f.redshift(`SELECT has_column_privilege($1, $2, $3, 'select') AS ok`, [u, `${t}.facts`, c])).rows[0].ok;
      expect([await can(reader, 'select'), await can(reader, 'insert'), await can(member, 'insert'), await can(member, 'delete'), await can(member, 'select')]).toEqual([true, false, true, true, false]);
      expect([await canCol(member, 'name'), await canCol(member, 'secret')]).toEqual([true, false]);
    });

    it('a table without any key is reloaded in one streamed batch', async () => {
      await f.source(`CREATE TABLE nokey (a text, b int)`);
      await f.source(`INSERT INTO nokey SELECT 'x' || g, g FROM generate_series(1, 25) g`);
      await f.source(`INSERT INTO nokey VALUES ('dup', 1), ('dup', 1)`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.nokey (a VARCHAR(10), b INTEGER)`);
      await f.addTable({ source: 'nokey', mode: 'FULL_DATA_SYNC', chunkSize: 5 });
      const r = await f.sync({ table: 'nokey' });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(r.tables[0]).toMatchObject({ rows: 27, batches: 1 });
      expect(await rowsText(f.redshift, `${f.target.schema}.nokey`, ['a', 'b'], 'a, b')).toEqual(await rowsText(f.source, 'nokey', ['a', 'b'], 'a, b'));
    });
  });

  describe('sync --dry-run', () => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture('dry', { EXTRACT_SESSIONS: '2' });
    });
    afterAll(() => f.close());

    it('prints the real statements of the next batch (drift, split keys, per-file COPY, load) and changes nothing', async () => {
      await f.source(`CREATE TABLE items (id int PRIMARY KEY, name text, secret text)`);
      await f.source(`INSERT INTO items SELECT g, 'n' || g, 's' FROM generate_series(1, 50) g`);
      // Added with a constant default: the existing rows hold 'a' (attmissingval), so no resync.
      await f.source(`ALTER TABLE items ADD COLUMN added text DEFAULT 'a'`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.items (id INTEGER NOT NULL, name VARCHAR(65535)) DISTKEY(id) SORTKEY(id)`);
      const tid = await f.addTable({ source: 'items', mode: 'INSERT_ONLY', primaryKey: 'id', rowLimit: 20, chunkSize: 5 });
      await f.meta(`UPDATE tables SET exclude_columns = 'secret', max_primary_key = '["10"]' WHERE id = $1`, [tid]);
      const out = await dryRunJob(f.metaUrl, f.jobName, undefined, f.env);
      // Schema drift as the sync would apply it: the new column, not the excluded one.
      expect(out).toContain(`ALTER TABLE "${f.target.schema}"."items" ADD COLUMN "added" VARCHAR(65535) DEFAULT 'a';`);
      expect(out).not.toContain('"secret"');
      expect(out).not.toContain('resynced');
      // The keyed extract: watermark, the key cursor and its steps, then one COPY per key range.
      expect(out).toContain(`SELECT set_config('redshift_loader.wm', '["10"]', true), set_config('redshift_loader.seen', '[]', true);`);
      expect(out).toContain(`DECLARE rl_batch_keys NO SCROLL CURSOR FOR\nSELECT "id" AS k0 FROM "public"."items"\nWHERE ("id") > `);
      expect(out).toContain('MOVE FORWARD 4 IN rl_batch_keys; FETCH FORWARD 1 FROM rl_batch_keys; -- repeated');
      expect(out).toContain('every 5th key, 4 files for a full batch');
      expect(out).toContain(`WHERE rn % '<rows per file>' = 0 OR is_last ORDER BY rn;`);
      expect(out).toContain('on 2 sessions sharing this snapshot');
      expect(out).toMatch(/set_config\('redshift_loader\.lo', '\["10"\]', true\), set_config\('redshift_loader\.hi', '\["<last id of the file>"\]', true\), set_config\('redshift_loader\.seen', '\[\]', true\);/);
      // The batch is checked before it is merged: every row loaded, keys unique and not NULL.
      expect(out).toContain('SELECT pg_last_copy_count(); -- must equal the rows extracted');
      expect(out).toContain(`GROUP BY "id"\n) d WHERE n > 1 OR "id" IS NULL`);
      expect(out).toMatch(/BEGIN;\nLOCK "[^"]+"\."redshift_loader_state", "[^"]+"\."items";\nSELECT run_token, .* -- must return run_token <this run's claim token>, else the transaction is rolled back\nDELETE FROM/);
      expect(out).toMatch(/COPY \(SELECT "id", "name", "added"\nFROM "public"\."items"\nWHERE \("id"\) > /);
      expect(out).toContain('MANIFEST');
      // Nothing happened anywhere.
      expect((await f.redshift(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'items'`, [f.target.schema])).rows[0].n).toBe(2);
      expect((await f.meta(`SELECT count(*)::int AS n FROM sync_runs`)).rows[0].n).toBe(0);
      expect((await f.meta(`SELECT max_primary_key FROM tables WHERE id = $1`, [tid])).rows[0].max_primary_key).toEqual(['10']);
      expect(await f.s3Keys()).toEqual([]);
      // A new column without a constant default means a resync: the batch starts from the beginning.
      await f.source(`ALTER TABLE items ADD COLUMN later int`);
      const again = await dryRunJob(f.metaUrl, f.jobName, undefined, f.env);
      expect(again).toContain(`ALTER TABLE "${f.target.schema}"."items" ADD COLUMN "later" INTEGER;`);
      expect(again).toContain('resynced from the start');
      expect(again).not.toContain(`'["10"]'`);
      expect((await f.meta(`SELECT max_primary_key FROM tables WHERE id = $1`, [tid])).rows[0].max_primary_key).toEqual(['10']);
    });
  });
});
