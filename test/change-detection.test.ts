import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectReplica } from './helpers/compare.js';
import { targetDescription } from './helpers/redshift.js';
import { quiesce, syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/**
 * Change detection on schemas shaped like the ones that lost rows (issue 13), through the
 * sync engine with the shipped defaults (UPDATED_KEY_OVERLAP_SECONDS = 60): each case ends
 * with every column of every row equal to the source.
 */

/** A session on the source that, unlike the loader's, keeps the database's TimeZone. */
async function writer(f: SyncFixture, timeZone?: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: f.sourceUrl });
  await c.connect();
  if (timeZone) await c.query(`SET TimeZone TO '${timeZone}'`);
  return c;
}

const dbName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

async function runRow(f: SyncFixture, tableId: number) {
  const r = await f.meta(`SELECT status, rows::int, rows_changed::int AS changed, rows_reread::int AS reread, rows_deleted::int AS deleted, error FROM sync_runs WHERE table_id = $1 ORDER BY id DESC LIMIT 1`, [tableId]);
  return r.rows[0] as { status: string; rows: number; changed: number; reread: number; deleted: number | null; error: string | null };
}

describe(`change detection against ${targetDescription}`, () => {
  describe('a timestamp-without-time-zone updated key on a source whose TimeZone is America/New_York', () => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture('tzny');
      await f.source(`ALTER DATABASE ${pg.escapeIdentifier(dbName(f.sourceUrl))} SET TimeZone TO 'America/New_York'`);
      await f.source(`CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$`);
    });
    afterAll(() => f.close());

    it('a row committed late by a long transaction arrives (the cap is taken in the writers\' wall time)', async () => {
      await f.source(`CREATE TABLE orders (id int PRIMARY KEY, v text, updated_at timestamp NOT NULL DEFAULT now())`);
      await f.source(`CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch()`);
      const w = await writer(f);
      const long = await writer(f);
      try {
        await w.query(`INSERT INTO orders (id, v) SELECT g, 'a' FROM generate_series(1, 20) g`);
        await f.redshift(`CREATE TABLE ${f.target.schema}.orders (id INTEGER NOT NULL, v VARCHAR(20), updated_at TIMESTAMP NOT NULL)`);
        const tid = await f.addTable({ source: 'orders', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
        await quiesce(f);
        expect((await f.sync()).ok).toBe(true);
        // A long transaction stamps row 1 with its start (New York wall time) and stays open;
        // meanwhile a row stamped 90 s later (more than the 60 s overlap) commits.
        await long.query('BEGIN');
        await long.query(`UPDATE orders SET v = 'late' WHERE id = 1`);
        await w.query(`INSERT INTO orders (id, v, updated_at) VALUES (21, 'ahead', localtimestamp + interval '90 seconds')`);
        const r2 = await f.sync();
        expect(r2.ok, JSON.stringify(r2)).toBe(true);
        expect(r2.tables[0]).toMatchObject({ rows: 1, changed: 1 });
        // The stored watermark did not pass the open transaction's start, in New York wall time.
        const wm = await f.meta(`SELECT max_updated_key::text AS uk, max_primary_key FROM tables WHERE id = $1`, [tid]);
        const start = await long.query(`SELECT date_trunc('second', now()::timestamp)::text AS t`);
        expect(wm.rows[0].max_primary_key).toBeNull();
        expect(wm.rows[0].uk.slice(0, 19)).toBe(start.rows[0].t);
        await long.query('COMMIT');
        const r3 = await f.sync();
        expect(r3.ok, JSON.stringify(r3)).toBe(true);
        expect(await expectReplica(f, { name: 'orders' }, { schema: f.target.schema })).toBe(21);
        expect((await f.redshift(`SELECT v FROM ${f.target.schema}.orders WHERE id = 1`)).rows[0].v).toBe('late');
      } finally {
        await long.end();
        await w.end();
      }
    });

    it('writers in New York on a UTC database: updated_key_time_zone tells the loader their wall time', async () => {
      const db = pg.escapeIdentifier(dbName(f.sourceUrl));
      await f.source(`ALTER DATABASE ${db} SET TimeZone TO 'UTC'`);
      try {
        await f.source(`CREATE TABLE tickets (id int PRIMARY KEY, v text, updated_at timestamp NOT NULL DEFAULT now())`);
        await f.source(`CREATE TRIGGER tickets_touch BEFORE UPDATE ON tickets FOR EACH ROW EXECUTE FUNCTION touch()`);
        const w = await writer(f, 'America/New_York');
        const long = await writer(f, 'America/New_York');
        try {
          await w.query(`INSERT INTO tickets (id, v) SELECT g, 'a' FROM generate_series(1, 10) g`);
          await f.redshift(`CREATE TABLE ${f.target.schema}.tickets (id INTEGER NOT NULL, v VARCHAR(20), updated_at TIMESTAMP NOT NULL)`);
          const tid = await f.addTable({ source: 'tickets', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
          await f.meta(`UPDATE tables SET updated_key_time_zone = 'America/New_York' WHERE id = $1`, [tid]);
          expect((await f.sync({ table: 'tickets' })).ok).toBe(true);
          await long.query('BEGIN');
          await long.query(`UPDATE tickets SET v = 'late' WHERE id = 3`);
          await w.query(`INSERT INTO tickets (id, v, updated_at) VALUES (11, 'ahead', localtimestamp + interval '90 seconds')`);
          expect((await f.sync({ table: 'tickets' })).ok).toBe(true);
          await long.query('COMMIT');
          expect((await f.sync({ table: 'tickets' })).ok).toBe(true);
          expect(await expectReplica(f, { name: 'tickets' }, { schema: f.target.schema })).toBe(11);
          // A zone the source does not know stops the table with the fix.
          await f.meta(`UPDATE tables SET updated_key_time_zone = 'Mars/Olympus' WHERE id = $1`, [tid]);
          const bad = await f.sync({ table: 'tickets' });
          expect(bad.tables[0]!.error).toBe(
            'job "tzny_job", table public.tickets: updated_key_time_zone "Mars/Olympus" is not a time zone the source knows; use an IANA name such as America/New_York or UTC (or NULL for the source\'s default)',
          );
        } finally {
          await long.end();
          await w.end();
        }
      } finally {
        await f.source(`ALTER DATABASE ${db} SET TimeZone TO 'America/New_York'`);
      }
    });

    it('a timestamptz updated key on the same source: a late commit arrives (instants need no zone)', async () => {
      await f.source(`CREATE TABLE events (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT now())`);
      await f.source(`CREATE TRIGGER events_touch BEFORE UPDATE ON events FOR EACH ROW EXECUTE FUNCTION touch()`);
      const w = await writer(f);
      const long = await writer(f);
      try {
        await w.query(`INSERT INTO events (id, v) SELECT g, 'a' FROM generate_series(1, 10) g`);
        await f.redshift(`CREATE TABLE ${f.target.schema}.events (id INTEGER NOT NULL, v VARCHAR(20), updated_at TIMESTAMPTZ NOT NULL)`);
        await f.addTable({ source: 'events', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
        expect((await f.sync({ table: 'events' })).ok).toBe(true);
        await long.query('BEGIN');
        await long.query(`UPDATE events SET v = 'late' WHERE id = 2`);
        await w.query(`INSERT INTO events (id, v, updated_at) VALUES (11, 'ahead', now() + interval '90 seconds')`);
        expect((await f.sync({ table: 'events' })).ok).toBe(true);
        await long.query('COMMIT');
        expect((await f.sync({ table: 'events' })).ok).toBe(true);
        expect(await expectReplica(f, { name: 'events' }, { schema: f.target.schema })).toBe(11);
        expect((await f.redshift(`SELECT v FROM ${f.target.schema}.events WHERE id = 2`)).rows[0].v).toBe('late');
      } finally {
        await long.end();
        await w.end();
      }
    });

    it('a date updated key: changes later the same day arrive, unchanged rows are not read again', async () => {
      await f.source(`CREATE TABLE stock (sku int PRIMARY KEY, qty int NOT NULL, updated_on date NOT NULL DEFAULT current_date)`);
      await f.source(`CREATE FUNCTION touch_day() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_on := current_date; RETURN NEW; END $$`);
      await f.source(`CREATE TRIGGER stock_touch BEFORE UPDATE ON stock FOR EACH ROW EXECUTE FUNCTION touch_day()`);
      const w = await writer(f);
      try {
        await w.query(`INSERT INTO stock (sku, qty) SELECT g, 10 FROM generate_series(1, 50) g`);
        await f.redshift(`CREATE TABLE ${f.target.schema}.stock (sku INTEGER NOT NULL, qty INTEGER NOT NULL, updated_on DATE NOT NULL)`);
        const tid = await f.addTable({ source: 'stock', mode: 'INSERT_AND_UPDATE', primaryKey: 'sku', updatedKey: 'updated_on' });
        await quiesce(f);
        expect((await f.sync({ table: 'stock' })).tables[0]).toMatchObject({ ok: true, rows: 50 });
        // Same day, keys below the stored (date, 50).
        await w.query(`UPDATE stock SET qty = qty - 1 WHERE sku IN (3, 7)`);
        const r = await f.sync({ table: 'stock' });
        expect(r.tables[0]).toMatchObject({ ok: true, rows: 2, changed: 2, reread: 0 });
        expect(await runRow(f, tid)).toMatchObject({ status: 'succeeded', rows: 2, changed: 2, reread: 0 });
        expect(await expectReplica(f, { name: 'stock' }, { schema: f.target.schema })).toBe(50);
      } finally {
        await w.end();
      }
    });
  });

  describe('rows that share one updated_key (a bulk load)', () => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture('bulkts');
    });
    afterAll(() => f.close());

    it('an unchanged 60,000-row table costs nothing per run; changed and re-read rows are counted apart', async () => {
      await f.source(`CREATE TABLE rental (rental_id int PRIMARY KEY, note text, last_update timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00')`);
      await f.source(`INSERT INTO rental (rental_id, note) SELECT g, 'n' || g FROM generate_series(1, 60000) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.rental (rental_id INTEGER NOT NULL, note VARCHAR(20), last_update TIMESTAMPTZ NOT NULL)`);
      const tid = await f.addTable({ source: 'rental', mode: 'INSERT_AND_UPDATE', primaryKey: 'rental_id', updatedKey: 'last_update', rowLimit: 25_000 });
      await quiesce(f);
      const r1 = await f.sync();
      expect(r1.tables[0]).toMatchObject({ ok: true, rows: 60000, changed: 60000, reread: 0, batches: 3 });
      // Nothing changed: the 60 s overlap covers all 60,000 rows, and none is read again.
      const r2 = await f.sync();
      expect(r2.tables[0]).toMatchObject({ ok: true, rows: 0, changed: 0, reread: 0 });
      await f.source(`UPDATE rental SET note = 'changed', last_update = now() WHERE rental_id IN (5, 30000, 59999)`);
      await f.source(`INSERT INTO rental VALUES (60001, 'new', now()), (60002, 'new', '2024-01-01 00:00:00+00')`);
      await quiesce(f);
      const r3 = await f.sync();
      expect(r3.tables[0]).toMatchObject({ ok: true, rows: 5, changed: 5, reread: 0 });
      expect(await runRow(f, tid)).toMatchObject({ rows: 5, changed: 5, reread: 0 });
      expect(f.logs.filter((l) => l.msg === 'table sync succeeded' && l.table === 'public.rental').map((l) => [l.rows, l.changed, l.reread])).toEqual([
        [60000, 60000, 0],
        [0, 0, 0],
        [5, 5, 0],
      ]);
      expect(await expectReplica(f, { name: 'rental' }, { schema: f.target.schema })).toBe(60002);
      // Without the record of what was read (e.g. after an upgrade), the overlap's rows are
      // read again and counted as re-read, not as changes.
      await f.meta(`UPDATE tables SET watermark_snapshot = NULL WHERE id = $1`, [tid]);
      const r4 = await f.sync();
      expect(r4.tables[0]).toMatchObject({ ok: true, changed: 0 });
      expect(r4.tables[0]!.reread).toBe(r4.tables[0]!.rows);
      expect(r4.tables[0]!.rows).toBeGreaterThan(0);
      // An edit of the watermark voids the record: the next run reads everything after the
      // edited point (rows after the watermark count as changed: the loader cannot know them).
      await f.meta(`UPDATE tables SET max_updated_key = '2023-12-31 23:00:00+00', max_primary_key = NULL WHERE id = $1`, [tid]);
      const r5 = await f.sync();
      expect(r5.tables[0]).toMatchObject({ ok: true, rows: 60002, changed: 60002, reread: 0 });
      expect(await expectReplica(f, { name: 'rental' }, { schema: f.target.schema })).toBe(60002);
    });
  });

  describe('keys that are not what they claim', () => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture('badkeys');
    });
    afterAll(() => f.close());

    it('a NULL updated key stops the table with a line naming the column and the row; nothing is loaded', async () => {
      await f.source(`CREATE TABLE customer (id int PRIMARY KEY, name text, updated_at timestamptz)`);
      await f.source(`INSERT INTO customer VALUES (1, 'a', now()), (2, 'b', now()), (3, 'c', NULL), (4, 'd', now())`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.customer (id INTEGER NOT NULL, name VARCHAR(10), updated_at TIMESTAMPTZ)`);
      const tid = await f.addTable({ source: 'customer', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
      const r = await f.sync({ table: 'customer' });
      expect(r.ok).toBe(false);
      expect(r.tables[0]!.error).toBe(
        'job "badkeys_job", table public.customer: updated_key column "updated_at" is NULL in 1 source row(s) (e.g. the row with id = 3). ' +
          'Rows are read in key order, which cannot place a NULL, so they would never be synced: set a value in those rows (and make the column NOT NULL), ' +
          'choose another updated_key, or use copy_mode FULL_DATA_SYNC. Nothing of this batch was loaded; the watermark is kept.',
      );
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.customer`)).rows[0].n).toBe(0);
      expect((await f.meta(`SELECT max_updated_key FROM tables WHERE id = $1`, [tid])).rows[0].max_updated_key).toBeNull();
      await f.source(`UPDATE customer SET updated_at = now() WHERE id = 3`);
      expect((await f.sync({ table: 'customer' })).ok).toBe(true);
      expect(await expectReplica(f, { name: 'customer' }, { schema: f.target.schema })).toBe(4);
    });

    it('a NULL in a later key column is named too (the batch check on Redshift)', async () => {
      await f.source(`CREATE TABLE line (order_id int NOT NULL, line_no int, qty int)`);
      await f.source(`INSERT INTO line VALUES (1, 1, 5), (2, NULL, 6), (3, 1, 7)`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.line (order_id INTEGER NOT NULL, line_no INTEGER, qty INTEGER)`);
      await f.addTable({ source: 'line', mode: 'INSERT_ONLY', primaryKey: 'order_id, line_no' });
      const r = await f.sync({ table: 'line' });
      expect(r.tables[0]!.error).toMatch(/^job "badkeys_job", table public\.line: (batch 1: )?primary_key column(\(s\))? "line_no" (is NULL in 1 source row\(s\) \(e\.g\. the row with order_id = 2\)|hold NULL in 1 row\(s\) of this batch \("2", NULL\))/);
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.line`)).rows[0].n).toBe(0);
    });

    it('a key watermark above 2^53 is kept exact: the next sync reads exactly the rows after it', async () => {
      await f.source(`CREATE TABLE ledger (id bigint PRIMARY KEY, amount numeric(12,2))`);
      await f.source(`INSERT INTO ledger SELECT 1234567890123456780 + g, g FROM generate_series(0, 10) g`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.ledger (id BIGINT NOT NULL, amount NUMERIC(12,2))`);
      const tid = await f.addTable({ source: 'ledger', mode: 'INSERT_ONLY', primaryKey: 'id' });
      // Hand-written as a JSON number, which a JavaScript number would round to ...800.
      await f.meta(`UPDATE tables SET max_primary_key = '[1234567890123456785]' WHERE id = $1`, [tid]);
      const r = await f.sync({ table: 'ledger' });
      expect(r.tables[0]).toMatchObject({ ok: true, rows: 5 });
      const got = await f.redshift(`SELECT id::text AS id FROM ${f.target.schema}.ledger ORDER BY id`);
      expect(got.rows.map((x) => x.id)).toEqual(['1234567890123456786', '1234567890123456787', '1234567890123456788', '1234567890123456789', '1234567890123456790']);
      expect((await f.meta(`SELECT max_primary_key::text AS k FROM tables WHERE id = $1`, [tid])).rows[0].k).toBe('["1234567890123456790"]');
      await f.source(`INSERT INTO ledger VALUES (1234567890123456791, 1)`);
      expect((await f.sync({ table: 'ledger' })).tables[0]).toMatchObject({ ok: true, rows: 1 });
    });

    it('FULL_DATA_SYNC with a key that is not unique fails before the swap; the target keeps its rows', async () => {
      await f.source(`CREATE TABLE dim (code text NOT NULL, label text)`);
      await f.source(`INSERT INTO dim VALUES ('a', 'x'), ('b', 'y')`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.dim (code VARCHAR(10) NOT NULL, label VARCHAR(10))`);
      const tid = await f.addTable({ source: 'dim', mode: 'FULL_DATA_SYNC', primaryKey: 'code' });
      expect((await f.sync({ table: 'dim' })).ok).toBe(true);
      await f.source(`INSERT INTO dim VALUES ('a', 'dup')`);
      const r = await f.sync({ table: 'dim' });
      expect(r.tables[0]!.error).toMatch(/^job "badkeys_job", table public\.dim: primary_key \(code\) is not unique at the source: key \("a"\) occurs 2 times/);
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.dim`)).rows[0].n).toBe(2);
      expect((await f.redshift(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'dim_rl%'`, [f.target.schema])).rows[0].n).toBe(0);
      await f.meta(`UPDATE tables SET allow_duplicate_keys = true WHERE id = $1`, [tid]);
      expect((await f.sync({ table: 'dim' })).ok).toBe(true);
      expect(await expectReplica(f, { name: 'dim' }, { schema: f.target.schema })).toBe(3);
    });

    it('allow_duplicate_keys is refused for INSERT_AND_UPDATE, with the reason', async () => {
      await f.source(`CREATE TABLE evt (id int, at timestamptz NOT NULL)`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.evt (id INTEGER, at TIMESTAMPTZ NOT NULL)`);
      const tid = await f.addTable({ source: 'evt', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'at' });
      await f.meta(`UPDATE tables SET allow_duplicate_keys = true WHERE id = $1`, [tid]);
      const r = await f.sync({ table: 'evt' });
      expect(r.tables[0]!.error).toBe(
        'job "badkeys_job", table public.evt: allow_duplicate_keys needs copy_mode INSERT_ONLY or FULL_DATA_SYNC: with an updated key, the rows of one key can fall into different batches and replace each other',
      );
    });
  });

  describe('sources that cannot be read yet, and deletes', () => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture('reads');
    });
    afterAll(() => f.close());

    it('an unpopulated materialized view fails with the command that fixes it', async () => {
      await f.source(`CREATE TABLE base (id int PRIMARY KEY)`);
      await f.source(`CREATE MATERIALIZED VIEW sales_mv AS SELECT id FROM base WITH NO DATA`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.sales_mv (id INTEGER)`);
      await f.addTable({ source: 'sales_mv', mode: 'FULL_DATA_SYNC' });
      const r = await f.sync({ table: 'sales_mv' });
      expect(r.tables[0]!.error).toBe(
        'job "reads_job", table public.sales_mv: materialized view public.sales_mv has never been populated at the source, so it cannot be read: run REFRESH MATERIALIZED VIEW "public"."sales_mv" there (or disable this table)',
      );
      await f.source(`INSERT INTO base VALUES (1), (2)`);
      await f.source(`REFRESH MATERIALIZED VIEW sales_mv`);
      expect((await f.sync({ table: 'sales_mv' })).tables[0]).toMatchObject({ ok: true, rows: 2 });
    });

    it('delete detection runs at most every delete_detection_minutes, and is recorded', async () => {
      await f.source(`CREATE TABLE playlist_track (playlist_id int, track_id int, PRIMARY KEY (playlist_id, track_id))`);
      await f.source(`INSERT INTO playlist_track SELECT p, t FROM generate_series(1, 3) p, generate_series(1, 20) t`);
      await f.redshift(`CREATE TABLE ${f.target.schema}.playlist_track (playlist_id INTEGER NOT NULL, track_id INTEGER NOT NULL)`);
      const tid = await f.addTable({ source: 'playlist_track', mode: 'INSERT_ONLY', primaryKey: 'playlist_id, track_id' });
      await f.meta(`UPDATE tables SET delete_detection = true, delete_detection_minutes = 60 WHERE id = $1`, [tid]);
      const r1 = await f.sync({ table: 'playlist_track' });
      expect(r1.tables[0]).toMatchObject({ ok: true, rows: 60, deleted: 0 });
      const checked = (await f.meta(`SELECT deletes_checked_at, deletes_removed::int AS n FROM tables WHERE id = $1`, [tid])).rows[0];
      expect(checked.deletes_checked_at).toBeInstanceOf(Date);
      expect(checked.n).toBe(0);
      await f.source(`DELETE FROM playlist_track WHERE track_id IN (4, 5)`);
      // Within the interval: not checked, so the target still has the rows.
      const r2 = await f.sync({ table: 'playlist_track' });
      expect(r2.tables[0]).toMatchObject({ ok: true, deleted: null });
      expect((await runRow(f, tid)).deleted).toBeNull();
      expect((await f.redshift(`SELECT count(*)::int AS n FROM ${f.target.schema}.playlist_track`)).rows[0].n).toBe(60);
      // An hour later (as far as the metadata DB's clock is concerned): checked, rows removed.
      await f.meta(`UPDATE tables SET deletes_checked_at = now() - interval '61 minutes' WHERE id = $1`, [tid]);
      const r3 = await f.sync({ table: 'playlist_track' });
      expect(r3.tables[0]).toMatchObject({ ok: true, deleted: 6 });
      expect(await runRow(f, tid)).toMatchObject({ status: 'succeeded', deleted: 6 });
      expect((await f.meta(`SELECT deletes_removed::int AS n FROM tables WHERE id = $1`, [tid])).rows[0].n).toBe(6);
      expect(await expectReplica(f, { name: 'playlist_track' }, { schema: f.target.schema })).toBe(54);
    });
  });
});
