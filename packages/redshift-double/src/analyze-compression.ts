import type { CommandContext, CommandResult } from './context.js';
import { RsError } from './errors.js';
import { lit, significant, syntaxAt, tokenize, TokenCursor } from './sql-lexer.js';

/**
 * ANALYZE COMPRESSION [ table_name [ ( column_name [, ...] ) ] ] [ COMPROWS numrows ]
 * (r_ANALYZE_COMPRESSION.html). The report has one row per column: Table, Column, Encoding,
 * Est_reduction_pct. It takes an exclusive lock on each table analyzed; the guide does not
 * forbid it in a transaction block, so it may run in one (the lock then lasts to the end).
 *
 * Redshift samples the data and its heuristic is not public. The double chooses from the
 * column's type alone, deterministically:
 *   - columns outside the column list: `N/A` (as in the guide's example);
 *   - sort key columns: their current encoding, unanalyzed (as the guide says), `raw` when none;
 *   - SMALLINT, INTEGER, BIGINT, DECIMAL, DATE, TIMESTAMP, TIMESTAMPTZ: `az64`;
 *   - every other type (CHAR, VARCHAR, BOOLEAN, REAL, DOUBLE PRECISION, TIME, TIMETZ, SUPER): `zstd`.
 * Est_reduction_pct is 0.00 on every row: the double stores nothing compressed, so it has
 * nothing to estimate from. Unlike Redshift it recommends even for tables too small for a
 * meaningful sample (the guide says Redshift then gives no recommendation).
 */
export interface AnalyzeCompressionCommand {
  kind: 'analyzeCompression';
  /** Source text of the table name, or null for every table of the database. */
  table: string | null;
  columns: string[] | null;
  comprows: number | null;
}

/** The report's columns, sent as text (Est_reduction_pct too: `0.00`). */
export const ANALYZE_COMPRESSION_COLUMNS = ['Table', 'Column', 'Encoding', 'Est_reduction_pct'];

export function parseAnalyzeCompression(sql: string): AnalyzeCompressionCommand {
  const c = new TokenCursor(significant(tokenize(sql)), sql);
  c.expectWord('analyze');
  c.expectWord('compression');
  let table: string | null = null;
  let columns: string[] | null = null;
  let comprows: number | null = null;
  if (!c.done() && !c.isWord('comprows')) {
    table = c.qualifiedName().text;
    if (c.acceptOp('(')) {
      columns = [c.ident()];
      while (c.acceptOp(',')) columns.push(c.ident());
      c.expectOp(')');
    }
  }
  if (c.acceptWord('comprows')) {
    const t = c.next();
    if (t.type !== 'number' || !/^\d+$/.test(t.text)) throw syntaxAt(t);
    comprows = Number(t.text);
    if (comprows < 1000 || comprows > 1_000_000_000) throw new RsError('COMPROWS must be a number between 1000 and 1000000000', 'XX000');
    if (table === null) throw new RsError('COMPROWS needs a table name: ANALYZE COMPRESSION table_name COMPROWS numrows', 'XX000');
  }
  // One table at most (a comma here is a second table name).
  if (!c.done()) throw syntaxAt(c.peek());
  return { kind: 'analyzeCompression', table, columns, comprows };
}

const AZ64_TYPES = new Set(['int2', 'int4', 'int8', 'numeric', 'date', 'timestamp', 'timestamptz']);

/** The double's (documented, deterministic) choice for a column that is analyzed. */
export function suggestedEncoding(typname: string): string {
  return AZ64_TYPES.has(typname) ? 'az64' : 'zstd';
}

const TABLES_SQL = (table: string | null) => `
SELECT c.oid::int AS oid, c.relname, format('%I.%I', n.nspname, c.relname) AS qualified
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND ${table === null
  ? `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'redshift_double') AND (n.nspname NOT LIKE 'pg_temp_%' OR c.relnamespace = pg_my_temp_schema()) AND n.nspname NOT LIKE 'pg_toast_temp_%'`
  : `c.oid = ${lit(table)}::regclass`}
ORDER BY n.nspname, c.relname`;

const COLUMNS_SQL = (oid: number) => `
SELECT a.attname, COALESCE(bt.typname, t.typname) AS typname, (t.typname = 'super' AND t.typnamespace = 'pg_catalog'::regnamespace) AS is_super,
       a.attnum = ANY (COALESCE(tm.sortkey, '{}')) AS is_sortkey,
       COALESCE(cm.encoding, redshift_double.default_encoding(a.atttypid, a.attnum = ANY (COALESCE(tm.sortkey, '{}')))) AS current_encoding
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN redshift_double.table_meta tm ON tm.reloid = a.attrelid
LEFT JOIN redshift_double.column_meta cm ON cm.reloid = a.attrelid AND cm.attnum = a.attnum
WHERE a.attrelid = ${oid} AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`;

export async function runAnalyzeCompression(ctx: CommandContext, cmd: AnalyzeCompressionCommand): Promise<CommandResult> {
  const tables = (await ctx.query(TABLES_SQL(cmd.table))).rows.map(([oid, relname, qualified]) => ({ oid: Number(oid), relname: relname!, qualified: qualified! }));
  // The exclusive lock the guide documents (a one-statement transaction outside a block).
  if (tables.length > 0) {
    const lock = `LOCK TABLE ${tables.map((t) => t.qualified).join(', ')} IN ACCESS EXCLUSIVE MODE`;
    if (ctx.txStatus() === 'I') await ctx.query(`BEGIN; ${lock}; COMMIT`);
    else await ctx.query(lock);
  }
  const rows: Array<Array<string | null>> = [];
  for (const t of tables) {
    const cols = (await ctx.query(COLUMNS_SQL(t.oid))).rows.map(([name, typname, isSuper, isSortkey, current]) => ({
      name: name!,
      typname: isSuper === 't' ? 'super' : typname!,
      isSortkey: isSortkey === 't',
      current: current === 'none' ? 'raw' : current!,
    }));
    if (cmd.columns) {
      const have = new Set(cols.map((c) => c.name));
      const missing = cmd.columns.find((c) => !have.has(c));
      if (missing) throw new RsError(`column "${missing}" of relation "${t.relname}" does not exist`, '42703');
    }
    for (const col of cols) {
      const analyzed = cmd.columns === null || cmd.columns.includes(col.name);
      const encoding = !analyzed ? 'N/A' : col.isSortkey ? col.current : suggestedEncoding(col.typname);
      rows.push([t.relname, col.name, encoding, '0.00']);
    }
  }
  return { tag: 'ANALYZE COMPRESSION', rows: { columns: ANALYZE_COMPRESSION_COLUMNS, values: rows } };
}

