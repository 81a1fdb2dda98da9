import { quoteIdent } from '../sql/quote.js';

/**
 * The statements `doctor` sends to Redshift (snapshot-tested in test/doctor.test.ts; the
 * probe's COPY is the loader's own builder, copyFromManifest). Values travel as
 * parameters; the only name is the probe's temp table.
 */

/** Who we are, and the cluster's settings that matter to the loader. */
export const REDSHIFT_SESSION_SQL = `SELECT current_user AS "user", current_database() AS "database", version() AS "version"`;

/** The user's TEMP privilege on the database (staging tables are temporary tables). */
export const TEMP_PRIVILEGE_SQL = `SELECT has_database_privilege(current_database(), 'TEMP') AS "temp"`;

/** A target schema: does it exist, and may the user use it and create in it. $1 = schema. */
export const SCHEMA_PRIVILEGES_SQL = `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS "exists",
  CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) THEN has_schema_privilege($1, 'USAGE') END AS "usage",
  CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) THEN has_schema_privilege($1, 'CREATE') END AS "create"`;

/** Does a target table exist. $1 = schema, $2 = table. */
export const TABLE_EXISTS_SQL = `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2) AS "exists"`;

/** The four privileges a sync uses on a target table. $1 = schema, $2 = table. */
export const TABLE_PRIVILEGES_SQL = `SELECT has_table_privilege(quote_ident($1) || '.' || quote_ident($2), 'SELECT') AS "select",
  has_table_privilege(quote_ident($1) || '.' || quote_ident($2), 'INSERT') AS "insert",
  has_table_privilege(quote_ident($1) || '.' || quote_ident($2), 'UPDATE') AS "update",
  has_table_privilege(quote_ident($1) || '.' || quote_ident($2), 'DELETE') AS "delete"`;

/** Slices of a provisioned cluster (STV tables cannot be queried on Serverless). */
export const SLICES_SQL = `SELECT count(*) AS "slices" FROM stv_slices`;

/** Case sensitivity of identifiers in this session (the loader turns it on in every session). */
export const CASE_SENSITIVITY_SQL = `SHOW enable_case_sensitive_identifier`;

/** The database's collation: case_sensitive, or case_insensitive. */
export const COLLATION_SQL = `SELECT db_collation() AS "collation"`;

/** The probe's temp table: one column per kind of value the probe checks. */
export function probeTableSql(name: string): string {
  return `CREATE TEMP TABLE ${quoteIdent(name)} ("id" INTEGER, "v" VARCHAR(256), "ts" TIMESTAMPTZ)`;
}

/** One probe row as Redshift holds it, with its timestamptz compared as an instant. $1 = id, $2 = the expected timestamptz (text). */
export function probeRowSql(name: string): string {
  return `SELECT "v", "v" IS NULL AS "v_null", "ts" IS NULL AS "ts_null", CAST("ts" AS VARCHAR(64)) AS "ts_text",
  "ts" = CAST($2 AS TIMESTAMPTZ) AS "ts_equal"
FROM ${quoteIdent(name)} WHERE "id" = $1`;
}

/** Rows in the probe table. */
export function probeCountSql(name: string): string {
  return `SELECT count(*) AS "n" FROM ${quoteIdent(name)}`;
}
