import { PassThrough, Transform, type Readable } from 'node:stream';
import { createGzip, type Gzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { CsvRecordCounter } from './csv-records.js';

/**
 * Streams `COPY (...) TO STDOUT` into gzip files on S3, starting a new file every
 * `rowsPerFile` records. Back-pressure flows from the S3 upload to the database socket, so
 * memory stays bounded whatever the batch size.
 */
export interface ExtractedFile {
  key: string;
  rows: number;
  /** Compressed bytes. */
  bytes: number;
}

export interface ExtractResult {
  rows: number;
  /** Uncompressed CSV bytes. */
  rawBytes: number;
  files: ExtractedFile[];
}

export interface ExtractOptions {
  client: pg.ClientBase;
  copySql: string;
  s3: S3Client;
  bucket: string;
  /** Folder for this batch's files, no trailing slash. */
  keyPrefix: string;
  rowsPerFile: number;
  gzipLevel: number;
  signal?: AbortSignal;
  onProgress?: (p: { rows: number; rawBytes: number }) => void;
  /** Where a file's gzip bytes go; default: a multipart upload to s3://bucket/key. */
  sink?: (key: string, body: Readable) => FileSink;
}

export interface FileSink {
  done: Promise<unknown>;
  abort(): Promise<void>;
}

export function s3Sink(s3: S3Client, bucket: string): (key: string, body: Readable) => FileSink {
  return (key, body) => {
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: body, ContentType: 'text/csv', ContentEncoding: 'gzip' },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
      leavePartsOnError: false,
    });
    return { done: upload.done(), abort: () => upload.abort() };
  };
}

interface OpenFile {
  index: number;
  key: string;
  rows: number;
  gzip: Gzip;
  counted: { bytes: number };
  sink: FileSink;
  done: Promise<unknown>;
}

export const partKey = (prefix: string, index: number) => `${prefix}/part-${String(index).padStart(5, '0')}.csv.gz`;

export async function extractToS3(o: ExtractOptions): Promise<ExtractResult> {
  const counter = new CsvRecordCounter();
  const files: OpenFile[] = [];
  let current: OpenFile | null = null;
  let rows = 0;
  let rawBytes = 0;
  let lastProgress = Date.now();

  const open = (): OpenFile => {
    const index = files.length + 1;
    const key = partKey(o.keyPrefix, index);
    const gzip = createGzip({ level: o.gzipLevel });
    const counted = { bytes: 0 };
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        counted.bytes += chunk.length;
        cb(null, chunk);
      },
    });
    const body = new PassThrough();
    gzip.pipe(tap).pipe(body);
    const sink = (o.sink ?? s3Sink(o.s3, o.bucket))(key, body);
    const f: OpenFile = { index, key, rows: 0, gzip, counted, sink, done: sink.done };
    // Surface upload failures early instead of waiting for the end of the stream.
    f.done.catch(() => undefined);
    files.push(f);
    return f;
  };

  const write = async (f: OpenFile, buf: Uint8Array) => {
    if (!f.gzip.write(buf)) {
      await Promise.race([
        new Promise<void>((resolve) => f.gzip.once('drain', resolve)),
        f.done.then(() => {
          throw new Error(`upload of ${f.key} ended before its data was written`);
        }),
      ]);
    }
  };

  const close = async (f: OpenFile) => {
    await new Promise<void>((resolve, reject) => f.gzip.end((err?: Error | null) => (err ? reject(err) : resolve())));
  };

  const stream = o.client.query(copyTo(o.copySql));
  const abort = () => stream.destroy(new Error('extract aborted'));
  o.signal?.addEventListener('abort', abort, { once: true });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      rawBytes += chunk.length;
      let pos = 0;
      while (pos < chunk.length) {
        current ??= open();
        const want = o.rowsPerFile - current.rows;
        const { end, found } = counter.scan(chunk, pos, want);
        if (end === -1) {
          current.rows += found;
          rows += found;
          await write(current, chunk.subarray(pos));
          pos = chunk.length;
        } else {
          current.rows += found;
          rows += found;
          await write(current, chunk.subarray(pos, end));
          pos = end;
          await close(current);
          current = null;
        }
      }
      if (o.onProgress && Date.now() - lastProgress > 5000) {
        lastProgress = Date.now();
        o.onProgress({ rows, rawBytes });
      }
    }
    if (current) await close(current);
    await Promise.all(files.map((f) => f.done));
  } catch (err) {
    for (const f of files) {
      f.gzip.destroy();
      await f.sink.abort().catch(() => undefined);
    }
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', abort);
  }
  return { rows, rawBytes, files: files.map((f) => ({ key: f.key, rows: f.rows, bytes: f.counted.bytes })) };
}
