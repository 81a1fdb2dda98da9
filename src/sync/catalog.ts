import type pg from 'pg';
import type { SourceColumn } from './types.js';

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
