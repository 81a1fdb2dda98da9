import { Readable } from 'node:stream';

/**
 * `COPY ... TO STDOUT` as a Readable, submitted with `client.query(copyOut(sql))`.
 *
 * It takes the socket from `pg` while the COPY runs (as pg-copy-streams does) but strips
 * the CopyData framing in place: each socket chunk's payloads are moved together with
 * `copyWithin` and pushed as one slice, instead of one buffer object per row. At ~150
 * bytes a row that is the difference between ~2 s and ~0.3 s of CPU per 300 MiB
 * (BENCHMARKS.md). When the COPY ends (CopyDone), or the server sends anything else (an
 * error), the rest of the bytes go back to `pg`, which then completes or fails the query
 * as usual. Destroying the stream early keeps reading and discarding until the COPY ends,
 * so the session stays usable (e.g. for the ROLLBACK that follows).
 */

const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
/** Messages that may arrive during a COPY and are skipped. */
const SKIPPED = new Set([0x48 /* H CopyOutResponse */, 0x4e /* N Notice */, 0x53 /* S ParameterStatus */, 0x41 /* A Notification */]);

interface PgConnection {
  stream: NodeJS.ReadableStream;
  query(text: string): void;
}

export class CopyOutStream extends Readable {
  /** Rows, from the COPY's command tag (set when the query completes). */
  rowCount = 0;
  private connection: PgConnection | null = null;
  private pgDataHandler: ((b: Buffer) => void) | null = null;
  private readonly onReadable = () => this.forward();
  private wanted = false;
  private forwarding = false;
  private finished = false;
  private discarding = false;
  /** Bytes of a message header (code + length) split across socket chunks. */
  private header = Buffer.alloc(5);
  private headerLength = 0;
  /** The current message's code and its payload bytes still to come. */
  private code = 0;
  private remaining = 0;

  constructor(readonly text: string) {
    super({ highWaterMark: 1024 * 1024 });
  }

  /** Called by pg when this query's turn comes. */
  submit(connection: PgConnection): void {
    this.connection = connection;
    const s = connection.stream;
    const listeners = s.listeners('data') as Array<(b: Buffer) => void>;
    if (listeners.length !== 1) throw new Error(`COPY TO: expected one data listener on the pg socket, found ${listeners.length}`);
    this.pgDataHandler = listeners[0]!;
    s.removeListener('data', this.pgDataHandler);
    s.pause();
    s.on('readable', this.onReadable);
    connection.query(this.text);
  }

  override _read(): void {
    this.wanted = true;
    this.forward();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Keep the session usable: read the COPY to its end, dropping the data.
    this.discarding = true;
    this.wanted = true;
    this.forward();
    cb(err);
  }

  private forward(): void {
    if (this.forwarding || !this.wanted || !this.connection || this.finished) return;
    this.forwarding = true;
    let chunk: Buffer | null;
    while (this.wanted && !this.finished && (chunk = this.connection.stream.read() as Buffer | null) !== null) this.parse(chunk);
    this.forwarding = false;
  }

  /** Strips the framing of `chunk` in place and pushes its CopyData payloads. */
  private parse(chunk: Buffer): void {
    let pos = 0;
    let out = 0;
    const len = chunk.length;
    while (pos < len) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, len - pos);
        if (this.code === COPY_DATA) {
          if (out !== pos) chunk.copyWithin(out, pos, pos + n);
          out += n;
        }
        pos += n;
        this.remaining -= n;
        continue;
      }
      // A message header: 1 byte code, 4 bytes length (including itself).
      let code: number;
      let length: number;
      if (this.headerLength === 0 && len - pos >= 5) {
        code = chunk[pos]!;
        if (!this.known(code)) return this.handBack(chunk, out, pos, null);
        length = chunk.readUInt32BE(pos + 1) - 4;
        pos += 5;
      } else {
        const start = pos;
        while (this.headerLength < 5 && pos < len) this.header[this.headerLength++] = chunk[pos++]!;
        if (!this.known(this.header[0]!)) return this.handBack(chunk, out, start, this.header.subarray(0, this.headerLength - (pos - start)));
        if (this.headerLength < 5) break;
        this.headerLength = 0;
        code = this.header[0]!;
        length = this.header.readUInt32BE(1) - 4;
      }
      this.code = code;
      this.remaining = length;
      if (code === COPY_DONE && length === 0) return this.handBack(chunk, out, pos, null);
    }
    this.pushData(chunk.subarray(0, out));
  }

  private known(code: number): boolean {
    return code === COPY_DATA || code === COPY_DONE || SKIPPED.has(code);
  }

  private pushData(data: Buffer): void {
    if (data.length === 0 || this.discarding) return;
    if (!this.push(data)) this.wanted = false;
  }

  /**
   * The COPY is over (CopyDone) or the server said something else (an error): push what
   * was read, give the unread bytes (after any header bytes held from an earlier chunk)
   * back to pg, and let pg finish the query.
   */
  private handBack(chunk: Buffer, out: number, pos: number, heldHeader: Buffer | null): void {
    this.pushData(chunk.subarray(0, out));
    this.finished = true;
    const s = this.connection!.stream;
    s.removeListener('readable', this.onReadable);
    s.on('data', this.pgDataHandler!);
    const rest = chunk.subarray(pos);
    this.pgDataHandler!(heldHeader && heldHeader.length > 0 ? Buffer.concat([heldHeader, rest]) : rest);
    process.nextTick(() => s.resume());
  }

  /** pg: the COPY's command tag, e.g. `COPY 25000`. */
  handleCommandComplete(msg: { text?: string }): void {
    const m = /COPY (\d+)/.exec(msg?.text ?? '');
    if (m) this.rowCount = Number(m[1]);
    this.push(null);
  }

  /** pg: the query failed (the error arrives after we handed the socket back). */
  handleError(err: Error): void {
    this.destroy(err);
  }

  handleReadyForQuery(): void {
    /* the stream already ended in handleCommandComplete */
  }
}

export const copyOut = (sql: string): CopyOutStream => new CopyOutStream(sql);
