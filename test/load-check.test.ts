import { Encoder } from '@toondepauw/node-zstd';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFromManifest } from '../src/redshift/sql.js';
import { checkLoadedRows } from '../src/sync/load.js';
import { bucket, connect, prefix, put, role } from '../packages/redshift-double/test/helpers.js';

describe('the loaded-row check after COPY (against the Redshift double)', () => {
  let c: pg.Client;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ c, close } = await connect('loadcheck'));
    await c.query('CREATE TABLE t (id int, v varchar(10))');
  });
  afterAll(() => close());

  it('passes when Redshift loaded every row of the files, and fails the transaction otherwise', async () => {
    const p = prefix('loadcheck');
    const key = `${p}part-00001.csv.zst`;
    await put(key, await new Encoder(1).encode(Buffer.from('"1","a"\n"2",__RL_NULL__\n"3","c"\n')));
    const manifest = await put(`${p}manifest.json`, JSON.stringify({ entries: [{ url: `s3://${bucket()}/${key}`, mandatory: true }] }));
    const copy = copyFromManifest({ table: { schema: 'public', name: 't' }, columns: ['id', 'v'], manifestUrl: manifest, auth: { iamRole: role() }, compression: { format: 'zstd', level: 1 } });
    await c.query('BEGIN');
    await c.query(copy);
    await expect(checkLoadedRows(c, 3, 'job "j", table public.t: batch 1')).resolves.toBeUndefined();
    // Files that hold a row more than Redshift loaded: the batch must not commit.
    await expect(checkLoadedRows(c, 4, 'job "j", table public.t: batch 1')).rejects.toThrow(
      `job "j", table public.t: batch 1: Redshift loaded 3 rows but the batch's files hold 4; the batch is not applied (if the cluster misreads the files, try COMPRESSION=gzip)`,
    );
    await c.query('ROLLBACK');
    expect((await c.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(0);
  });
});
