import { ident } from './sql-lexer.js';

/**
 * Trailing blanks in VARCHAR and CHAR values are insignificant in comparisons
 * (r_Character_types.html, "Significance of trailing blanks"), while the stored value keeps
 * them (OCTET_LENGTH, MD5, ||, output).
 *
 * How: in each database the double serves, the built-in `text` comparison operators
 * (`=`, `<>`, `<`, `<=`, `>`, `>=`) and the `text_ops` btree and hash support functions are
 * pointed at Postgres's own C implementations for `bpchar` (bpchareq, bpcharcmp,
 * bpchar_sortsupport, hashbpchar, ...), declared again with `text` arguments (LANGUAGE
 * internal). Those functions compare and hash the value without its trailing blanks but
 * never change it, so no cast strips anything. VARCHAR uses text's operators and operator
 * classes (binary coercible), so every comparison, IN, join (hash, merge, nested loop),
 * GROUP BY, DISTINCT, PARTITION BY, COUNT(DISTINCT) and UNION on VARCHAR, CHAR and string
 * expressions ignores trailing blanks; nondeterministic (case-insensitive) collations keep
 * working because the bpchar functions handle them. Measured alternative (README): operators
 * in a schema on the search_path shadow `text = text` only where the path puts them before
 * pg_catalog, GROUP BY on text expressions still used text's default opclass, and
 * `char = varchar` became ambiguous.
 *
 * The catalog rows are changed with plain UPDATEs (the upstream user is a superuser); the
 * double refuses to serve template databases, so a new database never inherits them.
 */
const OPERATORS: Array<[string, string, string]> = [
  ['=', 'text_eq', 'bpchareq'],
  ['<>', 'text_ne', 'bpcharne'],
  ['<', 'text_lt', 'bpcharlt'],
  ['<=', 'text_le', 'bpcharle'],
  ['>', 'text_gt', 'bpchargt'],
  ['>=', 'text_ge', 'bpcharge'],
];

/** btree / hash support functions of text_ops: [access method, support number, function, args, returns, C symbol]. */
const SUPPORT: Array<[string, number, string, string, string, string]> = [
  ['btree', 1, 'text_cmp', 'text, text', 'integer', 'bpcharcmp'],
  ['btree', 2, 'text_sortsupport', 'internal', 'void', 'bpchar_sortsupport'],
  ['hash', 1, 'text_hash', 'text', 'integer', 'hashbpchar'],
  ['hash', 2, 'text_hash_extended', 'text, bigint', 'bigint', 'hashbpcharextended'],
];

const fn = (name: string) => `redshift_double.${ident(`blanks_${name}`)}`;

export const TRAILING_BLANKS_SQL = [
  ...OPERATORS.map(
    ([, name, symbol]) =>
      `CREATE OR REPLACE FUNCTION ${fn(name)}(text, text) RETURNS boolean LANGUAGE internal IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE AS '${symbol}';`,
  ),
  ...SUPPORT.map(
    ([, , name, args, returns, symbol]) =>
      `CREATE OR REPLACE FUNCTION ${fn(name)}(${args}) RETURNS ${returns} LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS '${symbol}';`,
  ),
  ...OPERATORS.map(
    ([op, name]) =>
      `UPDATE pg_catalog.pg_operator SET oprcode = '${fn(name)}'::regproc WHERE oid = 'pg_catalog.${op}(pg_catalog.text, pg_catalog.text)'::regoperator AND oprcode <> '${fn(name)}'::regproc;`,
  ),
  ...SUPPORT.map(
    ([am, num, name]) =>
      `UPDATE pg_catalog.pg_amproc p SET amproc = '${fn(name)}'::regproc FROM pg_catalog.pg_opfamily f, pg_catalog.pg_am a
  WHERE p.amprocfamily = f.oid AND f.opfmethod = a.oid AND a.amname = '${am}' AND f.opfname = 'text_ops' AND f.opfnamespace = 'pg_catalog'::regnamespace
    AND p.amproclefttype = 'pg_catalog.text'::regtype AND p.amprocrighttype = 'pg_catalog.text'::regtype AND p.amprocnum = ${num} AND p.amproc <> '${fn(name)}'::regproc;`,
  ),
  // btree "equal image" (deduplication) would merge 'abc' and 'abc ' in an index: no longer true.
  `DELETE FROM pg_catalog.pg_amproc p USING pg_catalog.pg_opfamily f, pg_catalog.pg_am a
  WHERE p.amprocfamily = f.oid AND f.opfmethod = a.oid AND a.amname = 'btree' AND f.opfname = 'text_ops' AND f.opfnamespace = 'pg_catalog'::regnamespace
    AND p.amproclefttype = 'pg_catalog.text'::regtype AND p.amprocrighttype = 'pg_catalog.text'::regtype AND p.amprocnum = 4;`,
  // A value longer than its VARCHAR(n) only by blanks is cut to n bytes, not refused. Postgres's
  // varchar(n) already cuts blanks beyond n characters; this trigger handles the byte limit.
  `CREATE OR REPLACE FUNCTION redshift_double.cut_excess_blanks() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  j jsonb;
  r record;
  v text;
  kept text;
  changes jsonb := '{}';
BEGIN
  j := to_jsonb(NEW);
  FOR r IN SELECT a.attname::text AS name, a.atttypmod - 4 AS lim FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped
             AND a.atttypid = 'pg_catalog.varchar'::regtype AND a.atttypmod > 4 LOOP
    v := j ->> r.name;
    IF v IS NOT NULL AND octet_length(v) > r.lim THEN
      kept := rtrim(v, ' ');
      IF octet_length(kept) <= r.lim THEN
        changes := changes || jsonb_build_object(r.name, kept || repeat(' ', r.lim - octet_length(kept)));
      END IF;
    END IF;
  END LOOP;
  IF changes <> '{}'::jsonb THEN NEW := jsonb_populate_record(NEW, changes); END IF;
  RETURN NEW;
END $f$;`,
].join('\n');

/**
 * Attaches the excess-blanks trigger to a table (idempotent). The WHEN clause runs the
 * function only for rows where some field ends with a blank (a field ending in a blank is
 * quoted in the row's text form, so ` "` precedes a `,` or the closing `)`); it reads the
 * whole row, not columns, so DROP COLUMN and ALTER COLUMN TYPE are not blocked. Cost measured
 * on the upstream: about 1 us per inserted row; about 25 us for rows that take the function.
 */
export function excessBlanksTrigger(tableText: string): string {
  return `CREATE OR REPLACE TRIGGER rsdbl_excess_blanks BEFORE INSERT OR UPDATE ON ${tableText} FOR EACH ROW WHEN (NEW::text ~ ' "[,)]') EXECUTE FUNCTION redshift_double.cut_excess_blanks()`;
}
