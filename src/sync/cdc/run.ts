import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { resolveConnectionString } from '../../config/connection.js';
import { connect, connectRedshift, timeoutsFromEnv } from '../../db/connect.js';
import { redactText, type Logger } from '../../log.js';
import * as sql from '../../redshift/sql.js';
import type { KeyColumn } from '../../redshift/sql.js';
import { createS3Client, deletePrefix, listKeys } from '../../s3/client.js';
import type { Claim } from '../../metadata/claims.js';
import { tableFailed, tableSucceeded } from '../../metadata/table-health.js';
import { selectColumns } from '../../schema/ddl.js';
import { checkAndApplyDrift, sourceColumnsForDrift } from '../../schema/drift.js';
import { sourceRelation } from '../../schema/catalog.js';
import { compressionFromEnv } from '../../extract/compress.js';
import { SyncAbortedError, copyAuth, jobS3, loadTableInSnapshot, type SyncDeps, type TableResult } from '../engine.js';
import * as load from '../load.js';
import * as meta from '../../metadata/store.js';
import { planTable, type TablePlan } from '../plan.js';
import type { JobRow, TableRow } from '../../metadata/types.js';
import { applyBatch } from './apply.js';
import { CollapseError, TableBatch } from './collapse.js';
import * as cdcMeta from './metadata.js';
import { STREAM_START, normalizeLsn, showPosition, type Position } from './lsn.js';
import { releaseBatchMemory } from './memory.js';
import { announcePause, pausePoint, pauseRequested } from './pause.js';
import {
  CdcSourceError,
  cdcNames,
  checkSource,
  confirmSlot,
  createSlot,
  ensurePublication,
  inspectSlot,
  replicaIdentity,
  waitSlotInactive,
  writeMarker,
  type CdcNames,
} from './slot.js';
import { drainBatch, type StreamTable } from './stream.js';

/**
 * One CDC run of a job (the engine's dispatch for copy_mode CDC): every enabled CDC table of
 * the job, claimed together (one reader per slot), then
 * 1. each table checked (source, replica identity, schema drift, target) and the
 *    publication set to the tables that passed;
 * 2. the slot created if missing, with an exported snapshot that the initial load of every
 *    table reads (the stream starts exactly where that copy ends); a table added later (or
 *    whose load did not finish) is loaded in a fresh snapshot, and the stream's changes to it
 *    since it joined the publication are applied again on top (idempotent);
 * 3. a marker written into the WAL, then batch after batch drained up to it (stream.ts),
 *    applied in one Redshift transaction each with the position (apply.ts), the position
 *    written to the metadata DB, and only then the slot confirmed.
 * A crash anywhere leaves the Redshift position and the slot consistent: the next run skips
 * what Redshift holds and applies the rest.
 */
interface CdcTable {
  row: TableRow;
  name: string;
  where: string;
  claim: Claim;
  runId: string | null;
  plan: TablePlan | null;
  keyless: boolean;
  key: KeyColumn[];
  allColumns: KeyColumn[];
  knownColumns: Set<string>;
  loadedLsn: string | null;
  error: string | null;
  progress: { rows: number; bytes: number; files: number; batches: number };
}

const fail = (t: CdcTable, err: unknown) => {
  const message = redactText(err instanceof Error ? err.message : String(err));
  t.error ??= message.startsWith(t.where) || message.startsWith('job "') ? message : `${t.where}: ${message}`;
};

export async function runCdcJob(db: pg.ClientBase, job: JobRow, rows: TableRow[], deps: SyncDeps): Promise<TableResult[]> {
  const names = cdcNames(job.name);
  const jobWhere = `job "${job.name}"`;
  const log = deps.log.child({ job: job.name, slot: names.slot });
  const left = await cdcMeta.forgetLeftTables(db, job.id);
  if (left.length > 0) {
    log.warn({ tables: left }, 'these tables left the job\'s CDC tables (disabled or another copy_mode): they leave its publication, their changes from now on are not captured, and they are loaded again in full if they come back');
  }
  if (rows.length === 0) {
    await reportLeftBehind(job, names, log).catch(() => undefined);
    return [];
  }
  if (!deps.claims) throw new Error('runCdcJob: no table claims');
  // One reader per slot: every CDC table of the job is claimed, or none is synced.
  const claimed: Array<{ row: TableRow; claim: Claim }> = [];
  for (const row of rows) {
    const got = await deps.claims.claimOrHolder(row.id);
    if ('holder' in got) {
      for (const c of claimed) await c.claim.release().catch(() => undefined);
      const h = got.holder;
      const error =
        `${jobWhere}: another run is draining this job's change stream (replication slot "${names.slot}"; it holds table ${row.sourceSchema}.${row.sourceName}: ${h.claimedBy}, since ${h.claimedAt?.toISOString() ?? '?'}, claim until ${h.expiresAt?.toISOString() ?? '?'} unless renewed), ` +
        'so this run left the CDC tables alone: a slot has one reader at a time; wait for that run to finish, or stop it';
      log.warn({ holder: h.claimedBy }, 'the change stream is being drained by another run; skipped');
      return rows.map((r) => ({ table: `${r.sourceSchema}.${r.sourceName}`, ok: false, rows: 0, changed: 0, reread: 0, deleted: null, batches: 0, error }));
    }
    claimed.push({ row, claim: got.claim });
  }
  const started = Date.now();
  const signal = AbortSignal.any([...(deps.signal ? [deps.signal] : []), ...claimed.map((c) => c.claim.signal)]);
  const tables: CdcTable[] = claimed.map(({ row, claim }) => ({
    row, claim, name: `${row.sourceSchema}.${row.sourceName}`, where: `${jobWhere}, table ${row.sourceSchema}.${row.sourceName}`,
    runId: null, plan: null, keyless: false, key: [], allColumns: [], knownColumns: new Set(), loadedLsn: null, error: null,
    progress: { rows: 0, bytes: 0, files: 0, batches: 0 },
  }));
  try {
    await runClaimed(db, job, names, tables, { ...deps, signal }, log);
  } catch (err) {
    log.error({ err: redactText(err instanceof Error ? err.message : String(err)) }, 'CDC run failed');
    for (const t of tables) fail(t, err);
  } finally {
    for (const t of tables) await t.claim.release().catch(() => undefined);
  }
  const results: TableResult[] = [];
  const aborted = deps.signal?.aborted ?? false;
  for (const t of tables) {
    if (t.runId) await meta.finishRun(db, t.runId, t.error ? 'failed' : 'succeeded', t.error).catch(() => undefined);
    let retryAt: Date | undefined;
    // The table's own backoff and alerts, as the engine records them for the other modes.
    if (t.error) {
      await meta.recordTableError(db, t.row.id, t.error).catch(() => undefined);
      if (!aborted) retryAt = (await tableFailed(db, job.name, t.row, t.error, deps).catch(() => null))?.retryAt;
    } else {
      await meta.recordTableSuccess(db, t.row.id).catch(() => undefined);
      await tableSucceeded(db, job.name, t.row, deps).catch(() => undefined);
    }
    results.push({
      table: t.name, ok: !t.error, rows: t.progress.rows, changed: t.progress.rows, reread: 0, deleted: null, batches: t.progress.batches,
      files: t.progress.files, bytes: t.progress.bytes, seconds: (Date.now() - started) / 1000, ...(t.error ? { error: t.error } : {}), ...(retryAt ? { retryAt } : {}),
    });
  }
  return results;
}

async function runClaimed(db: pg.ClientBase, job: JobRow, names: CdcNames, tables: CdcTable[], deps: SyncDeps, log: Logger): Promise<void> {
  const where = `job "${job.name}"`;
  for (const t of tables) {
    const abandoned = await meta.abandonRuns(db, t.row.id, deps.workerId ?? deps.claims!.workerId);
    if (abandoned > 0) log.warn({ table: t.name, abandoned }, 'closed sync_runs rows of this table left running by a run that died (marked abandoned)');
    t.runId = await meta.startRun(db, { jobId: job.id, tableId: t.row.id, copyMode: 'CDC', before: meta.storedOf(t.row), workerId: deps.workerId ?? deps.claims!.workerId });
  }
  const { bucket, prefix } = jobS3(job, deps.env);
  const auth = copyAuth(job, deps.env);
  const sourceUrl = resolveConnectionString(job.sourceConnectionString, `job "${job.name}" source_connection_string`);
  const destUrl = resolveConnectionString(job.destinationConnectionString, `job "${job.name}" destination_connection_string`);
  const timeouts = timeoutsFromEnv(deps.env);
  const s3 = deps.s3 ?? createS3Client(deps.env);
  const cdcPrefix = `${prefix}/cdc`;
  const runPrefix = `${cdcPrefix}/run-${randomBytes(4).toString('hex')}`;
  let src: pg.Client | null = null;
  let rs: pg.Client | null = null;
  try {
    src = await connect(sourceUrl, 'redshift-loader cdc', timeouts).catch((e: Error) => {
      throw new Error(`${where}: cannot connect to the source: ${e.message}`);
    });
    rs = await connectRedshift(destUrl, timeouts).catch((e: Error) => {
      throw new Error(`${where}: cannot connect to Redshift: ${e.message}`);
    });
    let slot = await inspectSlot(src, names.slot);
    await checkSource(src, where, !slot);
    // What crashed runs left on S3 (every CDC table of the job is claimed by this run).
    if ((await listKeys(s3, bucket, `${cdcPrefix}/`)).length > 0) await deletePrefix(s3, bucket, `${cdcPrefix}/`);

    const loaded = await cdcMeta.loadedLsns(db, tables.map((t) => t.row.id));
    for (const t of tables) {
      t.loadedLsn = loaded.get(t.row.id) ?? null;
      await prepareTable(db, job, t, src, rs, log).catch((e) => fail(t, e));
    }
    const good = () => tables.filter((t) => !t.error);
    // A table that failed its checks leaves the publication; once fixed it is loaded again.
    for (const t of tables) if (t.error && t.loadedLsn) await cdcMeta.recordLoaded(db, t.row.id, null);
    await ensurePublication(src, names.publication, good().map((t) => ({ schema: t.row.sourceSchema, name: t.row.sourceName })), where);

    // The position table in the job's target schema: what Redshift already holds.
    const stateSchema = job.destinationSchema;
    const exists = await rs.query(sql.tableExists(), [stateSchema, sql.CDC_STATE_TABLE]);
    if (exists.rowCount === 0) await rs.query(sql.createCdcStateTable(stateSchema));
    let applied = await readPosition(rs, stateSchema, names.slot);

    if (!slot) {
      const created = await createSlot(sourceUrl, names.slot, where);
      try {
        const start: Position = { lsn: normalizeLsn(created.consistentPoint), changes: -1 };
        log.info({ consistentPoint: start.lsn }, 'created the replication slot; loading the CDC tables in its snapshot');
        applied = await writePosition(rs, stateSchema, names.slot, applied, start);
        await cdcMeta.recordPosition(db, job.id, start);
        for (const t of good()) await initialLoad(db, job, t, deps, created.snapshot, start.lsn, log);
      } finally {
        await created.session.end().catch(() => undefined);
      }
      slot = await inspectSlot(src, names.slot);
    } else {
      const pending = good().filter((t) => !t.loadedLsn);
      if (pending.length > 0) {
        // Tables added to the job (or whose load never finished): a fresh snapshot, after
        // they joined the publication. Changes the stream still holds from before it are
        // applied again on top, which converges to the source.
        const snap = await connect(sourceUrl, 'redshift-loader cdc snapshot', timeouts);
        try {
          await snap.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          const s = (await snap.query<{ id: string; lsn: string }>(`SELECT pg_export_snapshot() AS id, pg_current_wal_insert_lsn()::text AS lsn`)).rows[0]!;
          for (const t of pending) await initialLoad(db, job, t, deps, s.id, normalizeLsn(s.lsn), log);
          await snap.query('COMMIT');
        } finally {
          await snap.end().catch(() => undefined);
        }
      }
    }
    if (!slot) throw new CdcSourceError(`${where}: replication slot "${names.slot}" disappeared right after it was created`);
    await drain(db, job, names, tables.filter((t) => !t.error && t.loadedLsn), { src, rs, s3, bucket, runPrefix, auth, sourceUrl, stateSchema, applied, deps, log, where });
  } finally {
    await deletePrefix(s3, bucket, `${runPrefix}/`).catch(() => undefined);
    await src?.end().catch(() => undefined);
    await rs?.end().catch(() => undefined);
    if (!deps.s3) s3.destroy();
  }
}

/** The checks and the plan of one table; drift is applied to the target as in the other modes. */
async function prepareTable(db: pg.ClientBase, job: JobRow, t: CdcTable, src: pg.Client, rs: pg.Client, log: Logger): Promise<void> {
  const row = t.row;
  const rel = await sourceRelation(src, row.sourceSchema, row.sourceName);
  if (!rel) throw new Error(`${t.where}: source table ${t.name} not found`);
  if (rel.kind !== 'r' && rel.kind !== 'p') throw new Error(`${t.where}: copy_mode CDC reads the write-ahead log, which has changes of tables only; ${t.name} is not a table (use FULL_DATA_SYNC or INSERT_AND_UPDATE for views)`);
  const allColumns = await sourceColumnsForDrift(src, row.sourceSchema, row.sourceName);
  const marker = allColumns.find((c) => (sql.CDC_MARKER_COLUMNS as readonly string[]).includes(c.name));
  if (marker) throw new Error(`${t.where}: column "${marker.name}" has a name the loader's CDC staging uses; exclude it (exclude_columns) or rename it`);
  const columns = selectColumns(allColumns, row, t.where);
  const plan = planTable({ ...row, copyMode: row.primaryKey?.trim() ? 'INSERT_ONLY' : 'FULL_DATA_SYNC' }, columns, { rowLimit: 1, chunkSize: 1, destinationSchema: job.destinationSchema }, job.name);
  const identity = await replicaIdentity(src, row.sourceSchema, row.sourceName);
  const fix = `ALTER TABLE ${sql.ref({ schema: row.sourceSchema, name: row.sourceName })} REPLICA IDENTITY FULL`;
  if (plan.primaryKey.length === 0) {
    if (identity.kind !== 'f') {
      throw new Error(`${t.where}: a table without primary_key needs REPLICA IDENTITY FULL at the source for copy_mode CDC (its deletes and updates must carry the whole old row); run ${fix} (or set primary_key)`);
    }
  } else if (identity.kind !== 'f') {
    const missing = plan.primaryKey.filter((k) => !identity.columns.includes(k));
    if (missing.length > 0 || identity.kind === 'n') {
      throw new Error(
        `${t.where}: the table's replica identity (${identity.kind === 'n' ? 'NOTHING' : identity.columns.join(', ') || 'none: no primary key'}) does not hold primary_key column(s) ${missing.map((m) => `"${m}"`).join(', ')}, so its deletes would not name their row; run ${fix}, or set primary_key to the table's primary key`,
      );
    }
  }
  const drift = await checkAndApplyDrift({
    redshift: rs, sourceColumns: allColumns, target: plan.target, table: row, jobName: job.name, log: log.child({ table: t.name }),
    onResync: async () => {
      // Values no change will ever carry (a new column with a volatile default): load again.
      await cdcMeta.recordLoaded(db, row.id, null);
      t.loadedLsn = null;
    },
    knownAttnums: row.sourceAttnums ?? null,
  });
  await meta.recordSourceAttnums(db, row.id, Object.fromEntries(allColumns.filter((c) => c.attnum !== undefined).map((c) => [c.name, c.attnum!])));
  if (drift.resync) t.loadedLsn = null;
  await load.checkTarget(rs, plan, t.where);
  t.plan = plan;
  t.keyless = plan.primaryKey.length === 0;
  t.key = load.keyColumns(plan);
  t.allColumns = load.keyColumns({ primaryKey: plan.columns.map((c) => c.name), columns: plan.columns });
  t.knownColumns = new Set(allColumns.map((c) => c.name));
}

async function initialLoad(db: pg.ClientBase, job: JobRow, t: CdcTable, deps: SyncDeps, snapshot: string, lsn: string, log: Logger): Promise<void> {
  await meta.resetWatermark(db, t.row.id);
  const r = await loadTableInSnapshot(db, job, t.row, { ...deps, snapshot }, t.claim.token);
  if (!r.ok) return fail(t, new Error(r.error ?? 'initial load failed'));
  await cdcMeta.recordLoaded(db, t.row.id, lsn);
  t.loadedLsn = lsn;
  log.info({ table: t.name, rows: r.rows, snapshotLsn: lsn }, 'CDC initial load finished');
}

async function readPosition(rs: pg.Client, schema: string, slot: string): Promise<Position | null> {
  const r = await rs.query<{ commit_lsn: string; changes: string | number }>(sql.readCdcPosition(schema), [slot]);
  const x = r.rows[0];
  return x ? { lsn: normalizeLsn(x.commit_lsn.trim()), changes: Number(x.changes) } : null;
}

/** Sets the Redshift position (a new slot: its consistent point). */
async function writePosition(rs: pg.Client, schema: string, slot: string, cur: Position | null, to: Position): Promise<Position> {
  if (cur) await rs.query(sql.resetCdcPosition(schema), [slot, to.lsn, to.changes]);
  else await rs.query(sql.insertCdcPosition(schema), [slot, to.lsn, to.changes]);
  return to;
}

interface DrainContext {
  src: pg.Client;
  rs: pg.Client;
  s3: import('@aws-sdk/client-s3').S3Client;
  bucket: string;
  runPrefix: string;
  auth: sql.CopyAuth;
  sourceUrl: string;
  stateSchema: string;
  applied: Position | null;
  deps: SyncDeps;
  log: Logger;
  where: string;
}

async function drain(db: pg.ClientBase, job: JobRow, names: CdcNames, tables: CdcTable[], c: DrainContext): Promise<void> {
  const { deps, log } = c;
  const env = deps.env;
  if (!c.applied) c.applied = await writePosition(c.rs, c.stateSchema, names.slot, null, (await cdcMeta.readJobState(db, job.id)).position ?? STREAM_START);
  let applied: Position = c.applied;
  let streamPos: Position = applied;
  const markerContent = `run ${randomBytes(6).toString('hex')}`;
  const markerLsn = normalizeLsn(await writeMarker(c.src, markerContent));
  const owner = `${deps.workerId ?? deps.claims?.workerId ?? '?'} cdc`;
  let commits = 0;
  let total = 0;
  for (let batchNo = 1; ; batchNo++) {
    if (deps.signal?.aborted) throw new SyncAbortedError(deps.signal.reason);
    const live = tables.filter((t) => !t.error);
    const byName = new Map<string, StreamTable>();
    for (const t of live) {
      byName.set(t.name, { name: t.name, knownColumns: t.knownColumns, batch: new TableBatch({ columns: t.plan!.columns.map((x) => x.name), key: t.keyless ? [] : t.plan!.primaryKey.map((k) => t.plan!.columns.findIndex((x) => x.name === k)) }) });
    }
    await waitSlotInactive(c.src, names.slot, c.where);
    const slot = await inspectSlot(c.src, names.slot);
    const t0 = Date.now();
    const r = await drainBatch({
      sourceUrl: c.sourceUrl, slot: names.slot, publication: names.publication, from: streamPos, marker: { lsn: markerLsn, content: markerContent },
      maxRows: env.CDC_BATCH_ROWS, maxBytes: env.CDC_BATCH_MB * 1024 * 1024, tables: byName, confirmed: slot?.confirmedFlushLsn ?? '0/0', log, where: c.where, timeoutSeconds: env.BATCH_TIMEOUT_SECONDS,
      ...(pauseRequested('drain') ? { freezeAfterFirstChange: () => announcePause('drain') } : {}),
    }).catch((err: unknown) => {
      if (err instanceof CollapseError) {
        const t = live.find((x) => byName.get(x.name)?.batch.spec.columns.includes(err.column));
        throw new Error(
          `${t?.where ?? c.where}: ${err.message}; with REPLICA IDENTITY FULL pgoutput sends the old value: run ALTER TABLE ... REPLICA IDENTITY FULL at the source, then reload the table (UPDATE tables SET cdc_loaded_lsn = NULL WHERE id = ${t?.row.id ?? '...'})`,
        );
      }
      throw err;
    });
    const changedTables = live.filter((t) => !byName.get(t.name)!.batch.empty);
    if (changedTables.length > 0) {
      const got = await applyBatch({
        rs: c.rs, s3: c.s3, bucket: c.bucket, prefix: `${c.runPrefix}/batch-${String(batchNo).padStart(5, '0')}`, auth: c.auth, compression: compressionFromEnv(env),
        chunkSize: env.IMPORT_CHUNK_SIZE, slices: env.REDSHIFT_SLICES, stateSchema: c.stateSchema, slot: names.slot, from: applied, to: r.position, log, where: c.where, signal: deps.signal,
        tables: live.map((t) => ({
          batch: byName.get(t.name)!.batch,
          table: { name: t.name, target: t.plan!.target, columns: t.plan!.columns.map((x) => x.name), key: t.keyless ? [] : t.key, allColumns: t.allColumns, fence: { token: t.claim.token, owner } },
        })),
        beforeCommit: deps.beforeCommit ? () => deps.beforeCommit!({ table: '(cdc)', batch: batchNo }) : undefined,
      });
      commits++;
      applied = r.position;
      await pausePoint('after-commit');
      await cdcMeta.recordPosition(db, job.id, applied);
      for (const t of changedTables) {
        const b = byName.get(t.name)!.batch;
        t.progress.rows += b.changes;
        t.progress.batches += 1;
        t.progress.files += 1;
        t.progress.bytes += got.bytes.get(t.name) ?? 0;
        await meta.updateRun(db, t.runId!, { rows: t.progress.rows, changed: t.progress.rows, reread: 0, bytes: t.progress.bytes, files: t.progress.files, batches: t.progress.batches, after: { updatedKey: null, primaryKey: null }, valuesChanged: {} });
      }
      const deletes = changedTables.reduce((n, t) => n + byName.get(t.name)!.batch.deletes, 0);
      log.info({ batch: batchNo, changes: r.changes, deletes, tables: Object.fromEntries(got.rows), position: showPosition(applied), seconds: (Date.now() - t0) / 1000, rssMiB: Math.round(process.memoryUsage.rss() / 1048576) }, 'CDC batch applied');
    }
    total += r.changes;
    streamPos = r.position;
    for (const t of byName.values()) t.batch.keyed.clear(), t.batch.images.clear();
    byName.clear();
    if (r.changes > 0) releaseBatchMemory();
    await pausePoint('before-confirm');
    log.trace({ confirm: r.confirmLsn }, 'cdc confirming');
    if (r.confirmLsn) await confirmSlot(c.src, names.slot, r.confirmLsn, c.where);
    if (r.drift) {
      const t = live.find((x) => x.name === r.drift!.table)!;
      log.info({ table: t.name, columns: r.drift.columns }, 'schema drift in the change stream: new column(s); checking the target');
      const before = t.loadedLsn;
      await prepareTable(db, job, t, c.src, c.rs, log).catch((e) => fail(t, e));
      // A column the stream announced that the source no longer has (added and dropped again
      // since): its values are of no use, the changes go on without it.
      for (const col of r.drift.columns) t.knownColumns.add(col);
      if (!t.error && !t.loadedLsn && before) {
        // A new column whose existing values no change carries: reload in a fresh snapshot.
        const snap = await connect(c.sourceUrl, 'redshift-loader cdc snapshot', timeoutsFromEnv(env));
        try {
          await snap.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          const s = (await snap.query<{ id: string; lsn: string }>(`SELECT pg_export_snapshot() AS id, pg_current_wal_insert_lsn()::text AS lsn`)).rows[0]!;
          await initialLoad(db, job, t, deps, s.id, normalizeLsn(s.lsn), log);
          await snap.query('COMMIT');
        } finally {
          await snap.end().catch(() => undefined);
        }
      }
      if (t.error) throw new Error(t.error);
      continue;
    }
    if (r.caughtUp) break;
  }
  await cdcMeta.recordCaughtUp(db, job.id);
  log.info({ changes: total, redshiftCommits: commits, position: showPosition(applied) }, 'CDC run caught up');
}

/** A job whose CDC tables are all disabled: what its slot still holds on the source. */
async function reportLeftBehind(job: JobRow, names: CdcNames, log: Logger): Promise<void> {
  const url = resolveConnectionString(job.sourceConnectionString, `job "${job.name}" source_connection_string`);
  const src = await connect(url, 'redshift-loader cdc');
  try {
    const s = await inspectSlot(src, names.slot);
    if (s) {
      log.warn(
        { retainedBytes: s.retainedBytes },
        `job "${job.name}" has no enabled CDC table, but its replication slot "${names.slot}" and publication "${names.publication}" remain on the source and keep ${s.retainedBytes} bytes of WAL (growing with every write there): remove them with redshift-loader cdc drop --job ${job.name}`,
      );
    }
  } finally {
    await src.end().catch(() => undefined);
  }
}
