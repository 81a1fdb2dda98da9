import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, connect, errorOf, rows } from './helpers.js';

/** ANALYZE COMPRESSION (r_ANALYZE_COMPRESSION.html); the encoding rule is the double's (see README). */
describe('Redshift double: ANALYZE COMPRESSION', () => {
  let c: pg.Client;
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ c, url, close } = await connect('anc'));
    await c.query(`CREATE TABLE listing (listid INTEGER NOT NULL, sellerid BIGINT, price DECIMAL(8,2), listtime TIMESTAMP ENCODE lzo,
      note VARCHAR(100), code CHAR(3), ok BOOLEAN, ratio DOUBLE PRECISION, r REAL, d DATE, doc SUPER, t TIMESTAMPTZ, s SMALLINT) SORTKEY(listid, d)`);
    await c.query(`INSERT INTO listing (listid, note) VALUES (1, 'a'), (2, 'b')`);
  });
  afterAll(() => close());

  const report = (r: pg.QueryResult) => r.rows.map((x) => `${x.Table}.${x.Column}=${x.Encoding}:${x.Est_reduction_pct}`);

  it('reports Table, Column, Encoding, Est_reduction_pct: az64 for integers, decimals, dates and timestamps, zstd for the rest, sort keys keep their encoding', async () => {
    const r = await c.query('ANALYZE COMPRESSION listing');
    expect(r.fields.map((f) => f.name)).toEqual(['Table', 'Column', 'Encoding', 'Est_reduction_pct']);
    expect(report(r)).toEqual([
      'listing.listid=raw:0.00',
      'listing.sellerid=az64:0.00',
      'listing.price=az64:0.00',
      'listing.listtime=az64:0.00',
      'listing.note=zstd:0.00',
      'listing.code=zstd:0.00',
      'listing.ok=zstd:0.00',
      'listing.ratio=zstd:0.00',
      'listing.r=zstd:0.00',
      'listing.d=raw:0.00',
      'listing.doc=zstd:0.00',
      'listing.t=az64:0.00',
      'listing.s=az64:0.00',
    ]);
  });

  it('a column list analyzes those columns and reports N/A for the others; a declared sort key encoding is returned as is; the extended protocol describes the rows', async () => {
    await c.query(`CREATE TABLE sales (salesid INTEGER ENCODE delta, qtysold SMALLINT, commission DECIMAL(8,2), saletime TIMESTAMP) SORTKEY(salesid)`);
    const r = await c.query({ text: 'analyze compression sales(qtysold, commission, saletime, salesid)', name: 'ac_sales' });
    expect(report(r)).toEqual(['sales.salesid=delta:0.00', 'sales.qtysold=az64:0.00', 'sales.commission=az64:0.00', 'sales.saletime=az64:0.00']);
    const r2 = await c.query('ANALYZE COMPRESSION public.sales (qtysold) COMPROWS 1000000');
    expect(report(r2)).toEqual(['sales.salesid=N/A:0.00', 'sales.qtysold=az64:0.00', 'sales.commission=N/A:0.00', 'sales.saletime=N/A:0.00']);
  });

  it('without a table it analyzes every table of the database', async () => {
    const r = await c.query('ANALYZE COMPRESSION');
    expect([...new Set(r.rows.map((x) => x.Table))]).toEqual(['listing', 'sales']);
  });

  it('refuses what the guide does not allow: two tables, COMPROWS out of range or without a table, an unknown column or table', async () => {
    expect((await errorOf(c, 'ANALYZE COMPRESSION listing, sales')).message).toBe('syntax error at or near ","');
    expect((await errorOf(c, 'ANALYZE COMPRESSION listing COMPROWS 999')).message).toMatch(/COMPROWS must be a number between 1000 and 1000000000/);
    expect((await errorOf(c, 'ANALYZE COMPRESSION COMPROWS 5000')).message).toMatch(/COMPROWS needs a table name/);
    expect((await errorOf(c, 'ANALYZE COMPRESSION listing (nope)')).message).toBe('column "nope" of relation "listing" does not exist');
    expect((await errorOf(c, 'ANALYZE COMPRESSION missing_table')).message).toMatch(/does not exist/);
  });

  it('runs inside a transaction block and holds an exclusive lock on the table until the end of it', async () => {
    const other = await client(url);
    try {
      await c.query('BEGIN');
      await c.query('ANALYZE COMPRESSION sales');
      const locks = await rows(other, `SELECT mode FROM pg_locks WHERE relation = 'sales'::regclass AND granted`);
      expect(locks.map((l) => l.mode)).toContain('AccessExclusiveLock');
      await c.query('COMMIT');
      expect(await rows(other, `SELECT mode FROM pg_locks WHERE relation = 'sales'::regclass AND mode = 'AccessExclusiveLock'`)).toEqual([]);
    } finally {
      await c.query('ROLLBACK').catch(() => undefined);
      await other.end();
    }
  });
});
