import type { CopyAuth } from '../redshift/sql.js';
import { copyFromManifest } from '../redshift/sql.js';
import { quoteIdents } from '../sql/quote.js';
import type { Compression } from '../extract/compress.js';
import { copyToStdoutSql } from '../redshift/csv.js';
import { batchOf, type Batch, withWrites } from './batch.js';
import { relationSql, type Relation } from './names.js';

/**
 * One-off copy of a Postgres table or query to Redshift through S3, with the sync engine's
 * pipeline: COPY (SELECT ...) TO STDOUT as quoted CSV with NULL as the sentinel of redshift/csv.ts, streamed into zstd
 * (or gzip) files on S3 (extractToS3), manifests, and COPY ... MANIFEST ZSTD CSV (copyFromManifest).
 * The optional statement runs first, in the same transaction as every COPY (so also the
 * final one): e.g. a DELETE of the rows being replaced commits together with the load.
 */
export type CopyTableSource = { table: Relation } | { query: string };

export function sourceSelect(source: CopyTableSource, columns: readonly string[]): string {
  if ('table' in source) return `SELECT ${quoteIdents(columns)} FROM ${relationSql(source.table)}`;
  return `SELECT ${quoteIdents(columns)} FROM (${source.query.trim().replace(/;\s*$/, '')}) q`;
}

/** The extract, in the sync engine's CSV dialect (README: Encoding). */
export function extractCopySql(source: CopyTableSource, columns: readonly string[]): string {
  return copyToStdoutSql(sourceSelect(source, columns));
}

export const manifestKey = (prefix: string, i: number) => `${prefix}/manifest-${String(i + 1).padStart(5, '0')}.json`;

/** Splits files into groups of at most `max` (all in one group without a max). */
export function chunkKeys<T>(files: readonly T[], max?: number): T[][] {
  if (files.length === 0) return [];
  if (!max) return [files.slice()];
  if (!Number.isInteger(max) || max < 1) throw new Error('max manifest keys must be a positive whole number');
  const out: T[][] = [];
  for (let i = 0; i < files.length; i += max) out.push(files.slice(i, i + max));
  return out;
}

export interface CopyTableBatchOptions {
  target: Relation;
  columns: readonly string[];
  manifestUrls: readonly string[];
  auth: CopyAuth;
  compression: Compression;
  statement?: string;
  region?: string;
}

/** The statement, then one COPY per manifest: one transaction. */
export function copyTableBatch(o: CopyTableBatchOptions): Batch {
  return withWrites(
    [o.target],
    batchOf(
      o.statement?.trim() ? [o.statement.trim().replace(/;\s*$/, '')] : [],
      o.manifestUrls.map((m) => copyFromManifest({ table: o.target, columns: o.columns, manifestUrl: m, auth: o.auth, compression: o.compression, region: o.region })),
    ),
  );
}
