import { quoteIdent, quoteIdents } from '../sql/quote.js';
import { batchOf, withWrites, type Batch } from './batch.js';
import { relationSql, type Relation } from './names.js';
import { createTableSql, ownerAndGrantsSql, type DistStyle, type SortKeyType, type TableDef } from './reflect.js';

/**
 * Deep copy: the way to re-sort a table, change its keys or encodings, or drop duplicate
 * rows. In one transaction: LOCK, rename the table to an outgoing name, recreate it from
 * its reflected DDL (with the requested changes), restore owner and grants, INSERT ...
 * SELECT from the outgoing table, drop it, ANALYZE. Readers see the old table until COMMIT.
 */
export interface DeepCopyOptions {
  distkey?: string;
  diststyle?: DistStyle;
  sortkey?: string[];
  sortkeyType?: SortKeyType;
  /** Column -> ENCODE, applied over the reflected encodings. */
  encodings?: Record<string, string>;
  /** SELECT DISTINCT: drop rows identical in every column. */
  distinct?: boolean;
  /** Keep one row per value of these columns: the first by `orderBy`. */
  dedupeBy?: string[];
  /** SQL expression ordering each dedupe partition, e.g. `updated_at DESC` (required with dedupeBy). */
  orderBy?: string;
  /** Apply the encodings ANALYZE COMPRESSION suggests (the caller runs it; see Redshift.deepCopy). */
  analyzeCompression?: boolean;
  /** DROP ... CASCADE the outgoing table (drops dependent views). */
  cascade?: boolean;
}

export class DeepCopyError extends Error {
  override name = 'DeepCopyError';
}

export const DEDUPE_ROW_NUMBER = '__rl_deepcopy_rn';

/** `<name><suffix>`, cut to Redshift's 127 bytes. */
export function outgoingName(name: string, suffix = '_rl_deepcopy_old'): string {
  let base = name;
  while (Buffer.byteLength(base + suffix) > 127) base = base.slice(0, -1);
  return base + suffix;
}

/** Checks the options that need no catalog (before connecting). */
export function validateDeepCopyOptions(o: DeepCopyOptions): void {
  if (o.distkey !== undefined && o.diststyle !== undefined && o.diststyle !== 'KEY') throw new DeepCopyError('--distkey needs DISTSTYLE KEY (leave out --diststyle)');
  if (o.dedupeBy?.length && !o.orderBy?.trim()) throw new DeepCopyError('dedupe-by needs order-by: which row of each group to keep');
  if (o.dedupeBy?.length && o.distinct) throw new DeepCopyError('use either distinct or dedupe-by, not both');
  if (o.orderBy && !o.dedupeBy?.length) throw new DeepCopyError('order-by is only used with dedupe-by');
}

/** The new table's definition: the reflected one with the requested keys and encodings. */
export function redesign(def: TableDef, o: DeepCopyOptions): TableDef {
  const names = new Set(def.columns.map((c) => c.name));
  const check = (c: string, what: string) => {
    if (!names.has(c)) throw new DeepCopyError(`${what}: column "${c}" does not exist in ${def.schema}.${def.name}`);
  };
  const next: TableDef = { ...def, columns: def.columns.map((c) => ({ ...c })), sortkey: [...def.sortkey] };
  if (o.distkey !== undefined && o.diststyle !== undefined && o.diststyle !== 'KEY') throw new DeepCopyError('--distkey needs DISTSTYLE KEY (leave out --diststyle)');
  if (o.distkey !== undefined) {
    check(o.distkey, 'distkey');
    next.diststyle = 'KEY';
    next.distkey = o.distkey;
  } else if (o.diststyle !== undefined) {
    if (o.diststyle === 'KEY' && !def.distkey) throw new DeepCopyError('DISTSTYLE KEY needs a distkey');
    next.diststyle = o.diststyle;
    next.distkey = o.diststyle === 'KEY' ? def.distkey : null;
  }
  if (o.sortkey !== undefined) {
    for (const c of o.sortkey) check(c, 'sortkey');
    next.sortkey = [...o.sortkey];
    next.sortkeyType = o.sortkey.length === 0 ? null : (o.sortkeyType ?? 'COMPOUND');
  } else if (o.sortkeyType !== undefined && def.sortkey.length > 0) next.sortkeyType = o.sortkeyType;
  for (const [col, enc] of Object.entries(o.encodings ?? {})) {
    check(col, 'encoding');
    if (!/^[a-z0-9_]+$/i.test(enc)) throw new DeepCopyError(`not an encoding: ${JSON.stringify(enc)}`);
    next.columns.find((c) => c.name === col)!.encoding = enc.toLowerCase();
  }
  for (const c of o.dedupeBy ?? []) check(c, 'dedupe-by');
  return next;
}

/** The INSERT ... SELECT from the outgoing table (plain, DISTINCT, or first row per partition). */
export function copyRowsSql(target: Relation, from: Relation, columns: readonly string[], o: Pick<DeepCopyOptions, 'distinct' | 'dedupeBy' | 'orderBy'>): string {
  const cols = quoteIdents(columns);
  if (o.dedupeBy && o.dedupeBy.length > 0) {
    if (!o.orderBy?.trim()) throw new DeepCopyError('dedupe-by needs order-by: which row of each group to keep');
    if (o.distinct) throw new DeepCopyError('use either distinct or dedupe-by, not both');
    return [
      `INSERT INTO ${relationSql(target)} (${cols})`,
      `SELECT ${cols} FROM (`,
      `  SELECT ${cols}, ROW_NUMBER() OVER (PARTITION BY ${quoteIdents(o.dedupeBy)} ORDER BY ${o.orderBy.trim()}) AS ${quoteIdent(DEDUPE_ROW_NUMBER)}`,
      `  FROM ${relationSql(from)}`,
      `) d WHERE ${quoteIdent(DEDUPE_ROW_NUMBER)} = 1`,
    ].join('\n');
  }
  if (o.orderBy && !o.dedupeBy?.length) throw new DeepCopyError('order-by is only used with dedupe-by');
  return `INSERT INTO ${relationSql(target)} (${cols})\nSELECT ${o.distinct ? 'DISTINCT ' : ''}${cols} FROM ${relationSql(from)}`;
}

export function deepCopyBatch(def: TableDef, o: DeepCopyOptions = {}): Batch {
  const next = redesign(def, o);
  const table: Relation = { schema: def.schema, name: def.name };
  const old: Relation = { schema: def.schema, name: outgoingName(def.name) };
  // Redshift refuses explicit values for IDENTITY columns: a copy would renumber them.
  const identity = def.columns.filter((c) => c.identity).map((c) => c.name);
  if (identity.length > 0) throw new DeepCopyError(`${def.schema}.${def.name} has IDENTITY column(s) ${identity.join(', ')}: a deep copy would renumber them; copy it by hand (CREATE TABLE ... LIKE, then COPY with EXPLICIT_IDS)`);
  const columns = def.columns.map((c) => c.name);
  return withWrites([table], batchOf(
    `LOCK ${relationSql(table)}`,
    `ALTER TABLE ${relationSql(table)} RENAME TO ${quoteIdent(old.name)}`,
    createTableSql(next),
    ownerAndGrantsSql(table, def.owner, def.grants),
    copyRowsSql(table, old, columns, o),
    `DROP TABLE ${relationSql(old)}${o.cascade ? ' CASCADE' : ''}`,
    `ANALYZE ${relationSql(table)}`,
  ));
}

export function analyzeCompressionSql(rel: Relation): string {
  return `ANALYZE COMPRESSION ${relationSql(rel)}`;
}

/**
 * ANALYZE COMPRESSION's rows ("Table", "Column", "Encoding", ...) -> column -> encoding.
 * `N/A` (a column left out of the analysis) is skipped; `none` is RAW.
 */
export function encodingsFromAnalyzeCompression(rows: Array<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) {
    const lower = Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toLowerCase(), v]));
    const col = String(lower.column ?? '').trim();
    const enc = String(lower.encoding ?? '').trim().toLowerCase();
    if (col && enc && enc !== 'n/a') out[col] = enc === 'none' ? 'raw' : enc;
  }
  return out;
}
