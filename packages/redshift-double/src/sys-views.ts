/**
 * SYS monitoring views for loads (SYS_LOAD_HISTORY.html, SYS_LOAD_ERROR_DETAIL.html): they
 * show loads of provisioned and Serverless doubles alike (the STL views leave Serverless loads
 * out), and the isolation level of each database (r_STV_DB_ISOLATION_LEVEL.html,
 * r_SVV_REDSHIFT_DATABASES.html): the database-level setting `rsdbl.db_isolation` written by
 * CREATE/ALTER DATABASE ... ISOLATION LEVEL, else the flavour's default (`rsdbl.flavor`,
 * a startup parameter of every session of the double).
 */
export const SYS_VIEWS_SQL = `
CREATE TABLE IF NOT EXISTS redshift_double.load_history (
  user_id integer, query_id bigint, transaction_id bigint, session_id integer, database_name text, status text, table_name text,
  start_time timestamp, end_time timestamp, duration bigint, data_source text, file_format text, loaded_rows bigint, loaded_bytes bigint,
  source_file_count integer, source_file_bytes bigint, file_count_scanned integer, file_bytes_scanned bigint, error_count bigint, copy_job_id bigint,
  serverless boolean NOT NULL DEFAULT false
);

CREATE OR REPLACE VIEW redshift_double.sys_load_history AS
  SELECT user_id, query_id, transaction_id, session_id, database_name, status, table_name, start_time, end_time, duration, data_source, file_format,
         loaded_rows, loaded_bytes, source_file_count, source_file_bytes, file_count_scanned, file_bytes_scanned, error_count, copy_job_id
  FROM redshift_double.load_history;

CREATE OR REPLACE VIEW redshift_double.sys_load_error_detail AS
  SELECT userid AS user_id, query::bigint AS query_id, transaction_id, session AS session_id, current_database()::character(64) AS database_name,
         tbl AS table_id, starttime AS start_time, filename AS file_name, line_number, colname AS column_name, type AS column_type,
         col_length AS column_length, position, err_code AS error_code, err_reason::character(512) AS error_message
  FROM redshift_double.load_errors;

CREATE OR REPLACE FUNCTION redshift_double.db_isolation(db oid) RETURNS text LANGUAGE sql STABLE AS $f$
  SELECT CASE COALESCE(
           (SELECT split_part(s.setting, '=', 2) FROM pg_db_role_setting d, unnest(d.setconfig) AS s(setting)
            WHERE d.setdatabase = db AND d.setrole = 0 AND s.setting LIKE 'rsdbl.db_isolation=%' LIMIT 1),
           CASE WHEN current_setting('rsdbl.flavor', true) = 'serverless' THEN 'snapshot' ELSE 'serializable' END)
         WHEN 'snapshot' THEN 'Snapshot Isolation' ELSE 'Serializable' END
$f$;

CREATE OR REPLACE VIEW redshift_double.stv_db_isolation_level AS
  SELECT datname::character(128) AS db_name, redshift_double.db_isolation(oid)::character(20) AS isolation_level
  FROM pg_database WHERE datallowconn AND NOT datistemplate;

CREATE OR REPLACE VIEW redshift_double.svv_redshift_databases AS
  SELECT datname::varchar(128) AS database_name, datdba::integer AS database_owner, 'local'::varchar(32) AS database_type,
         NULL::varchar(128) AS database_acl, NULL::varchar(128) AS database_options,
         redshift_double.db_isolation(oid)::varchar(128) AS database_isolation_level
  FROM pg_database WHERE datallowconn AND NOT datistemplate;

-- STV_SLICES (r_STV_SLICES.html): the double is one node of two slices (REDSHIFT_SLICES's
-- default). STV tables cannot be queried on Serverless (serverless-monitoring.html): the
-- Serverless flavour refuses it (the message is the double's own choice).
CREATE OR REPLACE FUNCTION redshift_double.stv_slices_rows() RETURNS TABLE (node integer, slice integer, localslice integer, type character(1))
LANGUAGE plpgsql STABLE AS $f$
BEGIN
  IF current_setting('rsdbl.flavor', true) = 'serverless' THEN
    RAISE EXCEPTION 'stv_slices is not available on Amazon Redshift Serverless (STV system tables are for provisioned clusters)' USING ERRCODE = '42501';
  END IF;
  RETURN QUERY SELECT 0, s, s, 'D'::character(1) FROM generate_series(0, 1) s;
END $f$;

CREATE OR REPLACE VIEW redshift_double.stv_slices AS SELECT * FROM redshift_double.stv_slices_rows();
`;
