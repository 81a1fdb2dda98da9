import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyOut } from '../src/extract/copy-out.js';
import { copyToStdoutSql } from '../src/redshift/csv.js';
import { freshDatabase } from './helpers/stack.js';

/** Reads a COPY TO STDOUT completely; returns the sha256 and length of its bytes. */
async function digest(stream: NodeJS.ReadableStream): Promise<{ sha: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  await pipeline(stream, new Writable({ write: (c: Buffer, _e, cb) => ((bytes += c.length), h.update(c), cb()) }));
  return { sha: h.digest('hex'), bytes };
}

describe('copyOut: COPY TO STDOUT reader (real Postgres)', () => {
  let db: pg.Client;
  beforeAll(async () => {
    const { url } = await freshDatabase('copyout');
    db = new pg.Client({ connectionString: url });
    await db.connect();
    // Rows of every size, from a few bytes to several socket chunks, so message headers
    // and payloads straddle chunk boundaries at every offset.
    await db.query(`CREATE TABLE t (id int PRIMARY KEY, note text)`);
    await db.query(`INSERT INTO t SELECT g, CASE WHEN g % 5000 = 0 THEN repeat('é"x,\n', 40000) WHEN g % 13 = 0 THEN NULL ELSE repeat(chr(65 + g % 26), g % 301) END FROM generate_series(1, 60000) g`);
  });
  afterAll(() => db.end());

  it('gives exactly the bytes pg-copy-streams gives, and the row count', async () => {
    const sql = copyToStdoutSql('SELECT id, note FROM t ORDER BY id');
    const theirs = await digest(db.query(copyTo(sql)));
    const stream = db.query(copyOut(sql));
    const ours = await digest(stream);
    expect(ours).toEqual(theirs);
    expect(ours.bytes).toBeGreaterThan(10_000_000);
    expect(stream.rowCount).toBe(60000);
    expect((await db.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(60000);
  });

  it('an empty result ends at once with 0 rows', async () => {
    const stream = db.query(copyOut(copyToStdoutSql('SELECT id FROM t WHERE false')));
    expect(await digest(stream)).toMatchObject({ bytes: 0 });
    expect(stream.rowCount).toBe(0);
  });

  it('a server error mid-COPY fails the stream with the error and leaves the session usable', async () => {
    const stream = db.query(copyOut(copyToStdoutSql('SELECT id, 1 / (50000 - id) AS x FROM t ORDER BY id')));
    await expect(digest(stream)).rejects.toThrow(/division by zero/);
    expect((await db.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  });

  it('a consumer that stops early leaves the session usable (the rest is read and dropped)', async () => {
    await db.query('BEGIN');
    const stream = db.query(copyOut(copyToStdoutSql('SELECT id, note FROM t ORDER BY id')));
    let seen = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > 100_000) break;
    }
    await db.query('ROLLBACK');
    expect((await db.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(60000);
  });

  it('an error before any data (bad SQL) fails the stream', async () => {
    const stream = db.query(copyOut(copyToStdoutSql('SELECT nope FROM t')));
    await expect(digest(stream)).rejects.toThrow(/column "nope" does not exist/);
    expect((await db.query('SELECT 2 AS two')).rows[0].two).toBe(2);
  });
});
