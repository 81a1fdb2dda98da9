/**
 * Record parsers for COPY input, working on bytes (delimiters and quotes are single ASCII
 * bytes, so multi-byte UTF-8 never confuses them; invalid UTF-8 is found per field later).
 *
 * CSV (Redshift's rules): fields separated by the delimiter (',' by default), a field
 * starting with the quote character ('"') is quoted, a doubled quote inside it is one
 * quote, and quoted fields may hold delimiters and newlines. A quote in the middle of an
 * unquoted field is data. Records end at LF; a CR is data (Redshift wants LF line endings).
 *
 * Delimited text (the default format): fields separated by the delimiter ('|'), records
 * end at LF, no quoting; ESCAPE makes a backslash take the next byte literally;
 * REMOVEQUOTES strips surrounding double quotes (delimiters inside them are kept).
 */
export interface RawField {
  /** The field's value bytes (quotes removed, escapes applied). */
  bytes: Buffer;
  /** The field as it appeared in the file (for NULL AS matching and stl_load_errors). */
  raw: Buffer;
  quoted: boolean;
}

export interface RawRecord {
  fields: RawField[];
  /** 1-based line of the file where the record starts. */
  line: number;
  /** The record's bytes as they appeared in the file. */
  raw: Buffer;
  /** A record that could not be split into fields. */
  error?: { code: number; reason: string };
}

export interface RecordOptions {
  format: 'csv' | 'text';
  delimiter: string;
  quote: string;
  escape: boolean;
  removeQuotes: boolean;
  ignoreHeader: number;
  ignoreBlankLines: boolean;
}

const LF = 0x0a;
const BACKSLASH = 0x5c;
const DQ = 0x22;

export function* parseRecords(buf: Buffer, o: RecordOptions): Generator<RawRecord> {
  const delim = o.delimiter.charCodeAt(0);
  const quote = o.quote.charCodeAt(0);
  let pos = 0;
  let line = 1;
  for (let h = 0; h < o.ignoreHeader && pos < buf.length; h++) {
    const nl = buf.indexOf(LF, pos);
    pos = nl < 0 ? buf.length : nl + 1;
    line++;
  }
  while (pos < buf.length) {
    const start = pos;
    const startLine = line;
    if (buf[pos] === LF) {
      pos++;
      line++;
      if (o.ignoreBlankLines) continue;
      yield { fields: [], line: startLine, raw: Buffer.alloc(0), error: { code: 1211, reason: 'Line contains no data' } };
      continue;
    }
    const r = o.format === 'csv' ? csvRecord(buf, pos, delim, quote) : textRecord(buf, pos, delim, o);
    line += r.newlines;
    pos = r.end;
    const rawEnd = r.end > start && buf[r.end - 1] === LF ? r.end - 1 : r.end;
    if (o.ignoreBlankLines && r.fields.length === 1 && r.fields[0]!.raw.length === 0) continue;
    yield { fields: r.fields, line: startLine, raw: buf.subarray(start, rawEnd), error: r.error };
  }
}

interface Parsed {
  fields: RawField[];
  end: number;
  newlines: number;
  error?: { code: number; reason: string };
}

/**
 * After an unquoted field that stopped at `p` (a delimiter, a newline or the end): the
 * finished record, or where the next field starts. A delimiter at the very end of the
 * buffer still opens one more, empty, field.
 */
function afterField(buf: Buffer, p: number, fields: RawField[], newlines: number): Parsed | number {
  if (p >= buf.length) return { fields, end: p, newlines };
  if (buf[p] === LF) return { fields, end: p + 1, newlines: newlines + 1 };
  const next = p + 1;
  if (next >= buf.length) {
    fields.push({ bytes: Buffer.alloc(0), raw: Buffer.alloc(0), quoted: false });
    return { fields, end: next, newlines };
  }
  return next;
}

function csvRecord(buf: Buffer, pos: number, delim: number, quote: number): Parsed {
  const fields: RawField[] = [];
  let newlines = 0;
  for (;;) {
    const fstart = pos;
    if (buf[pos] === quote) {
      const parts: Buffer[] = [];
      let p = pos + 1;
      let segStart = p;
      for (;;) {
        if (p >= buf.length) {
          return { fields, end: buf.length, newlines, error: { code: 1216, reason: 'Unterminated quoted field' } };
        }
        const b = buf[p]!;
        if (b === quote) {
          if (buf[p + 1] === quote) {
            parts.push(buf.subarray(segStart, p + 1));
            p += 2;
            segStart = p;
            continue;
          }
          parts.push(buf.subarray(segStart, p));
          p++;
          break;
        }
        if (b === LF) newlines++;
        p++;
      }
      fields.push({ bytes: Buffer.concat(parts), raw: buf.subarray(fstart, p), quoted: true });
      pos = p;
      if (pos >= buf.length) return { fields, end: pos, newlines };
      if (buf[pos] === delim) {
        pos++;
        continue;
      }
      if (buf[pos] === LF) return { fields, end: pos + 1, newlines: newlines + 1 };
      // data after the closing quote: the record is malformed
      const nl = buf.indexOf(LF, pos);
      const end = nl < 0 ? buf.length : nl + 1;
      return { fields, end, newlines: newlines + (nl < 0 ? 0 : 1), error: { code: 1216, reason: 'Invalid quote formatting for CSV' } };
    }
    let p = pos;
    while (p < buf.length && buf[p] !== delim && buf[p] !== LF) p++;
    const v = buf.subarray(pos, p);
    fields.push({ bytes: v, raw: v, quoted: false });
    const next = afterField(buf, p, fields, newlines);
    if (typeof next !== 'number') return next;
    pos = next;
  }
}

function textRecord(buf: Buffer, pos: number, delim: number, o: RecordOptions): Parsed {
  const fields: RawField[] = [];
  let newlines = 0;
  for (;;) {
    const fstart = pos;
    const out: number[] = [];
    let quoted = false;
    let p = pos;
    if (o.removeQuotes && buf[p] === DQ) {
      const close = buf.indexOf(DQ, p + 1);
      const nl = buf.indexOf(LF, p + 1);
      if (close >= 0 && (nl < 0 || close < nl)) {
        for (let k = p + 1; k < close; k++) out.push(buf[k]!);
        p = close + 1;
        quoted = true;
      }
    }
    while (p < buf.length && buf[p] !== delim && buf[p] !== LF) {
      if (o.escape && buf[p] === BACKSLASH && p + 1 < buf.length) {
        if (buf[p + 1] === LF) newlines++;
        out.push(buf[p + 1]!);
        p += 2;
        continue;
      }
      out.push(buf[p]!);
      p++;
    }
    const raw = buf.subarray(fstart, p);
    fields.push({ bytes: o.escape || quoted ? Buffer.from(out) : raw, raw, quoted });
    const next = afterField(buf, p, fields, newlines);
    if (typeof next !== 'number') return next;
    pos = next;
  }
}

// ---- UTF-8 -------------------------------------------------------------------------

/** The first invalid UTF-8 sequence in buf (NUL counts as invalid: Postgres text cannot hold it). */
export function findInvalidUtf8(buf: Buffer, from = 0): { offset: number; length: number } | null {
  let i = from;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b > 0 && b < 0x80) {
      i++;
      continue;
    }
    let need = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b === 0xe0) [need, lo] = [2, 0xa0];
    else if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) need = 2;
    else if (b === 0xed) [need, hi] = [2, 0x9f];
    else if (b === 0xf0) [need, lo] = [3, 0x90];
    else if (b >= 0xf1 && b <= 0xf3) need = 3;
    else if (b === 0xf4) [need, hi] = [3, 0x8f];
    else return { offset: i, length: 1 };
    let ok = true;
    let k = 1;
    for (; k <= need; k++) {
      const cb = buf[i + k];
      const l = k === 1 ? lo : 0x80;
      const h = k === 1 ? hi : 0xbf;
      if (cb === undefined || cb < l || cb > h) {
        ok = false;
        break;
      }
    }
    if (!ok) {
      // the invalid character: the lead byte plus the continuation bytes that follow it
      let len = 1;
      while (len <= need && i + len < buf.length && (buf[i + len]! & 0xc0) === 0x80) len++;
      return { offset: i, length: len };
    }
    i += need + 1;
  }
  return null;
}

/** Replaces each invalid character with `ch` repeated to the same byte length. */
export function replaceInvalidUtf8(buf: Buffer, ch: string): Buffer {
  let bad = findInvalidUtf8(buf);
  if (!bad) return buf;
  const out = Buffer.from(buf);
  const code = ch.charCodeAt(0);
  while (bad) {
    out.fill(code, bad.offset, bad.offset + bad.length);
    bad = findInvalidUtf8(out, bad.offset + bad.length);
  }
  return out;
}

/** Cuts to at most n bytes without splitting a UTF-8 character. */
export function truncateUtf8(buf: Buffer, n: number): Buffer {
  if (buf.length <= n) return buf;
  let end = n;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end);
}
