import type pg from 'pg';
import { resolveConnectionString } from '../config/connection.js';
import { connect, connectRedshift, defaultTimeZone } from '../db/connect.js';
import { redactText, type Logger } from '../log.js';
import { splitColumnList } from '../sql/quote.js';
import * as meta from '../metadata/store.js';
import type { CopyMode, JobRow, TableRow } from '../metadata/types.js';
import { createSchemaSql, createTableSql, designTable, type DesignOverrides } from '../schema/ddl.js';
import { discover, type DiscoveredTable } from './discover.js';
import { readTargetColumns } from '../schema/drift.js';
import type { RedshiftType } from '../schema/types.js';
import { VALUE_POLICIES, valueRules } from '../schema/value-rules.js';

/**
 * `redshift-loader setup --job NAME`: discover the source, print what was chosen and why,
 * create missing target schemas and tables, and add a tables row for every new source
 * table. Idempotent: existing rows (and their watermarks and overrides) are never changed,
 * existing targets are left alone (drift is handled at sync time), so a second run
 * changes nothing.
 */
export interface SetupOptions {
  jobName: string;
  schemas?: string[];
  include?: string[];
  exclude?: string[];
  dryRun?: boolean;
  /** Keyed tables without an updated key below this many rows become FULL_DATA_SYNC (default 100,000). */
  fullSyncBelow?: number;
  /** Delete detection interval (minutes) for keyed incremental tables at or over that size (default 60). */
  deleteCheckMinutes?: number;
}

export interface TableSetupResult {
  source: string;
  target: string;
  copyMode: CopyMode;
  targetAction: 'created' | 'exists' | 'would create' | 'failed';
  rowAction: 'added' | 'kept' | 'would add' | 'failed';
  error?: string;
}

export interface SetupReport {
  ok: boolean;
  output: string;
  tables: TableSetupResult[];
  /** What ran (or, with dryRun, would run), in order. */
  redshiftStatements: string[];
  metadataStatements: string[];
}

/** A column list for a tables row: plain names, quoted only when they would not split back. */
export function columnListText(cols: readonly string[]): string | null {
  if (cols.length === 0) return null;
  return cols.map((c) => (/[,"]/.test(c) || c.trim() !== c ? `"${c.replace(/"/g, '""')}"` : c)).join(', ');
}

/** A standard SQL literal, for printing statements (the metadata DB runs them with parameters). */
function literal(v: string | number | boolean | null): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `'${v.replace(/'/g, "''")}'`;
}

const INSERT_ROW_SQL = `INSERT INTO tables (job_id, source_schema, source_name, copy_mode, primary_key, updated_key,
  updated_key_time_zone, delete_detection, delete_detection_minutes)
VALUES ($1, $2, $3, $4::copy_mode, $5, $6, $7, $8, $9)
ON CONFLICT (job_id, source_schema, source_name) DO NOTHING
RETURNING id`;

function printedInsert(params: Array<string | number | boolean | null>): string {
  return INSERT_ROW_SQL.replace(/\$(\d+)/g, (_, i: string) => literal(params[Number(i) - 1]!)).replace(/\nRETURNING id$/, '');
}

export async function runSetup(metadataUrl: string, opts: SetupOptions, deps: { log: Logger }): Promise<SetupReport> {
  const db = await connect(metadataUrl, 'redshift-loader setup');
  try {
    const job = await meta.getJobByName(db, opts.jobName);
    return await setupJob(db, job, opts, deps);
  } finally {
    await db.end().catch(() => undefined);
  }
}

export async function setupJob(db: pg.ClientBase, job: JobRow, opts: SetupOptions, deps: { log: Logger }): Promise<SetupReport> {
  const log = deps.log.child({ job: job.name });
  const sourceUrl = resolveConnectionString(job.sourceConnectionString, `job "${job.name}" source_connection_string`);
  const destUrl = resolveConnectionString(job.destinationConnectionString, `job "${job.name}" destination_connection_string`);
  const source = await connect(sourceUrl, 'redshift-loader setup');
  let redshift: pg.Client | null = null;
  try {
    redshift = await connectRedshift(destUrl);
    const caseInsensitive = await caseInsensitiveDatabase(redshift);
    const schemas = opts.schemas && opts.schemas.length > 0 ? opts.schemas : ['public'];
    const found = await discover(source, { schemas, include: opts.include, exclude: opts.exclude, fullSyncBelow: opts.fullSyncBelow, deleteCheckMinutes: opts.deleteCheckMinutes });
    const existing = new Map((await meta.listTables(db, job.id)).map((t) => [`${t.sourceSchema}.${t.sourceName}`, t]));
    const sourceTimeZone = await defaultTimeZone(sourceUrl);
    const out: string[] = [
      `setup job "${job.name}"${opts.dryRun ? ' (dry run: nothing is changed)' : ''}: ${found.length} table(s) and view(s) in ${schemas.join(', ')}`,
    ];
    const report: SetupReport = { ok: true, output: '', tables: [], redshiftStatements: [], metadataStatements: [] };
    const schemasReady = new Set<string>();
    for (const t of found) {
      const r = await setupTable({ db, sourceTimeZone, caseInsensitive, redshift, job, t, row: existing.get(`${t.schema}.${t.name}`) ?? null, dryRun: !!opts.dryRun, schemasReady, report, out, log });
      report.tables.push(r);
      if (r.error) report.ok = false;
    }
    if (found.length === 0) out.push('no tables matched');
    if (opts.dryRun) {
      out.push('', '-- on Redshift:', ...(report.redshiftStatements.length ? report.redshiftStatements.map((s) => `${s};`) : ['-- nothing to create']));
      out.push('', '-- on the metadata DB:', ...(report.metadataStatements.length ? report.metadataStatements.map((s) => `${s};`) : ['-- nothing to add']));
    }
    report.output = `${out.join('\n')}\n`;
    return report;
  } finally {
    await source.end().catch(() => undefined);
    await redshift?.end().catch(() => undefined);
  }
}

/**
 * Whether the Redshift database compares text case-insensitively (db_collation(),
 * r_DB_COLLATION.html). Where the function is missing, it does not.
 */
async function caseInsensitiveDatabase(rs: pg.ClientBase): Promise<boolean> {
  try {
    const r = await rs.query<{ c: string }>('SELECT db_collation() AS c');
    return r.rows[0]?.c?.trim().toLowerCase() === 'case_insensitive';
  } catch {
    return false;
  }
}

/** Source and target names with upper-case letters (Redshift folds them unless told not to). */
function mixedCaseNames(t: DiscoveredTable, target: { schema: string; name: string }): string[] {
  const names = [t.schema, t.name, target.schema, target.name, ...t.columns.map((c) => c.name)];
  return [...new Set(names.filter((n) => n !== n.toLowerCase()))];
}

/**
 * The columns whose source type allows values the target column cannot hold, by kind
 * (value-rules.ts): a sync fails on such a value unless tables.value_policies says what
 * to do with it. Null when there are none.
 */
function valueRisks(source: DiscoveredTable['columns'], targets: ReadonlyArray<{ name: string; type: RedshiftType }>): string | null {
  const rules = valueRules(
    source.map((c) => ({ name: c.name, type: c.type, notNull: c.notNull })),
    new Map(targets.map((c) => [c.name, c.type])),
    {},
  );
  if (rules.length === 0) return null;
  const byKind = new Map<string, string[]>();
  for (const r of rules) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), `"${r.column}"`]);
  const list = [...byKind].map(([kind, cols]) => `${kind} (${VALUE_POLICIES[kind as keyof typeof VALUE_POLICIES].what}): ${cols.join(', ')}`).join('; ');
  return `these columns can hold values Redshift cannot, and a sync fails on such a value (naming it) unless tables.value_policies says otherwise: ${list}`;
}

interface TableArgs {
  db: pg.ClientBase;
  /** The source database's default TimeZone (for the note on timestamp updated keys). */
  sourceTimeZone: string;
  /** The Redshift database compares text case-insensitively. */
  caseInsensitive: boolean;
  redshift: pg.Client;
  job: JobRow;
  t: DiscoveredTable;
  row: TableRow | null;
  dryRun: boolean;
  schemasReady: Set<string>;
  report: SetupReport;
  out: string[];
  log: Logger;
}

async function setupTable(a: TableArgs): Promise<TableSetupResult> {
  const { t, row, job, out } = a;
  const name = `${t.schema}.${t.name}`;
  const target = { schema: row?.destinationSchema ?? job.destinationSchema, name: row?.destinationName ?? t.name };
  const settings: DesignOverrides & { copyMode: CopyMode } = row
    ? { ...row }
    : { copyMode: t.copyMode, primaryKey: columnListText(t.primaryKey), updatedKey: t.updatedKey };
  const sourceTz = a.sourceTimeZone;
  const result: TableSetupResult = { source: name, target: `${target.schema}.${target.name}`, copyMode: settings.copyMode, targetAction: 'exists', rowAction: 'kept' };
  out.push('', `${name} (${t.kind}) -> ${target.schema}.${target.name}: ${settings.copyMode}`);
  if (row) {
    out.push(`  tables row exists (id ${row.id}): kept as configured (primary_key ${row.primaryKey ?? 'none'}, updated_key ${row.updatedKey ?? 'none'}); watermarks untouched`);
  } else {
    out.push(`  why: ${t.reason}`);
    if (t.updatedKey && !/with time zone$/.test(t.columns.find((c) => c.name === t.updatedKey)!.type)) {
      out.push(
        t.updatedKeyTimeZone
          ? `  note: "${t.updatedKey}" holds ${t.updatedKeyTimeZone} wall time (its trigger converts the clock), so updated_key_time_zone = '${t.updatedKeyTimeZone}'`
          : `  note: "${t.updatedKey}" has no time zone: it is read as wall time in the source's default TimeZone (${sourceTz}); if the writers set another TimeZone, set updated_key_time_zone to it`,
      );
    }
    if (t.deleteDetection) out.push(`  deletes: delete detection ${t.deleteDetectionMinutes === null ? 'on every run' : `every ${t.deleteDetectionMinutes} minutes`}`);
  }
  for (const w of t.warnings) out.push(`  warning: ${w}`);
  const mixed = mixedCaseNames(t, target);
  if (mixed.length > 0) {
    out.push(
      `  note: mixed-case name(s) ${mixed.map((m) => `"${m}"`).join(', ')} are kept as they are in Redshift: the loader's sessions turn on enable_case_sensitive_identifier; your own queries must too (SET enable_case_sensitive_identifier TO true), or Redshift folds the names to lower case`,
    );
  }
  try {
    const exists = (await readTargetColumns(a.redshift, target)).length > 0;
    if (exists) {
      out.push('  target: exists (left as it is; schema drift is handled at sync time)');
    } else {
      const design = designTable(target, t.columns.map((c) => ({ ...c, formatType: c.type, baseType: c.baseType ?? undefined })), settings, `job "${job.name}", table ${name}`, {
        caseInsensitiveDatabase: a.caseInsensitive,
      });
      for (const c of design.columns) if (c.type.note) out.push(`  column "${c.name}": ${c.type.note}`);
      const risks = valueRisks(t.columns, design.columns);
      if (risks) out.push(`  note: ${risks}`);
      for (const n of design.notes) out.push(`  note: ${n}`);
      out.push(
        `  target: ${a.dryRun ? 'would create' : 'creating'} with ${design.distStyle === 'KEY' ? `DISTKEY (${design.distKey})` : `DISTSTYLE ${design.distStyle}`}` +
          `${design.sortKeys.length ? `, SORTKEY (${design.sortKeys.join(', ')})` : ', no sort key'}`,
      );
      const statements: string[] = [];
      if (!a.schemasReady.has(target.schema)) {
        const s = await a.redshift.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [target.schema]);
        if (s.rowCount === 0) statements.push(createSchemaSql(target.schema));
        a.schemasReady.add(target.schema);
      }
      statements.push(createTableSql(design));
      a.report.redshiftStatements.push(...statements);
      if (!a.dryRun) for (const s of statements) await a.redshift.query(s);
      result.targetAction = a.dryRun ? 'would create' : 'created';
      a.log.info({ table: name, target: result.target, dryRun: a.dryRun }, a.dryRun ? 'target table would be created' : 'target table created');
    }
    if (!row) {
      const params: Array<string | number | boolean | null> = [
        job.id, t.schema, t.name, settings.copyMode, settings.primaryKey, settings.updatedKey, t.updatedKeyTimeZone, t.deleteDetection, t.deleteDetectionMinutes,
      ];
      a.report.metadataStatements.push(printedInsert(params));
      if (a.dryRun) {
        result.rowAction = 'would add';
        out.push('  tables row: would add');
      } else {
        const r = await a.db.query<{ id: number }>(INSERT_ROW_SQL, params);
        result.rowAction = r.rowCount === 1 ? 'added' : 'kept';
        out.push(r.rowCount === 1 ? `  tables row: added (id ${r.rows[0]!.id})` : '  tables row: already there (added concurrently), kept');
        a.log.info({ table: name, copyMode: settings.copyMode, primaryKey: splitColumnList(settings.primaryKey), updatedKey: settings.updatedKey }, 'tables row added');
      }
    }
  } catch (err) {
    const message = redactText(err instanceof Error ? err.message : String(err));
    result.error = message;
    if (result.targetAction !== 'created') result.targetAction = 'failed';
    if (!row) result.rowAction = 'failed';
    out.push(`  FAILED: ${message}`);
    a.log.error({ table: name, err: message }, 'setup failed for this table');
  }
  return result;
}
