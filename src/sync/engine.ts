import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { resolveConnectionString } from '../config/connection.js';
import type { Env } from '../config/env.js';
import pg from 'pg';
import { connect, connectRedshift, defaultTimeZone, destroyClient, timeoutsFromEnv } from '../db/connect.js';
import { ClaimLostError, TableClaims, makeWorkerId } from '../metadata/claims.js';
import { tableFailed, tableSucceeded } from '../metadata/table-health.js';
import { redactText, type Logger } from '../log.js';
import { dropTable, type CopyAuth } from '../redshift/sql.js';
import { qualify, quoteLiteral } from '../sql/quote.js';
import { abortUploads, createS3Client, deletePrefix, listKeys, manifestFor, putText, s3Url } from '../s3/client.js';
import { selectColumns } from '../schema/ddl.js';
import { detectDeletes } from './delete-detection.js';
import { checkAndApplyDrift, sourceColumnsForDrift } from '../schema/drift.js';
import { compressionFromEnv } from '../extract/compress.js';
import { BatchKeyScan, type KeyRange, type ScannedBatch } from './batch-scan.js';
import { hasRowXmin, sourceRelation } from '../schema/catalog.js';
import { FileQueue, extractFilesToS3, extractToS3, type ExtractFilesOptions, type ExtractResult, type FileExtract } from '../extract/extract.js';
import { Fence, FenceError } from './fence.js';
import { SnapshotSessions } from './snapshot.js';
import * as load from './load.js';
import * as meta from '../metadata/store.js';
import {
  NullKeyError,
  OPEN_TRANSACTIONS_SQL,
  PlanError,
  SET_FILE_BOUNDS_SQL,
  SET_OVERLAP_SQL,
  SET_WATERMARK_SQL,
  SNAPSHOT_XIDS_SQL,
  batchRowsPerFile,
  capQuery,
  durableWatermark,
  isWallClockType,
  nullKeySql,
  overlapCountSettings,
  overlapCountSql,
  planBatch,
  planFile,
  planTable,
  seenSettings,
  tupleToWatermark,
  watermarkFromRow,
  type TablePlan,
} from './plan.js';
import type { JobRow, TableRow, Watermark } from '../metadata/types.js';
import { checkBatchValues } from './value-check.js';
import { policyHint, tableValueRules } from '../schema/value-rules.js';

export interface SyncDeps {
  env: Env;
  log: Logger;
  s3?: S3Client;
  signal?: AbortSignal;
  workerId?: string;
  /** Test hook: called inside the merge transaction, before COMMIT (awaited). */
  beforeCommit?: (info: { table: string; batch: number }) => void | Promise<void>;
  /** Test hook: called when a batch's files and manifest are on S3, before anything is loaded (awaited). */
  afterExtract?: (info: { table: string; batch: number }) => void | Promise<void>;
  /** Test hook: called right before the transaction that writes the target (the merge, or the swap) begins (awaited). */
  beforeWrite?: (info: { table: string; batch: number | null }) => void | Promise<void>;
  /**
   * Claims on tables rows: the worker passes its own (on its pool); `syncJob` makes one for
   * a CLI run. Every table sync holds its row's claim while it runs.
   */
  claims?: TableClaims;
  /**
   * copy_mode CDC's initial load (src/sync/cdc): every batch reads this exported source snapshot
   * (`SET TRANSACTION SNAPSHOT`), the one the job's change stream starts from.
   */
  snapshot?: string;
}

export interface TableResult {
  table: string;
  ok: boolean;
  /** Rows extracted and merged (changed + reread). */
  rows: number;
  /** Rows new or changed since the previous run. */
  changed: number;
  /** Rows of the overlap window read again although an earlier run had loaded them. */
  reread: number;
  /** Target rows removed by delete detection (null: it did not run). */
  deleted: number | null;
  batches: number;
  error?: string;
  /** Files staged, uncompressed CSV bytes and seconds taken (the CLI's summary table). */
  files?: number;
  bytes?: number;
  seconds?: number;
  /** After a failure: when the worker retries this table (its own backoff, tables.retry_at). */
  retryAt?: Date;
}

export interface JobResult {
  job: string;
  ok: boolean;
  tables: TableResult[];
}

export class SyncAbortedError extends Error {
  override name = 'SyncAbortedError';
  constructor(reason?: unknown) {
    super(
      reason instanceof ClaimLostError
        ? `this run lost its claim (${reason.message}) and stopped before its next Redshift commit; the watermark was kept`
        : 'sync aborted (worker shutting down) before the Redshift commit; the watermark was kept',
    );
  }
}

const MiB = 1024 * 1024;
const mib = (b: number) => Math.round((b / MiB) * 100) / 100;

/** Shell-style glob (`*`, `?`) on `schema.table` or bare `table`. */
export function matchesGlob(glob: string, schema: string, name: string): boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(`${schema}.${name}`) || re.test(name);
}

export function jobS3(job: JobRow, env: Env): { bucket: string; prefix: string } {
  const bucket = job.s3Bucket ?? env.S3_BUCKET;
  if (!bucket) throw new Error(`job "${job.name}": no S3 bucket (set jobs.s3_bucket or env S3_BUCKET)`);
  const prefix = (job.s3Prefix ?? `redshift-loader/${job.name}`).replace(/^\/+|\/+$/g, '');
  return { bucket, prefix };
}

export function copyAuth(job: JobRow, env: Env): CopyAuth {
  const role = job.iamRole ?? env.REDSHIFT_IAM_ROLE;
  if (role) return { iamRole: role };
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN };
  }
  throw new Error(`job "${job.name}": no way for Redshift to read S3 (set jobs.iam_role, env REDSHIFT_IAM_ROLE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)`);
}

/** Syncs every enabled table of a job once, batch after batch until caught up. */
export async function syncJob(metadataUrl: string, jobName: string, opts: { tableGlob?: string }, deps: SyncDeps): Promise<JobResult> {
  const timeouts = timeoutsFromEnv(deps.env);
  const db = await connect(metadataUrl, 'redshift-loader metadata', timeouts);
  const own = deps.claims ? null : tableClaimsFor(metadataUrl, deps);
  try {
    const job = await meta.getJobByName(db, jobName);
    return await syncJobRow(db, job, opts, { ...deps, claims: deps.claims ?? own!.claims });
  } finally {
    await own?.close();
    await db.end().catch(() => undefined);
  }
}

/** Table claims on a small pool of their own (a CLI run; the worker uses its pool). */
export function tableClaimsFor(metadataUrl: string, deps: Pick<SyncDeps, 'env' | 'log' | 'workerId'>): { claims: TableClaims; pool: pg.Pool; close: () => Promise<void> } {
  const t = timeoutsFromEnv(deps.env);
  const pool = new pg.Pool({
    connectionString: metadataUrl,
    max: 2,
    application_name: 'redshift-loader claims',
    connectionTimeoutMillis: t.connectSeconds * 1000,
    options: `-c statement_timeout=${t.statementSeconds * 1000}`,
    // The worker keeps it for its lifetime; idle connections must not keep a process alive.
    allowExitOnIdle: true,
  });
  pool.on('error', () => undefined);
  const claims = new TableClaims(pool, { workerId: deps.workerId ?? makeWorkerId('sync'), ttlSeconds: deps.env.WORKER_LOCK_TTL_SECONDS, log: deps.log });
  return {
    claims,
    pool,
    close: async () => {
      await claims.releaseAll().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}

export async function syncJobRow(db: pg.ClientBase, job: JobRow, opts: { tableGlob?: string; tableIds?: number[] }, deps: SyncDeps): Promise<JobResult> {
  const all = await meta.listTables(db, job.id);
  const tables = all.filter(
    (t) => !t.disabled && (!opts.tableGlob || matchesGlob(opts.tableGlob, t.sourceSchema, t.sourceName)) && (!opts.tableIds || opts.tableIds.includes(t.id)),
  );
  const results: TableResult[] = [];
  if (tables.length === 0) deps.log.warn({ job: job.name, glob: opts.tableGlob ?? null }, 'no enabled tables to sync');
  for (const table of tables) {
    if (deps.signal?.aborted) break;
    if (table.copyMode === 'CDC') continue;
    results.push(await claimAndSyncTable(db, job, table, deps));
  }
  // copy_mode CDC (src/sync/cdc): the job's CDC tables are drained together from its replication
  // slot, in one Redshift transaction per batch. A job whose CDC rows are all disabled is
  // told what its slot still holds.
  // The slot is the job's, so a CDC drain always covers every enabled CDC table (a --table
  // glob that matches one of them runs them all).
  const cdc = tables.some((t) => t.copyMode === 'CDC') || !opts.tableGlob ? all.filter((t) => !t.disabled && t.copyMode === 'CDC') : [];
  if ((cdc.length > 0 || (!opts.tableGlob && all.some((t) => t.copyMode === 'CDC'))) && !deps.signal?.aborted) {
    const { runCdcJob } = await import('./cdc/run.js');
    results.push(...(await runCdcJob(db, job, cdc, deps)));
  }
  return { job: job.name, ok: results.every((r) => r.ok), tables: results };
}

/**
 * copy_mode CDC's initial load of one table (src/sync/cdc/run.ts), while the caller holds its
 * claim: FULL_DATA_SYNC's keyed batches into a swap table, swapped in (so rows the target
 * holds from before and the source no longer has go too), every batch in the source
 * snapshot `deps.snapshot`.
 */
export function loadTableInSnapshot(db: pg.ClientBase, job: JobRow, table: TableRow, deps: SyncDeps & { snapshot: string }, token: number): Promise<TableResult> {
  return syncTable(db, job, { ...table, maxPrimaryKey: null, maxPrimaryKeyJson: null, maxUpdatedKey: null, watermarkSnapshot: null, deleteDetection: false }, deps, token, 'FULL_DATA_SYNC');
}

/**
 * One writer per table: the sync runs only while it holds the table's claim (renewed by a
 * heartbeat). When another run holds it, this one leaves the table alone and says who.
 */
async function claimAndSyncTable(db: pg.ClientBase, job: JobRow, table: TableRow, deps: SyncDeps): Promise<TableResult> {
  const name = `${table.sourceSchema}.${table.sourceName}`;
  const where = `job "${job.name}", table ${name}`;
  if (!deps.claims) throw new Error('syncTable: no table claims (use syncJob or pass SyncDeps.claims)');
  const got = await deps.claims.claimOrHolder(table.id);
  if ('holder' in got) {
    const h = got.holder;
    const error =
      `${where}: another run is syncing this table (${h.claimedBy}, since ${h.claimedAt?.toISOString() ?? '?'}; its claim lasts until ${h.expiresAt?.toISOString() ?? '?'} unless renewed), ` +
      'so this run left it alone: wait for that run to finish, or stop it';
    deps.log.warn({ job: job.name, table: name, holder: h.claimedBy }, 'table is being synced by another run; skipped');
    return { table: name, ok: false, rows: 0, changed: 0, reread: 0, deleted: null, batches: 0, error };
  }
  const claim = got.claim;
  const signal = deps.signal ? AbortSignal.any([deps.signal, claim.signal]) : claim.signal;
  try {
    return await syncTable(db, job, table, { ...deps, signal, workerId: deps.claims.workerId }, claim.token);
  } finally {
    await claim.release().catch((e) => deps.log.warn({ job: job.name, table: name, err: String(e) }, 'could not release the table claim; it expires'));
  }
}

interface Connections {
  source: pg.Client;
  redshift: pg.Client;
  /** More source sessions sharing each batch's snapshot (EXTRACT_SESSIONS - 1). */
  snapshots: SnapshotSessions;
}

/**
 * One table, while its claim (fencing token `token`) is held: never throws; failures are
 * recorded in sync_runs and tables.last_error.
 */
async function syncTable(db: pg.ClientBase, job: JobRow, tableRow: TableRow, deps: SyncDeps, token: number, planAs?: 'FULL_DATA_SYNC'): Promise<TableResult> {
  let table = tableRow;
  const name = `${table.sourceSchema}.${table.sourceName}`;
  const log = deps.log.child({ job: job.name, table: name });
  const where = `job "${job.name}", table ${name}`;
  const started = Date.now();
  let runId: string | null = null;
  let conns: Partial<Connections> = {};
  const s3 = deps.s3 ?? createS3Client(deps.env);
  let s3RunPrefix: string | null = null;
  let bucket: string | null = null;
  const progress = { rows: 0, changed: 0, reread: 0, bytes: 0, files: 0, batches: 0, valuesChanged: {} as Record<string, number> };
  let deleted: number | null = null;
  let plan: TablePlan | null = null;
  let fence: Fence | null = null;
  try {
    // Holding the claim, every run of this table still marked running is dead (or lost its claim).
    // (A CDC initial load runs inside a CDC run, which did this for the table already.)
    const abandoned = deps.snapshot ? 0 : await meta.abandonRuns(db, table.id, deps.workerId ?? null);
    if (abandoned > 0) log.warn({ abandoned }, 'closed sync_runs rows of this table left running by a run that died (marked abandoned)');
    // The run row comes next, so every attempt (even one that fails on configuration) has one.
    runId = await meta.startRun(db, { jobId: job.id, tableId: table.id, copyMode: table.copyMode, before: meta.storedOf(table), workerId: deps.workerId });
    const { bucket: b, prefix } = jobS3(job, deps.env);
    bucket = b;
    const auth = copyAuth(job, deps.env);
    const sourceUrl = resolveConnectionString(job.sourceConnectionString, `job "${job.name}" source_connection_string`);
    const destUrl = resolveConnectionString(job.destinationConnectionString, `job "${job.name}" destination_connection_string`);
    const timeouts = timeoutsFromEnv(deps.env);
    conns.source = await connect(sourceUrl, 'redshift-loader extract', timeouts).catch((e: Error) => {
      throw new Error(`${where}: cannot connect to the source: ${e.message}`);
    });
    conns.snapshots = new SnapshotSessions(sourceUrl, deps.env.EXTRACT_SESSIONS - 1, timeouts);
    conns.redshift = await connectRedshift(destUrl, timeouts).catch((e: Error) => {
      throw new Error(`${where}: cannot connect to Redshift: ${e.message}`);
    });
    const rel = await sourceRelation(conns.source, table.sourceSchema, table.sourceName);
    if (!rel) throw new Error(`${where}: source table ${name} not found`);
    if (!rel.populated) {
      throw new Error(`${where}: materialized view ${name} has never been populated at the source, so it cannot be read: run REFRESH MATERIALIZED VIEW ${qualify(table.sourceSchema, table.sourceName)} there (or disable this table)`);
    }
    const allColumns = await sourceColumnsForDrift(conns.source, table.sourceSchema, table.sourceName);
    const columns = selectColumns(allColumns, table, where);
    plan = planTable(planAs ? { ...table, copyMode: planAs } : table, columns, { rowLimit: deps.env.IMPORT_ROW_LIMIT, chunkSize: deps.env.IMPORT_CHUNK_SIZE, destinationSchema: job.destinationSchema }, job.name);
    // Schema drift: new columns are added to the target (and the table resynced to backfill
    // them, recorded before the ALTER), widened varchars widened; incompatible changes stop here.
    const drift = await checkAndApplyDrift({
      redshift: conns.redshift,
      // Every source column: drift applies include_columns/exclude_columns itself.
      sourceColumns: allColumns,
      target: plan.target,
      table,
      jobName: job.name,
      log,
      onResync: () => meta.resetWatermark(db, table.id),
      knownAttnums: table.sourceAttnums ?? null,
    });
    await meta.recordSourceAttnums(db, table.id, Object.fromEntries(allColumns.filter((c) => c.attnum !== undefined).map((c) => [c.name, c.attnum!])));
    if (drift.resync) {
      table = { ...table, maxPrimaryKey: null, maxPrimaryKeyJson: null, maxUpdatedKey: null, watermarkSnapshot: null };
      log.warn({ statements: drift.statements }, 'schema drift: new column(s) added to the target; resyncing the table to backfill them');
    }
    const targetTypes = await load.checkTarget(conns.redshift, plan, where);
    plan = { ...plan, valueRules: tableValueRules(plan.columns, targetTypes, table.valuePolicies, plan.primaryKey, where) };
    const stored = watermarkFromRow(table, plan, job.name);
    // This run owns the target from here on, in Redshift too (fence.ts); then what crashed
    // runs of this table left behind is removed: swap tables and staging files.
    fence = new Fence(plan.target, token, `${deps.workerId ?? '?'} run ${runId}`);
    await fence.take(conns.redshift, where);
    const tablePrefix = `${prefix}/${table.sourceSchema}.${table.sourceName}/`;
    s3RunPrefix = `${tablePrefix}run-${runId}-${randomBytes(3).toString('hex')}`;
    await sweepLeftovers({ rs: conns.redshift, s3, bucket, tablePrefix, target: plan.target, log });

    // INSERT_AND_UPDATE: the time base of the updated key (for the late-commit cap), and what
    // the previous run had already read (rows this run need not read again).
    let zone: string | null = null;
    if (plan.mode === 'INSERT_AND_UPDATE') {
      if (isWallClockType(plan.updatedKeyType)) zone = await writersTimeZone(conns.source, sourceUrl, table, where);
      const seen = table.watermarkSnapshot;
      if (hasRowXmin(rel) && seen && seen.upTo.length === plan.keysetColumns.length) plan = { ...plan, seen };
    }
    if (plan.mode === 'INSERT_AND_UPDATE' && table.allowDuplicateKeys) {
      throw new PlanError(`${where}: allow_duplicate_keys needs copy_mode INSERT_ONLY or FULL_DATA_SYNC: with an updated key, the rows of one key can fall into different batches and replace each other`);
    }
    log.info({ mode: plan.mode, watermark: stored, rowLimit: plan.rowLimit, skipsSeenRows: !!plan.seen, updatedKeyTimeZone: zone }, 'table sync started');

    // Where this run reads from: the stored watermark, minus the overlap window for
    // INSERT_AND_UPDATE (rows committed late with an older updated_key).
    // A date updated key is re-read from the start of its day at least: a change later that
    // day keeps the date, and its key may sort before the stored one.
    let from: Watermark = stored;
    if (plan.mode === 'INSERT_AND_UPDATE' && stored.updatedKey !== null) {
      const overlap = deps.env.UPDATED_KEY_OVERLAP_SECONDS;
      if (overlap > 0) from = { updatedKey: await meta.normalizeTimestamp(db, stored.updatedKey, overlap), primaryKey: null };
      else if (plan.updatedKeyType === 'date') from = { updatedKey: stored.updatedKey, primaryKey: null };
    }
    const runFrom = from;
    let runXmin: string | null = null;
    let durable: Watermark = stored;
    let durableStored = meta.storedOf(table);
    let rereadLeft: number | null = null;
    if (plan.mode === 'FULL_DATA_SYNC') {
      for (const s of load.prepareSwapStatements(plan, runId)) await conns.redshift.query(s);
    }
    for (let batch = 1; ; batch++) {
      if (deps.signal?.aborted) throw new SyncAbortedError(deps.signal.reason);
      const r = await runBatch({
        deps, log, conns: conns as Connections, plan, from, batch, s3, bucket, runPrefix: s3RunPrefix, auth, where, zone, runId, fence,
        snapshotXids: plan.mode === 'INSERT_AND_UPDATE' && hasRowXmin(rel),
        countOverlap: batch === 1 && plan.mode === 'INSERT_AND_UPDATE' && stored.updatedKey !== null ? stored : null,
        allowDuplicateKeys: !!table.allowDuplicateKeys,
      });
      if (batch === 1) {
        runXmin = r.snapshotXmin;
        rereadLeft = r.overlapLoaded;
      }
      if (r.rows === 0) break;
      // Rows are read in key order, so the overlap window's rows come first. FULL_DATA_SYNC
      // reads the whole table again every run: all its rows are re-read.
      const reread = plan.mode === 'FULL_DATA_SYNC' ? r.rows : Math.min(rereadLeft ?? 0, r.rows);
      if (rereadLeft !== null) rereadLeft -= reread;
      progress.rows += r.rows;
      progress.reread += reread;
      progress.changed += r.rows - reread;
      progress.bytes += r.rawBytes;
      progress.files += r.files;
      progress.batches += 1;
      for (const [k, v] of Object.entries(r.valuesChanged)) progress.valuesChanged[k] = (progress.valuesChanged[k] ?? 0) + v;
      if (Object.keys(r.valuesChanged).length > 0) log.warn({ batch, valuesChanged: r.valuesChanged, valuePolicies: table.valuePolicies }, 'value policies changed values Redshift cannot hold (counted in sync_runs.values_changed)');
      if (plan.mode !== 'FULL_DATA_SYNC') {
        const next = durableWatermark(plan, r.last, r.cap, r.lastAtOrAfterCap);
        const seenNext = runXmin !== null ? { xmin: runXmin, from: runFrom, upTo: [r.last.updatedKey!, ...r.last.primaryKey!] } : null;
        const ok = await meta.advanceWatermark(db, table.id, durableStored, next, seenNext);
        if (!ok) throw new Error(`${where}: the tables row's watermark was changed while syncing (a reset?); stopping this table, the next run starts from the new value`);
        durable = next;
        durableStored = meta.storedFrom(next);
      }
      await meta.updateRun(db, runId, { ...progress, after: durable });
      from = r.last;
      if (plan.keysetColumns.length === 0 || r.rows < plan.rowLimit) break;
    }
    if (plan.mode === 'FULL_DATA_SYNC') {
      if (deps.signal?.aborted) throw new SyncAbortedError(deps.signal.reason);
      if (plan.primaryKey.length > 0 && !table.allowDuplicateKeys) await load.checkKeys(conns.redshift, load.swapRef(plan.target, runId), load.keyColumns(plan), where);
      const statements = await load.swapStatements(conns.redshift, plan, runId, fence, where);
      await deps.beforeWrite?.({ table: name, batch: null });
      await load.runTransaction(conns.redshift, statements, { attempts: 5, baseDelayMs: 500, log, signal: deps.signal });
    } else if (table.deleteDetection && table.deletesDue !== false && !deps.signal?.aborted) {
      const d = await detectDeletes({ source: conns.source, redshift: conns.redshift, plan, log, fence, where });
      deleted = d.deleted;
      await meta.recordDeleteCheck(db, table.id, d.deleted);
      await meta.recordRunDeletes(db, runId, d.deleted);
      log.info({ deleted: d.deleted, ranges: d.ranges, rangesChecked: d.rangesChecked, mode: d.mode }, 'delete detection finished');
    }
    await meta.finishRun(db, runId, 'succeeded', null);
    await meta.recordTableSuccess(db, table.id);
    await tableSucceeded(db, job.name, table, deps).catch((e: Error) => log.warn({ err: e.message }, 'could not clear the table\'s backoff'));
    const seconds = (Date.now() - started) / 1000;
    log.info(
      {
        rows: progress.rows, changed: progress.changed, reread: progress.reread, deleted, batches: progress.batches, files: progress.files,
        mib: mib(progress.bytes), seconds, mibPerSec: seconds > 0 ? mib(progress.bytes / seconds) : null, watermark: durable,
      },
      'table sync succeeded',
    );
    return { table: name, ok: true, rows: progress.rows, changed: progress.changed, reread: progress.reread, deleted, batches: progress.batches, files: progress.files, bytes: progress.bytes, seconds };
  } catch (err) {
    const message = redactText(err instanceof Error ? err.message : String(err));
    const full = message.startsWith(where) ? message : `${where}: ${message}`;
    log.error({ err: message, rows: progress.rows, batches: progress.batches }, 'table sync failed');
    if (runId) await meta.finishRun(db, runId, 'failed', full).catch(() => undefined);
    await meta.recordTableError(db, table.id, full).catch(() => undefined);
    // A shutdown or a lost claim is not the table's fault: no backoff for it.
    const backoff = err instanceof SyncAbortedError ? null : await tableFailed(db, job.name, table, full, deps).catch(() => null);
    if (plan?.mode === 'FULL_DATA_SYNC' && conns.redshift && runId) {
      await conns.redshift.query('ROLLBACK').catch(() => undefined);
      await conns.redshift.query(dropTable(load.swapRef(plan.target, runId))).catch(() => undefined);
    }
    return {
      table: name, ok: false, rows: progress.rows, changed: progress.changed, reread: progress.reread, deleted, batches: progress.batches, error: full,
      files: progress.files, bytes: progress.bytes, seconds: (Date.now() - started) / 1000, retryAt: backoff?.retryAt,
    };
  } finally {
    if (bucket && s3RunPrefix) await deletePrefix(s3, bucket, `${s3RunPrefix}/`).catch((e) => log.warn({ err: String(e) }, 'could not delete S3 files'));
    await conns.source?.end().catch(() => undefined);
    await conns.snapshots?.close();
    await conns.redshift?.end().catch(() => undefined);
  }
}

/**
 * What crashed runs of this table left, removed by the run that now holds its claim (so
 * none of it can belong to a live run of the table): FULL_DATA_SYNC swap and old tables,
 * staging files under the table's S3 folder, and multipart uploads left incomplete there.
 */
async function sweepLeftovers(a: { rs: pg.ClientBase; s3: S3Client; bucket: string; tablePrefix: string; target: { schema: string; name: string }; log: Logger }): Promise<void> {
  const q = load.leftoverTablesSql(a.target);
  const tables = (await a.rs.query<{ name: string }>(q.text, q.values)).rows.map((r) => r.name);
  for (const name of tables) await a.rs.query(dropTable({ schema: a.target.schema, name }));
  const keys = await listKeys(a.s3, a.bucket, a.tablePrefix);
  if (keys.length > 0) await deletePrefix(a.s3, a.bucket, a.tablePrefix);
  const uploads = await abortUploads(a.s3, a.bucket, a.tablePrefix, () => false);
  if (tables.length > 0 || keys.length > 0 || (uploads ?? 0) > 0) {
    a.log.warn({ tables, files: keys.length, uploads }, 'removed what crashed runs of this table left (swap tables, staging files)');
  }
}

/**
 * The time zone in which a `timestamp`/`date` updated key is written: the table's
 * `updated_key_time_zone`, else the source database's default TimeZone.
 */
async function writersTimeZone(source: pg.ClientBase, sourceUrl: string, table: TableRow, where: string): Promise<string> {
  const zone = table.updatedKeyTimeZone?.trim();
  if (!zone) return defaultTimeZone(sourceUrl);
  try {
    await source.query(`SELECT now() AT TIME ZONE $1::text`, [zone]);
  } catch {
    throw new PlanError(`${where}: updated_key_time_zone ${JSON.stringify(zone)} is not a time zone the source knows; use an IANA name such as America/New_York or UTC (or NULL for the source's default)`);
  }
  return zone;
}

/** The file of one key range: its bounds go to the session that copies it, then its COPY. */
export function keyRangeFile(plan: TablePlan, range: KeyRange, seen = '[]'): FileExtract {
  const f = planFile(plan, range.lo, range.hi);
  return {
    copySql: f.copySql,
    prepare: async (client) => {
      await client.query(SET_FILE_BOUNDS_SQL, [f.lo, f.hi, seen]);
    },
  };
}

/**
 * A keyed batch's extract: the scan (after its `first` step) hands out key ranges on the
 * main session while the joined sessions of the snapshot copy them; the main session
 * copies too once the scan is done. Returns the batch's size and last key with the files.
 */
export async function extractKeyedBatch(
  o: Omit<ExtractFilesOptions, 'files' | 'moreClients' | 'clientReady'> & { scan: BatchKeyScan; plan: TablePlan; snapshots: SnapshotSessions; log?: Logger; seen?: string },
): Promise<ScannedBatch & { extracted: ExtractResult }> {
  const more = await o.snapshots.join(o.client, o.scan.maxFiles - 1);
  const reason = o.snapshots.takeUnreported();
  if (reason) o.log?.warn({ reason }, 'cannot share the snapshot with more source sessions; extracting on one session');
  const queue = new FileQueue();
  const scanned = o.scan.rest((range) => queue.push(keyRangeFile(o.plan, range, o.seen))).then(
    (r) => (queue.close(), r),
    (err: unknown) => {
      queue.fail(err);
      throw err;
    },
  );
  scanned.catch(() => undefined); // awaited below; the extract reports the error first
  try {
    const extracted = await extractFilesToS3({ ...o, files: queue, moreClients: more, clientReady: scanned });
    const keys = await scanned;
    await o.snapshots.finish(more, 'COMMIT');
    return { ...keys, extracted };
  } catch (err) {
    await o.snapshots.finish(more, 'ROLLBACK');
    await o.snapshots.close();
    throw err;
  }
}

interface BatchArgs {
  deps: SyncDeps;
  log: Logger;
  conns: Connections;
  plan: TablePlan;
  from: Watermark;
  batch: number;
  s3: S3Client;
  bucket: string;
  runPrefix: string;
  auth: CopyAuth;
  where: string;
  /** Writers' time zone of a `timestamp`/`date` updated key (null: timestamptz or no updated key). */
  zone: string | null;
  /** Read the snapshot's xmin/xmax (for the seen filter and its record). */
  snapshotXids: boolean;
  /** Batch 1 of an INSERT_AND_UPDATE run: count the overlap window's rows up to this stored watermark. */
  countOverlap: Watermark | null;
  allowDuplicateKeys: boolean;
  /** The sync_runs id (FULL_DATA_SYNC's swap table is this run's). */
  runId: string;
  /** This run's fencing token on the target, checked in every writing transaction. */
  fence: Fence;
}

interface BatchResult {
  rows: number;
  rawBytes: number;
  files: number;
  last: Watermark;
  /** The open-transaction cap in the updated key's time base, and whether `last` reached it. */
  cap: string | null;
  lastAtOrAfterCap: boolean;
  /** This batch's snapshot xmin (epoch-extended), when asked for. */
  snapshotXmin: string | null;
  /** Rows of the overlap window that an earlier run had loaded (null: not counted). */
  overlapLoaded: number | null;
  /** Values the table's value policies changed in this batch, per "kind:column". */
  valuesChanged: Record<string, number>;
}

/**
 * A batch within BATCH_TIMEOUT_SECONDS: past it, the batch's sessions are closed (a query
 * in flight is abandoned, the server rolls back), and the error says what the batch was
 * waiting for. Nothing is committed after that; the watermark stays.
 */
async function runBatch(a: BatchArgs): Promise<BatchResult> {
  const limit = a.deps.env.BATCH_TIMEOUT_SECONDS;
  const stop = new AbortController();
  const state = { phase: `extracting from the source and uploading to S3 (s3://${a.bucket}/${a.runPrefix})`, signal: stop.signal };
  if (limit <= 0) return runBatchWork(a, state);
  let timer: NodeJS.Timeout | undefined;
  const work = runBatchWork(a, state);
  work.catch(() => undefined); // settles after the deadline too (its sessions and uploads are gone)
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const phase = state.phase;
      stop.abort(new Error('batch deadline'));
      destroyClient(a.conns.source);
      a.conns.snapshots.destroy();
      destroyClient(a.conns.redshift);
      reject(new Error(`${a.where}: batch ${a.batch} did not finish within ${limit} s (BATCH_TIMEOUT_SECONDS) while ${phase}; its sessions were closed, nothing of it was committed and the watermark was kept`));
    }, limit * 1000);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function runBatchWork(a: BatchArgs, state: { phase: string; signal: AbortSignal }): Promise<BatchResult> {
  const { plan, conns, log } = a;
  const t0 = Date.now();
  const q = planBatch(plan, a.from);
  const batchPrefix = `${a.runPrefix}/batch-${String(a.batch).padStart(5, '0')}`;
  const compression = compressionFromEnv(a.deps.env);
  const src = conns.source;
  let n = 0;
  let last: Watermark = a.from;
  let capInstant: string | null = null;
  let cap: string | null = null;
  let lastAtOrAfterCap = false;
  let snapshotXmin: string | null = null;
  let overlapLoaded: number | null = null;
  let valuesChanged: Record<string, number> = {};
  let extracted;
  // One REPEATABLE READ snapshot for the count, the open-transaction cap and the COPY.
  await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    if (a.deps.snapshot) await src.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(a.deps.snapshot)}`);
    let snapshotXmax: string | null = null;
    if (a.snapshotXids) {
      const x = (await src.query<{ xmin: string; xmax: string }>(SNAPSHOT_XIDS_SQL)).rows[0]!;
      snapshotXmin = x.xmin;
      snapshotXmax = x.xmax;
    }
    if (plan.mode === 'INSERT_AND_UPDATE') {
      const o = await src.query<{ oldest_xact_start: string | null; hidden: number }>(OPEN_TRANSACTIONS_SQL);
      capInstant = o.rows[0]!.oldest_xact_start;
      if (o.rows[0]!.hidden > 0 && a.batch === 1) {
        log.warn({ hidden: o.rows[0]!.hidden }, 'cannot see other sessions on the source (grant pg_read_all_stats to the source user); late commits are covered only by UPDATED_KEY_OVERLAP_SECONDS');
      }
    }
    const seen = seenSettings(plan, snapshotXmax);
    await src.query(SET_WATERMARK_SQL, [q.settings, seen]);
    if (a.countOverlap) {
      await src.query(SET_OVERLAP_SQL, [overlapCountSettings(a.from, a.countOverlap)]);
      overlapLoaded = Number((await src.query<{ loaded: string }>(overlapCountSql(plan, a.from, a.countOverlap))).rows[0]!.loaded);
    }
    const keyed = plan.keysetColumns.length > 0;
    // Keyed: a cursor over the batch's keys finds its size, last key and file boundaries
    // while the other sessions already copy the files found (batch-scan.ts).
    const scan = keyed ? new BatchKeyScan(src, plan, a.from, a.deps.env.REDSHIFT_SLICES, seen) : null;
    let empty: boolean;
    if (scan) {
      empty = !(await scan.first());
    } else {
      n = Number((await src.query<{ n: string }>(q.countSql!)).rows[0]?.n ?? 0);
      empty = n === 0;
    }
    if (empty) {
      await src.query('COMMIT');
      return { rows: 0, rawBytes: 0, files: 0, last, cap, lastAtOrAfterCap, snapshotXmin, overlapLoaded, valuesChanged: {} };
    }
    // No abort signal inside the extract: it is bounded by row_limit, and cutting a COPY TO
    // mid-stream would leave the source session busy. The abort is checked right after.
    const common = {
      client: src,
      s3: a.s3,
      bucket: a.bucket,
      keyPrefix: batchPrefix,
      compression,
      signal: state.signal,
      onProgress: (p: { rows: number; rawBytes: number }) =>
        log.info({ batch: a.batch, rows: p.rows, upTo: scan ? plan.rowLimit : n, mib: mib(p.rawBytes), mibPerSec: mib(p.rawBytes / ((Date.now() - t0) / 1000)) }, 'extracting'),
    };
    if (scan) {
      const keys = await extractKeyedBatch({ ...common, scan, plan, snapshots: conns.snapshots, log, seen });
      extracted = keys.extracted;
      n = keys.rows;
      last = tupleToWatermark(plan, keys.last);
      if (plan.mode === 'INSERT_AND_UPDATE' && capInstant !== null) {
        const c = await src.query<{ cap: string; reached: boolean }>(capQuery(plan, capInstant, a.zone, last.updatedKey!));
        cap = c.rows[0]!.cap;
        lastAtOrAfterCap = c.rows[0]!.reached;
      }
    } else {
      extracted = await extractToS3({ ...common, copySql: q.copySql!, rowsPerFile: batchRowsPerFile(n, plan.chunkSize, a.deps.env.REDSHIFT_SLICES) });
    }
    // Values Redshift cannot hold: refused (a kind Redshift would take silently) or counted
    // (a policy changed them), over the batch's rows in its snapshot.
    valuesChanged = await checkBatchValues(src, plan, a.from, scan ? [...(last.updatedKey !== null ? [last.updatedKey] : []), ...(last.primaryKey ?? [])] : null, seen, a.where);
    await src.query('COMMIT');
  } catch (err) {
    await src.query('ROLLBACK').catch(() => undefined);
    if (err instanceof NullKeyError) throw new Error(await describeNullKeys(src, plan, err.column, a.where));
    throw err;
  }
  if (extracted.rows < n) {
    // Rows the key scan counted but no file's key range held: a NULL in a key column that
    // is not the first (a row comparison with NULL is neither inside nor outside a range).
    for (const col of plan.keysetColumns) {
      const c = plan.columns.find((x) => x.name === col);
      if (c && !c.notNull && (await hasNullKey(src, plan, col))) throw new Error(await describeNullKeys(src, plan, col, a.where));
    }
    throw new Error(`${a.where}: batch ${a.batch} extracted ${extracted.rows} rows but the snapshot counted ${n}; nothing was loaded`);
  }
  if (extracted.rows > n) {
    // Only possible when the configured key is not unique: every row of the last key was
    // taken (none is skipped); the key check on Redshift then names the key.
    log.warn({ batch: a.batch, counted: n, extracted: extracted.rows, primaryKey: plan.primaryKey }, 'primary_key is not unique at the source');
  }
  const manifestKey = `${batchPrefix}/manifest.json`;
  await putText(a.s3, a.bucket, manifestKey, JSON.stringify(manifestFor(a.bucket, extracted.files), null, 1)).catch((e: Error) => {
    throw new Error(`${a.where}: batch ${a.batch}: S3 could not store the manifest s3://${a.bucket}/${manifestKey}: ${e.message}`);
  });
  const manifestUrl = s3Url(a.bucket, manifestKey);
  await a.deps.afterExtract?.({ table: `${plan.source.schema}.${plan.source.name}`, batch: a.batch });
  const tExtract = Date.now();
  if (a.deps.signal?.aborted) throw new SyncAbortedError(a.deps.signal.reason);
  const batchWhere = `${a.where}: batch ${a.batch}`;
  state.phase = 'loading into Redshift';
  try {
    // Redshift must have loaded every row of the files, or the batch is not applied.
    const loadedAll = () => load.checkLoadedRows(conns.redshift, extracted.rows, batchWhere);
    if (plan.mode === 'FULL_DATA_SYNC') {
      await conns.redshift.query(load.fullSyncBatchStatement(plan, a.runId, manifestUrl, a.auth, compression));
      await loadedAll();
    } else {
      const staging = `rl_stage_${randomBytes(4).toString('hex')}`;
      const st = load.incrementalStatements(plan, staging, manifestUrl, a.auth, compression, a.fence, batchWhere);
      try {
        for (const s of st.stage) await conns.redshift.query(s);
        await loadedAll();
        if (!a.allowDuplicateKeys) await load.checkKeys(conns.redshift, { name: staging, temp: true }, load.keyColumns(plan), batchWhere);
        await a.deps.beforeWrite?.({ table: `${plan.source.schema}.${plan.source.name}`, batch: a.batch });
        await load.runTransaction(conns.redshift, st.merge, { attempts: 5, baseDelayMs: 500, log, signal: a.deps.signal }, async () => {
          await a.deps.beforeCommit?.({ table: `${plan.source.schema}.${plan.source.name}`, batch: a.batch });
          if (a.deps.signal?.aborted) throw new SyncAbortedError(a.deps.signal.reason);
        });
      } finally {
        for (const s of st.cleanup) await conns.redshift.query(s).catch(() => undefined);
      }
    }
  } catch (err) {
    if (err instanceof SyncAbortedError || err instanceof load.LoadError || err instanceof FenceError) throw err;
    const details = await load.describeLoadErrors(conns.redshift, s3Url(a.bucket, batchPrefix));
    const msg = err instanceof Error ? err.message : String(err);
    const hint = details ? policyHint(plan.valueRules ?? [], details.columns) : '';
    throw new Error(`${batchWhere} load failed: ${msg}${details ? ` -- ${details.text}` : ''}${hint}`);
  }
  const seconds = (Date.now() - t0) / 1000;
  log.info(
    {
      batch: a.batch,
      rows: n,
      files: extracted.files.length,
      mib: mib(extracted.rawBytes),
      compressedMib: mib(extracted.files.reduce((s, f) => s + f.bytes, 0)),
      compression: compression.format,
      extractSeconds: (tExtract - t0) / 1000,
      loadSeconds: (Date.now() - tExtract) / 1000,
      mibPerSec: seconds > 0 ? mib(extracted.rawBytes / seconds) : null,
    },
    'batch loaded',
  );
  await deletePrefix(a.s3, a.bucket, `${batchPrefix}/`).catch((e) => log.warn({ err: String(e) }, 'could not delete batch files'));
  return { rows: n, rawBytes: extracted.rawBytes, files: extracted.files.length, last, cap, lastAtOrAfterCap, snapshotXmin, overlapLoaded, valuesChanged };
}

async function hasNullKey(src: pg.ClientBase, plan: TablePlan, column: string): Promise<boolean> {
  const r = await src.query(nullKeySql(plan, column, 1));
  return (r.rowCount ?? 0) > 0;
}

/** One line that names the column, how many rows, one row's other key values, and the fixes. */
async function describeNullKeys(src: pg.ClientBase, plan: TablePlan, column: string, where: string): Promise<string> {
  const role = column === plan.updatedKey ? 'updated_key' : 'primary_key';
  let count = '';
  let example = '';
  try {
    const r = await src.query<Record<string, string | null>>({ text: nullKeySql(plan, column, 1001), types: { getTypeParser: () => (v: string) => v } } as pg.QueryConfig);
    count = r.rows.length > 1000 ? ' more than 1000 source rows' : ` ${r.rows.length} source row(s)`;
    const others = plan.keysetColumns.filter((c) => c !== column);
    if (r.rows[0] && others.length > 0) example = ` (e.g. the row with ${others.map((c) => `${c} = ${r.rows[0]![c] === null ? 'NULL' : r.rows[0]![c]}`).join(', ')})`;
  } catch {
    count = ' source rows';
  }
  return (
    `${where}: ${role} column "${column}" is NULL in${count}${example}. Rows are read in key order, which cannot place a NULL, so they would never be synced: ` +
    `set a value in those rows (and make the column NOT NULL), choose another ${role}, or use copy_mode FULL_DATA_SYNC. Nothing of this batch was loaded; the watermark is kept.`
  );
}
