import { LineCounter, isMap, isScalar, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { redactText } from '../log.js';
import { splitColumnList } from '../sql/quote.js';
import { parseAt, validateTimezone } from '../schedule/at-pattern.js';
import { parseValuePolicies } from '../schema/value-rules.js';
import { COPY_MODES, JOB_FIELDS, LOADER_WRITTEN, SCHEDULE_FIELDS, TABLE_FIELDS, holdsPassword, type FieldSpec, type FieldValue, type Values } from './fields.js';

/**
 * A configuration file (YAML or JSON: JSON is read as YAML 1.2, which it is a subset of):
 *
 *   version: 1
 *   jobs:
 *     - name: shop
 *       source_connection_string: env:SHOP_DATABASE_URL
 *       destination_connection_string: env:REDSHIFT_URL
 *       tables:
 *         - { source_name: orders, copy_mode: INSERT_AND_UPDATE, primary_key: id, updated_key: updated_at }
 *       schedules:
 *         - { frequency: 900 }
 *
 * Every key is the column of the same name; a key left out is the column's default.
 * Parsing and validation are pure: text in, the desired rows or one line per problem out.
 */
export interface ConfigTable {
  /** Where the entry is in the file, e.g. `jobs[0].tables[2]`. */
  path: string;
  values: Values;
}

export interface ConfigSchedule {
  path: string;
  values: Values;
}

export interface ConfigJob {
  path: string;
  values: Values;
  tables: ConfigTable[];
  schedules: ConfigSchedule[];
}

export interface ConfigFile {
  jobs: ConfigJob[];
}

export type ParseResult = { ok: true; config: ConfigFile } | { ok: false; problems: string[] };

type PathPart = string | number;

export function formatPath(path: readonly PathPart[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out || '(top level)';
}

const show = (v: unknown) => redactText(typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v));

function fieldSchema(spec: FieldSpec): z.ZodType {
  switch (spec.kind) {
    case 'text':
    case 'connection':
    case 'zone':
    case 'at':
      return z.string({ error: 'must be a string' });
    case 'list':
      return z.union([z.string(), z.array(z.string()).min(1)], { error: 'must be a column name, a comma-separated list of them, or a list of names' });
    case 'int':
      return z
        .number({ error: 'must be a whole number' })
        .int({ error: 'must be a whole number' })
        .min(spec.min ?? 0, { error: spec.min === 1 ? 'must be greater than 0' : `must be at least ${spec.min ?? 0}` });
    case 'bool':
      return z.boolean({ error: 'must be true or false' });
    case 'copy_mode':
      return z.enum(COPY_MODES, { error: `must be one of ${COPY_MODES.join(', ')}` });
    case 'policies':
      return z.record(z.string(), z.unknown(), { error: 'must be a mapping of kind to policy, e.g. {text_too_long: truncate}' });
  }
}

function objectSchema(fields: readonly FieldSpec[], extra: Record<string, z.ZodType> = {}): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const f of fields) shape[f.column] = f.required ? fieldSchema(f) : fieldSchema(f).nullable().optional();
  return z.strictObject({ ...shape, ...extra }, { error: 'must be a mapping of column names to values' });
}

const scheduleSchema = objectSchema(SCHEDULE_FIELDS);
const tableSchema = objectSchema(TABLE_FIELDS);
const jobSchema = objectSchema(JOB_FIELDS, {
  tables: z.array(tableSchema, { error: 'must be a list of tables' }).nullable().optional(),
  schedules: z.array(scheduleSchema, { error: 'must be a list of schedules' }).nullable().optional(),
});
const fileSchema = z.strictObject(
  {
    version: z.literal(1, { error: 'must be 1' }).optional(),
    jobs: z.array(jobSchema, { error: 'must be a list of jobs' }),
  },
  { error: 'must be a mapping with a `jobs` list' },
);

const KEYS_BY_LEVEL: Record<string, string[]> = {
  file: ['version', 'jobs'],
  job: [...JOB_FIELDS.map((f) => f.column), 'tables', 'schedules'],
  table: TABLE_FIELDS.map((f) => f.column),
  schedule: SCHEDULE_FIELDS.map((f) => f.column),
};

function levelOf(path: readonly PathPart[]): keyof typeof KEYS_BY_LEVEL {
  if (path.length === 0) return 'file';
  if (path.length === 2) return 'job';
  return path[2] === 'tables' ? 'table' : 'schedule';
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

function unknownKeyRule(key: string, level: keyof typeof KEYS_BY_LEVEL): string {
  const reason = LOADER_WRITTEN[key];
  if (reason && level !== 'file') return `cannot be set in a file: ${key} ${reason}`;
  const keys = KEYS_BY_LEVEL[level]!;
  const near = keys.find((k) => k.replace(/_/g, '') === key.toLowerCase().replace(/[_-]/g, '')) ?? keys.find((k) => distance(k, key) <= 2);
  return `unknown key${near ? `; did you mean ${near}?` : ''} (keys here: ${keys.join(', ')})`;
}

interface Problem {
  path: PathPart[];
  rule: string;
}

/** Rules that span fields or entries: unique names, what each copy mode needs, keys that must be synced, secrets. */
function crossChecks(data: unknown): Problem[] {
  const out: Problem[] = [];
  const obj = (v: unknown): Record<string, unknown> | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const list = (v: unknown): string[] => (typeof v === 'string' ? splitColumnList(v) : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').map((s) => s.trim()) : []);
  const jobs = obj(data)?.jobs;
  if (!Array.isArray(jobs)) return out;
  const jobNames = new Map<string, number>();
  jobs.forEach((rawJob, j) => {
    const job = obj(rawJob);
    if (!job) return;
    const name = str(job.name);
    if (name !== null) {
      if (name.trim() === '') out.push({ path: ['jobs', j, 'name'], rule: 'must not be empty' });
      else if (jobNames.has(name)) out.push({ path: ['jobs', j, 'name'], rule: `job "${name}" is also jobs[${jobNames.get(name)}]; job names are unique` });
      else jobNames.set(name, j);
    }
    for (const f of JOB_FIELDS) {
      const v = job[f.column];
      if (typeof v !== 'string') continue;
      if (f.kind === 'connection') out.push(...connectionProblems(v, ['jobs', j, f.column], name));
      else if (v.trim() === '' && f.column !== 'name') out.push({ path: ['jobs', j, f.column], rule: 'must not be empty (leave the key out for the default)' });
    }
    const tables = Array.isArray(job.tables) ? job.tables : [];
    const seen = new Map<string, number>();
    tables.forEach((rawTable, t) => {
      const table = obj(rawTable);
      if (!table) return;
      const at = (k: string): PathPart[] => ['jobs', j, 'tables', t, k];
      for (const f of TABLE_FIELDS) {
        const v = table[f.column];
        if (typeof v === 'string' && v.trim() === '') out.push({ path: at(f.column), rule: 'must not be empty (leave the key out for the default)' });
        if (Array.isArray(v) && v.some((x) => typeof x === 'string' && (x.trim() === '' || x.includes(',')))) {
          out.push({ path: at(f.column), rule: 'each list entry must be one column name (no empty names, no commas)' });
        }
      }
      const sourceName = str(table.source_name);
      const sourceSchema = str(table.source_schema) ?? 'public';
      if (sourceName) {
        const key = `${sourceSchema}.${sourceName}`;
        if (seen.has(key)) out.push({ path: at('source_name'), rule: `table ${key} is also jobs[${j}].tables[${seen.get(key)}]; a table is listed once per job` });
        else seen.set(key, t);
      }
      const mode = str(table.copy_mode);
      const pk = list(table.primary_key);
      const uk = list(table.updated_key);
      if ((mode === 'INSERT_ONLY' || mode === 'INSERT_AND_UPDATE') && pk.length === 0 && table.primary_key == null) {
        out.push({ path: at('primary_key'), rule: `copy_mode ${mode} needs primary_key (a column, or a list for a composite key)` });
      }
      if (mode === 'INSERT_AND_UPDATE' && uk.length === 0 && table.updated_key == null) {
        out.push({ path: at('updated_key'), rule: 'copy_mode INSERT_AND_UPDATE needs updated_key (a timestamp, timestamptz or date column)' });
      }
      if (uk.length > 1) out.push({ path: at('updated_key'), rule: 'must be one column' });
      const dist = str(table.dist_key);
      if (dist !== null && dist.includes(',')) out.push({ path: at('dist_key'), rule: 'must be one column, or EVEN, ALL or AUTO' });
      const keys = [...pk, ...uk.slice(0, 1)];
      const excluded = list(table.exclude_columns).filter((c) => keys.includes(c));
      if (excluded.length > 0) out.push({ path: at('exclude_columns'), rule: `leaves out key column(s) ${excluded.join(', ')}; key columns are always synced` });
      const include = list(table.include_columns);
      const missing = include.length > 0 ? keys.filter((k) => !include.includes(k)) : [];
      if (missing.length > 0) out.push({ path: at('include_columns'), rule: `must list the key column(s) ${missing.join(', ')}; key columns are always synced` });
      if (table.value_policies !== null && obj(table.value_policies)) {
        try {
          parseValuePolicies(table.value_policies, 'value_policies');
        } catch (err) {
          out.push({ path: at('value_policies'), rule: (err as Error).message.replace(/^value_policies: (value_policies\.|value_policies )?/, '') });
        }
      }
    });
    const schedules = Array.isArray(job.schedules) ? job.schedules : [];
    schedules.forEach((rawSchedule, s) => {
      const schedule = obj(rawSchedule);
      if (!schedule) return;
      if (typeof schedule.at === 'string') {
        try {
          parseAt(schedule.at);
        } catch (err) {
          out.push({ path: ['jobs', j, 'schedules', s, 'at'], rule: (err as Error).message });
        }
      }
      if (typeof schedule.timezone === 'string') {
        try {
          validateTimezone(schedule.timezone);
        } catch (err) {
          out.push({ path: ['jobs', j, 'schedules', s, 'timezone'], rule: (err as Error).message });
        }
      }
    });
  });
  return out;
}

function connectionProblems(value: string, path: PathPart[], jobName: string | null): Problem[] {
  const v = value.trim();
  if (v.startsWith('env:')) {
    return /^env:[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? [] : [{ path, rule: 'must be env:VAR_NAME (letters, digits, _) or a postgres:// URL' }];
  }
  if (!/^(postgres|postgresql|redshift):\/\//.test(v)) return [{ path, rule: 'must be env:VAR_NAME or a postgres:// URL' }];
  if (holdsPassword(v)) {
    const suggestion = `${(jobName ?? 'JOB').toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_${path[path.length - 1] === 'source_connection_string' ? 'SOURCE' : 'REDSHIFT'}_URL`;
    return [{ path, rule: `holds a password, which must not be in a file kept in git: write env:${suggestion} and set ${suggestion} to the URL where the worker runs` }];
  }
  return [];
}

/** Turns a parsed value into a row's value: defaults for what is left out, lists as comma text. */
function valuesOf(fields: readonly FieldSpec[], raw: Record<string, unknown>): Values {
  const out: Values = {};
  for (const f of fields) {
    const v = raw[f.column];
    if (v === undefined || v === null) out[f.column] = f.default;
    else if (f.kind === 'list' && Array.isArray(v)) out[f.column] = (v as string[]).map((s) => s.trim()).join(', ');
    else if (typeof v === 'string') out[f.column] = f.kind === 'text' || f.kind === 'list' || f.kind === 'zone' || f.kind === 'connection' ? v.trim() : v;
    else out[f.column] = v as FieldValue;
  }
  return out;
}

interface Located {
  line: number;
  col: number;
}

function locate(doc: Document, counter: LineCounter, path: readonly PathPart[], key?: string): Located | null {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as YamlNode | undefined;
    if (!node) continue;
    let range = node.range;
    if (key !== undefined && n === path.length && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      // A key that is not there (a required one left out): the mapping that should hold it.
      if (pair && isScalar(pair.key) && pair.key.range) range = pair.key.range;
    }
    if (!range) continue;
    const pos = counter.linePos(range[0]);
    return { line: pos.line, col: pos.col };
  }
  return null;
}

/** Parses and validates a configuration file's text. `file` names it in the problem lines. */
export function parseConfigText(text: string, file: string): ParseResult {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = counter.linePos(e.pos[0]);
        return `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML or JSON: ${e.message.split('\n')[0]}${/alias|anchor/i.test(e.message) ? ' (a value starting with * must be quoted, e.g. "**:30")' : ''}`;
      }),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const message = (err as Error).message;
    return { ok: false, problems: [`${file}: not valid YAML: ${message}${/alias/i.test(message) ? ' (a value starting with * must be quoted, e.g. "**:30")' : ''}`] };
  }
  const problems: Problem[] = [];
  const parsed = fileSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.filter((p): p is PathPart => typeof p === 'string' || typeof p === 'number');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push({ path: [...path, key], rule: unknownKeyRule(key, levelOf(path)) });
        continue;
      }
      const input = (issue as { input?: unknown }).input;
      const missing = input === undefined && issue.code === 'invalid_type';
      const rule = missing ? 'is required' : `${issue.message}${issue.code === 'custom' ? '' : ` (got ${show(input)})`}`;
      problems.push({ path, rule });
    }
  }
  problems.push(...crossChecks(data));
  if (problems.length > 0) {
    const located = problems.map((p) => {
      const last = p.path[p.path.length - 1];
      const isKey = typeof last === 'string';
      const where = locate(doc, counter, isKey ? p.path.slice(0, -1) : p.path, isKey ? last : undefined);
      return { where, line: `${file}${where ? `:${where.line}:${where.col}` : ''}: ${formatPath(p.path)}: ${p.rule}` };
    });
    // In the file's order, one line per problem.
    located.sort((a, b) => (a.where?.line ?? Infinity) - (b.where?.line ?? Infinity) || (a.where?.col ?? 0) - (b.where?.col ?? 0));
    return { ok: false, problems: [...new Set(located.map((l) => l.line))] };
  }
  const root = parsed.data as { jobs: Array<Record<string, unknown>> };
  return {
    ok: true,
    config: {
      jobs: root.jobs.map((job, j) => ({
        path: `jobs[${j}]`,
        values: valuesOf(JOB_FIELDS, job),
        tables: ((job.tables as Array<Record<string, unknown>> | null | undefined) ?? []).map((t, i) => ({ path: `jobs[${j}].tables[${i}]`, values: valuesOf(TABLE_FIELDS, t) })),
        schedules: ((job.schedules as Array<Record<string, unknown>> | null | undefined) ?? []).map((s, i) => ({ path: `jobs[${j}].schedules[${i}]`, values: valuesOf(SCHEDULE_FIELDS, s) })),
      })),
    },
  };
}
