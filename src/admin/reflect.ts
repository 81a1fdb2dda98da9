import type pg from 'pg';
import { readGrants } from '../redshift/privileges.js';
import { grant as grantStatement, type Grant } from '../redshift/sql.js';
import { quoteIdent, quoteIdents } from '../sql/quote.js';
import { batchOf, type Batch } from './batch.js';
import { relationSql, relationText, type Relation } from './names.js';

/**
 * Reflection: reads a table's or view's definition from the catalog (pg_attribute,
 * pg_attrdef, pg_constraint, pg_table_def for encodings and keys, svv_table_info or
 * pg_class.reldiststyle for the distribution style, svv_relation_privileges and
 * svv_column_privileges for grants, relacl where those views do not exist) and writes the
 * DDL that recreates it elsewhere. Catalog queries are exported for the snapshot tests;
 * `createTableSql` and friends are pure.
 */
export type Queryable = Pick<pg.ClientBase, 'query'>;

export type DistStyle = 'AUTO' | 'EVEN' | 'KEY' | 'ALL';
export type SortKeyType = 'COMPOUND' | 'INTERLEAVED';

export interface ColumnDef {
  name: string;
  /** Type as Redshift prints it: `integer`, `character varying(20)`, `numeric(18,2)`, `super`. */
  type: string;
  notNull: boolean;
  /** Default expression, as the catalog prints it. */
  default: string | null;
  identity: { seed: string; step: string } | null;
  /** ENCODE of the column (`raw` for the catalog's `none`), or null when unknown. */
  encoding: string | null;
}

export interface TableDef extends Relation {
  columns: ColumnDef[];
  /** null: not known (the DDL then says nothing and Redshift picks its default, AUTO). */
  diststyle: DistStyle | null;
  distkey: string | null;
  sortkeyType: SortKeyType | null;
  sortkey: string[];
  primaryKey: string[];
  owner: string | null;
  grants: Grant[];
}

export interface Privileges {
  relation: Relation;
  kind: 'table' | 'view' | 'other';
  owner: string;
  grants: Grant[];
}

export class ReflectError extends Error {
  override name = 'ReflectError';
}

// ---------------------------------------------------------------------------------------
// Catalog queries
// ---------------------------------------------------------------------------------------

/** Columns in order, with type, NOT NULL and default ($1 schema, $2 table). */
export const COLUMNS_SQL = `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       pg_get_expr(d.adbin, d.adrelid) AS default_expr
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`;

/**
 * Encodings, dist key and sort key positions. pg_table_def lists only tables on the
 * search_path: the caller puts the schema on it first (see `withSchemaOnSearchPath`).
 */
export const TABLE_DEF_SQL = `SELECT "column" AS name, type, TRIM(encoding) AS encoding, distkey, sortkey
FROM pg_table_def WHERE schemaname = $1 AND tablename = $2`;

/** The distribution style as svv_table_info prints it (`KEY(id)`, `EVEN`, `ALL`, `AUTO(ALL)`...); no row for empty tables. */
export const TABLE_INFO_SQL = `SELECT diststyle, sortkey1 FROM svv_table_info WHERE schema = $1 AND "table" = $2`;

/** Whether pg_class has Redshift's reldiststyle column. */
export const HAS_RELDISTSTYLE_SQL = `SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'pg_catalog.pg_class'::regclass AND attname = 'reldiststyle'`;

export const RELDISTSTYLE_SQL = `SELECT c.reldiststyle AS reldiststyle FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`;

/** Primary key columns, in key order. */
export const PRIMARY_KEY_SQL = `SELECT a.attname AS name, k.pos
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN generate_series(1, 32) AS k(pos)
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = con.conkey[k.pos]
WHERE n.nspname = $1 AND c.relname = $2 AND con.contype = 'p'
ORDER BY k.pos`;

/** Owner, ACL and kind of any relation. */
export const OWNER_ACL_SQL = `SELECT pg_get_userbyid(c.relowner) AS owner, array_to_string(c.relacl, chr(10)) AS acl, c.relkind AS kind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2`;

export const VIEW_DEF_SQL = `SELECT pg_get_viewdef(c.oid, true) AS def, pg_get_userbyid(c.relowner) AS owner
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'v'`;

// ---------------------------------------------------------------------------------------
// Pure builders
// ---------------------------------------------------------------------------------------

/** Redshift prints identity columns' default as `"identity"(oid, n, '1,1'::text)`. */
export function parseIdentity(def: string | null): { seed: string; step: string } | null {
  const m = def?.match(/^"identity"\(\s*\d+\s*,\s*\d+\s*,\s*'(-?\d+)\s*,\s*(-?\d+)'(::text)?\s*\)$/);
  return m ? { seed: m[1]!, step: m[2]! } : null;
}

/** `KEY(id)`, `AUTO(KEY(id))`, `EVEN`, `ALL`, `AUTO(ALL)` -> style and key. */
export function parseDistStyle(text: string | null | undefined): { diststyle: DistStyle; distkey: string | null } | null {
  if (!text) return null;
  const t = text.trim();
  if (/^AUTO/i.test(t)) return { diststyle: 'AUTO', distkey: null };
  const key = t.match(/^KEY\((.*)\)$/i);
  if (key) return { diststyle: 'KEY', distkey: key[1]! };
  if (/^EVEN$/i.test(t)) return { diststyle: 'EVEN', distkey: null };
  if (/^ALL$/i.test(t)) return { diststyle: 'ALL', distkey: null };
  return null;
}

/** pg_class.reldiststyle: 0 EVEN, 1 KEY, 8 ALL, 9 AUTO. */
export function distStyleFromCode(code: number | null | undefined): DistStyle | null {
  return code === 0 ? 'EVEN' : code === 1 ? 'KEY' : code === 8 ? 'ALL' : code === 9 ? 'AUTO' : null;
}

export interface CreateTableOptions {
  /** Create under another name (same columns and keys). */
  as?: Relation;
}

function columnSql(c: ColumnDef): string {
  let s = `${quoteIdent(c.name)} ${c.type}`;
  if (c.identity) s += ` IDENTITY(${c.identity.seed}, ${c.identity.step})`;
  else if (c.default !== null) s += ` DEFAULT ${c.default}`;
  if (c.notNull) s += ' NOT NULL';
  if (c.encoding) s += ` ENCODE ${c.encoding}`;
  return s;
}

/** CREATE TABLE with columns, NOT NULL, defaults, ENCODE, primary key, DISTSTYLE/DISTKEY and SORTKEY. */
export function createTableSql(def: TableDef, opts: CreateTableOptions = {}): string {
  const target = opts.as ?? def;
  const elements = def.columns.map(columnSql);
  if (def.primaryKey.length > 0) elements.push(`PRIMARY KEY (${quoteIdents(def.primaryKey)})`);
  const lines = [`CREATE TABLE ${relationSql(target)} (`, elements.map((e) => `  ${e}`).join(',\n'), ')'];
  if (def.diststyle) lines.push(`DISTSTYLE ${def.diststyle}`);
  if (def.distkey) lines.push(`DISTKEY (${quoteIdent(def.distkey)})`);
  if (def.sortkey.length > 0) lines.push(`${def.sortkeyType ?? 'COMPOUND'} SORTKEY (${quoteIdents(def.sortkey)})`);
  return lines.join('\n');
}

/** One GRANT (users, GROUP, ROLE, PUBLIC; column grants; WITH GRANT OPTION): the sync engine's builder. */
export function grantSql(rel: Relation, g: Grant): string {
  return grantStatement(rel, g);
}

export function ownerSql(rel: Relation, owner: string): string {
  return `ALTER TABLE ${relationSql(rel)} OWNER TO ${quoteIdent(owner)}`;
}

/** ALTER ... OWNER and one GRANT per grantee. */
export function ownerAndGrantsSql(rel: Relation, owner: string | null, grants: readonly Grant[]): string[] {
  return [...(owner ? [ownerSql(rel, owner)] : []), ...grants.map((g) => grantSql(rel, g))];
}

/** The whole definition as a batch: CREATE TABLE, owner, grants. */
export function tableDefinitionBatch(def: TableDef, opts: CreateTableOptions = {}): Batch {
  const rel = opts.as ?? def;
  return batchOf(createTableSql(def, opts), ownerAndGrantsSql(rel, def.owner, def.grants));
}

/** `CREATE OR REPLACE VIEW` from pg_get_viewdef (late-binding views come back whole). */
export function createViewSql(rel: Relation, viewdef: string): string {
  const body = viewdef.trim().replace(/;\s*$/, '');
  if (/^create\s/i.test(body)) return body;
  return `CREATE OR REPLACE VIEW ${relationSql(rel)} AS\n${body}`;
}

// ---------------------------------------------------------------------------------------
// Reading the catalog
// ---------------------------------------------------------------------------------------

/** Runs fn with `schema` first on the search_path (pg_table_def only shows visible tables), then restores it. */
export async function withSchemaOnSearchPath<T>(db: Queryable, schema: string, fn: () => Promise<T>): Promise<T> {
  const old = (await db.query<{ p: string }>(`SELECT current_setting('search_path') AS p`)).rows[0]?.p ?? '"$user", public';
  await db.query(`SET search_path TO ${quoteIdent(schema)}`);
  try {
    return await fn();
  } finally {
    await db.query(`SET search_path TO ${old || "''"}`);
  }
}

/**
 * Owner and grants of any relation (table, view, ...): from svv_relation_privileges and
 * svv_column_privileges (users, groups, roles, PUBLIC, column grants), else from relacl.
 */
export async function readPrivileges(db: Queryable, rel: Relation): Promise<Privileges> {
  const r = await db.query<{ owner: string; acl: string | null; kind: string }>(OWNER_ACL_SQL, [rel.schema, rel.name]);
  const row = r.rows[0];
  if (!row) throw new ReflectError(`relation ${relationText(rel)} does not exist`);
  const { grants } = await readGrants(db, rel, row.owner, row.acl);
  const kind = row.kind === 'r' ? 'table' : row.kind === 'v' ? 'view' : 'other';
  return { relation: rel, kind, owner: row.owner, grants };
}

export function privilegesBatch(p: Privileges): Batch {
  return batchOf(ownerAndGrantsSql(p.relation, p.owner, p.grants));
}

export async function readTableDef(db: Queryable, rel: Relation): Promise<TableDef> {
  const cols = await db.query<{ name: string; type: string; not_null: boolean; default_expr: string | null }>(COLUMNS_SQL, [rel.schema, rel.name]);
  if (cols.rows.length === 0) throw new ReflectError(`table ${relationText(rel)} does not exist`);
  const defs = await withSchemaOnSearchPath(db, rel.schema, () =>
    db.query<{ name: string; type: string; encoding: string | null; distkey: boolean; sortkey: number }>(TABLE_DEF_SQL, [rel.schema, rel.name]),
  );
  const byName = new Map(defs.rows.map((d) => [d.name, d]));
  const columns: ColumnDef[] = cols.rows.map((c) => {
    const d = byName.get(c.name);
    const identity = parseIdentity(c.default_expr);
    const enc = d?.encoding?.trim().toLowerCase() || null;
    return {
      name: c.name,
      type: d?.type ?? c.type,
      notNull: c.not_null,
      default: identity ? null : c.default_expr,
      identity,
      encoding: enc === null ? null : enc === 'none' ? 'raw' : enc,
    };
  });
  const keyed = defs.rows.filter((d) => Number(d.sortkey) !== 0).sort((a, b) => Math.abs(Number(a.sortkey)) - Math.abs(Number(b.sortkey)));
  const sortkey = keyed.map((d) => d.name);
  const sortkeyType: SortKeyType | null = sortkey.length === 0 ? null : keyed.some((d) => Number(d.sortkey) < 0) ? 'INTERLEAVED' : 'COMPOUND';
  let distkey = defs.rows.find((d) => d.distkey)?.name ?? null;
  let diststyle: DistStyle | null = null;
  const hasRel = await db.query<{ n: number }>(HAS_RELDISTSTYLE_SQL);
  if (Number(hasRel.rows[0]?.n) > 0) {
    const r = await db.query<{ reldiststyle: number }>(RELDISTSTYLE_SQL, [rel.schema, rel.name]);
    diststyle = distStyleFromCode(r.rows[0]?.reldiststyle);
  }
  if (!diststyle) {
    const info = await db.query<{ diststyle: string | null }>(TABLE_INFO_SQL, [rel.schema, rel.name]);
    const parsed = parseDistStyle(info.rows[0]?.diststyle);
    if (parsed) {
      diststyle = parsed.diststyle;
      distkey ??= parsed.distkey;
    }
  }
  if (!diststyle && distkey) diststyle = 'KEY';
  if (diststyle !== 'KEY') distkey = null;
  const pk = await db.query<{ name: string }>(PRIMARY_KEY_SQL, [rel.schema, rel.name]);
  const priv = await readPrivileges(db, rel);
  return {
    schema: rel.schema,
    name: rel.name,
    columns,
    diststyle,
    distkey,
    sortkeyType,
    sortkey,
    primaryKey: pk.rows.map((x) => x.name),
    owner: priv.owner,
    grants: priv.grants,
  };
}

export async function readViewDefinition(db: Queryable, rel: Relation): Promise<Batch> {
  const r = await db.query<{ def: string | null; owner: string }>(VIEW_DEF_SQL, [rel.schema, rel.name]);
  const row = r.rows[0];
  if (!row) throw new ReflectError(`view ${relationText(rel)} does not exist`);
  if (!row.def) throw new ReflectError(`view ${relationText(rel)}: the catalog returned no definition`);
  const priv = await readPrivileges(db, rel);
  return batchOf(createViewSql(rel, row.def), privilegesBatch(priv));
}
