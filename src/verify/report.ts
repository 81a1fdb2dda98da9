import type { CopyMode } from '../metadata/types.js';
import type { SkippedColumn } from '../schema/canonical.js';
import type { CompareResult, Differences, LeafRow } from './compare.js';
import type { VerifyPlan } from './plan.js';

/** What verify found for one table: printed by the CLI, stored in tables.verify_result, shown by status. */
export interface TableReport {
  job: string;
  /** `schema.name` at the source. */
  table: string;
  /** `schema.name` in Redshift. */
  target: string;
  mode: CopyMode | null;
  /** match: every compared row is equal; differ: rows differ; failed: verify could not finish (see error). */
  status: 'match' | 'differ' | 'failed';
  strategy: 'range' | 'hash' | 'whole' | null;
  /** Rows compared on each side, and the columns compared. */
  compared: { sourceRows: number; targetRows: number; columns: string[] } | null;
  skippedColumns: SkippedColumn[];
  /** The live-table rule: which rows were left out and why (null: none). */
  liveRule: string | null;
  leftOut: { sourceRows: number; targetRows: number; keys: number } | null;
  missing: { count: number; examples: string[] };
  extra: { count: number; duplicates: number; examples: string[] };
  differ: { count: number; columns: Record<string, number>; examples: Array<{ key: string; columns: string[] }> };
  /** No usable key: the whole table was compared as one summary, so rows cannot be named. */
  cannotNameRows: boolean;
  /** More rows differ than verify lists: the counts are those of the differing key ranges. */
  tooMany: { sourceRows: number; targetRows: number } | null;
  notes: string[];
  ranges: { total: number; differing: number; levels: number } | null;
  /** Rows of differing ranges whose key and column hashes were read (both sides). */
  rowsTransferred: number;
  seconds: number;
  error?: string;
  repair?: RepairReport;
}

export interface RepairReport {
  status: 'repaired' | 'differ' | 'failed' | 'refused';
  /** The sync_runs row of the repair. */
  runId: string | null;
  /** Rows repaired, by what verify found. */
  missing: number;
  extra: number;
  differ: number;
  /** Rows loaded from the source, and target rows deleted (replaced rows count in both). */
  loaded: number;
  deleted: number;
  /** Verifying the repaired ranges again afterwards. */
  reverify: { missing: number; extra: number; differ: number; leftOut: number } | null;
  error?: string;
  seconds: number;
}

export const TEXT_EXAMPLES = 5;
export const STORED_EXAMPLES = 20;

/** A key as the report shows it: `id=42`, `code="abc "` (strings quoted, so trailing blanks show). */
export function formatKey(plan: Pick<VerifyPlan, 'shape'>, native: string[]): string {
  return plan.shape.key
    .map((k, i) => {
      const v = native[i] ?? '';
      const plain = ['smallint', 'integer', 'bigint', 'numeric'].includes(k.targetFamily) && /^-?\d+(\.\d+)?$/.test(v);
      return `${k.canon.name}=${plain ? v : JSON.stringify(v)}`;
    })
    .join(', ');
}

export function emptyReport(job: string, table: string, target: string, mode: CopyMode | null): TableReport {
  return {
    job,
    table,
    target,
    mode,
    status: 'failed',
    strategy: null,
    compared: null,
    skippedColumns: [],
    liveRule: null,
    leftOut: null,
    missing: { count: 0, examples: [] },
    extra: { count: 0, duplicates: 0, examples: [] },
    differ: { count: 0, columns: {}, examples: [] },
    cannotNameRows: false,
    tooMany: null,
    notes: [],
    ranges: null,
    rowsTransferred: 0,
    seconds: 0,
  };
}

export function buildReport(plan: VerifyPlan, r: CompareResult, seconds: number, examples = STORED_EXAMPLES): TableReport {
  const rep = emptyReport(plan.job, plan.table, `${plan.target.schema}.${plan.target.name}`, plan.mode);
  rep.strategy = plan.strategy;
  rep.compared = { sourceRows: r.sourceRows, targetRows: r.targetRows, columns: plan.shape.columns.map((c) => c.name) };
  rep.skippedColumns = plan.skipped;
  rep.liveRule = plan.live.rule;
  rep.notes = [...plan.notes];
  rep.ranges = { total: r.ranges, differing: r.differingRanges, levels: r.levels };
  rep.rowsTransferred = r.rowsTransferred;
  rep.seconds = seconds;
  if (r.leftOutRows) rep.leftOut = { sourceRows: r.leftOutRows.source, targetRows: r.leftOutRows.target, keys: r.differences?.leftOut ?? 0 };
  if (plan.strategy === 'whole') {
    rep.cannotNameRows = true;
    rep.status = r.wholeMatch ? 'match' : 'differ';
    if (!r.wholeMatch) {
      const d = r.sourceRows - r.targetRows;
      if (d > 0) rep.missing.count = d;
      if (d < 0) rep.extra.count = -d;
      rep.notes.push(
        d === 0
          ? `the counts agree (${r.sourceRows}) but the hashes differ: at least one row differs`
          : `the source has ${r.sourceRows} rows and the target ${r.targetRows}; the hashes differ, which rows differ cannot be told without a key`,
      );
    }
    return rep;
  }
  if (r.tooMany) {
    rep.status = 'differ';
    rep.tooMany = r.tooMany;
    rep.notes.push(
      `more rows differ than verify lists: the differing key ranges hold ${r.tooMany.sourceRows} source and ${r.tooMany.targetRows} target rows; resync the table (set max_primary_key and max_updated_key to NULL) rather than repair it`,
    );
    return rep;
  }
  const d = r.differences!;
  fill(rep, plan, d, examples);
  rep.status = d.missing.length + d.extra.length + d.changed.length === 0 ? 'match' : 'differ';
  return rep;
}

function fill(rep: TableReport, plan: VerifyPlan, d: Differences, examples: number): void {
  const keys = (rows: LeafRow[]) => rows.slice(0, examples).map((x) => formatKey(plan, x.n));
  rep.missing = { count: d.missing.length, examples: keys(d.missing) };
  rep.extra = { count: d.extra.length, duplicates: d.duplicates, examples: keys(d.extra) };
  const columns: Record<string, number> = {};
  for (const c of d.changed) for (const col of c.columns) columns[col] = (columns[col] ?? 0) + 1;
  rep.differ = { count: d.changed.length, columns, examples: d.changed.slice(0, examples).map((c) => ({ key: formatKey(plan, c.source.n), columns: c.columns })) };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The human report of one table (the CLI's text output). */
export function formatTableReport(r: TableReport): string {
  const lines: string[] = [];
  const head = `${r.table} -> ${r.target}${r.mode ? ` (${r.mode})` : ''}`;
  lines.push(`${head}: ${r.status === 'match' ? 'MATCH' : r.status === 'differ' ? 'DIFFERS' : 'FAILED'}`);
  if (r.error) lines.push(`  error: ${r.error}`);
  if (r.compared) {
    const how = r.strategy === 'range' ? 'by key ranges' : r.strategy === 'hash' ? 'by hash ranges of the key' : 'as one summary (no key)';
    lines.push(`  compared ${plural(r.compared.sourceRows, 'source row')} with ${plural(r.compared.targetRows, 'target row')}, ${plural(r.compared.columns.length, 'column')}, ${how}`);
  }
  if (r.liveRule) lines.push(`  live rule: ${r.liveRule}`);
  if (r.leftOut) lines.push(`  left out: ${plural(r.leftOut.sourceRows, 'source row')} and ${plural(r.leftOut.targetRows, 'target row')} (changed after the watermark)`);
  const ex = (xs: string[]) => (xs.length ? ` (e.g. ${xs.slice(0, TEXT_EXAMPLES).join('; ')})` : '');
  if (r.status !== 'failed') {
    if (r.missing.count || r.status === 'differ') lines.push(`  missing from the target: ${r.missing.count}${ex(r.missing.examples)}`);
    if (r.extra.count || r.status === 'differ') lines.push(`  only in the target: ${r.extra.count}${r.extra.duplicates ? ` (${r.extra.duplicates} duplicating a source key)` : ''}${ex(r.extra.examples)}`);
    if (r.differ.count || r.status === 'differ') {
      const cols = Object.entries(r.differ.columns).map(([c, n]) => `${c} ${n}`).join(', ');
      const exs = r.differ.examples.slice(0, TEXT_EXAMPLES).map((e) => `${e.key} [${e.columns.join(', ')}]`);
      lines.push(`  differing: ${r.differ.count}${cols ? ` (columns: ${cols})` : ''}${exs.length ? ` (e.g. ${exs.join('; ')})` : ''}`);
    }
  }
  if (r.cannotNameRows) lines.push('  rows cannot be named: the table has no usable key');
  for (const s of r.skippedColumns) lines.push(`  skipped column "${s.name}": ${s.reason}`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  if (r.repair) {
    const p = r.repair;
    if (p.status === 'refused' || p.status === 'failed') lines.push(`  repair ${p.status}: ${p.error}`);
    else {
      lines.push(`  repaired (sync_runs ${p.runId}): ${p.missing} missing, ${p.extra} only in the target, ${p.differ} differing; ${p.loaded} rows loaded, ${p.deleted} deleted`);
      if (p.reverify) {
        const left = p.reverify.missing + p.reverify.extra + p.reverify.differ;
        lines.push(`  verified again: ${left === 0 ? 'match' : `${p.reverify.missing} missing, ${p.reverify.extra} only in the target, ${p.reverify.differ} differing`}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

/** One line per table for logs and status: `match`, `3 missing, 1 only in target, 2 differ (amount, note)`. */
export function summarizeReport(r: Pick<TableReport, 'status' | 'missing' | 'extra' | 'differ' | 'error' | 'tooMany' | 'cannotNameRows'> & Partial<Pick<TableReport, 'leftOut'>>): string {
  if (r.status === 'failed') return `failed: ${r.error ?? 'unknown error'}`;
  const left = r.leftOut ? r.leftOut.sourceRows + r.leftOut.targetRows : 0;
  if (r.status === 'match') return left > 0 ? `match (${left} rows changed after the watermark left out)` : 'match';
  if (r.tooMany) return `differs: more rows than verify lists (${r.tooMany.sourceRows} source / ${r.tooMany.targetRows} target rows in differing ranges)`;
  const parts: string[] = [];
  if (r.missing.count) parts.push(`${r.missing.count} missing`);
  if (r.extra.count) parts.push(`${r.extra.count} only in target`);
  if (r.differ.count) parts.push(`${r.differ.count} differ (${Object.keys(r.differ.columns).join(', ')})`);
  if (r.cannotNameRows && parts.length === 0) parts.push('hash differs');
  return `differs: ${parts.join(', ')}`;
}
