import { Document } from 'yaml';
import { connect, type SessionTimeouts } from '../db/connect.js';
import { MetadataError } from '../metadata/store.js';
import { readSnapshot } from './db.js';
import { JOB_FIELDS, SCHEDULE_FIELDS, TABLE_FIELDS, canonical, holdsPassword, type FieldSpec, type Values } from './fields.js';
import type { Snapshot } from './plan.js';

/**
 * `redshift-loader export`: today's rows as a configuration file that `apply` reads back
 * with no changes. Only values that differ from the column's default are written (the
 * required keys always are), in the column order of fields.ts.
 */
export interface ExportResult {
  text: string;
  /** Lines for stderr: connection strings that held a password and were replaced. */
  warnings: string[];
}

function compact(fields: readonly FieldSpec[], values: Values): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = values[f.column] ?? null;
    if (f.required || canonical(f, v) !== canonical(f, f.default)) out[f.column] = v;
  }
  return out;
}

export function envNameFor(jobName: string, column: string): string {
  const job = jobName.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'JOB';
  return `${/^[0-9]/.test(job) ? `J${job}` : job}_${column === 'source_connection_string' ? 'SOURCE' : 'REDSHIFT'}_URL`;
}

/** The file's content (pure). A literal connection string with a password becomes an env: reference, with a warning. */
export function configFromSnapshot(snapshot: Snapshot): { config: Record<string, unknown>; warnings: string[] } {
  const warnings: string[] = [];
  const jobs = snapshot.jobs.map((job) => {
    const name = String(job.values.name);
    const out = compact(JOB_FIELDS, job.values);
    for (const column of ['source_connection_string', 'destination_connection_string']) {
      const v = out[column];
      if (typeof v === 'string' && holdsPassword(v)) {
        const env = envNameFor(name, column);
        out[column] = `env:${env}`;
        warnings.push(
          `job ${name}: ${column} holds a literal URL with a password; the file says env:${env} instead. Set ${env} to that URL where the worker runs, then apply the file: the secret then lives in the environment, not in the metadata DB or in git`,
        );
      }
    }
    out.tables = job.tables.map((t) => compact(TABLE_FIELDS, t.values));
    out.schedules = job.schedules.map((s) => compact(SCHEDULE_FIELDS, s.values));
    return out;
  });
  return { config: { version: 1, jobs }, warnings };
}

export function stringifyConfig(config: Record<string, unknown>, format: 'yaml' | 'json'): string {
  if (format === 'json') return `${JSON.stringify(config, null, 2)}\n`;
  const doc = new Document(config);
  doc.commentBefore =
    ' redshift-loader configuration: `redshift-loader apply FILE` makes the metadata rows match it.\n' +
    ' Keys are the columns of jobs, tables and schedule_events; a key left out is the column\'s default.';
  return doc.toString({ lineWidth: 0 });
}

export async function runExport(metadataUrl: string, opts: { job?: string; format: 'yaml' | 'json'; timeouts?: SessionTimeouts }): Promise<ExportResult> {
  const db = await connect(metadataUrl, 'redshift-loader export', opts.timeouts);
  try {
    await db.query('BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ');
    const snapshot = await readSnapshot(db, opts.job ? [opts.job] : null);
    await db.query('COMMIT');
    if (opts.job && snapshot.jobs.length === 0) {
      const all = await db.query<{ name: string }>('SELECT name FROM jobs ORDER BY name');
      throw new MetadataError(`job "${opts.job}" not found in the jobs table (jobs: ${all.rows.map((r) => r.name).join(', ') || 'none'})`);
    }
    const { config, warnings } = configFromSnapshot(snapshot);
    return { text: stringifyConfig(config, opts.format), warnings };
  } finally {
    await db.end().catch(() => undefined);
  }
}
