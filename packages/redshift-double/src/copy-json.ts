import { convertField, pgCopyText, type LoadFailure, type TargetColumn, type ValueOptions } from './copy-values.js';
import { findInvalidUtf8, replaceInvalidUtf8, type RawField } from './csv.js';
import { RsError } from './errors.js';

/**
 * COPY ... FORMAT [AS] JSON: the record scanner (concatenated JSON objects or arrays, one per
 * line or spread over lines), JSONPaths files, and the mapping of a record to the target
 * columns ('auto', 'auto ignorecase', a JSONPaths file, 'noshred').
 * Guide: copy-parameters-data-format.html (JSON, JSONPaths file, JSONPath expressions),
 * copy-usage_notes-copy-from-json.html, ingest-super.html.
 *
 * Values keep their source text: numbers are not converted to floats (the guide warns that
 * Redshift may lose precision there; the double loads the digits as written), strings are
 * the bytes after JSON unescaping (invalid UTF-8 is found later, per field, as in CSV).
 */
export type JsonOption = { kind: 'auto'; ignoreCase: boolean } | { kind: 'jsonpaths'; url: string } | { kind: 'noshred' };

export type JValue =
  | { t: 'null' }
  | { t: 'bool'; v: boolean }
  | { t: 'num'; text: string }
  | { t: 'str'; bytes: Buffer }
  | { t: 'arr'; items: JValue[] }
  | { t: 'obj'; entries: Array<[string, JValue]> };

export interface JsonRecord {
  value: JValue | null;
  /** The last line of the record (the guide: LINE_NUMBER is the last line of the JSON object). */
  line: number;
  raw: Buffer;
  error?: LoadFailure;
}

/** One JSON object or array at most 4 MB, braces included (copy-parameters-data-format.html). */
export const MAX_JSON_RECORD_BYTES = 4 * 1024 * 1024;
/** Nesting depth the double accepts (SUPER's documented limit). */
const MAX_DEPTH = 1000;

const LF = 0x0a;
const isWs = (b: number | undefined) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

class JsonSyntax extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

/** Recursive-descent JSON parser over bytes, keeping number text and string bytes. */
class Parser {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
  ) {
    this.pos = start;
  }

  private ws(): void {
    while (isWs(this.buf[this.pos])) this.pos++;
  }

  private fail(what: string): never {
    const b = this.buf[this.pos];
    const near = b === undefined ? 'end of data' : `'${String.fromCharCode(b)}'`;
    throw new JsonSyntax(`Invalid JSON: ${what} at ${near}`, this.pos);
  }

  value(depth: number): JValue {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
    this.ws();
    const b = this.buf[this.pos];
    if (b === 0x7b) return this.object(depth);
    if (b === 0x5b) return this.array(depth);
    if (b === 0x22) return { t: 'str', bytes: this.string() };
    if (b === 0x2d || (b !== undefined && b >= 0x30 && b <= 0x39)) return this.number();
    if (this.word('true')) return { t: 'bool', v: true };
    if (this.word('false')) return { t: 'bool', v: false };
    if (this.word('null')) return { t: 'null' };
    this.fail('unexpected character');
  }

  private word(w: string): boolean {
    for (let i = 0; i < w.length; i++) if (this.buf[this.pos + i] !== w.charCodeAt(i)) return false;
    this.pos += w.length;
    return true;
  }

  private object(depth: number): JValue {
    this.pos++;
    const entries: Array<[string, JValue]> = [];
    const seen = new Set<string>();
    this.ws();
    if (this.buf[this.pos] === 0x7d) {
      this.pos++;
      return { t: 'obj', entries };
    }
    for (;;) {
      this.ws();
      if (this.buf[this.pos] !== 0x22) this.fail('expected an attribute name');
      const keyAt = this.pos;
      const key = this.string().toString('utf8');
      if (seen.has(key)) throw new JsonSyntax(`Invalid JSON: duplicate attribute name "${key}"`, keyAt);
      seen.add(key);
      this.ws();
      if (this.buf[this.pos] !== 0x3a) this.fail("expected ':'");
      this.pos++;
      entries.push([key, this.value(depth + 1)]);
      this.ws();
      const b = this.buf[this.pos];
      if (b === 0x2c) {
        this.pos++;
        continue;
      }
      if (b === 0x7d) {
        this.pos++;
        return { t: 'obj', entries };
      }
      this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): JValue {
    this.pos++;
    const items: JValue[] = [];
    this.ws();
    if (this.buf[this.pos] === 0x5d) {
      this.pos++;
      return { t: 'arr', items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.ws();
      const b = this.buf[this.pos];
      if (b === 0x2c) {
        this.pos++;
        continue;
      }
      if (b === 0x5d) {
        this.pos++;
        return { t: 'arr', items };
      }
      this.fail("expected ',' or ']'");
    }
  }

  private string(): Buffer {
    this.pos++;
    const out: Buffer[] = [];
    let seg = this.pos;
    for (;;) {
      const b = this.buf[this.pos];
      if (b === undefined) this.fail('unterminated string');
      if (b === 0x22) {
        out.push(this.buf.subarray(seg, this.pos));
        this.pos++;
        return out.length === 1 ? out[0]! : Buffer.concat(out);
      }
      if (b < 0x20) this.fail('control character in a string');
      if (b !== 0x5c) {
        this.pos++;
        continue;
      }
      out.push(this.buf.subarray(seg, this.pos));
      const e = this.buf[this.pos + 1];
      const simple: Record<number, string> = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };
      if (e !== undefined && simple[e] !== undefined) {
        out.push(Buffer.from(simple[e]!, 'latin1'));
        this.pos += 2;
      } else if (e === 0x75) {
        let code = this.hex4(this.pos + 2);
        this.pos += 6;
        if (code >= 0xd800 && code <= 0xdbff && this.buf[this.pos] === 0x5c && this.buf[this.pos + 1] === 0x75) {
          const lo = this.hex4(this.pos + 2);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            code = 0x10000 + ((code - 0xd800) << 10) + (lo - 0xdc00);
            this.pos += 6;
          }
        }
        // A lone surrogate is not a character: keep it as invalid UTF-8 (error 1220 later).
        out.push(code >= 0xd800 && code <= 0xdfff ? Buffer.from([0xed, 0xa0 | ((code >> 6) & 0x1f), 0x80 | (code & 0x3f)]) : Buffer.from(String.fromCodePoint(code), 'utf8'));
      } else {
        this.pos++;
        this.fail('invalid escape');
      }
      seg = this.pos;
    }
  }

  private hex4(at: number): number {
    const s = this.buf.toString('latin1', at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(s)) {
      this.pos = at;
      this.fail('invalid \\u escape');
    }
    return parseInt(s, 16);
  }

  private number(): JValue {
    const start = this.pos;
    const s = this.buf.toString('latin1', start, Math.min(this.buf.length, start + 400));
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s);
    if (!m) this.fail('invalid number');
    this.pos += m[0].length;
    return { t: 'num', text: m[0] };
  }
}

/** Parses one complete JSON text (a JSONPaths file, a manifest...). Throws on anything else. */
export function parseJsonText(buf: Buffer): JValue {
  const p = new Parser(buf, 0);
  const v = p.value(0);
  while (isWs(buf[p.pos])) p.pos++;
  if (p.pos < buf.length) throw new JsonSyntax('Invalid JSON: characters after the JSON value', p.pos);
  return v;
}

function lineAt(buf: Buffer, from: number, to: number, line: number): number {
  for (let i = from; i < to; i++) if (buf[i] === LF) line++;
  return line;
}

/**
 * The records of one file: root-level objects or arrays separated by nothing but white
 * space. Anything else is a load error for that spot (1216), and scanning resumes at the
 * next line, so each instance counts once toward MAXERROR (copy-parameters-data-format.html,
 * JSON data file). IGNOREHEADER skips lines first.
 */
export function* jsonRecords(buf: Buffer, ignoreHeader: number): Generator<JsonRecord> {
  let pos = 0;
  let line = 1;
  for (let h = 0; h < ignoreHeader && pos < buf.length; h++) {
    const nl = buf.indexOf(LF, pos);
    pos = nl < 0 ? buf.length : nl + 1;
    line++;
  }
  while (pos < buf.length) {
    while (pos < buf.length && isWs(buf[pos])) {
      if (buf[pos] === LF) line++;
      pos++;
    }
    if (pos >= buf.length) return;
    const start = pos;
    const startLine = line;
    const b = buf[pos];
    if (b !== 0x7b && b !== 0x5b) {
      const nl = buf.indexOf(LF, pos);
      const end = nl < 0 ? buf.length : nl;
      yield { value: null, line, raw: buf.subarray(start, end), error: { code: 1216, reason: 'Invalid JSON: expected a JSON object or array' } };
      pos = nl < 0 ? buf.length : nl + 1;
      line++;
      continue;
    }
    const p = new Parser(buf, pos);
    try {
      const value = p.value(0);
      line = lineAt(buf, start, p.pos, startLine);
      if (p.pos - start > MAX_JSON_RECORD_BYTES)
        throw new RsError(`The JSON object or array at line ${startLine} is larger than the maximum of 4 MB (${p.pos - start} bytes)`, 'XX000');
      yield { value, line, raw: buf.subarray(start, p.pos) };
      pos = p.pos;
    } catch (e) {
      if (!(e instanceof JsonSyntax)) throw e;
      const errLine = lineAt(buf, start, Math.min(e.at, buf.length), startLine);
      const nl = buf.indexOf(LF, Math.min(e.at, buf.length));
      const end = nl < 0 ? buf.length : nl;
      yield { value: null, line: errLine, raw: buf.subarray(start, end), error: { code: 1216, reason: e.message } };
      pos = nl < 0 ? buf.length : nl + 1;
      line = errLine + (nl < 0 ? 0 : 1);
    }
  }
}

// ---- JSONPath expressions ------------------------------------------------------------

export type PathStep = { key: string } | { index: number };
export interface JsonPath {
  text: string;
  steps: PathStep[];
  notation: 'bracket' | 'dot' | null;
}

const invalidPath = (p: string, why: string) => new RsError(`Invalid JSONPath format: ${why}: ${p}`, 'XX000');

/**
 * `$['a']['b'][0]` or `$.a.b[0]` (one notation per expression and per file), `$` alone for
 * the whole record. Bracket names may escape a quote or a backslash with a backslash (the
 * guide shows no escaping; this is the double's reading). No wildcards, filters or `..`.
 */
export function parseJsonPath(text: string): JsonPath {
  if (!text.startsWith('$')) throw invalidPath(text, 'must start with $');
  const steps: PathStep[] = [];
  let notation: JsonPath['notation'] = null;
  const set = (n: 'bracket' | 'dot') => {
    if (notation && notation !== n) throw invalidPath(text, "can't mix bracket notation and dot notation");
    notation = n;
  };
  let i = 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '[') {
      if (text[i + 1] === "'") {
        set('bracket');
        let name = '';
        let k = i + 2;
        for (;;) {
          if (k >= text.length) throw invalidPath(text, 'unterminated name');
          if (text[k] === '\\' && (text[k + 1] === "'" || text[k + 1] === '\\')) {
            name += text[k + 1];
            k += 2;
            continue;
          }
          if (text[k] === "'") break;
          name += text[k++];
        }
        if (text[k + 1] !== ']') throw invalidPath(text, "expected ']'");
        if (name === '') throw invalidPath(text, 'empty name');
        steps.push({ key: name });
        i = k + 2;
        continue;
      }
      const m = /^\[(\d+)\]/.exec(text.slice(i));
      if (!m) throw invalidPath(text, 'array indexes must be whole numbers of zero or more; wildcards and filters are not supported');
      steps.push({ index: Number(m[1]) });
      i += m[0].length;
      continue;
    }
    if (ch === '.') {
      set('dot');
      const m = /^\.([^'.[\]]+)/.exec(text.slice(i));
      if (!m || m[1] === '*') throw invalidPath(text, 'a dot-notation name cannot be empty or contain quotes, dots or brackets; wildcards are not supported');
      steps.push({ key: m[1]! });
      i += m[0].length;
      continue;
    }
    throw invalidPath(text, `unexpected '${ch}'`);
  }
  return { text, steps, notation };
}

/**
 * A JSONPaths file: one JSON object whose "jsonpaths" is an array of non-empty strings.
 * Returns null when the object has no "jsonpaths" key (then COPY uses 'auto', as the guide says).
 */
export function parseJsonPathsFile(body: Buffer, url: string): JsonPath[] | null {
  let v: JValue;
  try {
    v = parseJsonText(body);
  } catch (e) {
    throw new RsError(`JSONPaths file ${url} is not valid JSON: ${(e as Error).message}`, 'XX000');
  }
  if (v.t !== 'obj') throw new RsError(`JSONPaths file ${url} must hold a single JSON object`, 'XX000');
  const entry = v.entries.find(([k]) => k === 'jsonpaths');
  if (!entry) return null;
  const arr = entry[1];
  if (arr.t !== 'arr') throw new RsError(`JSONPaths file ${url}: "jsonpaths" must be an array of JSONPath expressions`, 'XX000');
  const paths = arr.items.map((it) => {
    if (it.t !== 'str' || it.bytes.length === 0) throw new RsError(`JSONPaths file ${url}: every element of "jsonpaths" must be a non-empty string`, 'XX000');
    return parseJsonPath(it.bytes.toString('utf8'));
  });
  const notations = new Set(paths.map((p) => p.notation).filter((n) => n !== null));
  if (notations.size > 1) throw new RsError(`Invalid JSONPath format: can't mix bracket notation and dot notation in the jsonpaths array (${url})`, 'XX000');
  return paths;
}

export class JsonPathRangeError extends RsError {
  constructor() {
    super('Invalid JSONPath format: Not an array or index out of range.', 'XX000');
  }
}

/** Evaluates a path: a missing object element is undefined (NULL); a missing array element fails the COPY (guide). */
export function evalPath(root: JValue, path: JsonPath): JValue | undefined {
  let cur: JValue | undefined = root;
  for (const s of path.steps) {
    if (cur === undefined) return undefined;
    if ('index' in s) {
      if (cur.t !== 'arr' || s.index >= cur.items.length) throw new JsonPathRangeError();
      cur = cur.items[s.index];
    } else {
      cur = cur.t === 'obj' ? cur.entries.find(([k]) => k === s.key)?.[1] : undefined;
    }
  }
  return cur;
}

// ---- serialization and conversion ----------------------------------------------------

/** Compact JSON text of a value (nested values loaded into VARCHAR, and SUPER values). */
export function jsonText(v: JValue): Buffer {
  const parts: Buffer[] = [];
  const walk = (x: JValue) => {
    switch (x.t) {
      case 'null':
        parts.push(Buffer.from('null'));
        break;
      case 'bool':
        parts.push(Buffer.from(x.v ? 'true' : 'false'));
        break;
      case 'num':
        parts.push(Buffer.from(x.text));
        break;
      case 'str':
        parts.push(quoteJsonBytes(x.bytes));
        break;
      case 'arr':
        parts.push(Buffer.from('['));
        x.items.forEach((it, i) => {
          if (i) parts.push(Buffer.from(','));
          walk(it);
        });
        parts.push(Buffer.from(']'));
        break;
      case 'obj':
        parts.push(Buffer.from('{'));
        x.entries.forEach(([k, it], i) => {
          if (i) parts.push(Buffer.from(','));
          parts.push(Buffer.from(JSON.stringify(k)), Buffer.from(':'));
          walk(it);
        });
        parts.push(Buffer.from('}'));
        break;
    }
  };
  walk(v);
  return Buffer.concat(parts);
}

/** A JSON string literal of bytes (escaping `"`, `\` and control characters; other bytes as they are). */
function quoteJsonBytes(b: Buffer): Buffer {
  const out: number[] = [0x22];
  for (const x of b) {
    if (x === 0x22 || x === 0x5c) out.push(0x5c, x);
    else if (x < 0x20) {
      const esc = { 0x08: 'b', 0x0c: 'f', 0x0a: 'n', 0x0d: 'r', 0x09: 't' }[x];
      for (const ch of esc ? `\\${esc}` : `\\u${x.toString(16).padStart(4, '0')}`) out.push(ch.charCodeAt(0));
    } else out.push(x);
  }
  out.push(0x22);
  return Buffer.from(out);
}

function maxStringBytes(v: JValue): number {
  if (v.t === 'str') return v.bytes.length;
  if (v.t === 'arr') return v.items.reduce((m, it) => Math.max(m, maxStringBytes(it)), 0);
  if (v.t === 'obj') return v.entries.reduce((m, [k, it]) => Math.max(m, Buffer.byteLength(k), maxStringBytes(it)), 0);
  return 0;
}

export type JsonMapping = { kind: 'auto'; ignoreCase: boolean } | { kind: 'paths'; paths: JsonPath[] } | { kind: 'noshred' };

/** The value for each target column (undefined: not found, loads NULL), or a record-level error. */
export function pickValues(rec: JValue, targets: TargetColumn[], m: JsonMapping): Array<JValue | undefined> | LoadFailure {
  if (m.kind === 'noshred') return [rec];
  if (m.kind === 'paths') return m.paths.map((p) => evalPath(rec, p));
  if (rec.t !== 'obj') return { code: 1216, reason: "Invalid JSON: 'auto' needs JSON objects; map arrays with a JSONPaths file" };
  return targets.map((col) => {
    if (!m.ignoreCase) return rec.entries.find(([k]) => k === col.name)?.[1];
    const want = col.name.toLowerCase();
    return rec.entries.find(([k]) => k.toLowerCase() === want)?.[1];
  });
}

/**
 * One value -> the text for Postgres COPY, or a load error. JSON null or a missing element
 * is NULL; a string loads its characters (EMPTYASNULL / BLANKSASNULL apply to it, NULL AS
 * is not allowed with JSON); a number its digits as written; true/false as words; an object
 * or array its JSON text. A SUPER column gets the value's JSON text (a string stays a string).
 */
export function convertJsonValue(v: JValue | undefined, col: TargetColumn, o: ValueOptions): { ok: true; value: string | null; raw: string } | { ok: false; error: LoadFailure; raw: string } {
  if (v === undefined || v.t === 'null') {
    if (col.notNull) return { ok: false, error: { code: 1213, reason: 'Missing data for not-null field' }, raw: '' };
    return { ok: true, value: null, raw: '' };
  }
  if (col.isSuper) {
    let text = jsonText(v);
    if (maxStringBytes(v) > 65535) return { ok: false, error: { code: 1224, reason: 'A string in a SUPER value is longer than 65535 bytes' }, raw: text.subarray(0, 1024).toString('utf8') };
    const bad = findInvalidUtf8(text);
    if (bad) {
      if (o.acceptInvChars === null) return { ok: false, error: { code: 1220, reason: 'String contains invalid or unsupported UTF8 codepoints' }, raw: text.subarray(0, 1024).toString('latin1') };
      text = replaceInvalidUtf8(text, o.acceptInvChars);
    }
    return { ok: true, value: text.toString('utf8'), raw: '' };
  }
  const bytes = v.t === 'str' ? v.bytes : v.t === 'num' ? Buffer.from(v.text) : v.t === 'bool' ? Buffer.from(v.v ? 'true' : 'false') : jsonText(v);
  const field: RawField = { bytes, raw: bytes, quoted: false };
  const r = convertField(field, col, o);
  const raw = bytes.subarray(0, 1024).toString('utf8');
  return r.ok ? { ok: true, value: r.value, raw } : { ok: false, error: r.error, raw };
}

export { pgCopyText };
