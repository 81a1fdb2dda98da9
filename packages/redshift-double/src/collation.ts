/**
 * Case-insensitive collation (r_CREATE_DATABASE.html, r_CREATE_TABLE_NEW.html, r_COLLATE.html):
 * Redshift's CASE_INSENSITIVE is a nondeterministic ICU collation at strength 2
 * (`und-u-ks-level2`: case ignored, accents kept). A CASE_INSENSITIVE database is marked by the
 * database-level setting `rsdbl.db_collation` (set by the double's CREATE DATABASE); DDL then
 * gives its character columns this collation unless they say COLLATE CASE_SENSITIVE.
 *
 * What users see: `db_collation()` (r_DB_COLLATION.html) and `svv_columns.collation_name`
 * (r_SVV_COLUMNS.html lists collation_catalog/schema/name; the double writes
 * case_sensitive/case_insensitive there for CHAR and VARCHAR columns, NULL for others).
 */
export const COLLATION_SQL = `
DO $c$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'case_insensitive' AND collnamespace = 'redshift_double'::regnamespace) THEN
    CREATE COLLATION redshift_double.case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
  END IF;
END $c$;

CREATE OR REPLACE FUNCTION redshift_double.db_collation() RETURNS varchar LANGUAGE sql STABLE AS $f$
  SELECT (CASE WHEN current_setting('rsdbl.db_collation', true) = 'case_insensitive' THEN 'case_insensitive' ELSE 'case_sensitive' END)::varchar
$f$;

CREATE OR REPLACE VIEW redshift_double.svv_columns AS
SELECT current_database()::text AS table_catalog, n.nspname::text AS table_schema, c.relname::text AS table_name, a.attname::text AS column_name,
       a.attnum::int AS ordinal_position, pg_get_expr(d.adbin, d.adrelid)::text AS column_default,
       CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END::text AS is_nullable,
       CASE WHEN t.typname = 'super' AND t.typnamespace = 'pg_catalog'::regnamespace THEN 'super'
            WHEN a.atttypid = 'varchar'::regtype THEN 'character varying'
            WHEN a.atttypid = 'bpchar'::regtype THEN 'character'
            ELSE format_type(a.atttypid, NULL) END::text AS data_type,
       CASE WHEN a.atttypid IN ('varchar'::regtype, 'bpchar'::regtype) AND a.atttypmod > 4 THEN a.atttypmod - 4 END::int AS character_maximum_length,
       CASE WHEN a.atttypid = 'numeric'::regtype AND a.atttypmod > 4 THEN ((a.atttypmod - 4) >> 16) & 65535
            WHEN a.atttypid = 'int2'::regtype THEN 16 WHEN a.atttypid = 'int4'::regtype THEN 32 WHEN a.atttypid = 'int8'::regtype THEN 64
            WHEN a.atttypid = 'float4'::regtype THEN 24 WHEN a.atttypid = 'float8'::regtype THEN 53 END::int AS numeric_precision,
       CASE WHEN a.atttypid = 'numeric'::regtype THEN 10 WHEN a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'float4'::regtype, 'float8'::regtype) THEN 2 END::int AS numeric_precision_radix,
       CASE WHEN a.atttypid = 'numeric'::regtype AND a.atttypmod > 4 THEN (a.atttypmod - 4) & 65535 WHEN a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN 0 END::int AS numeric_scale,
       CASE WHEN a.atttypid IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype, 'time'::regtype, 'timetz'::regtype) THEN CASE WHEN a.atttypid = 'date'::regtype THEN 0 ELSE 6 END END::int AS datetime_precision,
       NULL::text AS interval_type, NULL::text AS interval_precision,
       NULL::text AS character_set_catalog, NULL::text AS character_set_schema, NULL::text AS character_set_name,
       NULL::text AS collation_catalog, NULL::text AS collation_schema,
       CASE WHEN a.attcollation = 0 THEN NULL
            WHEN a.attcollation = 'redshift_double.case_insensitive'::regcollation THEN 'case_insensitive'
            ELSE 'case_sensitive' END::text AS collation_name,
       NULL::text AS domain_name, col_description(c.oid, a.attnum)::text AS remarks
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p', 'v', 'm')
  AND n.nspname NOT IN ('redshift_double', 'pg_catalog', 'information_schema', 'pg_toast')
  AND (n.nspname NOT LIKE 'pg_temp_%' OR c.relnamespace = pg_my_temp_schema());
`;
