import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type pg from 'pg';
import { contentEncoding, createCompressWriter, fileSuffix, type Compression, type CompressWriter } from './compress.js';
import { copyOut } from './copy-out.js';
import { CsvRecordCounter } from './csv-records.js';

/**
 * Streams `COPY (...) TO STDOUT` output into compressed files on S3 (zstd or gzip, see
 * compress.ts). Back-pressure flows from the upload to the database socket, so memory
 * stays bounded whatever the batch size.
 *
 * Two ways to cut files:
 * - `extractFilesToS3`: one COPY per file (keyed tables: Postgres cuts the files by key
 *   range, nothing scans the CSV, and each COPY reports its row count);
 * - `extractToS3`: one COPY split every `rowsPerFile` records by scanning the CSV (tables
 *   without a key).
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

export interface FileSink {
  done: Promise<unknown>;
  abort(): Promise<void>;
}

export type SinkFactory = (key: string, body: Readable) => FileSink;

interface CommonOptions {
  client: pg.ClientBase;
  s3: S3Client;
  bucket: string;
  /** Folder for this batch's files, no trailing slash. */
  keyPrefix: string;
  compression: Compression;
  onProgress?: (p: { rows: number; rawBytes: number }) => void;
  /** Where a file's compressed bytes go; default: a multipart upload to s3://bucket/key. */
  sink?: SinkFactory;
  /** Aborts the extraction: every file's upload is aborted, which ends any wait on S3. */
  signal?: AbortSignal;
}

export interface ExtractOptions extends CommonOptions {
  copySql: string;
  rowsPerFile: number;
}

export interface FileExtract {
  copySql: string;
  /** Runs on the session that extracts this file, right before its COPY (e.g. set its key bounds). */
  prepare?: (client: pg.ClientBase) => Promise<void>;
}

export interface ExtractFilesOptions extends CommonOptions {
  /** The files, or a queue that is filled while the extract runs (file i is part i+1). */
  files: FileExtract[] | FileQueue;
  /**
   * More sessions in the same snapshot as `client` (see `SnapshotSessions.join`): files are
   * extracted concurrently, one per session, so several files compress at once.
   */
  moreClients?: pg.ClientBase[];
  /**
   * `client` extracts only once this settles (it may be busy finding the files of the
   * queue meanwhile); a rejection fails the extract.
   */
  clientReady?: Promise<unknown>;
}

/**
 * Files handed to the extract while it runs: `push` in order, then `close` (or `fail`).
 * Sessions `take` the next file, waiting while the queue is empty but open.
 */
export class FileQueue {
  private readonly items: FileExtract[] = [];
  private taken = 0;
  private closed = false;
  private error: unknown = null;
  private wake: Array<() => void> = [];

  static of(files: FileExtract[]): FileQueue {
    const q = new FileQueue();
    for (const f of files) q.push(f);
    q.close();
    return q;
  }

  push(file: FileExtract): void {
    if (this.error) return; // the extract has failed: nobody takes more files
    if (this.closed) throw new Error('FileQueue: push after close');
    this.items.push(file);
    this.notify();
  }

  close(): void {
    this.closed = true;
    this.notify();
  }

  fail(err: unknown): void {
    this.error ??= err ?? new Error('FileQueue failed');
    this.close();
  }

  /** The next file and its index, or null when the queue is closed and drained. */
  async take(): Promise<{ index: number; spec: FileExtract } | null> {
    for (;;) {
      if (this.error) throw this.error;
      if (this.taken < this.items.length) {
        const index = this.taken++;
        return { index, spec: this.items[index]! };
      }
      if (this.closed) return null;
      await new Promise<void>((resolve) => this.wake.push(resolve));
    }
  }

  private notify(): void {
    for (const w of this.wake.splice(0)) w();
  }
}

export function s3Sink(s3: S3Client, bucket: string, compression: Compression): SinkFactory {
  return (key, body) => {
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: body, ContentType: 'text/csv', ContentEncoding: contentEncoding(compression) },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
      leavePartsOnError: false,
    });
    const done = upload.done().catch((e: Error) => {
      throw new Error(`S3 upload of s3://${bucket}/${key} failed: ${e.message}`);
    });
    return { done, abort: () => upload.abort() };
  };
}

export const partKey = (prefix: string, index: number, compression: Compression) => `${prefix}/part-${String(index).padStart(5, '0')}.csv${fileSuffix(compression)}`;

/** Files finished by a session but still compressing or uploading, at most (per session). */
const MAX_PENDING_FILES = 3;

/** One compressed file on its way to S3. */
class OutFile {
  rows = 0;
  bytes = 0;
  private readonly writer: CompressWriter;
  private readonly sink: FileSink;
  readonly done: Promise<unknown>;
  /** Rejects when the upload ends (or fails); a write that has to wait races it. */
  private readonly uploadEnded: Promise<never>;

  constructor(
    readonly key: string,
    compression: Compression,
    sink: SinkFactory,
  ) {
    this.writer = createCompressWriter(compression);
    const tap = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.bytes += chunk.length;
        cb(null, chunk);
      },
    });
    const body = new PassThrough();
    // An error anywhere (compression included) destroys the body, which fails the upload.
    pipeline(this.writer.output, tap, body).catch(() => undefined);
    this.sink = sink(key, body);
    this.done = this.sink.done;
    // Surface upload failures early instead of waiting for the end of the stream.
    this.done.catch(() => undefined);
    this.uploadEnded = this.done.then(() => {
      throw new Error(`upload of ${this.key} ended before its data was written`);
    });
    this.uploadEnded.catch(() => undefined);
  }

  async write(buf: Uint8Array): Promise<void> {
    const wait = this.writer.write(buf);
    if (wait) await Promise.race([wait, this.uploadEnded]);
  }

  /** Ends the compressed stream; the upload finishes on its own (await `done`). */
  end(): Promise<void> {
    // The upload can only end first if it failed: then its error is the answer.
    return Promise.race([this.writer.end(), this.uploadEnded]);
  }

  async abort(): Promise<void> {
    this.writer.destroy();
    await this.sink.abort().catch(() => undefined);
  }

  describe(): ExtractedFile {
    return { key: this.key, rows: this.rows, bytes: this.bytes };
  }
}

/** Bookkeeping shared by both extract forms: files, totals, progress, failure cleanup. */
class Extraction {
  readonly files: OutFile[] = [];
  rows = 0;
  rawBytes = 0;
  private lastProgress = Date.now();

  private readonly unfinished = new Set<OutFile>();

  constructor(
    private readonly o: CommonOptions,
    private readonly sessions = 1,
  ) {}

  /** Opens file `index` (0-based; default: the next one). */
  async open(index = this.files.length): Promise<OutFile> {
    // Bound memory: wait while too many files are still compressing or uploading.
    while (this.unfinished.size >= MAX_PENDING_FILES * this.sessions) {
      await Promise.race([...this.unfinished].map((f) => f.done.catch(() => undefined)));
    }
    const c = this.o.compression;
    const f = new OutFile(partKey(this.o.keyPrefix, index + 1, c), c, this.o.sink ?? s3Sink(this.o.s3, this.o.bucket, c));
    this.files[index] = f;
    this.unfinished.add(f);
    void f.done.then(
      () => this.unfinished.delete(f),
      () => this.unfinished.delete(f),
    );
    return f;
  }

  counted(bytes: number): void {
    this.rawBytes += bytes;
    if (this.o.onProgress && Date.now() - this.lastProgress > 5000) {
      this.lastProgress = Date.now();
      this.o.onProgress({ rows: this.rows, rawBytes: this.rawBytes });
    }
  }

  async run(body: () => Promise<void>): Promise<ExtractResult> {
    const onAbort = () => {
      for (const f of this.files) void f?.abort();
    };
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.o.signal?.throwIfAborted();
      await body();
      await Promise.all(this.files.map((f) => f.done));
      this.o.signal?.throwIfAborted();
    } catch (err) {
      for (const f of this.files) await f?.abort();
      throw this.o.signal?.aborted ? this.o.signal.reason : err;
    } finally {
      this.o.signal?.removeEventListener('abort', onAbort);
    }
    return { rows: this.rows, rawBytes: this.rawBytes, files: this.files.map((f) => f.describe()) };
  }
}

/**
 * One COPY per file; the row counts come from each COPY's command tag. With `moreClients`,
 * each session takes the next file until none is left; file i is always part i+1.
 */
export async function extractFilesToS3(o: ExtractFilesOptions): Promise<ExtractResult> {
  const clients = [o.client, ...(o.moreClients ?? [])];
  const x = new Extraction(o, clients.length);
  const queue = Array.isArray(o.files) ? FileQueue.of(o.files) : o.files;
  let failed = false;
  const session = async (client: pg.ClientBase) => {
    if (client === o.client && o.clientReady) await o.clientReady;
    while (!failed) {
      const next = await queue.take();
      if (!next) break;
      const { index, spec } = next;
      await spec.prepare?.(client);
      const f = await x.open(index);
      const stream = client.query(copyOut(spec.copySql));
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        x.counted(chunk.length);
        await f.write(chunk);
      }
      f.rows = stream.rowCount;
      x.rows += f.rows;
      await f.end();
    }
  };
  const fail = (err: unknown) => {
    failed = true;
    queue.fail(err); // sessions waiting for a file stop too
    throw err;
  };
  return x.run(async () => {
    // Every session runs to the end of its current COPY (cutting one off would leave the
    // session busy), then the first error, if any, fails the whole extract.
    const results = await Promise.allSettled(
      clients.map((c) => session(c).catch(fail)),
    );
    const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (bad) throw bad.reason;
  });
}

/** One COPY, a new file every `rowsPerFile` records (found by scanning the CSV). */
export async function extractToS3(o: ExtractOptions): Promise<ExtractResult> {
  const x = new Extraction(o);
  const counter = new CsvRecordCounter();
  return x.run(async () => {
    let current: OutFile | null = null;
    const stream = o.client.query(copyOut(o.copySql));
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      x.counted(chunk.length);
      let pos = 0;
      while (pos < chunk.length) {
        current ??= await x.open();
        const { end, found } = counter.scan(chunk, pos, o.rowsPerFile - current.rows);
        current.rows += found;
        x.rows += found;
        const stop = end === -1 ? chunk.length : end;
        await current.write(chunk.subarray(pos, stop));
        pos = stop;
        if (end !== -1) {
          await current.end();
          current = null;
        }
      }
    }
    if (current) await current.end();
  });
}
