import type pg from 'pg';
import { expect } from 'vitest';

type Run = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const qualified = (schema: string, name: string) => `${ident(schema)}.${ident(name)}`;

/**
 * Every row of a table as text, one array per row, sorted in JavaScript (so collations play
 * no part). `character(n)` values are compared without their blank padding, which Postgres
 * drops when it casts them to text (the target keeps it in a VARCHAR).
 */
export async function allRows(run: Run, schema: string, name: string, columns: readonly string[], charColumns: ReadonlySet<string> = new Set()): Promise<string[]> {
  // CAST ... AS VARCHAR(65535) is what both Postgres and Redshift accept (Redshift's TEXT is VARCHAR(256)).
  const list = columns.map((c, i) => `${charColumns.has(c) ? `RTRIM(CAST(${ident(c)} AS VARCHAR(65535)))` : `CAST(${ident(c)} AS VARCHAR(65535))`} AS c${i}`).join(', ');
  const r = await run(`SELECT ${list} FROM ${qualified(schema, name)}`);
  return r.rows.map((x) => JSON.stringify(columns.map((_, i) => x[`c${i}`] ?? null))).sort();
}

/** Columns of a source relation and which of them are character(n). */
export async function sourceColumnsOf(run: Run, schema: string, name: string): Promise<{ columns: string[]; chars: Set<string> }> {
  const r = await run(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [schema, name],
  );
  return { columns: r.rows.map((x) => x.name as string), chars: new Set(r.rows.filter((x) => /^(character|bpchar)\b/.test(x.type as string)).map((x) => x.name as string)) };
}

/**
 * Asserts that a target table holds exactly the source's rows: every column of every row,
 * as text, no row missing, none extra, none duplicated. Returns the row count.
 */
export async function expectReplica(
  s: { source: Run; redshift: Run },
  source: { schema?: string; name: string },
  target: { schema: string; name?: string },
): Promise<number> {
  const schema = source.schema ?? 'public';
  const { columns, chars } = await sourceColumnsOf(s.source, schema, source.name);
  const want = await allRows(s.source, schema, source.name, columns, chars);
  const got = await allRows(s.redshift, target.schema, target.name ?? source.name, columns, chars);
  expect(got, `${schema}.${source.name}: target rows differ from the source`).toEqual(want);
  return want.length;
}
