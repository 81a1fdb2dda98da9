import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyJob } from '../../src/verify/run.js';
import { targetDescription } from '../helpers/redshift.js';
import { quiesce, syncFixture, type SyncFixture } from '../helpers/sync-fixture.js';

/**
 * Larger tables: differing ranges are split again until only a few rows are read, for
 * integer keys (key ranges, narrowed through the index) and other keys (MD5 prefixes); a
 * composite key; and the keyed modes' watermarks (rows after them are not differences).
 */
describe(`verify narrows differing ranges down to keys, against ${targetDescription}`, () => {
  let f: SyncFixture;
  let t: string;
  const verify = (table: string, repair = false, rangeRows = 256, leafBudget?: number) =>
    verifyJob(f.metaUrl, f.jobName, { tableGlob: table, repair }, { env: f.env, log: f.log, compare: { rangeRows, leafBudget } }).then((r) => r.tables[0]!);

  beforeAll(async () => {
    f = await syncFixture('vnarrow');
    t = `"${f.target.schema}"`;
  });
  afterAll(() => f.close());

  it('integer keys: 50 scattered changes in 200,000 rows are found by reading a few hundred rows, then repaired', async () => {
    await f.source(`CREATE TABLE big (id bigint PRIMARY KEY, note text, amount numeric(12,2), at timestamptz)`);
    await f.source(`INSERT INTO big SELECT g * 3, md5(g::text), g / 100.0, TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * INTERVAL '1 second' FROM generate_series(1, 200000) g`);
    await f.redshift(`CREATE TABLE ${t}.big (id BIGINT NOT NULL, note VARCHAR(65535), amount NUMERIC(12,2), at TIMESTAMPTZ) DISTKEY(id) SORTKEY(id)`);
    await f.addTable({ source: 'big', mode: 'INSERT_ONLY', primaryKey: 'id', rowLimit: 100000, chunkSize: 50000 });
    expect((await f.sync({ table: 'big' })).ok).toBe(true);
    const clean = await verify('big');
    expect(clean).toMatchObject({ status: 'match', strategy: 'range', compared: { sourceRows: 200000, targetRows: 200000 }, rowsTransferred: 0 });
    expect(clean.ranges!.total).toBeGreaterThan(500);

    await f.redshift(`UPDATE ${t}.big SET note = 'changed' WHERE (id / 3) % 4001 = 0`);
    const n = Number((await f.redshift(`SELECT count(*) AS n FROM ${t}.big WHERE note = 'changed'`)).rows[0].n);
    expect(n).toBe(49);
    await f.redshift(`DELETE FROM ${t}.big WHERE id = 300000`);
    const r = await verify('big');
    expect(r).toMatchObject({ status: 'differ', missing: { count: 1, examples: ['id=300000'] }, extra: { count: 0 }, differ: { count: 49, columns: { note: 49 } } });
    expect(r.ranges!.levels).toBeGreaterThan(1);
    // Only rows of the narrowed ranges crossed the wire: a few per difference, on each side.
    expect(r.rowsTransferred).toBeGreaterThan(50);
    expect(r.rowsTransferred).toBeLessThan(50 * 2 * 64);
    const fixed = await verify('big', true);
    expect(fixed.repair).toMatchObject({ status: 'repaired', loaded: 50, deleted: 49, reverify: { missing: 0, extra: 0, differ: 0 } });
    expect(await verify('big')).toMatchObject({ status: 'match' });
  });

  it('text and composite keys: MD5 prefixes of the key, narrowed until the differing keys are found', async () => {
    await f.source(`CREATE TABLE words (lang text, word varchar(40), n integer, PRIMARY KEY (lang, word))`);
    await f.source(`INSERT INTO words SELECT (ARRAY['en','de','fr'])[1 + g % 3], 'w' || g || CASE WHEN g % 7 = 0 THEN ' ' ELSE '' END, g FROM generate_series(1, 60000) g`);
    await f.redshift(`CREATE TABLE ${t}.words (lang VARCHAR(16), word VARCHAR(160), n INTEGER)`);
    await f.addTable({ source: 'words', mode: 'FULL_DATA_SYNC', primaryKey: 'lang, word', rowLimit: 100000, chunkSize: 30000 });
    expect((await f.sync({ table: 'words' })).ok).toBe(true);
    expect(await verify('words', false, 64)).toMatchObject({ status: 'match', strategy: 'hash', compared: { sourceRows: 60000, targetRows: 60000 } });
    // Trailing blanks dropped from ten keys (two rows each now differ by key), one value changed, one row gone.
    await f.redshift(`UPDATE ${t}.words SET word = RTRIM(word) WHERE n IN (7, 14, 21, 28, 35, 42, 49, 56, 63, 70)`);
    await f.redshift(`UPDATE ${t}.words SET n = -1 WHERE n = 1000`);
    await f.redshift(`DELETE FROM ${t}.words WHERE n = 59999`);
    // A small leaf budget makes the differing hash ranges split once more before their rows are read.
    const r = await verify('words', false, 256, 100);
    expect(r.status).toBe('differ');
    expect(r.missing.count).toBe(11);
    expect(r.missing.examples).toContain('lang="de", word="w7 "');
    expect(r.missing.examples).toContain('lang="fr", word="w59999"');
    expect(r.extra).toMatchObject({ count: 10 });
    expect(r.extra.examples).toContain('lang="de", word="w7"');
    expect(r.differ).toEqual({ count: 1, columns: { n: 1 }, examples: [{ key: 'lang="de", word="w1000"', columns: ['n'] }] });
    expect(r.ranges!.levels).toBeGreaterThan(1);
    expect(r.rowsTransferred).toBeLessThan(60000);
    expect((await verify('words', true, 64)).repair).toMatchObject({ status: 'repaired', reverify: { missing: 0, extra: 0, differ: 0 } });
    expect(await verify('words', false, 64)).toMatchObject({ status: 'match' });
  });

  it('INSERT_ONLY: rows after max_primary_key are left out on both sides (not yet synced, or loaded after the watermark was read)', async () => {
    await f.source(`CREATE TABLE events (id integer PRIMARY KEY, v text)`);
    await f.source(`INSERT INTO events SELECT g, 'v' || g FROM generate_series(1, 1000) g`);
    await f.redshift(`CREATE TABLE ${t}.events (id INTEGER NOT NULL, v VARCHAR(100))`);
    await f.addTable({ source: 'events', mode: 'INSERT_ONLY', primaryKey: 'id' });
    expect((await f.sync({ table: 'events' })).ok).toBe(true);
    await f.source(`INSERT INTO events SELECT g, 'new' FROM generate_series(1001, 1100) g`); // not synced yet
    await f.redshift(`INSERT INTO ${t}.events VALUES (2000, 'loaded after the watermark was read')`);
    const r = await verify('events');
    expect(r).toMatchObject({ status: 'match', compared: { sourceRows: 1000, targetRows: 1000 }, leftOut: { sourceRows: 100, targetRows: 1 } });
    expect(r.liveRule).toBe('rows whose key is after max_primary_key ["1000"] are left out: they were inserted after the target\'s last sync');
    await f.redshift(`DELETE FROM ${t}.events WHERE id = 500`);
    expect(await verify('events')).toMatchObject({ status: 'differ', missing: { count: 1, examples: ['id=500'] } });
  });

  it('INSERT_ONLY with a text key: keys after the watermark in the source order are left out, whatever Redshift\'s order', async () => {
    await f.source(`CREATE TABLE tags (tag text PRIMARY KEY)`);
    await f.source(`INSERT INTO tags SELECT 'tag-' || lpad(g::text, 4, '0') FROM generate_series(1, 300) g`);
    await f.redshift(`CREATE TABLE ${t}.tags (tag VARCHAR(100))`);
    await f.addTable({ source: 'tags', mode: 'INSERT_ONLY', primaryKey: 'tag' });
    expect((await f.sync({ table: 'tags' })).ok).toBe(true);
    await f.source(`INSERT INTO tags VALUES ('tag-9999'), ('zzz')`);
    await f.redshift(`INSERT INTO ${t}.tags VALUES ('zzz')`);
    const r = await verify('tags');
    expect(r).toMatchObject({ status: 'match', strategy: 'hash', compared: { sourceRows: 300, targetRows: 301 }, leftOut: { sourceRows: 2, targetRows: 0, keys: 1 } });
    await f.redshift(`INSERT INTO ${t}.tags VALUES ('tag-0001 ')`);
    expect(await verify('tags')).toMatchObject({ status: 'differ', extra: { count: 1, examples: ['tag="tag-0001 "'] } });
  });

  it('INSERT_AND_UPDATE: rows changed after the updated-key watermark (minus the overlap) are left out on either side', async () => {
    await f.source(`CREATE TABLE orders (id integer PRIMARY KEY, status text, updated_at timestamptz NOT NULL)`);
    await f.source(`INSERT INTO orders SELECT g, 'new', TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * INTERVAL '1 minute' FROM generate_series(1, 500) g`);
    await f.redshift(`CREATE TABLE ${t}.orders (id INTEGER NOT NULL, status VARCHAR(40), updated_at TIMESTAMPTZ NOT NULL)`);
    await f.addTable({ source: 'orders', mode: 'INSERT_AND_UPDATE', primaryKey: 'id', updatedKey: 'updated_at' });
    // The sync's record of what it read trusts only rows older than every open transaction on the server.
    await quiesce(f);
    expect((await f.sync({ table: 'orders' })).ok).toBe(true);
    // The overlap window's rows (499 and 500, within 60 s of the watermark) were read by the last
    // sync (committed before its first snapshot), so they are compared too.
    expect(await verify('orders')).toMatchObject({ status: 'match', compared: { sourceRows: 500, targetRows: 500 }, leftOut: { sourceRows: 0, targetRows: 0 } });
    // Without that record (an edited watermark drops it) they are left out on both sides.
    await f.meta(`UPDATE tables SET watermark_snapshot = NULL WHERE source_name = 'orders'`);
    expect(await verify('orders')).toMatchObject({ status: 'match', compared: { sourceRows: 498, targetRows: 498 }, leftOut: { sourceRows: 2, targetRows: 2 } });
    await quiesce(f);
    expect((await f.sync({ table: 'orders' })).ok).toBe(true); // writes the record again
    // Changed after the sync: a newer version at the source (the target still has the old one), and a new row.
    await f.source(`UPDATE orders SET status = 'paid', updated_at = now() WHERE id IN (10, 20)`);
    await f.source(`INSERT INTO orders VALUES (501, 'new', now())`);
    // A change the loader would have missed: updated_at not moved forward.
    await f.source(`UPDATE orders SET status = 'sneaky' WHERE id = 30`);
    const r = await verify('orders');
    expect(r).toMatchObject({ status: 'differ', missing: { count: 0 }, extra: { count: 0 }, differ: { count: 1, examples: [{ key: 'id=30', columns: ['status'] }] } });
    // Left out: 10, 20 and 501 at the source (changed after the last sync read them); keys 10 and 20 then found only in the target.
    expect(r.leftOut).toEqual({ sourceRows: 3, targetRows: 0, keys: 2 });
    expect(r.liveRule).toMatch(/^rows whose updated_at is at or after 2024-01-01 08:19:00\+00 \(the stored max_updated_key minus UPDATED_KEY_OVERLAP_SECONDS\) on either side are left out, unless the last sync read them/);
  });
});
