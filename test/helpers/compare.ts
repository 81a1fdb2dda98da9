import type pg from 'pg';
import { expect } from 'vitest';

type Run = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const qualified = (schema: string, name: string) => `${ident(schema)}.${ident(name)}`;

/** One column as comparable text on each side. */
export interface ColumnText {
  name: string;
  /** SQL over the source column giving its text. */
  source: string;
  /** SQL over the target column giving its text (Postgres and Redshift both accept it). */
  target: string;
}

/**
 * How a source column compares with its target column, as text. The source side is the
 * type's output function (`format('%s', x)`: what COPY writes, e.g. inet without /32); the
 * target side is CAST ... AS VARCHAR(65535), which both Postgres and Redshift accept
 * (Redshift's TEXT is VARCHAR(256)). NULL stays NULL; booleans read `true`/`false` on both.
 * - character(n): blank padding is dropped on both sides (the target keeps it in a VARCHAR);
 * - json: compared as jsonb's canonical text (SUPER normalizes whitespace and key order);
 * - numeric: trailing zeros after the point are dropped on both sides (a NUMERIC(38,10)
 *   prints 1.5 as 1.5000000000); lost digits still differ.
 */
export function columnText(name: string, type: string): ColumnText {
  const c = ident(name);
  const out = (x: string) => `CASE WHEN ${x} IS NULL THEN NULL ELSE format('%s', ${x}) END`;
  const text = (x: string) => `CAST(${x} AS VARCHAR(65535))`;
  const trimZeros = (t: string) => `CASE WHEN ${t} LIKE '%.%' THEN RTRIM(RTRIM(${t}, '0'), '.') ELSE ${t} END`;
  if (/^(character|bpchar)\b/.test(type)) return { name, source: `RTRIM(${out(c)})`, target: `RTRIM(${text(c)})` };
  if (type === 'json') return { name, source: out(`CAST(${c} AS jsonb)`), target: text(c) };
  if (/^numeric\b/.test(type)) return { name, source: trimZeros(out(c)), target: trimZeros(text(c)) };
  if (type === 'boolean') return { name, source: text(c), target: text(c) };
  return { name, source: out(c), target: text(c) };
}

/** Every row of a table as text, one JSON array per row, sorted in JavaScript (collations play no part). */
export async function allRows(run: Run, schema: string, name: string, exprs: readonly string[]): Promise<string[]> {
  const r = await run(`SELECT ${exprs.map((e, i) => `${e} AS c${i}`).join(', ')} FROM ${qualified(schema, name)}`);
  return r.rows.map((x) => JSON.stringify(exprs.map((_, i) => x[`c${i}`] ?? null))).sort();
}

/** Columns of a source relation, as comparable text. */
export async function sourceColumnsOf(run: Run, schema: string, name: string): Promise<ColumnText[]> {
  const r = await run(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [schema, name],
  );
  return r.rows.map((x) => columnText(x.name as string, x.type as string));
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
  const cols = await sourceColumnsOf(s.source, schema, source.name);
  const targetTypes = await s.redshift(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
    [target.schema, target.name ?? source.name],
  );
  const numericTarget = new Set(targetTypes.rows.filter((x) => /^numeric\b/.test(x.type as string)).map((x) => x.name as string));
  // A source column that is not numeric (an integer) into a NUMERIC target: trim the target's zeros too.
  const targetExprs = cols.map((c) => (numericTarget.has(c.name) && !c.target.startsWith('CASE') ? columnText(c.name, 'numeric').target : c.target));
  const want = await allRows(s.source, schema, source.name, cols.map((c) => c.source));
  const got = await allRows(s.redshift, target.schema, target.name ?? source.name, targetExprs);
  expect(got, `${schema}.${source.name}: target rows differ from the source (columns ${cols.map((c) => c.name).join(', ')})`).toEqual(want);
  return want.length;
}
