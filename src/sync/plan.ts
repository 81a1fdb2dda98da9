import { qualify, quoteIdent, quoteIdents, splitColumnList } from '../sql/quote.js';
import { copyToStdoutSql } from '../redshift/csv.js';
import type { CopyMode, SeenRecord, SourceColumn, TableRow, Watermark } from '../metadata/types.js';
import { ruleLabel, rulesToCheck, selectExpr, type ValueRule } from '../schema/value-rules.js';

/**
 * The extract planner: pure. From a tables row, the source catalog and a watermark it
 * decides which columns, which keyset predicate and order, how many rows and files.
 *
 * COPY (SELECT ...) TO STDOUT takes no bind parameters, so watermark values are never
 * pasted into SQL: the batch first runs `SELECT set_config('redshift_loader.wm', $1, true)`
 * with a JSON array, and the predicate reads it back with a cast to the column's own type.
 */
export class PlanError extends Error {
  override name = 'PlanError';
}

export const WM_SETTING = 'redshift_loader.wm';

export interface TablePlan {
  mode: CopyMode;
  source: { schema: string; name: string };
  target: { schema: string; name: string };
  columns: SourceColumn[];
  primaryKey: string[];
  updatedKey: string | null;
  /** format_type of the updated key (timestamptz, timestamp or date), else null. */
  updatedKeyType: string | null;
  /** Key order of the keyset scan: updated key first (INSERT_AND_UPDATE), then the primary key. */
  keysetColumns: string[];
  rowLimit: number;
  chunkSize: number;
  /**
   * Set per run (INSERT_AND_UPDATE on a table or materialized view): rows the previous run
   * had already read, which this run's scans skip (see `seenFilterSql`).
   */
  seen?: SeenRecord | null;
  /**
   * Set per run from the target's column types and tables.value_policies: the values
   * Redshift cannot hold and what the extract does with them (see value-rules.ts).
   */
  valueRules?: ValueRule[];
}

export interface PlanDefaults {
  rowLimit: number;
  chunkSize: number;
  destinationSchema: string;
}

export function planTable(table: TableRow, columns: SourceColumn[], defaults: PlanDefaults, jobName: string): TablePlan {
  const where = `job "${jobName}", table ${table.sourceSchema}.${table.sourceName}`;
  if (columns.length === 0) throw new PlanError(`${where}: source table not found or has no columns`);
  const byName = new Map(columns.map((c) => [c.name, c]));
  const primaryKey = splitColumnList(table.primaryKey);
  const updatedKey = table.updatedKey?.trim() ? splitColumnList(table.updatedKey)[0]! : null;
  for (const k of primaryKey) {
    if (!byName.has(k)) throw new PlanError(`${where}: primary_key column "${k}" does not exist in the source table`);
  }
  if (updatedKey && !byName.has(updatedKey)) throw new PlanError(`${where}: updated_key column "${updatedKey}" does not exist in the source table`);
  switch (table.copyMode) {
    case 'INSERT_ONLY':
      if (primaryKey.length === 0) throw new PlanError(`${where}: copy_mode INSERT_ONLY needs primary_key`);
      break;
    case 'INSERT_AND_UPDATE':
      if (primaryKey.length === 0) throw new PlanError(`${where}: copy_mode INSERT_AND_UPDATE needs primary_key`);
      if (!updatedKey) throw new PlanError(`${where}: copy_mode INSERT_AND_UPDATE needs updated_key`);
      if (!/^(timestamp|date)/.test(byName.get(updatedKey)!.type)) {
        throw new PlanError(`${where}: updated_key column "${updatedKey}" is ${byName.get(updatedKey)!.type}; it must be a timestamp, timestamptz or date`);
      }
      break;
    case 'FULL_DATA_SYNC':
      break;
    default:
      throw new PlanError(`${where}: unknown copy_mode ${JSON.stringify(table.copyMode)}`);
  }
  const keysetColumns = table.copyMode === 'INSERT_AND_UPDATE' ? [updatedKey!, ...primaryKey] : primaryKey;
  return {
    mode: table.copyMode,
    source: { schema: table.sourceSchema, name: table.sourceName },
    target: { schema: table.destinationSchema ?? defaults.destinationSchema, name: table.destinationName ?? table.sourceName },
    columns,
    primaryKey,
    updatedKey: table.copyMode === 'INSERT_AND_UPDATE' ? updatedKey : null,
    updatedKeyType: table.copyMode === 'INSERT_AND_UPDATE' ? byName.get(updatedKey!)!.type : null,
    keysetColumns,
    rowLimit: table.rowLimit ?? defaults.rowLimit,
    chunkSize: table.chunkSize ?? defaults.chunkSize,
  };
}

/** Reads a stored watermark from a tables row; validates its shape against the key. */
export function watermarkFromRow(table: TableRow, plan: TablePlan, jobName: string): Watermark {
  const where = `job "${jobName}", table ${table.sourceSchema}.${table.sourceName}`;
  if (plan.mode === 'FULL_DATA_SYNC') return { updatedKey: null, primaryKey: null };
  let pk: string[] | null = null;
  const arr = table.maxPrimaryKey;
  if (arr !== null && arr !== undefined) {
    if (arr.length !== plan.primaryKey.length || arr.some((v) => v === null)) {
      throw new PlanError(
        `${where}: max_primary_key ${table.maxPrimaryKeyJson ?? JSON.stringify(arr)} does not match primary_key (${plan.primaryKey.join(', ')}); set it to a JSON array of ${plan.primaryKey.length} string(s) or number(s), or NULL to resync`,
      );
    }
    pk = arr as string[];
  }
  const uk = plan.mode === 'INSERT_AND_UPDATE' ? table.maxUpdatedKey : null;
  return { updatedKey: uk, primaryKey: pk };
}

export interface BatchQuery {
  /** JSON given to set_config(WM_SETTING) before the queries run. */
  settings: string;
  /** Tables without a key: counts the rows (keyed tables use the batch-keys cursor). */
  countSql: string | null;
  /** Tables without a key: the batch's one COPY (keyed tables copy per file: `planFile`). */
  copySql: string | null;
}

/** Per-file bounds of a batch: rows after LO (a watermark) up to and including HI (a key tuple). */
export const LO_SETTING = 'redshift_loader.lo';
export const HI_SETTING = 'redshift_loader.hi';
/** The seen filter's values: [xmin of the previous run, this snapshot's xmax, ...from, ...upTo]. */
export const SEEN_SETTING = 'redshift_loader.seen';
/**
 * Sets the batch's watermark ($1: JSON of the keyset values) and the seen filter's values
 * ($2, `seenSettings`) for the queries that follow.
 */
export const SET_WATERMARK_SQL = `SELECT set_config('${WM_SETTING}', $1, true), set_config('${SEEN_SETTING}', $2, true)`;
/** Sets one file's key bounds ($1, $2: JSON of FileQuery.lo and .hi) and the seen values ($3) before its COPY. */
export const SET_FILE_BOUNDS_SQL = `SELECT set_config('${LO_SETTING}', $1, true), set_config('${HI_SETTING}', $2, true), set_config('${SEEN_SETTING}', $3, true)`;
/** The batch snapshot's xmin and xmax as epoch-extended txids (text). */
export const SNAPSHOT_XIDS_SQL = `SELECT txid_snapshot_xmin(s)::text AS xmin, txid_snapshot_xmax(s)::text AS xmax FROM (SELECT txid_current_snapshot() AS s) x`;

function settingRef(setting: string, i: number, type: string): string {
  return `(current_setting('${setting}')::jsonb ->> ${i})::${type}`;
}

function typeOf(plan: TablePlan, col: string): string {
  return plan.columns.find((c) => c.name === col)!.type;
}

/**
 * The keyset predicate for a batch that starts after `from`.
 * - INSERT_ONLY / FULL_DATA_SYNC: (pk...) > (wm...)
 * - INSERT_AND_UPDATE with a full tuple: (uk, pk...) > (wm...)
 * - INSERT_AND_UPDATE with only a timestamp (after a capped or overlapped start): uk >= wm
 */
export function keysetPredicate(plan: TablePlan, from: Watermark, setting = WM_SETTING): { sql: string | null; values: string[] } {
  const sql = plan.keysetColumns.length === 0 ? null : fromPredicate(plan, from, setting, 0);
  return sql === null ? { sql: null, values: [] } : { sql, values: fromValues(from) };
}

/** `(keyset...) OP (setting values...)`, each value cast to its column's type. */
function tupleCompare(plan: TablePlan, op: '>' | '<=', setting: string, offset = 0): string {
  const cols = plan.keysetColumns;
  return `(${quoteIdents(cols)}) ${op} (${cols.map((c, i) => settingRef(setting, offset + i, typeOf(plan, c))).join(', ')})`;
}

/** The values a `from` watermark contributes to a predicate, in keyset order. */
function fromValues(from: Watermark): string[] {
  if (from.updatedKey === null && from.primaryKey === null) return [];
  if (from.primaryKey === null) return [from.updatedKey!];
  return from.updatedKey === null ? from.primaryKey : [from.updatedKey, ...from.primaryKey];
}

/** `from`'s predicate reading its values from `setting` at `offset` (null: from the start). See `keysetPredicate`. */
function fromPredicate(plan: TablePlan, from: Watermark, setting: string, offset: number): string | null {
  if (plan.mode === 'INSERT_AND_UPDATE') {
    if (from.updatedKey === null) return null;
    if (from.primaryKey === null) return `${quoteIdent(plan.updatedKey!)} >= ${settingRef(setting, offset, typeOf(plan, plan.updatedKey!))}`;
    return tupleCompare(plan, '>', setting, offset);
  }
  return from.primaryKey === null ? null : tupleCompare(plan, '>', setting, offset);
}

const TWO_32 = 4294967296;

/**
 * The row's inserting transaction id (xmin, 32 bits) extended with its epoch, relative to
 * `ref`, the current snapshot's xmax: the unique value below `ref` with those low 32 bits.
 * Every unfrozen row we can see was inserted below `ref` and within 2^31 of it, so this is
 * exact for them; a frozen row's raw xmin may map anywhere below `ref`, which can only make
 * it look newer (re-read, never skipped wrongly), since frozen rows are old.
 */
export function xmin8Sql(ref: string): string {
  return `(${ref} - ((((${ref}) % ${TWO_32}) - xmin::text::bigint + ${TWO_32 - 1}) % ${TWO_32} + 1))`;
}

/**
 * The seen filter: skip the rows the previous run had already read. A current row version
 * whose key lies in the previous run's range [from, upTo] and whose xmin is below the xmin
 * of that run's first snapshot was committed before that snapshot was taken, so every batch
 * of that run saw it (the batches' snapshots came later), and the batch whose key range
 * held it extracted it. Only the snapshot's xmin is trusted: a subtransaction's id is not
 * listed in a snapshot, so "not in xip" would not mean "committed".
 */
export function seenFilterSql(plan: TablePlan, setting = SEEN_SETTING): string | null {
  const seen = plan.seen;
  if (!seen) return null;
  const from = fromPredicate(plan, seen.from, setting, 2);
  const upTo = tupleCompare(plan, '<=', setting, 2 + fromValues(seen.from).length);
  const ref = `(current_setting('${setting}')::jsonb ->> 1)::bigint`;
  const old = `${xmin8Sql(ref)} < (current_setting('${setting}')::jsonb ->> 0)::bigint`;
  return `NOT (${[from, upTo, old].filter((c): c is string => c !== null).join(' AND ')})`;
}

/** The JSON for SEEN_SETTING given this batch's snapshot xmax (`[]` when there is no filter). */
export function seenSettings(plan: TablePlan, snapshotXmax: string | null): string {
  const seen = plan.seen;
  if (!seen) return '[]';
  if (snapshotXmax === null) throw new Error('seenSettings: the seen filter needs the snapshot xmax');
  return JSON.stringify([seen.xmin, snapshotXmax, ...fromValues(seen.from), ...seen.upTo]);
}

export const OVERLAP_SETTING = 'redshift_loader.overlap';
/** Sets `overlapCountSql`'s values ($1: `overlapCountSettings`). */
export const SET_OVERLAP_SQL = `SELECT set_config('${OVERLAP_SETTING}', $1, true)`;

/**
 * The overlap window of a run: the rows after `from` (the run's start) up to the stored
 * watermark `stored`, which an earlier run had loaded unless they changed since. Counted in
 * the run's first snapshot so logs and sync_runs can tell re-read rows from changed ones:
 * `n` rows of the window will be read (the seen filter applied), of which `loaded` are
 * older than the previous run's first snapshot (only meaningful with a seen filter; without
 * one, all `n` count as re-read). Reads OVERLAP_SETTING as [...from, ...stored] and the
 * seen values from SEEN_SETTING.
 */
export function overlapCountSql(plan: TablePlan, from: Watermark, stored: Watermark): string {
  const src = qualify(plan.source.schema, plan.source.name);
  const lower = fromPredicate(plan, from, OVERLAP_SETTING, 0);
  const off = fromValues(from).length;
  // A capped watermark (no key part) means "updated_key >= cap": rows before the cap were loaded.
  const upper =
    stored.primaryKey === null
      ? `${quoteIdent(plan.updatedKey!)} < ${settingRef(OVERLAP_SETTING, off, typeOf(plan, plan.updatedKey!))}`
      : tupleCompare(plan, '<=', OVERLAP_SETTING, off);
  const conds = [lower, upper, seenFilterSql(plan)].filter(Boolean).join(' AND ');
  const loaded = plan.seen
    ? `count(*) FILTER (WHERE ${xmin8Sql(`(current_setting('${SEEN_SETTING}')::jsonb ->> 1)::bigint`)} < (current_setting('${SEEN_SETTING}')::jsonb ->> 0)::bigint)`
    : 'count(*)';
  return `SELECT count(*)::bigint AS n, ${loaded}::bigint AS loaded FROM ${src} WHERE ${conds}`;
}

export function overlapCountSettings(from: Watermark, stored: Watermark): string {
  return JSON.stringify([...fromValues(from), ...fromValues(stored)]);
}

/** A keyset tuple (text values, keyset order) as a watermark. */
export function tupleToWatermark(plan: TablePlan, values: string[]): Watermark {
  return plan.mode === 'INSERT_AND_UPDATE' ? { updatedKey: values[0]!, primaryKey: values.slice(1) } : { updatedKey: null, primaryKey: values };
}

export interface FileQuery {
  /** JSON for set_config(LO_SETTING) and set_config(HI_SETTING). */
  lo: string;
  hi: string;
  copySql: string;
}

/** The conditions of a keyed scan after `from` (the keyset predicate, then the seen filter). */
function scanConditions(plan: TablePlan, from: Watermark, setting: string): string[] {
  const pred = keysetPredicate(plan, from, setting);
  return [pred.sql, seenFilterSql(plan)].filter((c): c is string => c !== null);
}

/**
 * One file of a keyed batch: the rows after `lo` up to and including the key tuple `hi`,
 * in the batch's snapshot. Postgres cuts the files, so nothing scans the CSV, every file
 * holds exactly the rows between two split keys, and COPY reports each file's row count.
 */
export function planFile(plan: TablePlan, lo: Watermark, hi: string[]): FileQuery {
  const src = qualify(plan.source.schema, plan.source.name);
  const conds = [...scanConditions(plan, lo, LO_SETTING), tupleCompare(plan, '<=', HI_SETTING)];
  const copySql = copyToStdoutSql(`SELECT ${selectList(plan)}\nFROM ${src}\nWHERE ${conds.join('\n  AND ')}`);
  return { lo: JSON.stringify(keysetPredicate(plan, lo).values), hi: JSON.stringify(hi), copySql };
}

/**
 * One scan of a keyed batch's keys (index order, at most row_limit of them) that returns
 * every `$1`-th key (a file boundary) and the batch's last key, each with its row number:
 * the last row's number is the batch's size. See `batchKeysFromRows`.
 */
export function batchKeysSql(plan: TablePlan, from: Watermark): string {
  const src = qualify(plan.source.schema, plan.source.name);
  const conds = scanConditions(plan, from, WM_SETTING);
  const ks = quoteIdents(plan.keysetColumns);
  const where = conds.length ? `\nWHERE ${conds.join(' AND ')}` : '';
  const cols = plan.keysetColumns.map((c, i) => `${quoteIdent(c)}::text AS k${i}`).join(', ');
  return (
    `SELECT ${cols}, rn, is_last FROM (\n` +
    `  SELECT ${ks}, row_number() OVER w AS rn, lead(true, 1, false) OVER w IS FALSE AS is_last\n` +
    `  FROM (SELECT ${ks} FROM ${src}${where}\n  ORDER BY ${ks}\n  LIMIT ${plan.rowLimit}) b\n` +
    `  WINDOW w AS (ORDER BY ${ks})\n` +
    `) r\nWHERE rn % $1 = 0 OR is_last ORDER BY rn`
  );
}

/** The cursor over a keyed batch's keys that `batchKeysStepSql` steps through. */
export const BATCH_KEYS_CURSOR = 'rl_batch_keys';

/**
 * The keys of a keyed batch in keyset order (at most row_limit of them), as a cursor. The
 * fetched keys are read in text form (no per-row cast, so MOVE skips keys at the speed
 * of the scan); columns are k0, k1, ... as in `batchKeysSql`.
 */
export function declareBatchKeysSql(plan: TablePlan, from: Watermark): string {
  const src = qualify(plan.source.schema, plan.source.name);
  const conds = scanConditions(plan, from, WM_SETTING);
  const ks = quoteIdents(plan.keysetColumns);
  const cols = plan.keysetColumns.map((c, i) => `${quoteIdent(c)} AS k${i}`).join(', ');
  const where = conds.length ? `\nWHERE ${conds.join(' AND ')}` : '';
  return `DECLARE ${BATCH_KEYS_CURSOR} NO SCROLL CURSOR FOR\nSELECT ${cols} FROM ${src}${where}\nORDER BY ${ks}\nLIMIT ${plan.rowLimit}`;
}

/**
 * One step of the cursor: skips `rows - 1` keys on the server and returns the next one,
 * i.e. the key `rows` further on. MOVE's count and the fetched row tell how many keys were
 * passed; fewer than `rows` means the batch ended inside the step.
 */
export function batchKeysStepSql(rows: number): string {
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`batchKeysStepSql: rows must be a positive integer, got ${rows}`);
  const fetch = `FETCH FORWARD 1 FROM ${BATCH_KEYS_CURSOR}`;
  return rows === 1 ? fetch : `MOVE FORWARD ${rows - 1} IN ${BATCH_KEYS_CURSOR}; ${fetch}`;
}

export const CLOSE_BATCH_KEYS_SQL = `CLOSE ${BATCH_KEYS_CURSOR}`;

/**
 * The key positions (1-based row numbers in keyset order) that end the files of a full
 * batch: every perFile-th row, and the row_limit-th last.
 */
export function fullBatchFileEnds(rowLimit: number, chunkSize: number, slices: number): number[] {
  const per = batchRowsPerFile(rowLimit, chunkSize, slices);
  const ends: number[] = [];
  for (let p = per; p < rowLimit; p += per) ends.push(p);
  ends.push(rowLimit);
  return ends;
}

/**
 * A short batch (fewer rows than row_limit): `dispatched` files already cover its first
 * rows; how many files the rest is cut into, so that the whole batch has at least the
 * files its size needs (`fileCount`) and a multiple of the slice count.
 */
export function remainderFileCount(rows: number, dispatched: number, chunkSize: number, slices: number): number {
  const total = Math.max(Math.ceil((dispatched + 1) / slices) * slices, fileCount(rows, chunkSize, slices));
  return total - dispatched;
}

export interface BatchKeys {
  /** Rows in the batch (0: nothing after the watermark). */
  rows: number;
  /** The batch's last key tuple (text values, keyset order); empty when rows is 0. */
  last: string[];
  /** The key tuples that end each file but the last. */
  splits: string[][];
}

/**
 * A key column holds NULL in a row the keyset scan reached: keyset order cannot place it
 * (NULLs sort last, and no `>` comparison ever passes them), so the batch stops here.
 */
export class NullKeyError extends Error {
  override name = 'NullKeyError';
  constructor(readonly column: string) {
    super(`key column "${column}" is NULL in a source row`);
  }
}

/** A fetched key row (k0, k1, ...) as a keyset tuple; NullKeyError on a NULL. */
export function keyTuple(plan: TablePlan, row: Record<string, unknown>): string[] {
  return plan.keysetColumns.map((c, i) => {
    const v = row[`k${i}`];
    if (v === null || v === undefined) throw new NullKeyError(c);
    return String(v);
  });
}

/** Reads `batchKeysSql`'s result. */
export function batchKeysFromRows(plan: TablePlan, rows: ReadonlyArray<Record<string, unknown>>): BatchKeys {
  const tuple = (r: Record<string, unknown>) => keyTuple(plan, r);
  const lastRow = rows.find((r) => r.is_last === true);
  if (!lastRow) return { rows: 0, last: [], splits: [] };
  return { rows: Number(lastRow.rn), last: tuple(lastRow), splits: rows.filter((r) => r.is_last !== true).map(tuple) };
}

function selectList(plan: TablePlan): string {
  return plan.columns.map((c) => selectExpr(c.name, plan.valueRules ?? [])).join(', ');
}

/**
 * Counts, in the batch's snapshot, the rows of one batch that each checked value rule is
 * about (`rulesToCheck`): the rows after LO up to and including HI (the batch's first
 * and last keys, as for its files), or the whole table when it has no key. Columns are
 * r0, r1, ... in the order of `rulesToCheck(plan.valueRules)`. Null: nothing to check.
 */
export function valueCheckSql(plan: TablePlan, from: Watermark): string | null {
  const rules = rulesToCheck(plan.valueRules ?? []);
  if (rules.length === 0) return null;
  const counts = rules.map((r, i) => `count(*) FILTER (WHERE ${r.cond})::bigint AS r${i}`).join(',\n  ');
  return `SELECT ${counts}\nFROM ${qualify(plan.source.schema, plan.source.name)}${batchWhere(plan, from)}`;
}

/** One row a value rule is about, in the batch (see valueCheckSql): its key and the value as text. */
export function valueExampleSql(plan: TablePlan, from: Watermark, rule: ValueRule): string {
  const key = plan.primaryKey.map((c, i) => `${quoteIdent(c)}::text AS k${i}`);
  const cond = batchWhere(plan, from);
  return `SELECT ${[...key, `${quoteIdent(rule.column)}::text AS v`].join(', ')}\nFROM ${qualify(plan.source.schema, plan.source.name)}${cond ? `${cond}\n  AND` : '\nWHERE'} ${rule.cond}\nLIMIT 1`;
}

/** The batch's rows as a WHERE clause (empty for a table without a key: all of it). */
function batchWhere(plan: TablePlan, from: Watermark): string {
  if (plan.keysetColumns.length === 0) return '';
  const conds = [...scanConditions(plan, from, LO_SETTING), tupleCompare(plan, '<=', HI_SETTING)];
  return `\nWHERE ${conds.join('\n  AND ')}`;
}

/** Reads valueCheckSql's row as {label: count} for the rules whose count is not zero. */
export function valueCounts(plan: TablePlan, row: Record<string, unknown>): Array<{ rule: ValueRule; label: string; count: number }> {
  return rulesToCheck(plan.valueRules ?? [])
    .map((rule, i) => ({ rule, label: ruleLabel(rule), count: Number(row[`r${i}`] ?? 0) }))
    .filter((c) => c.count > 0);
}

export function planBatch(plan: TablePlan, from: Watermark): BatchQuery {
  const pred = keysetPredicate(plan, from);
  if (plan.keysetColumns.length > 0) return { settings: JSON.stringify(pred.values), countSql: null, copySql: null };
  const src = qualify(plan.source.schema, plan.source.name);
  return { settings: '[]', countSql: `SELECT count(*)::bigint AS n FROM ${src}`, copySql: copyToStdoutSql(`SELECT ${selectList(plan)}\nFROM ${src}`) };
}

/**
 * The oldest start time among transactions open on the source database, read inside the
 * batch's snapshot. No transaction still open can have written an updated_key older than
 * this (with updated_key = now() or clock_timestamp()), so the stored watermark never
 * passes it. `hidden` counts sessions whose details the source user may not see (grant
 * pg_read_all_stats), in which case only the overlap window protects late commits.
 */
export const OPEN_TRANSACTIONS_SQL = `SELECT
  (SELECT min(xact_start) FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend' AND xact_start IS NOT NULL)::text AS oldest_xact_start,
  (SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend' AND query = '<insufficient privilege>')::int AS hidden,
  now()::text AS snapshot_time`;

/** Rows whose key `column` is NULL (at most `limit`), with the keyset's columns as text. */
export function nullKeySql(plan: TablePlan, column: string, limit: number): string {
  const cols = plan.keysetColumns.map((c) => `${quoteIdent(c)}::text AS ${quoteIdent(c)}`).join(', ');
  return `SELECT ${cols} FROM ${qualify(plan.source.schema, plan.source.name)} WHERE ${quoteIdent(column)} IS NULL LIMIT ${Math.floor(limit)}`;
}

/** How an updated key's values relate to instants: timestamptz is one; timestamp and date are wall-clock values in the writers' zone. */
export function isWallClockType(type: string | null): boolean {
  return type !== null && !/with time zone$/.test(type);
}

/**
 * The open-transaction cap in the updated key's own time base, and whether the batch's
 * last updated key reached it: `cap` is the oldest open transaction's start (an instant),
 * `zone` the writers' time zone (for timestamp and date columns). A `timestamp` column
 * written with now() in a New York session holds New York wall time, so the cap is that
 * instant as New York wall time, not as UTC.
 */
export function capQuery(plan: TablePlan, cap: string, zone: string | null, lastUpdatedKey: string): { text: string; values: string[] } {
  const t = plan.updatedKeyType!;
  if (!isWallClockType(t)) return { text: `SELECT c::text AS cap, $2::${t} >= c AS reached FROM (SELECT $1::timestamptz AS c) x`, values: [cap, lastUpdatedKey] };
  return { text: `SELECT c::text AS cap, $2::${t} >= c AS reached FROM (SELECT ($1::timestamptz AT TIME ZONE $3::text)::${t} AS c) x`, values: [cap, lastUpdatedKey, zone ?? 'UTC'] };
}

/** Files per batch: about chunkSize rows each, rounded up to a multiple of the slice count. */
export function fileCount(rows: number, chunkSize: number, slices: number): number {
  if (rows <= 0) return 0;
  const files = Math.ceil(rows / chunkSize);
  return Math.ceil(files / slices) * slices;
}

/** Rows per file so `files` files come out roughly equal. */
export function rowsPerFile(rows: number, files: number): number {
  return files <= 0 ? rows : Math.max(1, Math.ceil(rows / files));
}

/** Rows per file of a batch of `rows`: about chunkSize each, the file count a multiple of the slices. */
export function batchRowsPerFile(rows: number, chunkSize: number, slices: number): number {
  return rowsPerFile(rows, fileCount(rows, chunkSize, slices));
}

/**
 * The watermark to store after a batch: the batch's last key, but for INSERT_AND_UPDATE
 * never past the oldest open transaction's start (then stored as `uk >= cap`, re-read next
 * run; the merge removes the duplicates).
 */
export function durableWatermark(plan: TablePlan, last: Watermark, cap: string | null, lastAtOrAfterCap: boolean): Watermark {
  if (plan.mode !== 'INSERT_AND_UPDATE' || cap === null || last.updatedKey === null || !lastAtOrAfterCap) return last;
  return { updatedKey: cap, primaryKey: null };
}
