import { keyParamMatch, type KeyColumn } from '../redshift/sql.js';
import { qualify, quoteIdent } from '../sql/quote.js';
import { canonOf, keyTextSql, md5SliceSql, type ColumnCanon, type Dialect, type KeyCanon } from '../schema/canonical.js';

export { keyTextSql, md5SliceSql, type Dialect, type KeyCanon };

/**
 * The SQL verify runs on each side, built from the canonical column forms (canonical.ts).
 * Pure: the same inputs always give the same text (snapshot-tested in test/verify/sql.test.ts).
 *
 * Row text: one piece per compared column, joined by CHR(31):
 * - a value whose canonical text has a fixed shape (numbers, dates, booleans): the text, or
 *   `N` for NULL (no such text is `N`);
 * - a SUPER value: the MD5 of its compact JSON text, or `N` (JSON_SERIALIZE runs once per row);
 * - arbitrary text (VARCHAR, CHAR, SUPER): its byte length, CHR(31), then the text itself, or
 *   its MD5 when it is longer than `longValueBytes` (so a row never exceeds Redshift's 65535-byte
 *   strings); NULL is `N` and an empty remainder. The length prefix makes the row text
 *   unambiguous whatever bytes the values hold; MD5 and OCTET_LENGTH see trailing blanks.
 *
 * Row hash: MD5 of the row text. A range's summary is its row count and the sum of the first
 * 15 hex digits of each row's MD5 as an integer: Postgres converts them with a bit-string
 * cast, Redshift with STRTOL(..., 16) (r_STRTOL.html), both exact, and the sum is a DECIMAL on
 * Redshift (SUM of BIGINT would overflow). Order-independent, so each side scans in its own
 * order; 60 bits per range make a false match a chance of about 1 in 10^18.
 */


export interface RowShape {
  columns: ColumnCanon[];
  key: KeyCanon[];
  longValueBytes: number;
}

const cref = (i: number) => `c${i}`;

/** The canonical value of a column over the table's own column (a complete expression). */

/** What the fenced inner query computes for a column (Postgres may split the canonical value in two steps). */
function innerOf(d: Dialect, col: ColumnCanon): string {
  return d === 'postgres' && col.sourceSplit ? col.sourceSplit.inner : canonOf(d, col);
}

/** The canonical value over the inner query's alias. */
function outerOf(d: Dialect, col: ColumnCanon, alias: string): string {
  return d === 'postgres' && col.sourceSplit ? col.sourceSplit.outer.replaceAll('{v}', alias) : alias;
}

/** One column's piece of the row text, over its canonical value `v` (an alias). */
export function pieceSql(d: Dialect, col: ColumnCanon, v: string, longValueBytes: number): string {
  if (col.hashed) return d === 'postgres' ? `COALESCE(md5(${v}), 'N')` : `COALESCE(MD5(${v}), 'N')`;
  if (!col.stringLike) return d === 'postgres' && col.notNull ? v : `COALESCE(${v}, 'N')`;
  const short = `CASE WHEN OCTET_LENGTH(${v}) <= ${longValueBytes} THEN ${v} ELSE MD5(${v}) END`;
  if (d === 'postgres') {
    return col.notNull ? `octet_length(${v})::text || chr(31) || ${short}` : `COALESCE(octet_length(${v})::text || chr(31) || ${short}, 'N' || chr(31))`;
  }
  return `COALESCE(CAST(OCTET_LENGTH(${v}) AS VARCHAR(20)) || CHR(31) || ${short}, 'N' || CHR(31))`;
}

/** The row text over the aliases c0..cn of the inner query. */
export function rowTextSql(d: Dialect, shape: RowShape): string {
  if (d === 'postgres') {
    // concat_ws joins every part with CHR(31) in one pass: a text piece's length and value are
    // two of its arguments (NULL: 'N' and ''), which gives the same text as Redshift's piece.
    const args = shape.columns.flatMap((c, i) => {
      const v = outerOf(d, c, cref(i));
      if (!c.stringLike || c.hashed) return [pieceSql(d, c, v, shape.longValueBytes)];
      const value = `CASE WHEN octet_length(${v}) <= ${shape.longValueBytes} THEN ${v} ELSE md5(${v}) END`;
      return c.notNull ? [`octet_length(${v})`, value] : [`COALESCE(octet_length(${v})::text, 'N')`, `COALESCE(${value}, '')`];
    });
    return `concat_ws(chr(31), ${args.join(', ')})`;
  }
  return shape.columns.map((c, i) => pieceSql(d, c, outerOf(d, c, cref(i)), shape.longValueBytes)).join(' || CHR(31) || ');
}


/** The integer value of hex digits 1..15 of an MD5 (hex text `h`). */
export function md5NumberSql(d: Dialect, h: string): string {
  return md5SliceSql(d, h, 1, 15);
}

function sumSql(d: Dialect, n: string): string {
  return d === 'postgres' ? `sum(${n})::text` : `CAST(SUM(CAST(${n} AS DECIMAL(38,0))) AS VARCHAR(64))`;
}


/**
 * How the key space is cut:
 * - `range`: the first key column is an integer on both sides; a range of width w (a power of
 *   two) holds the keys floor(k / w) (Postgres and Redshift divide integers alike). Ranges
 *   are contiguous in key order, so narrowing them reads an index range at the source.
 * - `hash`: any other key: the first `digits` hex digits of MD5(key text). Key order plays no
 *   part, so collations and Redshift's trailing-blank rules cannot move a key between ranges.
 * - `whole`: no usable key: one summary of the whole table.
 */
export type Cut = { kind: 'range'; width: bigint } | { kind: 'hash'; digits: number } | { kind: 'whole' };

export const MIN_BIGINT = -(2n ** 63n);
export const MAX_BIGINT = 2n ** 63n - 1n;

/** Which ranges a query reads: all, integer intervals (inclusive; MIN_BIGINT / MAX_BIGINT leave an end open), or hash prefixes. */
export type Restriction =
  | { kind: 'all' }
  /**
   * Key intervals. When they are whole ranges of one width (`buckets`), Redshift reads them as
   * one IN list over the range number: a hash lookup per row, where many ORed BETWEENs cost a
   * comparison each (Redshift has no index; the source reads the intervals through its index).
   */
  | { kind: 'intervals'; intervals: Array<[bigint, bigint]>; buckets?: { width: bigint; list: bigint[] } }
  | { kind: 'prefixes'; digits: number; prefixes: string[] };

function rawFirstKey(shape: RowShape): string {
  return quoteIdent(shape.key[0]!.canon.name);
}

export function bucketSql(d: Dialect, shape: RowShape, cut: Cut): string {
  switch (cut.kind) {
    case 'whole':
      return `0`;
    case 'range': {
      const k = rawFirstKey(shape);
      const w = cut.width.toString();
      return `CASE WHEN ${k} >= 0 THEN ${k} / ${w} ELSE -1 - (-1 - ${k}) / ${w} END`;
    }
    case 'hash':
      if (cut.digits === 0) return `''`;
      return d === 'postgres' ? `substr(md5(${keyTextSql(d, shape.key)}), 1, ${cut.digits})` : `SUBSTRING(MD5(${keyTextSql(d, shape.key)}), 1, ${cut.digits})`;
  }
}

const HEX = /^[0-9a-f]*$/;

export function restrictionSql(d: Dialect, shape: RowShape, r: Restriction): string | null {
  switch (r.kind) {
    case 'all':
      return null;
    case 'intervals': {
      const k = rawFirstKey(shape);
      if (r.intervals.length === 0) return 'FALSE';
      if (d === 'redshift' && r.buckets && r.buckets.list.length > 1) {
        return `${bucketSql(d, shape, { kind: 'range', width: r.buckets.width })} IN (${r.buckets.list.map(String).join(', ')})`;
      }
      const one = ([lo, hi]: [bigint, bigint]) => {
        if (lo === hi) return `${k} = ${lo}`;
        if (lo <= MIN_BIGINT && hi >= MAX_BIGINT) return 'TRUE';
        if (lo <= MIN_BIGINT) return `${k} <= ${hi}`;
        if (hi >= MAX_BIGINT) return `${k} >= ${lo}`;
        return `${k} BETWEEN ${lo} AND ${hi}`;
      };
      return `(${r.intervals.map(one).join(' OR ')})`;
    }
    case 'prefixes': {
      if (r.prefixes.some((p) => !HEX.test(p) || p.length !== r.digits)) throw new Error('restrictionSql: bad hash prefix');
      if (r.prefixes.length === 0) return 'FALSE';
      if (r.digits === 0) return null;
      const b = bucketSql(d, shape, { kind: 'hash', digits: r.digits });
      return `${b} IN (${r.prefixes.map((p) => `'${p}'`).join(', ')})`;
    }
  }
}

/** A side's row filter (the live-table rule), as SQL over the table's columns, or null. */
export interface SideFilter {
  sql: string | null;
}

function whereSql(conds: Array<string | null>): string {
  const c = conds.filter((x): x is string => x !== null);
  return c.length ? `\nWHERE ${c.join('\n  AND ')}` : '';
}

/**
 * Per range: row count and hash sum. `bucket` is text on both sides (range numbers as
 * digits, hash prefixes as hex).
 */
export function summarySql(d: Dialect, table: { schema: string; name: string }, shape: RowShape, cut: Cut, restriction: Restriction, filter: string | null): string {
  const t = qualify(table.schema, table.name);
  const canon = shape.columns.map((c, i) => `${innerOf(d, c)} AS ${cref(i)}`);
  const b = bucketSql(d, shape, cut);
  const where = whereSql([filter, restrictionSql(d, shape, restriction)]);
  // Range numbers are grouped as integers and turned into text once per range.
  if (d === 'postgres') {
    // OFFSET 0 keeps the canonical values computed once each (the subquery is not flattened into the expressions that read them twice).
    return [
      `SELECT b::text AS b, count(*) AS n, ${sumSql(d, md5NumberSql(d, 'h'))} AS s FROM (`,
      `  SELECT b, md5(${rowTextSql(d, shape)}) AS h FROM (`,
      `    SELECT ${b} AS b, ${canon.join(', ')}`,
      `    FROM ${t}${where.replace(/\n/g, '\n    ')}`,
      `    OFFSET 0) x) y`,
      `GROUP BY b`,
    ].join('\n');
  }
  return [
    `SELECT CAST(b AS VARCHAR(32)) AS b, COUNT(*) AS n, ${sumSql(d, md5NumberSql(d, 'h'))} AS s FROM (`,
    `  SELECT b, MD5(${rowTextSql(d, shape)}) AS h FROM (`,
    `    SELECT ${b} AS b, ${canon.join(', ')}`,
    `    FROM ${t}${where.replace(/\n/g, '\n    ')}) x) y`,
    `GROUP BY b`,
  ].join('\n');
}

/** Native text of a key column: what lookups cast back to the column's type. */
function nativeKeySql(d: Dialect, k: KeyCanon): string {
  const c = quoteIdent(k.canon.name);
  return d === 'postgres' ? `concat(${c})` : `CAST(${c} AS VARCHAR(65535))`;
}

/**
 * Every row of the given ranges: its bucket, the key's canonical texts (k0..), the key's
 * native texts (n0..) and a 16-hex-digit hash of each compared column's piece (h0..): enough
 * to match rows by key exactly and name the columns that differ, without moving values.
 */
export function leafSql(d: Dialect, table: { schema: string; name: string }, shape: RowShape, cut: Cut, restriction: Restriction, filter: string | null): string {
  const t = qualify(table.schema, table.name);
  const b = bucketSql(d, shape, cut);
  const keyIdx = shape.key.map((k) => shape.columns.findIndex((c) => c.name === k.canon.name));
  if (keyIdx.some((i) => i < 0)) throw new Error('leafSql: every key column must be a compared column');
  const inner = [
    d === 'postgres' ? `(${b})::text AS b` : `CAST(${b} AS VARCHAR(32)) AS b`,
    ...shape.columns.map((c, i) => `${innerOf(d, c)} AS ${cref(i)}`),
    ...shape.key.map((k, j) => `${nativeKeySql(d, k)} AS n${j}`),
  ];
  const md5 = d === 'postgres' ? 'md5' : 'MD5';
  const sub = d === 'postgres' ? 'substr' : 'SUBSTRING';
  const outer = [
    'b',
    ...keyIdx.map((i, j) => `${cref(i)} AS k${j}`),
    ...shape.key.map((_, j) => `n${j}`),
    ...shape.columns.map((c, i) => `${sub}(${md5}(${pieceSql(d, c, outerOf(d, c, cref(i)), shape.longValueBytes)}), 1, 16) AS h${i}`),
  ];
  const where = whereSql([filter, restrictionSql(d, shape, restriction)]);
  return [
    `SELECT ${outer.join(', ')} FROM (`,
    `  SELECT ${inner.join(', ')}`,
    `  FROM ${t}${where.replace(/\n/g, '\n  ')}${d === 'postgres' ? '\n  OFFSET 0' : ''}) x`,
  ].join('\n');
}

/** Rows the filter leaves out (changed after the watermark), counted. */
export function excludedCountSql(d: Dialect, table: { schema: string; name: string }, filter: string): string {
  return `SELECT ${d === 'postgres' ? 'count(*)::text' : 'CAST(COUNT(*) AS VARCHAR(32))'} AS n FROM ${qualify(table.schema, table.name)} WHERE NOT (${filter})`;
}

/** Range mode: the source's key span and row estimate under the filter. */
export function keySpanSql(table: { schema: string; name: string }, key: string, filter: string | null): string {
  const k = quoteIdent(key);
  return `SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${qualify(table.schema, table.name)}${filter ? ` WHERE ${filter}` : ''}`;
}

/** The planner's row estimate of a source table (-1 when never analyzed; views have none). */
export const ROW_ESTIMATE_SQL = `SELECT c.reltuples::bigint::text AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`;

/**
 * Source keys (native texts, $1..$n one text[] per key column) that the source's filter
 * leaves out, i.e. that exist there with a change after the watermark: index of each
 * such key in the arrays. Cast back to each column's own type, so no text is compared.
 */
export function sourceKeysLeftOutSql(table: { schema: string; name: string }, key: readonly KeyCanon[], filter: string, firstParam = 1): string {
  const arrays = key.map((_, i) => `$${firstParam + i}::text[]`).join(', ');
  const names = key.map((_, i) => `k${i}`).join(', ');
  const cond = key.map((k, i) => `s.${quoteIdent(k.canon.name)} = u.k${i}::${k.sourceType}`).join(' AND ');
  // The filter's unqualified column names resolve to s, the innermost query level.
  return `SELECT u.i::int AS i FROM unnest(${arrays}) WITH ORDINALITY AS u(${names}, i) WHERE EXISTS (SELECT 1 FROM ${qualify(table.schema, table.name)} s WHERE ${cond} AND NOT (${filter}))`;
}

/** Exact match of the target's key columns against parameters from `firstParam` (src/redshift/sql.ts). */
export function targetKeyMatchSql(key: readonly KeyCanon[], firstParam: number, alias?: string): string {
  return keyParamMatch(exactKeyColumns(key), firstParam, alias);
}

/** The target's key columns, character ones matched on their byte length too (KeyColumn). */
export function exactKeyColumns(key: readonly KeyCanon[]): KeyColumn[] {
  return key.map((k) => ({ name: k.canon.name, text: k.targetFamily === 'varchar' || k.targetFamily === 'char' }));
}

/**
 * Which of `count` key tuples (native texts as parameters from `firstParam`) the target holds
 * with a row its filter leaves out: the 1-based index of each such tuple.
 */
export function targetKeysLeftOutSql(table: { schema: string; name: string }, key: readonly KeyCanon[], count: number, filter: string, firstParam = 1): string {
  const tuples: string[] = [];
  for (let r = 0; r < count; r++) tuples.push(`(${targetKeyMatchSql(key, firstParam + r * key.length)})`);
  const which = tuples.map((m, r) => `WHEN ${m} THEN ${r + 1}`).join(' ');
  return `SELECT i FROM (SELECT CASE ${which} END AS i FROM ${qualify(table.schema, table.name)} WHERE NOT (${filter})) x WHERE i IS NOT NULL`;
}

export const REPAIR_KEYS_SETTING = 'redshift_loader.repair_keys';
/** Sets the keys one repair file extracts ($1: JSON array of key tuples, native texts). */
export const SET_REPAIR_KEYS_SQL = `SELECT set_config('${REPAIR_KEYS_SETTING}', $1, true)`;

/**
 * The rows of a repair file at the source: COPY takes no parameters, so the keys are read
 * from REPAIR_KEYS_SETTING and cast to each key column's own type (no text is compared).
 */
export function repairSelectSql(table: { schema: string; name: string }, columns: readonly string[], key: readonly KeyCanon[]): string {
  const cols = columns.map(quoteIdent).join(', ');
  const keyCols = key.map((k) => quoteIdent(k.canon.name)).join(', ');
  const casts = key.map((k, i) => `(rl_keys.k ->> ${i})::${k.sourceType}`).join(', ');
  const lhs = key.length === 1 ? keyCols : `(${keyCols})`;
  return `SELECT ${cols}\nFROM ${qualify(table.schema, table.name)}\nWHERE ${lhs} IN (SELECT ${casts} FROM jsonb_array_elements(current_setting('${REPAIR_KEYS_SETTING}')::jsonb) AS rl_keys(k))`;
}
