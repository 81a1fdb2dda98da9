import type pg from 'pg';
import type { SourceColumn } from '../metadata/types.js';

/** Columns of a source table, view or materialized view, in order. */
export async function sourceColumns(db: pg.ClientBase, schema: string, name: string): Promise<SourceColumn[]> {
  const r = await db.query<{ name: string; type: string; not_null: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`,
    [schema, name],
  );
  return r.rows.map((x) => ({ name: x.name, type: x.type, notNull: x.not_null }));
}

export interface SourceRelation {
  /** pg_class.relkind: r table, p partitioned table, v view, m materialized view, f foreign table. */
  kind: 'r' | 'p' | 'v' | 'm' | 'f';
  /** False only for a materialized view that was never refreshed (reading it fails). */
  populated: boolean;
}

/** The source relation's kind, or null when it does not exist. */
export async function sourceRelation(db: pg.ClientBase, schema: string, name: string): Promise<SourceRelation | null> {
  const r = await db.query<SourceRelation>(
    `SELECT c.relkind::text AS kind, c.relispopulated AS populated
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [schema, name],
  );
  return r.rows[0] ?? null;
}

/** Row versions carry an inserting transaction id (xmin) that queries can read. */
export const hasRowXmin = (rel: SourceRelation) => rel.kind === 'r' || rel.kind === 'p' || rel.kind === 'm';
