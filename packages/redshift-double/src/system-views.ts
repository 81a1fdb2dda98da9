import { TRAILING_BLANKS_SQL } from './blanks.js';
import { COLLATION_SQL } from './collation.js';
import { FUNCTIONS_SQL } from './functions.js';
import { SYS_VIEWS_SQL } from './sys-views.js';
import type { KeyConstraint, TableMeta } from './ddl.js';
import { lit } from './sql-lexer.js';

/**
 * The double's own schema in each upstream database: per-table dist/sort/encode metadata,
 * the stl_load_errors store, the SUPER domain and the Redshift system views, which client
 * SQL reaches through the rewriter (`pg_table_def` -> `redshift_double.pg_table_def`).
 */
export const SCHEMA = 'redshift_double';
export const SYSTEM_VIEWS = [
  'stl_load_errors', 'pg_table_def', 'svv_table_info', 'stl_load_commits', 'svv_columns',
  'sys_load_history', 'sys_load_error_detail', 'stv_db_isolation_level', 'svv_redshift_databases', 'stv_slices',
] as const;

export const INSTALL_SQL = `
CREATE SCHEMA IF NOT EXISTS redshift_double;
-- SUPER lives in pg_catalog so that format_type(), ::regtype and reflection say "super", as on Redshift.
DO $i$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typnamespace = 'pg_catalog'::regnamespace AND typname = 'super') THEN
    PERFORM set_config('allow_system_table_mods', 'on', true);
    EXECUTE 'CREATE DOMAIN pg_catalog.super AS jsonb';
    PERFORM set_config('allow_system_table_mods', 'off', true);
  END IF;
END $i$;
CREATE TABLE IF NOT EXISTS redshift_double.table_meta (
  reloid oid PRIMARY KEY,
  diststyle text,
  distkey smallint,
  sortkey smallint[] NOT NULL DEFAULT '{}',
  sortkey_type text,
  backup boolean
);
CREATE TABLE IF NOT EXISTS redshift_double.column_meta (
  reloid oid NOT NULL,
  attnum smallint NOT NULL,
  encoding text NOT NULL,
  PRIMARY KEY (reloid, attnum)
);
-- PRIMARY KEY / UNIQUE / FOREIGN KEY columns (informational in Redshift; ALTER COLUMN TYPE refuses them)
CREATE TABLE IF NOT EXISTS redshift_double.key_columns (
  reloid oid NOT NULL,
  attnum smallint NOT NULL,
  kind text NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS redshift_double.query_id START 1000;
CREATE TABLE IF NOT EXISTS redshift_double.load_errors (
  userid integer, slice integer, tbl integer, starttime timestamp, session integer, query integer,
  filename character(256), line_number bigint, colname character(127), type character(10), col_length character(10),
  position integer, raw_line character(1024), raw_field_value character(1024), err_code integer, err_reason character(100),
  is_partial integer, start_offset bigint
);
CREATE TABLE IF NOT EXISTS redshift_double.load_commits (
  userid integer, query integer, slice integer, name character(256), filename character(256), byte_offset integer,
  lines_scanned integer, errors integer, curtime timestamp, status integer, file_format character(16)
);
-- transaction_id for SYS_LOAD_ERROR_DETAIL; serverless: rows the STL views leave out (Serverless loads)
ALTER TABLE redshift_double.load_errors ADD COLUMN IF NOT EXISTS transaction_id bigint, ADD COLUMN IF NOT EXISTS serverless boolean NOT NULL DEFAULT false;
ALTER TABLE redshift_double.load_commits ADD COLUMN IF NOT EXISTS serverless boolean NOT NULL DEFAULT false;
CREATE OR REPLACE VIEW redshift_double.stl_load_errors AS
  SELECT userid, slice, tbl, starttime, session, query, filename, line_number, colname, type, col_length, position, raw_line, raw_field_value,
         err_code, err_reason, is_partial, start_offset
  FROM redshift_double.load_errors WHERE NOT serverless;
CREATE OR REPLACE VIEW redshift_double.stl_load_commits AS
  SELECT userid, query, slice, name, filename, byte_offset, lines_scanned, errors, curtime, status, file_format
  FROM redshift_double.load_commits WHERE NOT serverless;

CREATE OR REPLACE FUNCTION redshift_double.default_encoding(typ oid, is_sortkey boolean) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE
    WHEN is_sortkey THEN 'none'
    WHEN typ IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype, 'date'::regtype,
                 'timestamp'::regtype, 'timestamptz'::regtype, 'time'::regtype, 'timetz'::regtype) THEN 'az64'
    WHEN typ IN ('varchar'::regtype, 'bpchar'::regtype, 'text'::regtype) THEN 'lzo'
    ELSE 'none' END
$f$;

CREATE OR REPLACE FUNCTION redshift_double.type_name(typ oid, typmod integer) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT format_type(typ, typmod)
$f$;

CREATE OR REPLACE VIEW redshift_double.pg_table_def AS
SELECT n.nspname AS schemaname, c.relname AS tablename, a.attname AS "column",
       redshift_double.type_name(a.atttypid, a.atttypmod) AS type,
       COALESCE(cm.encoding, redshift_double.default_encoding(a.atttypid, a.attnum = ANY (COALESCE(tm.sortkey, '{}'))))::character(32) AS encoding,
       COALESCE(tm.distkey = a.attnum, false) AS distkey,
       (COALESCE(array_position(tm.sortkey, a.attnum), 0)
         * CASE WHEN tm.sortkey_type = 'INTERLEAVED' AND array_position(tm.sortkey, a.attnum) % 2 = 0 THEN -1 ELSE 1 END)::integer AS sortkey,
       a.attnotnull AS "notnull"
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN redshift_double.table_meta tm ON tm.reloid = c.oid
LEFT JOIN redshift_double.column_meta cm ON cm.reloid = c.oid AND cm.attnum = a.attnum
WHERE c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)
  AND n.nspname NOT IN ('redshift_double', 'pg_catalog', 'information_schema', 'pg_toast')
ORDER BY n.nspname, c.relname, a.attnum;

CREATE OR REPLACE FUNCTION redshift_double.tbl_rows(rel oid) RETURNS bigint LANGUAGE plpgsql STABLE AS $f$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %s', rel::regclass) INTO n;
  RETURN n;
EXCEPTION WHEN OTHERS THEN RETURN 0;
END $f$;

CREATE OR REPLACE VIEW redshift_double.svv_table_info AS
SELECT * FROM (
SELECT current_database()::text AS database, n.nspname::text AS schema, c.oid AS table_id, c.relname::text AS "table",
       CASE WHEN EXISTS (SELECT 1 FROM pg_attribute a LEFT JOIN redshift_double.column_meta cm ON cm.reloid = a.attrelid AND cm.attnum = a.attnum
                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                           AND COALESCE(cm.encoding, redshift_double.default_encoding(a.atttypid, a.attnum = ANY (COALESCE(tm.sortkey, '{}')))) NOT IN ('raw', 'none'))
            THEN 'Y' ELSE 'N' END AS encoded,
       CASE COALESCE(tm.diststyle, 'AUTO')
         WHEN 'KEY' THEN 'KEY(' || (SELECT attname FROM pg_attribute WHERE attrelid = c.oid AND attnum = tm.distkey) || ')'
         WHEN 'AUTO' THEN 'AUTO(ALL)'
         ELSE tm.diststyle END AS diststyle,
       CASE WHEN tm.sortkey_type = 'NONE' THEN NULL
            WHEN COALESCE(tm.sortkey_type, 'AUTO') = 'AUTO' THEN 'AUTO(SORTKEY)'
            ELSE (SELECT attname FROM pg_attribute WHERE attrelid = c.oid AND attnum = tm.sortkey[1]) END::text AS sortkey1,
       (SELECT max(a.atttypmod - 4) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          AND a.atttypid = 'varchar'::regtype)::integer AS max_varchar,
       (SELECT COALESCE(cm.encoding, 'none') FROM redshift_double.column_meta cm WHERE cm.reloid = c.oid AND cm.attnum = tm.sortkey[1])::character(32) AS sortkey1_enc,
       COALESCE(array_length(tm.sortkey, 1), 0)::integer AS sortkey_num,
       ceil(pg_total_relation_size(c.oid) / 1048576.0)::bigint AS size,
       0::numeric(10,4) AS pct_used,
       0::bigint AS empty,
       CASE WHEN COALESCE(array_length(tm.sortkey, 1), 0) > 0 THEN 0 END::numeric(5,2) AS unsorted,
       0::numeric(5,2) AS stats_off,
       redshift_double.tbl_rows(c.oid)::numeric(38,0) AS tbl_rows,
       NULL::numeric(19,2) AS skew_sortkey1,
       NULL::numeric(19,2) AS skew_rows,
       redshift_double.tbl_rows(c.oid)::numeric(38,0) AS estimated_visible_rows,
       NULL::text AS risk_event,
       NULL::numeric(12,2) AS vacuum_sort_benefit,
       NULL::timestamp AS create_time
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN redshift_double.table_meta tm ON tm.reloid = c.oid
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('redshift_double', 'pg_catalog', 'information_schema', 'pg_toast')
  AND (n.nspname NOT LIKE 'pg_temp_%' OR c.relnamespace = pg_my_temp_schema())
) t WHERE tbl_rows > 0;

CREATE OR REPLACE FUNCTION redshift_double.pg_last_copy_id(v integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $f$ SELECT v $f$;
CREATE OR REPLACE FUNCTION redshift_double.pg_last_copy_count(v bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $f$ SELECT v $f$;
CREATE OR REPLACE FUNCTION redshift_double.getdate() RETURNS timestamp LANGUAGE sql STABLE AS $f$ SELECT date_trunc('second', statement_timestamp())::timestamp $f$;
CREATE OR REPLACE FUNCTION redshift_double.sysdate() RETURNS timestamp LANGUAGE sql STABLE AS $f$ SELECT transaction_timestamp()::timestamp $f$;
CREATE OR REPLACE FUNCTION redshift_double.json_parse(s text) RETURNS pg_catalog.super LANGUAGE sql IMMUTABLE AS $f$ SELECT s::jsonb::pg_catalog.super $f$;

-- Metadata rows of dropped tables are not deleted when the table is dropped: that DELETE would read
-- the metadata tables inside the client's (serializable) transaction and make unrelated concurrent
-- loads conflict. Every view joins pg_class, so such rows are invisible; the install (which runs before
-- any session of this double serves the database) removes them.
DROP EVENT TRIGGER IF EXISTS redshift_double_on_drop;
DROP FUNCTION IF EXISTS redshift_double.on_drop();
DELETE FROM redshift_double.table_meta WHERE reloid NOT IN (SELECT oid FROM pg_class);
DELETE FROM redshift_double.column_meta WHERE reloid NOT IN (SELECT oid FROM pg_class);
DELETE FROM redshift_double.key_columns WHERE reloid NOT IN (SELECT oid FROM pg_class);
${TRAILING_BLANKS_SQL}
${COLLATION_SQL}
${SYS_VIEWS_SQL}
${FUNCTIONS_SQL}
`;

const sortTypeSql = (t: TableMeta['sortkeyType']) => (t === null ? 'NULL' : lit(t));

/** Attribute numbers of named columns of `rel` (an SQL expression of type oid), in order. */
function attnums(rel: string, cols: string[]): string {
  if (cols.length === 0) return `'{}'::smallint[]`;
  const arr = `ARRAY[${cols.map(lit).join(', ')}]::text[]`;
  return `ARRAY(SELECT a.attnum FROM unnest(${arr}) WITH ORDINALITY u(name, ord) JOIN pg_attribute a ON a.attrelid = ${rel} AND a.attname = u.name ORDER BY u.ord)::smallint[]`;
}

/**
 * Statements (run in the client's session, so they share its transaction) recording the
 * metadata of a table just created. With `like`, the parent's metadata is the starting point.
 */
export function recordTableMeta(tableText: string, meta: TableMeta, like: string | null): string[] {
  const rel = `${lit(tableText)}::regclass::oid`;
  const out: string[] = [];
  if (like) {
    const parent = `${lit(like)}::regclass::oid`;
    out.push(`INSERT INTO redshift_double.table_meta (reloid, diststyle, distkey, sortkey, sortkey_type, backup)
SELECT ${rel}, p.diststyle,
  (SELECT c.attnum FROM pg_attribute pa JOIN pg_attribute c ON c.attrelid = ${rel} AND c.attname = pa.attname WHERE pa.attrelid = ${parent} AND pa.attnum = p.distkey),
  ARRAY(SELECT c.attnum FROM unnest(p.sortkey) WITH ORDINALITY u(n, ord) JOIN pg_attribute pa ON pa.attrelid = ${parent} AND pa.attnum = u.n JOIN pg_attribute c ON c.attrelid = ${rel} AND c.attname = pa.attname ORDER BY u.ord)::smallint[],
  p.sortkey_type, p.backup
FROM redshift_double.table_meta p WHERE p.reloid = ${parent}
ON CONFLICT (reloid) DO NOTHING`);
    out.push(`INSERT INTO redshift_double.column_meta (reloid, attnum, encoding)
SELECT ${rel}, c.attnum, m.encoding FROM redshift_double.column_meta m
JOIN pg_attribute pa ON pa.attrelid = m.reloid AND pa.attnum = m.attnum
JOIN pg_attribute c ON c.attrelid = ${rel} AND c.attname = pa.attname
WHERE m.reloid = ${parent}
ON CONFLICT DO NOTHING`);
  }
  out.push(`INSERT INTO redshift_double.table_meta (reloid, diststyle, distkey, sortkey, sortkey_type, backup)
VALUES (${rel}, ${meta.diststyle === null ? 'NULL' : lit(meta.diststyle)},
  ${meta.distkey === null ? 'NULL' : `(SELECT attnum FROM pg_attribute WHERE attrelid = ${rel} AND attname = ${lit(meta.distkey)})`},
  ${attnums(rel, meta.sortkey)}, ${sortTypeSql(meta.sortkeyType)}, ${meta.backup === null ? 'NULL' : String(meta.backup)})
ON CONFLICT (reloid) DO UPDATE SET
  diststyle = COALESCE(EXCLUDED.diststyle, table_meta.diststyle),
  distkey = CASE WHEN EXCLUDED.diststyle IS NOT NULL THEN EXCLUDED.distkey ELSE table_meta.distkey END,
  sortkey = CASE WHEN EXCLUDED.sortkey_type IS NOT NULL THEN EXCLUDED.sortkey ELSE table_meta.sortkey END,
  sortkey_type = COALESCE(EXCLUDED.sortkey_type, table_meta.sortkey_type),
  backup = COALESCE(EXCLUDED.backup, table_meta.backup)`);
  for (const [col, enc] of meta.encodings) out.push(setColumnEncoding(tableText, col, enc));
  if (meta.keys.length) out.push(recordKeys(tableText, meta.keys));
  return out;
}

/** Remembers key-constraint columns (the double does not create the constraints themselves). */
export function recordKeys(tableText: string, keys: KeyConstraint[]): string {
  const rel = `${lit(tableText)}::regclass::oid`;
  const pairs = keys.flatMap((k) => k.columns.map((col) => `(${lit(col)}, ${lit(k.kind)})`));
  return `INSERT INTO redshift_double.key_columns (reloid, attnum, kind)
SELECT ${rel}, a.attnum, u.kind FROM (VALUES ${pairs.join(', ')}) AS u(name, kind)
JOIN pg_attribute a ON a.attrelid = ${rel} AND a.attname = u.name AND a.attnum > 0 AND NOT a.attisdropped`;
}

export function setColumnEncoding(tableText: string, column: string, encoding: string): string {
  const rel = `${lit(tableText)}::regclass::oid`;
  return `INSERT INTO redshift_double.column_meta (reloid, attnum, encoding)
SELECT ${rel}, attnum, ${lit(encoding)} FROM pg_attribute WHERE attrelid = ${rel} AND attname = ${lit(column)}
ON CONFLICT (reloid, attnum) DO UPDATE SET encoding = EXCLUDED.encoding`;
}

/** ALTER TABLE ... ALTER DISTSTYLE / DISTKEY / SORTKEY. */
export function alterTableMeta(tableText: string, set: Partial<TableMeta>): string {
  const rel = `${lit(tableText)}::regclass::oid`;
  const assigns: string[] = [];
  const cols: string[] = [];
  const vals: string[] = [];
  if (set.diststyle !== undefined) {
    cols.push('diststyle');
    vals.push(set.diststyle === null ? 'NULL' : lit(set.diststyle));
  }
  if (set.distkey !== undefined) {
    cols.push('distkey');
    vals.push(set.distkey === null ? 'NULL' : `(SELECT attnum FROM pg_attribute WHERE attrelid = ${rel} AND attname = ${lit(set.distkey)})`);
  }
  if (set.sortkey !== undefined) {
    cols.push('sortkey', 'sortkey_type');
    vals.push(attnums(rel, set.sortkey), sortTypeSql(set.sortkeyType ?? null));
  }
  for (const c of cols) assigns.push(`${c} = EXCLUDED.${c}`);
  return `INSERT INTO redshift_double.table_meta (reloid, ${cols.join(', ')}) VALUES (${rel}, ${vals.join(', ')})
ON CONFLICT (reloid) DO UPDATE SET ${assigns.join(', ')}`;
}
