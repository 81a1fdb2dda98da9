import { redactText } from '../log.js';
import { JOB_FIELDS, SCHEDULE_FIELDS, TABLE_FIELDS, canonical, sameValue, type FieldSpec, type FieldValue, type Values } from './fields.js';
import type { ConfigFile, ConfigSchedule } from './file.js';

/**
 * The diff between a configuration file and the metadata rows: pure, so that `--dry-run`
 * and a real apply print the very same plan, and tests can pin it down.
 *
 * - A job is matched by name, a table by (source_schema, source_name) within its job.
 * - Schedules have no name: a file entry equal to a row (every field) is that row; the
 *   remaining entries and rows are paired in order (file order, row id order) as changes;
 *   what is left over is added, or not in the file.
 * - Jobs that are not in the file are never touched. Tables and schedules of a job in the
 *   file that the file does not list are removed only with `prune`; otherwise they are
 *   reported as "not in the file, kept".
 * - Only the columns in fields.ts are compared and written: watermarks, claims and the
 *   other loader-written columns are never part of a plan.
 */
export interface CurrentTable {
  id: number;
  values: Values;
  /** The stored watermark, as text (for notes only). */
  maxPrimaryKey: string | null;
  maxUpdatedKey: string | null;
  /** A claim that has not expired: a sync is running this table. */
  claimedBy: string | null;
  claimExpiresAt: string | null;
  /** sync_runs rows of the table (deleted with it). */
  runs: number;
}

export interface CurrentSchedule {
  id: number;
  values: Values;
}

export interface CurrentJob {
  id: number;
  values: Values;
  tables: CurrentTable[];
  schedules: CurrentSchedule[];
}

export interface Snapshot {
  /** The rows of the jobs the file names (those that exist). */
  jobs: CurrentJob[];
  /** Names of the other jobs in the metadata DB. */
  otherJobs: string[];
}

export type Action = 'add' | 'change' | 'same' | 'remove' | 'keep';

export interface FieldChange {
  column: string;
  from: FieldValue;
  to: FieldValue;
}

export interface RowPlan {
  action: Action;
  /** The row's id (null for a row to add). */
  id: number | null;
  /** `table public.orders`, `schedule every 900 s`. */
  label: string;
  /** add: every value that is not the default (from = null); change: what differs. */
  changes: FieldChange[];
  /** The row as the file wants it (add, change); the row as it is (remove, keep, same). */
  values: Values;
  notes: string[];
}

export interface JobPlan extends RowPlan {
  name: string;
  tables: RowPlan[];
  schedules: RowPlan[];
}

export interface ApplyPlan {
  jobs: JobPlan[];
  /** Jobs in the metadata DB that the file does not name: never touched. */
  untouched: string[];
  /** Reasons the plan cannot be applied (e.g. a table to remove is being synced). */
  blockers: string[];
  prune: boolean;
}

function diff(fields: readonly FieldSpec[], from: Values, to: Values): FieldChange[] {
  return fields.filter((f) => !sameValue(f, from[f.column] ?? null, to[f.column] ?? null)).map((f) => ({ column: f.column, from: from[f.column] ?? null, to: to[f.column] ?? null }));
}

function additions(fields: readonly FieldSpec[], values: Values): FieldChange[] {
  return fields.filter((f) => canonical(f, values[f.column] ?? null) !== canonical(f, f.default)).map((f) => ({ column: f.column, from: null, to: values[f.column] ?? null }));
}

export function tableLabel(v: Values): string {
  return `table ${String(v.source_schema ?? 'public')}.${String(v.source_name)}`;
}

export function scheduleLabel(v: Values): string {
  const at = v.at ? ` at ${String(v.at)}` : '';
  const tz = v.timezone && v.timezone !== 'UTC' ? ` (${String(v.timezone)})` : '';
  return `schedule every ${String(v.frequency)} s${at}${tz}${v.enabled === false ? ', disabled' : ''}`;
}

const KEY_COLUMNS = new Set(['copy_mode', 'primary_key', 'updated_key']);

function planTables(jobName: string, desired: ConfigFile['jobs'][number]['tables'], current: CurrentTable[], prune: boolean, blockers: string[]): RowPlan[] {
  const key = (v: Values) => `${String(v.source_schema)}.${String(v.source_name)}`;
  const byKey = new Map(current.map((t) => [key(t.values), t]));
  const out: RowPlan[] = [];
  const listed = new Set<string>();
  for (const t of desired) {
    listed.add(key(t.values));
    const cur = byKey.get(key(t.values));
    if (!cur) {
      const changes = additions(TABLE_FIELDS, t.values).filter((c) => c.column !== 'source_name' && c.column !== 'source_schema');
      out.push({ action: 'add', id: null, label: tableLabel(t.values), changes, values: t.values, notes: [] });
      continue;
    }
    const changes = diff(TABLE_FIELDS, cur.values, t.values);
    const notes: string[] = [];
    const wm = [cur.maxUpdatedKey ? `max_updated_key ${cur.maxUpdatedKey}` : null, cur.maxPrimaryKey ? `max_primary_key ${cur.maxPrimaryKey}` : null].filter(Boolean);
    if (wm.length > 0 && changes.some((c) => KEY_COLUMNS.has(c.column))) {
      notes.push(
        `the watermark is kept (${wm.join(', ')}): the next sync reads after it with the new settings; to read the table again from the start, run redshift-loader reset --job ${jobName} --table ${key(cur.values)}`,
      );
    }
    out.push({ action: changes.length > 0 ? 'change' : 'same', id: cur.id, label: tableLabel(t.values), changes, values: t.values, notes });
  }
  for (const cur of current) {
    if (listed.has(key(cur.values))) continue;
    if (!prune) {
      out.push({ action: 'keep', id: cur.id, label: tableLabel(cur.values), changes: [], values: cur.values, notes: [] });
      continue;
    }
    const notes = [`its ${cur.runs} sync_runs row(s) go with it; the Redshift table is left as it is`];
    if (cur.claimedBy) {
      blockers.push(
        `job ${jobName}, ${tableLabel(cur.values)}: cannot be removed while a sync runs it (claimed by ${cur.claimedBy} until ${cur.claimExpiresAt ?? '?'}); apply again when it has finished, or keep it in the file`,
      );
    }
    out.push({ action: 'remove', id: cur.id, label: tableLabel(cur.values), changes: [], values: cur.values, notes });
  }
  return out;
}

function planSchedules(desired: ConfigSchedule[], current: CurrentSchedule[], prune: boolean): RowPlan[] {
  const sameRow = (a: Values, b: Values) => diff(SCHEDULE_FIELDS, a, b).length === 0;
  const rows = [...current].sort((a, b) => a.id - b.id);
  const matched = new Map<number, CurrentSchedule>();
  const used = new Set<number>();
  // 1. Entries equal to a row are that row.
  desired.forEach((d, i) => {
    const hit = rows.find((r) => !used.has(r.id) && sameRow(r.values, d.values));
    if (hit) {
      matched.set(i, hit);
      used.add(hit.id);
    }
  });
  // 2. The rest are paired in order: a change to an existing schedule keeps its run state.
  const free = rows.filter((r) => !used.has(r.id));
  desired.forEach((_, i) => {
    if (matched.has(i)) return;
    const next = free.shift();
    if (next) {
      matched.set(i, next);
      used.add(next.id);
    }
  });
  const out: RowPlan[] = desired.map((d, i) => {
    const cur = matched.get(i);
    if (!cur) return { action: 'add', id: null, label: scheduleLabel(d.values), changes: additions(SCHEDULE_FIELDS, d.values), values: d.values, notes: [] };
    const changes = diff(SCHEDULE_FIELDS, cur.values, d.values);
    return { action: changes.length > 0 ? 'change' : 'same', id: cur.id, label: scheduleLabel(changes.length > 0 ? cur.values : d.values), changes, values: d.values, notes: [] };
  });
  for (const r of rows) {
    if (used.has(r.id)) continue;
    out.push({ action: prune ? 'remove' : 'keep', id: r.id, label: scheduleLabel(r.values), changes: [], values: r.values, notes: [] });
  }
  return out;
}

export function planApply(file: ConfigFile, snapshot: Snapshot, opts: { prune: boolean }): ApplyPlan {
  const blockers: string[] = [];
  const byName = new Map(snapshot.jobs.map((j) => [String(j.values.name), j]));
  const jobs: JobPlan[] = file.jobs.map((job) => {
    const name = String(job.values.name);
    const cur = byName.get(name);
    if (!cur) {
      return {
        action: 'add',
        id: null,
        name,
        label: `job ${name}`,
        changes: additions(JOB_FIELDS, job.values).filter((c) => c.column !== 'name'),
        values: job.values,
        notes: [],
        tables: planTables(name, job.tables, [], opts.prune, blockers),
        schedules: planSchedules(job.schedules, [], opts.prune),
      };
    }
    const changes = diff(JOB_FIELDS, cur.values, job.values);
    const notes: string[] = [];
    if (changes.some((c) => c.column === 'source_connection_string') && cur.tables.some((t) => t.maxPrimaryKey || t.maxUpdatedKey)) {
      notes.push('the tables keep their watermarks: if the new source is another database, reset them (redshift-loader reset)');
    }
    return {
      action: changes.length > 0 ? 'change' : 'same',
      id: cur.id,
      name,
      label: `job ${name}`,
      changes,
      values: job.values,
      notes,
      tables: planTables(name, job.tables, cur.tables, opts.prune, blockers),
      schedules: planSchedules(job.schedules, cur.schedules, opts.prune),
    };
  });
  return { jobs, untouched: [...snapshot.otherJobs].sort(), blockers, prune: opts.prune };
}

export interface PlanCounts {
  added: number;
  changed: number;
  removed: number;
  kept: number;
}

/** Rows added, changed, removed (jobs, tables and schedules together) and rows not in the file that stay. */
export function countPlan(plan: ApplyPlan): PlanCounts {
  const c: PlanCounts = { added: 0, changed: 0, removed: 0, kept: 0 };
  const add = (r: RowPlan) => {
    if (r.action === 'add') c.added++;
    else if (r.action === 'change') c.changed++;
    else if (r.action === 'remove') c.removed++;
    else if (r.action === 'keep') c.kept++;
  };
  for (const j of plan.jobs) {
    add(j);
    j.tables.forEach(add);
    j.schedules.forEach(add);
  }
  return c;
}

export function hasChanges(plan: ApplyPlan): boolean {
  const c = countPlan(plan);
  return c.added + c.changed + c.removed > 0;
}

const SECRET_COLUMNS = new Set(['source_connection_string', 'destination_connection_string']);

function showValue(column: string, v: FieldValue): string {
  const text = v === null ? 'null' : JSON.stringify(v);
  // Connection strings in files are env: references; a literal URL already in a row is masked.
  return SECRET_COLUMNS.has(column) ? redactText(text) : text;
}

const MARK: Record<Action, string> = { add: '+', change: '~', remove: '-', keep: '=', same: ' ' };
const WORD: Record<Action, string> = { add: 'add', change: 'change', remove: 'remove', keep: 'not in the file, kept (apply --prune removes it)', same: 'no changes' };

function rowLines(r: RowPlan, indent: string): string[] {
  if (r.action === 'same') return [];
  const lines = [`${indent}${MARK[r.action]} ${r.label}: ${WORD[r.action]}`];
  for (const c of r.changes) lines.push(`${indent}    ${c.column}: ${r.action === 'add' ? showValue(c.column, c.to) : `${showValue(c.column, c.from)} -> ${showValue(c.column, c.to)}`}`);
  for (const n of r.notes) lines.push(`${indent}    note: ${n}`);
  return lines;
}

/** The plan as people read it: one block per job, a line per row that differs, a line per changed field. */
export function formatPlan(plan: ApplyPlan): string {
  const lines: string[] = [];
  for (const j of plan.jobs) {
    const inner = [...j.tables, ...j.schedules].flatMap((r) => rowLines(r, '  '));
    if (j.action === 'same' && inner.length === 0) {
      lines.push(`  job ${j.name}: no changes`);
      continue;
    }
    lines.push(...(j.action === 'same' ? [`  job ${j.name}:`] : rowLines(j, '')), ...inner);
  }
  if (plan.untouched.length > 0) lines.push(`jobs not in the file, not touched: ${plan.untouched.join(', ')}`);
  for (const b of plan.blockers) lines.push(`cannot apply: ${b}`);
  lines.push(summary(plan));
  return `${lines.join('\n')}\n`;
}

export function summary(plan: ApplyPlan): string {
  const c = countPlan(plan);
  const parts = [c.added && `${c.added} added`, c.changed && `${c.changed} changed`, c.removed && `${c.removed} removed`].filter(Boolean);
  const kept = c.kept > 0 ? `; ${c.kept} row(s) not in the file kept` : '';
  return `${parts.length > 0 ? parts.join(', ') : 'no changes'}${kept}`;
}
