/**
 * Redshift SQL functions the double implements as upstream functions in `redshift_double`
 * (client calls reach them through the rewriter, `rewrite.ts`):
 *
 * - `STRTOL(num_string, base)` (r_STRTOL.html): the string as an integer of the given base
 *   (2 to 36), BIGINT. Leading white space, then an optional `+`/`-`, then (base 16) an
 *   optional `0x`; an empty string or one that begins with the null character is 0; NULL is
 *   NULL; a value outside the signed 64-bit range is an error. The guide does not say what
 *   happens at a character that is not a digit of the base: like C's strtol, whose name and
 *   rules the function carries, the digits before it are converted (`'12z'` is 12).
 *   Valid hex strings (the form the loader's hashes use) take a fast path.
 * - `JSON_SERIALIZE(super)` (JSON_SERIALIZE.html): the SUPER value as compact JSON text
 *   (RFC 8259; the guide's examples print no white space: `[10001,10002,"abc"]`), VARCHAR;
 *   a NULL argument returns the JSON text `null`; a result over 65535 bytes (the VARCHAR
 *   limit) is an error. The double's SUPER is jsonb, so objects list their attributes in
 *   jsonb's order (shorter names first, then by bytes) and numbers are written as jsonb
 *   keeps them; strings are escaped as Postgres escapes JSON (`\"`, `\\`, `\b \f \n \r \t`,
 *   other control characters as `\u00XX`, everything else as is). See README, Assumptions.
 */

/** The compact form of jsonb text: the white space jsonb's output puts after `,` and `:` removed, strings untouched. */
export function compactJsonbSql(textExpr: string): string {
  // json_strip_nulls re-serializes compactly (and exactly) when there is no null to strip;
  // otherwise a regular expression that skips over strings removes the separators' blanks.
  return `CASE WHEN ${textExpr} LIKE '%null%' THEN regexp_replace(${textExpr}, E'("(\\\\\\\\.|[^"\\\\\\\\])*")| ', E'\\\\1', 'g') ELSE json_strip_nulls(CAST(${textExpr} AS json))::text END`;
}

export const FUNCTIONS_SQL = `
CREATE OR REPLACE FUNCTION redshift_double.strtol_general(s text, base integer) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
  i integer := 1;
  n integer := length(s);
  neg boolean := false;
  acc numeric := 0;
  d integer;
  ch text;
BEGIN
  IF s IS NULL OR base IS NULL THEN RETURN NULL; END IF;
  IF base < 2 OR base > 36 THEN
    RAISE EXCEPTION 'STRTOL: base must be an integer between 2 and 36, got %', base USING ERRCODE = '22023';
  END IF;
  WHILE i <= n AND substr(s, i, 1) IN (' ', E'\\t', E'\\n', E'\\r', E'\\f', E'\\v') LOOP i := i + 1; END LOOP;
  IF i <= n AND substr(s, i, 1) IN ('+', '-') THEN neg := substr(s, i, 1) = '-'; i := i + 1; END IF;
  IF base = 16 AND lower(substr(s, i, 2)) = '0x' THEN i := i + 2; END IF;
  WHILE i <= n LOOP
    ch := lower(substr(s, i, 1));
    d := strpos('0123456789abcdefghijklmnopqrstuvwxyz', ch) - 1;
    EXIT WHEN ch = '' OR d < 0 OR d >= base;
    acc := acc * base + d;
    IF acc > 9223372036854775808 THEN
      RAISE EXCEPTION 'STRTOL: % is out of the signed 64-bit range', s USING ERRCODE = '22003';
    END IF;
    i := i + 1;
  END LOOP;
  IF neg THEN acc := -acc; END IF;
  IF acc > 9223372036854775807 THEN
    RAISE EXCEPTION 'STRTOL: % is out of the signed 64-bit range', s USING ERRCODE = '22003';
  END IF;
  RETURN acc::bigint;
END $f$;
-- The hex strings of the loader's hashes take the first branch: Postgres 16+ reads '0x...' as an
-- integer, which is exact for every valid hex string in the 64-bit range (anything else, e.g. a
-- sign, white space or a digit beyond the base, goes through the general function).
DO $i$ BEGIN
  IF current_setting('server_version_num')::int >= 160000 THEN
    EXECUTE $d$CREATE OR REPLACE FUNCTION redshift_double.strtol(s text, base integer) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
  IF base = 16 AND pg_input_is_valid('0x' || s, 'bigint') THEN RETURN ('0x' || s)::bigint; END IF;
  RETURN redshift_double.strtol_general(s, base);
END $f$$d$;
  ELSE
    EXECUTE $d$CREATE OR REPLACE FUNCTION redshift_double.strtol(s text, base integer) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
  IF base = 16 AND length(s) BETWEEN 1 AND 15 AND translate(s, '0123456789abcdefABCDEF', '') = '' THEN RETURN ('x' || lpad(s, 16, '0'))::bit(64)::bigint; END IF;
  RETURN redshift_double.strtol_general(s, base);
END $f$$d$;
  END IF;
END $i$;
DROP FUNCTION IF EXISTS redshift_double.json_serialize_checked(text);
DROP FUNCTION IF EXISTS redshift_double.json_serialize(pg_catalog.super);
-- Large or compressed documents (whose text may pass the VARCHAR limit) are serialized and checked once.
CREATE OR REPLACE FUNCTION redshift_double.json_serialize_checked(x pg_catalog.super) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
  t text;
  r text;
BEGIN
  t := x::jsonb::text;
  r := ${compactJsonbSql('t')};
  IF octet_length(r) > 65535 THEN
    RAISE EXCEPTION 'JSON_SERIALIZE: the JSON text is % bytes, over the VARCHAR limit of 65535', octet_length(r) USING ERRCODE = '22001';
  END IF;
  RETURN r;
END $f$;
-- Inlined into the query (one expression over the column; STABLE, as pg_column_size is): a document stored in at most 8000
-- uncompressed bytes cannot make more than 65535 bytes of text (an escaped control character,
-- six bytes of text, is the most one byte of jsonb can become).
CREATE OR REPLACE FUNCTION redshift_double.json_serialize(x pg_catalog.super) RETURNS text LANGUAGE sql STABLE AS $f$
SELECT CASE WHEN x IS NULL THEN 'null'
  WHEN pg_column_size(x) > 8000 OR pg_column_compression(x) IS NOT NULL THEN redshift_double.json_serialize_checked(x)
  ELSE ${compactJsonbSql('x::jsonb::text')} END $f$;
`;
