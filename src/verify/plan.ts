import type pg from 'pg';
import { quoteIdent, quoteIdents, splitColumnList } from '../sql/quote.js';
import { parseTargetType } from '../schema/types.js';
import { seenFilterSql, seenSettings, type TablePlan } from '../sync/plan.js';
import type { CopyMode, TableRow } from '../metadata/types.js';
import { canonicalColumn, type ColumnCanon, type SkippedColumn } from '../schema/canonical.js';
import type { KeyCanon, RowShape } from './sql.js';

/**
 * What verify compares for one table and how: the canonical columns, the skipped ones, the
 * key and how the key space is cut, and the live-table rule (which rows are left out because
 * they changed after the stored watermark). Pure: the caller reads the catalogs and the
 * metadata; tests build plans from literals.
 */
export class VerifyConfigError extends Error {
  override name = 'VerifyConfigError';
}

export interface VerifyColumn {
  name: string;
  /** format_type at the source (a domain's base type when it is a domain). */
  type: string;
  notNull: boolean;
}

export interface TargetColumnType {
  name: string;
  type: string;
}

/** The live-table rule: which rows each side leaves out, and how to tell a key left out on the other side. */
export interface LivePlan {
  /** What is left out, in words (null: every row is compared). */
  rule: string | null;
  /** JSON for set_config(VERIFY_SETTING) in the source transaction. */
  sourceSettings: string;
  /** SQL over the source table's columns: the rows compared (null: all). */
  sourceFilter: string | null;
  /** SQL over the target table's columns with parameters $1..$n = `targetParams`: the rows compared. */
  targetFilter: string | null;
  targetParams: string[];
  /**
   * INSERT_AND_UPDATE with the last run's record of what it read (tables.watermark_snapshot):
   * rows of the overlap window that run read are compared after all. `settings(xmax)` gives
   * VERIFY_SEEN_SETTING's JSON for the verify snapshot's xmax.
   */
  seen: { settings: (snapshotXmax: string) => string } | null;
  /**
   * INSERT_ONLY whose key order may differ between the systems: the target is not filtered,
   * and keys found only in the target that come after the watermark in the source's order
   * are left out (they were loaded after the watermark was read).
   */
  keysAfterWatermark: { sql: string } | null;
}

export interface VerifyPlan {
  job: string;
  /** `schema.name` of the source, as logs and reports name the table. */
  table: string;
  where: string;
  mode: CopyMode;
  source: { schema: string; name: string };
  target: { schema: string; name: string };
  shape: RowShape;
  skipped: SkippedColumn[];
  notes: string[];
  strategy: 'range' | 'hash' | 'whole';
  live: LivePlan;
}

export const VERIFY_SETTING = 'redshift_loader.verify';
/** The seen filter's values (src/sync/plan.ts seenSettings) for the verify snapshot. */
export const VERIFY_SEEN_SETTING = 'redshift_loader.verify_seen';
/** Sets the live rule's values ($1) and the seen filter's ($2, `[]` when there is none) in the source transaction. */
export const SET_VERIFY_SQL = `SELECT set_config('${VERIFY_SETTING}', $1, true), set_config('${VERIFY_SEEN_SETTING}', $2, true)`;

const settingRef = (i: number, type: string) => `(current_setting('${VERIFY_SETTING}')::jsonb ->> ${i})::${type}`;

const INTEGER = /^(smallint|integer|bigint)$/;
const INTEGER_FAMILY = new Set(['smallint', 'integer', 'bigint']);

/** Row-text budget: Redshift strings hold at most 65535 bytes. */
const ROW_TEXT_BUDGET = 60_000;

export interface PlanInput {
  job: string;
  table: TableRow;
  destinationSchema: string;
  sourceColumns: VerifyColumn[];
  targetColumns: TargetColumnType[];
  /**
   * The cutoff of the live rule for an updated key: the stored updated-key watermark (or, for
   * FULL_DATA_SYNC, the start of its last successful run) minus UPDATED_KEY_OVERLAP_SECONDS,
   * as timestamptz text; null when there is none.
   */
  updatedKeyCutoff: string | null;
  /** When FULL_DATA_SYNC last succeeded (for the report). */
  lastFullSync?: string | null;
  /**
   * INSERT_AND_UPDATE on a table (rows with an xmin): the sync engine's plan of the table with
   * the last run's record of what it read (`seen`), when it is valid for the stored watermark.
   */
  seenPlan?: TablePlan | null;
}

export function planVerify(p: PlanInput): VerifyPlan {
  const t = p.table;
  const table = `${t.sourceSchema}.${t.sourceName}`;
  const where = `job "${p.job}", table ${table}`;
  const target = { schema: t.destinationSchema ?? p.destinationSchema, name: t.destinationName ?? t.sourceName };
  const byTarget = new Map(p.targetColumns.map((c) => [c.name, c]));
  const byName = new Map(p.sourceColumns.map((c) => [c.name, c]));
  const primaryKey = splitColumnList(t.primaryKey);
  const updatedKey = splitColumnList(t.updatedKey)[0] ?? null;
  for (const k of primaryKey) {
    if (!byName.has(k)) throw new VerifyConfigError(`${where}: primary_key column "${k}" is not a synced source column; fix primary_key in the tables row`);
    if (!byTarget.has(k)) throw new VerifyConfigError(`${where}: key column "${k}" is missing from the target ${target.schema}.${target.name}; run a sync (schema drift adds columns) or fix the target`);
  }
  if (updatedKey && !byName.has(updatedKey)) throw new VerifyConfigError(`${where}: updated_key column "${updatedKey}" is not a synced source column; fix updated_key in the tables row`);

  const columns: ColumnCanon[] = [];
  const skipped: SkippedColumn[] = [];
  const notes: string[] = [];
  for (const c of p.sourceColumns) {
    const tc = byTarget.get(c.name);
    if (!tc) {
      skipped.push({ name: c.name, reason: `not in the target ${target.schema}.${target.name} (a sync adds it: schema drift)` });
      continue;
    }
    const r = canonicalColumn({ name: c.name, type: c.type, notNull: c.notNull }, tc.type);
    if (r.ok) {
      columns.push(r.canon);
      if (r.canon.note) notes.push(`column "${c.name}": ${r.canon.note}`);
    } else skipped.push(r.skipped);
  }

  const key: KeyCanon[] = [];
  let keyProblem: string | null = null;
  for (const k of primaryKey) {
    const canon = columns.find((c) => c.name === k);
    if (!canon) {
      keyProblem = `key column "${k}" cannot be compared exactly (${skipped.find((s) => s.name === k)?.reason ?? 'skipped'})`;
      break;
    }
    key.push({ canon, targetFamily: parseTargetType(byTarget.get(k)!.type).family, sourceType: byName.get(k)!.type });
  }
  let strategy: VerifyPlan['strategy'];
  if (primaryKey.length === 0) {
    strategy = 'whole';
    notes.push('no primary_key: the whole table is compared as one count and one order-independent hash, so differences cannot be traced to rows');
  } else if (keyProblem) {
    strategy = 'whole';
    key.length = 0;
    notes.push(`${keyProblem}: the whole table is compared as one count and hash, so differences cannot be traced to rows`);
  } else if (INTEGER.test(byName.get(primaryKey[0]!)!.type) && INTEGER_FAMILY.has(key[0]!.targetFamily)) {
    strategy = 'range';
  } else {
    strategy = 'hash';
  }
  if (columns.length === 0) throw new VerifyConfigError(`${where}: no column can be compared (${skipped.map((s) => `"${s.name}": ${s.reason}`).join('; ')})`);

  const nString = columns.filter((c) => c.stringLike).length;
  const fixed = columns.reduce((s, c) => s + (c.stringLike ? 24 : 80), 0);
  const longValueBytes = nString === 0 ? 4096 : Math.max(32, Math.min(4096, Math.floor((ROW_TEXT_BUDGET - fixed) / nString)));
  const shape: RowShape = { columns, key, longValueBytes };

  const live = livePlan(p, { where, primaryKey, updatedKey, key, byName, byTarget, strategy });
  if (t.copyMode !== 'FULL_DATA_SYNC' && primaryKey.length > 0) {
    notes.push(
      t.deleteDetection
        ? 'rows deleted at the source since the last delete detection are still in the target, and are listed as rows only in the target'
        : 'delete detection is off: rows deleted at the source stay in the target, and are listed as rows only in the target',
    );
  }
  return { job: p.job, table, where, mode: t.copyMode, source: { schema: t.sourceSchema, name: t.sourceName }, target, shape, skipped, notes, strategy, live };
}

interface LiveContext {
  where: string;
  primaryKey: string[];
  updatedKey: string | null;
  key: KeyCanon[];
  byName: Map<string, VerifyColumn>;
  byTarget: Map<string, TargetColumnType>;
  strategy: VerifyPlan['strategy'];
}

const NONE = (rule: string | null): LivePlan => ({ rule, sourceSettings: '[]', sourceFilter: null, targetFilter: null, targetParams: [], seen: null, keysAfterWatermark: null });

function livePlan(p: PlanInput, x: LiveContext): LivePlan {
  const t = p.table;
  const ukRule = (since: string): LivePlan => {
    const uk = quoteIdent(x.updatedKey!);
    const tgt = x.byTarget.get(x.updatedKey!);
    if (!tgt) throw new VerifyConfigError(`${x.where}: updated_key column "${x.updatedKey}" is missing from the target`);
    const tgtType = parseTargetType(tgt.type).sql;
    const base: LivePlan = {
      rule: `rows whose ${x.updatedKey} is at or after ${p.updatedKeyCutoff} (${since} minus UPDATED_KEY_OVERLAP_SECONDS) on either side are left out: they changed after the target's last sync`,
      sourceSettings: JSON.stringify([p.updatedKeyCutoff]),
      sourceFilter: `(${uk} < ${settingRef(0, x.byName.get(x.updatedKey!)!.type)} OR ${uk} IS NULL)`,
      targetFilter: `(${uk} < CAST($1 AS ${tgtType}) OR ${uk} IS NULL)`,
      targetParams: [p.updatedKeyCutoff!],
      seen: null,
      keysAfterWatermark: null,
    };
    const sp = p.seenPlan;
    const seenSql = sp?.seen ? seenFilterSql(sp, VERIFY_SEEN_SETTING) : null;
    if (!sp?.seen || !seenSql || t.copyMode !== 'INSERT_AND_UPDATE') return base;
    // The overlap window's rows that the last run read (committed before its first snapshot, in
    // the key range it covered) are in the target as that run read them: compare them too. On
    // the target, rows up to that range's last updated key are kept; a key whose source row
    // is newer is then found on one side only and left out there.
    const upToUk = sp.seen.upTo[0]!;
    return {
      ...base,
      rule: `rows whose ${x.updatedKey} is at or after ${p.updatedKeyCutoff} (${since} minus UPDATED_KEY_OVERLAP_SECONDS) on either side are left out, unless the last sync read them: they changed after the target's last sync`,
      // seenFilterSql is "NOT (read by the last run)": its inside is the rows that run read.
      sourceFilter: `(${uk} < ${settingRef(0, x.byName.get(x.updatedKey!)!.type)} OR ${uk} IS NULL OR ${seenSql.replace(/^NOT /, '')})`,
      targetFilter: `(${uk} < CAST($1 AS ${tgtType}) OR ${uk} IS NULL OR ${uk} <= CAST($2 AS ${tgtType}))`,
      targetParams: [p.updatedKeyCutoff!, upToUk],
      seen: { settings: (xmax) => seenSettings(sp, xmax) },
    };
  };
  switch (t.copyMode) {
    case 'INSERT_AND_UPDATE':
      if (!x.updatedKey) throw new VerifyConfigError(`${x.where}: copy_mode INSERT_AND_UPDATE needs updated_key`);
      if (p.updatedKeyCutoff === null) return NONE('no updated-key watermark yet (never synced, or a resync is pending): every row is compared');
      return ukRule('the stored max_updated_key');
    case 'FULL_DATA_SYNC':
      if (x.updatedKey && p.updatedKeyCutoff !== null) return ukRule(`the start of the last successful full copy (${p.lastFullSync ?? '?'})`);
      return NONE(
        'FULL_DATA_SYNC: the target is the source as of its last full copy' + (p.lastFullSync ? ` (${p.lastFullSync})` : '') +
          ', so every row is compared and rows changed at the source since then show as differences (set updated_key on the tables row to leave them out)',
      );
    case 'CDC':
      // copy_mode CDC (src/sync/cdc): the target is the source as of the position its last run drained to.
      return NONE('CDC: the target is the source as of the WAL position its last run drained to, so every row is compared and rows changed at the source since then show as differences');
    case 'INSERT_ONLY': {
      if (x.primaryKey.length === 0) throw new VerifyConfigError(`${x.where}: copy_mode INSERT_ONLY needs primary_key`);
      const wm = t.maxPrimaryKey;
      if (!wm) return NONE('no primary-key watermark yet (never synced, or a resync is pending): every row is compared');
      if (wm.length !== x.primaryKey.length || wm.some((v) => v === null)) {
        throw new VerifyConfigError(`${x.where}: max_primary_key ${t.maxPrimaryKeyJson ?? JSON.stringify(wm)} does not match primary_key (${x.primaryKey.join(', ')}); set it to a JSON array of ${x.primaryKey.length} value(s), or NULL to resync`);
      }
      const cols = quoteIdents(x.primaryKey);
      const after = `(${cols}) > (${x.primaryKey.map((k, i) => settingRef(i, x.byName.get(k)!.type)).join(', ')})`;
      const base: LivePlan = {
        rule: `rows whose key is after max_primary_key ${t.maxPrimaryKeyJson ?? JSON.stringify(wm)} are left out: they were inserted after the target's last sync`,
        sourceSettings: JSON.stringify(wm),
        sourceFilter: `NOT ${after}`,
        targetFilter: null,
        targetParams: [],
        seen: null,
        keysAfterWatermark: null,
      };
      const allInteger = x.key.length === x.primaryKey.length && x.primaryKey.every((k, i) => INTEGER.test(x.byName.get(k)!.type) && INTEGER_FAMILY.has(x.key[i]!.targetFamily));
      if (allInteger) {
        // Integers order alike on both systems: the same rule on the target, written without row comparisons.
        const ors: string[] = [];
        for (let i = 0; i < x.primaryKey.length; i++) {
          const eqs = x.primaryKey.slice(0, i).map((k, j) => `${quoteIdent(k)} = CAST($${j + 1} AS BIGINT)`);
          ors.push(`(${[...eqs, `${quoteIdent(x.primaryKey[i]!)} > CAST($${i + 1} AS BIGINT)`].join(' AND ')})`);
        }
        return { ...base, targetFilter: `NOT (${ors.join(' OR ')})`, targetParams: wm as string[] };
      }
      // Other keys may order differently on Redshift (collations, trailing blanks): decide at the source, key by key.
      const arrays = x.primaryKey.map((_, i) => `$${i + 1}::text[]`).join(', ');
      const names = x.primaryKey.map((_, i) => `k${i}`).join(', ');
      const casts = x.primaryKey.map((k, i) => `u.k${i}::${x.byName.get(k)!.type}`).join(', ');
      return {
        ...base,
        keysAfterWatermark: {
          sql: `SELECT u.i::int AS i FROM unnest(${arrays}) WITH ORDINALITY AS u(${names}, i) WHERE (${casts}) > (${x.primaryKey.map((k, i) => settingRef(i, x.byName.get(k)!.type)).join(', ')})`,
        },
      };
    }
    default:
      throw new VerifyConfigError(`${x.where}: unknown copy_mode ${JSON.stringify(t.copyMode)}`);
  }
}

/** The source columns verify reads (a domain as its base type), from sourceColumnsForDrift's rows. */
export function verifyColumnsOf(cols: ReadonlyArray<{ name: string; type: string; notNull: boolean; kind?: string; baseType?: string | null }>): VerifyColumn[] {
  return cols.map((c) => ({ name: c.name, type: c.kind === 'd' && c.baseType ? c.baseType : c.type, notNull: c.notNull }));
}

/** The start of the last successful sync of a table (FULL_DATA_SYNC's "as of"), minus `overlapSeconds`, and the start itself. */
export async function lastSuccessfulRun(db: pg.ClientBase, tableId: number, overlapSeconds: number): Promise<{ started: string; cutoff: string } | null> {
  const r = await db.query<{ started: string; cutoff: string }>(
    `SELECT started_at::text AS started, (started_at - make_interval(secs => $2))::text AS cutoff FROM sync_runs
     WHERE table_id = $1 AND status = 'succeeded' AND kind = 'sync' ORDER BY started_at DESC LIMIT 1`,
    [tableId, overlapSeconds],
  );
  return r.rows[0] ?? null;
}
