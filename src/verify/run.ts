import type { S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { resolveConnectionString } from '../config/connection.js';
import type { Env } from '../config/env.js';
import { connect, connectRedshift, timeoutsFromEnv, type SessionTimeouts } from '../db/connect.js';
import { redactText, type Logger } from '../log.js';
import { SET_ISO_DATESTYLE, setStatementTimeout, startSnapshot, type TableRef } from '../redshift/sql.js';
import { createS3Client } from '../s3/client.js';
import { selectColumns } from '../schema/ddl.js';
import { readTargetColumns, sourceColumnsForDrift } from '../schema/drift.js';
import { hasRowXmin, sourceRelation } from '../schema/catalog.js';
import { planTable, SNAPSHOT_XIDS_SQL, type TablePlan } from '../sync/plan.js';
import { SnapshotSessions } from '../sync/snapshot.js';
import { copyAuth, jobS3, matchesGlob, tableClaimsFor } from '../sync/engine.js';
import { Fence } from '../sync/fence.js';
import { makeWorkerId, type TableClaims } from '../metadata/claims.js';
import * as meta from '../metadata/store.js';
import type { JobRow, TableRow } from '../metadata/types.js';
import { compareTable, type CompareOptions } from './compare.js';
import { lastSuccessfulRun, planVerify, SET_VERIFY_SQL, verifyColumnsOf, type VerifyPlan } from './plan.js';
import { repairTable } from './repair.js';
import { buildReport, emptyReport, summarizeReport, type TableReport } from './report.js';
import { recordVerify } from './store.js';

/**
 * `redshift-loader verify`: for each table of a job, compare the target with its source
 * (compare.ts), report what differs, optionally repair it (repair.ts), and record the result
 * on the tables row. One table's failure never stops the others.
 */
export interface VerifyDeps {
  env: Env;
  log: Logger;
  s3?: S3Client;
  signal?: AbortSignal;
  workerId?: string;
  /** Tuning for tests and benchmarks (range size, leaf limits). */
  compare?: Omit<CompareOptions, 'log'>;
  /** Claims on tables rows: a repair writes the target only while it holds its table's claim (as a sync). */
  claims?: TableClaims;
  /** Test hook: called when a Redshift session has taken its snapshot of the target (session 0 is the main one; awaited). */
  afterTargetSnapshot?: (info: { session: number }) => void | Promise<void>;
}

/**
 * How long a further Redshift session of a verify may take to get its snapshot of the target
 * before verify goes on without it (see `startMoreTarget`). A wait there would last as long
 * as the verify (unless the writer it queues behind gives up), so this only allows for a
 * slow round trip; going on with fewer sessions is correct, only slower.
 */
export const TARGET_SNAPSHOT_WAIT_MS = 2_000;

export interface VerifyOptions {
  tableGlob?: string;
  tableIds?: number[];
  repair?: boolean;
}

export interface VerifyJobResult {
  job: string;
  /** Every table matches (after its repair, with --repair). */
  ok: boolean;
  tables: TableReport[];
}

/** A table verifies clean: it matched, or its repair verified clean. */
export function tableOk(r: TableReport): boolean {
  return r.status === 'match' || (r.status === 'differ' && r.repair?.status === 'repaired');
}

export async function verifyJob(metadataUrl: string, jobName: string, opts: VerifyOptions, deps: VerifyDeps): Promise<VerifyJobResult> {
  const db = await connect(metadataUrl, 'redshift-loader verify');
  const own = opts.repair && !deps.claims ? tableClaimsFor(metadataUrl, { ...deps, workerId: deps.workerId ?? makeWorkerId('verify') }) : null;
  try {
    const job = await meta.getJobByName(db, jobName);
    return await verifyJobRow(db, job, opts, own ? { ...deps, claims: own.claims } : deps);
  } finally {
    await own?.close();
    await db.end().catch(() => undefined);
  }
}

export async function verifyJobRow(db: pg.ClientBase, job: JobRow, opts: VerifyOptions, deps: VerifyDeps): Promise<VerifyJobResult> {
  const tables = (await meta.listTables(db, job.id)).filter(
    (t) => !t.disabled && (!opts.tableGlob || matchesGlob(opts.tableGlob, t.sourceSchema, t.sourceName)) && (!opts.tableIds || opts.tableIds.includes(t.id)),
  );
  if (tables.length === 0) deps.log.warn({ job: job.name, glob: opts.tableGlob ?? null }, 'no enabled tables to verify');
  const reports: TableReport[] = [];
  for (const t of tables) {
    if (deps.signal?.aborted) break;
    reports.push(await verifyTable(db, job, t, opts, deps));
  }
  return { job: job.name, ok: reports.every(tableOk), tables: reports };
}

/** Verifies one table (and repairs it with opts.repair). Never throws: a failure is a report with status 'failed'. */
export async function verifyTable(db: pg.ClientBase, job: JobRow, table: TableRow, opts: VerifyOptions, deps: VerifyDeps): Promise<TableReport> {
  const name = `${table.sourceSchema}.${table.sourceName}`;
  const targetName = `${table.destinationSchema ?? job.destinationSchema}.${table.destinationName ?? table.sourceName}`;
  const where = `job "${job.name}", table ${name}`;
  const log = deps.log.child({ job: job.name, table: name });
  const started = Date.now();
  let source: pg.Client | null = null;
  let redshift: pg.Client | null = null;
  let report: TableReport;
  try {
    const sourceUrl = resolveConnectionString(job.sourceConnectionString, `job "${job.name}" source_connection_string`);
    const destUrl = resolveConnectionString(job.destinationConnectionString, `job "${job.name}" destination_connection_string`);
    const timeouts = timeoutsFromEnv(deps.env);
    source = await connect(sourceUrl, 'redshift-loader verify', timeouts).catch((e: Error) => {
      throw new Error(`${where}: cannot connect to the source: ${e.message}`);
    });
    redshift = await connectRedshift(destUrl, timeouts).catch((e: Error) => {
      throw new Error(`${where}: cannot connect to Redshift: ${e.message}`);
    });
    await redshift.query(SET_ISO_DATESTYLE);
    const rel = await sourceRelation(source, table.sourceSchema, table.sourceName);
    if (!rel) throw new Error(`${where}: source table ${name} not found (fix source_schema/source_name, or disable this table)`);
    const all = await sourceColumnsForDrift(source, table.sourceSchema, table.sourceName);
    const synced = selectColumns(all, table, where);
    const plan0Target = { schema: table.destinationSchema ?? job.destinationSchema, name: table.destinationName ?? table.sourceName };
    const targetColumns = await readTargetColumns(redshift, plan0Target);
    if (targetColumns.length === 0) throw new Error(`${where}: target table ${targetName} does not exist in Redshift (run: redshift-loader setup --job ${job.name})`);
    const overlap = deps.env.UPDATED_KEY_OVERLAP_SECONDS;
    let cutoff: string | null = null;
    let lastFull: string | null = null;
    if (table.copyMode === 'INSERT_AND_UPDATE' && table.maxUpdatedKey) cutoff = await meta.normalizeTimestamp(db, table.maxUpdatedKey, overlap);
    if (table.copyMode === 'FULL_DATA_SYNC') {
      const last = await lastSuccessfulRun(db, table.id, overlap);
      lastFull = last?.started ?? null;
      if (table.updatedKey?.trim() && last) cutoff = last.cutoff;
    }
    // What the last run read (INSERT_AND_UPDATE on a table): the overlap window's rows it read are compared too.
    let seenPlan: TablePlan | null = null;
    const seen = table.watermarkSnapshot;
    if (table.copyMode === 'INSERT_AND_UPDATE' && hasRowXmin(rel) && seen && cutoff !== null) {
      const ep = planTable(table, synced, { rowLimit: 1, chunkSize: 1, destinationSchema: job.destinationSchema }, job.name);
      if (seen.upTo.length === ep.keysetColumns.length) seenPlan = { ...ep, seen };
    }
    const plan = planVerify({
      job: job.name,
      table,
      destinationSchema: job.destinationSchema,
      sourceColumns: verifyColumnsOf(synced),
      targetColumns,
      updatedKeyCutoff: cutoff,
      lastFullSync: lastFull,
      seenPlan,
    });
    log.info(
      { strategy: plan.strategy, columns: plan.shape.columns.length, skipped: plan.skipped.map((s) => s.name), liveRule: plan.live.rule, repair: !!opts.repair },
      'verify started',
    );
    const src = source;
    const rs = redshift;
    // The target's snapshot first, then the source's: every row in the target was extracted
    // before the source snapshot was taken, so a row only in the target is not one the source
    // gained after its snapshot.
    let seenSettings = '[]';
    const beginTarget = async () => {
      await rs.query('BEGIN');
      await rs.query(startSnapshot(plan.target));
      await deps.afterTargetSnapshot?.({ session: 0 });
    };
    const beginSource = async () => {
      await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const xids = (await src.query<{ xmax: string }>(SNAPSHOT_XIDS_SQL)).rows[0]!;
      seenSettings = plan.live.seen ? plan.live.seen.settings(xids.xmax) : '[]';
      await src.query(SET_VERIFY_SQL, [plan.live.sourceSettings, seenSettings]);
    };
    const begin = async () => {
      await beginTarget();
      await beginSource();
    };
    const end = async () => {
      await src.query('COMMIT').catch(() => undefined);
      await rs.query('COMMIT').catch(() => undefined);
    };
    // Key ranges: the first level (which reads every row) runs on EXTRACT_SESSIONS sessions per
    // side, each on its part of the key span: more source sessions join the source snapshot,
    // more Redshift sessions take their snapshots before it, after the main one's (see startMoreTarget).
    const extra = plan.strategy === 'range' ? deps.env.EXTRACT_SESSIONS - 1 : 0;
    const moreTargets: pg.Client[] = [];
    const snapshots = new SnapshotSessions(sourceUrl, extra, timeouts);
    let joined: pg.Client[] = [];
    let compared;
    try {
      await beginTarget();
      for (let i = 0; i < extra; i++) {
        const c = await connectRedshift(destUrl, timeouts);
        const failed = await startMoreTarget(c, plan.target, TARGET_SNAPSHOT_WAIT_MS, timeouts);
        if (failed) {
          await c.end().catch(() => undefined);
          log.warn(
            { reason: redactText(failed), sessions: 1 + moreTargets.length, wanted: 1 + extra },
            'a further Redshift session could not take its snapshot of the target (a writer, e.g. a sync, waits for its lock); verifying on fewer Redshift sessions',
          );
          break;
        }
        moreTargets.push(c);
        await deps.afterTargetSnapshot?.({ session: i + 1 });
      }
      await beginSource();
      if (moreTargets.length > 0) {
        joined = await snapshots.join(src, moreTargets.length);
        const reason = snapshots.takeUnreported();
        if (reason) log.warn({ reason }, 'cannot share the snapshot with more source sessions; verifying on one session');
        for (const c of joined) await c.query(SET_VERIFY_SQL, [plan.live.sourceSettings, seenSettings]);
      }
      const more = joined.map((c, i) => ({ source: c as pg.ClientBase, target: moreTargets[i]! as pg.ClientBase }));
      compared = await compareTable(plan, src, rs, { ...deps.compare, log }, more);
      await end();
    } catch (err) {
      await src.query('ROLLBACK').catch(() => undefined);
      await rs.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await snapshots.finish(joined, 'COMMIT');
      await snapshots.close();
      for (const c of moreTargets) {
        await c.query('COMMIT').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    }
    report = buildReport(plan, compared, (Date.now() - started) / 1000);
    if (opts.repair && report.status === 'differ') {
      const { bucket, prefix } = jobS3(job, deps.env);
      const auth = copyAuth(job, deps.env);
      const s3 = deps.s3 ?? createS3Client(deps.env);
      // A repair writes the target as a sync does: only while it holds the table's claim,
      // and with that claim's fencing token in Redshift (src/sync/fence.ts).
      if (!deps.claims) throw new Error('verify --repair: no table claims (use verifyJob or pass VerifyDeps.claims)');
      const got = await deps.claims.claimOrHolder(table.id);
      if ('holder' in got) {
        if (!deps.s3) s3.destroy();
        report.repair = {
          status: 'refused', runId: null, missing: 0, extra: 0, differ: 0, loaded: 0, deleted: 0, reverify: null, seconds: 0,
          error: `a sync is running this table (${got.holder.claimedBy}, since ${got.holder.claimedAt?.toISOString() ?? '?'}), so the repair left it alone: run verify --repair again when it has finished`,
        };
      } else {
        try {
          const fence = new Fence(plan.target, got.claim.token, `${deps.claims.workerId} verify --repair`);
          await fence.take(rs, where);
          report.repair = await repairTable({
            db, job, table, plan, compared, columns: synced.map((c) => c.name).filter((c) => targetColumns.some((t) => t.name === c)),
            source: src, redshift: rs, s3, bucket, prefix, auth, env: deps.env, log, workerId: deps.claims.workerId, fence, begin, end,
            signal: deps.signal ? AbortSignal.any([deps.signal, got.claim.signal]) : got.claim.signal,
          });
        } finally {
          await got.claim.release().catch(() => undefined);
          if (!deps.s3) s3.destroy();
        }
      }
    }
    report.seconds = (Date.now() - started) / 1000;
    logOutcome(log, plan, report);
  } catch (err) {
    const message = redactText(err instanceof Error ? err.message : String(err));
    report = emptyReport(job.name, name, targetName, table.copyMode);
    report.error = message.startsWith(where) ? message : `${where}: ${message}`;
    report.seconds = (Date.now() - started) / 1000;
    log.error({ err: report.error }, 'verify failed');
  } finally {
    await source?.end().catch(() => undefined);
    await redshift?.end().catch(() => undefined);
  }
  await recordVerify(db, table.id, report).catch((e: Error) => log.warn({ err: redactText(e.message) }, 'could not record the verify result'));
  return report;
}

/**
 * Starts a further Redshift session's transaction and its snapshot of the target; null when
 * it has them, else why not (its transaction is then rolled back). The main session already
 * holds its lock on the target, so a wait here is for a writer's LOCK queued in between (a
 * sync's merge: ACCESS EXCLUSIVE), and that LOCK waits for the main session, which verify
 * ends only after this one: a deadlock Redshift cannot see (the main session is idle in its
 * transaction), which would stall the verify and the sync (and its claim) for good. So the
 * wait is bounded, and verify goes on with the sessions it has.
 */
async function startMoreTarget(c: pg.Client, target: TableRef, waitMs: number, timeouts: SessionTimeouts): Promise<string | null> {
  try {
    await c.query(SET_ISO_DATESTYLE);
    await c.query(setStatementTimeout(Math.max(1, waitMs)));
    await c.query('BEGIN');
    await c.query(startSnapshot(target));
    await c.query(setStatementTimeout(timeouts.statementSeconds * 1000));
    return null;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    return err instanceof Error ? err.message : String(err);
  }
}

function logOutcome(log: Logger, plan: VerifyPlan, r: TableReport): void {
  const fields = {
    strategy: plan.strategy,
    sourceRows: r.compared?.sourceRows,
    targetRows: r.compared?.targetRows,
    missing: r.missing.count,
    extra: r.extra.count,
    differ: r.differ.count,
    columns: r.differ.columns,
    leftOut: r.leftOut,
    rowsTransferred: r.rowsTransferred,
    seconds: r.seconds,
  };
  if (r.status === 'match') log.info(fields, 'verify: target matches the source');
  else log.error({ ...fields, summary: summarizeReport(r), repair: r.repair?.status ?? null }, 'verify: target differs from the source');
}
