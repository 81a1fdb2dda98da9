import type pg from 'pg';
import type { CopyMode } from '../sync/types.js';
import type { PgTypeKind } from './types.js';

/**
 * Discovery: which tables and views a source offers, and what keys a sync can use.
 * Reads the source catalog only.
 */
export interface DiscoveredColumn {
  name: string;
  /** format_type() of the column. */
  type: string;
  notNull: boolean;
  kind: PgTypeKind;
  /** A domain's base type (format_type), else null. */
  baseType: string | null;
  /** The column default as SQL (pg_get_expr), else null. */
  defaultExpr: string | null;
}

export type RelationKind = 'table' | 'partitioned table' | 'view' | 'materialized view' | 'foreign table';

export interface DiscoveredTable {
  schema: string;
  name: string;
  kind: RelationKind;
  columns: DiscoveredColumn[];
  primaryKey: string[];
  /** Where the key came from: `primary key`, `unique index "x"`, or null. */
  keySource: string | null;
  updatedKey: string | null;
  /** Whether some index leads with the updated key. */
  updatedKeyIndexed: boolean;
  copyMode: CopyMode;
  /** Why this copy mode, in words. */
  reason: string;
  warnings: string[];
}

export interface DiscoverOptions {
  /** Source schemas to look in (default `public`). */
  schemas?: string[];
  /** Shell globs on `schema.table` (or bare `table`); none = everything. */
  include?: string[];
  exclude?: string[];
  /** Keep migration bookkeeping tables (skipped by default). */
  keepBookkeeping?: boolean;
}

/** Tables that migration tools keep for themselves: never worth syncing. */
export const BOOKKEEPING_TABLES = [
  '_prisma_migrations',
  'schema_migrations',
  'ar_internal_metadata',
  'knex_migrations*',
  'flyway_schema_history',
  'typeorm_migrations',
  'migrations',
  'django_migrations',
  'alembic_version',
  'goose_db_version',
  '__EFMigrationsHistory',
  'SequelizeMeta',
  'doctrine_migration_versions',
  'databasechangelog',
  'databasechangeloglock',
  'pgmigrations',
  '_sqlx_migrations',
  '__diesel_schema_migrations',
  'gorp_migrations',
  'mikro_orm_migrations',
  'schema_version',
] as const;

const UPDATED_KEY_NAMES = [
  'updated_at',
  'updatedat',
  'updated_on',
  'updatedon',
  'modified_at',
  'modifiedat',
  'modified_on',
  'last_modified',
  'lastmodified',
  'last_modified_at',
  'last_updated',
  'last_updated_at',
  'lastupdated',
  'update_time',
  'updated_time',
  'modified',
  'updated',
  'mtime',
];

/** Shell-style glob: `*` any run of characters, `?` one character, everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 's');
}

export function matchesAnyGlob(globs: readonly string[], schema: string, name: string): boolean {
  return globs.some((g) => {
    const re = globToRegExp(g);
    return re.test(`${schema}.${name}`) || re.test(name);
  });
}

export function isBookkeepingTable(name: string): boolean {
  return BOOKKEEPING_TABLES.some((g) => globToRegExp(g.toLowerCase()).test(name.toLowerCase()));
}

/** Whether a column looks like an "updated at" timestamp by name. */
export function looksLikeUpdatedKey(name: string): boolean {
  return UPDATED_KEY_NAMES.includes(name.toLowerCase().replace(/[^a-z_]/g, ''));
}

const TIMESTAMPISH = /^(timestamp(\(\d\))?( with(out)? time zone)?|date)$/;

/** The pure part of discovery: keys and copy mode from catalog facts. */
export function chooseCopyMode(t: {
  kind: RelationKind;
  columns: DiscoveredColumn[];
  primaryKey: string[];
  keySource: string | null;
  indexedLeading: ReadonlySet<string>;
}): Pick<DiscoveredTable, 'updatedKey' | 'updatedKeyIndexed' | 'copyMode' | 'reason' | 'warnings'> {
  const warnings: string[] = [];
  const candidates = t.columns.filter((c) => looksLikeUpdatedKey(c.name) && TIMESTAMPISH.test(c.type));
  // Prefer the most specific name (updated_at over updated), then an indexed one.
  candidates.sort((a, b) => UPDATED_KEY_NAMES.indexOf(a.name.toLowerCase()) - UPDATED_KEY_NAMES.indexOf(b.name.toLowerCase()) || Number(t.indexedLeading.has(b.name)) - Number(t.indexedLeading.has(a.name)));
  const uk = candidates[0] ?? null;
  const ukIndexed = uk ? t.indexedLeading.has(uk.name) : false;
  if (t.primaryKey.length > 0 && uk) {
    if (!ukIndexed && t.kind !== 'view') {
      warnings.push(`updated key "${uk.name}" has no index leading with it: every incremental sync scans the whole table (CREATE INDEX ON ... ("${uk.name}"))`);
    }
    if (!uk.notNull) warnings.push(`updated key "${uk.name}" is nullable: rows with NULL there are never picked up by incremental syncs`);
    return {
      updatedKey: uk.name,
      updatedKeyIndexed: ukIndexed,
      copyMode: 'INSERT_AND_UPDATE',
      reason: `${t.keySource} (${t.primaryKey.join(', ')}) and updated key "${uk.name}" (${uk.type}): new and changed rows are merged by key`,
      warnings,
    };
  }
  if (t.primaryKey.length > 0) {
    return {
      updatedKey: null,
      updatedKeyIndexed: false,
      copyMode: 'INSERT_ONLY',
      reason: `${t.keySource} (${t.primaryKey.join(', ')}) but no updated_at-like timestamp column: only new keys are copied (updates and deletes are not seen)`,
      warnings,
    };
  }
  return {
    updatedKey: null,
    updatedKeyIndexed: false,
    copyMode: 'FULL_DATA_SYNC',
    reason:
      t.kind === 'view' || t.kind === 'materialized view'
        ? `${t.kind} without a key: the whole ${t.kind} is copied every sync (set primary_key and updated_key in the tables row to sync incrementally)`
        : 'no primary key or unique not-null index: the whole table is copied every sync',
    warnings,
  };
}

const KIND: Record<string, RelationKind> = { r: 'table', p: 'partitioned table', v: 'view', m: 'materialized view', f: 'foreign table' };

interface RelRow {
  oid: number;
  schema: string;
  name: string;
  relkind: string;
}

/** Lists tables and views in the chosen schemas, with keys, updated key and copy mode. */
export async function discover(db: pg.ClientBase, opts: DiscoverOptions = {}): Promise<DiscoveredTable[]> {
  const schemas = opts.schemas && opts.schemas.length > 0 ? opts.schemas : ['public'];
  const rels = await db.query<RelRow>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
     ORDER BY n.nspname, c.relname`,
    [schemas],
  );
  const picked = rels.rows.filter(
    (r) =>
      (!opts.include || opts.include.length === 0 || matchesAnyGlob(opts.include, r.schema, r.name)) &&
      !(opts.exclude && matchesAnyGlob(opts.exclude, r.schema, r.name)) &&
      (opts.keepBookkeeping || !isBookkeepingTable(r.name)),
  );
  const out: DiscoveredTable[] = [];
  for (const r of picked) out.push(await describeRelation(db, r));
  return out;
}

async function describeRelation(db: pg.ClientBase, r: RelRow): Promise<DiscoveredTable> {
  const cols = await db.query<{ name: string; type: string; not_null: boolean; typtype: PgTypeKind; base_type: string | null; default_expr: string | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            t.typtype::text AS typtype,
            CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
            pg_get_expr(d.adbin, d.adrelid) AS default_expr
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`,
    [r.oid],
  );
  const columns: DiscoveredColumn[] = cols.rows.map((c) => ({ name: c.name, type: c.type, notNull: c.not_null, kind: c.typtype, baseType: c.base_type, defaultExpr: c.default_expr }));
  // Indexes: the columns of each (expression indexes give attnum 0 and are skipped for keys).
  const idx = await db.query<{ name: string; primary: boolean; unique: boolean; partial: boolean; columns: Array<string | null> }>(
    `SELECT ic.relname AS name, i.indisprimary AS primary, i.indisunique AS unique, (i.indpred IS NOT NULL) AS partial,
            ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                  LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  ORDER BY k.ord)::text[] AS columns
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
     WHERE i.indrelid = $1 AND i.indisvalid
     ORDER BY i.indisprimary DESC, array_length(i.indkey::int2[], 1), ic.relname`,
    [r.oid],
  );
  const byName = new Map(columns.map((c) => [c.name, c]));
  let primaryKey: string[] = [];
  let keySource: string | null = null;
  const pk = idx.rows.find((i) => i.primary);
  if (pk) {
    primaryKey = pk.columns as string[];
    keySource = 'primary key';
  } else {
    const uniq = idx.rows.find((i) => i.unique && !i.partial && i.columns.every((c) => c !== null && byName.get(c)?.notNull));
    if (uniq) {
      primaryKey = uniq.columns as string[];
      keySource = `unique not-null index "${uniq.name}"`;
    }
  }
  const indexedLeading = new Set(idx.rows.filter((i) => !i.partial && i.columns[0]).map((i) => i.columns[0]!));
  const kind = KIND[r.relkind]!;
  const chosen = chooseCopyMode({ kind, columns, primaryKey, keySource, indexedLeading });
  return { schema: r.schema, name: r.name, kind, columns, primaryKey, keySource, ...chosen };
}
