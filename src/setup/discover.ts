import type pg from 'pg';
import type { CopyMode } from '../metadata/types.js';
import { quoteIdent } from '../sql/quote.js';
import type { NumericProfile, PgTypeKind } from '../schema/types.js';

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
  /** pg_attribute.attidentity: 'a' (ALWAYS), 'd' (BY DEFAULT), or '' / undefined. */
  identity?: string;
  /** An unbounded numeric column: what its values need (see measureNumerics). */
  numeric?: NumericProfile | null;
}

/** A row trigger that runs BEFORE UPDATE, with its function's source. */
export interface UpdateTrigger {
  name: string;
  /** The trigger function, schema-qualified as the catalog prints it. */
  functionName: string;
  /** pg_proc.prosrc: the body of a PL/pgSQL function. */
  source: string;
  /** The trigger's arguments (e.g. moddatetime(column)). */
  args: string[];
}

export type RelationKind = 'table' | 'partitioned table' | 'view' | 'materialized view' | 'foreign table';

export interface DiscoveredTable extends CopyModeChoice {
  schema: string;
  name: string;
  kind: RelationKind;
  columns: DiscoveredColumn[];
  /** Where the key came from: `primary key`, `unique index "x"`, or null. */
  keySource: string | null;
  /** Rows, estimated (see `estimateRows`); null for views and foreign tables. */
  rows: RowEstimate | null;
}

export interface RowEstimate {
  rows: number;
  /** `catalog` (pg_class.reltuples) or `counted` (a count that stops past the threshold). */
  how: 'catalog' | 'counted';
}

export interface DiscoverOptions {
  /** Source schemas to look in (default `public`). */
  schemas?: string[];
  /** Shell globs on `schema.table` (or bare `table`); none = everything. */
  include?: string[];
  exclude?: string[];
  /** Keep migration bookkeeping tables (skipped by default). */
  keepBookkeeping?: boolean;
  /** Keyed tables without an updated key and fewer rows than this are FULL_DATA_SYNC (default 100,000). */
  fullSyncBelow?: number;
  /** Delete detection interval for keyed incremental tables of at least `fullSyncBelow` rows (default 60). */
  deleteCheckMinutes?: number;
}

export const DEFAULT_FULL_SYNC_BELOW = 100_000;
export const DEFAULT_DELETE_CHECK_MINUTES = 60;

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

/**
 * Names that real schemas give an "updated at" column, compared after lower-casing and
 * dropping `_` (so `last_update`, `lastUpdate` and `LastUpdate` are one name), most
 * specific first: the earlier name wins when a table has two.
 */
const UPDATED_KEY_NAMES = [
  'updatedat', 'updatedon', 'updatedtime', 'updatedts', 'updatedate', 'updateddate', 'updatetime', 'updatets',
  'modifiedat', 'modifiedon', 'modifiedtime', 'modifieddate', 'modifydate', 'modifytime', 'datemodified', 'dtmodified',
  'lastmodified', 'lastmodifiedat', 'lastmodifieddate', 'lastmodifiedon', 'lastupdated', 'lastupdatedat', 'lastupdate',
  'lastupdatedate', 'lastupdatetime', 'lastchanged', 'lastchangedat', 'changedat', 'changedon', 'changedate', 'changetime',
  'rowupdatedat', 'rowmodifiedat', 'recordupdatedat', 'sysmodified', 'tsupdated', 'tsmodified', 'updated', 'modified', 'changed', 'mtime',
];

const normalizeName = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Whether a column looks like an "updated at" timestamp by name. */
export function looksLikeUpdatedKey(name: string): boolean {
  return UPDATED_KEY_NAMES.includes(normalizeName(name));
}

const TIMESTAMPISH = /^(timestamp(\(\d\))?( with(out)? time zone)?|date)$/;

/** SQL that reads the clock: what a trigger or a default uses to stamp a row. */
const CLOCK = /\b(now|clock_timestamp|statement_timestamp|transaction_timestamp)\s*\(\s*\)|\b(current_timestamp|localtimestamp|current_date)\b/i;
/** The clock converted to UTC wall time (`now() AT TIME ZONE 'UTC'`, `timezone('utc', now())`). */
const CLOCK_AS_UTC = /at\s+time\s+zone\s+'(utc|etc\/utc|gmt|z|zulu|\+00|00:00)'|timezone\s*\(\s*'(utc|etc\/utc|gmt)'/i;

export interface ClockAssignment {
  /** The column as written in the function: folded to lower case unless quoted. */
  column: string;
  /** The assigned expression, as written. */
  expr: string;
  /** The expression converts the clock to UTC wall time. */
  utc: boolean;
}

/**
 * Assignments `NEW.col := <clock>` (or `=`) in a trigger function's source: the column a
 * BEFORE UPDATE trigger stamps with the time. Unquoted names fold to lower case, as
 * PL/pgSQL folds them; comments are ignored.
 */
export function clockAssignments(source: string): ClockAssignment[] {
  const code = source.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
  const out: ClockAssignment[] = [];
  const re = /\bnew\s*\.\s*("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)\s*:?=\s*([^;]+);/gi;
  for (const m of code.matchAll(re)) {
    const raw = m[1]!;
    const expr = m[2]!.trim();
    if (!CLOCK.test(expr) || /\b(new|old)\s*\./i.test(expr)) continue;
    const column = raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw.toLowerCase();
    out.push({ column, expr, utc: CLOCK_AS_UTC.test(expr) });
  }
  return out;
}

export interface UpdatedKeyCandidate {
  column: DiscoveredColumn;
  /** 3: a trigger sets it to the clock; 2: clock default and a trigger writes it; 1: the name. */
  strength: 1 | 2 | 3;
  /** The evidence, in words, for setup's "why" line. */
  evidence: string;
  /** The trigger stores UTC wall time (then `timestamp` values are UTC whatever the writers' zone). */
  utc: boolean;
}

/**
 * Columns that can serve as the updated key, strongest evidence first: a timestamp or date
 * column that a BEFORE UPDATE row trigger sets to the clock (read from the trigger
 * function's source, or moddatetime's argument); then one with a clock default that such a
 * trigger writes; then one named like an updated-at column (the application must then set
 * it on every change). Within a strength, the most specific name, then an indexed one.
 */
export function updatedKeyCandidates(columns: readonly DiscoveredColumn[], triggers: readonly UpdateTrigger[], indexedLeading: ReadonlySet<string>): UpdatedKeyCandidate[] {
  const out: UpdatedKeyCandidate[] = [];
  const byName = new Map(columns.map((c) => [c.name, c]));
  const set = new Map<string, { t: UpdateTrigger; a?: ClockAssignment }>();
  for (const t of triggers) {
    if (/(^|\.)moddatetime$/.test(t.functionName) && t.args[0]) set.set(t.args[0], { t });
    for (const a of clockAssignments(t.source)) {
      const col = byName.has(a.column) ? a.column : [...byName.keys()].find((n) => n.toLowerCase() === a.column.toLowerCase() && !/[A-Z]/.test(a.column));
      if (col && !set.has(col)) set.set(col, { t, a });
    }
  }
  for (const c of columns) {
    if (!TIMESTAMPISH.test(c.type)) continue;
    const hit = set.get(c.name);
    if (hit) {
      const how = hit.a ? `sets it to ${hit.a.expr}` : 'stamps it (moddatetime)';
      out.push({ column: c, strength: 3, evidence: `trigger "${hit.t.name}" (function ${hit.t.functionName}) ${how} before every UPDATE`, utc: !!hit.a?.utc });
      continue;
    }
    const mentioned = triggers.find((t) => new RegExp(`\\b${c.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i').test(t.source));
    if (c.defaultExpr && CLOCK.test(c.defaultExpr) && mentioned) {
      out.push({ column: c, strength: 2, evidence: `default ${c.defaultExpr} and trigger "${mentioned.name}" (function ${mentioned.functionName}) writes it before every UPDATE`, utc: CLOCK_AS_UTC.test(c.defaultExpr) });
      continue;
    }
    if (looksLikeUpdatedKey(c.name)) {
      out.push({ column: c, strength: 1, evidence: `named like an updated-at column (no trigger maintains it: the application must set it on every change)`, utc: false });
    }
  }
  const rank = (x: UpdatedKeyCandidate) => UPDATED_KEY_NAMES.indexOf(normalizeName(x.column.name)) >>> 0;
  return out.sort((a, b) => b.strength - a.strength || rank(a) - rank(b) || Number(indexedLeading.has(b.column.name)) - Number(indexedLeading.has(a.column.name)));
}

/** Key columns fed by a sequence (a nextval() default, serial) or an identity. */
export function sequenceFed(c: DiscoveredColumn): boolean {
  return c.identity === 'a' || c.identity === 'd' || /\bnextval\s*\(/i.test(c.defaultExpr ?? '');
}

export interface CopyModeChoice {
  /** The key, sequence-fed columns first (the keyset's order). */
  primaryKey: string[];
  updatedKey: string | null;
  /** Whether some index leads with the updated key. */
  updatedKeyIndexed: boolean;
  /** UTC when the trigger stores the clock as UTC wall time (for a `timestamp` updated key). */
  updatedKeyTimeZone: string | null;
  copyMode: CopyMode;
  deleteDetection: boolean;
  /** null: on every run. */
  deleteDetectionMinutes: number | null;
  /** Why this copy mode, in words. */
  reason: string;
  warnings: string[];
}

export interface ChooseFacts {
  kind: RelationKind;
  columns: DiscoveredColumn[];
  primaryKey: string[];
  keySource: string | null;
  indexedLeading: ReadonlySet<string>;
  /** Ranked updated-key candidates (`updatedKeyCandidates`). */
  candidates?: readonly UpdatedKeyCandidate[];
  /** Columns known to hold NULLs at the source (a nullable candidate with NULLs is passed over). */
  withNulls?: ReadonlySet<string>;
  rows?: RowEstimate | null;
  /** A materialized view that was never refreshed. */
  unpopulated?: boolean;
  fullSyncBelow?: number;
  deleteCheckMinutes?: number;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The pure part of discovery: keys and copy mode from catalog facts. */
export function chooseCopyMode(t: ChooseFacts): CopyModeChoice {
  const warnings: string[] = [];
  const threshold = t.fullSyncBelow ?? DEFAULT_FULL_SYNC_BELOW;
  const minutes = t.deleteCheckMinutes ?? DEFAULT_DELETE_CHECK_MINUTES;
  if (t.unpopulated) warnings.push(`materialized view is not populated: every sync fails until it is refreshed (REFRESH MATERIALIZED VIEW at the source)`);
  const byName = new Map(t.columns.map((c) => [c.name, c]));
  // Sequence-fed columns lead the keyset: new rows then come after the watermark whatever
  // the other key columns hold (a payment keyed (payment_date, payment_id) with an earlier date).
  const seqFirst = [...t.primaryKey].sort((a, b) => Number(sequenceFed(byName.get(b)!)) - Number(sequenceFed(byName.get(a)!)));
  const keyText = `${t.keySource} (${seqFirst.join(', ')})${seqFirst.join() !== t.primaryKey.join() ? ` (declared (${t.primaryKey.join(', ')}); the sequence-fed column leads)` : ''}`;
  const candidates = t.candidates ?? updatedKeyCandidates(t.columns, [], t.indexedLeading);
  let uk: UpdatedKeyCandidate | null = null;
  for (const c of candidates) {
    if (!c.column.notNull && t.withNulls?.has(c.column.name)) {
      warnings.push(`"${c.column.name}" (${c.evidence}) is not used as the updated key: it holds NULLs, and rows with NULL there cannot be read incrementally`);
      continue;
    }
    uk = c;
    break;
  }
  const small = t.rows ? t.rows.rows < threshold : false;
  const size = !t.rows
    ? 'size unknown'
    : t.rows.how === 'catalog'
      ? `about ${fmt(t.rows.rows)} rows by the catalog's estimate`
      : t.rows.rows > threshold
        ? `more than ${fmt(threshold)} rows counted`
        : `${fmt(t.rows.rows)} rows counted`;
  const base = { primaryKey: seqFirst, updatedKeyTimeZone: null as string | null, deleteDetection: false, deleteDetectionMinutes: null as number | null };
  if (seqFirst.length > 0 && uk) {
    const ukIndexed = t.indexedLeading.has(uk.column.name);
    if (!ukIndexed && t.kind !== 'view') {
      warnings.push(`updated key "${uk.column.name}" has no index leading with it: every incremental sync scans the whole table (CREATE INDEX ON ${'<table>'} ("${uk.column.name}"))`);
    }
    if (!uk.column.notNull) {
      warnings.push(`updated key "${uk.column.name}" is nullable: a row with NULL there stops the table's sync with an error naming the row (make the column NOT NULL)`);
    }
    return {
      ...base,
      updatedKey: uk.column.name,
      updatedKeyIndexed: ukIndexed,
      updatedKeyTimeZone: uk.utc && !/with time zone$/.test(uk.column.type) ? 'UTC' : null,
      copyMode: 'INSERT_AND_UPDATE',
      deleteDetection: true,
      deleteDetectionMinutes: small ? null : minutes,
      reason: `${keyText} and updated key "${uk.column.name}" (${uk.column.type}): ${uk.evidence}; new and changed rows are merged by key, deletes found by delete detection ${small ? 'on every run' : `every ${minutes} minutes`} (${size})`,
      warnings,
    };
  }
  if (seqFirst.length > 0 && small) {
    return {
      ...base,
      updatedKey: null,
      updatedKeyIndexed: false,
      copyMode: 'FULL_DATA_SYNC',
      reason: `${keyText} but no updated-at column, and ${size}, under the ${fmt(threshold)}-row threshold: the whole table is copied every sync, which sees every insert, update and delete`,
      warnings,
    };
  }
  if (seqFirst.length > 0) {
    warnings.push(`INSERT_ONLY: updates at the source are never seen (no updated-at column); deletes are found by delete detection every ${minutes} minutes`);
    if (!seqFirst.some((k) => sequenceFed(byName.get(k)!))) {
      warnings.push(
        seqFirst.length > 1
          ? `no column of the key (${seqFirst.join(', ')}) is fed by a sequence or identity: rows inserted out of key order (below the watermark) are never read`
          : `key "${seqFirst[0]}" is not fed by a sequence or identity: a row inserted with a key below the watermark (an application-chosen id, a random uuid) is never read`,
      );
    }
    return {
      ...base,
      updatedKey: null,
      updatedKeyIndexed: false,
      copyMode: 'INSERT_ONLY',
      deleteDetection: true,
      deleteDetectionMinutes: minutes,
      reason: `${keyText} but no updated-at column, and ${size}, at or over the ${fmt(threshold)}-row threshold: only new keys are copied; updates are not seen`,
      warnings,
    };
  }
  return {
    ...base,
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
  populated: boolean;
}

/** Lists tables and views in the chosen schemas, with keys, updated key and copy mode. */
export async function discover(db: pg.ClientBase, opts: DiscoverOptions = {}): Promise<DiscoveredTable[]> {
  const schemas = opts.schemas && opts.schemas.length > 0 ? opts.schemas : ['public'];
  const rels = await db.query<RelRow>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind, c.relispopulated AS populated
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
  for (const r of picked) out.push(await describeRelation(db, r, opts));
  return out;
}

const qualified = (r: RelRow) => `${quoteIdent(r.schema)}.${quoteIdent(r.name)}`;

/**
 * Rows of a table: pg_class.reltuples (summed over a partitioned table's leaf partitions)
 * when the table was ever analyzed, else a count that stops one row past `limit`.
 */
export async function estimateRows(db: pg.ClientBase, r: { oid: number; schema: string; name: string }, limit: number): Promise<RowEstimate> {
  const e = await db.query<{ est: string | null }>(
    `SELECT CASE WHEN c.relkind = 'p'
              THEN (SELECT CASE WHEN count(*) > 0 AND bool_and(l.reltuples >= 0) THEN sum(l.reltuples) END
                    FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf)
              ELSE CASE WHEN c.reltuples >= 0 THEN c.reltuples END END::text AS est
     FROM pg_class c WHERE c.oid = $1`,
    [r.oid],
  );
  const est = e.rows[0]?.est;
  if (est !== null && est !== undefined) return { rows: Number(est), how: 'catalog' };
  const n = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM (SELECT 1 FROM ${qualified(r as RelRow)} LIMIT ${Math.floor(limit) + 1}) x`);
  return { rows: Number(n.rows[0]!.n), how: 'counted' };
}

/** Whether a column holds NULLs: pg_stats when the table was analyzed, else a look at up to 1M rows. */
async function holdsNulls(db: pg.ClientBase, r: RelRow, column: string): Promise<boolean> {
  const st = await db.query<{ null_frac: number }>(`SELECT null_frac FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = $3 AND NOT inherited`, [r.schema, r.name, column]);
  if (st.rows[0] && st.rows[0].null_frac > 0) return true;
  const n = await db.query(`SELECT 1 FROM (SELECT ${quoteIdent(column)} AS c FROM ${qualified(r)} LIMIT 1000000) x WHERE c IS NULL LIMIT 1`);
  return (n.rowCount ?? 0) > 0;
}

/** Rows setup reads to measure a table's unbounded numeric columns. */
export const NUMERIC_SAMPLE_ROWS = 1_000_000;

/**
 * Measures a relation's unbounded `numeric` columns (a domain over one too) over up to
 * NUMERIC_SAMPLE_ROWS rows: the most decimals a value needs (min_scale: trailing zeros
 * do not count) and the most integer digits, finite values only, and the NaN/Infinity
 * values seen. Setup then picks a NUMERIC that holds them (types.ts).
 */
export async function measureNumerics(db: pg.ClientBase, relation: string, columns: readonly DiscoveredColumn[]): Promise<Map<string, NumericProfile>> {
  const cols = columns.filter((c) => c.type === 'numeric' || (c.kind === 'd' && c.baseType === 'numeric'));
  const out = new Map<string, NumericProfile>();
  if (cols.length === 0) return out;
  const parts = cols.map((c, i) => {
    const v = `(${quoteIdent(c.name)})::numeric`;
    const finite = `${v} NOT IN ('NaN', 'Infinity', '-Infinity')`;
    return [
      `coalesce(max(min_scale(${v})) FILTER (WHERE ${finite}), 0) AS s${i}`,
      `coalesce(max(length(trunc(abs(${v}))::text)) FILTER (WHERE ${finite}), 0) AS d${i}`,
      `count(${v}) AS n${i}`,
      `count(*) FILTER (WHERE NOT (${finite})) AS x${i}`,
    ].join(', ');
  });
  const r = await db.query<Record<string, string>>(`SELECT ${parts.join(',\n  ')}\nFROM (SELECT * FROM ${relation} LIMIT ${NUMERIC_SAMPLE_ROWS}) sample`);
  const row = r.rows[0]!;
  cols.forEach((c, i) => out.set(c.name, { rows: Number(row[`n${i}`]), scale: Number(row[`s${i}`]), intDigits: Number(row[`d${i}`]), special: Number(row[`x${i}`]) }));
  return out;
}

async function describeRelation(db: pg.ClientBase, r: RelRow, opts: DiscoverOptions): Promise<DiscoveredTable> {
  const cols = await db.query<{ name: string; type: string; not_null: boolean; typtype: PgTypeKind; base_type: string | null; default_expr: string | null; identity: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            t.typtype::text AS typtype,
            CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
            pg_get_expr(d.adbin, d.adrelid) AS default_expr, a.attidentity::text AS identity
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`,
    [r.oid],
  );
  const columns: DiscoveredColumn[] = cols.rows.map((c) => ({
    name: c.name, type: c.type, notNull: c.not_null, kind: c.typtype, baseType: c.base_type, defaultExpr: c.default_expr, identity: c.identity,
  }));
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
  // BEFORE UPDATE row triggers (tgtype bits: 1 row, 2 before, 16 update), enabled.
  const trg = await db.query<{ name: string; function_name: string; source: string; args: string[] }>(
    `SELECT t.tgname AS name, t.tgfoid::regproc::text AS function_name, p.prosrc AS source,
            CASE WHEN t.tgnargs = 0 THEN ARRAY[]::text[]
                 ELSE (string_to_array(rtrim(encode(t.tgargs, 'escape'), E'\\\\000'), E'\\\\000'))::text[] END AS args
     FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
     WHERE t.tgrelid = $1 AND NOT t.tgisinternal AND t.tgenabled <> 'D' AND (t.tgtype & 19) = 19
     ORDER BY t.tgname`,
    [r.oid],
  );
  const triggers: UpdateTrigger[] = trg.rows.map((t) => ({ name: t.name, functionName: t.function_name, source: t.source, args: t.args }));
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
  if (r.populated !== false && kind !== 'foreign table') {
    for (const [name, p] of await measureNumerics(db, qualified(r), columns)) byName.get(name)!.numeric = p;
  }
  const candidates = updatedKeyCandidates(columns, triggers, indexedLeading);
  const withNulls = new Set<string>();
  const readable = r.populated !== false;
  if (primaryKey.length > 0 && readable) {
    for (const c of candidates) {
      if (c.column.notNull) break;
      if (await holdsNulls(db, r, c.column.name)) withNulls.add(c.column.name);
      else break;
    }
  }
  const threshold = opts.fullSyncBelow ?? DEFAULT_FULL_SYNC_BELOW;
  const rows = primaryKey.length > 0 && readable && kind !== 'view' && kind !== 'foreign table' ? await estimateRows(db, r, threshold) : null;
  const chosen = chooseCopyMode({ kind, columns, primaryKey, keySource, indexedLeading, candidates, withNulls, rows, unpopulated: !readable, fullSyncBelow: threshold, deleteCheckMinutes: opts.deleteCheckMinutes });
  // The warning's placeholder becomes this table's name.
  chosen.warnings = chosen.warnings.map((w) => w.replace('<table>', qualified(r)));
  return { schema: r.schema, name: r.name, kind, columns, keySource, rows, ...chosen };
}
