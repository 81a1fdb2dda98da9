import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdcNames, inspectSlot } from '../src/cdc/slot.js';
import { expectReplica } from './helpers/compare.js';
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
    if (process.env.CDC_DEBUG) console.log(f.logs.map((l) => JSON.stringify(l)).join('\n'));
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
});
