import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdcNames, inspectSlot } from '../src/sync/cdc/slot.js';
import { expectReplica } from './helpers/compare.js';
import { stackEnv } from './helpers/stack.js';
import { targetDescription } from './helpers/redshift.js';
import { syncFixture, type SyncFixture } from './helpers/sync-fixture.js';

/**
 * copy_mode CDC (issue 20): the job's tables follow the source's write-ahead log through one
 * replication slot. Every test checks the target row by row against the source.
 */
describe(`copy_mode CDC against ${targetDescription}`, () => {
  let f: SyncFixture;
  beforeAll(async () => {
    f = await syncFixture('cdc', { CDC_BATCH_ROWS: '1000' });
  });
  afterAll(async () => {
    await f.source(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [cdcNames(f.jobName).slot]).catch(() => undefined);
    await f.close();
  });

  const T = () => f.target.schema;
  async function runOk(): Promise<void> {
    const r = await f.sync();
    expect(r.ok, JSON.stringify(r.tables)).toBe(true);
  }
  async function same(name: string): Promise<number> {
    const n = await expectReplica(f, { name }, { schema: T() });
    return n;
  }

  it('initial load in the slot snapshot, then inserts, updates and deletes', async () => {
    await f.source(`CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), at timestamptz)`);
    await f.source(`INSERT INTO items SELECT g, 'item ' || g, g * 1.5, '2024-01-01 00:00:00.123456+00'::timestamptz + g * interval '1 second' FROM generate_series(1, 2500) g`);
    await f.redshift(`CREATE TABLE ${T()}.items (id INTEGER NOT NULL, name VARCHAR(100) NOT NULL, price NUMERIC(10,2), at TIMESTAMPTZ)`);
    await f.addTable({ source: 'items', mode: 'CDC', primaryKey: 'id' });
    await runOk();
    expect(await same('items')).toBe(2500);
    const slot = await inspectSlot({ query: (q: string, p?: unknown[]) => f.source(q, p) } as unknown as pg.ClientBase, cdcNames(f.jobName).slot);
    expect(slot?.plugin).toBe('pgoutput');

    await f.source(`INSERT INTO items VALUES (3001, 'new "quoted", item', NULL, now())`);
    await f.source(`UPDATE items SET price = price + 1, name = name || ' é' WHERE id <= 10`);
    await f.source(`DELETE FROM items WHERE id BETWEEN 11 AND 20`);
    await f.source(`UPDATE items SET id = 5000 WHERE id = 21`);
    await f.source(`INSERT INTO items VALUES (3002, 'gone', 1, now())`);
    await f.source(`DELETE FROM items WHERE id = 3002`);
    await runOk();
    expect(await same('items')).toBe(2500 + 1 - 10);
    const runs = await f.meta(`SELECT status, rows::int, copy_mode::text FROM sync_runs WHERE table_id = (SELECT id FROM tables WHERE source_name = 'items') ORDER BY id DESC LIMIT 1`);
    expect(runs.rows[0]).toMatchObject({ status: 'succeeded', copy_mode: 'CDC', rows: 1 + 10 + 10 + 1 + 1 + 1 });
  });

  it('an UPDATE that leaves a TOASTed column unchanged keeps the target value (never NULL)', async () => {
    await f.source(`CREATE TABLE docs (id int PRIMARY KEY, body text, n int)`);
    await f.source(`ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL`); // toasted, uncompressed, above ~2 kB
    await f.redshift(`CREATE TABLE ${T()}.docs (id INTEGER NOT NULL, body VARCHAR(65535), n INTEGER)`);
    await f.addTable({ source: 'docs', mode: 'CDC', primaryKey: 'id' });
    await runOk();
    await f.source(`INSERT INTO docs SELECT g, repeat(md5(g::text), 200), 0 FROM generate_series(1, 5) g`); // 6400 bytes each
    await runOk();
    await f.source(`UPDATE docs SET n = n + 1`); // body unchanged: pgoutput sends 'u' for it
    await f.source(`INSERT INTO docs VALUES (6, repeat('x', 5000), 0)`);
    await f.source(`UPDATE docs SET n = 7 WHERE id = 6`); // in the same batch as its insert
    await runOk();
    expect(await same('docs')).toBe(6);
    const r = await f.redshift(`SELECT count(*)::int AS n FROM ${T()}.docs WHERE body IS NULL OR LENGTH(body) < 5000`);
    expect(r.rows[0].n).toBe(0);
  });

  it('a source transaction larger than one batch is applied over several batches, without loss or duplicates', async () => {
    await f.source(`CREATE TABLE big (id int PRIMARY KEY, v text)`);
    await f.redshift(`CREATE TABLE ${T()}.big (id INTEGER NOT NULL, v VARCHAR(100))`);
    await f.addTable({ source: 'big', mode: 'CDC', primaryKey: 'id' });
    await runOk();
    // CDC_BATCH_ROWS is 1000: one transaction of 3500 changes spans four batches.
    await f.source(`BEGIN; INSERT INTO big SELECT g, 'a' FROM generate_series(1, 2500) g; UPDATE big SET v = 'b' WHERE id <= 1000; DELETE FROM big WHERE id > 2000; COMMIT`);
    const before = f.logs.length;
    await runOk();
    expect(await same('big')).toBe(2000);
    const batches = f.logs.slice(before).filter((l) => l.msg === 'CDC batch applied');
    expect(batches.length).toBe(4);
    const dup = await f.redshift(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM ${T()}.big`);
    expect(dup.rows[0].n).toBe(dup.rows[0].d);
  });

  it('TRUNCATE at the source empties the target; rows inserted after it arrive', async () => {
    await f.source(`CREATE TABLE trunc (id int PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO trunc SELECT g, 'x' FROM generate_series(1, 100) g`);
    await f.redshift(`CREATE TABLE ${T()}.trunc (id INTEGER NOT NULL, v VARCHAR(100))`);
    await f.addTable({ source: 'trunc', mode: 'CDC', primaryKey: 'id' });
    await runOk();
    expect(await same('trunc')).toBe(100);
    await f.source(`UPDATE trunc SET v = 'y' WHERE id = 1`);
    await f.source(`TRUNCATE trunc`);
    await f.source(`INSERT INTO trunc VALUES (7, 'after')`);
    await runOk();
    expect(await same('trunc')).toBe(1);
  });

  it('a new column announced by the stream is added to the target and filled from then on', async () => {
    await f.source(`CREATE TABLE drift (id int PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO drift VALUES (1, 'a'), (2, 'b')`);
    await f.redshift(`CREATE TABLE ${T()}.drift (id INTEGER NOT NULL, v VARCHAR(100))`);
    await f.addTable({ source: 'drift', mode: 'CDC', primaryKey: 'id' });
    await runOk();
    await f.source(`INSERT INTO drift VALUES (3, 'c')`);
    await f.source(`ALTER TABLE drift ADD COLUMN extra text`);
    await f.source(`INSERT INTO drift VALUES (4, 'd', 'four')`);
    await f.source(`UPDATE drift SET extra = 'one' WHERE id = 1`);
    await runOk();
    expect(await same('drift')).toBe(4);
  });

  it('a CDC table disabled, changed meanwhile and enabled again is loaded again, and says so when it leaves', async () => {
    await f.source(`CREATE TABLE pause (id int PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO pause SELECT g, 'a' FROM generate_series(1, 20) g`);
    await f.redshift(`CREATE TABLE ${T()}.pause (id INTEGER NOT NULL, v VARCHAR(100))`);
    const id = await f.addTable({ source: 'pause', mode: 'CDC', primaryKey: 'id' });
    await runOk();
    await f.meta(`UPDATE tables SET disabled = true WHERE id = $1`, [id]);
    const before = f.logs.length;
    await runOk();
    expect(f.logs.slice(before).some((l) => String(l.msg).startsWith("these tables left the job's CDC tables") && JSON.stringify(l.tables) === '["public.pause"]')).toBe(true);
    await f.source(`DELETE FROM pause WHERE id <= 5`);
    await f.source(`UPDATE pause SET v = 'b' WHERE id = 6`);
    await runOk(); // not captured: the table is out of the publication
    await f.meta(`UPDATE tables SET disabled = false WHERE id = $1`, [id]);
    await runOk();
    expect(await same('pause')).toBe(15);
  });

  it('a column added and dropped again before the run: the changes made meanwhile arrive without it', async () => {
    await f.source(`CREATE TABLE flick (id int PRIMARY KEY, v text)`);
    await f.redshift(`CREATE TABLE ${T()}.flick (id INTEGER NOT NULL, v VARCHAR(100))`);
    await f.addTable({ source: 'flick', mode: 'CDC', primaryKey: 'id' });
    await runOk();
    await f.source(`ALTER TABLE flick ADD COLUMN tmp text`);
    await f.source(`INSERT INTO flick VALUES (1, 'a', 't')`);
    await f.source(`ALTER TABLE flick DROP COLUMN tmp`);
    await f.source(`INSERT INTO flick VALUES (2, 'b')`);
    const before = f.logs.length;
    await runOk();
    expect(await same('flick')).toBe(2);
    expect(f.logs.slice(before).some((l) => l.msg === 'schema drift in the change stream: new column(s); checking the target' && JSON.stringify(l.columns) === '["tmp"]')).toBe(true);
  });

  it('a table without a key is refused without REPLICA IDENTITY FULL, naming the fix; with it, duplicates stay exact', async () => {
    await f.source(`CREATE TABLE nokey (a int, b text)`);
    await f.source(`INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (1, 'x'), (2, NULL)`);
    await f.redshift(`CREATE TABLE ${T()}.nokey (a INTEGER, b VARCHAR(100))`);
    const id = await f.addTable({ source: 'nokey', mode: 'CDC', primaryKey: null });
    const r = await f.sync();
    const t = r.tables.find((x) => x.table === 'public.nokey')!;
    expect(t.ok).toBe(false);
    expect(t.error).toBe(
      `job "${f.jobName}", table public.nokey: a table without primary_key needs REPLICA IDENTITY FULL at the source for copy_mode CDC (its deletes and updates must carry the whole old row); run ALTER TABLE "public"."nokey" REPLICA IDENTITY FULL (or set primary_key)`,
    );
    // The other CDC tables of the job went on; the refused one backs off on its own.
    expect(r.tables.filter((x) => x.table !== 'public.nokey').every((x) => x.ok)).toBe(true);
    expect((await f.meta(`SELECT failure_count, retry_at IS NOT NULL AS backing_off FROM tables WHERE id = $1`, [id])).rows[0]).toEqual({ failure_count: 1, backing_off: true });
    await f.source(`ALTER TABLE nokey REPLICA IDENTITY FULL`);
    await runOk();
    expect(await same('nokey')).toBe(4);
    await f.source(`DELETE FROM nokey WHERE ctid = (SELECT min(ctid) FROM nokey WHERE a = 1)`); // one of three identical rows
    await f.source(`UPDATE nokey SET b = 'y' WHERE a = 2`);
    await f.source(`INSERT INTO nokey VALUES (3, 'z'), (3, 'z')`);
    await runOk();
    expect(await same('nokey')).toBe(5);
    expect((await f.meta(`SELECT last_error, failure_count, retry_at FROM tables WHERE id = $1`, [id])).rows[0]).toEqual({ last_error: null, failure_count: 0, retry_at: null });
  });

  it('two tables changed in one source transaction arrive in one Redshift transaction', async () => {
    await f.source(`CREATE TABLE orders (id int PRIMARY KEY, total int)`);
    await f.source(`CREATE TABLE lines (id int PRIMARY KEY, order_id int, qty int)`);
    await f.redshift(`CREATE TABLE ${T()}.orders (id INTEGER NOT NULL, total INTEGER)`);
    await f.redshift(`CREATE TABLE ${T()}.lines (id INTEGER NOT NULL, order_id INTEGER, qty INTEGER)`);
    await f.addTable({ source: 'orders', mode: 'CDC', primaryKey: 'id' });
    await f.addTable({ source: 'lines', mode: 'CDC', primaryKey: 'id' });
    await runOk();
    await f.source(`BEGIN; INSERT INTO orders VALUES (1, 30); INSERT INTO lines VALUES (1, 1, 2), (2, 1, 1); COMMIT`);
    // Just before the run's one COMMIT, one Redshift session holds the locks of both targets
    // (seen in the double's upstream PostgreSQL), and neither table shows the changes yet.
    const seen: Array<{ sessions: number; tables: string[] }> = [];
    const upstream = new URL(stackEnv().STACK_POSTGRES_URL);
    upstream.pathname = new URL(f.target.url).pathname;
    const other = new pg.Client({ connectionString: upstream.toString() });
    await other.connect();
    try {
      const r = await f.sync({
        deps: {
          beforeCommit: async () => {
            const o = await other.query(
              `SELECT count(DISTINCT l.pid)::int AS sessions, array_agg(DISTINCT c.relname::text ORDER BY c.relname::text) AS tables
                 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relname IN ('orders', 'lines') AND l.mode = 'AccessExclusiveLock' AND l.granted`,
              [T()],
            );
            seen.push(o.rows[0]);
          },
        },
      });
      expect(r.ok, JSON.stringify(r.tables)).toBe(true);
    } finally {
      await other.end();
    }
    expect(seen).toEqual([{ sessions: 1, tables: ['lines', 'orders'] }]); // one transaction, one commit
    expect(await same('orders')).toBe(1);
    expect(await same('lines')).toBe(2);
  });
});

