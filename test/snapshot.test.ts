import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyToStdoutSql } from '../src/redshift/csv.js';
import { extractFilesToS3 } from '../src/extract/extract.js';
import { SnapshotSessions } from '../src/sync/snapshot.js';
import { memorySink } from './helpers/sinks.js';
import { freshDatabase } from './helpers/stack.js';

describe('SnapshotSessions: files of one batch on several sessions, one snapshot (real Postgres)', () => {
  let url: string;
  let main: pg.Client;
  let writer: pg.Client;
  beforeAll(async () => {
    ({ url } = await freshDatabase('snap'));
    main = new pg.Client({ connectionString: url });
    writer = new pg.Client({ connectionString: url });
    await main.connect();
    await writer.connect();
    await main.query(`CREATE TABLE t (id int PRIMARY KEY, note text)`);
    await main.query(`INSERT INTO t SELECT g, 'n' || g FROM generate_series(1, 600) g`);
  });
  afterAll(async () => {
    await main.end();
    await writer.end();
  });

  it('joined sessions see the batch snapshot, not rows committed after it; files keep their order', async () => {
    const snaps = new SnapshotSessions(url, 2);
    await main.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const more = await snaps.join(main, 5);
    expect(more).toHaveLength(2);
    // Committed after the snapshot: no session of the batch may see these.
    await writer.query(`INSERT INTO t SELECT g, 'late' FROM generate_series(601, 700) g`);
    await writer.query(`UPDATE t SET note = 'changed' WHERE id <= 100`);
    const files = new Map<string, Buffer>();
    const bounds = [0, 100, 200, 300, 400, 500, 700];
    const r = await extractFilesToS3({
      client: main,
      moreClients: more,
      s3: null as never,
      bucket: 'unused',
      keyPrefix: 'p',
      compression: { format: 'gzip', level: 1 },
      sink: memorySink(files),
      files: bounds.slice(1).map((hi, i) => ({
        copySql: copyToStdoutSql(`SELECT id, note FROM t WHERE id > current_setting('t.lo')::int AND id <= current_setting('t.hi')::int ORDER BY id`),
        prepare: async (c) => {
          await c.query(`SELECT set_config('t.lo', $1, true), set_config('t.hi', $2, true)`, [String(bounds[i]), String(hi)]);
        },
      })),
    });
    await snaps.finish(more, 'COMMIT');
    await main.query('COMMIT');
    await snaps.close();
    expect(r.rows).toBe(600);
    expect(r.files.map((f) => [f.key, f.rows])).toEqual([1, 2, 3, 4, 5, 6].map((i) => [`p/part-0000${i}.csv.gz`, 100]));
    const text = r.files.map((f) => gunzipSync(files.get(f.key)!).toString());
    expect(text[0]!.split('\n')[0]).toBe('"1","n1"');
    expect(text[5]!.trim().split('\n').at(-1)).toBe('"600","n600"');
    expect(text.join('')).not.toContain('late');
    expect(text.join('')).not.toContain('changed');
  });

  it('falls back to the main session alone when the snapshot cannot be shared, and says why', async () => {
    const snaps = new SnapshotSessions(url, 1);
    // Outside a transaction the exported snapshot ends at once, so importing it fails.
    const more = await snaps.join(main, 3);
    expect(more).toEqual([]);
    expect(snaps.disabledReason).toMatch(/snapshot/i);
    // Reported once (the engine logs it as a warning), then quiet.
    expect(snaps.takeUnreported()).toMatch(/snapshot/i);
    expect(snaps.takeUnreported()).toBeNull();
    // Once failed, it does not try again (and opens no connections).
    expect(await snaps.join(main, 3)).toEqual([]);
    await snaps.close();
    expect((await main.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(700);
  });

  it('EXTRACT_SESSIONS=1 means no extra sessions', async () => {
    const snaps = new SnapshotSessions(url, 0);
    await main.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    expect(await snaps.join(main, 10)).toEqual([]);
    expect(snaps.disabledReason).toBeNull();
    await main.query('COMMIT');
  });
});
