import type { S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import type { Logger } from '../../log.js';
import type { CopyAuth } from '../../redshift/sql.js';
import * as sql from '../../redshift/sql.js';
import { s3Url } from '../../s3/client.js';
import type { Compression } from '../../extract/compress.js';
import * as load from '../load.js';
import type { TableBatch } from './collapse.js';
import type { Position } from './lsn.js';
import { applyTransaction, cleanupStatements, stageStatements, type StagedTable } from './plan.js';
import { pausePoint } from './pause.js';
import { stageRows } from './stage.js';

/**
 * Applies one drained batch: stages each changed table's rows through S3, COPYs them into
 * staging tables, then commits every table's changes and the new position in ONE Redshift
 * transaction (plan.ts). Nothing of the batch is visible before that COMMIT.
 */
export interface ApplyTable {
  table: Omit<StagedTable, 'staging' | 'manifestUrl' | 'truncated' | 'unchanged'>;
  batch: TableBatch;
}

export interface ApplyArgs {
  rs: pg.Client;
  s3: S3Client;
  bucket: string;
  /** This batch's S3 folder (no trailing slash). */
  prefix: string;
  auth: CopyAuth;
  compression: Compression;
  chunkSize: number;
  slices: number;
  tables: readonly ApplyTable[];
  stateSchema: string;
  slot: string;
  from: Position;
  to: Position;
  log: Logger;
  where: string;
  signal?: AbortSignal;
  /** Inside the transaction, before COMMIT (awaited; a test hook). */
  beforeCommit?: () => void | Promise<void>;
}

export interface Applied {
  /** Staged rows and their uncompressed CSV bytes, per table name. */
  rows: Map<string, number>;
  bytes: Map<string, number>;
  rawBytes: number;
  files: number;
}

export async function applyBatch(a: ApplyArgs): Promise<Applied> {
  const changed = a.tables.filter((t) => !t.batch.empty);
  const staged: StagedTable[] = [];
  const out: Applied = { rows: new Map(), bytes: new Map(), rawBytes: 0, files: 0 };
  for (const [i, t] of changed.entries()) {
    const count = t.batch.rowCount;
    let manifestUrl = '';
    if (count > 0) {
      const files = await stageRows({
        s3: a.s3, bucket: a.bucket, prefix: `${a.prefix}/t${i + 1}`, compression: a.compression, rows: t.batch.lines(), count, chunkSize: a.chunkSize, slices: a.slices,
      }).catch((e: Error) => {
        throw new Error(`${a.where}, table ${t.table.name}: staging the changes on S3 (s3://${a.bucket}/${a.prefix}) failed: ${e.message}`);
      });
      manifestUrl = files.manifestUrl;
      out.rawBytes += files.rawBytes;
      out.bytes.set(t.table.name, files.rawBytes);
      out.files += files.files;
      if (i === 0) await pausePoint('upload');
    }
    out.rows.set(t.table.name, count);
    staged.push({ ...t.table, staging: `rl_cdc_${i + 1}_${Math.random().toString(16).slice(2, 8)}`, manifestUrl, truncated: t.batch.truncated, unchanged: t.batch.unchangedPositions() });
  }
  if (staged.length === 0) return out;
  try {
    for (const [i, t] of staged.entries()) {
      const count = changed[i]!.batch.rowCount;
      if (count === 0) {
        await a.rs.query(sql.createCdcStage(t.staging, t.target, t.columns, t.key.length === 0));
        continue;
      }
      try {
        for (const s of stageStatements(t, a.auth, a.compression)) await a.rs.query(s);
        await load.checkLoadedRows(a.rs, count, `${a.where}, table ${t.name}`);
      } catch (err) {
        if (err instanceof load.LoadError) throw err;
        const details = await load.describeLoadErrors(a.rs, s3Url(a.bucket, a.prefix));
        throw new Error(`${a.where}, table ${t.name}: loading the changes into Redshift failed: ${(err as Error).message}${details ? ` -- ${details.text}` : ''}`);
      }
    }
    const steps = applyTransaction({ tables: staged, stateSchema: a.stateSchema, slot: a.slot, from: a.from, to: a.to, where: a.where });
    await load.runTransaction(a.rs, steps, { attempts: 5, baseDelayMs: 500, log: a.log, signal: a.signal }, async () => {
      await pausePoint('before-commit');
      await a.beforeCommit?.();
    });
  } finally {
    for (const t of staged) for (const s of cleanupStatements(t)) await a.rs.query(s).catch(() => undefined);
  }
  return out;
}
