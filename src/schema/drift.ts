import type pg from 'pg';
import type { Logger } from '../log.js';
import { targetColumns as targetColumnsSql } from '../redshift/sql.js';
import { qualify, quoteIdent, quoteLiteral } from '../sql/quote.js';
import type { SourceColumn, TableRow } from '../metadata/types.js';
import { selectColumns } from './ddl.js';
import { compatibility, mapType, parseTargetType, type PgTypeKind, type RedshiftType } from './types.js';

/**
 * Schema drift between a source table and its Redshift target.
 *
 * - A new source column is added to the target (nullable, whatever the source says, since
 *   existing target rows have no value for it); the table needs a resync to backfill it,
 *   unless the column has a constant default that Redshift can fill in itself.
 * - A sized varchar/char that grew at the source is widened in the target
 *   (ALTER TABLE ... ALTER COLUMN ... TYPE VARCHAR(n)).
 * - A change the target cannot take (e.g. integer -> text, numeric(10,2) -> numeric(20,4))
 *   is a problem: the table stops with a message naming the column, both types and the
 *   commands that rebuild the target (setup, then a resync).
 * - A column dropped at the source stays in the target (new rows get NULL there).
 *
 * Statements are applied one at a time, outside any transaction (Redshift refuses
 * ALTER COLUMN TYPE in a transaction block); planning again from the catalogs after a
 * half-applied run only does what is still missing.
 */
export interface DriftSourceColumn extends SourceColumn {
  kind?: PgTypeKind;
  baseType?: string | null;
  /** The source column default as SQL, when known. */
  defaultExpr?: string | null;
  /** pg_attribute.attnum: the column's identity (a column dropped and added again gets a new one). */
  attnum?: number;
  /**
   * What the rows that existed when the column was added hold (Postgres' "missing value",
   * pg_attribute.attmissingval, set by ADD COLUMN ... DEFAULT constant), when Postgres keeps
   * one; null value = NULL. Undefined: not known (the rows may hold anything).
   */
  missing?: { value: string | null };
}

export interface DriftTargetColumn {
  name: string;
  /** format_type on the target, e.g. `character varying(80)`. */
  type: string;
}

export interface DriftOptions {
  target: { schema: string; name: string };
  overrides?: Partial<Pick<TableRow, 'includeColumns' | 'excludeColumns' | 'primaryKey' | 'updatedKey'>>;
  jobName?: string;
  /** `schema.table` of the source, for messages. */
  sourceName?: string;
  /** The source columns' attnums as the last sync saw them (tables.source_attnums), if any. */
  knownAttnums?: Record<string, number> | null;
}

export interface DriftPlan {
  statements: string[];
  resync: boolean;
  problems: string[];
  /** What changed, in words (for logs). */
  notes: string[];
}

/**
 * The DEFAULT that gives the target's existing rows what the source's existing rows hold:
 * Postgres' missing value for the column (a constant), written as a literal of the target
 * type. '' = no DEFAULT (the rows hold NULL); null = not known (a resync must fill them).
 */
export function missingValueDefault(col: DriftSourceColumn, target: RedshiftType): string | null {
  if (!col.missing || target.family === 'super') return null;
  const v = col.missing.value;
  if (v === null) return '';
  if (['smallint', 'integer', 'bigint', 'numeric', 'real', 'double'].includes(target.family)) return /^-?\d+(\.\d+)?$/.test(v) ? v : null;
  if (target.family === 'boolean') return v === 't' ? 'true' : v === 'f' ? 'false' : null;
  return quoteLiteral(v);
}

export function planDrift(sourceColumns: readonly DriftSourceColumn[], targetColumns: readonly DriftTargetColumn[], opts: DriftOptions): DriftPlan {
  const where = `${opts.jobName ? `job "${opts.jobName}", ` : ''}table ${opts.sourceName ?? `${opts.target.schema}.${opts.target.name}`}`;
  const table = qualify(opts.target.schema, opts.target.name);
  const synced = selectColumns(sourceColumns, opts.overrides ?? {}, where);
  const have = new Map(targetColumns.map((c) => [c.name, c]));
  const plan: DriftPlan = { statements: [], resync: false, problems: [], notes: [] };
  for (const col of synced) {
    const want = mapType({ formatType: col.type, kind: col.kind, baseType: col.baseType ?? undefined });
    const existing = have.get(col.name);
    if (!existing) {
      const def = missingValueDefault(col, want);
      plan.statements.push(`ALTER TABLE ${table} ADD COLUMN ${quoteIdent(col.name)} ${want.sql}${def ? ` DEFAULT ${def}` : ''}`);
      if (def === null) plan.resync = true;
      plan.notes.push(
        `new source column "${col.name}" (${col.type}) added as ${want.sql}` +
          (def === null ? '; existing rows need a resync to fill it' : def === '' ? '; existing rows hold NULL there, as at the source' : ` with DEFAULT ${def}, what existing rows hold at the source`),
      );
      continue;
    }
    const known = opts.knownAttnums?.[col.name];
    if (known !== undefined && col.attnum !== undefined && known !== col.attnum) {
      plan.resync = true;
      plan.notes.push(`column "${col.name}" was dropped and added again at the source (attnum ${known} -> ${col.attnum}): the target's old values do not hold, so the table is resynced`);
    }
    const got = parseTargetType(existing.type);
    const c = compatibility(want, got);
    if (!c.ok) {
      plan.problems.push(
        `${where}: column "${col.name}" changed at the source to ${col.type} (Redshift ${want.sql}) but the target ${opts.target.schema}.${opts.target.name} has ${existing.type}: ${c.reason}. ` +
          `Rebuild the target with the new type: drop or rename ${opts.target.schema}.${opts.target.name}, run redshift-loader setup --job ${opts.jobName ?? 'NAME'} to create it from the current mapping ` +
          `(or create it yourself from redshift-loader ddl output with the type edited), then resync the table: set max_primary_key and max_updated_key to NULL`,
      );
    } else if ('widenTo' in c) {
      plan.statements.push(`ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(col.name)} TYPE ${c.widenTo}`);
      plan.notes.push(`column "${col.name}" widened from ${existing.type} to ${c.widenTo} (source is now ${col.type})`);
    }
  }
  return plan;
}

/**
 * Source columns with what drift can use beyond the engine's catalog: type kind (enum,
 * domain...) and defaults, so an added column with a constant default needs no resync.
 */
export async function sourceColumnsForDrift(source: pg.ClientBase, schema: string, name: string): Promise<DriftSourceColumn[]> {
  const r = await source.query<{
    name: string; type: string; not_null: boolean; kind: PgTypeKind; base_type: string | null; default_expr: string | null;
    attnum: number; has_missing: boolean; missing_value: string | null;
  }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null, t.typtype::text AS kind,
            CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
            pg_get_expr(d.adbin, d.adrelid) AS default_expr, a.attnum::int AS attnum,
            a.atthasmissing AS has_missing, CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] END AS missing_value
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`,
    [schema, name],
  );
  return r.rows.map((x) => ({
    name: x.name, type: x.type, notNull: x.not_null, kind: x.kind, baseType: x.base_type, defaultExpr: x.default_expr, attnum: x.attnum,
    // atthasmissing: rows from before an ADD COLUMN ... DEFAULT constant hold the missing value.
    ...(x.has_missing ? { missing: { value: x.missing_value } } : {}),
  }));
}

export async function readTargetColumns(redshift: pg.ClientBase, target: { schema: string; name: string }): Promise<DriftTargetColumn[]> {
  const r = await redshift.query<{ name: string; type: string }>(targetColumnsSql(), [target.schema, target.name]);
  return r.rows.map((x) => ({ name: x.name, type: x.type }));
}

/** Runs a drift plan's statements, one by one (each commits on its own). */
export async function applyDrift(redshift: pg.ClientBase, plan: Pick<DriftPlan, 'statements'>): Promise<void> {
  for (const s of plan.statements) await redshift.query(s);
}

export class DriftError extends Error {
  override name = 'DriftError';
}

export interface CheckDriftArgs {
  redshift: pg.ClientBase;
  sourceColumns: readonly DriftSourceColumn[];
  target: { schema: string; name: string };
  table: TableRow;
  jobName: string;
  log: Logger;
  /**
   * Called before any ALTER runs when the table needs a resync, so the caller can record
   * it first (e.g. set both watermarks to NULL): a crash after the ALTER then still
   * resyncs, because the next run's plan no longer shows the new column.
   */
  onResync?: () => Promise<void>;
  /** The source columns' attnums as the last sync saw them (a changed one means dropped and added again). */
  knownAttnums?: Record<string, number> | null;
}

/**
 * Before each table sync: compares the source columns with the target, applies the
 * additive changes, and throws a DriftError naming the column and the fix when the target
 * cannot take the source's types. Returns whether the table must be resynced.
 */
export async function checkAndApplyDrift(a: CheckDriftArgs): Promise<{ resync: boolean; statements: string[] }> {
  const sourceName = `${a.table.sourceSchema}.${a.table.sourceName}`;
  const targetCols = await readTargetColumns(a.redshift, a.target);
  if (targetCols.length === 0) {
    throw new DriftError(`job "${a.jobName}", table ${sourceName}: target table ${a.target.schema}.${a.target.name} does not exist in Redshift (run: redshift-loader setup --job ${a.jobName})`);
  }
  const plan = planDrift(a.sourceColumns, targetCols, { target: a.target, overrides: a.table, jobName: a.jobName, sourceName, knownAttnums: a.knownAttnums });
  if (plan.problems.length > 0) throw new DriftError(plan.problems.join('\n'));
  if (plan.resync) await a.onResync?.();
  if (plan.statements.length === 0) {
    for (const n of plan.notes) a.log.warn(`schema drift: ${n}`);
    return { resync: plan.resync, statements: [] };
  }
  for (const s of plan.statements) {
    a.log.info({ job: a.jobName, table: sourceName, statement: s }, 'schema drift: altering the target');
    await a.redshift.query(s).catch((e: Error & { code?: string }) => {
      const widen = s.match(/ALTER COLUMN ("(?:[^"]|"")*") TYPE (\S+)$/);
      if (!widen) throw e;
      // r_ALTER_TABLE.html: only VARCHARs, and not with a DEFAULT, BYTEDICT/RUNLENGTH/TEXT255/
      // TEXT32K encoding or a UNIQUE/PRIMARY KEY/FOREIGN KEY constraint.
      const col = widen[1]!;
      const t = qualify(a.target.schema, a.target.name);
      throw new DriftError(
        `job "${a.jobName}", table ${sourceName}: the source column ${col} grew, but Redshift refused to widen it in ${a.target.schema}.${a.target.name} to ${widen[2]}: ${e.message}. ` +
          `Redshift cannot widen a column with a DEFAULT, a BYTEDICT/RUNLENGTH/TEXT255/TEXT32K encoding or a key constraint; replace it by hand: ` +
          `ALTER TABLE ${t} ADD COLUMN ${col.slice(0, -1)}_new" ${widen[2]}; UPDATE ${t} SET ${col.slice(0, -1)}_new" = ${col}; ALTER TABLE ${t} DROP COLUMN ${col}; ALTER TABLE ${t} RENAME COLUMN ${col.slice(0, -1)}_new" TO ${col}; then run the sync again`,
      );
    });
  }
  for (const n of plan.notes) a.log.warn({ job: a.jobName, table: sourceName }, `schema drift: ${n}`);
  return { resync: plan.resync, statements: plan.statements };
}
