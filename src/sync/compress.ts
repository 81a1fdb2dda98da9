import { PassThrough, type Readable } from 'node:stream';
import { createGzip, type Gzip, type ZlibOptions } from 'node:zlib';
import { Encoder } from '@toondepauw/node-zstd';

/**
 * How the staging files are compressed. One writer per file: `write` CSV bytes in (it
 * resolves when the writer can take more), `end`, and read the compressed bytes from
 * `output`. Both formats compress off the main thread (zlib's async API and the zstd
 * addon's async `encode` run on libuv's thread pool), so files written concurrently
 * compress in parallel.
 *
 * - `zstd` (the default): the file is a sequence of zstd frames of up to `ZSTD_FRAME_BYTES`
 *   of CSV each. RFC 8878 lets frames be concatenated and every zstd decoder reads such a
 *   file whole; a file of up to 8 MiB of CSV (25,000 rows of up to ~330 bytes) is one
 *   frame. Level 1 is about 4 times cheaper in CPU than gzip level 1 and its files are
 *   smaller (BENCHMARKS.md). Redshift reads it with `COPY ... ZSTD` (from S3 only, which
 *   is the only way the loader copies).
 * - `gzip`: one gzip member per file (zlib, `level`, `windowBits`).
 */
export type Compression = { format: 'zstd'; level: number } | { format: 'gzip'; level: number; windowBits?: number };

/** The Redshift COPY option that reads the format. */
export const copyCompressionOption = (c: Compression): 'ZSTD' | 'GZIP' => (c.format === 'zstd' ? 'ZSTD' : 'GZIP');

/** File name ending (after `.csv`) and the S3 object's Content-Encoding. */
export const fileSuffix = (c: Compression): string => (c.format === 'zstd' ? '.zst' : '.gz');
export const contentEncoding = (c: Compression): string => (c.format === 'zstd' ? 'zstd' : 'gzip');

/** The compression settings from the environment (COMPRESSION, ZSTD_LEVEL, GZIP_LEVEL, GZIP_WINDOW_BITS). */
export function compressionFromEnv(env: { COMPRESSION: 'zstd' | 'gzip'; ZSTD_LEVEL: number; GZIP_LEVEL: number; GZIP_WINDOW_BITS: number }): Compression {
  return env.COMPRESSION === 'zstd' ? { format: 'zstd', level: env.ZSTD_LEVEL } : { format: 'gzip', level: env.GZIP_LEVEL, windowBits: env.GZIP_WINDOW_BITS };
}

export interface CompressWriter {
  /** Compressed bytes, ending when the writer has ended and everything is compressed. */
  readonly output: Readable;
  /** Takes the bytes; returns a promise to wait for before the next write, or nothing when more can come at once. */
  write(buf: Uint8Array): Promise<void> | undefined;
  /** Resolves when the last input has been compressed and handed to `output`. */
  end(): Promise<void>;
  destroy(): void;
}

export function createCompressWriter(c: Compression): CompressWriter {
  return c.format === 'zstd' ? new ZstdWriter(c.level) : new GzipWriter(c.level, c.windowBits ?? 15);
}

class GzipWriter implements CompressWriter {
  private readonly gzip: Gzip;
  constructor(level: number, windowBits: number) {
    // A deep write buffer lets the database, this thread and zlib's thread pool work at
    // once instead of taking turns (measured in BENCHMARKS.md).
    this.gzip = createGzip({ level, windowBits, chunkSize: 128 * 1024, writableHighWaterMark: 8 * 1024 * 1024 } as ZlibOptions);
  }
  get output(): Readable {
    return this.gzip;
  }
  write(buf: Uint8Array): Promise<void> | undefined {
    if (this.gzip.write(buf)) return undefined;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        this.gzip.off('drain', done);
        this.gzip.off('error', done);
        this.gzip.off('close', done);
        if (err) reject(err);
        else resolve();
      };
      this.gzip.once('drain', done);
      this.gzip.once('error', done);
      this.gzip.once('close', done);
    });
  }
  end(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.gzip.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  destroy(): void {
    this.gzip.destroy();
  }
}

/** CSV bytes per zstd frame, at most. */
export const ZSTD_FRAME_BYTES = 8 * 1024 * 1024;

/**
 * Collects input into frames of ZSTD_FRAME_BYTES; one frame compresses (on the thread pool)
 * while the next fills. Memory: one frame of input filling, one compressing, and what
 * `output` buffers until its reader (the upload) takes it.
 */
class ZstdWriter implements CompressWriter {
  readonly output = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  private readonly encoder: Encoder;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** The frame being compressed and handed to `output`, if any. */
  private inFlight: Promise<void> = Promise.resolve();
  private frames = 0;

  constructor(level: number) {
    this.encoder = new Encoder(level);
  }

  write(buf: Uint8Array): Promise<void> | undefined {
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    return this.pendingBytes >= ZSTD_FRAME_BYTES ? this.flush() : undefined;
  }

  async end(): Promise<void> {
    // A file always has one frame, even when empty: zero bytes are not a zstd file.
    if (this.pendingBytes > 0 || this.frames === 0) await this.flush();
    await this.inFlight;
    this.output.end();
  }

  destroy(): void {
    this.pending = [];
    this.output.destroy();
  }

  /** Waits for the previous frame, then starts compressing the collected input. */
  private async flush(): Promise<void> {
    await this.inFlight;
    const input = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.frames++;
    this.inFlight = this.encoder.encode(input).then((frame) => this.push(frame));
    // Surface an error at the next write or end, not as an unhandled rejection now.
    this.inFlight.catch(() => undefined);
  }

  private push(frame: Buffer): Promise<void> {
    if (this.output.destroyed) throw new Error('zstd output closed before its data was written');
    if (this.output.write(frame)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.output.off('drain', done);
        this.output.off('close', done);
        if (this.output.destroyed && !this.output.writableFinished) reject(new Error('zstd output closed before its data was written'));
        else resolve();
      };
      this.output.once('drain', done);
      this.output.once('close', done);
    });
  }
}
