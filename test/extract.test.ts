import { GetObjectCommand } from '@aws-sdk/client-s3';
import { gunzipSync } from 'node:zlib';
import { Decoder } from '@toondepauw/node-zstd';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, deletePrefix } from '../src/s3/client.js';
import type { Compression } from '../src/extract/compress.js';
import { extractFilesToS3, extractToS3 } from '../src/extract/extract.js';
import { CSV_NULL, copyToStdoutSql } from '../src/redshift/csv.js';
import { loadEnv } from '../src/config/env.js';
import { freshDatabase, stackEnv } from './helpers/stack.js';

const decompress = async (bytes: Buffer, c: Compression) => (c.format === 'gzip' ? gunzipSync(bytes) : await new Decoder().decode(bytes)).toString();

describe('extractToS3 (real Postgres, S3 protocol)', () => {
  let db: pg.Client;
  const s = () => stackEnv();
  beforeAll(async () => {
    const { url } = await freshDatabase('extract');
    db = new pg.Client({ connectionString: url });
    await db.connect();
    await db.query(`CREATE TABLE t (id int PRIMARY KEY, note text)`);
    await db.query(`INSERT INTO t SELECT g, CASE WHEN g % 7 = 0 THEN E'multi\\nline "quoted", comma' WHEN g % 11 = 0 THEN NULL ELSE repeat('x', g % 50) END FROM generate_series(1, 1000) g`);
  });
  afterAll(() => db.end());

  it.each<Compression>([
    { format: 'zstd', level: 1 },
    { format: 'gzip', level: 1 },
  ])('splits at record boundaries into $format files whose concatenation is the COPY output', async (compression) => {
    const env = loadEnv({ ...s() });
    const s3 = createS3Client(env);
    const prefix = `extract-test/${Date.now()}-${compression.format}`;
    const copySql = copyToStdoutSql('SELECT id, note FROM t ORDER BY id');
    const r = await extractToS3({ client: db, copySql, s3, bucket: env.S3_BUCKET!, keyPrefix: prefix, rowsPerFile: 125, compression });
    expect(r.files[0]!.key).toBe(`${prefix}/part-00001.csv${compression.format === 'zstd' ? '.zst' : '.gz'}`);
    expect(r.rows).toBe(1000);
    expect(r.files.map((f) => f.rows)).toEqual(Array(8).fill(125));
    const texts: string[] = [];
    for (const f of r.files) {
      const o = await s3.send(new GetObjectCommand({ Bucket: env.S3_BUCKET!, Key: f.key }));
      const bytes = Buffer.from(await o.Body!.transformToByteArray());
      expect(bytes.length).toBe(f.bytes);
      expect(o.ContentEncoding).toBe(compression.format);
      texts.push(await decompress(bytes, compression));
    }
    // Each file starts at a record: the first field of its first line is the next id, quoted.
    expect(texts.map((t) => t.slice(0, t.indexOf(',')))).toEqual(['"1"', '"126"', '"251"', '"376"', '"501"', '"626"', '"751"', '"876"']);
    const whole = await new Promise<string>((resolve, reject) => {
      // The same COPY read straight into memory for comparison (small table).
      import('pg-copy-streams').then(({ to }) => {
        const chunks: Buffer[] = [];
        const st = db.query(to(copySql));
        st.on('data', (c: Buffer) => chunks.push(c));
        st.on('end', () => resolve(Buffer.concat(chunks).toString()));
        st.on('error', reject);
      }, reject);
    });
    expect(texts.join('')).toBe(whole);
    expect(r.rawBytes).toBe(Buffer.byteLength(whole));
    expect(whole).toContain('"7","multi\nline ""quoted"", comma"\n');
    expect(whole).toContain(`"11",${CSV_NULL}\n`);
    await deletePrefix(s3, env.S3_BUCKET!, `${prefix}/`);
    s3.destroy();
  });

  it('one COPY per file: row counts come from COPY itself, files hold their key ranges', async () => {
    const env = loadEnv({ ...s() });
    const s3 = createS3Client(env);
    const prefix = `extract-files-test/${Date.now()}`;
    const ranges: Array<[number, number]> = [[0, 300], [300, 700], [700, 1000]];
    // The smallest zlib window: any gzip reader (here Node's, with its default 32 KiB window) takes it.
    const r = await extractFilesToS3({
      client: db, s3, bucket: env.S3_BUCKET!, keyPrefix: prefix, compression: { format: 'gzip', level: 1, windowBits: 9 },
      files: ranges.map(([lo, hi]) => ({
        copySql: copyToStdoutSql(`SELECT id, note FROM t WHERE id > current_setting('t.lo')::int AND id <= current_setting('t.hi')::int ORDER BY id`),
        prepare: async () => {
          await db.query(`SELECT set_config('t.lo', $1, false), set_config('t.hi', $2, false)`, [String(lo), String(hi)]);
        },
      })),
    });
    expect(r.rows).toBe(1000);
    expect(r.files.map((f) => f.rows)).toEqual([300, 400, 300]);
    const firstIds: string[] = [];
    const lines: number[] = [];
    for (const f of r.files) {
      const o = await s3.send(new GetObjectCommand({ Bucket: env.S3_BUCKET!, Key: f.key }));
      const text = gunzipSync(Buffer.from(await o.Body!.transformToByteArray())).toString();
      firstIds.push(text.slice(0, text.indexOf(',')));
      lines.push(text.split('\n"').length);
    }
    expect(firstIds).toEqual(['"1"', '"301"', '"701"']);
    expect(lines).toEqual([300, 400, 300]);
    await deletePrefix(s3, env.S3_BUCKET!, `${prefix}/`);
    s3.destroy();
  });
});
