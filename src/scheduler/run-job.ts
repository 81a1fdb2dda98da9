import type pg from 'pg';
import type { Env } from '../config/env.js';
import { connect, timeoutsFromEnv } from '../db/connect.js';
import type { Logger } from '../log.js';
import { syncJobRow, tableClaimsFor } from '../sync/engine.js';
import { getJobById } from '../metadata/store.js';
import { verifyDueTables } from '../verify/schedule.js';
import type { RunJob, RunScope } from './worker.js';

/**
 * The worker's runner: one job = its enabled tables, through the sync engine. Each table
 * is claimed as the CLI claims it (one writer per table); a run still marked running for a
 * table is closed by the next run that holds that table's claim.
 *
 * Per-table backoff: a scheduled run leaves out tables whose tables.retry_at is still ahead
 * (they failed recently); a retry run (scope `retries`) syncs only failing tables whose
 * retry_at has come. A table that fails gets its own backoff (engine, table-state.ts), so
 * the job's run still counts as succeeded: the job keeps its schedule. Only failures that
 * are not the table's own (another run holds it, the runner broke) fail the job's run.
 */
export function syncRunner(metadataUrl: string, env: Env, log: Logger, workerId?: string): RunJob {
  let claims: ReturnType<typeof tableClaimsFor> | null = null;
  return async (job, signal, opts = {}) => {
    claims ??= tableClaimsFor(metadataUrl, { env, log, workerId });
    const db = await connect(metadataUrl, 'redshift-loader worker', timeoutsFromEnv(env));
    try {
      const row = await getJobById(db, job.id);
      if (!row.enabled) return { ok: true };
      const scope = opts.scope ?? 'scheduled';
      const { run, waiting } = await tablesToRun(db, job.id, scope);
      if (waiting.length > 0) log.info({ job: job.name, tables: waiting.map((w) => `${w.name} (retry at ${w.retryAt.toISOString()})`) }, 'tables backing off after failures are left out of this run');
      const r = run.length > 0 ? await syncJobRow(db, row, { tableIds: run }, { env, log, signal, workerId, claims: claims.claims }) : { job: row.name, ok: true, tables: [] };
      // Tables whose verify_interval_minutes has passed are verified after a scheduled sync (issue 17); never throws.
      if (scope === 'scheduled') await verifyDueTables(db, row, { env, log, signal, workerId });
      if (run.length === 0) return { ok: true };
      if (signal.aborted && r.tables.length === 0) return { ok: false, error: 'interrupted before any table ran' };
      const failed = r.tables.filter((t) => !t.ok && !t.retryAt);
      if (failed.length === 0) return { ok: true };
      return { ok: false, error: `${failed.length} of ${r.tables.length} table(s) failed: ${failed.map((f) => f.error).join(' | ')}` };
    } finally {
      await db.end().catch(() => undefined);
    }
  };
}

/** Which enabled tables of a job this run syncs, and which wait for their retry time. */
export async function tablesToRun(db: pg.ClientBase, jobId: number, scope: RunScope): Promise<{ run: number[]; waiting: Array<{ name: string; retryAt: Date }> }> {
  const r = await db.query<{ id: number; name: string; failure_count: number; retry_at: Date | null; due: boolean }>(
    `SELECT "id", "source_schema" || '.' || "source_name" AS "name", "failure_count", "retry_at", ("retry_at" IS NULL OR "retry_at" <= now()) AS "due"
       FROM "tables" WHERE "job_id" = $1 AND NOT "disabled" ORDER BY "source_schema", "source_name"`,
    [jobId],
  );
  const run = r.rows.filter((t) => t.due && (scope === 'scheduled' || t.failure_count > 0)).map((t) => t.id);
  const waiting = r.rows.filter((t) => !t.due).map((t) => ({ name: t.name, retryAt: t.retry_at! }));
  return { run, waiting: scope === 'scheduled' ? waiting : [] };
}
