import type { CopyAuth } from '../redshift/sql.js';
import { quoteIdents, quoteLiteral } from '../sql/quote.js';
import { batchOf, type Batch } from './batch.js';
import { relationSql, type Relation } from './names.js';
import { authClause } from './s3-auth.js';

/**
 * UNLOAD a query or a table to S3. Defaults: MANIFEST, GZIP, ALLOWOVERWRITE, and for the
 * default text format `DELIMITER '|' NULL AS '\N' ESCAPE`, so NULL and '' stay distinct and
 * delimiters, newlines and backslashes in values survive; `copyUnloadedSql` reads it back.
 * Tables with DISTSTYLE ALL are unloaded with PARALLEL OFF (one slice holds every row).
 */
export type UnloadFormat = 'text' | 'csv' | 'json';

export interface UnloadOptions {
  /** s3:// prefix of the files; Redshift appends slice numbers (`0000_part_00.gz`...). */
  to: string;
  auth: CopyAuth;
  format?: UnloadFormat;
  manifest?: boolean;
  gzip?: boolean;
  allowOverwrite?: boolean;
  /** false: PARALLEL OFF. Default: off for DISTSTYLE ALL tables, else Redshift's default (on). */
  parallel?: boolean;
  /** MAXFILESIZE in MB. */
  maxFileSizeMb?: number;
  region?: string;
}

export type UnloadSource = { query: string } | { table: Relation; columns?: string[]; diststyleAll?: boolean };

export function unloadQueryText(source: UnloadSource): string {
  if ('query' in source) return source.query.trim().replace(/;\s*$/, '');
  return `SELECT ${source.columns?.length ? quoteIdents(source.columns) : '*'} FROM ${relationSql(source.table)}`;
}

export function unloadSql(source: UnloadSource, o: UnloadOptions): string {
  if (!/^s3:\/\/[^/]+\/./.test(o.to)) throw new Error(`unload --to must be an s3://bucket/prefix URL, got ${JSON.stringify(o.to)}`);
  const format = o.format ?? 'text';
  const lines = [`UNLOAD (${quoteLiteral(unloadQueryText(source))})`, `TO ${quoteLiteral(o.to)}`, authClause(o.auth)];
  const opts: string[] = [];
  if (format === 'json') opts.push('FORMAT JSON');
  else if (format === 'csv') opts.push('FORMAT CSV', `NULL AS '\\\\N'`);
  else opts.push(`DELIMITER AS '|'`, `NULL AS '\\\\N'`, 'ESCAPE');
  if (o.manifest ?? true) opts.push('MANIFEST');
  if (o.gzip ?? true) opts.push('GZIP');
  if (o.allowOverwrite ?? true) opts.push('ALLOWOVERWRITE');
  const parallel = o.parallel ?? !('table' in source && source.diststyleAll);
  if (!parallel) opts.push('PARALLEL OFF');
  if (o.maxFileSizeMb !== undefined) opts.push(`MAXFILESIZE ${Math.max(5, Math.floor(o.maxFileSizeMb))} MB`);
  if (o.region) opts.push(`REGION ${quoteLiteral(o.region)}`);
  lines.push(opts.join(' '));
  return lines.join('\n');
}

export function unloadBatch(source: UnloadSource, o: UnloadOptions): Batch {
  return batchOf(unloadSql(source, o));
}

/** The manifest UNLOAD writes next to the files (`<prefix>manifest`). */
export const unloadManifestUrl = (to: string) => `${to}manifest`;

/**
 * COPY that reads back what `unloadSql` wrote (same format options, via its manifest). JSON
 * is read with 'auto': the objects' keys are the query's column names, matched to the table's.
 */
export function copyUnloadedSql(table: Relation, o: { to: string; auth: CopyAuth; format?: UnloadFormat; gzip?: boolean; columns?: string[]; region?: string }): string {
  const format = o.format ?? 'text';
  const cols = o.columns?.length ? ` (${quoteIdents(o.columns)})` : '';
  const opts = ['MANIFEST'];
  if (o.gzip ?? true) opts.push('GZIP');
  if (format === 'csv') opts.push('CSV', `NULL AS '\\\\N'`);
  else if (format === 'json') opts.push(`FORMAT AS JSON 'auto'`);
  else opts.push(`DELIMITER AS '|'`, `NULL AS '\\\\N'`, 'ESCAPE');
  opts.push(`TIMEFORMAT 'auto'`, `DATEFORMAT 'auto'`);
  if (o.region) opts.push(`REGION ${quoteLiteral(o.region)}`);
  return [`COPY ${relationSql(table)}${cols}`, `FROM ${quoteLiteral(unloadManifestUrl(o.to))}`, authClause(o.auth), opts.join(' ')].join('\n');
}
