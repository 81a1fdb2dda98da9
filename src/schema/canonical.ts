import { quoteIdent } from '../sql/quote.js';
import { parseTargetType, type RedshiftType } from './types.js';
import type { SourceColumn } from '../metadata/types.js';

/**
 * Canonical text per column: one SQL expression for the source (PostgreSQL) and one for the
 * target (Redshift) that give the *same text* for the same value, and different texts for
 * different values. Verify hashes these texts on each side; only summaries cross the wire.
 *
 * The two expressions may be spelled differently (each side has its own functions), but
 * every function used on the Redshift side is one the Database Developer Guide documents,
 * and the double implements it as the guide does (packages/redshift-double/README.md). The forms follow
 * the target column's type, since that is what the value became:
 *
 * | target | canonical text | how |
 * |---|---|---|
 * | SMALLINT, INTEGER, BIGINT | decimal digits | CAST ... AS VARCHAR |
 * | NUMERIC(p,s) | the value with exactly s decimals (`1.50`) when the source value has no more decimals than s; otherwise the source's own digits, which can never equal a target text, so a value that lost digits differs | ROUND(x, s) on the source |
 * | BOOLEAN | `t` / `f` | CASE |
 * | DATE | ISO text, `2024-02-29` (` BC` after BC dates) | CAST ... AS VARCHAR, both sessions in DateStyle ISO |
 * | TIMESTAMP, TIMESTAMPTZ | ISO text in UTC (both sessions run in UTC), to the microsecond with trailing zeros dropped: `2024-02-29 23:59:59.5`, `2024-06-01 06:30:00.123456+00` | CAST ... AS VARCHAR: the type's output, which the guide's examples show in this form (`2012-10-25 14:41:56.96391`, `2022-02-08 16:07:21+00`) |
 * | TIME | `DD HH24:MI:SS.US` of 2000-01-01 + the time (so 24:00:00 is day 02) | TO_CHAR of DATE + TIME (r_DATE-CONCATENATE_function.html) |
 * | TIMETZ | `HH24:MI:SS.US` of the time in UTC | TO_CHAR of DATE + TIMETZ |
 * | VARCHAR | the text the extract wrote (the source type's output: blank padding of char(n), `t`/`f`, `\x..` for bytea, Postgres text of arrays, intervals, ...), trailing blanks included | the value itself |
 * | CHAR(n) | uuid: its 36 characters; anything else: compared without trailing blanks (CHAR pads), noted in the report | RTRIM |
 * | SUPER (from jsonb) | compact JSON: jsonb's text without the blanks after `,` and `:` (strings untouched) vs JSON_SERIALIZE; the row text holds its MD5 | JSON_SERIALIZE (JSON_SERIALIZE.html) |
 * | REAL, DOUBLE PRECISION | skipped: Redshift prints floats with a fixed digit count (extra_float_digits), Postgres 12+ with the shortest exact digits; no text is exact on both | |
 * | SUPER from json (not jsonb) | skipped: json keeps its text's key order, duplicate keys and number spellings, which SUPER's serialization need not reproduce | |
 *
 * NULL is not a text: the row text writes it as a marker no value can produce. (A bare VARCHAR is
 * VARCHAR(256) on Redshift, longer than any of the fixed-shape texts above.)
 */
export interface ColumnCanon {
  name: string;
  sourceType: string;
  targetType: string;
  /** SQL over the quoted column name: its canonical text on the source (NULL for NULL). */
  source: string;
  /**
   * The same in two steps, for the summaries: `inner` over the column (computed once per
   * row in a fenced subquery), then `outer` over its result (`{v}`), which may read it
   * several times at no cost.
   */
  sourceSplit?: { inner: string; outer: string };
  /** Same on the target, in Redshift SQL. */
  target: string;
  /** Arbitrary text (may hold any byte): length-prefixed in the row text, long values hashed. */
  stringLike: boolean;
  /**
   * The row text holds the MD5 of the canonical text (an expensive value, e.g. JSON_SERIALIZE,
   * is then computed once per row, and a document of up to 65535 bytes fits in the row).
   */
  hashed?: boolean;
  /** The source column is NOT NULL (its NULL marker can be left out on the source side). */
  notNull: boolean;
  /** The canonical form is not exact for every value; said in the report. */
  note?: string;
}

export interface SkippedColumn {
  name: string;
  reason: string;
}

export type CanonResult = { ok: true; canon: ColumnCanon } | { ok: false; skipped: SkippedColumn };


const INTEGER_SOURCE = /^(smallint|integer|bigint|oid)$/;
const NUMERIC_SOURCE = /^(smallint|integer|bigint|oid|numeric(\(\d+(,-?\d+)?\))?)$/;
const FLOAT_SOURCE = /^(real|double precision)$/;
const TIMESTAMP_SOURCE = /^(date|timestamp(\(\d\))?( with(out)? time zone)?)$/;

/**
 * Source text as the extract wrote it: the type's output function (what COPY TO writes),
 * which `concat()` calls, unlike `::text` for booleans (`true`) and bpchar (which drops the
 * padding). Text types are taken as they are.
 */
function sourceOutputSql(c: string, type: string): string {
  if (/^(text|character varying(\(\d+\))?)$/.test(type)) return c;
  return `CASE WHEN ${c} IS NULL THEN NULL ELSE concat(${c}) END`;
}

/**
 * jsonb's text made compact: `json_strip_nulls` re-serializes without blanks (escaping
 * strings as jsonb's output does) and is exact when there is no null to strip; a text with
 * `null` anywhere takes a regular expression that skips over strings and drops the one blank
 * jsonb writes after each `,` and `:` outside them. E'' literals: the same text whatever the
 * session's standard_conforming_strings.
 */
export function compactJsonbSql(c: string): string {
  return `CASE WHEN ${c} IS NULL THEN NULL ELSE ${compactTextSql(`CAST(${c} AS text)`)} END`;
}

/** The same over jsonb's text `t` (not NULL). */
export function compactTextSql(t: string): string {
  return `CASE WHEN ${t} LIKE '%null%' THEN regexp_replace(${t}, E'("(\\\\\\\\.|[^"\\\\\\\\])*")| ', E'\\\\1', 'g') ELSE CAST(json_strip_nulls(CAST(${t} AS json)) AS text) END`;
}

function numericScaleOf(type: string): number | null {
  const m = /^numeric\((\d+),(-?\d+)\)$/.exec(type);
  if (m) return Number(m[2]);
  if (/^numeric\(\d+\)$/.test(type)) return 0;
  if (INTEGER_SOURCE.test(type)) return 0;
  return null;
}

/** The canonical expressions for one column, or why it cannot be compared exactly. */
export function canonicalColumn(src: SourceColumn, targetType: string): CanonResult {
  const c = quoteIdent(src.name);
  const st = src.type.trim().toLowerCase();
  const tt: RedshiftType = parseTargetType(targetType);
  const skip = (reason: string): CanonResult => ({ ok: false, skipped: { name: src.name, reason } });
  const ok = (source: string, target: string, stringLike: boolean, note?: string, hashed = false): CanonResult => ({
    ok: true,
    canon: { name: src.name, sourceType: src.type, targetType, source, target, stringLike, notNull: src.notNull, ...(hashed ? { hashed } : {}), ...(note ? { note } : {}) },
  });
  const typeText = `${src.type} into ${tt.sql}`;
  switch (tt.family) {
    case 'smallint':
    case 'integer':
    case 'bigint':
      if (!INTEGER_SOURCE.test(st)) return skip(`${typeText}: only integer sources are compared with an integer target`);
      return ok(`CAST(${c} AS text)`, `CAST(${c} AS VARCHAR)`, false);
    case 'numeric': {
      if (!NUMERIC_SOURCE.test(st)) return skip(`${typeText}: only integer and numeric sources are compared with a NUMERIC target`);
      const s = tt.scale ?? 0;
      // Same scale: the source's text already has exactly s decimals.
      const source = numericScaleOf(st) === s && !INTEGER_SOURCE.test(st) ? `CAST(${c} AS text)` : `CASE WHEN ${c} = ROUND(${c}, ${s}) THEN CAST(ROUND(${c}, ${s}) AS text) ELSE CAST(${c} AS text) END`;
      return ok(source, `CAST(${c} AS VARCHAR)`, false);
    }
    case 'real':
    case 'double':
      return skip(`${typeText}: floating point; Redshift prints REAL/DOUBLE PRECISION with a fixed number of digits (extra_float_digits) and Postgres with the shortest exact digits, so no text is exact on both (cast it to numeric in a source view to have it compared)`);
    case 'boolean':
      if (st !== 'boolean') return skip(`${typeText}: only boolean sources are compared with a BOOLEAN target`);
      return ok(`CASE WHEN ${c} THEN 't' WHEN NOT ${c} THEN 'f' END`, `CASE WHEN ${c} THEN 't' WHEN NOT ${c} THEN 'f' END`, false);
    case 'date':
      if (st !== 'date') return skip(`${typeText}: only date sources are compared with a DATE target`);
      return ok(`CAST(${c} AS text)`, `CAST(${c} AS VARCHAR)`, false);
    case 'timestamp':
    case 'timestamptz':
      if (!TIMESTAMP_SOURCE.test(st)) return skip(`${typeText}: only date and timestamp sources are compared with a timestamp target`);
      // The value as the target type holds it: a date is midnight, a timestamptz written into a TIMESTAMP is its UTC wall time.
      if (tt.family === 'timestamptz') return ok(`CAST(CAST(${c} AS timestamp with time zone) AS text)`, `CAST(${c} AS VARCHAR)`, false);
      return ok(`CAST(CAST(${c} AS timestamp without time zone) AS text)`, `CAST(${c} AS VARCHAR)`, false);
    case 'time':
      if (!/^time(\(\d\))?( without time zone)?$/.test(st)) return skip(`${typeText}: only time sources are compared with a TIME target`);
      return ok(`to_char(DATE '2000-01-01' + ${c}, 'DD HH24:MI:SS.US')`, `TO_CHAR(DATE '2000-01-01' + ${c}, 'DD HH24:MI:SS.US')`, false);
    case 'timetz':
      if (!/^time(\(\d\))? with time zone$/.test(st)) return skip(`${typeText}: only timetz sources are compared with a TIMETZ target`);
      return ok(`to_char(DATE '2000-01-01' + ${c}, 'HH24:MI:SS.US')`, `TO_CHAR(DATE '2000-01-01' + ${c}, 'HH24:MI:SS.US')`, false);
    case 'varchar':
      return ok(sourceOutputSql(c, st), c, true);
    case 'char':
      if (st === 'uuid') return ok(sourceOutputSql(c, st), `CAST(${c} AS VARCHAR(64))`, true);
      return ok(`RTRIM(${sourceOutputSql(c, st)})`, `RTRIM(${c})`, true, `the target is ${tt.sql}, which pads with blanks: compared without trailing blanks`);
    case 'super':
      if (st === 'jsonb') {
        const r = ok(compactJsonbSql(c), `CASE WHEN ${c} IS NULL THEN NULL ELSE JSON_SERIALIZE(${c}) END`, false, undefined, true);
        if (r.ok) r.canon.sourceSplit = { inner: `CAST(${c} AS text)`, outer: compactTextSql('{v}') };
        return r;
      }
      if (st === 'json') {
        return skip(`${typeText}: json (unlike jsonb) keeps its text's key order, duplicate keys and number spellings, which SUPER's serialization need not reproduce (make the source column jsonb, or cast it to jsonb in a source view, to have it compared)`);
      }
      return skip(`${typeText}: only jsonb sources are compared with a SUPER target`);
    default:
      return skip(`${typeText}: no canonical text is known for this target type`);
  }
}

export { FLOAT_SOURCE };

/** The two SQL dialects a canonical text is written in (source and target). */
export type Dialect = 'postgres' | 'redshift';

/** The key columns as verify and delete detection use them: canonical text, native text, and how to match it exactly. */
export interface KeyCanon {
  canon: ColumnCanon;
  /** Target type family: `varchar` needs OCTET_LENGTH beside `=` (trailing blanks), integers allow ranges. */
  targetFamily: string;
  /** Source format_type (casts in lookups). */
  sourceType: string;
}

export function canonOf(d: Dialect, col: ColumnCanon): string {
  return d === 'postgres' ? col.source : col.target;
}

/**
 * The integer value of `len` (at most 15) hex digits of an MD5 (hex text `h`) from 1-based
 * `start`: Postgres converts with a bit-string cast, Redshift with STRTOL (r_STRTOL.html).
 * Both are exact, so the two sides agree on every value. Delete detection and verify share it.
 */
export function md5SliceSql(d: Dialect, h: string, start: number, len: number): string {
  if (!Number.isInteger(start) || !Number.isInteger(len) || start < 1 || len < 1 || len > 15 || start + len > 33) throw new Error('md5SliceSql: a slice of 1 to 15 of the 32 hex digits');
  return d === 'postgres' ? `('x' || substr(${h}, ${start}, ${len}))::bit(${4 * len})::bigint` : `STRTOL(SUBSTRING(${h}, ${start}, ${len}), 16)`;
}

/** The key's text for hash buckets: the key columns' canonical texts joined by CHR(31), over the table's columns. */
export function keyTextSql(d: Dialect, key: readonly KeyCanon[]): string {
  const parts = key.map((k) => canonOf(d, k.canon));
  return parts.join(d === 'postgres' ? ' || chr(31) || ' : ' || CHR(31) || ');
}
