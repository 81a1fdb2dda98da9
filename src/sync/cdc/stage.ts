import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { manifestFor, putText, s3Url } from '../../s3/client.js';
import { createCompressWriter, type Compression } from '../../extract/compress.js';
import { partKey, s3Sink } from '../../extract/extract.js';
import { fileCount, rowsPerFile } from '../plan.js';

/**
 * A drained batch's rows of one table as staging files: the loader's CSV dialect
 * (src/redshift/csv.ts: every value quoted, NULL as the bare sentinel), compressed and
 * multipart-uploaded like every extract (src/extract/extract.ts, compress.ts), then a manifest.
 * The file count is a multiple of REDSHIFT_SLICES.
 */
export interface StagedFiles {
  manifestUrl: string;
  rows: number;
  rawBytes: number;
  files: number;
}

export async function stageRows(o: {
  s3: S3Client;
  bucket: string;
  prefix: string;
  compression: Compression;
  /** CSV lines, newline-terminated (TableBatch.lines). */
  rows: Iterable<string>;
  count: number;
  chunkSize: number;
  slices: number;
}): Promise<StagedFiles> {
  // Never an empty file: a tiny batch has fewer files than slices.
  const files = Math.min(Math.max(1, o.count), Math.max(o.slices, fileCount(o.count, o.chunkSize, o.slices)));
  const per = rowsPerFile(o.count, files);
  const sink = s3Sink(o.s3, o.bucket, o.compression);
  const keys: Array<{ key: string; bytes: number }> = [];
  const it = o.rows[Symbol.iterator]();
  let rows = 0;
  let rawBytes = 0;
  for (let i = 0; i < files; i++) {
    const key = partKey(o.prefix, i + 1, o.compression);
    const writer = createCompressWriter(o.compression);
    const body = new PassThrough();
    let bytes = 0;
    const tap = new Transform({
      transform: (c: Buffer, _enc, cb) => {
        bytes += c.length;
        cb(null, c);
      },
    });
    // An error anywhere destroys the body, which fails the upload.
    const piped = pipeline(writer.output, tap, body).catch(() => undefined);
    const upload = sink(key, body);
    try {
      let chunk = '';
      for (let n = 0; n < per; n++) {
        const next = it.next();
        if (next.done) break;
        chunk += next.value;
        rows++;
        if (chunk.length > 1 << 20) {
          const buf = Buffer.from(chunk);
          rawBytes += buf.length;
          chunk = '';
          await writer.write(buf);
        }
      }
      if (chunk.length) {
        const buf = Buffer.from(chunk);
        rawBytes += buf.length;
        await writer.write(buf);
      }
      await writer.end();
      await upload.done;
      await piped;
    } catch (err) {
      writer.destroy();
      await upload.abort().catch(() => undefined);
      throw err;
    }
    keys.push({ key, bytes });
  }
  if (rows !== o.count) throw new Error(`staging wrote ${rows} rows, expected ${o.count}`);
  const manifestKey = `${o.prefix}/manifest.json`;
  await putText(o.s3, o.bucket, manifestKey, JSON.stringify(manifestFor(o.bucket, keys), null, 1));
  return { manifestUrl: s3Url(o.bucket, manifestKey), rows, rawBytes, files: keys.length };
}
