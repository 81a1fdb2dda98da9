import { splitColumnList } from '../sql/quote.js';

/**
 * The columns a configuration file sets: the user-edited columns of `jobs`, `tables` and
 * `schedule_events`, each under its own column name. Everything else in those rows
 * (watermarks, claims, last_error, source_attnums, watermark_snapshot, delete-detection
 * bookkeeping, schedule state, timestamps) is written by the loader and never by `apply`.
 *
 * One list drives the file's schema, the reads of the current rows, the diff, the writes
 * and `export`, so a column cannot be in one and missing from another.
 */
export type FieldKind =
  /** Free text (NULL when left out, unless a default is given). */
  | 'text'
  /** A comma-separated column list in the row; a string or a list of strings in a file. */
  | 'list'
  | 'int'
  | 'bool'
  | 'copy_mode'
  /** An IANA time zone name, as the worker reads schedules (Intl). */
  | 'zone'
  /** `env:NAME` or a postgres:// URL without a password. */
  | 'connection'
  /** `tables.value_policies`: a JSON object. */
  | 'policies'
  /** `schedule_events.at`: comma list of HH:MM patterns. */
  | 'at';

export interface FieldSpec {
  column: string;
  kind: FieldKind;
  /** The column's value when the file leaves the key out. */
  default: FieldValue;
  required?: boolean;
  /** Smallest allowed whole number (kind int). */
  min?: number;
}

export type FieldValue = string | number | boolean | Record<string, string> | null;

export const COPY_MODES = ['INSERT_ONLY', 'INSERT_AND_UPDATE', 'FULL_DATA_SYNC', 'CDC'] as const;
export type CopyMode = (typeof COPY_MODES)[number];

export const JOB_FIELDS: readonly FieldSpec[] = [
  { column: 'name', kind: 'text', default: null, required: true },
  { column: 'source_connection_string', kind: 'connection', default: null, required: true },
  { column: 'destination_connection_string', kind: 'connection', default: null, required: true },
  { column: 'destination_schema', kind: 'text', default: 'public' },
  { column: 's3_bucket', kind: 'text', default: null },
  { column: 's3_prefix', kind: 'text', default: null },
  { column: 'iam_role', kind: 'text', default: null },
  { column: 'enabled', kind: 'bool', default: true },
];

export const TABLE_FIELDS: readonly FieldSpec[] = [
  { column: 'source_schema', kind: 'text', default: 'public' },
  { column: 'source_name', kind: 'text', default: null, required: true },
  { column: 'destination_schema', kind: 'text', default: null },
  { column: 'destination_name', kind: 'text', default: null },
  { column: 'copy_mode', kind: 'copy_mode', default: null, required: true },
  { column: 'primary_key', kind: 'list', default: null },
  { column: 'updated_key', kind: 'text', default: null },
  { column: 'disabled', kind: 'bool', default: false },
  { column: 'row_limit', kind: 'int', default: null, min: 1 },
  { column: 'chunk_size', kind: 'int', default: null, min: 1 },
  { column: 'dist_key', kind: 'text', default: null },
  { column: 'sort_keys', kind: 'list', default: null },
  { column: 'include_columns', kind: 'list', default: null },
  { column: 'exclude_columns', kind: 'list', default: null },
  { column: 'delete_detection', kind: 'bool', default: false },
  { column: 'delete_detection_minutes', kind: 'int', default: null, min: 0 },
  { column: 'updated_key_time_zone', kind: 'text', default: null },
  { column: 'allow_duplicate_keys', kind: 'bool', default: false },
  { column: 'value_policies', kind: 'policies', default: null },
];

export const SCHEDULE_FIELDS: readonly FieldSpec[] = [
  { column: 'frequency', kind: 'int', default: null, required: true, min: 1 },
  { column: 'at', kind: 'at', default: null },
  { column: 'timezone', kind: 'zone', default: 'UTC' },
  { column: 'enabled', kind: 'bool', default: true },
];

/** Columns of these tables that the loader writes: a file that names one gets this reason back. */
export const LOADER_WRITTEN: Record<string, string> = {
  id: 'is assigned by the database',
  job_id: 'comes from the job the entry is listed under',
  max_primary_key: 'is a watermark, written by the loader; `redshift-loader reset` sets it to NULL',
  max_updated_key: 'is a watermark, written by the loader; `redshift-loader reset` sets it to NULL',
  watermark_snapshot: 'is written by the loader',
  source_attnums: 'is written by the loader',
  last_synced_at: 'is written by the loader',
  last_error: 'is written by the loader',
  deletes_checked_at: 'is written by the loader',
  deletes_removed: 'is written by the loader',
  claimed_by: 'is a claim, written by the loader',
  claimed_at: 'is a claim, written by the loader',
  claim_expires_at: 'is a claim, written by the loader',
  claim_token: 'is a claim, written by the loader',
  // copy_mode CDC (src/sync/cdc).
  cdc_loaded_lsn: 'is written by the loader (copy_mode CDC); `redshift-loader reset` sets it to NULL',
  cdc_position: 'is written by the loader (copy_mode CDC)',
  cdc_caught_up_at: 'is written by the loader (copy_mode CDC)',
  created_at: 'is written by the database',
  updated_at: 'is written by the database',
  last_run_at: 'is written by the worker',
  last_succeeded_at: 'is written by the worker',
  failure_count: 'is written by the worker',
  retry_at: 'is written by the worker',
};

/** A row's configured values, by column name. */
export type Values = Record<string, FieldValue>;

/** The canonical form used to compare two values of a field (lists by their columns, objects by sorted keys). */
export function canonical(spec: FieldSpec, value: FieldValue): string {
  if (value === null || value === undefined) return 'null';
  if (spec.kind === 'list' && typeof value === 'string') {
    const parts = splitColumnList(value);
    return parts.length === 0 ? 'null' : JSON.stringify(parts);
  }
  if (spec.kind === 'policies' && typeof value === 'object') {
    const o = value as Record<string, string>;
    return JSON.stringify(Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]])));
  }
  return JSON.stringify(value);
}

export function sameValue(spec: FieldSpec, a: FieldValue, b: FieldValue): boolean {
  return canonical(spec, a) === canonical(spec, b);
}

/** True when a connection string is a literal URL that carries a password (in the userinfo or as ?password=). */
export function holdsPassword(value: string): boolean {
  const v = value.trim();
  if (v.startsWith('env:')) return false;
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]*:[^@/\s]*@/i.test(v)) {
    const m = v.match(/^[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]*:([^@/\s]*)@/i);
    return (m?.[1] ?? '') !== '';
  }
  return /[?&]password=[^&]/i.test(v);
}
