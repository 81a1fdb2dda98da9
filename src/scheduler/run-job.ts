import type { Env } from '../config/env.js';
import { connect } from '../db/connect.js';
import type { Logger } from '../log.js';
import { syncJobRow } from '../sync/engine.js';
import { closeAbandonedRuns, getJobById } from '../sync/metadata.js';
import { verifyDueTables } from '../verify/schedule.js';
import type { RunJob } from './worker.js';

/** The worker's runner: one job = every enabled table of it, through the sync engine. */
export function syncRunner(metadataUrl: string, env: Env, log: Logger, workerId?: string): RunJob {
  return async (job, signal) => {
    const db = await connect(metadataUrl, 'redshift-loader worker');
    try {
      const row = await getJobById(db, job.id);
      if (!row.enabled) return { ok: true };
      // This worker holds the job's claim, so any run still marked running died with its worker.
      const abandoned = await closeAbandonedRuns(db, row.id);
      if (abandoned > 0) log.warn({ job: row.name, abandoned }, 'closed sync_runs rows left running by a worker that died');
      const r = await syncJobRow(db, row, {}, { env, log, signal, workerId });
      // Tables whose verify_interval_minutes has passed are verified after the sync (issue 17); never throws.
      await verifyDueTables(db, row, { env, log, signal, workerId });
      if (signal.aborted && r.tables.length === 0) return { ok: false, error: 'interrupted before any table ran' };
      const failed = r.tables.filter((t) => !t.ok);
      if (failed.length === 0) return { ok: true };
      return { ok: false, error: `${failed.length} of ${r.tables.length} table(s) failed: ${failed.map((f) => f.error).join(' | ')}` };
    } finally {
      await db.end().catch(() => undefined);
    }
  };
}
