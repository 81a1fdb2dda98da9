import type pg from 'pg';
import type { Logger } from '../log.js';
import { targetColumns as targetColumnsSql } from '../redshift/sql.js';
import { qualify, quoteIdent } from '../sql/quote.js';
import type { SourceColumn, TableRow } from '../sync/types.js';
import { selectColumns } from './ddl.js';
import { compatibility, mapType, parseTargetType, type PgTypeKind } from './types.js';

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
}

export interface DriftPlan {
  statements: string[];
  resync: boolean;
  problems: string[];
  /** What changed, in words (for logs). */
  notes: string[];
}

/** A default Redshift can apply itself: a number, a boolean, or a plain string literal. */
export function constantDefault(expr: string | null | undefined): string | null {
  if (!expr) return null;
  const e = expr.trim();
  if (/^-?\d+(\.\d+)?$/.test(e) || /^\(-?\d+(\.\d+)?\)$/.test(e)) return e.replace(/^\((.*)\)$/, '$1');
  if (/^(true|false)$/i.test(e)) return e.toLowerCase();
  const m = e.match(/^('(?:[^'\\]|'')*')(?:::[a-z ]+(?:\(\d+(?:,\d+)?\))?)?$/i);
  if (m && !m[1]!.includes('\\')) return m[1]!;
  return null;
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
      const def = want.family === 'super' ? null : constantDefault(col.defaultExpr);
      plan.statements.push(`ALTER TABLE ${table} ADD COLUMN ${quoteIdent(col.name)} ${want.sql}${def !== null ? ` DEFAULT ${def}` : ''}`);
      if (def === null) plan.resync = true;
      plan.notes.push(`new source column "${col.name}" (${col.type}) added as ${want.sql}${def !== null ? ` with DEFAULT ${def}` : '; existing rows need a resync to fill it'}`);
      continue;
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
  const r = await source.query<{ name: string; type: string; not_null: boolean; kind: PgTypeKind; base_type: string | null; default_expr: string | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null, t.typtype::text AS kind,
            CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
            pg_get_expr(d.adbin, d.adrelid) AS default_expr
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`,
    [schema, name],
  );
  return r.rows.map((x) => ({ name: x.name, type: x.type, notNull: x.not_null, kind: x.kind, baseType: x.base_type, defaultExpr: x.default_expr }));
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
  const plan = planDrift(a.sourceColumns, targetCols, { target: a.target, overrides: a.table, jobName: a.jobName, sourceName });
  if (plan.problems.length > 0) throw new DriftError(plan.problems.join('\n'));
  if (plan.statements.length === 0) return { resync: false, statements: [] };
  if (plan.resync) await a.onResync?.();
  for (const s of plan.statements) {
    a.log.info({ job: a.jobName, table: sourceName, statement: s }, 'schema drift: altering the target');
    await a.redshift.query(s);
  }
  for (const n of plan.notes) a.log.warn({ job: a.jobName, table: sourceName }, `schema drift: ${n}`);
  return { resync: plan.resync, statements: plan.statements };
}
