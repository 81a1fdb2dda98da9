import { findInvalidUtf8, replaceInvalidUtf8, truncateUtf8, type RawField } from './csv.js';
import { checkSuperJson } from './super-json.js';

/**
 * Field conversion for COPY: Redshift's NULL rules, byte limits, UTF-8 checks and type
 * validation, producing the value for Postgres COPY text format or a load error
 * (err_code / err_reason as in stl_load_errors).
 */
export interface TargetColumn {
  name: string;
  /** pg_type.typname of the column's base type (varchar, bpchar, int4, numeric, ...). */
  typname: string;
  /** format_type() text, for stl_load_errors.type. */
  typeText: string;
  notNull: boolean;
  /** VARCHAR / CHAR length (bytes in Redshift). */
  length: number | null;
  numericPrecision: number | null;
  numericScale: number | null;
  isSuper: boolean;
}

export interface ValueOptions {
  /** null: no NULL AS string (COPY ... JSON, where NULL AS is not allowed). */
  nullAs: string | null;
  emptyAsNull: boolean;
  blanksAsNull: boolean;
  truncateColumns: boolean;
  acceptInvChars: string | null;
  trimBlanks: boolean;
  roundec: boolean;
  dateFormat: string | null;
  timeFormat: string | null;
}

export interface LoadFailure {
  code: number;
  reason: string;
}

export type Converted = { ok: true; value: string | null } | { ok: false; error: LoadFailure };

/**
 * Is a quoted field equal to NULL AS (e.g. "\N") NULL? The guide leaves it open; the double
 * assumes yes (README, Assumptions 1): the pessimistic choice, so a loader cannot depend on
 * quoting to protect a literal \N.
 */
export const QUOTED_NULL_IS_NULL = true;

const ok = (value: string | null): Converted => ({ ok: true, value });
const fail = (code: number, reason: string): Converted => ({ ok: false, error: { code, reason: reason.slice(0, 100) } });

const STRING_TYPES = new Set(['varchar', 'bpchar', 'text']);
const INT_RANGES: Record<string, [bigint, bigint, string]> = {
  int2: [-32768n, 32767n, 'Short'],
  int4: [-2147483648n, 2147483647n, 'Integer'],
  int8: [-9223372036854775808n, 9223372036854775807n, 'Long'],
};

export function isStringColumn(col: TargetColumn): boolean {
  return STRING_TYPES.has(col.typname);
}

function hex(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** NULL rules, UTF-8 and type conversion for one field. `field` undefined = FILLRECORD. */
export function convertField(field: RawField | undefined, col: TargetColumn, o: ValueOptions): Converted {
  const r = convert(field, col, o);
  if (r.ok && r.value === null && col.notNull) return fail(1213, 'Missing data for not-null field');
  return r;
}

function convert(field: RawField | undefined, col: TargetColumn, o: ValueOptions): Converted {
  if (!field) return ok(null);
  // NULL AS is matched against the field's content, quoted or not (see README).
  // Delimited text: matched before ESCAPE processing. CSV: see QUOTED_NULL_IS_NULL.
  const candidate = field.quoted ? (QUOTED_NULL_IS_NULL ? field.bytes : null) : field.raw;
  if (o.nullAs !== null && candidate && candidate.equals(Buffer.from(o.nullAs, 'utf8'))) return ok(null);
  let bytes = field.bytes;
  const bad = findInvalidUtf8(bytes);
  if (bad) {
    if (o.acceptInvChars === null) {
      return fail(1220, `String contains invalid or unsupported UTF8 codepoints. Bad UTF8 hex sequence: ${hex(bytes.subarray(bad.offset, bad.offset + bad.length))} (error 4)`);
    }
    bytes = replaceInvalidUtf8(bytes, o.acceptInvChars);
  }
  const empty = bytes.length === 0;
  if (isStringColumn(col)) {
    if (empty && !field.quoted) return ok(o.emptyAsNull ? null : '');
    if (!empty && !field.quoted && o.blanksAsNull && /^[ \t\r\n\v\f]+$/.test(bytes.toString('latin1'))) return ok(null);
    if (o.trimBlanks && col.typname === 'varchar') bytes = trimTrailingBlanks(bytes);
    if (col.typname === 'bpchar') {
      const nonAscii = bytes.findIndex((b) => b >= 0x80);
      if (nonAscii >= 0) {
        let end = nonAscii + 1;
        while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end++;
        return fail(1215, `Multibyte character not supported for CHAR (Hint: try using VARCHAR). Invalid char: ${hex(bytes.subarray(nonAscii, end))}`);
      }
    }
    if (col.length !== null && bytes.length > col.length) {
      // excess that is only blanks is cut, not refused (r_Character_types.html)
      if (bytes.subarray(col.length).every((b) => b === 0x20)) bytes = bytes.subarray(0, col.length);
      else if (o.truncateColumns) bytes = truncateUtf8(bytes, col.length);
      else return fail(1204, 'String length exceeds DDL length');
    }
    return ok(bytes.toString('utf8'));
  }
  const s = bytes.toString('utf8');
  const t = s.trim();
  // Empty fields load as NULL for non-character types (Redshift: "always"), quoted or not.
  if (empty) return ok(null);
  if (col.isSuper) {
    const problem = checkSuperJson(s);
    return problem ? fail(problem.code, problem.reason) : ok(s);
  }
  switch (col.typname) {
    case 'int2':
    case 'int4':
    case 'int8': {
      const [min, max, label] = INT_RANGES[col.typname]!;
      const m = /^[+-]?\d+$/.exec(t);
      if (!m) return fail(1207, `Invalid digit, Value '${t.slice(0, 40)}', Pos ${Math.max(0, t.search(/[^+\-0-9]/))}, Type: ${label}`);
      const v = BigInt(t);
      if (v < min || v > max) return fail(1222, `Overflow, Value '${t}', Type: ${label} (range ${min} to ${max})`);
      return ok(v.toString());
    }
    case 'numeric':
      return numeric(t, col, o.roundec);
    case 'float4':
    case 'float8': {
      if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) || /^[+-]?(nan|inf|infinity)$/i.test(t)) {
        if (/^[+-]?inf$/i.test(t)) return ok(t.replace(/inf$/i, 'Infinity'));
        return ok(t);
      }
      return fail(1208, `Invalid digit, Value '${t.slice(0, 40)}', Pos ${Math.max(0, t.search(/[^+\-0-9.eE]/))}, Type: ${col.typname === 'float4' ? 'Float' : 'Double'}`);
    }
    case 'bool': {
      const v = t.toLowerCase();
      if (['t', 'true', '1', 'y', 'yes', 'on'].includes(v)) return ok('t');
      if (['f', 'false', '0', 'n', 'no', 'off'].includes(v)) return ok('f');
      return fail(1210, `Invalid boolean value '${t.slice(0, 40)}'`);
    }
    case 'date': {
      const d = parseDate(t, o.dateFormat === 'auto');
      return d ? ok(d) : fail(1205, `Invalid Date Format - length must be 10 or more, or the value is invalid: '${t.slice(0, 40)}'`);
    }
    case 'timestamp':
    case 'timestamptz': {
      const v = parseTimestamp(t, o.timeFormat, col.typname === 'timestamptz');
      return v ? ok(v) : fail(1206, `Invalid timestamp format or value [YYYY-MM-DD HH24:MI:SS]: '${t.slice(0, 40)}'`);
    }
    case 'time':
    case 'timetz':
      if (/^\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?(\s*(Z|[+-]\d{1,2}(:?\d{2})?))?$/i.test(t)) return ok(t);
      return fail(1206, `Invalid time format: '${t.slice(0, 40)}'`);
    default:
      return ok(s);
  }
}

function trimTrailingBlanks(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && (b[end - 1] === 0x20 || b[end - 1] === 0x09)) end--;
  return b.subarray(0, end);
}

/** DECIMAL: Redshift truncates extra scale digits (rounds with ROUNDEC) and rejects overflow. */
function numeric(t: string, col: TargetColumn, roundec: boolean): Converted {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) {
    const pos = Math.max(0, t.search(/[^+\-0-9.]/));
    return fail(1209, `Invalid digit, Value '${t.slice(0, 40)}', Pos ${pos}, Type: Decimal`);
  }
  const p = col.numericPrecision ?? 18;
  const s = col.numericScale ?? 0;
  const sign = m[1] === '-' ? '-' : '';
  let intPart = (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
  let frac = m[3] ?? '';
  if (frac.length > s) {
    const kept = frac.slice(0, s);
    const roundUp = roundec && frac.charCodeAt(s) >= 53; // '5'
    frac = kept;
    if (roundUp) {
      const digits = (intPart + frac).split('').map(Number);
      let k = digits.length - 1;
      while (k >= 0) {
        if (digits[k]! < 9) {
          digits[k]!++;
          break;
        }
        digits[k] = 0;
        k--;
      }
      let all = digits.join('');
      if (k < 0) all = '1' + all;
      intPart = all.slice(0, all.length - s) || '0';
      frac = s ? all.slice(all.length - s) : '';
    }
  }
  intPart = intPart.replace(/^0+(?=\d)/, '');
  const intDigits = intPart === '0' ? 0 : intPart.length;
  if (intDigits > p - s) return fail(1204, `Overflow for NUMERIC(${p},${s}): '${t.slice(0, 40)}'`);
  return ok(`${sign}${intPart}${frac ? '.' + frac : ''}`);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** DATE and TIMESTAMP hold 4713 BC to 294276 AD (r_Datetime_types.html). */
export const MIN_BC_YEAR = 4713;
export const MAX_AD_YEAR = 294276;

function validYmd(y: number, mo: number, d: number): boolean {
  if (mo < 1 || mo > 12 || d < 1 || y < 1) return false;
  const dim = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1]!;
  return d <= dim;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Two-digit years, as Postgres (and Redshift's 'auto') reads them: 70-99 -> 19xx, 00-69 -> 20xx. */
const century = (yy: string) => (yy.length === 2 ? (Number(yy) >= 70 ? 1900 : 2000) + Number(yy) : Number(yy));

/**
 * Date part of a value: [y, m, d, rest-of-string] or null. The default format takes
 * YYYY-MM-DD only; 'auto' also takes years of 5 or 6 digits (up to 294276 AD) in the ISO
 * form and the forms listed in README, Assumptions.
 */
function datePart(t: string, auto: boolean): [number, number, number, string] | null {
  let m = /^(\d{4})-(\d{2})-(\d{2})(.*)$/.exec(t);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3]), m[4]!];
  if (!auto) return null;
  m = /^(\d{5,6})-(\d{2})-(\d{2})(.*)$/.exec(t);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3]), m[4]!];
  m = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(.*)$/.exec(t);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3]), m[4]!];
  m = /^(\d{4})(\d{2})(\d{2})(.*)$/.exec(t);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3]), m[4]!];
  m = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(.*)$/.exec(t);
  if (m) return [Number(m[3]), Number(m[1]), Number(m[2]), m[4]!];
  m = /^([A-Za-z]{3,9})\.?[ -](\d{1,2}),?[ -](\d{4}|\d{2})(?!\d)(.*)$/.exec(t);
  if (m) {
    const mo = MONTHS.indexOf(m[1]!.slice(0, 3).toLowerCase());
    if (mo >= 0) return [century(m[3]!), mo + 1, Number(m[2]), m[4]!];
  }
  m = /^(\d{1,2})[ -]([A-Za-z]{3,9})\.?,?[ -](\d{4})(.*)$/.exec(t);
  if (m) {
    const mo = MONTHS.indexOf(m[2]!.slice(0, 3).toLowerCase());
    if (mo >= 0) return [Number(m[3]), mo + 1, Number(m[1]), m[4]!];
  }
  return null;
}

/**
 * 'auto' reads a trailing ` BC` (automatic-recognition.html: "BC | Jan-08-95 BC"); a
 * two-digit year before BC is the year itself (95 BC), as in Postgres.
 */
function splitEra(t: string, auto: boolean): { body: string; bc: boolean } {
  const m = auto ? /^(.*\S)\s+BC$/i.exec(t) : null;
  return m ? { body: m[1]!, bc: true } : { body: t, bc: false };
}

function datePartWithEra(t: string, auto: boolean): { y: number; mo: number; d: number; rest: string; bc: boolean } | null {
  const { body, bc } = splitEra(t, auto);
  let p = datePart(body, auto);
  if (!p) return null;
  if (bc) {
    // a two-digit year in "Mon-DD-YY BC" is not moved into a century
    const yy = /^[A-Za-z]{3,9}\.?[ -]\d{1,2},?[ -](\d{2})(?!\d)/.exec(body);
    if (yy) p = [Number(yy[1]), p[1], p[2], p[3]];
  }
  const [y, mo, d, rest] = p;
  if (!validYmd(y, mo, d)) return null;
  if (bc ? y > MIN_BC_YEAR : y > MAX_AD_YEAR) return null;
  return { y, mo, d, rest, bc };
}

const isoDate = (y: number, mo: number, d: number) => `${pad(y, 4)}-${pad(mo)}-${pad(d)}`;

export function parseDate(t: string, auto: boolean): string | null {
  const p = datePartWithEra(t, auto);
  if (!p) return null;
  if (p.rest !== '' && !(auto && parseTimeRest(p.rest) !== null)) return null;
  return `${isoDate(p.y, p.mo, p.d)}${p.bc ? ' BC' : ''}`;
}

/** " 10:11:12.123456 +02:00" -> ["10:11:12.123456", "+02:00"]; "" -> midnight. */
function parseTimeRest(rest: string): [string, string] | null {
  if (rest === '') return ['00:00:00', ''];
  const m = /^(?:[ T]+)(\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?\s*(am|pm)?\s*(z|utc|gmt|[+-]\d{2}(?::?\d{2})?)?$/i.exec(rest);
  if (!m) return null;
  let h = Number(m[1]);
  const mi = Number(m[2]);
  const s = Number(m[3] ?? '0');
  if (m[5]) {
    if (h < 1 || h > 12) return null;
    h = (h % 12) + (m[5].toLowerCase() === 'pm' ? 12 : 0);
  }
  if (h > 23 || mi > 59 || s > 59) return null;
  let off = m[6] ?? '';
  if (/^(z|utc|gmt)$/i.test(off)) off = '+00:00';
  else if (off && !off.includes(':') && off.length === 5) off = `${off.slice(0, 3)}:${off.slice(3)}`;
  return [`${pad(h)}:${pad(mi)}:${pad(s)}${m[4] ?? ''}`, off];
}

export function parseTimestamp(t: string, format: string | null, tz: boolean): string | null {
  if (format === 'epochsecs' || format === 'epochmillisecs') {
    if (!/^-?\d+(\.\d+)?$/.test(t)) return null;
    const ms = format === 'epochsecs' ? Number(t) * 1000 : Number(t);
    const d = new Date(ms);
    if (Number.isNaN(d.getTime())) return null;
    return d.toISOString().replace('T', ' ').replace('Z', tz ? '+00:00' : '');
  }
  const auto = format === 'auto';
  if (!auto) {
    // default 'YYYY-MM-DD HH:MI:SS' (fractional seconds accepted; TIMESTAMPTZ may carry an offset)
    const re = tz ? /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?)?$/ : /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;
    if (!re.test(t)) return null;
  }
  const p = datePartWithEra(t, auto);
  if (!p) return null;
  const time = parseTimeRest(p.rest);
  if (!time) return null;
  const [clock, off] = time;
  // TIMESTAMP drops any offset; TIMESTAMPTZ keeps it (no offset = UTC).
  return `${isoDate(p.y, p.mo, p.d)} ${clock}${tz ? off || '+00:00' : ''}${p.bc ? ' BC' : ''}`;
}

/** Postgres COPY text-format escaping of one value. */
export function pgCopyText(v: string | null): string {
  if (v === null) return '\\N';
  return v.replace(/[\\\n\r\t]/g, (ch) => (ch === '\\' ? '\\\\' : ch === '\n' ? '\\n' : ch === '\r' ? '\\r' : '\\t'));
}
