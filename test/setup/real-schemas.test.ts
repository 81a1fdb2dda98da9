import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { runSetup } from '../../src/setup/setup.js';
import { collectStatus } from '../../src/status/status.js';
import { expectReplica } from '../helpers/compare.js';
import { CHINOOK_TABLES, createDvdRental, loadChinook } from '../helpers/datasets.js';
import { targetDescription } from '../helpers/redshift.js';
import { withClient } from '../helpers/stack.js';
import { quiesce, syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';

/**
 * Setup with its defaults on schemas nobody here shaped for the loader, then a day of
 * changes (updates that bump the tables' own timestamps, inserts, deletes), then sync:
 * every column of every row must match the source (issue 13).
 */
const log = createLogger({ level: 'silent', pretty: false });
const dbName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

/** A session that keeps the source database's TimeZone (the loader's own sessions run in UTC). */
async function asWriter<T>(f: SyncFixture, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClient(f.sourceUrl, fn);
}

function section(output: string, table: string): string {
  const start = output.indexOf(`\n${table} (`);
  expect(start, `setup output has no section for ${table}`).toBeGreaterThanOrEqual(0);
  const end = output.indexOf('\n\n', start + 1);
  return output.slice(start + 1, end === -1 ? undefined : end);
}

describe(`setup's defaults on real schemas, against ${targetDescription}`, () => {
  describe('a DVD-rental-shaped schema (trigger-maintained last_update, source TimeZone America/New_York)', () => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture('dvd');
      await f.source(`ALTER DATABASE ${pg.escapeIdentifier(dbName(f.sourceUrl))} SET TimeZone TO 'America/New_York'`);
      await asWriter(f, (c) => createDvdRental((sql) => c.query(sql)));
    });
    afterAll(() => f.close());

    it('setup recognises the trigger, syncs, and a day of changes arrives exactly', async () => {
      const s = await runSetup(f.metaUrl, { jobName: f.jobName }, { log });
      expect(s.ok, s.output).toBe(true);
      for (const t of ['actor', 'film', 'film_actor', 'language']) {
        const out = section(s.output, `public.${t}`);
        expect(out).toContain(`public.${t} (table) -> ${f.target.schema}.${t}: INSERT_AND_UPDATE`);
        expect(out).toContain('updated key "last_update" (timestamp without time zone): trigger "last_updated" (function last_updated) sets it to CURRENT_TIMESTAMP before every UPDATE');
        expect(out).toContain('note: "last_update" has no time zone: it is read as wall time in the source\'s default TimeZone (America/New_York)');
        expect(out).toContain('deletes: delete detection on every run');
      }
      const payment = section(s.output, 'public.payment');
      expect(payment).toContain('FULL_DATA_SYNC');
      expect(payment).toContain('why: primary key (payment_id, payment_date) (declared (payment_date, payment_id); the sequence-fed column leads) but no updated-at column, and 1,500 rows counted, under the 100,000-row threshold');
      const rows = await f.meta(`SELECT source_name, copy_mode::text AS mode, primary_key, updated_key, delete_detection, delete_detection_minutes FROM tables ORDER BY source_name`);
      expect(rows.rows).toEqual([
        { source_name: 'actor', mode: 'INSERT_AND_UPDATE', primary_key: 'actor_id', updated_key: 'last_update', delete_detection: true, delete_detection_minutes: null },
        { source_name: 'film', mode: 'INSERT_AND_UPDATE', primary_key: 'film_id', updated_key: 'last_update', delete_detection: true, delete_detection_minutes: null },
        { source_name: 'film_actor', mode: 'INSERT_AND_UPDATE', primary_key: 'actor_id, film_id', updated_key: 'last_update', delete_detection: true, delete_detection_minutes: null },
        { source_name: 'language', mode: 'INSERT_AND_UPDATE', primary_key: 'language_id', updated_key: 'last_update', delete_detection: true, delete_detection_minutes: null },
        { source_name: 'payment', mode: 'FULL_DATA_SYNC', primary_key: 'payment_id, payment_date', updated_key: null, delete_detection: false, delete_detection_minutes: null },
      ]);
      await quiesce(f);
      const first = await f.sync();
      expect(first.ok, JSON.stringify(first)).toBe(true);
      for (const t of ['actor', 'film', 'film_actor', 'language', 'payment']) await expectReplica(f, { name: t }, { schema: f.target.schema });

      // A day of changes, written by sessions in the source's own TimeZone.
      await asWriter(f, async (c) => {
        await c.query(`UPDATE film SET rental_rate = rental_rate + 1, rating = 'R' WHERE film_id % 50 = 0`);
        await c.query(`UPDATE actor SET last_name = 'Changed' WHERE actor_id IN (3, 150)`);
        await c.query(`UPDATE language SET name = 'Deutsch' WHERE language_id = 2`);
        await c.query(`INSERT INTO actor (first_name, last_name) VALUES ('New', 'Actor')`);
        await c.query(`INSERT INTO film_actor (actor_id, film_id) VALUES (201, 5)`);
        await c.query(`DELETE FROM film_actor WHERE film_id BETWEEN 10 AND 20`);
        await c.query(`DELETE FROM film_actor WHERE actor_id = 199`);
        await c.query(`DELETE FROM actor WHERE actor_id = 199`);
        await c.query(`INSERT INTO payment (customer_id, amount, payment_date) VALUES (1, 2.99, '2022-01-01 00:30:00+00'), (2, 3.99, '2022-02-20 10:00:00+00')`);
        await c.query(`DELETE FROM payment WHERE payment_id = 7`);
      });
      await quiesce(f);
      const second = await f.sync();
      expect(second.ok, JSON.stringify(second)).toBe(true);
      const byTable = Object.fromEntries(second.tables.map((t) => [t.table, t]));
      expect(byTable['public.film']).toMatchObject({ changed: 20, reread: 0 });
      expect(byTable['public.actor']).toMatchObject({ changed: 3, deleted: 1 });
      expect(byTable['public.film_actor']!.deleted).toBeGreaterThan(20);
      for (const t of ['actor', 'film', 'film_actor', 'language', 'payment']) await expectReplica(f, { name: t }, { schema: f.target.schema });

      // Nothing changed since: the incremental tables read nothing at all.
      const third = await f.sync();
      expect(third.tables.filter((t) => t.table !== 'public.payment').map((t) => [t.table, t.rows, t.deleted])).toEqual([
        ['public.actor', 0, 0],
        ['public.film', 0, 0],
        ['public.film_actor', 0, 0],
        ['public.language', 0, 0],
      ]);
      const status = await withClient(f.metaUrl, (db) => collectStatus(db, f.jobName));
      expect(status.map((t) => [t.table, t.lag.split(',')[0], t.risks])).toEqual([
        ['public.actor', '0 rows after the watermark', []],
        ['public.film', '0 rows after the watermark', []],
        ['public.film_actor', '0 rows after the watermark', []],
        ['public.language', '0 rows after the watermark', []],
        ['public.payment', '1501 rows at the source', []],
      ]);
      expect(status[0]!.deletes).toMatch(/^every run; checked \d{4}-\d\d-\d\d .*, removed 0$/);
    });

    it('over the size threshold: INSERT_ONLY keyed by the serial first, so payments with earlier dates arrive; delete detection every 60 minutes', async () => {
      const g = await syncFixture('dvdbig');
      try {
        await asWriter(g, (c) => createDvdRental((sql) => c.query(sql)));
        await g.source(`CREATE TABLE playlist_track (playlist_id int, track_id int, PRIMARY KEY (playlist_id, track_id))`);
        const s = await runSetup(g.metaUrl, { jobName: g.jobName, include: ['payment', 'playlist_track'], fullSyncBelow: 0 }, { log });
        expect(s.ok, s.output).toBe(true);
        const payment = section(s.output, 'public.payment');
        expect(payment).toContain('INSERT_ONLY');
        expect(payment).toContain('warning: INSERT_ONLY: updates at the source are never seen (no updated-at column); deletes are found by delete detection every 60 minutes');
        expect(payment).not.toContain('sequence or identity');
        expect(section(s.output, 'public.playlist_track')).toContain(
          'warning: no column of the key (playlist_id, track_id) is fed by a sequence or identity: rows inserted out of key order (below the watermark) are never read',
        );
        expect((await g.meta(`SELECT primary_key, delete_detection, delete_detection_minutes FROM tables WHERE source_name = 'payment'`)).rows[0]).toEqual({
          primary_key: 'payment_id, payment_date',
          delete_detection: true,
          delete_detection_minutes: 60,
        });
        expect((await g.sync({ table: 'payment' })).ok).toBe(true);
        // 40 new payments dated before every existing one (a late-booked business date).
        await g.source(`INSERT INTO payment (customer_id, amount, payment_date) SELECT g, 1.99, '2022-01-01 00:00:01+00'::timestamptz + g * interval '1 second' FROM generate_series(1, 40) g`);
        const r = await g.sync({ table: 'payment' });
        expect(r.tables[0]).toMatchObject({ ok: true, rows: 40 });
        expect(await expectReplica(g, { name: 'payment' }, { schema: g.target.schema })).toBe(1540);
        const st = await withClient(g.metaUrl, (db) => collectStatus(db, g.jobName));
        expect(st.find((t) => t.table === 'public.payment')!.risks).toEqual(['INSERT_ONLY: updates are not seen, nor rows inserted with a key below the watermark']);
      } finally {
        await g.close();
      }
    });
  });

  describe('the public Chinook sample database', () => {
    let f: SyncFixture;
    beforeAll(async () => {
      f = await syncFixture('chinook');
      await loadChinook(f.source);
    });
    afterAll(() => f.close());

    it('setup copies every small keyed table whole; after a day of changes every table is identical', async () => {
      const s = await runSetup(f.metaUrl, { jobName: f.jobName }, { log });
      expect(s.ok, s.output).toBe(true);
      expect(s.tables.map((t) => [t.source, t.copyMode])).toEqual(CHINOOK_TABLES.map((t) => [`public.${t}`, 'FULL_DATA_SYNC']));
      expect(section(s.output, 'public.track')).toContain('why: primary key (track_id) but no updated-at column, and 3,503 rows counted, under the 100,000-row threshold: the whole table is copied every sync, which sees every insert, update and delete');
      const first = await f.sync();
      expect(first.ok, JSON.stringify(first)).toBe(true);
      expect(first.tables.reduce((n, t) => n + t.rows, 0)).toBe(15607);
      await f.source(`UPDATE track SET unit_price = 1.29 WHERE genre_id = 1`);
      await f.source(`UPDATE customer SET email = lower(email), company = NULL WHERE country = 'Brazil'`);
      await f.source(`UPDATE employee SET title = 'Sales Manager', reports_to = NULL WHERE employee_id = 3`);
      await f.source(`INSERT INTO invoice VALUES (413, 5, '2026-12-01 10:00:00', 'Street 1', 'City', NULL, 'Country', '12345', 1.98)`);
      await f.source(`INSERT INTO invoice_line VALUES (2241, 413, 1, 0.99, 1), (2242, 413, 2, 0.99, 1)`);
      await f.source(`DELETE FROM playlist_track WHERE playlist_id = 1 AND track_id < 100`);
      await f.source(`DELETE FROM invoice_line WHERE invoice_id = 1`);
      await f.source(`INSERT INTO artist VALUES (276, 'Émilie Simon ☂')`);
      const second = await f.sync();
      expect(second.ok, JSON.stringify(second)).toBe(true);
      let total = 0;
      for (const t of CHINOOK_TABLES) total += await expectReplica(f, { name: t }, { schema: f.target.schema });
      // 4 rows came; invoice 1's 2 lines and 99 entries of playlist 1 went.
      expect(total).toBe(15607 + 4 - 2 - 99);
    });

    it('with --full-sync-below 0 setup says, table by table, what INSERT_ONLY cannot see', async () => {
      const s = await runSetup(f.metaUrl, { jobName: f.jobName, dryRun: true, fullSyncBelow: 0 }, { log });
      // Existing rows are kept as configured; a fresh job shows the choice.
      const g = await syncFixture('chinook2');
      try {
        await loadChinook(g.source);
        const d = await runSetup(g.metaUrl, { jobName: g.jobName, dryRun: true, fullSyncBelow: 0 }, { log });
        expect(d.tables.every((t) => t.copyMode === 'INSERT_ONLY')).toBe(true);
        const track = section(d.output, 'public.track');
        expect(track).toContain('warning: INSERT_ONLY: updates at the source are never seen (no updated-at column); deletes are found by delete detection every 60 minutes');
        expect(track).toContain('warning: key "track_id" is not fed by a sequence or identity: a row inserted with a key below the watermark (an application-chosen id, a random uuid) is never read');
      } finally {
        await g.close();
      }
      expect(s.tables.every((t) => t.rowAction === 'kept')).toBe(true);
    });
  });
});
