import { createRequire } from 'node:module';
import { PassThrough, type Readable } from 'node:stream';
import { createGzip, type Gzip, type ZlibOptions } from 'node:zlib';
import type { Encoder } from '@toondepauw/node-zstd';
import type { Compression } from '../redshift/compression.js';

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
export type { Compression } from '../redshift/compression.js';
export { copyCompressionOption } from '../redshift/compression.js';

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
  /**
   * Ends the input. Resolves once the writer holds all of it; the compression of the last
   * part may still be running on the thread pool, so the caller can read the next file
   * meanwhile. `output` ends when everything is compressed, or is destroyed with the error.
   */
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
    this.gzip.end(); // a zlib error destroys the stream, and with it the upload's body
    return Promise.resolve();
  }
  destroy(): void {
    this.gzip.destroy();
  }
}

/**
 * The zstd addon ships prebuilt for the common platforms only; it is loaded on first use,
 * so COMPRESSION=gzip works anywhere.
 */
let addon: typeof import('@toondepauw/node-zstd') | null = null;
function zstdAddon(): typeof import('@toondepauw/node-zstd') {
  try {
    addon ??= createRequire(import.meta.url)('@toondepauw/node-zstd') as typeof import('@toondepauw/node-zstd');
    return addon;
  } catch (err) {
    throw new Error(
      `COMPRESSION=zstd needs the @toondepauw/node-zstd addon, which could not be loaded on ${process.platform}-${process.arch} (${err instanceof Error ? err.message : String(err)}); set COMPRESSION=gzip`,
    );
  }
}

/** CSV bytes per zstd frame, at most. */
export const ZSTD_FRAME_BYTES = 8 * 1024 * 1024;

/**
 * Frame input buffers, reused across files: a fresh 8 MiB allocation per file cost page
 * faults and garbage collections (with them, a third of the main thread's time in a CPU
 * profile of the benchmark extract; BENCHMARKS.md). At most POOL_KEEP idle buffers are kept.
 */
const framePool: Buffer[] = [];
const POOL_KEEP = 2;
const takeFrameBuffer = (): Buffer => framePool.pop() ?? Buffer.allocUnsafeSlow(ZSTD_FRAME_BYTES);
const giveFrameBuffer = (b: Buffer): void => {
  if (framePool.length < POOL_KEEP) framePool.push(b);
};

/**
 * Copies input into a frame buffer of ZSTD_FRAME_BYTES; a full buffer compresses (on the
 * thread pool) while the next fills. Memory: one frame filling, one compressing, and what
 * `output` buffers until its reader (the upload) takes it.
 */
class ZstdWriter implements CompressWriter {
  readonly output = new PassThrough({ highWaterMark: 1024 * 1024 });
  private readonly encoder: Encoder;
  private frame: Buffer | null = null;
  private filled = 0;
  /** The frame being compressed and handed to `output`, if any. */
  private inFlight: Promise<void> = Promise.resolve();
  private frames = 0;

  constructor(level: number) {
    this.encoder = new (zstdAddon().Encoder)(level);
  }

  write(buf: Uint8Array): Promise<void> | undefined {
    if (buf.length < ZSTD_FRAME_BYTES - this.filled) {
      this.copy(buf);
      return undefined;
    }
    return this.writeAcrossFrames(buf);
  }

  async end(): Promise<void> {
    // A file always has one frame, even when empty: zero bytes are not a zstd file.
    if (this.filled > 0 || this.frames === 0) await this.flush();
    this.inFlight.then(
      () => this.output.end(),
      (err: Error) => this.output.destroy(err),
    );
  }

  destroy(): void {
    this.frame = null;
    this.output.destroy();
  }

  private copy(buf: Uint8Array): void {
    this.frame ??= takeFrameBuffer();
    this.frame.set(buf, this.filled);
    this.filled += buf.length;
  }

  private async writeAcrossFrames(buf: Uint8Array): Promise<void> {
    for (let pos = 0; pos < buf.length; ) {
      const n = Math.min(buf.length - pos, ZSTD_FRAME_BYTES - this.filled);
      this.copy(buf.subarray(pos, pos + n));
      pos += n;
      if (this.filled === ZSTD_FRAME_BYTES) await this.flush();
    }
  }

  /** Waits for the previous frame, then starts compressing the filled buffer. */
  private async flush(): Promise<void> {
    await this.inFlight;
    const frame = this.frame;
    const input = frame ? frame.subarray(0, this.filled) : Buffer.alloc(0);
    this.frame = null;
    this.filled = 0;
    this.frames++;
    this.inFlight = this.encoder.encode(input).then((out) => {
      if (frame) giveFrameBuffer(frame);
      return this.push(out);
    });
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
