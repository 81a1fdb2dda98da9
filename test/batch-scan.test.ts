import { Decoder } from '@toondepauw/node-zstd';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchKeyScan } from '../src/sync/batch-scan.js';
import { sourceColumns } from '../src/schema/catalog.js';
import { copyToStdoutSql } from '../src/redshift/csv.js';
import { extractKeyedBatch } from '../src/sync/engine.js';
import { FileQueue, extractFilesToS3 } from '../src/extract/extract.js';
import { SET_WATERMARK_SQL, batchKeysStepSql, declareBatchKeysSql, fullBatchFileEnds, planBatch, planTable, remainderFileCount, type TablePlan } from '../src/sync/plan.js';
import { SnapshotSessions } from '../src/sync/snapshot.js';
import type { CopyMode, Watermark } from '../src/metadata/types.js';
import { memorySink } from './helpers/sinks.js';
import { freshDatabase } from './helpers/stack.js';

describe('keyed batch planning: the cursor steps', () => {
  it('full-batch file ends, remainder file counts, step statements', () => {
    // 100 rows, 20 a file, 2 slices: 6 files of 17 (the last 15).
    expect(fullBatchFileEnds(100, 20, 2)).toEqual([17, 34, 51, 68, 85, 100]);
    expect(fullBatchFileEnds(100, 25, 2)).toEqual([25, 50, 75, 100]);
    expect(fullBatchFileEnds(1, 25, 2)).toEqual([1]);
    // 50 rows with 1 file handed out: 4 files in all (50 rows need 3, rounded up to 4).
    expect(remainderFileCount(50, 1, 20, 2)).toBe(3);
    expect(remainderFileCount(5, 0, 20, 2)).toBe(2);
    // Handed-out files count: 3 of them and 1 row more still make a multiple of 2 slices.
    expect(remainderFileCount(52, 3, 20, 2)).toBe(1);
    expect(remainderFileCount(52, 3, 20, 4)).toBe(1);
    expect(remainderFileCount(52, 4, 20, 4)).toBe(4);
    expect(batchKeysStepSql(17)).toBe('MOVE FORWARD 16 IN rl_batch_keys; FETCH FORWARD 1 FROM rl_batch_keys');
    expect(batchKeysStepSql(1)).toBe('FETCH FORWARD 1 FROM rl_batch_keys');
    expect(() => batchKeysStepSql(0)).toThrow(/positive integer/);
  });
});

describe('BatchKeyScan + extractKeyedBatch (real Postgres, two sessions in one snapshot)', () => {
  let url: string;
  let db: pg.Client;
  beforeAll(async () => {
    ({ url } = await freshDatabase('bscan'));
    db = new pg.Client({ connectionString: url });
    await db.connect();
    await db.query(`SET timezone TO 'UTC'`);
    await db.query(`CREATE TABLE t (id int PRIMARY KEY, v text)`);
    await db.query(`INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g`);
    // Not unique: ids 1-30 twice, 31-60 once.
    await db.query(`CREATE TABLE dup (id int, v text)`);
    await db.query(`INSERT INTO dup SELECT g, 'a' FROM generate_series(1, 60) g UNION ALL SELECT g, 'b' FROM generate_series(1, 30) g`);
    await db.query(`CREATE TABLE dup2 (id int, v text)`);
    await db.query(`INSERT INTO dup2 VALUES (1, 'a'), (2, 'a'), (3, 'a'), (3, 'b'), (3, 'c'), (4, 'a')`);
    // INSERT_AND_UPDATE order: (updated_at, id), ten rows per timestamp.
    await db.query(`CREATE TABLE upd (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`);
    await db.query(`INSERT INTO upd SELECT g, '2024-01-01 00:00:00+00'::timestamptz + (g / 10) * interval '1.5 second' FROM generate_series(1, 95) g`);
    await db.query(`CREATE TABLE empty_t (id int PRIMARY KEY)`);
  });
  afterAll(() => db.end());

  async function plan(table: string, mode: CopyMode, rowLimit: number, chunkSize: number): Promise<TablePlan> {
    return planTable(
      { id: 1, jobId: 1, sourceSchema: 'public', sourceName: table, destinationSchema: null, destinationName: null, copyMode: mode, primaryKey: 'id', updatedKey: mode === 'INSERT_AND_UPDATE' ? 'updated_at' : null, disabled: false, maxPrimaryKey: null,
      maxPrimaryKeyJson: null, maxUpdatedKey: null, rowLimit, chunkSize },
      await sourceColumns(db, 'public', table),
      { rowLimit, chunkSize, destinationSchema: 'public' },
      'j',
    );
  }

  /** One batch as the engine runs it; the files' CSV lines, decoded. */
  async function batch(p: TablePlan, from: Watermark = { updatedKey: null, primaryKey: null }, slices = 2) {
    const snapshots = new SnapshotSessions(url, 1);
    const files = new Map<string, Buffer>();
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      await db.query(SET_WATERMARK_SQL, [planBatch(p, from).settings, '[]']);
      const scan = new BatchKeyScan(db, p, from, slices);
      if (!(await scan.first())) return null;
      const r = await extractKeyedBatch({ client: db, s3: null as never, bucket: 'unused', keyPrefix: 'p', compression: { format: 'zstd', level: 1 }, sink: memorySink(files), scan, plan: p, snapshots });
      expect(snapshots.disabledReason).toBeNull();
      const text = await Promise.all(r.extracted.files.map(async (f) => (await new Decoder().decode(files.get(f.key)!)).toString()));
      return { rows: r.rows, last: r.last, fileRows: r.extracted.files.map((f) => f.rows), lines: text.join('').split('\n').filter(Boolean) };
    } finally {
      await db.query('COMMIT');
      await snapshots.close();
    }
  }

  it('a full batch: one file per cursor step, the row_limit-th key last', async () => {
    const r = await batch(await plan('t', 'INSERT_ONLY', 100, 20));
    expect(r).toMatchObject({ rows: 100, last: ['100'], fileRows: [17, 17, 17, 17, 17, 15] });
    expect(r!.lines.map((l) => l.split(',')[0])).toEqual(Array.from({ length: 100 }, (_, i) => `"${i + 1}"`));
  });

  it('a batch of exactly row_limit rows is full; a later watermark starts after it', async () => {
    const p = await plan('t', 'INSERT_ONLY', 100, 20);
    const r = await batch(p, { updatedKey: null, primaryKey: ['900'] });
    expect(r).toMatchObject({ rows: 100, last: ['1000'], fileRows: [17, 17, 17, 17, 17, 15] });
    expect(r!.lines[0]!.startsWith('"901",')).toBe(true);
  });

  it('a short batch: files handed out stay, the rest is cut again to a multiple of the slices', async () => {
    const p = await plan('t', 'INSERT_ONLY', 100, 20);
    // 50 rows left: the first file (17) was handed out before the cursor ran out.
    const r = await batch(p, { updatedKey: null, primaryKey: ['950'] });
    expect(r).toMatchObject({ rows: 50, last: ['1000'], fileRows: [17, 11, 11, 11] });
    expect(r!.lines).toHaveLength(50);
    expect(new Set(r!.lines).size).toBe(50);
    // Shorter than one step: cut like any small batch (5 rows, 2 files).
    expect(await batch(p, { updatedKey: null, primaryKey: ['995'] })).toMatchObject({ rows: 5, last: ['1000'], fileRows: [3, 2] });
    // Four slices: 50 rows need 3 files, 1 is out, so 3 more make 4.
    const r4 = await batch(p, { updatedKey: null, primaryKey: ['950'] }, 4);
    expect(r4!.fileRows.length % 4).toBe(0);
    expect(r4!.fileRows.reduce((a, b) => a + b, 0)).toBe(50);
  });

  it('an empty batch is found by the first step', async () => {
    expect(await batch(await plan('empty_t', 'INSERT_ONLY', 100, 20))).toBeNull();
    expect(await batch(await plan('t', 'INSERT_ONLY', 100, 20), { updatedKey: null, primaryKey: ['1000'] })).toBeNull();
  });

  it('a key that is not unique: every row of a boundary key is in one file, none lost or doubled', async () => {
    const p = await plan('dup', 'INSERT_ONLY', 1000, 8);
    const r = await batch(p);
    expect(r!.rows).toBe(90);
    expect(r!.last).toEqual(['60']);
    expect(r!.lines).toHaveLength(90);
    expect(r!.fileRows.reduce((a, b) => a + b, 0)).toBe(90);
    // Files of 2 rows: the file ending at the 4th row (key 3) takes all three 3s, so fewer
    // rows than counted follow it when the short batch's rest is cut again.
    const r2 = await batch(await plan('dup2', 'INSERT_ONLY', 1000, 2));
    expect(r2).toMatchObject({ rows: 6, last: ['4'], fileRows: [2, 3, 1] });
    expect(r2!.lines.sort()).toEqual(['"1","a"', '"2","a"', '"3","a"', '"3","b"', '"3","c"', '"4","a"']);
  });

  it('a file that fails ends the extract with its error while the queue is still being filled; nothing hangs', async () => {
    const snapshots = new SnapshotSessions(url, 1);
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const more = await snapshots.join(db, 1);
    expect(more).toHaveLength(1);
    const queue = new FileQueue();
    const good = { copySql: copyToStdoutSql('SELECT id FROM t WHERE id <= 10') };
    const bad = { copySql: copyToStdoutSql('SELECT id / 0 FROM t') };
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // The main session is "scanning" (busy) until the producer is done, as in a real batch.
    const producer = (async () => {
      queue.push(good);
      await pause(20);
      queue.push(bad);
      await pause(100);
      for (let i = 0; i < 5; i++) queue.push(good); // after the failure: ignored
      queue.close();
    })();
    const files = new Map<string, Buffer>();
    await expect(
      extractFilesToS3({ client: db, moreClients: more, clientReady: producer, files: queue, s3: null as never, bucket: 'unused', keyPrefix: 'p', compression: { format: 'zstd', level: 1 }, sink: memorySink(files) }),
    ).rejects.toThrow(/division by zero/);
    await snapshots.finish(more, 'ROLLBACK');
    await db.query('ROLLBACK');
    await snapshots.close();
    // Both sessions are usable afterwards.
    expect((await db.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(1000);
  });

  it('INSERT_AND_UPDATE: (updated_at, id) boundaries with ties on the timestamp, text keys read back exactly', async () => {
    const p = await plan('upd', 'INSERT_AND_UPDATE', 40, 10);
    const r = await batch(p);
    expect(r).toMatchObject({ rows: 40, fileRows: [10, 10, 10, 10] });
    expect(r!.last).toEqual(['2024-01-01 00:00:06+00', '40']);
    const next = await batch(p, { updatedKey: '2024-01-01 00:00:06+00', primaryKey: ['40'] });
    expect(next).toMatchObject({ rows: 40, last: ['2024-01-01 00:00:12+00', '80'] });
    const tail = await batch(p, { updatedKey: '2024-01-01 00:00:12+00', primaryKey: ['80'] });
    expect(tail).toMatchObject({ rows: 15, last: ['2024-01-01 00:00:13.5+00', '95'] });
    expect(declareBatchKeysSql(p, { updatedKey: 'x', primaryKey: ['1'] })).toMatchSnapshot();
  });
});
