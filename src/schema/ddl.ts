import { qualify, quoteIdent, quoteIdents, splitColumnList } from '../sql/quote.js';
import type { TableRow } from '../metadata/types.js';
import { mapType, type PgColumnType, type RedshiftType } from './types.js';

/**
 * Target table design and its CREATE TABLE: pure.
 *
 * Defaults: DISTKEY on the primary key when it is a single column (DISTSTYLE EVEN for a
 * composite key or none), COMPOUND SORTKEY (updated key, then the primary key). A tables
 * row can override both (`dist_key`: a column or EVEN / ALL / AUTO; `sort_keys`: a comma
 * list or NONE) and choose columns (`include_columns`, `exclude_columns`), so a team keeps
 * its own table design. SUPER and VARBYTE columns are never dist or sort keys.
 */
export class DesignError extends Error {
  override name = 'DesignError';
}

export interface SourceColumnInfo extends PgColumnType {
  name: string;
  notNull: boolean;
}

export interface TargetColumn {
  name: string;
  type: RedshiftType;
  notNull: boolean;
  /** A character key column in a case-insensitive database: declared COLLATE CASE_SENSITIVE. */
  caseSensitive?: boolean;
}

export interface TableDesign {
  target: { schema: string; name: string };
  columns: TargetColumn[];
  /** `KEY` with distKey set, or EVEN / ALL / AUTO. */
  distStyle: 'KEY' | 'EVEN' | 'ALL' | 'AUTO';
  distKey: string | null;
  sortKeys: string[];
  notes: string[];
}

export type DesignOverrides = Pick<TableRow, 'primaryKey' | 'updatedKey'> & Partial<Pick<TableRow, 'distKey' | 'sortKeys' | 'includeColumns' | 'excludeColumns'>>;

/** The source columns a tables row syncs, in source order (include/exclude applied). */
export function selectColumns<T extends { name: string }>(columns: readonly T[], row: Partial<Pick<TableRow, 'includeColumns' | 'excludeColumns' | 'primaryKey' | 'updatedKey'>>, where = 'table'): T[] {
  const include = splitColumnList(row.includeColumns);
  const exclude = new Set(splitColumnList(row.excludeColumns));
  const names = new Set(columns.map((c) => c.name));
  for (const c of [...include, ...exclude]) {
    if (!names.has(c)) throw new DesignError(`${where}: include_columns/exclude_columns names "${c}", which is not a source column`);
  }
  const keep = columns.filter((c) => (include.length === 0 || include.includes(c.name)) && !exclude.has(c.name));
  const kept = new Set(keep.map((c) => c.name));
  for (const k of [...splitColumnList(row.primaryKey), ...splitColumnList(row.updatedKey)]) {
    if (names.has(k) && !kept.has(k)) throw new DesignError(`${where}: key column "${k}" is excluded by include_columns/exclude_columns; keys must be synced`);
  }
  return keep;
}

export interface DesignContext {
  /** The Redshift database compares text case-insensitively (db_collation() = case_insensitive). */
  caseInsensitiveDatabase?: boolean;
}

export function designTable(
  target: { schema: string; name: string },
  source: readonly SourceColumnInfo[],
  row: DesignOverrides,
  where = `table ${target.schema}.${target.name}`,
  context: DesignContext = {},
): TableDesign {
  const picked = selectColumns(source, row, where);
  const pk = splitColumnList(row.primaryKey);
  const columns: TargetColumn[] = picked.map((c) => ({ name: c.name, type: mapType(c), notNull: c.notNull }));
  const notes: string[] = [];
  if (context.caseInsensitiveDatabase) {
    // Keys 'Abc' and 'abc' must stay two keys in the merge, the key check and delete detection.
    const keyed = columns.filter((c) => pk.includes(c.name) && (c.type.family === 'varchar' || c.type.family === 'char'));
    for (const c of keyed) c.caseSensitive = true;
    if (keyed.length > 0) notes.push(`the database compares text case-insensitively: key column(s) ${keyed.map((c) => c.name).join(', ')} declared COLLATE CASE_SENSITIVE so that keys differing only in case stay apart`);
  }
  const byName = new Map(columns.map((c) => [c.name, c]));
  const uk = splitColumnList(row.updatedKey)[0] ?? null;
  const keyable = (c: string) => byName.get(c)?.type.keyable ?? false;

  let distStyle: TableDesign['distStyle'];
  let distKey: string | null = null;
  const distOverride = row.distKey?.trim();
  if (distOverride) {
    const upper = distOverride.toUpperCase();
    if (upper === 'EVEN' || upper === 'ALL' || upper === 'AUTO') {
      distStyle = upper;
    } else {
      const col = splitColumnList(distOverride)[0]!;
      if (!byName.has(col)) throw new DesignError(`${where}: dist_key "${col}" is not a synced column`);
      if (!keyable(col)) throw new DesignError(`${where}: dist_key "${col}" is ${byName.get(col)!.type.sql}, which cannot be a distribution key`);
      distStyle = 'KEY';
      distKey = col;
    }
  } else if (pk.length === 1 && keyable(pk[0]!)) {
    distStyle = 'KEY';
    distKey = pk[0]!;
  } else {
    distStyle = 'EVEN';
    if (pk.length > 1) notes.push('composite primary key: DISTSTYLE EVEN');
  }

  let sortKeys: string[];
  const sortOverride = row.sortKeys?.trim();
  if (sortOverride) {
    sortKeys = sortOverride.toUpperCase() === 'NONE' ? [] : splitColumnList(sortOverride);
    for (const c of sortKeys) {
      if (!byName.has(c)) throw new DesignError(`${where}: sort_keys names "${c}", which is not a synced column`);
      if (!keyable(c)) throw new DesignError(`${where}: sort key "${c}" is ${byName.get(c)!.type.sql}, which cannot be a sort key`);
    }
  } else {
    sortKeys = [...new Set([...(uk ? [uk] : []), ...pk])].filter((c) => byName.has(c) && keyable(c));
  }
  return { target, columns, distStyle, distKey, sortKeys, notes };
}

/** Redshift CREATE TABLE for a design; identifiers quoted, NOT NULL carried. */
export function createTableSql(d: TableDesign): string {
  if (d.columns.length === 0) throw new DesignError(`table ${d.target.schema}.${d.target.name}: no columns to create`);
  const cols = d.columns.map((c) => `  ${quoteIdent(c.name)} ${c.type.sql}${c.caseSensitive ? ' COLLATE CASE_SENSITIVE' : ''}${c.notNull ? ' NOT NULL' : ''}`);
  const lines = [`CREATE TABLE IF NOT EXISTS ${qualify(d.target.schema, d.target.name)} (`, cols.join(',\n'), ')'];
  lines.push(d.distStyle === 'KEY' ? `DISTSTYLE KEY DISTKEY (${quoteIdent(d.distKey!)})` : `DISTSTYLE ${d.distStyle}`);
  if (d.sortKeys.length > 0) lines.push(`COMPOUND SORTKEY (${quoteIdents(d.sortKeys)})`);
  return lines.join('\n');
}

export function createSchemaSql(schema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`;
}
