import type { Relation } from './names.js';
import type { Queryable } from './reflect.js';

/** Existence and listing of tables (ordinary tables, not views), from pg_class. */
export const TABLE_EXISTS_SQL = `SELECT EXISTS (
  SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'
) AS exists`;

export const TABLES_SQL = `SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND ($1::text IS NULL OR n.nspname = $1)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'pg_internal', 'redshift_double')
  AND n.nspname NOT LIKE 'pg_temp_%'
ORDER BY 1, 2`;

export async function tableExists(db: Queryable, rel: Relation): Promise<boolean> {
  const r = await db.query<{ exists: boolean }>(TABLE_EXISTS_SQL, [rel.schema, rel.name]);
  return r.rows[0]?.exists === true;
}

export async function listTables(db: Queryable, schema?: string): Promise<Relation[]> {
  const r = await db.query<{ schema: string; name: string }>(TABLES_SQL, [schema ?? null]);
  return r.rows.map((x) => ({ schema: x.schema, name: x.name }));
}
