/**
 * A small codec for the PostgreSQL v3 wire protocol: framing of incoming bytes, decoding
 * of the frontend messages the proxy inspects, and encoding of the messages it writes
 * itself (to the client as a server, and to the upstream Postgres as a client).
 */

export const PROTOCOL_3 = 196608;
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

export interface Frame {
  /** One-character message type. */
  type: string;
  /** The message body (after type and length). */
  payload: Buffer;
  /** The whole message as received (type + length + body), for forwarding. */
  raw: Buffer;
}

/** Splits a byte stream into typed messages (every message after the startup). */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    let off = 0;
    while (this.buf.length - off >= 5) {
      const len = this.buf.readInt32BE(off + 1);
      if (len < 4) throw new Error(`invalid message length ${len}`);
      if (this.buf.length - off < 1 + len) break;
      const raw = this.buf.subarray(off, off + 1 + len);
      out.push({ type: String.fromCharCode(raw[0]!), payload: raw.subarray(5), raw });
      off += 1 + len;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off));
    return out;
  }

  /** Bytes received but not yet framed. */
  rest(): Buffer {
    const b = this.buf;
    this.buf = Buffer.alloc(0);
    return b;
  }
}

/** Reads the untyped startup-phase packet (length-prefixed) if complete. */
export function readStartupPacket(buf: Buffer): { packet: Buffer; rest: Buffer } | null {
  if (buf.length < 4) return null;
  const len = buf.readInt32BE(0);
  if (len < 8 || len > 10_000) throw new Error(`invalid startup packet length ${len}`);
  if (buf.length < len) return null;
  return { packet: buf.subarray(0, len), rest: buf.subarray(len) };
}

export function parseStartupParams(packet: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  let off = 8;
  while (off < packet.length) {
    const k = cstr(packet, off);
    off = k.next;
    if (!k.value) break;
    const v = cstr(packet, off);
    off = v.next;
    params.set(k.value, v.value);
  }
  return params;
}

function cstr(buf: Buffer, off: number): { value: string; next: number } {
  let end = buf.indexOf(0, off);
  if (end < 0) end = buf.length;
  return { value: buf.toString('utf8', off, end), next: end + 1 };
}

/** A cursor over a message body. */
export class Reader {
  off = 0;
  constructor(private readonly buf: Buffer) {}
  cstring(): string {
    const r = cstr(this.buf, this.off);
    this.off = r.next;
    return r.value;
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.off);
    this.off += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }
  byte(): string {
    return String.fromCharCode(this.buf[this.off++]!);
  }
  bytes(n: number): Buffer {
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
  remaining(): Buffer {
    return this.buf.subarray(this.off);
  }
}

// ---- decoding of frontend messages -------------------------------------------------

export interface ParseMsg {
  name: string;
  query: string;
  paramTypes: number[];
}

export function decodeParse(payload: Buffer): ParseMsg {
  const r = new Reader(payload);
  const name = r.cstring();
  const query = r.cstring();
  const n = r.int16();
  const paramTypes: number[] = [];
  for (let i = 0; i < n; i++) paramTypes.push(r.int32());
  return { name, query, paramTypes };
}

export function decodeBindNames(payload: Buffer): { portal: string; statement: string } {
  const r = new Reader(payload);
  const portal = r.cstring();
  const statement = r.cstring();
  return { portal, statement };
}

/** Describe and Close: a kind ('S' statement or 'P' portal) and a name. */
export function decodeTarget(payload: Buffer): { kind: string; name: string } {
  const r = new Reader(payload);
  const kind = r.byte();
  return { kind, name: r.cstring() };
}

export function decodeExecute(payload: Buffer): { portal: string; maxRows: number } {
  const r = new Reader(payload);
  return { portal: r.cstring(), maxRows: r.int32() };
}

export function decodeQuery(payload: Buffer): string {
  return new Reader(payload).cstring();
}

/** ErrorResponse / NoticeResponse fields keyed by their one-letter codes. */
export type Fields = Record<string, string>;

export function decodeFields(payload: Buffer): Fields {
  const r = new Reader(payload);
  const out: Fields = {};
  while (r.off < payload.length) {
    const code = r.byte();
    if (code === '\0') break;
    out[code] = r.cstring();
  }
  return out;
}

export interface FieldDesc {
  name: string;
  typeOid: number;
}

export function decodeRowDescription(payload: Buffer): FieldDesc[] {
  const r = new Reader(payload);
  const n = r.int16();
  const out: FieldDesc[] = [];
  for (let i = 0; i < n; i++) {
    const name = r.cstring();
    r.int32(); // table oid
    r.int16(); // attnum
    const typeOid = r.int32();
    r.int16(); // typlen
    r.int32(); // typmod
    r.int16(); // format
    out.push({ name, typeOid });
  }
  return out;
}

export function decodeDataRow(payload: Buffer): Array<string | null> {
  const r = new Reader(payload);
  const n = r.int16();
  const out: Array<string | null> = [];
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    out.push(len < 0 ? null : r.bytes(len).toString('utf8'));
  }
  return out;
}

// ---- encoding --------------------------------------------------------------------

/** Builds one message body piece by piece. */
export class Writer {
  private parts: Buffer[] = [];
  cstring(s: string): this {
    this.parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }
  int16(n: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    this.parts.push(b);
    return this;
  }
  int32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    this.parts.push(b);
    return this;
  }
  byte(c: string): this {
    this.parts.push(Buffer.from([c.charCodeAt(0)]));
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  /** The message with a type byte (or none for startup-phase packets). */
  message(type: string | null): Buffer {
    const body = Buffer.concat(this.parts);
    const head = Buffer.alloc(type === null ? 4 : 5);
    if (type === null) head.writeInt32BE(body.length + 4, 0);
    else {
      head[0] = type.charCodeAt(0);
      head.writeInt32BE(body.length + 4, 1);
    }
    return Buffer.concat([head, body]);
  }
}

const empty = (type: string) => new Writer().message(type);

export const be = {
  authOk: () => new Writer().int32(0).message('R'),
  authCleartext: () => new Writer().int32(3).message('R'),
  parameterStatus: (k: string, v: string) => new Writer().cstring(k).cstring(v).message('S'),
  backendKeyData: (pid: number, secret: number) => new Writer().int32(pid).int32(secret).message('K'),
  readyForQuery: (status: string) => new Writer().byte(status).message('Z'),
  commandComplete: (tag: string) => new Writer().cstring(tag).message('C'),
  parseComplete: () => empty('1'),
  bindComplete: () => empty('2'),
  closeComplete: () => empty('3'),
  noData: () => empty('n'),
  emptyQuery: () => empty('I'),
  parameterDescription: (oids: number[]) => {
    const w = new Writer().int16(oids.length);
    for (const o of oids) w.int32(o);
    return w.message('t');
  },
  /** RowDescription of text columns (type oid 25, text format). */
  rowDescriptionText: (names: string[]) => {
    const w = new Writer().int16(names.length);
    for (const n of names) w.cstring(n).int32(0).int16(0).int32(25).int16(-1).int32(-1).int16(0);
    return w.message('T');
  },
  dataRow: (values: Array<string | null>) => {
    const w = new Writer().int16(values.length);
    for (const v of values) {
      if (v === null) w.int32(-1);
      else {
        const b = Buffer.from(v, 'utf8');
        w.int32(b.length).bytes(b);
      }
    }
    return w.message('D');
  },
  error: (f: Fields) => fieldsMessage('E', f),
  notice: (f: Fields) => fieldsMessage('N', f),
};

function fieldsMessage(type: string, f: Fields): Buffer {
  const w = new Writer();
  for (const [k, v] of Object.entries(f)) if (v !== undefined) w.byte(k).cstring(v);
  w.bytes(Buffer.from([0]));
  return w.message(type);
}

export const fe = {
  startup: (params: Map<string, string>) => {
    const w = new Writer().int32(PROTOCOL_3);
    for (const [k, v] of params) w.cstring(k).cstring(v);
    w.bytes(Buffer.from([0]));
    return w.message(null);
  },
  password: (p: string) => new Writer().cstring(p).message('p'),
  saslInitial: (mech: string, data: Buffer) => new Writer().cstring(mech).int32(data.length).bytes(data).message('p'),
  saslResponse: (data: Buffer) => new Writer().bytes(data).message('p'),
  query: (sql: string) => new Writer().cstring(sql).message('Q'),
  parse: (m: ParseMsg) => {
    const w = new Writer().cstring(m.name).cstring(m.query).int16(m.paramTypes.length);
    for (const t of m.paramTypes) w.int32(t);
    return w.message('P');
  },
  copyData: (b: Buffer) => new Writer().bytes(b).message('d'),
  copyDone: () => empty('c'),
  copyFail: (msg: string) => new Writer().cstring(msg).message('f'),
  sync: () => empty('S'),
  flush: () => empty('H'),
  terminate: () => empty('X'),
  cancel: (pid: number, secret: number) => new Writer().int32(CANCEL_REQUEST).int32(pid).int32(secret).message(null),
};
