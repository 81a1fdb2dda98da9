/**
 * How rows travel from PostgreSQL to Redshift: CSV, every non-NULL value quoted, NULL as
 * an unquoted sentinel. Both ends use these two builders so they can never disagree.
 *
 * Why a sentinel and not Redshift's default `\N`: whether Redshift reads a *quoted* field
 * equal to the NULL string as NULL is not documented. With FORCE_QUOTE and a sentinel,
 * either reading gives the right answer for every value except the sentinel itself, and
 * `\N` (common in data dumped from other databases) survives as text.
 */
export const CSV_NULL = '__RL_NULL__';

/** Source side: COPY (SELECT ...) TO STDOUT in the loader's CSV dialect. */
export function copyToStdoutSql(select: string): string {
  return `COPY (${select}) TO STDOUT WITH (FORMAT csv, NULL '${CSV_NULL}', FORCE_QUOTE *, ENCODING 'UTF8')`;
}

/** Redshift side: the COPY options that read that dialect back. */
export const REDSHIFT_CSV_OPTIONS = `CSV QUOTE AS '"' DELIMITER AS ',' NULL AS '${CSV_NULL}'`;
